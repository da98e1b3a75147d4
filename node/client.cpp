#include "node/client.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "core/block.h"
#include "core/hex.h"
#include "core/params.h"
#include "core/state_proof.h"
#include "core/transaction.h"
#include "core/validator_set.h"
#include "node/keystore.h"
#include "node/secret_file.h"
#include "rpc/http_client.h"
#include "rpc/json_codec.h"
#include "rpc/ws_client.h"
#include "worker/sandbox.h"


namespace verity::node {

namespace {

namespace fs = std::filesystem;
using rpc::HttpRpcClient;
using Json = rapidjson::Value;

// How long `--wait` lets the node wait for the commit, and how much longer
// the client waits for the node's answer.
constexpr std::uint64_t kCommitWaitMs = 30'000;
constexpr auto kCommitAnswerMargin = std::chrono::seconds(15);

Error usage_error(std::string detail) { return make_error("usage", std::move(detail)); }

// --- small JSON helpers -------------------------------------------------------

using rpc::member;

std::string text_of(const Json& v, const char* name) {
  const Json* m = member(v, name);
  if (!m) return "";
  if (m->IsString()) return std::string(m->GetString(), m->GetStringLength());
  if (m->IsUint64()) return std::to_string(m->GetUint64());
  if (m->IsInt64()) return std::to_string(m->GetInt64());
  if (m->IsBool()) return m->GetBool() ? "true" : "false";
  if (m->IsNull()) return "null";
  return rpc::json_string(*m);
}

std::optional<std::uint64_t> u64_of(const Json& v, const char* name) {
  const Json* m = member(v, name);
  if (!m || !m->IsUint64()) return std::nullopt;
  return m->GetUint64();
}

void print_json(std::ostream& out, const Json& v) { out << rpc::json_string(v) << "\n"; }


std::string format_time_ms(std::uint64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  if (!::gmtime_r(&t, &tm)) return std::to_string(ms);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

bool is_hex64(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
         });
}

// The node wants lower-case hex.
std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// --- argument parsing -------------------------------------------------------------

struct Args {
  std::map<std::string, std::string> values;
  std::vector<std::string> positional;
  std::optional<std::string> get(const std::string& k) const {
    auto it = values.find(k);
    return it == values.end() ? std::nullopt : std::optional(it->second);
  }
  bool has(const std::string& k) const { return values.count(k) > 0; }
};

struct Spec {
  std::string command;                 // "transfer", "keys new"
  std::set<std::string> with_value;    // --from NAME
  std::set<std::string> switches;      // --wait
  std::size_t min_positional = 0, max_positional = 0;
  std::string positional_name;         // "ADDRESS|NAME", for messages
};

Result<Args> parse_args(const Spec& spec, const std::vector<std::string>& args) {
  const std::string help = "; run 'verity " + spec.command + " --help'";
  Args out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.size() > 2 && a.rfind("--", 0) == 0) {
      std::string name = a.substr(2), value;
      bool inline_value = false;
      if (auto eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
        inline_value = true;
      }
      if (spec.with_value.count(name)) {
        if (!inline_value) {
          if (i + 1 >= args.size()) return usage_error("option '--" + name + "' needs a value" + help);
          value = args[++i];
        }
      } else if (spec.switches.count(name)) {
        if (inline_value) return usage_error("option '--" + name + "' takes no value" + help);
      } else {
        return usage_error("unknown option '--" + name + "'" + help);
      }
      if (out.values.count(name)) return usage_error("option '--" + name + "' given twice" + help);
      out.values[name] = value;
    } else {
      out.positional.push_back(a);
    }
  }
  if (out.positional.size() < spec.min_positional)
    return usage_error("missing " + spec.positional_name + help);
  if (out.positional.size() > spec.max_positional)
    return usage_error("unexpected argument '" + out.positional[spec.max_positional] + "'" + help);
  return out;
}

Result<std::string> required(const Args& a, const Spec& spec, const std::string& option, const std::string& what) {
  auto v = a.get(option);
  if (!v || v->empty())
    return usage_error("missing --" + option + " " + what + "; run 'verity " + spec.command + " --help'");
  return *v;
}

// A required option holding an amount of whole base units.
Result<Amount> required_amount(const Args& a, const Spec& spec, const std::string& option, const std::string& what) {
  auto text = required(a, spec, option, what);
  if (!text) return text.error();
  return parse_amount_arg("--" + option, *text);
}

bool wants_help(const std::vector<std::string>& args) {
  for (const auto& a : args)
    if (a == "--help" || a == "-h") return true;
  return false;
}

// --- hints: what to do next after an error the node reported --------------------

std::string hint_for(const Error& e, const std::string& from, const std::string& tx_hash) {
  const std::string& r = e.reason;
  if (r == "insufficient-funds")
    return "check the balance with 'verity balance " + (from.empty() ? std::string("NAME") : from) + "'";
  if (r == "nonce-too-low" || r == "nonce-gap")
    return "another transaction from this account got in first; run the command again (it reads the nonce anew)";
  if (r == "fee-too-low") return "pass a higher --fee (the network's minimum is params.min_fee of its genesis)";
  if (r == "bad-deadlines")
    return "pass a longer --commit-blocks (or leave it out: the client derives it from --fuel), or a smaller --fuel "
           "('verity-worker exec FILE.wasm' measures what a module uses)";
  if (r == "bad-fuel") return "pass a --fuel of at least 1 and at most the chain's max_task_fuel";
  if (r == "mempool-full") return "wait a few blocks and send again, or pass a higher --fee";
  if (r == "nonce-taken")
    return "a pending transaction of this account has that nonce already: wait for it to commit and run the "
           "command again";
  if (r == "tx-known")
    return "the same transaction is pending already; follow it with 'verity tx " + tx_hash + "'";
  if (r == "wrong-chain-id") return "--rpc points at a node of another network than the transaction was signed for";
  if (r == "bad-signature") return "the key does not sign for this sender; check --from";
  if (r == "timeout")
    return tx_hash.empty() ? std::string("try again; the node was busy")
                           : "the transaction may still commit: follow it with 'verity tx " + tx_hash + "'";
  if (r == "shutting-down" || r == "too-many-waiters") return "try again in a moment, or use another node with --rpc";
  if (r == "method-not-found") return "the node at --rpc does not serve this method: is it a Verity node of this version?";
  if (r == "bad-passphrase") return "check the passphrase (--passphrase-file FILE, VERITY_PASSPHRASE, or the prompt)";
  if (r == "bad-key-file" || r == "key-mismatch")
    return "restore the key file from your backup (verity never rewrites key files)";
  if (r == "still-jailed" || r == "below-min-stake" || r == "not-jailed")
    return "'verity validators' says, in its STATUS column, until which height the validator is jailed and how much "
           "stake it lacks";
  if (r == "internal-error") return "the node failed to answer; its log says why";
  if (r == "invalid-params")
    return "the node did not accept what this client sent: are the client and the node of the same version?";
  return "";
}

// --- the session: one command's RPC connection, keys and names ----------------------

class Session {
 public:
  Session(const ClientGlobals& g, ClientIo& io, std::string command)
      : g_(g), io_(io), command_(std::move(command)) {}

  ClientIo& io() { return io_; }
  const ClientGlobals& globals() const { return g_; }
  bool json() const { return g_.json; }
  const std::string& rpc_url() const { return g_.rpc; }
  const std::string& command() const { return command_; }

  Result<HttpRpcClient*> rpc() {
    if (!client_) {
      auto url = rpc::parse_rpc_url(g_.rpc);
      if (!url) return usage_error("--rpc: " + url.error().detail);
      std::optional<std::string> token;
      if (!g_.rpc_token_file.empty()) {
        auto t = read_secret_file(g_.rpc_token_file, "--rpc-token-file");
        if (!t) return usage_error(t.error().detail);
        token = *t;
      }
      client_.emplace(*url);
      if (token) client_->set_token(*token);
    }
    return &*client_;
  }

  Result<rapidjson::Document> call(const char* method, const Json& params,
                                   std::optional<std::chrono::milliseconds> timeout = std::nullopt) {
    auto c = rpc();
    if (!c) return c.error();
    return timeout ? (*c)->call(method, params, *timeout) : (*c)->call(method, params);
  }
  Result<rapidjson::Document> call(const char* method) {
    rapidjson::Value params(rapidjson::kObjectType);
    return call(method, params);
  }

  Result<std::string> chain_id() {
    if (!chain_id_) {
      auto st = call("status");
      if (!st) return st.error();
      std::string id = text_of(*st, "chain_id");
      if (id.empty()) return make_error("rpc-bad-response", "the node's status has no chain_id");
      chain_id_ = id;
    }
    return *chain_id_;
  }

  Result<const rapidjson::Document*> genesis() {
    if (!genesis_) {
      auto g = call("genesis");
      if (!g) return g.error();
      genesis_.emplace(std::move(*g));
    }
    return &*genesis_;
  }

  Result<fs::path> home() const {
    if (!g_.home.empty()) return fs::path(g_.home);
    auto h = io_.getenv("HOME");
    if (!h || h->empty()) return usage_error("HOME is not set: pass --home DIR (where the client keeps its keys)");
    return fs::path(*h) / ".verity";
  }

  Result<Keystore> keystore() const {
    auto h = home();
    if (!h) return h.error();
    ScryptParams params;
    if (auto n = io_.getenv("VERITY_KEYSTORE_SCRYPT_N")) {
      char* end = nullptr;
      errno = 0;
      unsigned long long v = std::strtoull(n->c_str(), &end, 10);
      params.n = (errno || end == n->c_str() || *end) ? 0 : v;
      if (auto s = check_scrypt_params(params); !s)
        return usage_error("VERITY_KEYSTORE_SCRYPT_N: " + s.error().detail + " (unset it to use the default 2^15)");
    }
    return Keystore(*h / "keys", params);
  }

