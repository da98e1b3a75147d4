#include "client/session.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "cli/keystore.h"
#include "cli/secret_file.h"
#include "core/hex.h"
#include "core/params.h"
#include "core/transaction.h"
#include "rpc/http_client.h"
#include "rpc/json_codec.h"

namespace verity::client {

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

void print_receipt(std::ostream& o, const ReceiptInfo& receipt) {
  o << "committed at height " << receipt.height << " (index " << receipt.index << "): "
    << (receipt.ok ? "ok" : "FAILED: " + receipt.reason) << ", fee paid " << receipt.fee_paid.to_string() << "\n";
  print_events(o, receipt.events);
}

void print_columns(std::ostream& o, const std::vector<std::vector<std::string>>& rows,
                   const std::vector<std::string>& notes) {
  std::vector<std::size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()));
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (std::size_t n = 0; n < rows.size(); ++n) {
    const auto& row = rows[n];
    for (std::size_t i = 0; i < row.size(); ++i)
      o << row[i] << (i + 1 < row.size() ? std::string(width[i] - row[i].size() + 2, ' ') : "\n");
    if (n < notes.size() && !notes[n].empty()) o << "  " << notes[n] << "\n";
  }
}

void print_events(std::ostream& o, const std::vector<Event>& events) {
  for (const auto& e : events) {
    o << "  event " << e.kind;
    for (const auto& [name, value] : e.attributes) o << " " << name << "=" << value;
    o << "\n";
  }
}

// A required option holding an amount of whole base units.
Result<Amount> required_amount(const Args& a, const Spec& spec, const std::string& option, const std::string& what) {
  auto text = required(a, spec, option, what);
  if (!text) return text.error();
  return parse_amount_arg("--" + option, *text);
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
  if (r == "insufficient-delegation" || r == "no-delegation")
    return "'verity delegations " + (from.empty() ? std::string("NAME") : from) + "' shows what it has delegated";
  if (r == "nothing-to-withdraw")
    return "'verity delegations " + (from.empty() ? std::string("NAME") : from) +
           "' shows its unbonding entries and the heights they complete at";
  if (r == "nothing-to-claim")
    return "'verity rewards " + (from.empty() ? std::string("NAME") : from) + "' shows what is locked and until when";
  if (r == "stake-too-low")
    return "pass a --stake of at least the chain's minimum, which the reason above names";
  if (r == "still-jailed" || r == "below-min-stake" || r == "not-jailed")
    return "'verity validators' says, in its STATUS column, until which height the validator is jailed and how much "
           "stake it lacks";
  if (r == "internal-error") return "the node failed to answer; its log says why";
  if (r == "invalid-params")
    return "the node did not accept what this client sent: are the client and the node of the same version?";
  return "";
}

// "alice (04ae...)" for names, the address alone for addresses.
std::string label(const std::string& given, const PublicKey& address) {
  return given == address.hex() || is_hex64(given) ? address.hex() : given + " (" + address.hex() + ")";
}

// --- the session -------------------------------------------------------------------

void Session::warn(const std::string& reason, const std::string& detail) {
  if (!g_.json) {
    io_.err << "verity: " << detail << "\n";
    return;
  }
  rapidjson::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  d.AddMember("warning", rpc::to_json(reason, a), a);
  d.AddMember("detail", rpc::to_json(detail, a), a);
  io_.err << rpc::json_string(d) << "\n";
}

Result<HttpRpcClient*> Session::rpc() {
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
    if (!g_.chain_id.empty()) {  // --chain-id: this node must be on that chain, before anything else
      rapidjson::Value none(rapidjson::kObjectType);
      auto st = client_->call("status", none);
      if (!st) {
        client_.reset();
        return st.error();
      }
      const std::string id = text_of(*st, "chain_id");
      if (id != g_.chain_id)
        wrong_chain_ = make_error("wrong-chain", "the node at " + g_.rpc + " is on chain '" + id + "', not '" +
                                                     g_.chain_id + "' (--chain-id): nothing was done");
      else
        chain_id_ = id;
    }
  }
  if (wrong_chain_) return *wrong_chain_;
  return &*client_;
}

Result<NodeClient> Session::node() {
  auto c = rpc();
  if (!c) return c.error();
  return NodeClient(**c);
}

Result<rapidjson::Document> Session::call(const char* method, const Json& params,
                                          std::optional<std::chrono::milliseconds> timeout) {
  auto c = rpc();
  if (!c) return c.error();
  return timeout ? (*c)->call(method, params, *timeout) : (*c)->call(method, params);
}

