#pragma once
// What the client's commands share (internal to client/): the session of
// one command (its RPC connection, keys and names), reading the node's JSON
// answers, the hints printed after an error, and sending a transaction.
// The commands themselves are in one file per group: keys_commands.cpp,
// query_commands.cpp, tx_commands.cpp and task_commands.cpp.

#include <rapidjson/document.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "cli/args.h"
#include "cli/keystore.h"
#include "cli/secret_file.h"
#include "client/client.h"
#include "client/rpc_client.h"
#include "core/transaction.h"
#include "rpc/http_client.h"
#include "rpc/json_codec.h"

namespace verity::client {

namespace fs = std::filesystem;
using rpc::HttpRpcClient;
using Json = rapidjson::Value;
using rpc::member;
using cli::Args;
using cli::parse_args;
using cli::required;
using cli::check_scrypt_params;
using cli::is_valid_key_name;
using cli::KeyFileInfo;
using cli::Keystore;
using cli::read_secret_file;
using cli::ScryptParams;

// How long `--wait` lets the node wait for the commit, and how much longer
// the client waits for the node's answer.
inline constexpr std::uint64_t kCommitWaitMs = 30'000;
inline constexpr auto kCommitAnswerMargin = std::chrono::seconds(15);

inline Error usage_error(std::string detail) { return make_error("usage", std::move(detail)); }

// One of verity's commands: what it accepts (cli/args.h's rules).
struct Spec : cli::CommandSpec {
  Spec(std::string command, std::set<std::string> with_value, std::set<std::string> switches,
       std::size_t min_positional, std::size_t max_positional, std::string positional_name)
      : cli::CommandSpec{"verity", std::move(command), std::move(with_value), std::move(switches), {},
                         min_positional, max_positional, std::move(positional_name)} {}
};

// --- reading the node's answers ------------------------------------------------

// A member as text ("" when absent; numbers and booleans as written).
std::string text_of(const Json& v, const char* name);
std::optional<std::uint64_t> u64_of(const Json& v, const char* name);
void print_json(std::ostream& out, const Json& v);
std::string format_time_ms(std::uint64_t ms);
bool is_hex64(std::string_view s);
// The node wants lower-case hex.
std::string lower(std::string s);
void print_receipt(std::ostream& o, const ReceiptInfo& receipt);
void print_events(std::ostream& o, const std::vector<Event>& events);  // "  event KIND name=value..." lines
// Rows in columns two spaces apart; notes[i], when not empty, on an indented line after row i.
void print_columns(std::ostream& o, const std::vector<std::vector<std::string>>& rows,
                   const std::vector<std::string>& notes = {});

// A required option holding an amount of whole base units.
Result<Amount> required_amount(const Args& a, const Spec& spec, const std::string& option, const std::string& what);

// What to do next after an error the node reported ("" when nothing to say).
std::string hint_for(const Error& e, const std::string& from, const std::string& tx_hash);

// --- the session: one command's RPC connection, keys and names ----------------------

class Session {
 public:
  Session(const ClientGlobals& g, ClientIo& io, std::string command)
      : g_(g), io_(io), command_(std::move(command)) {}

  ClientIo& io() { return io_; }
  // A warning on stderr: "verity: DETAIL", or under --json one object
  // {"warning": REASON, "detail": DETAIL} (docs/client.md, "--json").
  void warn(const std::string& reason, const std::string& detail);
  const ClientGlobals& globals() const { return g_; }
  bool json() const { return g_.json; }
  const std::string& rpc_url() const { return g_.rpc; }
  const std::string& command() const { return command_; }

  Result<HttpRpcClient*> rpc();
  // The typed calls (client/rpc_client.h) over rpc().
  Result<NodeClient> node();