  // The passphrase of key `name`: --passphrase-file, VERITY_PASSPHRASE, or
  // a prompt on the terminal (twice when `confirm`, for a new key).
  Result<std::string> passphrase(const std::string& name, bool confirm) {
    if (!g_.passphrase_file.empty()) {
      std::ifstream in(g_.passphrase_file, std::ios::binary);
      if (!in) return usage_error("--passphrase-file: cannot read " + g_.passphrase_file + ": " + std::strerror(errno));
      std::ostringstream s;
      s << in.rdbuf();
      std::string p = s.str();
      if (auto nl = p.find('\n'); nl != std::string::npos) p.resize(nl);  // the first line
      if (!p.empty() && p.back() == '\r') p.pop_back();
      if (p.empty()) return usage_error("--passphrase-file: " + g_.passphrase_file + " holds an empty passphrase");
      struct stat st {};
      if (::stat(g_.passphrase_file.c_str(), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)))
        io_.err << "verity: warning: " << g_.passphrase_file << " may be read by other users: chmod 600 it\n";
      return p;
    }
    if (auto env = io_.getenv("VERITY_PASSPHRASE")) {
      if (env->empty()) return usage_error("VERITY_PASSPHRASE is set but empty: set a passphrase, or unset it to be asked");
      return *env;
    }
    const std::string no_tty = "no passphrase for key '" + name +
                               "': there is no terminal to ask on; pass --passphrase-file FILE or set VERITY_PASSPHRASE";
    if (!io_.prompt_secret) return usage_error(no_tty);
    auto first = io_.prompt_secret(confirm ? "New passphrase for key '" + name + "': " : "Passphrase for key '" + name + "': ");
    if (!first) return usage_error(no_tty);
    if (first->empty()) return usage_error("the passphrase must not be empty; run the command again");
    if (confirm) {
      auto second = io_.prompt_secret("Repeat the passphrase: ");
      if (!second || *second != *first)
        return make_error("passphrase-mismatch", "the two passphrases differ; nothing was written: run the command again");
    }
    return *first;
  }

  // The key that signs for `name`: its key file, or, with no key file, the
  // insecure devnet key derived from the name when (and only when) the
  // node's genesis has an account of that name at exactly that key.
  Result<SecretKey> signer(const std::string& name) {
    if (!is_valid_key_name(name))
      return usage_error("--from: '" + name + "' is not a key name (1 to 32 letters, digits, '.', '_', '-'); "
                         "'verity keys list' shows yours");
    auto ks = keystore();
    if (!ks) return ks.error();
    if (ks->exists(name)) {
      if (auto info = ks->info(name); !info) return info.error();
      auto pass = passphrase(name, false);
      if (!pass) return pass.error();
      return ks->load(name, *pass);
    }
    auto g = genesis();
    if (!g) return g.error();
    const SecretKey derived = SecretKey::derive_insecure(name);
    bool named = false;
    if (const Json* accounts = member(**g, "accounts"); accounts && accounts->IsArray()) {
      for (const auto& a : accounts->GetArray()) {
        if (text_of(a, "name") != name) continue;
        named = true;
        if (text_of(a, "address") == derived.public_key().hex()) {
          io_.err << "verity: signing as '" << name << "' with its INSECURE devnet key (derived from the name; "
                  << "this network's genesis funds it, so this is a devnet)\n";
          return derived;
        }
      }
    }
    std::string detail = "no key named '" + name + "' in " + ks->dir().string() + ": create one with 'verity keys new " +
                         name + "' (or 'verity keys import " + name + "'), or pass --home DIR if your keys are elsewhere";
    if (named)
      detail += " (the genesis names an account '" + name + "', but not at the insecure devnet key of that name)";
    return make_error("unknown-key", detail);
  }

  // An address given as 64 hex digits or a name: a key file, a validator's
  // name (when `validator`), or an account named in the genesis.
  Result<PublicKey> address_of(const std::string& option, const std::string& text, bool validator = false) {
    const std::string what = option.empty() ? "'" + text + "'" : option + ": '" + text + "'";
    if (is_hex64(text)) {
      auto k = PublicKey::from_hex(text);
      if (!k || !is_valid_public_key(*k)) return usage_error(what + " is not a valid public key (x-only, on secp256k1)");
      return *k;
    }
    if (!is_valid_key_name(text))
      return usage_error(what + " is neither an address (64 hex digits) nor a name");
    auto ks = keystore();
    if (!ks) return ks.error();
    if (validator) {
      auto vs = call("validators");
      if (!vs && exit_code_for(vs.error()) == kExitUnreachable) return vs.error();
      if (vs) {
        if (const Json* list = member(*vs, "validators"); list && list->IsArray())
          for (const auto& v : list->GetArray())
            if (text_of(v, "name") == text) return PublicKey::from_hex(text_of(v, "operator"));
      }
    }
    if (ks->exists(text)) {
      auto info = ks->info(text);
      if (!info) return info.error();
      return info->address;
    }
    auto g = genesis();
    if (!g) return g.error();
    if (validator)
      if (const Json* list = member(**g, "validators"); list && list->IsArray())
        for (const auto& v : list->GetArray())
          if (text_of(v, "name") == text) return PublicKey::from_hex(text_of(v, "operator"));
    if (const Json* list = member(**g, "accounts"); list && list->IsArray())
      for (const auto& a : list->GetArray())
        if (text_of(a, "name") == text) return PublicKey::from_hex(text_of(a, "address"));
    return make_error("unknown-name", "no key, " + std::string(validator ? "validator " : "") + "or genesis account named '" +
                                          text + "': pass a 64-hex-digit address, or create a key with 'verity keys new " +
                                          text + "'");
  }

 private:
  const ClientGlobals& g_;
  ClientIo& io_;
  std::string command_;
  std::optional<HttpRpcClient> client_;
  std::optional<std::string> chain_id_;
  std::optional<rapidjson::Document> genesis_;
};

// "alice (04ae...)" for names, the address alone for addresses.
std::string label(const std::string& given, const PublicKey& address) {
  return given == address.hex() || is_hex64(given) ? address.hex() : given + " (" + address.hex() + ")";
}

// --- keys -------------------------------------------------------------------------

const char* kKeysHelp =
    "Usage: verity keys new NAME | list | show NAME | import NAME [--secret-hex HEX]\n"
    "Key files live in HOME/keys (--home DIR, default ~/.verity), one NAME.json each, the secret\n"
    "encrypted with a passphrase (scrypt, AES-256-GCM), mode 0600, never overwritten.\n\n"
    "  new NAME               creates a key (asks for the passphrase twice on a terminal)\n"
    "  list                   names and addresses (no passphrase needed)\n"
    "  show NAME              one key's address and file\n"
    "  import NAME            stores an existing secret key: --secret-hex HEX, or 64 hex digits\n"
    "                         on stdin (safer: command lines end up in shell history)\n\n"
    "The passphrase comes from --passphrase-file FILE, else VERITY_PASSPHRASE, else a prompt.\n";

void print_key(Session& s, const KeyFileInfo& info, const fs::path& file, const char* verb) {
  if (s.json()) {
    rapidjson::Document d(rapidjson::kObjectType);
    auto& a = d.GetAllocator();
    d.AddMember("name", rpc::to_json(info.name, a), a);
    d.AddMember("address", rpc::to_json(info.address.hex(), a), a);
    d.AddMember("file", rpc::to_json(file.string(), a), a);
    print_json(s.io().out, d);
    return;
  }
  if (verb) s.io().out << verb << " key '" << info.name << "'\n";
  s.io().out << "name     " << info.name << "\naddress  " << info.address.hex() << "\nfile     " << file.string() << "\n";
}

Status keys_store(Session& s, const std::string& name, const SecretKey& key) {
  auto ks = s.keystore();
  if (!ks) return ks.error();
  if (ks->exists(name))
    return make_error("key-exists", ks->path_of(name).string() +
                                        " exists already; key files are never overwritten: choose another name");
  auto pass = s.passphrase(name, true);
  if (!pass) return pass.error();
  if (auto st = ks->create(name, key, *pass); !st) return st;
  print_key(s, KeyFileInfo{name, key.public_key()}, ks->path_of(name), s.command() == "keys new" ? "created" : "imported");
  if (!s.json())
    s.io().out << "Keep the passphrase and a copy of the file: the key cannot be recovered without both.\n";
  return {};
}

