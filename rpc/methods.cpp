#include "rpc/methods.h"

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include <sstream>

#include "core/hex.h"
#include "core/version.h"
#include "rpc/commit_waiters.h"
#include "rpc/genesis_json.h"
#include "rpc/json_codec.h"
#include "rpc/record_schema.h"

namespace verity::rpc {

namespace {

using rapidjson::Value;

Value hex(ByteView b, JsonAlloc& a) { return to_json(to_hex(b), a); }
template <class T>
Value hex_of(const T& v, JsonAlloc& a) {
  return hex(encode(v), a);
}

const Value* param(const Value& params, const char* name) {
  auto it = params.FindMember(name);
  return it == params.MemberEnd() ? nullptr : &it->value;
}

Result<PublicKey> key_param(const Value& params, const char* name) {
  return fixed_from_json<32, PublicKeyTag>(*param(params, name), name);
}

Result<Hash256> hash_param(const Value& params, const char* name) {
  return fixed_from_json<32, HashTag>(*param(params, name), name);
}

Result<bool> bool_param(const Value& params, const char* name, bool absent) {
  const Value* v = param(params, name);
  if (!v) return absent;
  if (!v->IsBool()) return make_error("invalid-params", std::string(name) + ": expected true or false");
  return v->GetBool();
}

Error not_found(const std::string& what) { return make_error("not-found", what); }

// --- JSON forms ----------------------------------------------------------------

Value header_json(const BlockHeader& h, JsonAlloc& a) { return fields_json(h, a); }

// The certificate's fields, and the hex of its encoding.
Value certificate_json(const CommitCertificate& c, JsonAlloc& a) {
  Value o = fields_json(c, a);
  o.AddMember("hex", hex_of(c, a), a);
  return o;
}

Value tx_with_hash(const Transaction& tx, JsonAlloc& a) {
  Value o(rapidjson::kObjectType);
  o.AddMember("hash", to_json(tx.id(), a), a);
  Value body = to_json(tx, a);
  for (auto it = body.MemberBegin(); it != body.MemberEnd(); ++it) o.AddMember(it->name, it->value, a);
  return o;
}

// Builds a result document with `build(object, allocator)`.
template <class F>
rapidjson::Document object_result(F build) {
  rapidjson::Document d(rapidjson::kObjectType);
  build(static_cast<Value&>(d), d.GetAllocator());
  return d;
}

// A record of rpc/records.h as the whole result.
template <class T>
rapidjson::Document record_result(const T& record) {
  rapidjson::Document d;
  static_cast<Value&>(d) = record_to_json(record, d.GetAllocator());
  return d;
}

// A transaction given as a JSON object or as the hex of its canonical encoding.
// Hex that is not a transaction's encoding gets the reason the mempool gives
// such bytes (tx-too-large, malformed-tx; -32002), so a client matches one
// reason however it sent them.
Result<Transaction> tx_param(const Value& params) {
  const Value& v = *param(params, "tx");
  if (v.IsString()) {
    auto raw = from_hex(std::string_view(v.GetString(), v.GetStringLength()));
    if (!raw) return make_error("invalid-params", "tx: expected a transaction object or the hex of its encoding");
    auto tx = decode_transaction(*raw);
    if (!tx) {
      const std::string reason = tx.error().reason == "tx-too-large" ? "tx-too-large" : "malformed-tx";
      return make_error(reason, "tx: the hex is not a transaction's encoding: " + tx.error().to_string());
    }
    return tx;
  }
  auto tx = transaction_from_json(v);
  if (!tx) return make_error("invalid-params", "tx." + tx.error().detail);
  return tx;
}

// --- handlers --------------------------------------------------------------------

JsonResult m_status(const Value&, CallContext& ctx) {
  NodeStatus s = ctx.node.status();
  s.version = kVersion;
  return record_result(s);
}

JsonResult m_genesis(const Value&, CallContext& ctx) {
  rapidjson::Document d;
  const std::string text = genesis_to_json(ctx.node.genesis());
  d.Parse(text.data(), text.size());
  if (d.HasParseError()) return local_error("internal", "genesis JSON does not parse");
  return d;
}

JsonResult m_block(const Value& params, CallContext& ctx) {
  const Value* h = param(params, "height");
  const Value* hash = param(params, "hash");
  if (h && hash) return make_error("invalid-params", "give height or hash, not both");
  std::uint64_t height = ctx.node.status().height;
  if (h) {
    auto v = u64_from_json(*h, "height");
    if (!v) return v.error();
    height = *v;
  } else if (hash) {
    auto bh = hash_param(params, "hash");
    if (!bh) return bh.error();
    auto found = ctx.node.height_of(*bh);
    if (!found) return found.error();
    if (!*found) return not_found("no committed block has hash " + bh->hex());
    height = **found;
  }
  if (height == 0) return not_found("height 0 is the genesis; blocks start at 1 (the genesis method returns it)");
  auto block = ctx.node.block_at(height);
  if (!block) return block.error();
  if (!*block) return not_found("no block at height " + std::to_string(height) + " yet (the chain is at " +
                                std::to_string(ctx.node.status().height) + ")");
  auto cert = ctx.node.certificate_at(height);
  if (!cert) return cert.error();
  auto events = ctx.node.block_events(height);
  if (!events) return events.error();
  const Block& b = **block;
  return object_result([&](Value& o, JsonAlloc& a) {
    o.AddMember("height", b.header.height, a);
    o.AddMember("hash", to_json(b.hash(), a), a);
    o.AddMember("header", header_json(b.header, a), a);
    Value txs(rapidjson::kArrayType);
    for (const auto& tx : b.transactions) txs.PushBack(tx_with_hash(tx, a), a);
    o.AddMember("txs", txs, a);
    o.AddMember("last_commit", certificate_json(b.last_commit, a), a);
    Value evidence(rapidjson::kArrayType);
    for (const auto& e : b.evidence) {
      Value x(rapidjson::kObjectType);
      x.AddMember("validator", to_json(e.validator(), a), a);
      x.AddMember("height", e.height(), a);
      x.AddMember("view", e.first.view, a);
      x.AddMember("phase", to_json(std::string(vote_phase_name(e.first.phase)), a), a);
      x.AddMember("offence_id", to_json(e.offence_id(), a), a);
      x.AddMember("hex", hex_of(e, a), a);
      evidence.PushBack(x, a);
    }
    o.AddMember("evidence", evidence, a);
    o.AddMember("events", record_to_json(*events, a), a);
    o.AddMember("certificate", *cert ? certificate_json(**cert, a) : Value(), a);
    o.AddMember("header_hex", hex_of(b.header, a), a);
  });
}

JsonResult m_tx(const Value& params, CallContext& ctx) {
  auto id = hash_param(params, "hash");
  if (!id) return id.error();
  auto found = ctx.node.transaction(*id);
  if (!found) return found.error();
  if (!*found) return not_found("no committed or pending transaction has hash " + id->hex());
  const TxLookup& t = **found;
  return object_result([&](Value& o, JsonAlloc& a) {
    o.AddMember("hash", to_json(*id, a), a);
    o.AddMember("status", rapidjson::StringRef(t.receipt ? "committed" : "pending"), a);
    o.AddMember("tx", to_json(t.tx, a), a);
    if (t.receipt) o.AddMember("receipt", receipt_json(*t.receipt, a), a);
  });
}

JsonResult m_account(const Value& params, CallContext& ctx) {
  auto address = key_param(params, "address");
  if (!address) return address.error();
  auto prove = bool_param(params, "prove", false);
  if (!prove) return prove.error();
  auto info = ctx.node.account(*address);
  if (!info) return info.error();
  std::optional<AccountProof> proof;
  if (*prove) {
    auto p = ctx.node.prove_account(*address);
    if (!p) return p.error();
    proof = std::move(*p);
  }
  return object_result([&](Value& o, JsonAlloc& a) {
    o.AddMember("address", to_json(*address, a), a);
    AccountInfo::fields(*info, [&](const char* name, const auto& field) {
      o.AddMember(rapidjson::StringRef(name), record_to_json(field, a), a);
    });
    if (proof) {
      Value p(rapidjson::kObjectType);
      p.AddMember("height", proof->height, a);
      p.AddMember("key", hex(proof->key, a), a);
      p.AddMember("value", proof->value ? hex(*proof->value, a) : Value(), a);
      p.AddMember("root", to_json(proof->root, a), a);
      p.AddMember("proof", hex_of(proof->proof, a), a);
      p.AddMember("header", hex_of(proof->header, a), a);
      p.AddMember("certificate", hex_of(proof->certificate, a), a);
      p.AddMember("validators", hex_of(proof->validators, a), a);
      o.AddMember("proof", p, a);
    }
  });
}

JsonResult m_validator_handoffs(const Value& params, CallContext& ctx) {
  std::uint64_t from = 1, limit = 100;
  if (const Value* f = param(params, "from_height")) {
    auto v = u64_from_json(*f, "from_height");
    if (!v) return v.error();
    from = *v;
  }
  if (const Value* l = param(params, "limit")) {
    auto v = u64_from_json(*l, "limit");
    if (!v) return v.error();
    if (*v < 1 || *v > 100) return make_error("invalid-params", "limit: from 1 to 100");
    limit = *v;
  }
  auto list = ctx.node.handoffs(from, limit);
  if (!list) return list.error();
  return object_result([&](Value& o, JsonAlloc& a) {
    o.AddMember("epoch_blocks", ctx.node.genesis().params.epoch_blocks, a);
    o.AddMember("height", ctx.node.status().height, a);
    Value items(rapidjson::kArrayType);
    for (const auto& h : *list) {
      Value x(rapidjson::kObjectType);
      x.AddMember("height", h.header.height, a);
      x.AddMember("block_hash", to_json(h.certificate.block_hash, a), a);
      x.AddMember("validators_hash", to_json(h.next.hash(), a), a);
      x.AddMember("handoff", hex_of(h, a), a);
      items.PushBack(x, a);
    }
    o.AddMember("handoffs", items, a);
  });
}

JsonResult m_validators(const Value&, CallContext& ctx) {
  auto all = ctx.node.validators();
  if (!all) return all.error();
  return object_result([&](Value& o, JsonAlloc& a) {
    o.AddMember("height", ctx.node.status().height, a);
    Value list(rapidjson::kArrayType);
    for (const auto& v : *all) list.PushBack(record_to_json(v, a), a);
    o.AddMember("validators", list, a);
  });
}

JsonResult m_validator(const Value& params, CallContext& ctx) {
  auto address = key_param(params, "address");
  if (!address) return address.error();
  auto v = ctx.node.validator(*address);
  if (!v) return v.error();
  if (!*v) return not_found("no validator has operator " + address->hex() + " (validators lists them)");
  rapidjson::Document d;
  static_cast<Value&>(d) = record_to_json(**v, d.GetAllocator());
  return d;
}

// A method answering with the record the node keeps for `address`
// (delegations, rewards).
template <auto Get>
JsonResult m_record_of_address(const Value& params, CallContext& ctx) {
  auto address = key_param(params, "address");
  if (!address) return address.error();
  auto r = (ctx.node.*Get)(*address);
  if (!r) return r.error();
  return record_result(*r);
}

JsonResult m_reputation(const Value& params, CallContext& ctx) {
  auto address = key_param(params, "address");
  if (!address) return address.error();
  auto r = ctx.node.reputation(*address);
  if (!r) return r.error();
  return object_result([&](Value& o, JsonAlloc& a) {
    o.AddMember("address", to_json(*address, a), a);
    o.AddMember("reputation", *r, a);
  });
}

JsonResult m_task(const Value& params, CallContext& ctx) {
  auto id = u64_from_json(*param(params, "id"), "id");
  if (!id) return id.error();
  auto t = ctx.node.task(*id);
  if (!t) return t.error();
  if (!*t) return not_found("no task " + std::to_string(*id) + " (tasks lists them)");
  return record_result(**t);
}

// The `before` and `limit` of a method that pages (limit 1 to 100: the
// dispatcher checks the schema's bounds).
struct Page {
  std::uint64_t before = 0;
  std::uint64_t limit = 20;
};
Result<Page> page_params(const Value& params) {
  Page p;
  if (const Value* b = param(params, "before")) {
    auto v = u64_from_json(*b, "before");
    if (!v) return v.error();
    p.before = *v;
  }
  if (const Value* l = param(params, "limit")) {
    auto v = u64_from_json(*l, "limit");
    if (!v) return v.error();
    p.limit = *v;
  }
  return p;
}

JsonResult m_tasks(const Value& params, CallContext& ctx) {
  auto page = page_params(params);
  if (!page) return page.error();
  auto in_progress = bool_param(params, "in_progress", false);
  if (!in_progress) return in_progress.error();
  auto list = ctx.node.tasks(page->before, page->limit, *in_progress);
  if (!list) return list.error();
  return object_result([&](Value& o, JsonAlloc& a) { o.AddMember("tasks", record_to_json(*list, a), a); });
}

JsonResult m_worker(const Value& params, CallContext& ctx) {
  auto key = key_param(params, "address");
  if (!key) return key.error();
  auto w = ctx.node.worker(*key);
  if (!w) return w.error();
  if (!*w) return not_found("no worker has key " + key->hex() + " (register with verity register-worker)");
  return record_result(**w);
}

JsonResult m_workers(const Value&, CallContext& ctx) {
  auto list = ctx.node.workers();
  if (!list) return list.error();
  return object_result([&](Value& o, JsonAlloc& a) { o.AddMember("workers", record_to_json(*list, a), a); });
}

JsonResult m_history(const Value& params, CallContext& ctx) {
  const Value* address = param(params, "address");
  const Value* task = param(params, "task");
  if (!address == !task) return make_error("invalid-params", "give address or task, one of them");
  auto page = page_params(params);
  if (!page) return page.error();
  std::string cursor;
  if (const Value* c = param(params, "cursor")) {
    if (!c->IsString()) return make_error("invalid-params", "cursor: expected a page's next_cursor (a string)");
    cursor.assign(c->GetString(), c->GetStringLength());
  }
  Result<HistoryInfo> h = HistoryInfo{};
  if (address) {
    auto key = key_param(params, "address");
    if (!key) return key.error();
    h = ctx.node.account_history(*key, page->before, page->limit, cursor);
  } else {
    auto id = u64_from_json(*task, "task");
    if (!id) return id.error();
    h = ctx.node.task_history(*id, page->before, page->limit, cursor);
  }
  if (!h) return h.error();
  return record_result(*h);
}

JsonResult m_worker_history(const Value& params, CallContext& ctx) {
  auto key = key_param(params, "address");
  if (!key) return key.error();
  auto page = page_params(params);
  if (!page) return page.error();
  auto points = ctx.node.worker_history(*key, page->before, page->limit);
  if (!points) return points.error();
  return object_result([&](Value& o, JsonAlloc& a) {
    o.AddMember("address", to_json(*key, a), a);
    o.AddMember("points", record_to_json(*points, a), a);
  });
}

JsonResult m_blocks(const Value& params, CallContext& ctx) {
  auto page = page_params(params);
  if (!page) return page.error();
  auto list = ctx.node.blocks(page->before, page->limit);
  if (!list) return list.error();
  return object_result([&](Value& o, JsonAlloc& a) { o.AddMember("blocks", record_to_json(*list, a), a); });
}

JsonResult m_simulate(const Value& params, CallContext& ctx) {
  auto tx = tx_param(params);
  if (!tx) return tx.error();
  auto unsigned_tx = bool_param(params, "unsigned", false);
  if (!unsigned_tx) return unsigned_tx.error();
  auto sim = ctx.node.simulate(*tx, !*unsigned_tx);
  if (!sim) return sim.error();
  return record_result(*sim);
}

JsonResult m_module(const Value& params, CallContext& ctx) {
  auto h = hash_param(params, "hash");
  if (!h) return h.error();
  auto metered = bool_param(params, "metered", false);
  if (!metered) return metered.error();
  auto m = *metered ? ctx.node.metered_module(*h) : ctx.node.module(*h);
  if (!m) return m.error();
  if (!*m) return not_found("no stored module has hash " + h->hex());
  return object_result([&](Value& o, JsonAlloc& a) {
    o.AddMember("hash", to_json(*h, a), a);
    o.AddMember("size", static_cast<std::uint64_t>((*m)->size()), a);
    o.AddMember("wasm", hex(**m, a), a);
    if (*metered) o.AddMember("metered_hash", to_json(sha256(**m), a), a);
  });
}

void m_send_tx(const Value& params, CallContext& ctx, Reply reply) {
  auto tx = tx_param(params);
  if (!tx) return reply(tx.error());
  ctx.node.submit_async(*tx, ctx.client, [reply](Result<Hash256> id) {
    if (!id) return reply(id.error());
    reply(object_result([&](Value& o, JsonAlloc& a) { o.AddMember("hash", to_json(*id, a), a); }));
  });
}

JsonResult commit_result(const Hash256& id, const Receipt& r) {
  return object_result([&](Value& o, JsonAlloc& a) {
    o.AddMember("hash", to_json(id, a), a);
    o.AddMember("height", r.height, a);
    o.AddMember("receipt", receipt_json(r, a), a);
  });
}

void m_send_tx_commit(const Value& params, CallContext& ctx, Reply reply) {
  auto tx = tx_param(params);
  if (!tx) return reply(tx.error());
  std::uint64_t timeout_ms = kDefaultCommitTimeoutMs;
  if (const Value* t = param(params, "timeout_ms")) {
    auto v = u64_from_json(*t, "timeout_ms");
    if (!v) return reply(v.error());
    if (*v == 0 || *v > kMaxCommitTimeoutMs)
      return reply(make_error("invalid-params", "timeout_ms: must be from 1 to " + std::to_string(kMaxCommitTimeoutMs)));
    timeout_ms = *v;
  }
  if (!ctx.waiters) return reply(make_error("shutting-down", "no commit notifications on this server"));
  // Refuse before submitting: a caller told to retry must not find its
  // transaction already taken.
  if (ctx.waiters->full())
    return reply(make_error("too-many-waiters", "too many calls are waiting for commits; retry later, or use "
                                                "send_tx and poll the tx method"));
  // The waiter first: the transaction may commit before submit_async
  // answers (its answer and the commit come from different threads).
  // Refused, the waiter is cancelled.
  const Hash256 id = tx->id();
  auto waiter = ctx.waiters->wait(id, std::chrono::milliseconds(timeout_ms), [reply, id](Result<Receipt> r) {
    if (!r) return reply(r.error());
    reply(commit_result(id, *r));
  });
  if (!waiter) return;  // refused: wait() answered
  CommitWaiters* waiters = ctx.waiters;
  NodeApi* node = &ctx.node;
  ctx.node.submit_async(*tx, ctx.client, [waiters, node, id, w = *waiter](Result<Hash256> admitted) {
    if (admitted) return;
    // Sent before (by send_tx, or a retry after a timeout): wait for it or
    // answer with its receipt.
    if (admitted.error().reason == "tx-known") {
      auto found = node->transaction(id);
      if (!found) return waiters->cancel(w, found.error());
      if (*found && (*found)->receipt) return waiters->cancel(w, *(*found)->receipt);
      if (*found) return;  // pending: the waiter stays
    }
    waiters->cancel(w, admitted.error());
  });
}

void m_discover(const Value&, CallContext&, Reply reply) {
  rapidjson::Document d;
  const std::string& doc = openrpc_document();
  d.Parse(doc.data(), doc.size());
  reply(std::move(d));
}

JsonResult m_subscribe(const Value& params, CallContext& ctx) {
  auto topic = string_from_json(*param(params, "topic"), "topic");
  if (!topic) return topic.error();
  std::optional<PublicKey> account;
  if (param(params, "account")) {
    auto k = key_param(params, "account");
    if (!k) return k.error();
    if (*topic != "txs") return make_error("invalid-params", "account: only the txs topic filters by account");
    account = *k;
  }
  auto id = ctx.subscriber->subscribe(*topic, account);
  if (!id) return id.error();
  rapidjson::Document d;
  d.SetString(id->c_str(), static_cast<rapidjson::SizeType>(id->size()), d.GetAllocator());
  return d;
}

JsonResult m_unsubscribe(const Value& params, CallContext& ctx) {
  auto id = string_from_json(*param(params, "subscription"), "subscription");
  if (!id) return id.error();
  if (!ctx.subscriber->unsubscribe(*id)) return not_found("no subscription " + *id + " on this connection");
  rapidjson::Document d;
  d.SetBool(true);
  return d;
}

// --- the table ------------------------------------------------------------------------

namespace js = schema;
using js::ref;

const char* kAddressHelp = "an account's public key (64 hex)";

}  // namespace

rapidjson::Value receipt_json(const Receipt& r, JsonAlloc& a) { return record_to_json(receipt_info(r), a); }

namespace {

template <class T>
struct is_limited_bytes : std::false_type {};
template <std::size_t Max>
struct is_limited_bytes<LimitedBytes<Max>> : std::true_type {};

// Calls f(P*) for each payload kind, in Payload's order.
template <class F, class... P>
void for_each_payload(F&& f, std::variant<P...>*) {
  (f(static_cast<P*>(nullptr)), ...);
}

// The payload types, from core/transaction.h's Payload, as an enumeration.
std::string payload_types() {
  std::vector<std::string> names;
  for_each_payload([&]<class P>(P*) { names.emplace_back(P::kName); }, static_cast<Payload*>(nullptr));
  return schema::enumeration(names);
}

// "transfer{to, amount}; ...; request_audit{task}": each payload and its
// fields, from their fields lists (bytes travel as hex).
std::string payload_summary() {
  std::string out;
  for_each_payload(
      [&]<class P>(P*) {
        if (!out.empty()) out += "; ";
        out += std::string(P::kName) + "{";
        bool first = true;
        P sample{};
        P::fields(sample, [&](const char* name, auto& field, auto&&...) {
          using F = std::remove_cvref_t<decltype(field)>;
          out += (first ? "" : ", ") + std::string(name);
          if constexpr (is_limited_bytes<F>::value) out += ": hex";
          if constexpr (std::is_same_v<F, DoubleSignEvidence>) out += ": hex of the encoded evidence";
          first = false;
        });
        out += "}";
      },
      static_cast<Payload*>(nullptr));
  return out + ". docs/contracts.md has the rules.";
}

}  // namespace

const std::vector<std::pair<std::string, std::string>>& schema_components() {
  static const std::vector<std::pair<std::string, std::string>> c = {
      {"Amount", js::described(js::pattern("^[0-9]{1,20}$"),
                               "base units as a decimal string; JSON numbers lose precision above 2^53")},
      {"Hash", js::described(js::pattern("^[0-9a-fA-F]{64}$"), "SHA-256, hex: lower-case in answers, read in either case")},
      {"Key", js::described(js::pattern("^[0-9a-fA-F]{64}$"),
                            "BIP-340 public key, hex: lower-case in answers, read in either case")},
      {"Hex", js::described(js::pattern("^([0-9a-fA-F]{2})*$"),
                            "bytes of a canonical encoding, hex: lower-case in answers, read in either case")},
      {"Height", js::integer(0)},
      {"Transaction",
       js::object({{"chain_id", js::string()},
                   {"sender", ref("Key")},
                   {"nonce", js::integer(0)},
                   {"fee", ref("Amount")},
                   {"payload", js::described(js::object({{"type", payload_types()}}, {"type"}), payload_summary())},
                   {"signature", js::described(js::pattern("^[0-9a-fA-F]{128}$"), "BIP-340 signature of the signing hash")}},
                  {"chain_id", "sender", "nonce", "fee", "payload", "signature"}, /*closed=*/true)},
      {"Event", record_schema<Event>({})},
      {"Receipt", record_schema<ReceiptInfo>({{"height", ref("Height")},
                                              {"reason", js::described(js::string(), "stable kebab-case reason when ok is false")}})},
      {"Certificate", js::object({{"height", ref("Height")},
                                  {"view", js::integer()},
                                  {"block_hash", ref("Hash")},
                                  {"signatures", js::array(js::object({{"validator", ref("Key")}, {"signature", js::string()}}))},
                                  {"hex", ref("Hex")}})},
      {"Task", record_schema<TaskInfo>({
                   {"submitted_height", ref("Height")},
                   {"metering_version", js::described(js::integer(), "params.metering_version when submitted: the fuel "
                                                                     "rules the task runs under")},
                   {"metered_hash", js::described(ref("Hash"), "SHA-256 of the instrumented module the workers run; "
                                                               "docs/sandbox.md, Versions")},
                   {"status", js::enumeration({"open", "settled", "failed"})},
                   {"failure", js::described(js::string(), "when failed: no-workers, no-commitments or no-majority")},
                   {"retry_reason", js::described(js::string(), "why the first round was retried: no-commitments or "
                                                                "no-majority; empty if it was not")},
                   {"round.kind", js::enumeration({"first", "retry", "audit"})},
               })},
      {"Worker", record_schema<WorkerInfo>({{"reputation", js::described(js::integer(), "ppm, 0 to 1000000")}})},
      {"Validator",
       record_schema<ValidatorInfo>({
           {"jailed_until", ref("Height")},
           {"in_set", js::described(js::boolean(), "in the set that certifies the next block")},
           {"power", js::described(js::integer(), "its power in that set; 0 outside")},
           {"status",
            js::described(js::enumeration({"active", "waiting", "not-selected", "jailed", "banned", "below-min-stake"}),
                          "why it has that power, the first that applies: banned (double signing, for good), jailed "
                          "(downtime; unjail from jailed_until), below-min-stake (tokens under "
                          "params.min_validator_stake: missing_stake more is needed), then for a validator that "
                          "qualifies: active (in the set), waiting (joins the set at next_epoch_boundary), "
                          "not-selected (outside the top params.max_validators by tokens). A validator in the set "
                          "keeps its power until the boundary whatever its status")},
           {"detail", js::described(js::string(), "the status in one sentence with its figures (heights, amounts, "
                                                  "rank); for people, not for matching")},
           {"missing_stake", js::described(ref("Amount"), "what its tokens lack of the minimum stake "
                                                          "(params.min_validator_stake, at least 1); 0 when they suffice")},
           {"next_epoch_boundary", js::described(ref("Height"), "the height at whose end the next set is chosen; "
                                                                "in_set shows that set from then on")},
           {"unjail_refusal",
            js::described(js::enumeration({"", "validator-banned", "not-jailed", "still-jailed", "below-min-stake"}),
                          "the reason the operator's unjail would fail with in the next block (the contract's own "
                          "check); empty when it would succeed")},
           {"missed_in_window", js::described(js::integer(), "commits it did not sign among the last window_commits "
                                                             "(docs/contracts.md, Slashing: downtime)")},
           {"window_commits", js::described(js::integer(), "commits counted, at most params.downtime_window; the "
                                                           "count restarts when it is jailed")},
           {"missed_allowed", js::described(js::integer(), "more misses than this in a full window jail it")},
       })},
  };
  return c;
}

const std::vector<Method>& node_methods() {
  static const std::vector<Method> table = [] {
    const std::string address = ref("Key");
    std::vector<Method> m;
    m.push_back({"status", "The node's view of the chain.",
                 "`validator` is this node's consensus key when it is in the validator set, else null. `signing` is "
                 "`signing`, `not-validator`, or `double-sign-check` while the node holds every signature because its "
                 "signed-votes record was missing or older than the chain (`double_sign_check` then counts the heights "
                 "watched; docs/operators.md, Restoring a validator). `another_instance` turns true when a vote or "
                 "evidence under this node's validator key that it did not sign was seen. `best_known_height` is the "
                 "highest height it knows of (its own, or one a connected peer told it); `catching_up` is true while "
                 "this node is more than one block behind it (it syncs blocks, and its answers lag behind the "
                 "chain).",
                 {},
                 record_schema<NodeStatus>({{"height", ref("Height")},
                                            {"signing", js::enumeration({"signing", "not-validator", "double-sign-check"})}}),
                 false, sync_handler(m_status)});
    m.push_back({"genesis", "The genesis of this chain, in the genesis file's JSON form.", "See genesis/README.md.", {},
                 js::any_object(), false, sync_handler(m_genesis)});
    m.push_back({"block", "A committed block, by height or hash (neither: the latest).",
                 "`certificate` is the commit certificate of this block (null only while the next block is not "
                 "committed yet on a node that synced it); `last_commit` is the previous block's, carried in this "
                 "block. `evidence` lists the double signing this block punished (docs/consensus.md, Evidence). "
                 "`events` are the events of the block's own hooks (task assignment and settlement, downtime jailing, "
                 "evidence), which no transaction's receipt holds; from this node's history index (empty for a block "
                 "it did not commit itself, docs/node.md, History). Not found: -32001.",
                 {{"height", ref("Height"), false, "a committed height (from 1)"},
                  {"hash", ref("Hash"), false, "a block hash"}},
                 js::object({{"height", ref("Height")},
                             {"hash", ref("Hash")},
                             {"header", record_schema<BlockHeader>(
                                            {{"height", ref("Height")},
                                             {"timestamp_ms", js::described(js::integer(), "informational: the "
                                                                                           "proposer's clock")}})},
                             {"txs", js::array(ref("Transaction"))},
                             {"last_commit", ref("Certificate")},
                             {"evidence", js::array(js::object({{"validator", ref("Key")},
                                                                {"height", ref("Height")},
                                                                {"view", js::integer()},
                                                                {"phase", js::enumeration({"propose", "prepare", "commit"})},
                                                                {"offence_id", ref("Hash")},
                                                                {"hex", ref("Hex")}}))},
                             {"events", js::array(ref("Event"))},
                             {"certificate", js::one_of({ref("Certificate"), js::null()})},
                             {"header_hex", ref("Hex")}}),
                 false, sync_handler(m_block)});
    m.push_back({"tx", "A transaction by hash: committed (with its receipt) or pending in this node's mempool.",
                 "A failed transaction is committed too: its receipt has ok=false and a reason; it paid its fee. "
                 "Not found: -32001.",
                 {{"hash", ref("Hash"), true, "the transaction id"}},
                 js::object({{"hash", ref("Hash")},
                             {"status", js::enumeration({"committed", "pending"})},
                             {"tx", ref("Transaction")},
                             {"receipt", ref("Receipt")}}),
                 false, sync_handler(m_tx)});
    m.push_back({"account", "Balance and nonce of an account; with prove=true, a proof a client can check.",
                 "`next_nonce` counts the sender's transactions pending in this node's mempool: sign the next one "
                 "with it. The proof is against the state root in the header of `proof.height`, and the commit "
                 "certificate of that height, with the validator set that signed it, vouches for the header. To "
                 "check: decode header, certificate and validators (canonical encodings), header.hash() == "
                 "certificate.block_hash, certificate.verify(chain_id, validators), header.state_root == root, "
                 "verify_state_proof(root, key, value, proof); `value` (null: no such account) is the canonical "
                 "Account {balance, nonce}. `verity account NAME --prove` does all this.",
                 {{"address", address, true, kAddressHelp}, {"prove", js::boolean(), false, "include a proof"}},
                 js::object({{"address", ref("Key")},
                             {"balance", ref("Amount")},
                             {"nonce", js::integer()},
                             {"next_nonce", js::integer()},
                             {"height", ref("Height")},
                             {"proof", js::object({{"height", ref("Height")},
                                                   {"key", ref("Hex")},
                                                   {"value", js::one_of({ref("Hex"), js::null()})},
                                                   {"root", ref("Hash")},
                                                   {"proof", ref("Hex")},
                                                   {"header", ref("Hex")},
                                                   {"certificate", ref("Hex")},
                                                   {"validators", ref("Hex")}})}}),
                 false, sync_handler(m_account)});
    m.push_back({"validator_handoffs", "The validator-set history: each epoch block's hand-off to the next set.",
                 "The set changes only at the end of an epoch block E (a multiple of `epoch_blocks`); it certifies "
                 "blocks E+1 to E+epoch_blocks. `handoff` is the canonical encoding of ValidatorHandoff "
                 "(core/light_client.h): E's header, E's commit certificate (signed by the previous set), the next "
                 "set, and a state proof that the state after E holds that set under `sys/validators`. A light "
                 "client holding the genesis set checks each hand-off in turn with the set it holds and trusts no "
                 "node (`verity account --prove`, `verity verify-header`; docs/client.md). Ascending from "
                 "`from_height`; a node keeps every hand-off, pruned or not.",
                 {{"from_height", ref("Height"), false, "the first epoch block wanted (default 1)"},
                  {"limit", js::integer(1, 100), false, "at most this many (default 100)"}},
                 js::object({{"epoch_blocks", js::integer(1)},
                             {"height", ref("Height")},
                             {"handoffs", js::array(js::object({{"height", ref("Height")},
                                                                {"block_hash", ref("Hash")},
                                                                {"validators_hash", ref("Hash")},
                                                                {"handoff", ref("Hex")}}))}}),
                 false, sync_handler(m_validator_handoffs)});
    m.push_back({"validators", "Every registered validator: the set that certifies the next block first.",
                 "Each says why it has its power in `status` (a stable value; `detail` is the same for people): "
                 "`active`, `waiting` (it qualifies and joins the set at `next_epoch_boundary`), `not-selected` (it "
                 "qualifies but is outside the top `max_validators` by tokens), `jailed` (for downtime: its operator "
                 "may send `unjail` from block `jailed_until` on, once its tokens reach the minimum), `banned` (double "
                 "signing: never again), `below-min-stake` (`missing_stake` more must be delegated to it). The first "
                 "that applies wins, in the order banned, jailed, below-min-stake; the epoch-end selection uses the "
                 "same rule (docs/contracts.md). A jailed, banned or outranked validator in the set keeps its `power` "
                 "until the boundary. `unjail_refusal` is the reason an `unjail` in the next block would fail with "
                 "(empty: it would succeed); `verity unjail` reads it and does not send one the chain would refuse.",
                 {},
                 js::object({{"height", ref("Height")}, {"validators", js::array(ref("Validator"))}}),
                 false, sync_handler(m_validators)});
    m.push_back({"validator", "One validator by its operator address.",
                 "The same object as in `validators`, `status` included. Not found: -32001.",
                 {{"address", address, true, "the validator's operator account"}}, ref("Validator"), false,
                 sync_handler(m_validator)});
    m.push_back({"delegations", "An account's delegations and its unbonding entries.", "",
                 {{"address", address, true, "the delegator"}},
                 record_schema<DelegationsInfo>({{"unbonding.creation_height", ref("Height")},
                                                 {"unbonding.completion_height", ref("Height")}}),
                 false, sync_handler(m_record_of_address<&NodeApi::delegations>)});
    m.push_back({"rewards", "An account's rewards: vested (claimable now) and locked.",
                 "`entries` lists the locked entries (an operator's commission, rewards settled when a delegation "
                 "changed) with the height they vest at; `claim` moves the vested amount to the balance.",
                 {{"address", address, true, kAddressHelp}},
                 record_schema<RewardsInfo>({{"entries.vest_height", ref("Height")}}),
                 false, sync_handler(m_record_of_address<&NodeApi::rewards>)});
    m.push_back({"reputation", "The reputation of a worker or validator key.", "",
                 {{"address", address, true, kAddressHelp}},
                 js::object({{"address", ref("Key")}, {"reputation", js::integer()}}),
                 false, sync_handler(m_reputation)});
    m.push_back({"task", "A task of the market: its terms, the round in progress and, once settled, the result.",
                 "status is open, settled or failed (failure: no-workers, no-commitments: no assigned worker committed, or "
                 "no-majority: results without a majority); retry_reason says why a retry round runs or ran. "
                 "round.assigned_height 0 "
                 "means it waits for workers; outcome codes are the sandbox's (docs/sandbox.md: 0 ok, 1 trap, 2 "
                 "out-of-fuel, 3 memory-exceeded, 4 output-too-large, 5 invalid-module, 6 forbidden-import); "
                 "input and output are hex. Not found: -32001.",
                 {{"id", js::integer(1), true, "the task id (task_submitted's `task`)"}},
                 ref("Task"), false, sync_handler(m_task)});
    m.push_back({"tasks", "Tasks by descending id.",
                 "With `in_progress: true`, only tasks with a round in progress (waiting for workers or assigned: "
                 "first rounds, retries and audits, whose task stays settled), however old: how a worker finds "
                 "its assignments.",
                 {{"before", js::integer(0), false, "only ids below this (0 or absent: from the newest)"},
                  {"limit", js::integer(1, 100), false, "at most this many (default 20)"},
                  {"in_progress", js::boolean(), false, "only tasks with a round in progress (default false)"}},
                 js::object({{"tasks", js::array(ref("Task"))}}), false,
                 sync_handler(m_tasks)});
    m.push_back({"worker", "A registered worker: stake, reputation (ppm) and record.", "Not found: -32001.",
                 {{"address", address, true, "the worker's key"}}, ref("Worker"), false, sync_handler(m_worker)});
    m.push_back({"workers", "Every registered worker, by key.", "", {},
                 js::object({{"workers", js::array(ref("Worker"))}}),
                 false, sync_handler(m_workers)});
    const Param before{"before", ref("Height"), false, "only heights below this (0 or absent: from the newest)"};
    const Param limit{"limit", js::integer(1, 100), false, "at most this many (default 20)"};
    m.push_back({"history", "An account's or a task's history, newest first, from this node's history index.",
                 "Give `address` or `task`. An account's entries are the transactions it sent and those whose events "
                 "name it (a transfer's `to`, a delegation's validator, a worker's task...), and the blocks whose "
                 "own events name it (`index` null: assignment, settlement, jailing). A task's are its submission, "
                 "commits, reveals and audit requests, and its rounds' assignment and settlement. A transaction "
                 "entry has the payload `type`, `ok` and `reason`, and every event of its receipt; a block entry has "
                 "only the events that concern what was asked. For the next page pass `next_cursor` as `cursor` "
                 "(empty: there is no more); `before` starts a first page below a height. The index holds the "
                 "heights this node committed itself (docs/node.md, History).",
                 {{"address", address, false, "an account"},
                  {"task", js::integer(1), false, "a task id"},
                  before,
                  limit,
                  {"cursor", js::string(), false, "the next_cursor of the page before (absent or empty: the first)"}},
                 record_schema<HistoryInfo>({{"height", js::described(ref("Height"), "the committed height it was "
                                                                                      "read at")},
                                             {"entries.height", ref("Height")},
                                             {"entries.index", js::described(js::one_of({js::integer(), js::null()}),
                                                                             "the transaction's position; null: the "
                                                                             "block's own events")},
                                             {"next_cursor", js::described(js::string(),
                                                                           "where the next page starts; empty "
                                                                           "when this one is the last")}}),
                 false, sync_handler(m_history)});
    m.push_back({"worker_history", "A worker's record at each height it changed, newest first: reputation over time.",
                 "From this node's history index (docs/node.md, History): a point per block that changed the "
                 "worker's record (registration, stake, settlement, the reputation decay at each epoch).",
                 {{"address", address, true, "the worker's key"}, before, limit},
                 js::object({{"address", ref("Key")},
                             {"points", js::array(record_schema<WorkerPointInfo>(
                                            {{"height", ref("Height")},
                                             {"reputation", js::described(js::integer(), "ppm, 0 to 1000000")}}))}}),
                 false, sync_handler(m_worker_history)});
    m.push_back({"blocks", "Committed blocks in a few figures, newest first: what a dashboard draws.",
                 "`signers` counts the signatures of the block's own commit certificate; `bytes` is the size of "
                 "its encoding; `timestamp_ms` is informational (the proposer's clock).",
                 {before, limit},
                 js::object({{"blocks", js::array(record_schema<BlockSummaryInfo>({{"height", ref("Height")}}))}}),
                 false, sync_handler(m_blocks)});
    m.push_back({"module", "A stored task module (content-addressed by SHA-256).",
                 "With `metered: true`, `wasm` is the instrumented module the workers run (docs/sandbox.md, "
                 "\"Metering\"), under the chain's metering version, and `metered_hash` its SHA-256, which a task "
                 "of this module records: a browser worker checks it. Not found: -32001.",
                 {{"hash", ref("Hash"), true, "the module's SHA-256"},
                  {"metered", js::boolean(), false, "the instrumented module instead (default false)"}},
                 js::object({{"hash", ref("Hash")},
                             {"size", js::integer()},
                             {"wasm", ref("Hex")},
                             {"metered_hash", js::described(ref("Hash"), "with metered: SHA-256 of wasm")}}),
                 false, sync_handler(m_module)});
    const std::string tx_schema = js::one_of({ref("Transaction"), ref("Hex")});
    m.push_back({"send_tx", "Submits a signed transaction; answers once the mempool admitted it.",
                 "Rejected: -32002 with the mempool's reason in data.reason: tx-too-large, malformed-tx, "
                 "wrong-chain-id, fee-too-low, tx-known, bad-signature, nonce-too-low, nonce-gap, nonce-taken, "
                 "insufficient-funds, mempool-full, and for submit_task the contract's bad-fuel, bad-deadlines, "
                 "bad-replicas, zero-amount, module-and-hash, missing-module (docs/mempool.md); hex that is not a "
                 "transaction's encoding gets malformed-tx (tx-too-large over 2 MiB) the same way. A transaction "
                 "object with a field it does not have, in the payload too, is -32602 naming the field.",
                 {{"tx", tx_schema, true, "the signed transaction, as JSON or as the hex of its encoding"}},
                 js::object({{"hash", ref("Hash")}}), false, m_send_tx,
                 /*writes=*/true});
    m.push_back({"simulate", "Runs a transaction as the next block would, against the latest committed state, and "
                 "commits nothing: the receipt it would get and the fee it needs.",
                 "`ok` false gives the stable `reason` it would fail with (a contract's, as a receipt would carry it, "
                 "or one the mempool would refuse it with: send_tx's, a task module's, bad-nonce, insufficient-funds "
                 "for the fee) and the `detail` for people. `pays_fee` says whether sending it would cost its fee: a "
                 "transaction that passes the charge (fee, nonce, balance for the fee) is committed even when its "
                 "payload fails, and pays; one that does not is refused by the mempool. `fee_required` is the least "
                 "fee the chain takes (params.min_fee; the rules do not use the size). A nonce above the account's is "
                 "taken as if the sender's pending transactions had committed, without their effects. With "
                 "`unsigned: true` the signature is not checked (an estimate before signing: any 128 hex digits). "
                 "Rejections of the transaction itself as send_tx (tx-too-large, malformed-tx, -32602 for an "
                 "object with unknown fields). `verity` runs it before every transaction it sends. It runs contract code "
                 "and a task module's admission for whoever asks, so a node with a token keeps it, as the writes, "
                 "for those who hold the token.",
                 {{"tx", tx_schema, true, "the transaction, as JSON or as the hex of its encoding"},
                  {"unsigned", js::boolean(), false, "do not check the signature (default false)"}},
                 record_schema<SimulationInfo>({{"height", js::described(ref("Height"), "the committed height it ran "
                                                                                      "on: as if in the block after")},
                                                {"reason", js::described(js::string(), "stable kebab-case reason "
                                                                                       "when ok is false")}}),
                 false, sync_handler(m_simulate), /*writes=*/true});
    m.push_back({"send_tx_commit", "Submits a signed transaction and answers when a block commits it.",
                 "Rejections as send_tx. Times out with -32003 (reason timeout) after timeout_ms (default 30000, "
                 "at most 120000); the transaction may still commit later. Sending a transaction again that is "
                 "pending waits for it; one already committed answers with its receipt. A committed transaction "
                 "may have failed: check receipt.ok.",
                 {{"tx", tx_schema, true, "the signed transaction"},
                  {"timeout_ms", js::integer(1, 120000), false, "how long to wait"}},
                 js::object({{"hash", ref("Hash")}, {"height", ref("Height")}, {"receipt", ref("Receipt")}}),
                 false, m_send_tx_commit, /*writes=*/true});
    m.push_back({"subscribe", "WebSocket only: notifications of new blocks, committed transactions or task events.",
                 "Topics: `blocks` ({height, hash, state_root, view, txs, proposer} per block), `txs` ({hash, "
                 "height, index, sender, type, ok, reason} per committed transaction; with `account`, only those "
                 "sent by or to it), `tasks` ({height, tx, kind, attributes} per task event; tx is null for events of the "
                 "block's hooks: assignment, settlement). Each arrives as "
                 "{\"jsonrpc\":\"2.0\",\"method\":\"subscription\",\"params\":{\"subscription\":ID,\"topic\":T,"
                 "\"result\":R}}. A client that reads too slowly is disconnected.",
                 {{"topic", js::enumeration({"blocks", "txs", "tasks"}), true, "what to receive"},
                  {"account", address, false, "txs only: only transactions sent by or to this account"}},
                 js::described(js::string(), "the subscription id"), true, sync_handler(m_subscribe)});
    m.push_back({"unsubscribe", "WebSocket only: ends a subscription.", "",
                 {{"subscription", js::string(), true, "the id subscribe returned"}},
                 js::boolean(), true, sync_handler(m_unsubscribe)});
    m.push_back({"rpc.discover", "This API as an OpenRPC document.", "", {}, js::any_object(), false,
                 m_discover});
    return m;
  }();
  return table;
}

namespace {
Value parsed(const std::string& text, JsonAlloc& a) {
  rapidjson::Document d;
  d.Parse(text.data(), text.size());
  if (d.HasParseError()) {
    std::fprintf(stderr, "verity: bad built-in JSON schema: %s\n", text.c_str());
    std::abort();
  }
  return Value(d, a);
}
}  // namespace

const std::string& openrpc_document() {
  static const std::string doc = [] {
    rapidjson::Document d(rapidjson::kObjectType);
    auto& a = d.GetAllocator();
    d.AddMember("openrpc", "1.2.6", a);
    Value info(rapidjson::kObjectType);
    info.AddMember("title", "Verity node JSON-RPC", a);
    info.AddMember("version", to_json(kVersion, a), a);
    d.AddMember("info", info, a);
    Value methods(rapidjson::kArrayType);
    for (const auto& m : node_methods()) {
      Value o(rapidjson::kObjectType);
      o.AddMember("name", to_json(m.name, a), a);
      o.AddMember("summary", to_json(m.summary, a), a);
      if (!m.help.empty()) o.AddMember("description", to_json(m.help, a), a);
      if (m.writes) o.AddMember("x-writes", true, a);  // needs the bearer token on a node that has one
      o.AddMember("paramStructure", "either", a);
      Value ps(rapidjson::kArrayType);
      for (const auto& p : m.params) {
        Value po(rapidjson::kObjectType);
        po.AddMember("name", to_json(p.name, a), a);
        po.AddMember("description", to_json(p.help, a), a);
        po.AddMember("required", p.required, a);
        po.AddMember("schema", parsed(p.schema, a), a);
        ps.PushBack(po, a);
      }
      o.AddMember("params", ps, a);
      Value result(rapidjson::kObjectType);
      result.AddMember("name", "result", a);
      result.AddMember("schema", parsed(m.result_schema, a), a);
      o.AddMember("result", result, a);
      methods.PushBack(o, a);
    }
    d.AddMember("methods", methods, a);
    Value schemas(rapidjson::kObjectType);
    for (const auto& [name, text] : schema_components()) schemas.AddMember(to_json(name, a), parsed(text, a), a);
    Value components(rapidjson::kObjectType);
    components.AddMember("schemas", schemas, a);
    d.AddMember("components", components, a);
    return json_string(d);
  }();
  return doc;
}

std::string markdown_reference() {
  std::ostringstream o;
  o << "<!-- Generated by `build/rpc/rpc-docs` from the method table in rpc/methods.cpp. Do not edit:\n"
       "     change the table and run `build/rpc/rpc-docs > docs/rpc.md` (a test checks they agree). -->\n"
       "# JSON-RPC reference\n\n"
       "Every method below is served on `POST /` (JSON-RPC 2.0: single calls, batches, notifications) and on\n"
       "the WebSocket endpoint `/ws`. Parameters go by name (an object) or by position (an array, in the order\n"
       "listed). Amounts are decimal strings of base units; keys, hashes and signatures are hex without `0x`,\n"
       "lower-case in answers and read in either case. Integer parameters outside their schema's `minimum` or\n"
       "`maximum` are -32602. `rpc.discover` returns this table as an OpenRPC document. The server itself (limits,\n"
       "errors, WebSocket, metrics, the bearer token that methods marked *Writes* need when the node has one)\n"
       "is described in [docs/rpc-server.md](rpc-server.md).\n\n"
       "| method | summary |\n|---|---|\n";
  for (const auto& m : node_methods()) {
    std::string anchor;
    for (char c : m.name)
      if (c != '.') anchor += c;
    o << "| [`" << m.name << "`](#" << anchor << ") | " << m.summary << (m.writes ? " *Writes.*" : "") << " |\n";
  }
  o << "\n";
  for (const auto& m : node_methods()) {
    o << "## " << m.name << "\n\n" << m.summary << "\n\n";
    if (!m.help.empty()) o << m.help << "\n\n";
    if (m.writes)
      o << "Writes: on a node with `[rpc] auth_token_file` set, this method needs the header `Authorization: "
           "Bearer TOKEN`; without it, or with another token, it answers -32005 (reason `unauthorized`).\n\n";
    if (m.params.empty()) {
      o << "Parameters: none.\n\n";
    } else {
      o << "| parameter | required | schema | meaning |\n|---|---|---|---|\n";
      for (const auto& p : m.params)
        o << "| `" << p.name << "` | " << (p.required ? "yes" : "no") << " | `" << p.schema << "` | " << p.help
          << " |\n";
      o << "\n";
    }
    o << "Result schema:\n\n```json\n";
    rapidjson::Document d;
    d.Parse(m.result_schema.data(), m.result_schema.size());
    rapidjson::StringBuffer buf;
    rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buf);
    w.SetIndent(' ', 2);
    d.Accept(w);
    o << buf.GetString() << "\n```\n\n";
  }
  o << "## Shared schemas\n\n";
  for (const auto& [name, text] : schema_components()) o << "- `" << name << "`: `" << text << "`\n";
  return o.str();
}

}  // namespace verity::rpc