  // The node's answer to `method` (the client's own RPC timeout, or `timeout`).
  Result<rapidjson::Document> call(const char* method, const Json& params,
                                   std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  Result<rapidjson::Document> call(const char* method);

  Result<std::string> chain_id();                     // asked once (status)
  Result<const rapidjson::Document*> genesis();       // asked once
  Result<fs::path> home() const;                      // --home, else $HOME/.verity

  // A light client (core/light_client.h) for this node's chain: from the
  // genesis file (--genesis, else $VERITY_GENESIS), or from the epoch block
  // `trust_height` when the user trusts its hash `trust_hash` (both or
  // neither). Reasons: "no-genesis" (exit 2: no file named), "bad-genesis",
  // "wrong-chain" (the file is another chain's than the node's), the trust's.
  Result<LightClient> light_client(std::optional<std::uint64_t> trust_height, std::optional<Hash256> trust_hash);
  // The node's validator_handoffs, a page at a time, for a light client.
  LightClient::HandoffSource handoff_source();
  Result<Keystore> keystore() const;                  // HOME/keys

  // The passphrase of key `name`: --passphrase-file, VERITY_PASSPHRASE, or
  // a prompt on the terminal (twice when `confirm`, for a new key).
  Result<std::string> passphrase(const std::string& name, bool confirm);

  // The key that signs for `name`: its key file, or, with no key file, the
  // insecure devnet key derived from the name when (and only when) the
  // node's genesis has an account of that name at exactly that key.
  Result<SecretKey> signer(const std::string& name);

  // An address given as 64 hex digits or a name: a key file, a validator's
  // name (when `validator`), or an account named in the genesis.
  Result<PublicKey> address_of(const std::string& option, const std::string& text, bool validator = false);

 private:
  const ClientGlobals& g_;
  ClientIo& io_;
  std::string command_;
  std::optional<HttpRpcClient> client_;
  std::optional<Error> wrong_chain_;  // --chain-id named another chain than the node's
  std::optional<std::string> chain_id_;
  std::optional<rapidjson::Document> genesis_;
};

// "alice (04ae...)" for names, the address alone for addresses.
std::string label(const std::string& given, const PublicKey& address);

// --- sending a transaction -------------------------------------------------------------

extern const std::set<std::string> kTxSwitches;  // --wait, --force, --dry-run
extern const char* const kTxCommonHelp;           // --from, --fee and the switches

struct TxCommon {
  std::string from;
  std::optional<Amount> fee;  // absent: the chain's min_fee
  bool wait = false;
  bool force = false;    // send even when the simulation says it would fail
  bool dry_run = false;  // simulate only
};
// --from, --fee and --wait of a transaction command.
Result<TxCommon> tx_common(const Spec& spec, const Args& a);
// A transaction command's words: parse_args, then tx_common.
struct TxArgs {
  Args args;
  TxCommon common;
};
Result<TxArgs> parse_tx_args(const Spec& spec, const std::vector<std::string>& args);
// Signs `payload` with --from's key at its next nonce (the fee: --fee, else
// the chain's min_fee), has the node simulate it, and sends it unless the
// simulation says the chain would refuse it (then nothing is sent, and the
// error carries the reason, with --force it is sent anyway; --dry-run sends
// nothing at all); with --wait it waits for its receipt. Prints what happened.
// `receipt` (when given) gets the receipt of a committed (--wait) transaction.
Status send_transaction(Session& s, const TxCommon& c, Payload payload, const std::string& summary,
                        std::optional<ReceiptInfo>* receipt_out = nullptr);

// A command that sends a transaction with no fields of its own (withdraw, claim, unregister-worker).
template <class P>
Status cmd_simple(Session& s, const std::vector<std::string>& args, const char* name) {
  Spec spec{name, {"from", "fee"}, kTxSwitches, 0, 0, ""};
  auto parsed = parse_tx_args(spec, args);
  if (!parsed) return parsed.error();
  const TxCommon& c = parsed->common;
  return send_transaction(s, c, P{}, std::string(name) + " by " + c.from);
}

// --- the commands, by group ------------------------------------------------------------

using Handler = std::function<Status(Session&, const std::vector<std::string>&)>;
struct Command {
  std::string name, summary, help;
  Handler handler;
};
std::vector<Command> key_commands();
std::vector<Command> query_commands();
std::vector<Command> transaction_commands();
std::vector<Command> task_commands();

}  // namespace verity::client