Status cmd_keys(Session& s, const std::vector<std::string>& args) {
  if (args.empty()) return usage_error("missing a keys command (new, list, show, import); run 'verity keys --help'");
  const std::string sub = args[0];
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  auto check_name = [](const std::string& name) -> Status {
    if (!is_valid_key_name(name))
      return usage_error("'" + name + "' is not a valid key name: use 1 to 32 letters, digits, '.', '_' or '-', "
                         "starting with a letter or digit");
    return {};
  };
  if (sub == "new") {
    Spec spec{"keys new", {}, {}, 1, 1, "NAME"};
    auto a = parse_args(spec, rest);
    if (!a) return a.error();
    const std::string name = a->positional[0];
    if (auto st = check_name(name); !st) return st;
    return keys_store(s, name, SecretKey::generate());
  }
  if (sub == "import") {
    Spec spec{"keys import", {"secret-hex"}, {}, 1, 1, "NAME"};
    auto a = parse_args(spec, rest);
    if (!a) return a.error();
    const std::string name = a->positional[0];
    if (auto st = check_name(name); !st) return st;
    std::string hex;
    if (auto h = a->get("secret-hex")) {
      hex = *h;
    } else if (s.io().stdin_is_terminal && s.io().prompt_secret) {
      auto typed = s.io().prompt_secret("Secret key of '" + name + "' (64 hex digits): ");
      if (!typed || typed->empty()) return usage_error("no secret key: pass --secret-hex HEX or type 64 hex digits");
      hex = *typed;
    } else {
      std::getline(s.io().in, hex);
      while (!hex.empty() && (hex.back() == '\r' || hex.back() == ' ' || hex.back() == '\t')) hex.pop_back();
      if (hex.empty()) return usage_error("no secret key: pass --secret-hex HEX or write 64 hex digits to stdin");
    }
    auto raw = from_hex(hex);
    if (!raw || raw->size() != 32) return usage_error("the secret key must be 64 hex digits (32 bytes)");
    auto key = SecretKey::from_bytes(*raw);
    std::fill(raw->begin(), raw->end(), 0);
    std::fill(hex.begin(), hex.end(), '\0');
    if (!key) return usage_error("not a valid secret key: " + key.error().to_string());
    return keys_store(s, name, *key);
  }
  if (sub == "list") {
    Spec spec{"keys list", {}, {}, 0, 0, ""};
    auto a = parse_args(spec, rest);
    if (!a) return a.error();
    auto ks = s.keystore();
    if (!ks) return ks.error();
    std::vector<std::string> problems;
    auto keys = ks->list(&problems);
    for (const auto& p : problems) s.io().err << "verity keys list: skipped " << p << "\n";
    if (s.json()) {
      rapidjson::Document d(rapidjson::kArrayType);
      auto& al = d.GetAllocator();
      for (const auto& k : keys) {
        Json o(rapidjson::kObjectType);
        o.AddMember("name", rpc::to_json(k.name, al), al);
        o.AddMember("address", rpc::to_json(k.address.hex(), al), al);
        d.PushBack(o, al);
      }
      print_json(s.io().out, d);
    } else if (keys.empty()) {
      s.io().out << "no keys in " << ks->dir().string() << ": create one with 'verity keys new NAME'\n";
    } else {
      for (const auto& k : keys) s.io().out << k.address.hex() << "  " << k.name << "\n";
    }
    return {};
  }
  if (sub == "show") {
    Spec spec{"keys show", {}, {}, 1, 1, "NAME"};
    auto a = parse_args(spec, rest);
    if (!a) return a.error();
    const std::string name = a->positional[0];
    if (auto st = check_name(name); !st) return st;
    auto ks = s.keystore();
    if (!ks) return ks.error();
    if (!ks->exists(name))
      return make_error("unknown-key", "no key named '" + name + "' in " + ks->dir().string() +
                                           ": 'verity keys list' shows the keys there; 'verity keys new " + name +
                                           "' creates one");
    auto info = ks->info(name);
    if (!info) return info.error();
    print_key(s, *info, ks->path_of(name), nullptr);
    return {};
  }
  return usage_error("unknown keys command '" + sub + "'; run 'verity keys --help'");
}

// --- queries ------------------------------------------------------------------------

const char* kStatusHelp = "Usage: verity status\nThe node's chain, height, latest block, peers and mempool.\n";

Status cmd_status(Session& s, const std::vector<std::string>& args) {
  auto a = parse_args(Spec{"status", {}, {}, 0, 0, ""}, args);
  if (!a) return a.error();
  auto r = s.call("status");
  if (!r) return r.error();
  if (s.json()) {
    print_json(s.io().out, *r);
    return {};
  }
  auto& o = s.io().out;
  const std::string validator = text_of(*r, "validator");
  o << "chain       " << text_of(*r, "chain_id") << "\n"
    << "height      " << text_of(*r, "height") << "\n"
    << "block       " << text_of(*r, "latest_block_hash") << "\n"
    << "state root  " << text_of(*r, "state_root") << "\n"
    << "view        " << text_of(*r, "view") << "\n"
    << "node        " << text_of(*r, "moniker") << " " << text_of(*r, "node_id") << "\n"
    << "role        " << (validator.empty() || validator == "null" ? "full node" : "validator " + validator) << "\n";
  if (const std::string signing = text_of(*r, "signing"); signing == "double-sign-check") {
    const Json* c = member(*r, "double_sign_check");
    o << "signing     NOT SIGNING: double-sign check, " << (c ? text_of(*c, "watched") : "?") << " of "
      << (c ? text_of(*c, "heights") : "?")
      << " heights watched (its vote record was missing or older than the chain; docs/operators.md)\n";
  }
  if (text_of(*r, "another_instance") == "true")
    o << "WARNING     another instance signs with this validator key: stop all but one\n";
  o << "peers       " << text_of(*r, "peers") << "\n"
    << "mempool     " << text_of(*r, "mempool_txs") << " transactions, " << text_of(*r, "mempool_bytes") << " bytes\n"
    << "version     " << text_of(*r, "version") << "\n"
    << "rpc         " << s.globals().rpc << "\n";
  return {};
}

const char* kBalanceHelp = "Usage: verity balance ADDRESS|NAME\nThe account's balance (base units) at the node's latest height.\n";
const char* kAccountHelp =
    "Usage: verity account ADDRESS|NAME [--prove]\n"
    "The account's balance and nonces. With --prove, fetches a state proof with the block header,\n"
    "its commit certificate and the validator set that signed it, and checks all of it locally:\n"
    "prints 'proof verified at height H', or fails (exit 1) saying what did not hold.\n";

Status cmd_account(Session& s, const std::vector<std::string>& args, bool balance_only) {
  Spec spec{balance_only ? "balance" : "account", {}, {}, 1, 1, "ADDRESS|NAME"};
  if (!balance_only) spec.switches = {"prove"};
  auto a = parse_args(spec, args);
  if (!a) return a.error();
  const bool prove = a->has("prove");
  const std::string who = a->positional[0];
  auto address = s.address_of("", who);
  if (!address) return address.error();
  rapidjson::Document params(rapidjson::kObjectType);
  auto& al = params.GetAllocator();
  params.AddMember("address", rpc::to_json(address->hex(), al), al);
  if (prove) params.AddMember("prove", true, al);
  auto r = s.call("account", params);
  if (!r) return r.error();
  std::optional<ProvenAccount> proven;
  if (prove) {
    auto chain = s.chain_id();
    if (!chain) return chain.error();
    auto p = verify_account_proof(*r, *address, *chain);
    if (!p) {
      Error e = p.error();
      e.detail = "the node's proof for " + address->hex() + " does not verify: " + e.detail +
                 " (do not trust this node's answer; ask another with --rpc)";
      return e;
    }
    proven = *p;
  }
  auto& o = s.io().out;
  if (s.json()) {
    print_json(o, *r);
    return {};
  }
  if (balance_only) {
    o << text_of(*r, "balance") << "  " << label(who, *address) << " at height " << text_of(*r, "height") << "\n";
    return {};
  }
  o << "address     " << address->hex() << (is_hex64(who) ? "" : "  (" + who + ")") << "\n"
    << "balance     " << text_of(*r, "balance") << "\n"
    << "nonce       " << text_of(*r, "nonce") << "\n"
    << "next nonce  " << text_of(*r, "next_nonce") << " (counting its pending transactions)\n"
    << "height      " << text_of(*r, "height") << "\n";
  if (proven) {
    if (!proven->account) o << "the account does not exist (a zero balance); ";
    o << "proof verified at height " << proven->height << "\n";
  }
  return {};
}

const char* kTxHelp = "Usage: verity tx HASH\nA transaction: pending in the mempool, or committed with its receipt.\n";

void print_receipt(std::ostream& o, const Json& receipt) {
  const bool ok = member(receipt, "ok") && (*member(receipt, "ok")).IsBool() && (*member(receipt, "ok")).GetBool();
  o << "committed at height " << text_of(receipt, "height") << " (index " << text_of(receipt, "index") << "): "
    << (ok ? "ok" : "FAILED: " + text_of(receipt, "reason")) << ", fee paid " << text_of(receipt, "fee_paid") << "\n";
  if (const Json* events = member(receipt, "events"); events && events->IsArray())
    for (const auto& e : events->GetArray()) {
      o << "  event " << text_of(e, "kind");
      if (const Json* attrs = member(e, "attributes"); attrs && attrs->IsObject())
        for (auto it = attrs->MemberBegin(); it != attrs->MemberEnd(); ++it)
          o << " " << it->name.GetString() << "="
            << (it->value.IsString() ? std::string(it->value.GetString()) : rpc::json_string(it->value));
      o << "\n";
    }
}

Status cmd_tx(Session& s, const std::vector<std::string>& args) {
  auto a = parse_args(Spec{"tx", {}, {}, 1, 1, "HASH"}, args);
  if (!a) return a.error();
  const std::string hash = lower(a->positional[0]);
  if (!is_hex64(hash)) return usage_error("'" + hash + "' is not a transaction hash (64 hex digits)");
  rapidjson::Document params(rapidjson::kObjectType);
  params.AddMember("hash", rpc::to_json(hash, params.GetAllocator()), params.GetAllocator());
  auto r = s.call("tx", params);
  if (!r) {
    if (r.error().reason == "not-found") {
      Error e = r.error();
      e.detail += ": check the hash; a transaction that was rejected or evicted from the mempool is not kept";
      return e;
    }
    return r.error();
  }
  auto& o = s.io().out;
  if (s.json()) {
    print_json(o, *r);
    return {};
  }
  o << "tx " << text_of(*r, "hash") << ": " << text_of(*r, "status") << "\n";
  if (const Json* tx = member(*r, "tx")) {
    const Json* payload = member(*tx, "payload");
    o << "  " << (payload ? text_of(*payload, "type") : "?") << " from " << text_of(*tx, "sender") << ", nonce "
      << text_of(*tx, "nonce") << ", fee " << text_of(*tx, "fee") << "\n";
    if (payload)
      for (auto it = payload->MemberBegin(); it != payload->MemberEnd(); ++it)
        if (std::string(it->name.GetString()) != "type")
          o << "  " << it->name.GetString() << " "
            << (it->value.IsString() ? std::string(it->value.GetString()) : rpc::json_string(it->value)) << "\n";
  }
  if (const Json* receipt = member(*r, "receipt"); receipt && receipt->IsObject()) print_receipt(o, *receipt);
  return {};
}

const char* kBlockHelp = "Usage: verity block [HEIGHT|HASH]\nA block (default: the latest) with its transactions and certificate.\n";

