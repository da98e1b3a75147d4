#include "node/node.h"
#include "node/state_sync.h"

#include "core/hex.h"

#include <fstream>
#include <limits>
#include <sstream>

#include "contracts/accounts.h"
#include "contracts/staking.h"
#include "contracts/tasks.h"
#include "cli/key_file.h"
#include "worker/sandbox.h"
#include "rpc/genesis_json.h"

namespace verity::node {

namespace asio = boost::asio;
using std::chrono::milliseconds;

namespace {

constexpr std::size_t kMaxBlocksFrameBytes = consensus::kMaxMessageBytes / 2;
constexpr auto kStatusInterval = milliseconds(1000);
constexpr auto kSyncTimeout = milliseconds(5000);
// Pending transactions at the head of the pool are gossiped again after
// this long, at most kRegossipPerTick per status tick: a peer that missed
// one (its pool was full, or it arrived before its predecessor nonce)
// gets another chance, else that sender could stall behind a gap there.
constexpr auto kRegossipAfter = milliseconds(3000);
constexpr std::size_t kRegossipPerTick = 4096;

std::string short_hash(const Hash256& h) { return h.hex().substr(0, 16); }

Result<std::string> read_text(const std::filesystem::path& p) {
  std::ifstream in(p);
  if (!in) return make_error("genesis-missing", p.string() + " not found: copy the network's genesis file there, "
                                                             "or run 'verityd init --genesis FILE'");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

Bytes encode_get_blocks(std::uint64_t from, std::uint64_t max) {
  Writer w;
  w.varint(from);
  w.varint(max);
  return w.take();
}

std::optional<GetBlocks> decode_get_blocks(ByteView body) {
  Reader r(body);
  GetBlocks g;
  g.from = r.varint();
  g.max = r.varint();
  if (!r.finish()) return std::nullopt;
  return g;
}

Bytes encode_blocks(const std::vector<Bytes>& messages) {
  Writer w;
  w.varint(messages.size());
  for (const auto& m : messages) w.bytes(m);
  return w.take();
}

std::optional<std::vector<ByteView>> decode_blocks(ByteView body) {
  Reader r(body);
  const std::size_t n = r.count(kMaxBlocksPerRequest, 1);
  std::vector<ByteView> items;
  for (std::size_t i = 0; i < n && r.ok(); ++i) items.push_back(r.bytes_view(consensus::kMaxMessageBytes));
  if (!r.finish()) return std::nullopt;
  return items;
}

Node::Node(const Config& config, Logger& logger, std::unique_ptr<Clock> clock)
    : config_(config),
      log_(logger, "node"),
      logger_(logger),
      clock_(std::move(clock)),
      engine_timer_(*clock_),
      ready_timer_(*clock_),
      status_timer_(*clock_),
      last_commit_time_(clock_->now()) {}

Node::~Node() {
  // Pool jobs hold `this`: none may run once the members go. A snapshot
  // being written stops at its next chunk.
  cancel_snapshot_ = true;
  if (verify_pool_) verify_pool_->stop();
}

Result<Genesis> read_genesis(const Config& config) {
  auto text = read_text(config.path_of(config.genesis_file));
  if (!text) return text.error();
  auto genesis = rpc::genesis_from_json(*text);
  if (!genesis)
    return make_error(genesis.error().reason, config.path_of(config.genesis_file).string() + ": " + genesis.error().detail);
  return genesis;
}

Result<std::unique_ptr<state::KvStore>> open_chain_store(const Config& config) {
  const auto data = config.path_of(config.data_dir);
  std::error_code ec;
  std::filesystem::create_directories(data, ec);
  if (ec) return local_error("io-error", data.string() + ": " + ec.message());
  auto store = state::open_leveldb_store((data / "chain").string());
  if (!store) {
    const std::string& reason = store.error().reason;
    const std::string hint =
        reason == "store-locked"
            ? " (is another verityd running on " + config.home.string() + "?)"
            : reason == "store-corrupt"
                  ? " (the database is damaged: " + std::string(kDamagedStoreHint) + ")"
                  : "";
    return make_error(reason, store.error().detail + hint);
  }
  return store;
}

Result<P2PConfig> p2p_config(const Config& config, const std::string& chain_id, const SecretKey& node_key,
                             const std::optional<SecretKey>& validator_key) {
  P2PConfig pc(node_key);
  pc.chain_id = chain_id;
  pc.validator_key = validator_key;
  pc.listen_host = config.p2p.listen.host;
  pc.listen_port = config.p2p.listen.port;
  for (const auto& p : config.p2p.persistent_peers) {
    auto a = parse_peer_address(p);
    if (!a) return make_error("bad-config", "p2p.persistent_peers: " + a.error().detail);
    pc.persistent_peers.push_back(*a);
  }
  pc.max_inbound_peers = config.p2p.max_inbound_peers;
  pc.max_send_queue_bytes = config.p2p.send_queue_bytes;
  return pc;
}

state::ChainOptions chain_options(const Config& config) {
  state::ChainOptions options;
  options.state_cache_bytes = state::state_cache_bytes(config.storage.state_cache_mb);
  options.keep_recent_heights = config.storage.keep_recent_heights;
  options.keep_recent_blocks = config.storage.keep_recent_blocks;
  return options;
}

Result<std::unique_ptr<Node>> Node::open(asio::io_context& io, const Config& config, Logger& logger,
                                         std::optional<std::string> key_passphrase, std::optional<Genesis> given) {
  auto genesis = given ? Result<Genesis>(std::move(*given)) : read_genesis(config);
  if (!genesis) return genesis.error();

  auto node_key = cli::load_key_file(config.path_of(config.node_key_file), key_passphrase);
  if (!node_key) return node_key.error();
  std::optional<SecretKey> validator_key;
  const auto validator_path = config.path_of(config.validator_key_file);
  if (std::filesystem::exists(validator_path)) {
    auto k = cli::load_key_file(validator_path, key_passphrase);
    if (!k) return k.error();
    validator_key = *k;
  }

  const auto data = config.path_of(config.data_dir);
  auto store = open_chain_store(config);
  if (!store) return store.error();

  const std::string chain_id = genesis->chain_id;
  NodeParts parts{std::move(*genesis), *node_key, validator_key, std::move(*store),
                  [data]() -> Result<std::unique_ptr<SafetyRecord>> {
                    auto safety = SafetyFile::open(data);
                    if (!safety) return safety.error();
                    return std::unique_ptr<SafetyRecord>(std::move(*safety));
                  },
                  data / "snapshots"};
  NodeEnv env;
  env.clock = std::make_unique<AsioClock>(io);
  env.workers = std::make_unique<PoolWorkers>(pool_threads(), kVerifyPoolNice);
  env.make_transport = [&io, &config, &logger, chain_id, node_key = *node_key,
                        validator_key](P2PHandler& handler) -> Result<std::unique_ptr<Transport>> {
    auto pc = p2p_config(config, chain_id, node_key, validator_key);
    if (!pc) return pc.error();
    return std::unique_ptr<Transport>(std::make_unique<P2P>(io, std::move(*pc), handler, logger));
  };
  return open(config, logger, std::move(parts), std::move(env));
}

Result<std::unique_ptr<Node>> Node::open(const Config& config, Logger& logger, NodeParts parts, NodeEnv env) {
  std::unique_ptr<Node> n(new Node(config, logger, std::move(env.clock)));
  const Genesis& genesis = parts.genesis;
  n->validator_key_ = parts.validator_key;
  n->store_ = std::move(parts.store);
  auto chain = state::Chain::open(*n->store_, genesis, n->app_, chain_options(config));
  if (!chain) return chain.error();
  n->chain_ = std::move(*chain);
  auto safety = parts.open_safety();
  if (!safety) return safety.error();
  n->safety_ = std::move(*safety);

  Mempool::Limits limits;
  limits.max_txs = config.mempool.max_txs;
  limits.max_bytes = config.mempool.max_bytes;
  n->mempool_ = std::make_unique<Mempool>(genesis.chain_id, genesis.params, limits);
  n->verify_pool_ = std::move(env.workers);
  n->prune_queue_ = n->verify_pool_->make_queue();
  if (parts.snapshot_dir) {
    auto files = SnapshotFiles::open(*parts.snapshot_dir, config.storage.snapshot_keep_recent);
    if (!files) return files.error();
    n->snapshots_ = std::move(*files);
    auto kept = n->snapshots_->list();
    n->live_.snapshot_height = kept.empty() ? 0 : kept.front().height;
  }
  n->precheck_ = std::make_unique<TxPrecheck>(genesis.chain_id, genesis.params, limits.max_bytes, n->meter_);

  consensus::EngineConfig engine_config;
  engine_config.chain_id = genesis.chain_id;
  engine_config.checkpoint_interval = config.consensus.checkpoint_interval;
  engine_config.watermark_window = config.consensus.watermark_window;
  engine_config.base_timeout = config.consensus.timeout_ms;
  engine_config.guard_stale_record = config.consensus.double_sign_check_heights > 0;
  n->engine_ = std::make_unique<consensus::Engine>(engine_config, n->validator_key_ ? *n->validator_key_ : parts.node_key,
                                                   *n, *n->safety_, n->safety_->restored());

  auto transport = env.make_transport(*n);
  if (!transport) return transport.error();
  n->p2p_ = std::move(*transport);

  n->publish_view();
  n->publish_metrics();
  n->update_live();
  const auto& tip = n->chain_->tip();
  if (n->chain_->migrated_pages() > 0)
    n->log_.info("state-pages-migrated", Fields().add("pages", n->chain_->migrated_pages()));
  n->log_.info("opened", Fields()
                             .add("chain", genesis.chain_id)
                             .add("height", tip.height)
                             .add("root", short_hash(tip.state_root))
                             .add("node_key", parts.node_key.public_key().hex())
                             .add("validator", n->validator_key_ ? n->validator_key_->public_key().hex() : "none"));
  return n;
}

Status Node::start() {
  if (auto s = p2p_->start(); !s) return s;
  log_.info("started", Fields().add("p2p", config_.p2p.listen.host + ":" + std::to_string(p2p_->listen_port()))
                           .add("validator", is_validator() ? "yes" : "no"));
  last_view_ = engine_->view();
  run(engine_->start());
  status_tick();
  return {};
}

void Node::stop() {
  if (stopped_) return;
  stopped_ = true;
  engine_timer_.cancel();
  ready_timer_.cancel();
  status_timer_.cancel();
  p2p_->stop();
  log_.info("stopping", Fields().add("height", chain_->tip().height));
  if (stop_hook_) stop_hook_();
}

void Node::fail(const Error& e) {
  if (fatal_) return;
  fatal_ = e;
  log_.error("fatal", Fields().add("reason", e.reason).add("detail", e.detail));
  clock_->post([this] { stop(); });
}

bool Node::is_validator() const {
  if (!validator_key_) return false;
  // In the set of the next height (the engine's), or in the one that
  // signed the tip: its last commit votes may still be going out. Called
  // for every engine output, so it reads the chain's sets without copying.
  const PublicKey& me = validator_key_->public_key();
  if (chain_->validators().power_of(me)) return true;
  return chain_->tip().height > 0 && chain_->tip_validators().power_of(me).has_value();
}

// --- engine plumbing -------------------------------------------------------------------

void Node::run(consensus::Output out) {
  if (stopped_) return;
  if (!out.local_errors.empty()) {
    fail(out.local_errors.front());
    return;
  }
  for (const auto& c : out.committed) {
    on_committed(c);
    watch_double_sign_check(c);
  }
  for (const auto& v : out.foreign_own_votes) on_foreign_own_vote(v);
  if (stopped_) return;
  // What the engine signed in this step is durable before any of it leaves.
  if (auto s = safety_->flush(); !s) {
    fail(s.error());
    return;
  }
  if (!out.messages.empty() && is_validator()) {
    for (const auto& m : out.messages) {
      if (m.to) {
        if (auto peer = p2p_->peer_with_validator(*m.to)) p2p_->send(*peer, kFrameConsensus, m.bytes);
      } else {
        p2p_->broadcast(kFrameConsensus, m.bytes);
      }
    }
  }
  for (const auto& e : out.evidence)
    if (auto s = add_evidence(e, std::nullopt); !s)
      log_.info("evidence-not-kept", Fields().add("validator", e.validator().hex()).add("reason", s.error().reason));
  if (engine_->signing_held() && !was_held_)
    log_.error("double-sign-check", Fields()
                                        .add("record_height", engine_->record_height())
                                        .add("height", engine_->height())
                                        .add("watch", config_.consensus.double_sign_check_heights)
                                        .add("detail", "the signed-votes record is missing or older than the chain: "
                                                       "signing nothing until the heights to watch commit without a "
                                                       "vote of this validator's key"));
  was_held_ = engine_->signing_held();
  if (!out.timers.empty()) arm_engine_timer(out.timers.back());
  if (engine_->view() != last_view_) {
    stats_.view_changes++;
    // A view the chain moved to while this key stayed silent counts like a
    // height for the double-sign check (once the node follows live, not
    // while a sync adopts the views of old certificates): held replicas
    // must be able to get through a stall they are part of.
    if (engine_->guard_pending() && first_live_height_ != 0) count_double_sign_round(engine_->height());
    log_.info("new-view", Fields().add("view", engine_->view()).add("height", engine_->height()));
    last_view_ = engine_->view();
  }
  if (engine_->in_view_change() && !was_in_view_change_)
    log_.warn("view-change-started", Fields().add("asking", engine_->view_base()).add("height", engine_->height()));
  was_in_view_change_ = engine_->in_view_change();
  logger_.set_position(engine_->height(), engine_->view());
  update_live();
  schedule_ready_check();
}

void Node::update_live() {
  live_.view = engine_ ? engine_->view() : 0;
  live_.mempool_txs = mempool_->size();
  live_.mempool_bytes = mempool_->bytes();
  live_.is_validator = is_validator();
  live_.signing_held = engine_ && engine_->signing_held();
}

std::shared_ptr<const state::ChainView> Node::view() const {
  std::lock_guard lock(published_mu_);
  return view_;
}

void Node::publish_view() {
  auto v = chain_->view();
  std::lock_guard lock(published_mu_);
  view_ = std::move(v);
}

MetricsSnapshot Node::metrics_snapshot() const {
  std::lock_guard lock(published_mu_);
  return metrics_;
}

void Node::publish_metrics() {
  MetricsSnapshot m{stats_, mempool_->counters()};
  std::lock_guard lock(published_mu_);
  metrics_ = std::move(m);
}

std::optional<Transaction> Node::pending_tx(const Hash256& id) const {
  std::shared_lock lock(pool_mu_);
  const Transaction* tx = mempool_->get(id);
  return tx ? std::optional<Transaction>(*tx) : std::nullopt;
}

std::optional<std::uint64_t> Node::pending_next_nonce(const PublicKey& sender) const {
  std::shared_lock lock(pool_mu_);
  return mempool_->next_nonce(sender);
}

void Node::arm_engine_timer(const consensus::TimerRequest& t) {
  engine_timer_.arm_after(milliseconds(t.delay), [this, t] {
    if (stopped_) return;
    run(engine_->on_timer(t));
  });
}

// Before its first vote since it started, a validator proposes only once a
// peer has told its height, and none has this one committed: a node that
// lost its data starts at height 1, where it may be the primary, and
// proposing there again would sign a second block for a slot it signed long
// ago (a restored backup is behind the same way).
bool Node::waiting_for_peers(std::uint64_t height) const {
  if (!engine_->guard_pending()) return false;
  bool heard = false;
  for (const auto& [id, p] : peer_heights_) {
    if (p.heard && p.height >= height) return true;
    heard = heard || p.heard;
  }
  return !heard;
}

// With transactions waiting, the primary proposes at once, unless commit
// votes for the tip are still on their way (awaiting_tip_commits()) or it
// paces after a busy block (busy_pause_until()); else after the
// empty-block interval, which neither ever extends.
bool Node::ready_to_propose(std::uint64_t height) {
  if (waiting_for_peers(height)) return false;
  if (clock_->now() - last_commit_time_ >= milliseconds(config_.consensus.empty_block_interval_ms)) return true;
  return mempool_->size() > 0 && !awaiting_tip_commits() && !busy_pause_until();
}

std::optional<Clock::TimePoint> Node::busy_pause_until() const {
  if (config_.consensus.busy_block_pause_ms == 0 || last_commit_txs_ < kBusyBlockTxs) return std::nullopt;
  const auto until = last_commit_time_ + milliseconds(config_.consensus.busy_block_pause_ms);
  if (clock_->now() >= until) return std::nullopt;
  return until;
}

bool Node::awaiting_tip_commits() const {
  const auto grace = milliseconds(config_.consensus.last_commit_grace_ms);
  if (grace.count() == 0 || clock_->now() - last_commit_time_ >= grace) return false;
  // Only right after a commit this node saw, with the tip's signatures at hand.
  if (!late_cert_view_ || engine_->height() != chain_->tip().height + 1) return false;
  for (const auto& v : chain_->tip_validators().validators()) {
    if (late_commits_.count(v.key)) continue;
    if (prev_commit_signers_ && !prev_commit_signers_->count(v.key)) continue;  // it was not signing: not expected
    return true;
  }
  return false;
}

void Node::schedule_ready_check() {
  if (stopped_ || !engine_->awaiting_own_proposal()) return;
  const bool waiting = waiting_for_peers(engine_->height());
  const bool awaiting = awaiting_tip_commits();
  const auto pause = busy_pause_until();
  if (!waiting && mempool_->size() > 0 && !awaiting && !pause) {
    if (ready_posted_) return;
    ready_posted_ = true;
    clock_->post([this] {
      ready_posted_ = false;
      if (!stopped_ && engine_->awaiting_own_proposal()) run(engine_->on_ready());
    });
    return;
  }
  // The empty-block interval, or, when transactions wait, the end of the
  // grace or of the pause, whichever is later; a missing commit vote that
  // arrives sooner ends the grace (its frame's step calls this again).
  auto at = last_commit_time_ + milliseconds(config_.consensus.empty_block_interval_ms);
  if (mempool_->size() > 0) {
    auto ends = awaiting ? last_commit_time_ + milliseconds(config_.consensus.last_commit_grace_ms) : last_commit_time_;
    if (pause) ends = std::max(ends, *pause);
    at = std::min(at, ends);
  }
  if (waiting) {
    // Until a peer's status (or a sync) comes: look again shortly, and do
    // not push back a look already set.
    const auto now = clock_->now();
    if (ready_timer_at_ && *ready_timer_at_ > now) return;
    at = std::max(at, now + milliseconds(50));
  }
  if (ready_timer_at_ == at) return;  // already set (each admitted transaction comes here)
  ready_timer_at_ = at;
  ready_timer_.arm_at(at, [this, at] {
    if (stopped_) return;
    if (ready_timer_at_ == at) ready_timer_at_.reset();
    if (engine_->awaiting_own_proposal()) run(engine_->on_ready());
  });
}

void Node::on_committed(const consensus::Committed& c) {
  const Block& b = c.block;
  stats_.committed_txs += b.transactions.size();
  logger_.set_position(b.header.height, c.certificate.view);
  log_.info("committed", Fields()
                             .add("height", b.header.height)
                             .add("hash", b.hash().hex())
                             .add("root", b.header.state_root.hex())
                             .add("txs", b.transactions.size())
                             .add("view", c.certificate.view)
                             .add("signers", c.certificate.signatures.size())
                             .add("mempool", mempool_->size())
                             .add("proposer", b.header.proposer.hex()));
}

// --- ConsensusApp --------------------------------------------------------------------------

std::uint64_t Node::committed_height() const { return chain_->tip().height; }

std::optional<ValidatorSet> Node::validators_for(std::uint64_t height) const {
  const std::uint64_t committed = chain_->tip().height;
  if (height == 0) return std::nullopt;
  if (height == committed) return chain_->tip_validators();
  if (height < committed) return std::nullopt;  // older sets are not kept
  if (height > last_height_of_next_set(committed, chain_->genesis().params.epoch_blocks)) return std::nullopt;
  return chain_->validators();
}

Block Node::propose(std::uint64_t height, std::uint64_t view) {
  const auto waited = std::chrono::duration_cast<std::chrono::microseconds>(clock_->now() - last_commit_time_);
  const auto& tip = chain_->tip();
  Block b;
  b.header.chain_id = chain_->genesis().chain_id;
  b.header.height = height;
  b.header.view = view;
  b.header.prev_hash = tip.block_hash;
  b.header.proposer = validator_key_ ? validator_key_->public_key() : PublicKey{};
  b.header.timestamp_ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<milliseconds>(clock_->system_now().time_since_epoch()).count());
  if (height > 1) {
    auto cert = chain_->certificate_at(height - 1);
    if (cert && cert->has_value()) b.last_commit = with_late_commits(**cert);
  }
  b.header.last_commit_hash = b.last_commit.hash();
  b.evidence = evidence_for_block(height);
  b.header.evidence_hash = evidence_hash(b.evidence);
  const auto& params = chain_->genesis().params;
  const std::size_t base = encode(b).size() + 16;
  const std::size_t budget = params.max_block_bytes > base ? params.max_block_bytes - base : 0;
  b.transactions = mempool_->select(params.max_block_txs, budget);
  b.header.tx_root = transactions_root(b.transactions);
  auto outcome = chain_->execute(b, execution_options());
  if (!outcome && (!b.transactions.empty() || !b.evidence.empty())) {
    // The mempool and the evidence pool hand out only what passes; if it
    // ever does not, propose an empty block rather than nothing, and
    // recheck the pool.
    log_.error("proposal-failed", Fields().add("reason", outcome.error().reason).add("detail", outcome.error().detail));
    {
      std::unique_lock lock(pool_mu_);
      mempool_->update(chain_->state(), {});
    }
    b.transactions.clear();
    b.header.tx_root = transactions_root(b.transactions);
    b.evidence.clear();
    b.header.evidence_hash = evidence_hash(b.evidence);
    outcome = chain_->execute(b, execution_options());
  }
  if (outcome) {
    b.header.state_root = outcome->state_root;
    checked_ = b.hash();
  }
  log_.debug("proposing", Fields()
                              .add("height", height)
                              .add("view", view)
                              .add("txs", b.transactions.size())
                              .add("last_commit_signers", b.last_commit.signatures.size())
                              .add("since_commit_us", waited.count()));
  return b;
}

// Transactions in the mempool had their signatures checked on admission.
state::ExecutionOptions Node::execution_options() const {
  state::ExecutionOptions o;
  o.already_verified = [this](const Hash256& id) { return mempool_->contains(id); };
  return o;
}

// The signatures of a block's transactions that neither the mempool nor
// the precheck has found good, checked on the verify pool and this thread
// together. Returns the ids known good; those that fail are left out:
// execution checks them again, one by one, and fails the block exactly as
// it would have without this.
std::set<Hash256> Node::verify_block_signatures(const Block& block) {
  std::vector<const Transaction*> unchecked;
  std::vector<Hash256> ids;
  std::set<Hash256> good;
  for (const auto& tx : block.transactions) {
    Hash256 id = tx.id();
    if (mempool_->contains(id)) continue;
    if (precheck_->signature_known_good(id)) {
      good.insert(id);
      continue;
    }
    unchecked.push_back(&tx);
    ids.push_back(id);
  }
  if (unchecked.empty()) return good;
  const auto ok = verify_pool_->verify_signatures(unchecked);
  for (std::size_t i = 0; i < ok.size(); ++i)
    if (ok[i]) {
      good.insert(ids[i]);
      precheck_->verified(ids[i]);  // copies on their way from peers skip the signature check
    }
  return good;
}

Status Node::check(const Block& block) {
  const Hash256 hash = block.hash();
  if (checked_ && *checked_ == hash) return {};
  checked_.reset();
  const std::set<Hash256> verified = verify_block_signatures(block);
  state::ExecutionOptions options;
  options.already_verified = [this, &verified](const Hash256& id) {
    return verified.count(id) != 0 || mempool_->contains(id);
  };
  auto outcome = chain_->execute(block, options);
  if (!outcome) {
    log_.warn("block-rejected", Fields()
                                    .add("height", block.header.height)
                                    .add("hash", short_hash(hash))
                                    .add("reason", outcome.error().reason)
                                    .add("detail", outcome.error().detail));
    return outcome.error();
  }
  if (outcome->state_root != block.header.state_root) {
    log_.warn("block-rejected", Fields().add("height", block.header.height).add("reason", "bad-state-root"));
    return make_error("bad-state-root", "header says " + block.header.state_root.hex() + ", execution gives " +
                                            outcome->state_root.hex());
  }
  checked_ = hash;
  return {};
}

Status Node::commit(const Block& block, const CommitCertificate& certificate) {
  checked_.reset();
  if (late_cert_view_ && block.header.height == chain_->tip().height + 1) {
    prev_commit_signers_.emplace();
    for (const auto& [validator, signature] : late_commits_) prev_commit_signers_->insert(validator);
  } else {
    prev_commit_signers_.reset();
  }
  late_commits_.clear();
  late_cert_view_.reset();
  if (auto s = chain_->commit(block, certificate); !s) return s;
  // The new tip's signatures so far: those of its certificate; the commit
  // votes that arrive after it join them (note_late_commit).
  late_cert_view_ = certificate.view;
  for (const auto& sig : certificate.signatures) late_commits_[sig.validator] = sig.signature;
  // Here, not after the engine's step: in the same step the engine may ask
  // for the next proposal, which must not offer what was just committed.
  last_commit_time_ = clock_->now();
  last_commit_txs_ = block.transactions.size();
  {
    std::unique_lock lock(pool_mu_);
    mempool_->update(chain_->state(), block.transactions);
  }
  for (const auto& r : chain_->last_receipts()) precheck_->claim(r.tx_id);
  for (const auto& e : block.evidence) {
    evidence_.remove(e.offence_id());
    stats_.evidence_committed++;
    log_.warn("double-sign-punished", Fields()
                                          .add("validator", e.validator().hex())
                                          .add("offence_height", e.height())
                                          .add("in_block", block.header.height));
  }
  stats_.evidence_pending = evidence_.size();
  if (!orphans_.empty()) retry_orphans();
  schedule_prune();
  publish_view();
  schedule_snapshot();
  publish_metrics();
  update_live();
  if (commit_listener_) {
    auto events = contracts::task_block_events(chain_->state(), block.header.height);
    if (!events) log_.warn("task-events-unreadable", Fields().add("error", events.error().to_string()));
    commit_listener_(block, chain_->last_receipts(), events ? *events : std::vector<Event>{});
  }
  return {};
}

// Pruning runs on the verify pool (docs/node.md "Threads"), one job at a
// time and at most kPruneBudget nodes per job, started by a commit when
// none runs: Chain::prune shares only the store's write lock with commit.
void Node::schedule_prune() {
  if ((config_.storage.keep_recent_heights == 0 && config_.storage.keep_recent_blocks == 0) || pruning_.exchange(true))
    return;
  prune_queue_->post([this] {
    auto stats = chain_->prune(kPruneBudget);
    if (stats) {
      live_.pruned_nodes += stats->nodes_deleted;
      live_.pruned_heights += stats->heights;
      live_.pruned_blocks += stats->blocks_deleted;
    } else {
      live_.prune_errors++;
      log_.warn("prune-failed", Fields().add("error", stats.error().to_string()));
    }
    pruning_ = false;
  });
}

// The certificate that committed a block holds the first quorum of
// commit votes; the others usually arrive a moment later, and the engine,
// already at the next height, has no use for them. Keeping them for the
// next proposal's last_commit credits every validator that signed in time
// for it, not only the fastest quorum: rewards and the downtime rule count
// the signers of last_commit, and a validator whose vote is always last
// would otherwise be jailed for downtime while it signs every block.
void Node::note_late_commit(const Vote& v) {
  const auto& tip = chain_->tip();
  if (tip.height == 0) return;
  if (v.phase != VotePhase::commit || v.height != tip.height || v.block_hash != tip.block_hash) return;
  if (late_commits_.count(v.validator) || !chain_->tip_validators().power_of(v.validator)) return;
  if (!late_cert_view_) {
    auto cert = chain_->certificate_at(tip.height);
    if (!cert || !cert->has_value()) return;
    late_cert_view_ = (*cert)->view;
    for (const auto& sig : (*cert)->signatures) late_commits_[sig.validator] = sig.signature;
  }
  // One view per certificate: its signatures are all over the same digest.
  if (v.view != *late_cert_view_ || late_commits_.count(v.validator)) return;
  if (!v.verify(chain_->genesis().chain_id)) return;
  late_commits_[v.validator] = v.signature;
}

Status Node::add_evidence(const DoubleSignEvidence& e, std::optional<std::uint64_t> from_peer) {
  const Hash256 id = e.offence_id();
  if (evidence_.contains(id)) return {};
  BlockHeader next;
  next.height = chain_->tip().height + 1;
  auto checked = contracts::check_evidence(chain_->state(), chain_->context_for(next), e);
  if (!checked) return checked.error();
  if (!evidence_.add(e)) return {};  // full: the offences already pending are punished first
  stats_.evidence_pending = evidence_.size();
  log_.warn("double-sign-evidence", Fields()
                                        .add("validator", e.validator().hex())
                                        .add("operator", checked->operator_address.hex())
                                        .add("height", e.height())
                                        .add("view", e.first.view)
                                        .add("from", from_peer ? "peer" : "this node")
                                        .add("detail", "two conflicting votes of one key: one validator key runs twice "
                                                       "(or its operator equivocates); the next block punishes it"));
  if (validator_key_ && e.validator() == validator_key_->public_key()) {
    live_.another_instance = true;
    log_.error("another-instance", Fields()
                                       .add("validator", e.validator().hex())
                                       .add("height", e.height())
                                       .add("detail", "this node's validator key signed two conflicting votes: another "
                                                      "instance runs with the same key; stop all but one"));
  }
  p2p_->broadcast(kFrameEvidence, encode(e), from_peer);
  return {};
}

// Pending evidence still valid for a block at `height`, at most one per
// offender; what is no longer valid leaves the pool.
std::vector<DoubleSignEvidence> Node::evidence_for_block(std::uint64_t height) {
  if (evidence_.size() == 0) return {};
  BlockHeader next;
  next.height = height;
  const auto ctx = chain_->context_for(next);
  std::vector<DoubleSignEvidence> out;
  for (const auto& e : evidence_.select(kMaxPendingEvidence)) {
    if (out.size() >= kMaxBlockEvidence) break;
    if (contracts::check_evidence(chain_->state(), ctx, e)) out.push_back(e);
    else evidence_.remove(e.offence_id());
  }
  stats_.evidence_pending = evidence_.size();
  return out;
}

// While the check is pending, each height decided from live votes without
// a vote of this key counts; a vote of this key meanwhile comes through
// on_foreign_own_vote.
void Node::watch_double_sign_check(const consensus::Committed& c) {
  if (!engine_->guard_pending() || !validator_key_) return;
  const std::uint64_t h = c.block.header.height;
  if (c.live && first_live_height_ == 0) first_live_height_ = h;
  // The block's last_commit carries the commit signatures for h - 1 its
  // proposer collected. After the first height this node watched live,
  // one under its key (it has signed nothing since it started) is another
  // instance's. The first is excluded: a vote of this key from before a
  // restart may still be in it.
  if (first_live_height_ != 0 && h - 1 > first_live_height_)
    for (const auto& sig : c.block.last_commit.signatures)
      if (sig.validator == validator_key_->public_key()) {
        Vote v;
        v.phase = VotePhase::commit;
        v.height = c.block.last_commit.height;
        v.view = c.block.last_commit.view;
        v.block_hash = c.block.last_commit.block_hash;
        v.validator = sig.validator;
        v.signature = sig.signature;
        on_foreign_own_vote(v);
        return;
      }
  if (c.live) count_double_sign_round(h);
}

void Node::count_double_sign_round(std::uint64_t height) {
  double_sign_watched_++;
  live_.double_sign_check_watched = double_sign_watched_;
  const std::uint64_t need = config_.consensus.double_sign_check_heights;
  if (engine_->signing_held())
    log_.warn("double-sign-check-watching", Fields().add("watched", double_sign_watched_).add("of", need).add("height", height));
  if (double_sign_watched_ < need) return;
  const bool held = engine_->signing_held();
  engine_->release_signing();
  live_.signing_held = false;
  if (held)
    log_.warn("double-sign-check-passed", Fields()
                                              .add("watched", double_sign_watched_)
                                              .add("height", height)
                                              .add("detail", "no other instance voted with this key: signing again"));
}

void Node::on_foreign_own_vote(const Vote& v) {
  stats_.foreign_own_votes++;
  live_.another_instance = true;
  const Fields f = Fields()
                       .add("validator", v.validator.hex())
                       .add("height", v.height)
                       .add("view", v.view)
                       .add("phase", vote_phase_name(v.phase));
  if (engine_->guard_pending()) {
    // Nothing signed here since the start: another instance signs with this key.
    log_.error("another-instance", Fields(f).add("detail", "a vote of this validator's key that this node did not "
                                                             "sign: another instance runs with the same key; stopping "
                                                             "before signing anything"));
    fail(local_error("another-instance", "another instance signs with validator key " + v.validator.hex()));
    return;
  }
  if (v.height == foreign_vote_logged_height_) return;  // once a height
  foreign_vote_logged_height_ = v.height;
  log_.error("another-instance", Fields(f).add("detail", "a vote of this validator's key that this node did not sign: "
                                                           "another instance runs with the same key; stop all but one"));
}

CommitCertificate Node::with_late_commits(CommitCertificate cert) const {
  if (!late_cert_view_ || *late_cert_view_ != cert.view || cert.height != chain_->tip().height) return cert;
  cert.signatures.clear();
  for (const auto& [validator, signature] : late_commits_) cert.signatures.push_back({validator, signature});
  return cert;  // std::map: ascending by validator, as certificates must be
}

namespace {
// The committed block at `height` with its certificate, from the chain or
// from a snapshot of it; nullopt when either is missing or unreadable.
template <class ChainReader>
std::optional<consensus::Decision> decision_at(const ChainReader& chain, std::uint64_t height) {
  auto b = chain.block_at(height);
  auto c = chain.certificate_at(height);
  if (!b || !c || !b->has_value() || !c->has_value()) return std::nullopt;
  return consensus::Decision{std::move(**b), std::move(**c)};
}
}  // namespace

std::optional<consensus::Decision> Node::decision(std::uint64_t height) const { return decision_at(*chain_, height); }

// --- transactions ------------------------------------------------------------------------

void Node::submit_async(Transaction tx, SubmitDone done) {
  Bytes bytes = encode(tx);
  auto id = precheck_->check(tx, bytes);
  if (!id) return done(id.error());
  if (live_.pending_admissions.fetch_add(1) >= kMaxPendingAdmissions) {
    live_.pending_admissions--;
    precheck_->release(*id);
    return done(make_error("node-busy", std::to_string(kMaxPendingAdmissions) +
                                            " transactions already wait for admission; retry shortly"));
  }
  clock_->post([this, tx = std::move(tx), bytes = std::move(bytes), done = std::move(done), id = *id] {
    live_.pending_admissions--;
    if (stopped_) return done(make_error("shutting-down", "the node is stopping"));
    auto r = admit(tx, bytes, std::nullopt, /*signature_checked=*/true);
    // Refused for now (a nonce gap, a full pool): a copy from a peer may yet be taken.
    if (!r && r.error().reason != "tx-known") precheck_->release(id);
    done(std::move(r));
  });
}

// Admits to the mempool and, once admitted (so once per transaction),
// relays it (relay() says to whom). The checks of node/admission.h ran
// before (signature_checked says so).
Result<Hash256> Node::admit(const Transaction& tx, ByteView bytes, const std::optional<TxSource>& from,
                            bool signature_checked) {
  auto added = [&] {
    std::unique_lock lock(pool_mu_);
    return mempool_->add(tx, chain_->state(), signature_checked);
  }();
  if (!added) return added.error();
  relay(bytes, from);
  update_live();
  schedule_ready_check();
  return added->id;
}

bool Node::peer_is_validator(const std::optional<PublicKey>& peer_validator_key) const {
  return peer_validator_key && chain_->validators().power_of(*peer_validator_key).has_value();
}

// Validators keep direct links to each other (every vote travels on them).
// A node that admits a transaction from a client or from a peer that is
// not a validator sends it to every peer; one that got it from a validator
// passes it on only to the peers that are not validators, which may have
// no link to that one. So a validator receives each transaction once
// rather than from every other validator; one that missed it (a full send
// queue, a link down) gets it from regossip() or checks it in the block.
void Node::relay(ByteView tx_bytes, const std::optional<TxSource>& from) {
  if (!from || !peer_is_validator(from->validator_key)) {
    p2p_->broadcast(kFrameTx, tx_bytes, from ? std::optional(from->peer) : std::nullopt);
    return;
  }
  for (const auto& [id, p] : peer_heights_)
    if (id != from->peer && !peer_is_validator(p.validator_key)) p2p_->send(id, kFrameTx, tx_bytes);
}

// A peer's transaction: checked on the verify pool, in the order the peer
// sent them (a sender's nonces arrive in order, and the mempool refuses a
// gap), then admitted on this thread.
void Node::on_peer_tx(const PeerInfo& peer, ByteView body) {
  auto& q = peer_txs_[peer.id];
  if (!q) q = std::make_shared<PeerTxs>(*verify_pool_);
  if (q->queued_bytes + body.size() > kMaxPeerTxQueueBytes) {
    stats_.peer_txs_dropped++;
    return;
  }
  q->queued_bytes += body.size();
  bool post = false;
  {
    std::lock_guard lock(q->mu);
    q->pending.emplace_back(body.begin(), body.end());
    post = !std::exchange(q->scheduled, true);
  }
  // One job takes whatever has arrived from this peer meanwhile, and hands
  // the consensus thread one batch: a thread is woken per batch, not per
  // transaction.
  if (post) q->strand->post([this, q, from = TxSource{peer.id, peer.validator_key}] { check_peer_txs(q, from); });
}

void Node::check_peer_txs(const std::shared_ptr<PeerTxs>& q, const TxSource& from) {
  std::vector<Bytes> batch;
  {
    std::lock_guard lock(q->mu);
    batch.swap(q->pending);
    q->scheduled = false;
  }
  struct Checked {
    Transaction tx;
    Bytes bytes;
    Hash256 id;
  };
  std::vector<std::variant<Checked, Error>> out;  // in the peer's order
  for (auto& bytes : batch) {
    q->queued_bytes -= bytes.size();
    auto tx = decode_transaction(bytes);
    if (!tx) {
      out.emplace_back(make_error("malformed-tx", tx.error().to_string()));
      continue;
    }
    auto id = precheck_->check(*tx, bytes, /*from_peer=*/true);
    if (!id) {
      if (id.error().reason != "tx-known") out.emplace_back(id.error());  // else a copy of one on its way or known
      continue;
    }
    out.emplace_back(Checked{std::move(*tx), std::move(bytes), *id});
  }
  if (out.empty()) return;
  clock_->post([this, from, out = std::move(out)] {
    for (const auto& item : out) {
      if (stopped_) return;
      if (const auto* c = std::get_if<Checked>(&item)) admit_from_peer(from, c->tx, c->bytes, c->id);
      else refused_from_peer(from.peer, std::get<Error>(item));
    }
  });
}

void Node::admit_from_peer(const TxSource& from, const Transaction& tx, const Bytes& bytes, const Hash256& id) {
  auto r = admit(tx, bytes, from, /*signature_checked=*/true);
  if (!r) {
    if (r.error().reason == "nonce-gap") {
      // Its predecessor is probably on another peer's queue: keep it.
      auto key = std::make_pair(tx.sender, tx.nonce);
      if (orphans_.emplace(key, Orphan{tx, bytes, id, from}).second) {
        orphan_order_.push_back(key);
        orphan_bytes_ += bytes.size();
        while (orphan_order_.size() > kMaxOrphans || orphan_bytes_ > kMaxOrphanBytes) {
          if (auto it = orphans_.find(orphan_order_.front()); it != orphans_.end()) drop_orphan(it);
          orphan_order_.pop_front();
        }
      }
    } else if (r.error().reason != "tx-known") {
      precheck_->release(id);  // an honest race, maybe: a copy may try again
    }
    return;
  }
  adopt_orphans(tx.sender, tx.nonce + 1);
}

void Node::drop_orphan(std::map<std::pair<PublicKey, std::uint64_t>, Orphan>::iterator it) {
  precheck_->release(it->second.id);  // a copy from a peer may be offered again
  orphan_bytes_ -= it->second.bytes.size();
  orphans_.erase(it);  // its place in orphan_order_ goes when it comes up
}

// Admits `sender`'s orphans from nonce `next` on, while they follow on.
void Node::adopt_orphans(const PublicKey& sender, std::uint64_t next) {
  for (;; ++next) {
    auto it = orphans_.find({sender, next});
    if (it == orphans_.end()) return;
    Orphan o = std::move(it->second);
    orphan_bytes_ -= o.bytes.size();
    orphans_.erase(it);
    auto again = admit(o.tx, o.bytes, o.from, /*signature_checked=*/true);
    if (!again) {
      if (again.error().reason != "tx-known") precheck_->release(o.id);
      return;
    }
  }
}

// After a commit: a sender's predecessor may have come in the block rather
// than through this pool. Drops what is now stale, adopts what follows on.
void Node::retry_orphans() {
  std::set<PublicKey> senders;
  for (const auto& entry : orphans_) senders.insert(entry.first.first);
  for (const auto& sender : senders) {
    std::uint64_t next = 0;
    if (auto pending = mempool_->next_nonce(sender)) {
      next = *pending;
    } else {
      auto account = contracts::load_account(chain_->state(), sender);
      if (!account) continue;
      next = account->nonce;
    }
    for (auto it = orphans_.lower_bound({sender, 0}); it != orphans_.end() && it->first.first == sender &&
                                                       it->first.second < next;)
      drop_orphan(it++);
    adopt_orphans(sender, next);
  }
}

void Node::refused_from_peer(std::uint64_t peer, const Error& e) {
  if (stopped_) return;
  stats_.invalid_txs[e.reason]++;
  // An honest peer relays only transactions that passed these checks.
  if (!blameable(e.reason)) return;
  stats_.peers_dropped_invalid_txs++;
  p2p_->disconnect(peer, "invalid transaction (" + e.reason + "): " + e.detail);
}

// --- peers ---------------------------------------------------------------------------------

void Node::on_connected(const PeerInfo& peer) {
  live_.peers = p2p_->peers().size();
  peer_heights_[peer.id] = PeerSync{0, peer.validator_key};
  send_status(peer.id);
  for (const auto& [id, e] : evidence_.pending()) p2p_->send(peer.id, kFrameEvidence, encode(e));
}

// The highest height a connected peer said it has, for `status` (catching_up).
void Node::note_peer_height() {
  std::uint64_t best = 0;
  for (const auto& [id, p] : peer_heights_) best = std::max(best, p.height);
  live_.peer_height = best;
}

void Node::on_disconnected(const PeerInfo& peer) {
  live_.peers = p2p_->peers().size();
  peer_heights_.erase(peer.id);
  note_peer_height();
  peer_txs_.erase(peer.id);  // queued jobs keep their own reference
  if (sync_peer_ == peer.id) sync_peer_.reset();
}

bool Node::on_frame(const PeerInfo& peer, std::uint8_t type, ByteView body, std::string& reason) {
  if (stopped_) return true;
  switch (type) {
    case kFrameConsensus: {
      // Decoded once, here: the engine takes the message as it is.
      auto m = consensus::decode_message(body);
      if (!m) {
        run(engine_->on_message(peer.validator_key.value_or(peer.node_key), body));  // counts it malformed
        reason = "malformed consensus message";
        return false;
      }
      if (const Vote* v = std::get_if<Vote>(&*m)) note_late_commit(*v);
      run(engine_->on_message(peer.validator_key.value_or(peer.node_key), std::move(*m)));
      return true;
    }
    case kFrameTx:
      on_peer_tx(peer, body);
      return true;
    case kFrameStatus: {
      Reader r(body);
      const std::uint64_t height = r.varint();
      (void)r.fixed<32, HashTag>();  // the peer's tip hash: informational
      if (!r.finish()) {
        reason = "malformed status";
        return false;
      }
      peer_heights_[peer.id].height = height;
      peer_heights_[peer.id].heard = true;
      note_peer_height();
      maybe_request_blocks();
      return true;
    }
    case kFrameGetBlocks:
      serve_blocks(peer, body);
      return true;
    case kFrameGetSnapshots:
      serve_snapshots(peer);
      return true;
    case kFrameGetChunk:
      serve_chunk(peer, body);
      return true;
    case kFrameGetHandoffs:
      serve_handoffs(peer, body);
      return true;
    case kFrameSnapshots:
    case kFrameChunk:
    case kFrameHandoffs:
      return true;  // answers for a node that is state-syncing (node/state_sync.h): not asked by a running node
    case kFrameBlocks:
      return on_blocks(peer, body, reason);
    case kFrameEvidence: {
      auto e = decode_exact<DoubleSignEvidence>(body);
      if (!e) {
        reason = "malformed evidence";
        return false;
      }
      if (auto s = add_evidence(*e, peer.id); !s) {
        // Stale or already punished: a race, not a lie. Forged: drop it.
        const auto& r = s.error().reason;
        if (r == "evidence-bad-signature" || r == "evidence-not-conflicting") {
          reason = "forged evidence: " + r;
          return false;
        }
      }
      return true;
    }
    default:
      reason = "unknown frame type " + std::to_string(type);
      return false;
  }
}

void Node::send_status(std::optional<std::uint64_t> peer) {
  Writer w;
  w.varint(chain_->tip().height);
  w.fixed(chain_->tip().block_hash);
  if (peer)
    p2p_->send(*peer, kFrameStatus, w.data());
  else
    p2p_->broadcast(kFrameStatus, w.data());
}

void Node::status_tick() {
  if (stopped_) return;
  send_status(std::nullopt);
  maybe_request_blocks();
  regossip();
  publish_metrics();
  status_timer_.arm_after(kStatusInterval, [this] { status_tick(); });
}

void Node::regossip() {
  const auto now = clock_->now();
  std::size_t sent = 0;
  // The pool's head, in the order blocks take it (per sender by nonce).
  mempool_->visit_selection(kRegossipPerTick, std::numeric_limits<std::size_t>::max(),
                            [&](const Transaction& tx, const Hash256& id) {
                              auto [it, fresh] = gossiped_at_.try_emplace(id, now);
                              if (fresh || now - it->second < kRegossipAfter) return;
                              it->second = now;
                              p2p_->broadcast(kFrameTx, encode(tx));
                              ++sent;
                            });
  // Forget what left the pool.
  for (auto it = gossiped_at_.begin(); it != gossiped_at_.end();)
    it = mempool_->contains(it->first) ? std::next(it) : gossiped_at_.erase(it);
  if (sent) log_.debug("regossiped", Fields().add("txs", sent));
}

void Node::maybe_request_blocks() {
  if (sync_peer_ && clock_->now() - sync_sent_ < kSyncTimeout) return;
  sync_peer_.reset();
  const std::uint64_t committed = chain_->tip().height;
  std::optional<std::uint64_t> best;
  std::uint64_t best_height = committed;
  for (const auto& [id, s] : peer_heights_)
    if (s.height > best_height) {
      best = id;
      best_height = s.height;
    }
  if (!best) return;
  if (p2p_->send(*best, kFrameGetBlocks, encode_get_blocks(committed + 1, kMaxBlocksPerRequest))) {
    sync_peer_ = best;
    sync_sent_ = clock_->now();
    log_.debug("sync-request", Fields().add("from", committed + 1).add("peer_height", best_height));
  }
}

// Read from the committed view on the verify pool, so that peers asking
// for blocks (a syncing node, or one that asks too often) never cost the
// consensus thread more than the send; at most one request per peer is
// served at a time, others wait their turn on that peer's queue.
void Node::serve_on_pool(const PeerInfo& peer, std::function<void()> job) {
  auto& q = peer_txs_[peer.id];
  if (!q) q = std::make_shared<PeerTxs>(*verify_pool_);
  if (q->block_requests >= kMaxBlockRequestsQueued) return;  // it asks faster than it reads: drop
  q->block_requests++;
  q->strand->post([q, job = std::move(job)] {
    q->block_requests--;
    job();
  });
}

void Node::serve_snapshots(const PeerInfo& peer) {
  std::vector<state::SnapshotManifest> offered;
  if (snapshots_)
    for (auto& m : snapshots_->list()) {
      if (offered.size() >= kMaxSnapshotsOffered) break;
      offered.push_back(std::move(m));
    }
  Bytes body = encode_snapshots(offered);
  if (body.size() + 1 > p2p::kDefaultMaxFrameBytes) body = encode_snapshots({offered.front()});
  p2p_->send(peer.id, kFrameSnapshots, body);
}

void Node::serve_chunk(const PeerInfo& peer, ByteView body) {
  auto request = decode_get_chunk(body);
  if (!request) return;
  serve_on_pool(peer, [this, peer = peer.id, request = *request] {
    std::optional<Bytes> chunk;
    if (snapshots_) {
      auto read = snapshots_->chunk(request.height, request.index);
      if (read) {
        chunk = std::move(*read);
      } else {
        // Never served: the snapshot is dropped, the peer asks another.
        live_.snapshot_errors++;
        auto kept = snapshots_->list();
        live_.snapshot_height = kept.empty() ? 0 : kept.front().height;
        log_.error("snapshot-damaged", Fields().add("height", request.height).add("error", read.error().to_string()));
      }
    }
    clock_->post([this, peer, frame = encode_chunk(request.height, request.index, chunk)] {
      if (!stopped_) p2p_->send(peer, kFrameChunk, frame);
    });
  });
}

void Node::serve_handoffs(const PeerInfo& peer, ByteView body) {
  auto request = decode_get_blocks(body);
  if (!request) return;
  serve_on_pool(peer, [this, peer = peer.id, request = *request, view = view()] {
    auto page = view->handoffs(request.from, request.max);  // at most kMaxHandoffPage
    if (!page) log_.warn("handoffs-unreadable", Fields().add("error", page.error().to_string()));
    clock_->post([this, peer, frame = encode_handoffs(page ? *page : std::vector<ValidatorHandoff>{})] {
      if (!stopped_) p2p_->send(peer, kFrameHandoffs, frame);
    });
  });
}

// A snapshot at each snapshot_interval-th height, written on the verify
// pool from the view published at that commit (a store snapshot: later
// commits do not change it), one job at a time: a height whose job would
// overlap the last one's is skipped (logged).
void Node::schedule_snapshot() {
  const std::uint64_t interval = config_.storage.snapshot_interval;
  const std::uint64_t height = chain_->tip().height;
  if (!snapshots_ || interval == 0 || height == 0 || height % interval != 0) return;
  if (snapshotting_.exchange(true)) {
    log_.warn("snapshot-skipped", Fields().add("height", height).add("detail", "the previous snapshot is still being written"));
    return;
  }
  prune_queue_->post([this, view = view()] {
    const auto started = std::chrono::steady_clock::now();
    auto m = snapshots_->write(*view, state::kSnapshotChunkBytes, &cancel_snapshot_);
    if (m) {
      live_.snapshots_written++;
      live_.snapshot_height = m->height;
      log_.info("snapshot-written",
                Fields()
                    .add("height", m->height)
                    .add("entries", m->entries)
                    .add("chunks", m->chunks.size())
                    .add("ms", std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                                     started)
                                   .count()));
    } else {
      live_.snapshot_errors++;
      log_.warn("snapshot-failed", Fields().add("height", view->tip().height).add("error", m.error().to_string()));
    }
    snapshotting_ = false;
  });
}

void Node::serve_blocks(const PeerInfo& peer, ByteView body) {
  auto request = decode_get_blocks(body);
  if (!request || request->from == 0) return;
  serve_on_pool(peer, [this, peer = peer.id, request = *request, view = view()] {
    const std::uint64_t from = request.from;
    const std::uint64_t max = std::min<std::uint64_t>(request.max, kMaxBlocksPerRequest);
    std::vector<Bytes> items;
    std::size_t bytes = 0;
    for (std::uint64_t h = from; h < from + max && h <= view->tip().height; ++h) {
      auto d = decision_at(*view, h);
      if (!d && snapshots_) d = snapshots_->base(h);  // a snapshot's block, pruned from the chain
      if (!d) break;
      Bytes m = consensus::encode_message(*d);
      if (!items.empty() && bytes + m.size() > kMaxBlocksFrameBytes) break;
      bytes += m.size();
      items.push_back(std::move(m));
    }
    clock_->post([this, peer, frame = encode_blocks(items)] {
      if (!stopped_) p2p_->send(peer, kFrameBlocks, frame);
    });
  });
}

bool Node::on_blocks(const PeerInfo& peer, ByteView body, std::string& reason) {
  if (sync_peer_ == peer.id) sync_peer_.reset();
  auto items = decode_blocks(body);
  if (!items) {
    reason = "malformed blocks frame";
    return false;
  }
  std::size_t taken = 0;
  for (ByteView item : *items) {
    auto m = consensus::decode_message(item);
    auto* d = m ? std::get_if<consensus::Decision>(&*m) : nullptr;
    if (!d) {
      reason = "blocks frame holds something other than a decision";
      return false;
    }
    const std::uint64_t h = d->block.header.height;
    const std::uint64_t committed = chain_->tip().height;
    if (h <= committed) continue;  // the engine got there first
    if (h != committed + 1) {
      reason = "blocks out of order";
      return false;
    }
    const auto invalid = engine_->drops().invalid;
    run(engine_->on_message(peer.validator_key.value_or(peer.node_key), item));
    if (stopped_) return true;
    if (chain_->tip().height != h) {
      if (engine_->drops().invalid > invalid) {
        reason = "block " + std::to_string(h) + " failed its certificate or execution";
        return false;
      }
      break;  // not taken for another reason (e.g. the set is unknown): ask again later
    }
    stats_.synced_blocks++;
    taken++;
  }
  // Nothing new from it: whatever its status said, it has nothing above
  // our tip to give until its next status. Without this, a peer that
  // claims a height it never serves (an empty answer each time) stayed the
  // best and was asked again at once, a request per round trip, and no
  // other peer was ever asked (found by tests/node/node_simulation.cpp).
  if (taken == 0)
    if (auto it = peer_heights_.find(peer.id); it != peer_heights_.end())
      it->second.height = std::min(it->second.height, chain_->tip().height);
  maybe_request_blocks();
  return true;
}

}  // namespace verity::node
