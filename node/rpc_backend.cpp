#include "node/rpc_backend.h"

#include <sys/statvfs.h>

#include <algorithm>
#include <charconv>


#include "contracts/accounts.h"
#include "contracts/native.h"
#include "contracts/reputation.h"
#include "contracts/staking.h"
#include "contracts/tasks.h"
#include "core/hex.h"
#include "rpc/json_codec.h"

namespace verity::node {

namespace {
// The mempool's own refusals, which honest clients meet in races (and the
// node's state of the moment): not counted against the client.
bool stateful_reason(const std::string& reason) {
  return reason == "tx-known" || reason == "nonce-too-low" || reason == "nonce-gap" || reason == "nonce-taken" ||
         reason == "insufficient-funds" || reason == "mempool-full" || reason == "node-busy" ||
         reason == "shutting-down";
}
}  // namespace

rpc::NodeStatus RpcBackend::status() const {
  const auto chain = node_.view();
  const auto& live = node_.live();
  rpc::NodeStatus s;
  s.chain_id = chain->genesis().chain_id;
  s.height = chain->tip().height;
  s.latest_block_hash = chain->tip().block_hash;
  s.state_root = chain->tip().state_root;
  s.view = live.view;
  if (live.is_validator) s.validator = node_.validator_key();
  s.node_id = node_.node_id();
  s.moniker = node_.config().moniker;
  s.peers = live.peers;
  s.mempool_txs = live.mempool_txs;
  s.mempool_bytes = live.mempool_bytes;
  if (live.signing_held) {
    s.signing = "double-sign-check";
    s.double_sign_check = rpc::DoubleSignCheck{live.double_sign_check_watched,
                                               node_.config().consensus.double_sign_check_heights};
  } else if (live.is_validator) {
    s.signing = "signing";
  }
  s.another_instance = live.another_instance;
  s.best_known_height = std::max<std::uint64_t>(live.peer_height, s.height);
  // More than a block behind a peer: syncing blocks. One block behind is the
  // ordinary lag of a commit reaching this node.
  s.catching_up = s.best_known_height > s.height + 1;
  return s;
}

Result<std::optional<Block>> RpcBackend::block_at(std::uint64_t height) const { return node_.view()->block_at(height); }

Result<std::optional<std::uint64_t>> RpcBackend::height_of(const Hash256& hash) const {
  return node_.view()->height_of(hash);
}

Result<std::optional<CommitCertificate>> RpcBackend::certificate_at(std::uint64_t height) const {
  return node_.view()->certificate_at(height);
}

void RpcBackend::submit_async(const Transaction& tx, const std::string& client,
                              std::function<void(Result<Hash256>)> done) {
  if (!client_limiter_.allow(client))
    return done(make_error("rate-limited", "this client sent too many invalid transactions; wait and retry"));
  node_.submit_async(tx, [this, client, done = std::move(done)](Result<Hash256> r) {
    // The refusals of the checks before the mempool, not the mempool's
    // (a nonce race is honest).
    if (!r && r.error().fault != Fault::local && !stateful_reason(r.error().reason))
      client_limiter_.refused(client, r.error().reason);
    done(std::move(r));
  });
}

Result<std::optional<rpc::TxLookup>> RpcBackend::transaction(const Hash256& id) const {
  // The mempool after the chain: a transaction committed meanwhile has
  // left the pool, and is then found in the next view.
  auto committed = node_.view()->transaction(id);
  if (!committed) return committed.error();
  if (*committed) return std::optional<rpc::TxLookup>(rpc::TxLookup{(*committed)->tx, (*committed)->receipt});
  if (auto pending = node_.pending_tx(id)) return std::optional<rpc::TxLookup>(rpc::TxLookup{*pending, std::nullopt});
  committed = node_.view()->transaction(id);
  if (!committed) return committed.error();
  if (*committed) return std::optional<rpc::TxLookup>(rpc::TxLookup{(*committed)->tx, (*committed)->receipt});
  return std::optional<rpc::TxLookup>();
}

Result<rpc::AccountInfo> RpcBackend::account(const PublicKey& address) const {
  const auto chain = node_.view();
  auto a = contracts::load_account(chain->state(), address);
  if (!a) return a.error();
  rpc::AccountInfo info;
  info.balance = a->balance;
  info.nonce = a->nonce;
  // The pool may be a commit ahead of this view: never below the account's nonce.
  info.next_nonce = std::max(a->nonce, node_.pending_next_nonce(address).value_or(a->nonce));
  info.height = chain->tip().height;
  return info;
}

Result<rpc::AccountProof> RpcBackend::prove_account(const PublicKey& address) const {
  const auto view = node_.view();
  const auto& chain = *view;
  const std::uint64_t height = chain.tip().height;
  if (height == 0) return make_error("not-found", "no block is committed yet: proofs start at height 1");
  rpc::AccountProof p;
  p.height = height;
  p.key = contracts::account_key(address);
  auto value = chain.state().get(p.key);
  if (!value) return value.error();
  p.value = *value;
  p.root = chain.tip().state_root;
  auto proof = chain.prove(p.key);
  if (!proof) return proof.error();
  p.proof = std::move(*proof);
  auto block = chain.block_at(height);
  if (!block) return block.error();
  auto cert = chain.certificate_at(height);
  if (!cert) return cert.error();
  if (!*block || !*cert) return local_error("state-corrupt", "the tip's block or certificate is missing");
  p.header = (*block)->header;
  p.certificate = **cert;
  p.validators = chain.tip_validators();
  return p;
}

Result<std::vector<ValidatorHandoff>> RpcBackend::handoffs(std::uint64_t from_height, std::uint64_t limit) const {
  return node_.view()->handoffs(from_height, limit);
}

namespace {
// An RPC record of rpc/records.h filled from the contract's record it
// shows, field for field (rpc::copy_same_fields); the caller sets the rest
// (tests/node/node_tests.cpp pins which those are).
// Counts of the history index stop here (a count is one scan).
constexpr std::uint64_t kMaxCounted = 100'000;

template <class Info, class Record>
Info info_of(const Record& r) {
  Info i;
  rpc::copy_same_fields(r, i);
  return i;
}

Result<rpc::ValidatorInfo> validator_info(const state::ChainView& chain, const contracts::ValidatorWithStatus& w) {
  const contracts::ValidatorRecord& v = w.record;
  auto downtime = contracts::downtime_record(chain.state(), v.operator_address);
  if (!downtime) return downtime.error();
  rpc::ValidatorInfo i;
  rpc::copy_same_fields(v, i);
  i.operator_address = v.operator_address;  // "operator" in the RPC
  i.in_set = w.power.has_value();
  i.power = w.power.value_or(0);
  i.status = w.status.status;
  i.detail = w.status.detail;
  i.missing_stake = w.status.missing_stake;
  i.next_epoch_boundary = w.status.next_epoch_boundary;
  i.unjail_refusal = w.status.unjail_refusal;
  i.missed_in_window = downtime->missed;
  i.window_commits = downtime->counted;
  i.missed_allowed = contracts::downtime_allowed_misses(chain.genesis().params);
  auto slashes = chain.history_count(contracts::slash_term(v.operator_address), kMaxCounted);
  if (!slashes) return slashes.error();
  i.slashes = *slashes;
  return i;
}

// Every validator with its status, from one snapshot of the chain. The
// status of one validator needs the others (its rank), so `validator`
// computes them all too: sets are small.
Result<std::vector<contracts::ValidatorWithStatus>> statuses_of(const state::ChainView& chain) {
  return contracts::validator_statuses(chain.state(), chain.tip().height, chain.genesis().params);
}
}  // namespace

Result<std::vector<rpc::ValidatorInfo>> RpcBackend::validators() const {
  const auto view = node_.view();
  auto all = statuses_of(*view);
  if (!all) return all.error();
  std::vector<rpc::ValidatorInfo> in_set, others;
  for (const auto& w : *all) {
    auto i = validator_info(*view, w);
    if (!i) return i.error();
    (i->in_set ? in_set : others).push_back(std::move(*i));
  }
  in_set.insert(in_set.end(), others.begin(), others.end());
  return in_set;
}

Result<std::optional<rpc::ValidatorInfo>> RpcBackend::validator(const PublicKey& operator_address) const {
  const auto view = node_.view();
  auto all = statuses_of(*view);
  if (!all) return all.error();
  for (const auto& w : *all) {
    if (w.record.operator_address != operator_address) continue;
    auto i = validator_info(*view, w);
    if (!i) return i.error();
    return std::optional<rpc::ValidatorInfo>(std::move(*i));
  }
  return std::optional<rpc::ValidatorInfo>();
}

Result<rpc::DelegationsInfo> RpcBackend::delegations(const PublicKey& delegator) const {
  const auto chain = node_.view();
  const auto& state = chain->state();
  rpc::DelegationsInfo out;
  auto validators = contracts::delegated_validators(state, delegator);
  if (!validators) return validators.error();
  for (const auto& op : *validators) {
    auto v = contracts::load_validator(state, op);
    if (!v) return v.error();
    auto d = contracts::load_delegation(state, op, delegator);
    if (!d) return d.error();
    if (!*v || !*d) continue;
    out.delegations.push_back({op, (*d)->shares, contracts::delegation_value(**v, **d)});
  }
  auto entries = contracts::unbonding_entries(state, delegator);
  if (!entries) return entries.error();
  for (const auto& e : *entries)
    out.unbonding.push_back(info_of<rpc::UnbondingInfo>(e));
  return out;
}

Result<rpc::RewardsInfo> RpcBackend::rewards(const PublicKey& account) const {
  const auto view = node_.view();
  const auto& chain = *view;
  // As a claim in the next block would see them.
  auto summary = contracts::rewards_of(chain.state(), account, chain.tip().height + 1, chain.genesis().params);
  if (!summary) return summary.error();
  auto entries = contracts::reward_entries(chain.state(), account);
  if (!entries) return entries.error();
  rpc::RewardsInfo out;
  out.vested = summary->vested;
  out.locked = summary->locked;
  for (const auto& e : *entries) out.entries.push_back(info_of<rpc::RewardEntryInfo>(e));
  return out;
}

Result<std::uint64_t> RpcBackend::reputation(const PublicKey& who) const {
  return contracts::reputation(node_.view()->state(), who);
}

// --- the task market, in the JSON forms docs/rpc.md gives ------------------------------

namespace {
using rapidjson::Value;
using Alloc = rapidjson::Document::AllocatorType;


// A task: enumerations by name, and the result of a settled task on its own.
rpc::TaskInfo task_info(const contracts::TaskRecord& t) {
  auto o = info_of<rpc::TaskInfo>(t);
  o.status = contracts::task_status_name(t.status);
  if (t.round) {
    auto ro = info_of<rpc::RoundInfo>(*t.round);
    ro.kind = contracts::round_kind_name(t.round->kind);
    for (const auto& x : t.round->assignments) ro.assignments.push_back(info_of<rpc::AssignmentInfo>(x));
    o.round = std::move(ro);
  }
  if (t.status == contracts::TaskStatus::settled) o.result = info_of<rpc::TaskResultInfo>(t);
  return o;
}

}  // namespace

Result<std::optional<rpc::TaskInfo>> RpcBackend::task(std::uint64_t id) const {
  auto t = contracts::load_task(node_.view()->state(), id);
  if (!t) return t.error();
  if (!*t) return std::optional<rpc::TaskInfo>();
  return std::optional<rpc::TaskInfo>(task_info(**t));
}

Result<std::vector<rpc::TaskInfo>> RpcBackend::tasks(std::uint64_t before, std::uint64_t limit, bool in_progress) const {
  auto list = contracts::list_tasks(node_.view()->state(), before, static_cast<std::size_t>(limit), in_progress);
  if (!list) return list.error();
  std::vector<rpc::TaskInfo> out;
  for (const auto& t : *list) out.push_back(task_info(t));
  return out;
}

// A worker's record with its slashes from the history index.
Result<rpc::WorkerInfo> worker_info(const state::ChainView& chain, const contracts::WorkerRecord& w) {
  auto info = info_of<rpc::WorkerInfo>(w);
  auto slashes = chain.history_count(contracts::slash_term(w.key), kMaxCounted);
  if (!slashes) return slashes.error();
  info.slashes = *slashes;
  return info;
}

Result<std::optional<rpc::WorkerInfo>> RpcBackend::worker(const PublicKey& key) const {
  const auto view = node_.view();
  auto w = contracts::load_worker(view->state(), key);
  if (!w) return w.error();
  if (!*w) return std::optional<rpc::WorkerInfo>();
  auto info = worker_info(*view, **w);
  if (!info) return info.error();
  return std::optional<rpc::WorkerInfo>(std::move(*info));
}

Result<std::vector<rpc::WorkerInfo>> RpcBackend::workers() const {
  const auto chain = node_.view();
  const auto& state = chain->state();
  auto keys = contracts::worker_keys(state);
  if (!keys) return keys.error();
  std::vector<rpc::WorkerInfo> out;
  for (const auto& k : *keys) {
    auto w = contracts::load_worker(state, k);
    if (!w) return w.error();
    if (!*w) continue;
    auto info = worker_info(*chain, **w);
    if (!info) return info.error();
    out.push_back(std::move(*info));
  }
  return out;
}

Result<std::optional<Bytes>> RpcBackend::module(const Hash256& hash) const {
  return contracts::load_module(node_.view()->state(), hash);
}

Result<std::optional<Bytes>> RpcBackend::metered_module(const Hash256& hash) const {
  const auto view = node_.view();
  auto wasm = contracts::load_module(view->state(), hash);
  if (!wasm || !*wasm) return wasm;
  auto metered = node_.module_meter().metered_module(**wasm, view->genesis().params.metering_version);
  if (!metered) return metered.error();
  return std::optional<Bytes>(std::move(*metered));
}

std::vector<rpc::Metric> RpcBackend::metrics() const {
  auto gauge = [](std::string name, std::string help, double v) {
    return rpc::Metric{std::move(name), std::move(help), "gauge", {{"", v}}};
  };
  auto counter = [](std::string name, std::string help, double v) {
    return rpc::Metric{std::move(name), std::move(help), "counter", {{"", v}}};
  };
  const auto view = node_.view();
  const auto& chain = *view;
  const auto& live = node_.live();
  const MetricsSnapshot snap = node_.metrics_snapshot();
  const auto p2p = node_.transport().counters();
  std::vector<rpc::Metric> m;
  m.push_back(gauge("verity_height", "height of the last committed block", static_cast<double>(chain.tip().height)));
  m.push_back(gauge("verity_view", "the consensus view at the current height", static_cast<double>(live.view)));
  m.push_back(counter("verity_view_changes_total", "view changes since start", static_cast<double>(snap.stats.view_changes)));
  m.push_back(gauge("verity_is_validator", "1 when this node's key is in the validator set", live.is_validator ? 1 : 0));
  m.push_back(gauge("verity_double_sign_check_holding",
                    "1 while the double-sign check holds every signature (the vote record was missing or old)",
                    live.signing_held ? 1 : 0));
  m.push_back(counter("verity_own_key_foreign_votes_total",
                      "votes under this node's validator key that it did not sign (another instance runs)",
                      static_cast<double>(snap.stats.foreign_own_votes)));
  m.push_back(gauge("verity_evidence_pending", "double-sign evidence waiting for a block",
                    static_cast<double>(snap.stats.evidence_pending)));
  m.push_back(counter("verity_store_errors_total",
                      "failed reads, writes and opens of the node's database (a damaged or failing disk)",
                      static_cast<double>(state::store_errors())));
  m.push_back(counter("verity_state_pruned_nodes_total", "state-map pages of old versions deleted since start",
                      static_cast<double>(live.pruned_nodes)));
  m.push_back(counter("verity_state_pruned_heights_total", "heights whose dropped state-map pages were pruned since start",
                      static_cast<double>(live.pruned_heights)));
  m.push_back(counter("verity_pruned_blocks_total", "blocks deleted with their certificates and receipts since start "
                      "([storage] keep_recent_blocks)", static_cast<double>(live.pruned_blocks)));
  m.push_back(counter("verity_state_prune_errors_total", "pruning jobs that failed (the log says why)",
                      static_cast<double>(live.prune_errors)));
  m.push_back(counter("verity_snapshots_written_total", "state snapshots written for joining nodes since start "
                      "([storage] snapshot_interval)", static_cast<double>(live.snapshots_written)));
  m.push_back(counter("verity_snapshot_errors_total", "snapshot jobs that failed and damaged chunks found before serving "
                      "(the log says why)", static_cast<double>(live.snapshot_errors)));
  m.push_back(gauge("verity_snapshot_height", "height of the newest state snapshot kept (0: none)",
                    static_cast<double>(live.snapshot_height)));
  m.push_back(counter("verity_evidence_committed_total", "double-sign offences punished in committed blocks",
                      static_cast<double>(snap.stats.evidence_committed)));
  m.push_back(gauge("verity_validators", "validators in the set that certifies the next block",
                    static_cast<double>(chain.validators().size())));
  // This node's validator under the downtime rule, once its key is
  // registered (create-validator): what an operator alerts on before it is
  // jailed (docs/operators.md).
  if (auto key = node_.validator_key()) {
    auto op = contracts::operator_of(chain.state(), *key);
    if (op && *op) {
      auto v = contracts::load_validator(chain.state(), **op);
      auto d = contracts::downtime_record(chain.state(), **op);
      if (v && *v && d) {
        m.push_back(gauge("verity_validator_missed_blocks",
                          "commits this node's validator did not sign, of the last verity_validator_window_blocks",
                          static_cast<double>(d->missed)));
        m.push_back(gauge("verity_validator_window_blocks",
                          "commits counted in its downtime window (at most params.downtime_window; restarts when jailed)",
                          static_cast<double>(d->counted)));
        m.push_back(gauge("verity_validator_missed_blocks_allowed",
                          "missed commits in a full window beyond which it is jailed and slashed",
                          static_cast<double>(contracts::downtime_allowed_misses(chain.genesis().params))));
        m.push_back(gauge("verity_validator_jailed", "1 while this node's validator is jailed", (*v)->jailed ? 1 : 0));
        m.push_back(gauge("verity_validator_banned", "1 once this node's validator is banned for double signing",
                          (*v)->banned ? 1 : 0));
      }
    }
  }
  m.push_back(counter("verity_committed_txs_total", "transactions committed since start",
                      static_cast<double>(snap.stats.committed_txs)));
  m.push_back(counter("verity_synced_blocks_total", "blocks taken from peers by sync since start",
                      static_cast<double>(snap.stats.synced_blocks)));
  m.push_back(gauge("verity_mempool_txs", "pending transactions", static_cast<double>(live.mempool_txs)));
  m.push_back(gauge("verity_mempool_bytes", "encoded bytes of pending transactions", static_cast<double>(live.mempool_bytes)));
  m.push_back(gauge("verity_admission_queue", "checked transactions waiting for the consensus thread to admit them",
                    static_cast<double>(live.pending_admissions)));
  rpc::Metric rejected{"verity_mempool_rejected_total", "transactions the mempool refused, by reason", "counter", {}};
  for (const auto& [reason, n] : snap.mempool.rejected)
    rejected.samples.push_back({"reason=\"" + reason + "\"", static_cast<double>(n)});
  m.push_back(std::move(rejected));
  // Refused before the mempool (node/admission.h), from peers and clients.
  rpc::Metric invalid{"verity_invalid_txs_total",
                      "transactions refused by the checks before the mempool (size, chain id, fee, signature, module), by "
                      "reason and source",
                      "counter",
                      {}};
  for (const auto& [reason, n] : snap.stats.invalid_txs)
    invalid.samples.push_back({"source=\"peer\",reason=\"" + reason + "\"", static_cast<double>(n)});
  for (const auto& [reason, n] : client_limiter_.refused())
    invalid.samples.push_back({"source=\"rpc\",reason=\"" + reason + "\"", static_cast<double>(n)});
  m.push_back(std::move(invalid));
  m.push_back(counter("verity_rpc_rate_limited_total",
                      "transaction submissions refused because their client sent too many invalid ones",
                      static_cast<double>(client_limiter_.limited())));
  m.push_back(counter("verity_p2p_peers_dropped_invalid_txs_total", "peers disconnected for relaying an invalid transaction",
                      static_cast<double>(snap.stats.peers_dropped_invalid_txs)));
  m.push_back(counter("verity_p2p_txs_dropped_total",
                      "transactions from peers dropped unchecked because the peer's queue at the verify pool was full",
                      static_cast<double>(snap.stats.peer_txs_dropped)));
  const auto& pc = node_.precheck().counters();
  m.push_back(counter("verity_signatures_checked_total", "transaction signatures checked before the mempool",
                      static_cast<double>(pc.signatures_checked)));
  m.push_back(counter("verity_p2p_tx_copies_dropped_total",
                      "copies of a transaction from peers dropped unchecked: it was received already",
                      static_cast<double>(pc.duplicates)));
  m.push_back(counter("verity_modules_checked_total", "task modules checked before the mempool (cached by hash)",
                      static_cast<double>(pc.modules_checked)));
  if (auto next = contracts::next_task_id(chain.state()))
    m.push_back(counter("verity_tasks_submitted_total", "tasks submitted on this chain",
                        static_cast<double>(*next > 0 ? *next - 1 : 0)));
  if (auto ws = contracts::worker_keys(chain.state()))
    m.push_back(gauge("verity_workers", "registered task workers", static_cast<double>(ws->size())));
  m.push_back(gauge("verity_peers", "authenticated peer links", static_cast<double>(live.peers)));
  m.push_back(counter("verity_p2p_dropped_peers_total", "peers dropped for misbehaviour or errors",
                      static_cast<double>(p2p.dropped_peers)));
  m.push_back(counter("verity_p2p_node_key_twice_total",
                      "links from a node key already linked from another address (a home running twice)",
                      static_cast<double>(p2p.node_key_twice)));
  m.push_back(counter("verity_p2p_bytes_in_total", "bytes received on peer links", static_cast<double>(p2p.bytes_in)));
  m.push_back(counter("verity_p2p_bytes_out_total", "bytes sent on peer links", static_cast<double>(p2p.bytes_out)));
  // The file system of the data directory (the chain grows without bound).
  struct statvfs fs {};
  if (::statvfs(node_.config().path_of(node_.config().data_dir).c_str(), &fs) == 0) {
    m.push_back(gauge("verity_data_free_bytes", "bytes available to the node on the data directory's file system",
                      static_cast<double>(fs.f_bavail) * static_cast<double>(fs.f_frsize)));
    m.push_back(gauge("verity_data_size_bytes", "size of the data directory's file system",
                      static_cast<double>(fs.f_blocks) * static_cast<double>(fs.f_frsize)));
  }
  return m;
}

// --- the history index (state/history.h) --------------------------------------------

namespace {

// A page's cursor, "HEIGHT.POSITION" (the last entry shown), read back.
Result<std::optional<state::HistoryCursor>> parse_cursor(const std::string& text) {
  if (text.empty()) return std::optional<state::HistoryCursor>();
  const auto dot = text.find('.');
  std::uint64_t height = 0, position = 0;
  const auto digits = [](std::string_view s, std::uint64_t& v) {
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return !s.empty() && ec == std::errc() && end == s.data() + s.size();
  };
  if (dot == std::string::npos || !digits(std::string_view(text).substr(0, dot), height) ||
      !digits(std::string_view(text).substr(dot + 1), position) || position > state::kHookPosition)
    return make_error("invalid-params", "cursor: expected a page's next_cursor (HEIGHT.POSITION), got '" + text + "'");
  return std::optional<state::HistoryCursor>(state::HistoryCursor{height, static_cast<std::uint32_t>(position)});
}

// A page of `term`'s history as the RPC answers it; the next page starts
// after its last entry.
Result<rpc::HistoryInfo> history_page(const state::ChainView& chain, const Bytes& term, std::uint64_t before,
                                      std::uint64_t limit, const std::string& cursor) {
  auto after = parse_cursor(cursor);
  if (!after) return after.error();
  const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(limit, state::kMaxHistoryPage));
  auto entries = chain.history(term, before, want, *after);
  if (!entries) return entries.error();
  rpc::HistoryInfo out;
  out.height = chain.tip().height;
  if (entries->size() == want && want > 0)
    out.next_cursor = std::to_string(entries->back().height) + "." + std::to_string(entries->back().position);
  for (auto& e : *entries) {
    rpc::HistoryItemInfo item;
    item.height = e.height;
    if (e.is_tx()) {
      auto receipt = chain.receipt(e.tx_id);
      if (!receipt) return receipt.error();
      if (!*receipt) return local_error("state-corrupt", "a history entry names a transaction without a receipt");
      item.index = e.position;
      item.tx_hash = e.tx_id;
      item.type = e.type;
      item.ok = (*receipt)->ok;
      item.reason = (*receipt)->reason;
      item.events = std::move((*receipt)->events);
    } else {
      item.events = std::move(e.events);
    }
    out.entries.push_back(std::move(item));
  }
  return out;
}

}  // namespace

