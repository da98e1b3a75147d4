#pragma once
// The running node. One thread, the consensus thread (the io_context's),
// owns consensus, block execution, commit, the mempool and the peer links:
//
//   peer links (P2P) --frames--> Node --> Engine (PBFT) --> Chain (LevelDB)
//                                  \--> Mempool <-- transactions
//
// The Node implements the engine's ConsensusApp on state::Chain (check =
// execute without writing, commit = one synced batch) and feeds it messages
// from peers, timer events and "ready to propose" events; it sends what the
// engine outputs. Only the consensus thread changes any of it (CometBFT's
// rule: one routine changes consensus state; networking feeds it).
//
// Other threads (docs/node.md, "Threads") never make it wait on their work:
//   - the verify pool (as many threads as cores) checks transactions from
//     peers before they reach the consensus thread (node/admission.h), in
//     order per peer, and helps check the signatures of blocks;
//   - RPC handler threads read view() (a consistent snapshot of the
//     committed chain, replaced at each commit), live(), metrics_snapshot()
//     and the mempool's lookups, and submit through submit_async(), which
//     checks on the caller's thread and queues the rest.
//
// Frames on peer links (type byte, then the canonical body):
//   1 consensus   a consensus::Message, to the engine
//   2 tx          a Transaction, to the mempool; gossiped on once admitted
//   3 status      {height, tip hash}: sent on connect and every second
//   4 get_blocks  {from, max}: asks for committed blocks
//   5 blocks      a list of Decisions (block + commit certificate)
//   6 evidence    a DoubleSignEvidence, to the evidence pool; gossiped on
//                 once checked (forged evidence drops the peer)
//   7..12         state sync: the snapshots it keeps, their chunks, the
//                 validator-set hand-offs (node/state_sync.h); served on
//                 the verify pool, like get_blocks
// A peer that sends a frame that does not decode, or blocks whose
// certificate or execution fails, is dropped and logged.
//
// Sync: when a peer's status shows a higher height, the node asks it for
// the missing blocks (64 at a time) and hands each, with its certificate, to
// the engine as a Decision, which checks the certificate against the
// validator set of its height (Chain::validators(): the set the epoch rules
// give for the next block) and re-executes the block before committing it.
// A fresh full node syncs from genesis the same way.

#include <utility>  // before Boost.Asio: its awaitable.hpp uses std::exchange

#include <boost/asio.hpp>
#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <mutex>
#include <optional>
#include <shared_mutex>

#include "consensus/engine.h"
#include "contracts/native.h"
#include "node/admission.h"
#include "node/clock.h"
#include "node/module_meter.h"
#include "node/config.h"
#include "node/log.h"
#include "node/evidence_pool.h"
#include "node/mempool.h"
#include "node/p2p.h"
#include "node/safety_file.h"
#include "node/snapshots.h"
#include "node/transport.h"
#include "node/workers.h"
#include "state/chain.h"