Status cmd_block(Session& s, const std::vector<std::string>& args) {
  auto a = parse_args(Spec{"block", {}, {}, 0, 1, "HEIGHT|HASH"}, args);
  if (!a) return a.error();
  rapidjson::Document params(rapidjson::kObjectType);
  auto& al = params.GetAllocator();
  std::string which = "the latest block";
  if (!a->positional.empty()) {
    const std::string x = lower(a->positional[0]);
    if (is_hex64(x)) {
      params.AddMember("hash", rpc::to_json(x, al), al);
      which = "block " + x;
    } else {
      auto h = parse_u64_arg("HEIGHT", x);
      if (!h) return usage_error("'" + x + "' is neither a height nor a block hash (64 hex digits)");
      params.AddMember("height", Json(*h), al);
      which = "block " + x;
    }
  }
  auto r = s.call("block", params);
  if (!r) {
    if (r.error().reason == "not-found") {
      Error e = r.error();
      e.detail = which + ": " + e.detail + "; 'verity status' shows the node's height";
      return e;
    }
    return r.error();
  }
  auto& o = s.io().out;
  if (s.json()) {
    print_json(o, *r);
    return {};
  }
  const Json* header = member(*r, "header");
  static const Json empty(rapidjson::kObjectType);
  const Json& h = header ? *header : empty;
  auto ts = u64_of(h, "timestamp_ms");
  o << "block       " << text_of(*r, "height") << "  " << text_of(*r, "hash") << "\n"
    << "chain       " << text_of(h, "chain_id") << "\n"
    << "view        " << text_of(h, "view") << "\n"
    << "proposer    " << text_of(h, "proposer") << "\n"
    << "time        " << (ts ? format_time_ms(*ts) : "?") << " (informational)\n"
    << "previous    " << text_of(h, "prev_hash") << "\n"
    << "state root  " << text_of(h, "state_root") << "\n";
  const Json* cert = member(*r, "certificate");
  if (cert && cert->IsObject()) {
    const Json* sigs = member(*cert, "signatures");
    o << "certified   by " << (sigs && sigs->IsArray() ? sigs->Size() : 0) << " validators\n";
  } else {
    o << "certified   not yet (the certificate of the latest block is known once the next one is made)\n";
  }
  const Json* txs = member(*r, "txs");
  o << "txs         " << (txs && txs->IsArray() ? txs->Size() : 0) << "\n";
  if (txs && txs->IsArray())
    for (const auto& t : txs->GetArray()) {
      const Json* payload = member(t, "payload");
      o << "  " << text_of(t, "hash") << "  " << (payload ? text_of(*payload, "type") : "?") << " from "
        << text_of(t, "sender") << " nonce " << text_of(t, "nonce") << "\n";
    }
  return {};
}

const char* kValidatorsHelp =
    "Usage: verity validators\nEvery registered validator, the set that certifies the next block first: operator,\n"
    "name, tokens, power, commission and STATUS, why it has that power: active, waiting (joins the set at the\n"
    "next epoch boundary), not selected (outside the top max_validators), jailed until H (unjail from height H),\n"
    "banned, below min stake by N. Under a validator that is not active, the node's explanation.\n";

// The STATUS column: the node's stable status with its figure.
std::string status_text(const Json& v) {
  const std::string status = text_of(v, "status");
  if (status == "jailed") return "jailed until " + text_of(v, "jailed_until");
  if (status == "below-min-stake") return "below min stake by " + text_of(v, "missing_stake");
  if (status == "waiting") return "waiting (joins at " + text_of(v, "next_epoch_boundary") + ")";
  if (status == "not-selected") return "not selected";
  return status.empty() ? "?" : status;
}

Status cmd_validators(Session& s, const std::vector<std::string>& args) {
  auto a = parse_args(Spec{"validators", {}, {}, 0, 0, ""}, args);
  if (!a) return a.error();
  auto r = s.call("validators");
  if (!r) return r.error();
  auto& o = s.io().out;
  if (s.json()) {
    print_json(o, *r);
    return {};
  }
  o << "at height " << text_of(*r, "height") << "\n";
  const Json* list = member(*r, "validators");
  if (!list || !list->IsArray()) return {};
  std::vector<std::array<std::string, 6>> rows = {{"OPERATOR", "NAME", "TOKENS", "POWER", "COMMISSION", "STATUS"}};
  std::vector<std::string> details = {""};
  for (const auto& v : list->GetArray()) {
    rows.push_back({text_of(v, "operator"), text_of(v, "name"), text_of(v, "tokens"), text_of(v, "power"),
                    text_of(v, "commission_bps") + " bps", status_text(v)});
    details.push_back(text_of(v, "status") == "active" ? "" : text_of(v, "detail"));
  }
  std::array<std::size_t, 6> width{};
  for (const auto& row : rows)
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  for (std::size_t n = 0; n < rows.size(); ++n) {
    const auto& row = rows[n];
    for (std::size_t i = 0; i + 1 < row.size(); ++i) o << row[i] << std::string(width[i] - row[i].size() + 2, ' ');
    o << row.back() << "\n";
    if (!details[n].empty()) o << "  " << details[n] << "\n";
  }
  return {};
}

// `verity COMMAND ADDRESS|NAME`: calls the method of that name with the
// address; with --json, prints the result as it came.
struct AddressQuery {
  std::string name;  // as given
  PublicKey address;
  rapidjson::Document result;
};
Result<AddressQuery> query_address(Session& s, const std::string& method, const std::vector<std::string>& args) {
  auto a = parse_args(Spec{method, {}, {}, 1, 1, "ADDRESS|NAME"}, args);
  if (!a) return a.error();
  auto address = s.address_of("", a->positional[0]);
  if (!address) return address.error();
  rapidjson::Document params(rapidjson::kObjectType);
  params.AddMember("address", rpc::to_json(address->hex(), params.GetAllocator()), params.GetAllocator());
  auto r = s.call(method.c_str(), params);
  if (!r) return r.error();
  if (s.json()) print_json(s.io().out, *r);
  return AddressQuery{a->positional[0], *address, std::move(*r)};
}

const char* kDelegationsHelp =
    "Usage: verity delegations ADDRESS|NAME\nAn account's delegations (value per validator) and unbonding entries.\n";

Status cmd_delegations(Session& s, const std::vector<std::string>& args) {
  auto q = query_address(s, "delegations", args);
  if (!q) return q.error();
  if (s.json()) return {};
  auto& o = s.io().out;
  const Json* ds = member(q->result, "delegations");
  const Json* us = member(q->result, "unbonding");
  if ((!ds || !ds->IsArray() || ds->Empty()) && (!us || !us->IsArray() || us->Empty())) {
    o << "no delegations and nothing unbonding for " << label(q->name, q->address) << "\n";
    return {};
  }
  if (ds && ds->IsArray())
    for (const auto& d : ds->GetArray())
      o << "delegated  " << text_of(d, "value") << " to " << text_of(d, "validator") << " (" << text_of(d, "shares")
        << " shares)\n";
  if (us && us->IsArray())
    for (const auto& u : us->GetArray())
      o << "unbonding  " << text_of(u, "amount") << " from " << text_of(u, "validator") << ", withdrawable at height "
        << text_of(u, "completion_height") << "\n";
  return {};
}

const char* kRewardsHelp = "Usage: verity rewards ADDRESS|NAME\nAn account's rewards: vested (claimable with 'verity claim') and locked.\n";

Status cmd_rewards(Session& s, const std::vector<std::string>& args) {
  auto q = query_address(s, "rewards", args);
  if (!q) return q.error();
  if (s.json()) return {};
  auto& o = s.io().out;
  const Json& r = q->result;
  o << "vested  " << text_of(r, "vested") << " (claimable now)\nlocked  " << text_of(r, "locked") << "\n";
  if (const Json* es = member(r, "entries"); es && es->IsArray())
    for (const auto& e : es->GetArray())
      o << "  " << text_of(e, "amount") << " vests at height " << text_of(e, "vest_height") << "\n";
  return {};
}

// --- transactions -------------------------------------------------------------------------

const std::set<std::string> kTxOptions = {"from", "fee"};
const std::set<std::string> kTxSwitches = {"wait"};
const char* kTxCommonHelp =
    "  --from NAME        the signing key: a key file in HOME/keys, or on a devnet a genesis name\n"
    "                     (alice, bob, carol, dave, validator-N)\n"
    "  --fee N            fee in base units (default 0, the devnet's minimum)\n"
    "  --wait             wait until the transaction is committed (up to 30 s) and print its receipt;\n"
    "                     exit 1 if it failed\n";

struct TxCommon {
  std::string from;
  Amount fee;
  bool wait = false;
};

Result<TxCommon> tx_common(const Spec& spec, const Args& a) {
  TxCommon c;
  auto from = required(a, spec, "from", "NAME (the signing key)");
  if (!from) return from.error();
  c.from = *from;
  if (!is_valid_key_name(c.from))
    return usage_error("--from: '" + c.from + "' is not a key name (1 to 32 letters, digits, '.', '_', '-'); "
                       "'verity keys list' shows yours");
  if (auto f = a.get("fee")) {
    auto fee = parse_amount_arg("--fee", *f);
    if (!fee) return fee.error();
    c.fee = *fee;
  }
  c.wait = a.has("wait");
  return c;
}