Result<rpc::HistoryInfo> RpcBackend::account_history(const PublicKey& address, std::uint64_t before,
                                                     std::uint64_t limit, const std::string& cursor) const {
  return history_page(*node_.view(), contracts::account_term(address), before, limit, cursor);
}

Result<rpc::HistoryInfo> RpcBackend::task_history(std::uint64_t id, std::uint64_t before, std::uint64_t limit,
                                                  const std::string& cursor) const {
  return history_page(*node_.view(), contracts::task_term(id), before, limit, cursor);
}

Result<std::vector<rpc::WorkerPointInfo>> RpcBackend::worker_history(const PublicKey& key, std::uint64_t before,
                                                                     std::uint64_t limit) const {
  auto points = node_.view()->series(contracts::worker_series_term(key), before, static_cast<std::size_t>(limit));
  if (!points) return points.error();
  std::vector<rpc::WorkerPointInfo> out;
  for (const auto& p : *points) {
    auto w = decode_exact<contracts::WorkerRecord>(p.value);
    if (!w) return local_error("state-corrupt", "a worker's history point does not decode: " + w.error().to_string());
    auto info = info_of<rpc::WorkerPointInfo>(*w);
    info.height = p.height;
    out.push_back(info);
  }
  return out;
}

Result<std::vector<rpc::BlockSummaryInfo>> RpcBackend::blocks(std::uint64_t before, std::uint64_t limit) const {
  const auto view = node_.view();
  std::uint64_t h = view->tip().height;
  if (before > 0) h = std::min(h, before - 1);
  std::vector<rpc::BlockSummaryInfo> out;
  for (; h >= 1 && out.size() < limit; --h) {
    auto info = view->block_info(h);
    if (!info) return info.error();
    if (!*info) {  // committed before the index existed: read the block itself
      auto block = view->block_at(h);
      if (!block) return block.error();
      auto cert = view->certificate_at(h);
      if (!cert) return cert.error();
      if (!*block) break;
      const Block& b = **block;
      *info = state::BlockInfo{b.hash(), b.header, b.transactions.size(), encode(b).size(),
                               *cert ? (*cert)->signatures.size() : 0};
    }
    const state::BlockInfo& b = **info;
    out.push_back({h, b.hash, b.header.timestamp_ms, b.header.proposer, b.header.view, b.txs, b.bytes, b.signers});
  }
  return out;
}