namespace verity::node {

// Where an operator reads what to do about a damaged chain database, for
// the errors that meet one (store-corrupt).
inline constexpr std::string_view kDamagedStoreHint =
    "docs/operators.md, \"A damaged data directory\", says how to recover";

enum FrameType : std::uint8_t {
  kFrameConsensus = 1,
  kFrameTx = 2,
  kFrameStatus = 3,
  kFrameGetBlocks = 4,
  kFrameBlocks = 5,
  kFrameEvidence = 6,
  // State sync (node/state_sync.h has the bodies).
  kFrameGetSnapshots = 7,
  kFrameSnapshots = 8,
  kFrameGetChunk = 9,
  kFrameChunk = 10,
  kFrameGetHandoffs = 11,
  kFrameHandoffs = 12,
};

// The set changes after each block whose height is a multiple of
// `epoch_blocks`. With the chain at `committed`, the set that certifies
// committed + 1 also certifies every height up to the first such boundary
// at or after committed + 1; above it the set is not known yet.
inline std::uint64_t last_height_of_next_set(std::uint64_t committed, std::uint64_t epoch_blocks) {
  return (committed + epoch_blocks) / epoch_blocks * epoch_blocks;
}

// Bodies of the sync frames (shared with bench/node_load, which polls
// committed blocks the same way).
inline constexpr std::uint64_t kMaxBlocksPerRequest = 64;
struct GetBlocks {
  std::uint64_t from = 0, max = 0;
};
Bytes encode_get_blocks(std::uint64_t from, std::uint64_t max);
std::optional<GetBlocks> decode_get_blocks(ByteView body);
// `messages`: encoded consensus Decisions, at most kMaxBlocksPerRequest.
Bytes encode_blocks(const std::vector<Bytes>& messages);
// The encoded messages, or nullopt when the body is malformed.
std::optional<std::vector<ByteView>> decode_blocks(ByteView body);

struct NodeStats {
  std::uint64_t committed_txs = 0;
  std::uint64_t view_changes = 0;
  std::uint64_t synced_blocks = 0;
  std::uint64_t peer_txs_dropped = 0;   // a peer's unchecked transactions over kMaxPeerTxQueueBytes
  std::uint64_t peers_dropped_invalid_txs = 0;  // peers disconnected for sending an invalid transaction
  std::map<std::string, std::uint64_t> invalid_txs;  // refused before the mempool, by reason (peers and clients)
  std::uint64_t evidence_pending = 0;
  std::uint64_t evidence_committed = 0;   // offences punished by blocks this node committed
  std::uint64_t foreign_own_votes = 0;    // votes under this node's key it did not sign
};

// Figures other threads read without waiting for the consensus thread.
struct LiveStatus {
  std::atomic<std::uint64_t> view{0};
  std::atomic<std::uint64_t> peers{0};
  std::atomic<std::uint64_t> mempool_txs{0};
  std::atomic<std::uint64_t> mempool_bytes{0};
  std::atomic<bool> is_validator{false};
  std::atomic<std::uint64_t> pending_admissions{0};  // submit_async calls queued for the consensus thread
  std::atomic<bool> signing_held{false};               // the double-sign check holds signatures
  std::atomic<std::uint64_t> double_sign_check_watched{0};
  std::atomic<bool> another_instance{false};
  std::atomic<std::uint64_t> peer_height{0};  // the highest height a connected peer said it has
  std::atomic<std::uint64_t> pruned_nodes{0};    // state-map nodes pruned since start
  std::atomic<std::uint64_t> pruned_heights{0};  // orphan lists (heights) pruned since start
  std::atomic<std::uint64_t> pruned_blocks{0};   // blocks (with certificates and receipts) pruned since start
  std::atomic<std::uint64_t> prune_errors{0};
  std::atomic<std::uint64_t> snapshots_written{0};  // state snapshots written since start
  std::atomic<std::uint64_t> snapshot_errors{0};    // snapshot jobs that failed, damaged chunks found
  std::atomic<std::uint64_t> snapshot_height{0};    // the newest snapshot kept (0: none)
};

// What /metrics shows of the consensus thread's counters: copied there
// every status tick (each second) and at each commit.
struct MetricsSnapshot {
  NodeStats stats;
  MempoolCounters mempool;
};

// Unchecked transactions a peer may have queued at the verify pool; more
// are dropped (and counted) until it catches up.
inline constexpr std::size_t kMaxPeerTxQueueBytes = 16 * 1024 * 1024;
inline constexpr std::size_t kMaxOrphans = 10'000;
// get_blocks requests of one peer queued at the verify pool; more are dropped.
inline constexpr int kMaxBlockRequestsQueued = 2;
inline constexpr std::size_t kMaxOrphanBytes = 16 * 1024 * 1024;
// How much lower than the consensus thread's the pools' threads run
// (make_background_pool): the verify pool, and verityd's RPC handlers.
inline constexpr int kVerifyPoolNice = 5;
inline constexpr int kRpcPoolNice = 3;
// A committed block with at least this many transactions means load: the
// next primary paces its proposal (consensus.busy_block_pause_ms).
inline constexpr std::size_t kBusyBlockTxs = 4;
// submit_async calls that passed their checks and wait for the consensus
// thread; more are refused with "node-busy".
inline constexpr std::size_t kMaxPendingAdmissions = 10'000;
// State-map nodes one pruning job looks at, at most (whole orphan lists).
inline constexpr std::size_t kPruneBudget = 20'000;

// The home's pieces that open() reads, for the commands that work on a
// stopped node's data (verityd rollback, export): the genesis file, the
// chain database (reasons "store-locked", with a hint that another verityd
// runs there, "store-corrupt", with a pointer to the recovery docs, other
// store errors), and the chain's options from [storage].
Result<Genesis> read_genesis(const Config& config);
Result<std::unique_ptr<state::KvStore>> open_chain_store(const Config& config);
state::ChainOptions chain_options(const Config& config);
// The peer links [p2p] describes (reason "bad-config": a persistent peer
// that does not parse): the node's, and state sync's (node/state_sync.h).
Result<P2PConfig> p2p_config(const Config& config, const std::string& chain_id, const SecretKey& node_key,
                             const std::optional<SecretKey>& validator_key);

// What open() reads from the home directory, given directly (the node
// simulation builds these in memory).
struct NodeParts {
  Genesis genesis;
  SecretKey node_key;
  std::optional<SecretKey> validator_key;
  std::unique_ptr<state::KvStore> store;
  // Opened once the chain is: reasons "safety-state-corrupt", "io-error".
  std::function<Result<std::unique_ptr<SafetyRecord>>()> open_safety;
  // Where state snapshots are kept (node/snapshots.h); none: the node
  // writes and offers none.
  std::optional<std::filesystem::path> snapshot_dir;
};

// The seams (docs/node.md, "Seams"): the clock and event loop, the work
// off the consensus thread, the peer links (made for the node, which is
// their handler). open() on an io_context uses AsioClock, PoolWorkers and
// P2P.
struct NodeEnv {
  std::unique_ptr<Clock> clock;
  std::unique_ptr<Workers> workers;
  std::function<Result<std::unique_ptr<Transport>>(P2PHandler& handler)> make_transport;
};

class Node final : public consensus::ConsensusApp, public P2PHandler {
 public:
  // Opens the database, the safety record and the keys named by `config`.
  // Reasons: the config's, the key files', "genesis-missing", "bad-genesis",
  // "genesis-mismatch", "store-open-failed" (e.g. another node runs on this
  // home), "safety-state-corrupt".
  // `key_passphrase` decrypts encrypted key files (cli/key_file.h).
  // `genesis`: the genesis file's content when the caller has read it
  // already (a large genesis takes seconds to parse and check).
  static Result<std::unique_ptr<Node>> open(boost::asio::io_context& io, const Config& config, Logger& logger,
                                            std::optional<std::string> key_passphrase = std::nullopt,
                                            std::optional<Genesis> genesis = std::nullopt);
  // The same from parts and seams given directly: `config` is read for
  // its consensus and mempool settings (and logged names), not for files.
  static Result<std::unique_ptr<Node>> open(const Config& config, Logger& logger, NodeParts parts, NodeEnv env);
  ~Node() override;

