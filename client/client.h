#pragma once
// The `verity` command-line client (docs/client.md): encrypted key files,
// transactions signed locally and sent over JSON-RPC, queries, and account
// proofs checked locally against a commit certificate.
//
// Exit codes:
//   0  ok
//   1  the command failed (transaction rejected, receipt not ok, proof
//      invalid, not found, wrong passphrase, ...)
//   2  usage error (unknown command or option, bad amount, bad address, ...)
//   3  the node cannot be reached (or does not answer) at --rpc URL

#include <rapidjson/document.h>

#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "contracts/accounts.h"
#include "core/keys.h"
#include "core/light_client.h"
#include "cli/program.h"

namespace verity::client {

using cli::CliProgram;
using cli::kExitFailure;
using cli::kExitOk;
using cli::kExitUsage;
using cli::Subcommand;

inline constexpr int kExitUnreachable = 3;
inline constexpr const char* kDefaultRpcUrl = "http://127.0.0.1:7701";

// Where the client reads and writes. `prompt_secret` asks a human for a
// secret without echo (on the terminal) and returns nullopt when there is
// no terminal; `getenv` reads the environment. Both are replaceable so
// tests can drive every path.
struct ClientIo {
  std::ostream& out;
  std::ostream& err;
  std::istream& in;
  std::function<std::optional<std::string>(const std::string& prompt)> prompt_secret;
  std::function<std::optional<std::string>(const char* name)> getenv;
  bool stdin_is_terminal = false;  // then `keys import` asks for the secret without echo
};

// The real terminal and environment: no-echo prompts on /dev/tty.
ClientIo process_io();

// The exit code for an error: "usage" -> 2, "rpc-unreachable" and
// "rpc-timeout" -> 3, anything else -> 1.
int exit_code_for(const Error& error);

// Runs `verity ARGS...` (the arguments after the program name).
int run_client(const std::vector<std::string>& args, ClientIo& io);
int client_main(int argc, char** argv);

// Options accepted anywhere on the command line (run_client takes them out
// before the command runs).
struct ClientGlobals {
  std::string rpc = kDefaultRpcUrl;
  bool json = false;
  std::string home;             // default: $HOME/.verity
  std::string passphrase_file;  // --passphrase-file
  std::string rpc_token_file;   // --rpc-token-file: the node's RPC bearer token (else $VERITY_RPC_TOKEN)
  std::string chain_id;         // --chain-id: the chain the node must be on (empty: any)
  std::string genesis;          // --genesis: the chain's genesis file, for proofs (else $VERITY_GENESIS)
};

// The program's commands.
CliProgram client_program(ClientIo& io, const ClientGlobals& globals);

// Checks the "proof" of an `account` RPC result for `address`, trusting
// nothing the node says, as docs/client.md describes: `light` follows the
// node's validator-set hand-offs (`handoffs`) to the set that certifies
// the proof's height, checks the header's certificate with that set (the
// set the answer names must be the same), then that the header's state root
// is the proof's root, the state proof holds for the account's key, and
// the proven account is the one the result reports. Returns the proven
// account (nullopt: no such account, a zero balance) and the height.
// Reasons start with "proof-", "handoff-" or "header-" (core/light_client.h),
// or are the state proof's own ("proof-mismatch").
struct ProvenAccount {
  std::uint64_t height = 0;
  std::optional<contracts::Account> account;
};
Result<ProvenAccount> verify_account_proof(const rapidjson::Value& result, const PublicKey& address, LightClient& light,
                                           const LightClient::HandoffSource& handoffs);

// A `validator_handoffs` answer, decoded (not checked: the light client
// does that). Reason "rpc-bad-response".
Result<std::vector<ValidatorHandoff>> read_handoffs(const rapidjson::Value& answer);

// Strict parses for command-line values; reason "usage", the detail names
// the option.
Result<Amount> parse_amount_arg(std::string_view option, std::string_view text);
Result<std::uint64_t> parse_u64_arg(std::string_view option, std::string_view text);

}  // namespace verity::client