Status send_transaction(Session& s, const TxCommon& c, Payload payload, const std::string& summary) {
  auto key = s.signer(c.from);
  if (!key) return key.error();
  auto chain = s.chain_id();
  if (!chain) return chain.error();
  rapidjson::Document q(rapidjson::kObjectType);
  q.AddMember("address", rpc::to_json(key->public_key().hex(), q.GetAllocator()), q.GetAllocator());
  auto account = s.call("account", q);
  if (!account) return account.error();
  auto nonce = u64_of(*account, "next_nonce");
  if (!nonce) return make_error("rpc-bad-response", "the node's account answer has no next_nonce");

  Transaction tx;
  tx.chain_id = *chain;
  tx.nonce = *nonce;
  tx.fee = c.fee;
  tx.payload = std::move(payload);
  tx.sign(*key);
  const std::string hash = tx.id().hex();

  rapidjson::Document params(rapidjson::kObjectType);
  auto& al = params.GetAllocator();
  params.AddMember("tx", rpc::to_json(tx, al), al);
  Result<rapidjson::Document> r = Error{};
  if (c.wait) {
    params.AddMember("timeout_ms", Json(kCommitWaitMs), al);
    r = s.call("send_tx_commit", params,
               std::chrono::milliseconds(kCommitWaitMs) + std::chrono::duration_cast<std::chrono::milliseconds>(kCommitAnswerMargin));
  } else {
    r = s.call("send_tx", params);
  }
  if (!r) {
    Error e = r.error();
    if (exit_code_for(e) == kExitUnreachable) return e;
    std::string hint = hint_for(e, c.from, hash);
    if (e.reason == "timeout")
      e.detail = "tx " + hash + " was sent but not committed within " + std::to_string(kCommitWaitMs / 1000) + " s (" +
                 e.detail + ")";
    else
      e.detail = "the node rejected the " + std::string(payload_name(tx.payload)) + " (tx " + hash + "): " + e.detail;
    if (!hint.empty()) e.detail += "; " + hint;
    return e;
  }
  auto& o = s.io().out;
  const Json* receipt = member(*r, "receipt");
  const bool ok = !receipt || (member(*receipt, "ok") && member(*receipt, "ok")->IsBool() && member(*receipt, "ok")->GetBool());
  if (s.json()) {
    print_json(o, *r);
  } else {
    o << summary << ", nonce " << tx.nonce << ", fee " << tx.fee.to_string() << "\n";
    o << "tx " << hash << ": ";
    if (receipt && receipt->IsObject())
      print_receipt(o, *receipt);
    else
      o << "in the mempool; follow it with 'verity tx " << hash << "' (or pass --wait)\n";
  }
  if (!ok)
    return make_error(text_of(*receipt, "reason").empty() ? "tx-failed" : text_of(*receipt, "reason"),
                      "tx " + hash + " was committed at height " + text_of(*receipt, "height") +
                          " but failed: " + text_of(*receipt, "reason") +
                          " (it paid its fee and used its nonce; nothing else changed)" +
                          [&] {
                            std::string h = hint_for(make_error(text_of(*receipt, "reason")), c.from, hash);
                            return h.empty() ? std::string() : "; " + h;
                          }());
  return {};
}

const std::string kTransferHelp = std::string(
    "Usage: verity transfer --from NAME --to ADDRESS|NAME --amount N [--fee N] [--wait]\n"
    "Moves N base units from the --from account to --to.\n\n") + kTxCommonHelp;

Status cmd_transfer(Session& s, const std::vector<std::string>& args) {
  Spec spec{"transfer", {"from", "fee", "to", "amount"}, kTxSwitches, 0, 0, ""};
  auto a = parse_args(spec, args);
  if (!a) return a.error();
  auto c = tx_common(spec, *a);
  if (!c) return c.error();
  auto to_text = required(*a, spec, "to", "ADDRESS|NAME");
  if (!to_text) return to_text.error();
  auto amount = required_amount(*a, spec, "amount", "N");
  if (!amount) return amount.error();
  auto to = s.address_of("--to", *to_text);
  if (!to) return to.error();
  return send_transaction(s, *c, Transfer{*to, *amount},
                          "transfer " + amount->to_string() + " from " + c->from + " to " + label(*to_text, *to));
}

const std::string kCreateValidatorHelp = std::string(
    "Usage: verity create-validator --from NAME --consensus-key HEX --stake N --name S\n"
    "                               [--commission-bps N] [--fee N] [--wait]\n"
    "Registers --from as a validator operator with a consensus key (the node's validator key:\n"
    "'verityd show-validator --home DIR') and a self-stake; it joins the set at the next epoch.\n\n"
    "  --commission-bps N  the share of delegators' rewards the operator keeps, in basis points (default 0)\n") +
    kTxCommonHelp;

Status cmd_create_validator(Session& s, const std::vector<std::string>& args) {
  Spec spec{"create-validator", {"from", "fee", "consensus-key", "stake", "name", "commission-bps"}, kTxSwitches, 0, 0, ""};
  auto a = parse_args(spec, args);
  if (!a) return a.error();
  auto c = tx_common(spec, *a);
  if (!c) return c.error();
  auto key_text = required(*a, spec, "consensus-key", "HEX");
  if (!key_text) return key_text.error();
  auto key = PublicKey::from_hex(*key_text);
  if (!key || !is_valid_public_key(*key))
    return usage_error("--consensus-key: expected a public key of 64 hex digits ('verityd show-validator --home DIR' prints it)");
  auto stake = required_amount(*a, spec, "stake", "N");
  if (!stake) return stake.error();
  auto name = required(*a, spec, "name", "S (the validator's public name)");
  if (!name) return name.error();
  if (name->size() > kMaxNameBytes) return usage_error("--name: at most 64 bytes");
  std::uint64_t bps = 0;
  if (auto b = a->get("commission-bps")) {
    auto v = parse_u64_arg("--commission-bps", *b);
    if (!v) return v.error();
    if (*v > 10'000) return usage_error("--commission-bps: at most 10000 (100%)");
    bps = *v;
  }
  return send_transaction(s, *c, CreateValidator{*key, *stake, *name, bps},
                          "create-validator '" + *name + "' operated by " + c->from + " with stake " + stake->to_string());
}

const std::string kDelegateHelp = std::string(
    "Usage: verity delegate --from NAME --validator ADDRESS|NAME --amount N [--fee N] [--wait]\n"
    "Bonds N base units of --from's balance to the validator (its operator address or name).\n\n") +
    kTxCommonHelp;
const std::string kUnbondHelp = std::string(
    "Usage: verity unbond --from NAME --validator ADDRESS|NAME --amount N [--fee N] [--wait]\n"
    "Starts unbonding N base units of --from's delegation (value, not shares); they reach the balance\n"
    "with 'verity withdraw' once the unbonding period (params.unbonding_blocks) has passed.\n\n") +
    kTxCommonHelp;

Status cmd_delegate(Session& s, const std::vector<std::string>& args, bool unbond) {
  Spec spec{unbond ? "unbond" : "delegate", {"from", "fee", "validator", "amount"}, kTxSwitches, 0, 0, ""};
  auto a = parse_args(spec, args);
  if (!a) return a.error();
  auto c = tx_common(spec, *a);
  if (!c) return c.error();
  auto v_text = required(*a, spec, "validator", "ADDRESS|NAME");
  if (!v_text) return v_text.error();
  auto amount = required_amount(*a, spec, "amount", "N");
  if (!amount) return amount.error();
  auto v = s.address_of("--validator", *v_text, /*validator=*/true);
  if (!v) return v.error();
  const std::string summary = std::string(unbond ? "unbond " : "delegate ") + amount->to_string() + " from " + c->from +
                              (unbond ? " out of validator " : " to validator ") + label(*v_text, *v);
  if (unbond) return send_transaction(s, *c, Undelegate{*v, *amount}, summary);
  return send_transaction(s, *c, Delegate{*v, *amount}, summary);
}

// submit-task's defaults: fuel, the reveal window, and the least commit
// window (more when the fuel needs it at the reference speed).
constexpr std::uint64_t kDefaultTaskFuel = 1'000'000'000;
constexpr std::uint64_t kDefaultTaskBlocks = 20;

// The default commit window: at least kDefaultTaskBlocks, and at least what
// the chain requires for `fuel` at its reference speed (the same rule as
// the contract's, core/params.h), so that a default task is never refused
// and an honest worker at the reference speed finishes well inside it.
std::uint64_t default_commit_blocks(std::uint64_t fuel, std::uint64_t reference_fuel_per_block) {
  return std::max(kDefaultTaskBlocks, task_commit_blocks_needed(fuel, reference_fuel_per_block));
}

const std::string kSubmitTaskHelp = std::string(
    "Usage: verity submit-task FILE.wasm --from NAME --reward N [--input FILE] [--replicas R]\n"
    "                          [--fuel N] [--commit-blocks N] [--reveal-blocks N] [--fee N] [--wait]\n"
    "Pays R x N into escrow for a WASI command module (FILE.wasm, _start) to be run by R staked\n"
    "workers on --input as stdin (default: empty). The node checks the module before admitting it\n"
    "(imports outside the sandbox's WASI subset are refused: docs/sandbox.md). Defaults: the\n"
    "chain's replication, fuel 1000000000, 20 blocks to reveal, and a commit window of\n"
    "max(20, ceil(fuel / reference_fuel_per_block) + 2) blocks: the chain refuses a commit\n"
    "window shorter than the blocks the fuel takes at its reference speed plus 2 (bad-deadlines),\n"
    "and fuel above max_task_fuel (bad-fuel); a refusal exits 1 with the limit it hit. Windows\n"
    "count blocks, which come faster under load; a wider window only delays a round whose worker\n"
    "is missing, but an audit must fit both windows before the rewards vest (reward_lock_blocks).\n\n") +
    kTxCommonHelp;

Result<Bytes> read_binary_file(const std::string& flag, const std::string& path, std::size_t max) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return usage_error(flag + ": cannot read '" + path + "'; check the path");
  Bytes data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (data.size() > max)
    return usage_error(flag + ": '" + path + "' has " + std::to_string(data.size()) + " bytes; at most " +
                       std::to_string(max) + " fit in a task");
  return data;
}