  // Listens, dials peers and starts consensus. Reason "listen-failed".
  Status start();
  // Stops timers and peer links; io_context::run() then returns. `hook`
  // runs once when the node stops, whoever stopped it (main cancels its
  // signal handlers there).
  void stop();
  void on_stop(std::function<void()> hook) { stop_hook_ = std::move(hook); }
  // Set when the node stopped itself on a local fault (the disk failed).
  const std::optional<Error>& fatal() const { return fatal_; }

  // A transaction from a client, from any thread: the checks of
  // node/admission.h run on the calling thread, then admission to the
  // mempool (and gossip) is queued for the consensus thread.
  // `done` runs once, on the calling thread when a check refuses it, else
  // on the consensus thread (so it must not block). Extra reasons:
  // "node-busy" (kMaxPendingAdmissions queued), "shutting-down".
  using SubmitDone = std::function<void(Result<Hash256>)>;
  void submit_async(Transaction tx, SubmitDone done);

  // --- for any thread ---
  // The committed chain at the last commit (its store snapshot).
  std::shared_ptr<const state::ChainView> view() const;
  const LiveStatus& live() const { return live_; }
  MetricsSnapshot metrics_snapshot() const;
  // The mempool's lookups: a pending transaction, a sender's next nonce.
  std::optional<Transaction> pending_tx(const Hash256& id) const;
  std::optional<std::uint64_t> pending_next_nonce(const PublicKey& sender) const;
  const TxPrecheck& precheck() const { return *precheck_; }
  const SandboxModuleMeter& module_meter() const { return meter_; }
  // The contracts (const, any thread: `simulate` runs transactions with them).
  const contracts::NativeContracts& contracts() const { return app_; }

  const state::Chain& chain() const { return *chain_; }
  const Mempool& mempool() const { return *mempool_; }
  const consensus::Engine& engine() const { return *engine_; }
  const NodeStats& stats() const { return stats_; }
  const Config& config() const { return config_; }
  std::uint16_t p2p_port() const { return p2p_->listen_port(); }
  const PublicKey& node_id() const { return p2p_->node_key(); }
  std::size_t peer_count() const { return p2p_->peers().size(); }
  const Transport& transport() const { return *p2p_; }
  const Clock& clock() const { return *clock_; }
  std::optional<PublicKey> validator_key() const {
    return validator_key_ ? std::optional<PublicKey>(validator_key_->public_key()) : std::nullopt;
  }
  bool is_validator() const;
  // Called after each committed block with its receipts and the events of
  // its block hooks (task assignment, settlement): the RPC server's
  // send_tx_commit and subscriptions.
  using CommitListener =
      std::function<void(const Block&, const std::vector<Receipt>&, const std::vector<Event>& block_events)>;
  void on_commit(CommitListener listener) { commit_listener_ = std::move(listener); }