Result<rapidjson::Document> Session::call(const char* method) {
  rapidjson::Value params(rapidjson::kObjectType);
  return call(method, params);
}

Result<std::string> Session::chain_id() {
  if (!chain_id_) {
    auto st = call("status");
    if (!st) return st.error();
    std::string id = text_of(*st, "chain_id");
    if (id.empty()) return make_error("rpc-bad-response", "the node's status has no chain_id");
    chain_id_ = id;
  }
  return *chain_id_;
}

Result<const rapidjson::Document*> Session::genesis() {
  if (!genesis_) {
    auto g = call("genesis");
    if (!g) return g.error();
    genesis_.emplace(std::move(*g));
  }
  return &*genesis_;
}

Result<fs::path> Session::home() const {
  if (!g_.home.empty()) return fs::path(g_.home);
  auto h = io_.getenv("HOME");
  if (!h || h->empty()) return usage_error("HOME is not set: pass --home DIR (where the client keeps its keys)");
  return fs::path(*h) / ".verity";
}

Result<Keystore> Session::keystore() const {
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

Result<std::string> Session::passphrase(const std::string& name, bool confirm) {
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
      warn("passphrase-file-readable", "warning: " + g_.passphrase_file + " may be read by other users: chmod 600 it");
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

Result<SecretKey> Session::signer(const std::string& name) {
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
        warn("insecure-devnet-key", "signing as '" + name + "' with its INSECURE devnet key (derived from the name; "
                                    "this network's genesis funds it, so this is a devnet)");
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

Result<PublicKey> Session::address_of(const std::string& option, const std::string& text, bool validator) {
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

// --- sending a transaction ---------------------------------------------------------

const std::set<std::string> kTxSwitches = {"wait", "force", "dry-run"};
const char* const kTxCommonHelp =
    "  --from NAME        the signing key: a key file in HOME/keys, or on a devnet a genesis name\n"
    "                     (alice, bob, carol, dave, validator-N)\n"
    "  --fee N            fee in base units (default: the chain's min_fee, from its genesis)\n"
    "  --wait             wait until the transaction is committed (up to 30 s) and print its receipt;\n"
    "                     exit 1 if it failed\n"
    "  --dry-run          only ask the node to simulate it: print the receipt it would get and send\n"
    "                     nothing; exit 1 if it would fail\n"
    "  --force            send it even when the simulation says the chain would refuse it (a refused\n"
    "                     transaction that passes the fee check is committed as failed and pays its fee)\n"
    "The node simulates every transaction first; one it says would fail is not sent, and the\n"
    "command exits 1 with the reason: no fee is spent.\n";

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
  c.force = a.has("force");
  c.dry_run = a.has("dry-run");
  if (c.dry_run && (c.wait || c.force)) return usage_error("--dry-run sends nothing: it takes neither --wait nor --force");
  return c;
}

Result<TxArgs> parse_tx_args(const Spec& spec, const std::vector<std::string>& args) {
  auto a = parse_args(spec, args);
  if (!a) return a.error();
  auto c = tx_common(spec, *a);
  if (!c) return c.error();
  return TxArgs{std::move(*a), std::move(*c)};
}

namespace {

// The chain's least fee, from its genesis.
Result<Amount> min_fee(Session& s) {
  auto g = s.genesis();
  if (!g) return g.error();
  const Json* params = member(**g, "params");
  auto fee = Amount::parse(params ? text_of(*params, "min_fee") : "");
  if (!fee) return make_error("rpc-bad-response", "the node's genesis has no params.min_fee; pass --fee N");
  return *fee;
}

// The node's simulation of `tx`; nullopt from a node without the method
// (an older one), which then decides alone.
Result<std::optional<rpc::SimulationInfo>> simulate(Session& s, const Transaction& tx) {
  rapidjson::Document params(rapidjson::kObjectType);
  params.AddMember("tx", rpc::to_json(tx, params.GetAllocator()), params.GetAllocator());
  auto r = s.call("simulate", params);
  if (!r) {
    if (r.error().reason == "method-not-found") return std::optional<rpc::SimulationInfo>();
    return r.error();
  }
  auto sim = rpc::record_from_json<rpc::SimulationInfo>(*r, "simulate");
  if (!sim) return sim.error();
  return std::optional<rpc::SimulationInfo>(std::move(*sim));
}

// --dry-run: what the simulation says, and nothing sent.
Status print_simulation(Session& s, const Transaction& tx, const std::optional<rpc::SimulationInfo>& sim,
                        const std::string& summary) {
  if (!sim) return make_error("method-not-found", "the node at --rpc cannot simulate transactions (no simulate "
                                                  "method): --dry-run needs a node of this version");
  auto& o = s.io().out;
  if (s.json()) {
    rapidjson::Document d(rapidjson::kObjectType);
    auto& a = d.GetAllocator();
    d.AddMember("hash", rpc::to_json(tx.id(), a), a);
    d.AddMember("tx", rpc::to_json(tx, a), a);
    d.AddMember("simulation", rpc::record_to_json(*sim, a), a);
    print_json(o, d);
  } else {
    o << summary << "\n"
      << "simulated on height " << sim->height << ": "
      << (sim->ok ? "ok" : "would FAIL: " + sim->reason + (sim->detail.empty() ? "" : " (" + sim->detail + ")"))
      << ", fee " << (sim->pays_fee ? sim->fee_paid.to_string() : "none (refused before the fee)")
      << ", the chain's min_fee " << sim->fee_required.to_string() << "\n";
    print_events(o, sim->events);
    o << "nothing was sent (--dry-run)\n";
  }
  if (!sim->ok) return make_error(sim->reason.empty() ? "tx-would-fail" : sim->reason, "the simulation says it would fail");
  return {};
}

}  // namespace

Status send_transaction(Session& s, const TxCommon& c, Payload payload, const std::string& summary,
                        std::optional<ReceiptInfo>* receipt_out) {
  auto key = s.signer(c.from);
  if (!key) return key.error();
  auto chain = s.chain_id();
  if (!chain) return chain.error();
  auto node = s.node();
  if (!node) return node.error();
  auto account = node->account(key->public_key());
  if (!account) return account.error();

  Transaction tx;
  tx.chain_id = *chain;
  tx.nonce = account->next_nonce;
  std::string fee_note;
  if (c.fee) {
    tx.fee = *c.fee;
  } else {
    auto fee = min_fee(s);
    if (!fee) return fee.error();
    tx.fee = *fee;
    fee_note = " (the chain's min_fee)";
  }
  tx.payload = std::move(payload);
  tx.sign(*key);
  const std::string hash = tx.id().hex();
  const std::string what = payload_name(tx.payload);
  auto& o = s.io().out;

  auto simulated = simulate(s, tx);
  if (!simulated) return simulated.error();
  if (c.dry_run) return print_simulation(s, tx, *simulated, summary + ", nonce " + std::to_string(tx.nonce) +
                                                                  ", fee " + tx.fee.to_string() + fee_note);
  if (*simulated && !(*simulated)->ok && !c.force) {
    const rpc::SimulationInfo& sim = **simulated;
    const std::string h = hint_for(make_error(sim.reason), c.from, "");
    return make_error(sim.reason.empty() ? "tx-would-fail" : sim.reason,
                      "nothing was sent: the node's simulation says this " + what + " would fail with " + sim.reason +
                          (sim.detail.empty() ? std::string() : " (" + sim.detail + ")") + "; " +
                          (h.empty() ? std::string() : h + "; ") +
                          (sim.pays_fee ? "--force sends it anyway, and it would pay its fee of " + tx.fee.to_string()
                                        : "--force sends it anyway (the node would refuse it)"));
  }
  if (!s.json()) o << summary << ", nonce " << tx.nonce << ", fee " << tx.fee.to_string() << fee_note << "\n";

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
  const char* method = c.wait ? "send_tx_commit" : "send_tx";
  auto sent = rpc::member_from_json<Hash256>(*r, "hash", method);
  if (!sent) return sent.error();
  if (*sent != tx.id())
    return make_error("rpc-bad-response", std::string("the node's ") + method + " answer names tx " + sent->hex() +
                                              ", not the one sent (" + hash + ")");
  auto receipt = rpc::member_from_json<std::optional<ReceiptInfo>>(*r, "receipt", method);
  if (!receipt) return receipt.error();
  if (s.json()) {
    print_json(o, *r);
  } else {
    o << "tx " << hash << ": ";
    if (*receipt)
      print_receipt(o, **receipt);
    else
      o << "in the mempool; follow it with 'verity tx " << hash << "' (or pass --wait)\n";
  }
  if (receipt_out) *receipt_out = *receipt;
  if (*receipt && !(*receipt)->ok) {
    const std::string& reason = (*receipt)->reason;
    std::string h = hint_for(make_error(reason), c.from, hash);
    return make_error(reason.empty() ? "tx-failed" : reason,
                      "tx " + hash + " was committed at height " + std::to_string((*receipt)->height) +
                          " but failed: " + reason + " (it paid its fee and used its nonce; nothing else changed)" +
                          (h.empty() ? std::string() : "; " + h));
  }
  return {};
}

}  // namespace verity::client