Status cmd_submit_task(Session& s, const std::vector<std::string>& args) {
  Spec spec{"submit-task",
            {"from", "fee", "input", "replicas", "reward", "fuel", "commit-blocks", "reveal-blocks"},
            kTxSwitches, 1, 1, "FILE.wasm"};
  auto a = parse_args(spec, args);
  if (!a) return a.error();
  auto c = tx_common(spec, *a);
  if (!c) return c.error();
  SubmitTask t;
  auto module = read_binary_file("FILE.wasm", a->positional[0], kMaxTaskModuleBytes);
  if (!module) return module.error();
  t.module.bytes = std::move(*module);
  if (auto in = a->get("input")) {
    auto input = read_binary_file("--input", *in, kMaxTaskIoBytes);
    if (!input) return input.error();
    t.input.bytes = std::move(*input);
  }
  auto reward = required_amount(*a, spec, "reward", "N (paid to each agreeing worker)");
  if (!reward) return reward.error();
  t.reward = *reward;
  t.fuel = kDefaultTaskFuel;
  t.commit_blocks = 0;  // derived below unless given
  t.reveal_blocks = kDefaultTaskBlocks;
  for (auto [flag, field] : {std::pair{"replicas", &t.replicas}, std::pair{"fuel", &t.fuel},
                             std::pair{"commit-blocks", &t.commit_blocks}, std::pair{"reveal-blocks", &t.reveal_blocks}}) {
    if (auto v = a->get(flag)) {
      auto n = parse_u64_arg(std::string("--") + flag, *v);
      if (!n) return n.error();
      *field = *n;
    }
  }
  if (!a->get("commit-blocks")) {
    // Long enough for an honest worker at the chain's reference speed: the
    // node refuses anything shorter (docs/contracts.md, "Tasks").
    auto g = s.genesis();
    if (!g) return g.error();
    const Json* params = member(**g, "params");
    auto per_block = params ? u64_of(*params, "reference_fuel_per_block") : std::nullopt;
    if (!per_block || *per_block == 0)
      return make_error("rpc-bad-response", "the node's genesis has no reference_fuel_per_block: is it a Verity node "
                                            "of this version? Pass --commit-blocks N");
    t.commit_blocks = default_commit_blocks(t.fuel, *per_block);
  }
  const std::string summary = "submit-task " + a->positional[0] + " (" + std::to_string(t.module.bytes.size()) +
                              " bytes) from " + c->from + ", reward " + t.reward.to_string() + " per worker";
  return send_transaction(s, *c, std::move(t), summary);
}

const std::string kRegisterWorkerHelp = std::string(
    "Usage: verity register-worker --from NAME --stake N [--fee N] [--wait]\n"
    "Registers --from as a task worker with N of its balance as worker stake (at least the chain's\n"
    "min_worker_stake), or adds N to its worker stake. Run the tasks with verity-worker.\n\n") + kTxCommonHelp;

Status cmd_register_worker(Session& s, const std::vector<std::string>& args) {
  Spec spec{"register-worker", {"from", "fee", "stake"}, kTxSwitches, 0, 0, ""};
  auto a = parse_args(spec, args);
  if (!a) return a.error();
  auto c = tx_common(spec, *a);
  if (!c) return c.error();
  auto stake = required_amount(*a, spec, "stake", "N (the worker stake)");
  if (!stake) return stake.error();
  return send_transaction(s, *c, RegisterWorker{*stake}, "register-worker " + c->from + ", stake " + stake->to_string());
}

const std::string kUnregisterWorkerHelp = std::string(
    "Usage: verity unregister-worker --from NAME [--fee N] [--wait]\n"
    "Stops new task assignments to --from; its worker stake starts unbonding and 'withdraw' pays it\n"
    "after the unbonding period. Rounds it is already in still count on it: keep verity-worker\n"
    "running until they end.\n\n") + kTxCommonHelp;

const std::string kRequestAuditHelp = std::string(
    "Usage: verity request-audit ID --from NAME [--fee N] [--wait]\n"
    "Pays replicas x reward (escrowed) to rerun settled task ID on fresh workers while its rewards\n"
    "are locked. If the audit's majority disagrees, the old majority's locked rewards go to --from\n"
    "and its workers are slashed; 'verity task ID' shows how it ended.\n\n") + kTxCommonHelp;

Status cmd_request_audit(Session& s, const std::vector<std::string>& args) {
  Spec spec{"request-audit", {"from", "fee"}, kTxSwitches, 1, 1, "ID"};
  auto a = parse_args(spec, args);
  if (!a) return a.error();
  auto c = tx_common(spec, *a);
  if (!c) return c.error();
  auto id = parse_u64_arg("ID", a->positional[0]);
  if (!id) return id.error();
  return send_transaction(s, *c, RequestAudit{*id}, "request-audit of task " + a->positional[0] + " by " + c->from);
}

const char* kTaskHelp =
    "Usage: verity task ID\n"
    "       verity task watch ID [--timeout SECONDS]\n"
    "A task of the market: its terms, the round in progress (assigned workers, who committed and\n"
    "revealed) and, once settled, the result (--json: the node's answer as is).\n"
    "'task watch' follows the task's events over the WebSocket (assigned, committed, revealed,\n"
    "settled or failed) and ends when it settles (exit 0) or fails (exit 1), or after --timeout\n"
    "(default 120 s; exit 1). A settled task under audit is followed until the audit ends\n"
    "(task_audited or task_audit_ended; exit 0).\n";

std::string outcome_text(const Json& v, const char* name) {
  auto n = u64_of(v, name);
  if (!n || *n > static_cast<std::uint64_t>(worker::Outcome::forbidden_import)) return text_of(v, name);
  return std::string(worker::outcome_name(static_cast<worker::Outcome>(*n)));
}

void print_task(std::ostream& o, const Json& t) {
  o << "task " << text_of(t, "id") << ": " << text_of(t, "status");
  if (!text_of(t, "failure").empty()) o << " (" << text_of(t, "failure") << ")";
  o << "\n  submitter " << text_of(t, "submitter") << " at height " << text_of(t, "submitted_height") << "\n";
  o << "  module " << text_of(t, "module_hash") << ", input " << text_of(t, "input").size() / 2 << " bytes\n";
  o << "  replicas " << text_of(t, "replicas") << ", reward " << text_of(t, "reward") << " per worker, fuel "
    << text_of(t, "fuel") << " (metering version " << text_of(t, "metering_version") << "), "
    << text_of(t, "commit_blocks") << " blocks to commit, " << text_of(t, "reveal_blocks") << " to reveal\n";
  if (!text_of(t, "retry_reason").empty())
    o << "  retried: the first round ended with " << text_of(t, "retry_reason") << "\n";
  if (const Json* r = member(t, "round"); r && r->IsObject()) {
    o << "  round " << text_of(*r, "kind") << ": ";
    if (u64_of(*r, "assigned_height").value_or(0) == 0)
      o << "waiting for assignment\n";
    else
      o << "assigned at " << text_of(*r, "assigned_height") << ", commit by " << text_of(*r, "commit_deadline")
        << ", reveal by " << text_of(*r, "reveal_deadline") << "\n";
    if (const Json* as = member(*r, "assignments"); as && as->IsArray())
      for (const auto& a : as->GetArray()) {
        const Json* c = member(a, "committed");
        const Json* v = member(a, "revealed");
        bool committed = c && c->IsBool() && c->GetBool(), revealed = v && v->IsBool() && v->GetBool();
        o << "    worker " << text_of(a, "worker") << ": "
          << (revealed ? "revealed " + outcome_text(a, "outcome") + ", fuel " + text_of(a, "fuel_used")
                       : committed ? std::string("committed") : std::string("assigned"))
          << "\n";
      }
  }
  if (const Json* r = member(t, "result"); r && r->IsObject()) {
    o << "  result " << outcome_text(*r, "outcome") << ", exit " << text_of(*r, "exit_code") << ", fuel "
      << text_of(*r, "fuel_used") << ", settled at " << text_of(*r, "settled_height") << " (rewards vest at "
      << text_of(*r, "vest_height") << ")\n";
    o << "  result hash " << text_of(*r, "result_hash") << "\n";
    if (const Json* m = member(*r, "majority"); m && m->IsArray())
      for (const auto& k : m->GetArray())
        if (k.IsString()) o << "    agreed: " << k.GetString() << "\n";
    auto out = from_hex(text_of(*r, "output"));
    if (out) {
      std::string text(out->begin(), out->end());
      bool printable = std::all_of(text.begin(), text.end(), [](unsigned char ch) {
        return ch == '\n' || ch == '\t' || (ch >= 0x20 && ch < 0x7f);
      });
      o << "  output (" << out->size() << " bytes)" << (printable ? ":\n" + text : ": " + text_of(*r, "output"))
        << (printable && !text.empty() && text.back() != '\n' ? "\n" : "");
      if (!printable) o << "\n";
    }
  }
  o << "  audits " << text_of(t, "audits") << "\n";
}

Result<rapidjson::Document> fetch_task(Session& s, std::uint64_t id) {
  rapidjson::Document params(rapidjson::kObjectType);
  params.AddMember("id", Json(id), params.GetAllocator());
  auto r = s.call("task", params);
  if (!r && r.error().reason == "not-found") {
    Error e = r.error();
    e.detail += ": no task " + std::to_string(id) + " on this chain";
    return e;
  }
  return r;
}

// Follows the tasks topic until task `id` settles or fails.
Status watch_task(Session& s, const std::string& rpc_text, std::uint64_t id, std::chrono::seconds timeout) {
  auto url = rpc::parse_rpc_url(rpc_text);
  if (!url) return usage_error("--rpc: " + url.error().detail);
  auto& o = s.io().out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto sub = rpc::WsSubscription::open(*url, "tasks");
  if (!sub) return sub.error();
  // The task as it is now: it may have settled already.
  auto t = fetch_task(s, id);
  if (!t) return t.error();
  const std::string status = text_of(*t, "status");
  const Json* round = member(*t, "round");
  const bool audit = status == "settled" && round && round->IsObject();  // an audit runs: follow it
  if (!s.json())
    o << "task " << id << ": " << status << (audit ? ", audit in progress" : "") << " (watching; at most "
      << timeout.count() << " s)\n";
  if (status != "open" && !audit) {
    if (s.json()) print_json(o, *t);
    return status == "settled" ? Status{} : make_error("task-failed", "task " + std::to_string(id) + " failed: " + text_of(*t, "failure"));
  }
  const std::string want = std::to_string(id);
  while (true) {
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) break;
    auto event = (*sub)->next(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now));
    if (!event) return event.error();
    if (!*event) break;
    const Json& result = **event;
    const Json* attrs = member(result, "attributes");
    if (!attrs || text_of(*attrs, "task") != want) continue;
    const std::string kind = text_of(result, "kind");
    if (s.json()) {
      print_json(o, result);
    } else {
      o << "height " << text_of(result, "height") << ": " << kind;
      for (auto it = attrs->MemberBegin(); it != attrs->MemberEnd(); ++it)
        if (std::string(it->name.GetString()) != "task" && it->value.IsString())
          o << " " << it->name.GetString() << "=" << it->value.GetString();
      o << "\n";
    }
    if (kind == "task_settled" || kind == "task_failed" || kind == "task_audited" || kind == "task_audit_ended") {
      auto fin = fetch_task(s, id);
      if (fin && !s.json()) print_task(o, *fin);
      if (kind == "task_failed")
        return make_error("task-failed", "task " + want + " failed: " + text_of(*attrs, "reason"));
      return {};
    }
  }
  return make_error("timeout", "task " + want + " did not settle within " + std::to_string(timeout.count()) +
                                   " s; 'verity task " + want + "' shows where it is");
}