  // consensus::ConsensusApp
  std::uint64_t committed_height() const override;
  std::optional<ValidatorSet> validators_for(std::uint64_t height) const override;
  Block propose(std::uint64_t height, std::uint64_t view) override;
  bool ready_to_propose(std::uint64_t height) override;
  Status check(const Block& block) override;
  Status commit(const Block& block, const CommitCertificate& certificate) override;
  std::optional<consensus::Decision> decision(std::uint64_t height) const override;

  // P2PHandler
  void on_connected(const PeerInfo& peer) override;
  void on_disconnected(const PeerInfo& peer) override;
  bool on_frame(const PeerInfo& peer, std::uint8_t type, ByteView body, std::string& reason) override;

 private:
  Node(const Config& config, Logger& logger, std::unique_ptr<Clock> clock);

  void run(consensus::Output out);
  void arm_engine_timer(const consensus::TimerRequest& t);
  void schedule_ready_check();
  bool waiting_for_peers(std::uint64_t height) const;
  void on_committed(const consensus::Committed& c);
  void status_tick();
  void send_status(std::optional<std::uint64_t> peer);
  void maybe_request_blocks();
  void regossip();
  bool on_blocks(const PeerInfo& peer, ByteView body, std::string& reason);
  void serve_blocks(const PeerInfo& peer, ByteView body);
  // State sync (node/state_sync.h): what this node offers a joining one.
  void serve_snapshots(const PeerInfo& peer);
  void serve_chunk(const PeerInfo& peer, ByteView body);
  void serve_handoffs(const PeerInfo& peer, ByteView body);
  // Runs `job` on the peer's verify-pool strand, at most
  // kMaxBlockRequestsQueued at a time per peer (more are dropped).
  void serve_on_pool(const PeerInfo& peer, std::function<void()> job);
  void schedule_snapshot();
  void fail(const Error& e);
  // A transaction's way in: a peer, with the validator key its Hello
  // proved (if any); nullopt stands for a client of this node.
  struct TxSource {
    std::uint64_t peer = 0;
    std::optional<PublicKey> validator_key;
  };
  Result<Hash256> admit(const Transaction& tx, ByteView bytes, const std::optional<TxSource>& from,
                        bool signature_checked);
  void relay(ByteView tx_bytes, const std::optional<TxSource>& from);
  bool peer_is_validator(const std::optional<PublicKey>& peer_validator_key) const;
  void on_peer_tx(const PeerInfo& peer, ByteView body);
  struct PeerTxs;
  void check_peer_txs(const std::shared_ptr<PeerTxs>& q, const TxSource& from);
  void refused_from_peer(std::uint64_t peer, const Error& e);
  void admit_from_peer(const TxSource& from, const Transaction& tx, const Bytes& bytes, const Hash256& id);
  struct Orphan;
  void adopt_orphans(const PublicKey& sender, std::uint64_t next);
  void retry_orphans();
  void schedule_prune();
  void publish_view();
  void publish_metrics();
  void update_live();
  std::set<Hash256> verify_block_signatures(const Block& block);
  state::ExecutionOptions execution_options() const;
  void note_late_commit(const Vote& v);
  // Double-sign evidence from the engine (from_peer nullopt) or a peer:
  // checked against the committed state, kept and gossiped on. Reasons
  // those of contracts::check_evidence.
  Status add_evidence(const DoubleSignEvidence& e, std::optional<std::uint64_t> from_peer);
  std::vector<DoubleSignEvidence> evidence_for_block(std::uint64_t height);
  // The double-sign check (docs/operators.md, "Restoring a validator").
  void watch_double_sign_check(const consensus::Committed& c);
  void count_double_sign_round(std::uint64_t height);
  void on_foreign_own_vote(const Vote& v);
  CommitCertificate with_late_commits(CommitCertificate cert) const;
  // Whether the primary should still hold its proposal for the next height
  // (consensus.last_commit_grace_ms): the grace since the last commit has
  // not run out, and a validator of the tip's set whose commit vote is
  // expected has not sent it yet.
  bool awaiting_tip_commits() const;
  // Whether the primary still paces its proposal after a busy block
  // (consensus.busy_block_pause_ms), and until when.
  std::optional<Clock::TimePoint> busy_pause_until() const;

