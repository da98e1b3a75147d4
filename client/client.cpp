#include "client/session.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <set>

#include "cli/terminal.h"

namespace verity::client {

namespace {

const char* kGlobalHelp =
    "\nOptions (anywhere on the command line):\n"
    "  --rpc URL              the node's JSON-RPC address (default http://127.0.0.1:7701, or VERITY_RPC)\n"
    "  --json                 print the node's raw result as JSON on stdout, and an error as one JSON\n"
    "                         object on stderr: {command, reason, detail, exit_code}\n"
    "  --chain-id ID          refuse (exit 1, reason wrong-chain) a node whose chain is not ID\n"
    "  --genesis FILE         the chain's genesis file, which proofs start from (else VERITY_GENESIS)\n"
    "  --home DIR             the client's directory; keys in DIR/keys (default ~/.verity)\n"
    "  --passphrase-file FILE the key passphrase (first line); else VERITY_PASSPHRASE, else a prompt\n"
    "  --rpc-token-file FILE  the node's RPC bearer token (first line), for a node that requires one\n"
    "                         to send transactions; else VERITY_RPC_TOKEN\n"
    "\n'verity COMMAND --help' describes one command; docs/client.md has the details.\n"
    "\nExit codes: 0 ok; 1 the command failed (rejected or failed transaction, invalid proof,\n"
    "not found, wrong passphrase); 2 usage error; 3 the node cannot be reached at --rpc.\n";

Subcommand make_command(ClientIo& io, const ClientGlobals& g, Command command) {
  const std::string name = command.name;
  return Subcommand{name, std::move(command.summary), std::move(command.help),
                    [&io, &g, name, handler = std::move(command.handler)](
                        const std::vector<std::string>& args, std::ostream& out, std::ostream& err) -> int {
                      ClientIo local{out, err, io.in, io.prompt_secret, io.getenv, io.stdin_is_terminal};
                      std::string cmd_label = name;
                      if (name == "keys" && !args.empty()) cmd_label += " " + args[0];
                      Session session(g, local, cmd_label);
                      Status s = handler(session, args);
                      if (s) return kExitOk;
                      const Error& e = s.error();
                      std::string detail = e.detail.empty() ? e.reason : e.detail;
                      // Hints that need no context (the transaction commands add their own).
                      static const std::set<std::string> generic = {
                          "bad-passphrase", "method-not-found", "bad-key-file", "key-mismatch",
                          "internal-error", "invalid-params",   "shutting-down", "too-many-waiters"};
                      if (generic.count(e.reason)) {
                        const std::string hint = hint_for(e, "", "");
                        if (detail.find(hint) == std::string::npos) detail += "; " + hint;
                      }
                      const int code = exit_code_for(e);
                      if (g.json) {  // one JSON object on stderr, for programs
                        rapidjson::Document d(rapidjson::kObjectType);
                        auto& a = d.GetAllocator();
                        d.AddMember("command", rpc::to_json(cmd_label, a), a);
                        d.AddMember("reason", rpc::to_json(e.reason, a), a);
                        d.AddMember("detail", rpc::to_json(detail, a), a);
                        d.AddMember("exit_code", code, a);
                        err << rpc::json_string(d) << "\n";
                        return code;
                      }
                      err << "verity " << cmd_label << ": " << detail;
                      if (e.reason != "usage") err << " [" << e.reason << "]";
                      err << "\n";
                      return code;
                    }};
}

// The options that may stand anywhere on the command line.
const cli::CommandSpec kGlobalOptions{
    "verity", "", {"rpc", "home", "passphrase-file", "rpc-token-file", "chain-id", "genesis"}, {"json"}, {}, 0, 0, ""};

}  // namespace

Result<Amount> parse_amount_arg(std::string_view option, std::string_view text) {
  auto a = Amount::parse(text);
  if (!a)
    return usage_error(std::string(option) + ": '" + std::string(text) +
                       "' is not an amount: write whole base units as decimal digits, e.g. " + std::string(option) +
                       " 1000 (at most 18446744073709551615)");
  return a;
}

Result<std::uint64_t> parse_u64_arg(std::string_view option, std::string_view text) {
  auto a = Amount::parse(text);  // the same rules: decimal digits, 64 bits
  if (!a)
    return usage_error(std::string(option) + ": '" + std::string(text) + "' is not a whole number from 0 to 2^64-1");
  return a->units();
}

int exit_code_for(const Error& error) {
  if (error.reason == "usage") return kExitUsage;
  if (error.reason == "rpc-unreachable" || error.reason == "rpc-timeout") return kExitUnreachable;
  return kExitFailure;
}

CliProgram client_program(ClientIo& io, const ClientGlobals& g) {
  CliProgram p{"verity", "the Verity client: signs locally, talks JSON-RPC", {}};
  for (auto group : {key_commands, query_commands, transaction_commands, task_commands})
    for (auto& c : group()) p.commands.push_back(make_command(io, g, std::move(c)));
  return p;
}

namespace {
// A usage error in the options themselves: a line, or with --json anywhere
// on the command line the JSON object every other error is.
int global_usage_failure(const std::vector<std::string>& args, const Error& e, std::ostream& err) {
  if (std::find(args.begin(), args.end(), "--json") == args.end()) return cli::usage_failure("verity", e, err);
  rapidjson::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  d.AddMember("command", "", a);
  d.AddMember("reason", "usage", a);
  d.AddMember("detail", rpc::to_json(e.detail.empty() ? e.reason : e.detail, a), a);
  d.AddMember("exit_code", kExitUsage, a);
  err << rpc::json_string(d) << "\n";
  return kExitUsage;
}
}  // namespace

int run_client(const std::vector<std::string>& args, ClientIo& io) {
  ClientGlobals g;
  if (auto env = io.getenv("VERITY_RPC"); env && !env->empty()) g.rpc = *env;
  if (auto env = io.getenv("VERITY_GENESIS"); env && !env->empty()) g.genesis = *env;
  std::vector<std::string> rest;
  auto globals = cli::take_options(kGlobalOptions, args, rest);
  if (!globals) return global_usage_failure(args, globals.error(), io.err);
  for (auto [option, target] : {std::pair{"rpc", &g.rpc}, std::pair{"home", &g.home},
                                std::pair{"passphrase-file", &g.passphrase_file},
                                std::pair{"rpc-token-file", &g.rpc_token_file}, std::pair{"chain-id", &g.chain_id},
                                std::pair{"genesis", &g.genesis}}) {
    auto v = globals->get(option);
    if (!v) continue;
    if (v->empty())
      return global_usage_failure(
          args, kGlobalOptions.usage("option '--" + std::string(option) + "' needs a non-empty value"), io.err);
    *target = *v;
  }
  g.json = globals->has("json");
  CliProgram program = client_program(io, g);
  if (!rest.empty() && (rest[0] == "--help" || rest[0] == "-h" || rest[0] == "help")) {
    io.out << usage(program) << kGlobalHelp;
    return kExitOk;
  }
  if (rest.empty()) {
    io.err << usage(program) << kGlobalHelp;
    return kExitUsage;
  }
  return run_cli(program, rest, io.out, io.err);
}

ClientIo process_io() {
  auto prompt = [](const std::string& text) { return cli::prompt_secret(text); };
  auto env = [](const char* name) -> std::optional<std::string> {
    const char* v = std::getenv(name);
    return v ? std::optional<std::string>(v) : std::nullopt;
  };
  return ClientIo{std::cout, std::cerr, std::cin, prompt, env, ::isatty(STDIN_FILENO) == 1};
}

int client_main(int argc, char** argv) {
  ClientIo io = process_io();
  return run_client(std::vector<std::string>(argv + 1, argv + argc), io);
}

}  // namespace verity::client