Status cmd_task(Session& s, const std::vector<std::string>& args, const std::string& rpc_text) {
  if (!args.empty() && args[0] == "watch") {
    auto a = parse_args(Spec{"task watch", {"timeout"}, {}, 1, 1, "ID"}, {args.begin() + 1, args.end()});
    if (!a) return a.error();
    auto id = parse_u64_arg("ID", a->positional[0]);
    if (!id) return id.error();
    std::uint64_t secs = 120;
    if (auto t = a->get("timeout")) {
      auto n = parse_u64_arg("--timeout", *t);
      if (!n) return n.error();
      secs = *n;
    }
    return watch_task(s, rpc_text, *id, std::chrono::seconds(secs));
  }
  auto a = parse_args(Spec{"task", {}, {}, 1, 1, "ID"}, args);
  if (!a) return a.error();
  auto id = parse_u64_arg("ID", a->positional[0]);
  if (!id) return id.error();
  auto r = fetch_task(s, *id);
  if (!r) return r.error();
  if (s.json())
    print_json(s.io().out, *r);
  else
    print_task(s.io().out, *r);
  return {};
}

const std::string kWithdrawHelp = std::string(
    "Usage: verity withdraw --from NAME [--fee N] [--wait]\n"
    "Moves --from's unbonding entries whose period has passed to its balance.\n\n") + kTxCommonHelp;
const std::string kClaimHelp = std::string(
    "Usage: verity claim --from NAME [--fee N] [--wait]\n"
    "Moves --from's vested rewards (whose lock has expired) to its balance.\n\n") + kTxCommonHelp;
const std::string kUnjailHelp = std::string(
    "Usage: verity unjail --from NAME [--fee N] [--wait]\n"
    "Lets --from's jailed validator back: it rejoins the set at the next epoch boundary. The chain\n"
    "refuses it before the jail time has passed (still-jailed) and while the validator's tokens are\n"
    "below the minimum stake (below-min-stake: delegate the missing stake to it first). The client\n"
    "asks the node first, and when the chain would refuse, says why (until which height, how much\n"
    "stake is missing) and sends nothing: no fee is spent.\n\n") + kTxCommonHelp;

// An unjail the chain would refuse in the next block is not sent: the
// node's `validator` answer carries the contract's own verdict
// (unjail_refusal) and the sentence that explains it (detail). A node that
// cannot say (no such field) leaves the decision to the chain.
Status cmd_unjail(Session& s, const std::vector<std::string>& args) {
  Spec spec{"unjail", {"from", "fee"}, kTxSwitches, 0, 0, ""};
  auto a = parse_args(spec, args);
  if (!a) return a.error();
  auto c = tx_common(spec, *a);
  if (!c) return c.error();
  if (auto address = s.address_of("--from", c->from)) {  // else the signer's own error comes below
    rapidjson::Document params(rapidjson::kObjectType);
    params.AddMember("address", rpc::to_json(address->hex(), params.GetAllocator()), params.GetAllocator());
    auto v = s.call("validator", params);
    if (!v && exit_code_for(v.error()) == kExitUnreachable) return v.error();
    if (!v && v.error().reason == "not-found")
      return make_error("unknown-validator",
                        label(c->from, *address) + " operates no validator: there is nothing to unjail; nothing was sent");
    const Json* refusal = v ? member(*v, "unjail_refusal") : nullptr;
    if (refusal && refusal->IsString() && refusal->GetStringLength() > 0)
      return make_error(refusal->GetString(),
                        "nothing was sent, as the chain would refuse it: validator '" + text_of(*v, "name") + "'" +
                            (std::string(refusal->GetString()) == "not-jailed" ? " is not jailed, and " : ": ") +
                            text_of(*v, "detail"));
  }
  return send_transaction(s, *c, Unjail{}, "unjail by " + c->from);
}

template <class P>
Status cmd_simple(Session& s, const std::vector<std::string>& args, const char* name) {
  Spec spec{name, {"from", "fee"}, kTxSwitches, 0, 0, ""};
  auto a = parse_args(spec, args);
  if (!a) return a.error();
  auto c = tx_common(spec, *a);
  if (!c) return c.error();
  return send_transaction(s, *c, P{}, std::string(name) + " by " + c->from);
}

const std::string kEvidenceHelp = std::string(
    "Usage: verity submit-evidence --from NAME --evidence HEX [--fee N] [--wait]\n"
    "Reports a validator that signed two conflicting votes; HEX is the canonical encoding of the\n"
    "DoubleSignEvidence (two votes). The reporter earns params.evidence_reward_bps of the slash.\n\n") +
    kTxCommonHelp;

Status cmd_submit_evidence(Session& s, const std::vector<std::string>& args) {
  Spec spec{"submit-evidence", {"from", "fee", "evidence"}, kTxSwitches, 0, 0, ""};
  auto a = parse_args(spec, args);
  if (!a) return a.error();
  auto c = tx_common(spec, *a);
  if (!c) return c.error();
  auto hex = required(*a, spec, "evidence", "HEX");
  if (!hex) return hex.error();
  auto raw = from_hex(*hex);
  if (!raw) return usage_error("--evidence: not hex");
  auto ev = decode_exact<DoubleSignEvidence>(*raw);
  if (!ev) return usage_error("--evidence: not a canonical DoubleSignEvidence: " + ev.error().to_string());
  return send_transaction(s, *c, SubmitEvidence{*ev},
                          "submit-evidence against validator " + ev->validator().hex() + " at height " +
                              std::to_string(ev->height()) + " by " + c->from);
}

// --- the program -----------------------------------------------------------------------

const char* kGlobalHelp =
    "\nOptions (anywhere on the command line):\n"
    "  --rpc URL              the node's JSON-RPC address (default http://127.0.0.1:7701, or VERITY_RPC)\n"
    "  --json                 print the node's raw result as JSON on stdout\n"
    "  --home DIR             the client's directory; keys in DIR/keys (default ~/.verity)\n"
    "  --passphrase-file FILE the key passphrase (first line); else VERITY_PASSPHRASE, else a prompt\n"
    "  --rpc-token-file FILE  the node's RPC bearer token (first line), for a node that requires one\n"
    "                         to send transactions; else VERITY_RPC_TOKEN\n"
    "\n'verity COMMAND --help' describes one command; docs/client.md has the details.\n"
    "\nExit codes: 0 ok; 1 the command failed (rejected or failed transaction, invalid proof,\n"
    "not found, wrong passphrase); 2 usage error; 3 the node cannot be reached at --rpc.\n";

using Handler = std::function<Status(Session&, const std::vector<std::string>&)>;

Subcommand make_command(ClientIo& io, const ClientGlobals& g, std::string name, std::string summary, std::string help,
                        Handler handler) {
  return Subcommand{name, std::move(summary),
                    [&io, &g, name, help = std::move(help), handler = std::move(handler)](
                        const std::vector<std::string>& args, std::ostream& out, std::ostream& err) -> int {
                      if (wants_help(args)) {
                        out << help;
                        return kExitOk;
                      }
                      ClientIo local{out, err, io.in, io.prompt_secret, io.getenv, io.stdin_is_terminal};
                      std::string cmd_label = name;
                      if (name == "keys" && !args.empty()) cmd_label += " " + args[0];
                      Session session(g, local, cmd_label);
                      Status s = handler(session, args);
                      if (s) return kExitOk;
                      const Error& e = s.error();
                      err << "verity " << cmd_label << ": " << (e.detail.empty() ? e.reason : e.detail);
                      if (e.reason != "usage") err << " [" << e.reason << "]";
                      // Hints that need no context (the transaction commands add their own).
                      static const std::set<std::string> generic = {
                          "bad-passphrase", "method-not-found", "bad-key-file", "key-mismatch",
                          "internal-error", "invalid-params",   "shutting-down", "too-many-waiters"};
                      if (generic.count(e.reason)) {
                        const std::string hint = hint_for(e, "", "");
                        if (e.detail.find(hint) == std::string::npos) err << "; " << hint;
                      }
                      err << "\n";
                      return exit_code_for(e);
                    }};
}

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