  Config config_;
  Log log_;
  Logger& logger_;
  std::unique_ptr<Clock> clock_;  // before the timers: they cancel on it when they go
  std::unique_ptr<state::KvStore> store_;
  SandboxModuleMeter meter_;
  contracts::NativeContracts app_{&meter_};
  std::unique_ptr<state::Chain> chain_;
  std::optional<SecretKey> validator_key_;
  std::unique_ptr<SafetyRecord> safety_;
  std::unique_ptr<Mempool> mempool_;
  EvidencePool evidence_;
  std::unique_ptr<consensus::Engine> engine_;
  std::unique_ptr<Transport> p2p_;

  // Threads beside the consensus thread (see the top of this file).
  std::unique_ptr<Workers> verify_pool_;
  std::unique_ptr<Workers::Queue> prune_queue_;
  std::atomic<bool> pruning_{false};  // a prune job is queued or running
  std::unique_ptr<SnapshotFiles> snapshots_;
  std::atomic<bool> snapshotting_{false};  // a snapshot job is queued or running
  std::atomic<bool> cancel_snapshot_{false};  // set when the node goes
  std::unique_ptr<TxPrecheck> precheck_;
  struct PeerTxs {  // one peer's transactions on their way through the verify pool, in order
    explicit PeerTxs(Workers& workers) : strand(workers.make_queue()) {}
    std::unique_ptr<Workers::Queue> strand;
    std::atomic<std::size_t> queued_bytes{0};
    std::atomic<int> block_requests{0};  // get_blocks waiting to be served
    std::mutex mu;
    std::vector<Bytes> pending;  // received, not yet taken by a job on the strand
    bool scheduled = false;      // a job on the strand will take `pending`
  };
  std::map<std::uint64_t, std::shared_ptr<PeerTxs>> peer_txs_;
  // Checked transactions from peers that came before their predecessor
  // nonce (they travel on different peers' queues): kept until it is
  // admitted, at most kMaxOrphans (the oldest go first).
  struct Orphan {
    Transaction tx;
    Bytes bytes;
    Hash256 id;
    TxSource from;
  };
  std::map<std::pair<PublicKey, std::uint64_t>, Orphan> orphans_;
  std::deque<std::pair<PublicKey, std::uint64_t>> orphan_order_;
  std::size_t orphan_bytes_ = 0;
  void drop_orphan(std::map<std::pair<PublicKey, std::uint64_t>, Orphan>::iterator it);
  mutable std::shared_mutex pool_mu_;  // the consensus thread holds it to change the mempool; readers share it
  mutable std::mutex published_mu_;
  std::shared_ptr<const state::ChainView> view_;
  MetricsSnapshot metrics_;
  LiveStatus live_;

  ClockTimer engine_timer_;
  std::optional<consensus::TimerRequest> pending_timer_;
  ClockTimer ready_timer_;
  std::optional<Clock::TimePoint> ready_timer_at_;  // when ready_timer_ is set to fire
  bool ready_posted_ = false;
  ClockTimer status_timer_;
  Clock::TimePoint last_commit_time_;
  std::size_t last_commit_txs_ = 0;  // of the block committed then

  std::optional<Hash256> checked_;  // the block whose execution Chain holds, and that passed check()

  struct PeerSync {
    std::uint64_t height = 0;  // what it last said it has
    std::optional<PublicKey> validator_key;  // as its Hello proved
    bool heard = false;        // a status came
  };
  std::map<std::uint64_t, PeerSync> peer_heights_;
  void note_peer_height();
  std::optional<std::uint64_t> sync_peer_;  // a get_blocks in flight to this peer
  Clock::TimePoint sync_sent_;

  // Commit signatures for the tip (the stored certificate's and those that
  // came after it), and that certificate's view; cleared at each commit.
  std::map<PublicKey, Signature> late_commits_;
  std::optional<std::uint64_t> late_cert_view_;
  // Who had signed the block before the tip, as this node saw it when it
  // committed the tip (the certificate and the late votes): the validators
  // a primary waits for (awaiting_tip_commits()). One that was down then is
  // not waited for, so a stopped validator costs no grace at each height.
  std::optional<std::set<PublicKey>> prev_commit_signers_;
  std::uint64_t last_view_ = 0;
  bool was_in_view_change_ = false;
  bool was_held_ = false;                      // the double-sign check held signatures at the last step
  std::uint64_t double_sign_watched_ = 0;      // live heights watched while the check is pending
  std::uint64_t first_live_height_ = 0;        // the first height decided from live votes since the start
  std::uint64_t foreign_vote_logged_height_ = 0;
  std::map<Hash256, Clock::TimePoint> gossiped_at_;  // head of the pool, for regossip()
  NodeStats stats_;
  std::optional<Error> fatal_;
  bool stopped_ = false;
  std::function<void()> stop_hook_;
  CommitListener commit_listener_;
};

}  // namespace verity::node