Result<std::vector<Event>> RpcBackend::block_events(std::uint64_t height) const {
  return node_.view()->block_events(height);
}

// --- simulate ---------------------------------------------------------------------------

Result<rpc::SimulationInfo> RpcBackend::simulate(const Transaction& tx, bool check_signature) const {
  const auto view = node_.view();
  const Genesis& genesis = view->genesis();
  rpc::SimulationInfo out;
  out.height = view->tip().height;
  out.fee_required = genesis.params.min_fee;
  // A refusal before the charge: the mempool's, no fee.
  auto refuse = [&](const Error& e) -> Result<rpc::SimulationInfo> {
    if (e.fault == Fault::local) return e;
    out.reason = e.reason;
    out.detail = e.detail;
    return out;
  };
  // What the mempool would refuse before any state (its size and terms, the
  // chain id, the fee, the signature, a task's module).
  if (auto pre = node_.precheck().check_uncached(tx, check_signature); !pre) return refuse(pre.error());
  state::StateOverlay overlay(view->state());
  const state::BlockContext ctx{genesis.chain_id, out.height + 1, PublicKey{}, genesis.params};
  auto account = contracts::load_account(overlay, tx.sender);
  if (!account) return account.error();
  if (tx.nonce > account->nonce) {  // as if the sender's pending transactions had committed
    account->nonce = tx.nonce;
    contracts::store_account(overlay, tx.sender, *account);
  }
  const auto& app = node_.contracts();
  if (auto charged = app.charge(overlay, ctx, tx); !charged) return refuse(charged.error());
  out.pays_fee = true;
  out.fee_paid = tx.fee;
  if (auto done = app.execute(overlay, ctx, tx, out.events); !done) {
    out.events.clear();
    return refuse(done.error());
  }
  out.ok = true;
  return out;
}

}  // namespace verity::node