Result<ProvenAccount> verify_account_proof(const Json& result, const PublicKey& address, std::string_view chain_id) {
  auto bad = [](const std::string& reason, const std::string& why) { return make_error(reason, why); };
  const Json* p = member(result, "proof");
  if (!p || !p->IsObject()) return bad("proof-missing", "the answer holds no proof");
  auto hex_field = [&](const char* name) -> Result<Bytes> {
    const Json* v = member(*p, name);
    if (!v || !v->IsString()) return bad("proof-malformed", std::string("proof.") + name + ": missing or not a string");
    auto raw = from_hex(std::string_view(v->GetString(), v->GetStringLength()));
    if (!raw) return bad("proof-malformed", std::string("proof.") + name + ": not hex");
    return raw;
  };
  auto height = u64_of(*p, "height");
  if (!height) return bad("proof-malformed", "proof.height: missing or not an unsigned integer");
  auto key = hex_field("key");
  if (!key) return key.error();
  if (*key != contracts::account_key(address))
    return bad("proof-wrong-key", "the proof is for another state key than the account " + address.hex());
  std::optional<Bytes> value;
  if (const Json* v = member(*p, "value"); v && !v->IsNull()) {
    auto raw = hex_field("value");
    if (!raw) return raw.error();
    value = std::move(*raw);
  } else if (!v) {
    return bad("proof-malformed", "proof.value: missing (null when the account does not exist)");
  }
  auto root_bytes = hex_field("root");
  if (!root_bytes) return root_bytes.error();
  if (root_bytes->size() != 32) return bad("proof-malformed", "proof.root: not 32 bytes");
  const Hash256 root = Hash256::from_view(*root_bytes);

  auto decode_field = [&]<class T>(const char* name, T*) -> Result<T> {
    auto raw = hex_field(name);
    if (!raw) return raw.error();
    auto v = decode_exact<T>(*raw);
    if (!v) return bad("proof-malformed", std::string("proof.") + name + ": " + v.error().to_string());
    return v;
  };
  auto header = decode_field("header", static_cast<BlockHeader*>(nullptr));
  if (!header) return header.error();
  auto cert = decode_field("certificate", static_cast<CommitCertificate*>(nullptr));
  if (!cert) return cert.error();
  auto validators = decode_field("validators", static_cast<ValidatorSet*>(nullptr));
  if (!validators) return validators.error();
  auto proof = decode_field("proof", static_cast<StateProof*>(nullptr));
  if (!proof) return proof.error();

  if (header->chain_id != chain_id)
    return bad("proof-wrong-chain", "the header is of chain '" + header->chain_id + "', not '" + std::string(chain_id) + "'");
  if (header->height != *height || cert->height != *height)
    return bad("proof-wrong-height", "proof.height " + std::to_string(*height) + ", header height " +
                                         std::to_string(header->height) + ", certificate height " +
                                         std::to_string(cert->height) + " differ");
  if (header->hash() != cert->block_hash)
    return bad("proof-bad-certificate", "the certificate is for block " + cert->block_hash.hex() +
                                            ", but the header hashes to " + header->hash().hex());
  if (auto s = cert->verify(chain_id, *validators); !s)
    return bad(s.error().reason, "the commit certificate does not hold: " + s.error().to_string());
  if (header->state_root != root)
    return bad("proof-wrong-root", "the proof is against root " + root.hex() + ", but the certified header's state root is " +
                                       header->state_root.hex());
  if (auto s = verify_state_proof(root, *key, value, *proof); !s)
    return bad(s.error().reason, "the state proof does not hold: " + s.error().to_string());

  ProvenAccount out;
  out.height = *height;
  contracts::Account shown;
  if (value) {
    auto acct = decode_exact<contracts::Account>(*value);
    if (!acct) return bad("proof-malformed", "proof.value: not an Account: " + acct.error().to_string());
    out.account = *acct;
    shown = *acct;
  }
  // The answer's own fields must be what the proof shows.
  if (const Json* b = member(result, "balance"))
    if (!b->IsString() || std::string(b->GetString()) != shown.balance.to_string())
      return bad("proof-mismatch", "the answer says balance " + text_of(result, "balance") + ", the proof says " +
                                       shown.balance.to_string());
  if (auto n = u64_of(result, "nonce"); n && *n != shown.nonce)
    return bad("proof-mismatch", "the answer says nonce " + std::to_string(*n) + ", the proof says " +
                                     std::to_string(shown.nonce));
  return out;
}

CliProgram client_program(ClientIo& io, const ClientGlobals& g) {
  CliProgram p{"verity", "the Verity client: signs locally, talks JSON-RPC", {}};
  auto add = [&](std::string name, std::string summary, std::string help, Handler h) {
    p.commands.push_back(make_command(io, g, std::move(name), std::move(summary), std::move(help), std::move(h)));
  };
  add("keys", "new NAME | list | show NAME | import NAME: encrypted key files", kKeysHelp, cmd_keys);
  add("status", "the node's chain, height, peers and mempool", kStatusHelp, cmd_status);
  add("balance", "ADDRESS|NAME: an account's balance", kBalanceHelp,
      [](Session& s, const auto& a) { return cmd_account(s, a, true); });
  add("account", "ADDRESS|NAME [--prove]: balance and nonces, with a proof checked locally", kAccountHelp,
      [](Session& s, const auto& a) { return cmd_account(s, a, false); });
  add("transfer", "--from NAME --to ADDRESS|NAME --amount N: sends tokens", kTransferHelp, cmd_transfer);
  add("create-validator", "--from NAME --consensus-key HEX --stake N --name S", kCreateValidatorHelp,
      cmd_create_validator);
  add("delegate", "--from NAME --validator X --amount N: bonds stake", kDelegateHelp,
      [](Session& s, const auto& a) { return cmd_delegate(s, a, false); });
  add("unbond", "--from NAME --validator X --amount N: starts unbonding", kUnbondHelp,
      [](Session& s, const auto& a) { return cmd_delegate(s, a, true); });
  add("withdraw", "--from NAME: collects finished unbondings", kWithdrawHelp,
      [](Session& s, const auto& a) { return cmd_simple<Withdraw>(s, a, "withdraw"); });
  add("claim", "--from NAME: collects vested rewards", kClaimHelp,
      [](Session& s, const auto& a) { return cmd_simple<Claim>(s, a, "claim"); });
  add("unjail", "--from NAME: brings a jailed validator back", kUnjailHelp,
      cmd_unjail);
  add("submit-evidence", "--from NAME --evidence HEX: reports a double sign", kEvidenceHelp, cmd_submit_evidence);
  add("validators", "the registered validators", kValidatorsHelp, cmd_validators);
  add("delegations", "ADDRESS|NAME: delegations and unbonding entries", kDelegationsHelp, cmd_delegations);
  add("rewards", "ADDRESS|NAME: vested and locked rewards", kRewardsHelp, cmd_rewards);
  add("tx", "HASH: a transaction and its receipt", kTxHelp, cmd_tx);
  add("block", "[HEIGHT|HASH]: a block (default the latest)", kBlockHelp, cmd_block);
  add("submit-task", "FILE.wasm --from NAME --reward N: pay workers to run a WASM task", kSubmitTaskHelp,
      cmd_submit_task);
  add("register-worker", "--from NAME --stake N: become a task worker", kRegisterWorkerHelp, cmd_register_worker);
  add("unregister-worker", "--from NAME: stop taking tasks, unbond the worker stake", kUnregisterWorkerHelp,
      [](Session& s, const auto& a) { return cmd_simple<UnregisterWorker>(s, a, "unregister-worker"); });
  add("request-audit", "ID --from NAME: pay to rerun a settled task on fresh workers", kRequestAuditHelp,
      cmd_request_audit);
  add("task", "ID | watch ID: a task, or follow it until it settles", kTaskHelp,
      [](Session& s, const auto& a) { return cmd_task(s, a, s.rpc_url()); });
  return p;
}

int run_client(const std::vector<std::string>& args, ClientIo& io) {
  ClientGlobals g;
  if (auto env = io.getenv("VERITY_RPC"); env && !env->empty()) g.rpc = *env;
  std::vector<std::string> rest;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    bool matched = false;
    for (const char* opt : {"--rpc", "--home", "--passphrase-file", "--rpc-token-file"}) {
      std::string name = opt;
      std::string* target = name == "--rpc"               ? &g.rpc
                            : name == "--home"            ? &g.home
                            : name == "--passphrase-file" ? &g.passphrase_file
                                                          : &g.rpc_token_file;
      if (a == name) {
        if (i + 1 >= args.size()) {
          io.err << "verity: option '" << name << "' needs a value; run 'verity --help'\n";
          return kExitUsage;
        }
        *target = args[++i];
        matched = true;
      } else if (a.rfind(name + "=", 0) == 0) {
        *target = a.substr(name.size() + 1);
        matched = true;
      }
      if (matched) {
        if (target->empty()) {
          io.err << "verity: option '" << name << "' needs a non-empty value; run 'verity --help'\n";
          return kExitUsage;
        }
        break;
      }
    }
    if (matched) continue;
    if (a == "--json") {
      g.json = true;
      continue;
    }
    rest.push_back(a);
  }
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

namespace {
// The terminal whose echo a prompt turned off, so that Ctrl-C at the prompt
// turns it back on before the signal ends the process.
volatile sig_atomic_t g_quiet_tty = -1;
struct termios g_tty_before {};

extern "C" void restore_tty_and_reraise(int sig) {
  if (g_quiet_tty >= 0) ::tcsetattr(g_quiet_tty, TCSAFLUSH, &g_tty_before);
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}
}  // namespace

ClientIo process_io() {
  auto prompt = [](const std::string& text) -> std::optional<std::string> {
    int fd = ::open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    struct termios old {};
    if (::tcgetattr(fd, &old) != 0) {
      ::close(fd);
      return std::nullopt;
    }
    struct termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    g_tty_before = old;
    g_quiet_tty = fd;
    struct sigaction restore {}, saved[3];
    restore.sa_handler = restore_tty_and_reraise;
    const int signals[3] = {SIGINT, SIGTERM, SIGQUIT};
    for (int i = 0; i < 3; ++i) ::sigaction(signals[i], &restore, &saved[i]);
    // Echo off first (dropping type-ahead), then the prompt: what is typed
    // after the prompt appears is never echoed nor discarded.
    ::tcsetattr(fd, TCSAFLUSH, &quiet);
    (void)!::write(fd, text.data(), text.size());
    std::string line;
    char c;
    bool got = false;
    while (::read(fd, &c, 1) == 1) {
      got = true;
      if (c == '\n') break;
      line.push_back(c);
    }
    ::tcsetattr(fd, TCSANOW, &old);
    g_quiet_tty = -1;
    for (int i = 0; i < 3; ++i) ::sigaction(signals[i], &saved[i], nullptr);
    ::close(fd);
    if (!got) return std::nullopt;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
  };
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

}  // namespace verity::node
