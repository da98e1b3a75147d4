#include "client/rpc_client.h"

#include <rapidjson/document.h>

#include "rpc/json_codec.h"

namespace verity::client {

namespace {

using Json = rapidjson::Value;

// {"NAME": VALUE, ...} for the call.
rapidjson::Document params(std::initializer_list<std::pair<const char*, Json>> members) {
  rapidjson::Document p(rapidjson::kObjectType);
  for (const auto& [name, value] : members) p.AddMember(rapidjson::StringRef(name), Json(value, p.GetAllocator()), p.GetAllocator());
  return p;
}

Json text(const std::string& s) { return Json(rapidjson::StringRef(s.c_str(), static_cast<rapidjson::SizeType>(s.size()))); }

// A lookup's answer read by `read` (answer -> Result<T>): not-found is an
// empty optional.
template <class T, class Read>
Result<std::optional<T>> lookup_with(Result<rapidjson::Document> answer, Read&& read) {
  if (!answer) {
    if (answer.error().reason == "not-found") return std::optional<T>();
    return answer.error();
  }
  Result<T> v = read(*answer);
  if (!v) return v.error();
  return std::optional<T>(std::move(*v));
}
template <class T>
Result<std::optional<T>> lookup(Result<rapidjson::Document> answer, const std::string& method) {
  return lookup_with<T>(std::move(answer), [&](const Json& a) { return rpc::record_from_json<T>(a, method); });
}

}  // namespace

Result<StatusSummary> NodeClient::status() const {
  auto a = http_.call("status");
  if (!a) return a.error();
  return rpc::record_from_json<StatusSummary>(*a, "status");
}

Result<ChainParams> NodeClient::chain_params() const {
  auto a = http_.call("genesis");
  if (!a) return a.error();
  return rpc::member_from_json<ChainParams>(*a, "params", "genesis");
}

Result<rpc::AccountInfo> NodeClient::account(const PublicKey& address) const {
  const std::string hex = address.hex();
  auto a = http_.call("account", params({{"address", text(hex)}}));
  if (!a) return a.error();
  return rpc::record_from_json<rpc::AccountInfo>(*a, "account");
}

Result<Hash256> NodeClient::send_tx(const Transaction& tx) const {
  rapidjson::Document p(rapidjson::kObjectType);
  p.AddMember("tx", rpc::to_json(tx, p.GetAllocator()), p.GetAllocator());
  auto a = http_.call("send_tx", p);
  if (!a) return a.error();
  auto hash = rpc::member_from_json<Hash256>(*a, "hash", "send_tx");
  if (!hash) return hash.error();
  if (*hash != tx.id())
    return make_error("rpc-bad-response",
                      "the node's send_tx answer names tx " + hash->hex() + ", not the one sent (" + tx.id().hex() + ")");
  return hash;
}

Result<std::optional<TxInfo>> NodeClient::tx(const Hash256& id) const {
  const std::string hex = id.hex();
  return lookup_with<TxInfo>(http_.call("tx", params({{"hash", text(hex)}})),
                             [&](const Json& a) { return read_tx(a, id); });
}

Result<TxInfo> read_tx(const rapidjson::Value& answer, const Hash256& asked) {
  auto t = rpc::record_from_json<TxInfo>(answer, "tx");
  if (!t) return t.error();
  auto bad = [](const std::string& what) { return make_error("rpc-bad-response", "the node's tx answer: " + what); };
  if (t->hash != asked) return bad("`hash` is " + t->hash.hex() + ", not the one asked for (" + asked.hex() + ")");
  if (t->tx.id() != t->hash) return bad("`tx` has id " + t->tx.id().hex() + ", not `hash`");
  if (t->status != "pending" && t->status != "committed") return bad("`status` is '" + t->status + "'");
  if ((t->status == "committed") != t->receipt.has_value())
    return bad(t->receipt ? "a pending transaction has a receipt" : "a committed transaction has no receipt");
  return t;
}

Result<BlockInfo> read_block(const rapidjson::Value& answer, std::optional<std::uint64_t> height) {
  auto b = rpc::record_from_json<BlockInfo>(answer, "block");
  if (!b) return b.error();
  auto bad = [](const std::string& what) { return make_error("rpc-bad-response", "the node's block answer: " + what); };
  if (b->header.hash() != b->hash) return bad("`hash` is not the hash of `header` (" + b->header.hash().hex() + ")");
  if (b->header.height != b->height) return bad("`height` is not the header's (" + std::to_string(b->header.height) + ")");
  if (height && b->height != *height)
    return bad("`height` is " + std::to_string(b->height) + ", not the one asked for (" + std::to_string(*height) + ")");
  std::vector<Transaction> txs;
  for (const auto& t : b->txs) txs.push_back(t.tx);
  if (transactions_root(txs) != b->header.tx_root) return bad("`txs` are not the transactions the header commits to");
  if (b->last_commit.hash() != b->header.last_commit_hash)
    return bad("`last_commit` is not the certificate the header commits to");
  if (b->certificate && (b->certificate->block_hash != b->hash || b->certificate->height != b->height))
    return bad("`certificate` is for another block");
  return b;
}

Result<std::optional<rpc::TaskInfo>> NodeClient::task(std::uint64_t id) const {
  auto t = lookup<rpc::TaskInfo>(http_.call("task", params({{"id", Json(id)}})), "task");
  if (t && *t && (*t)->id != id)
    return make_error("rpc-bad-response",
                      "the node's task answer: `id` is " + std::to_string((*t)->id) + ", not " + std::to_string(id));
  return t;
}

Result<std::vector<rpc::TaskInfo>> NodeClient::tasks(std::uint64_t before, std::uint64_t limit, bool in_progress) const {
  auto a = http_.call("tasks", params({{"before", Json(before)}, {"limit", Json(limit)}, {"in_progress", Json(in_progress)}}));
  if (!a) return a.error();
  return rpc::member_from_json<std::vector<rpc::TaskInfo>>(*a, "tasks", "tasks");
}

Result<std::vector<TaskRef>> NodeClient::task_refs(std::uint64_t before, std::uint64_t limit, bool in_progress) const {
  auto a = http_.call("tasks", params({{"before", Json(before)}, {"limit", Json(limit)}, {"in_progress", Json(in_progress)}}));
  if (!a) return a.error();
  return rpc::member_from_json<std::vector<TaskRef>>(*a, "tasks", "tasks");
}

Result<rpc::HistoryInfo> NodeClient::task_history(std::uint64_t id, const std::string& cursor,
                                                  std::uint64_t limit) const {
  auto a = http_.call("history", params({{"task", Json(id)}, {"cursor", text(cursor)}, {"limit", Json(limit)}}));
  if (!a) return a.error();
  return rpc::record_from_json<rpc::HistoryInfo>(*a, "history");
}

Result<rpc::HistoryInfo> NodeClient::account_history(const PublicKey& address, const std::string& cursor,
                                                     std::uint64_t limit) const {
  const std::string hex = address.hex();
  auto a = http_.call("history", params({{"address", text(hex)}, {"cursor", text(cursor)}, {"limit", Json(limit)}}));
  if (!a) return a.error();
  return rpc::record_from_json<rpc::HistoryInfo>(*a, "history");
}

Result<std::optional<rpc::WorkerInfo>> NodeClient::worker(const PublicKey& key) const {
  const std::string hex = key.hex();
  return lookup<rpc::WorkerInfo>(http_.call("worker", params({{"address", text(hex)}})), "worker");
}

Result<std::vector<rpc::WorkerInfo>> NodeClient::workers() const {
  auto a = http_.call("workers");
  if (!a) return a.error();
  return rpc::member_from_json<std::vector<rpc::WorkerInfo>>(*a, "workers", "workers");
}

Result<Bytes> NodeClient::module(const Hash256& hash) const {
  const std::string hex = hash.hex();
  auto a = http_.call("module", params({{"hash", text(hex)}}));
  if (!a) return a.error();
  auto wasm = rpc::member_from_json<Bytes>(*a, "wasm", "module");
  if (!wasm) return wasm.error();
  const Hash256 got = sha256(*wasm);
  if (got != hash)
    return make_error("module-mismatch", "the node served " + std::to_string(wasm->size()) + " bytes for module " + hex +
                                             " that hash to " + got.hex());
  return wasm;
}

}  // namespace verity::client
