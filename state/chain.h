#pragma once
// The committed chain in one KvStore: blocks, certificates, transaction
// receipts, the flat current state, the state map's nodes and the tip.
//
// Keys (all in one LevelDB database per data directory):
//   "m/genesis"        genesis hash        "m/tip"   ChainTip
//   "b/" + be64(h)     block h             "c/" + be64(h)  commit certificate of h
//   "h/" + block hash  be64(h)             "t/" + tx id    TxLocation + receipt
//   "s/" + state key   state value
//   "R/" + hash        a state-map root page
//   "w/" + be64(h) + hash  a state-map page written at h (state/state_map.h)
//   "o/" + be64(h)     the pages the state map at h dropped (for pruning)
//   "i/", "e/", "x/", "y/"                 the history index (state/history.h)
//   "v/" + be64(E)     the validator-set hand-off of epoch block E
//                      (core/light_client.h), written with E and never pruned
//   "u/" + be64(h)     block h's undo record: each state key it changed and
//                      the value before it (rollback(), the state at an
//                      older height); pruned like the state map's versions
//
// commit() writes a block, its indexes, its receipts, its state changes,
// its state map nodes and the new tip in ONE synced LevelDB write batch:
// after a crash at any moment the chain holds the whole block or none of it.
//
// Single writer; reads may run concurrently with each other.

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "core/block.h"
#include "core/genesis.h"
#include "state/execution.h"
#include "state/history.h"
#include "state/kv_store.h"
#include "state/state_map.h"

namespace verity::state {

// At most this many hand-offs in one handoffs() answer (each about 1 KB
// with 4 validators, up to about 100 KB with the largest sets).
inline constexpr std::size_t kMaxHandoffPage = 100;

struct ChainTip {
  std::uint64_t height = 0;  // 0: only genesis
  Hash256 block_hash;        // genesis hash at height 0
  Hash256 state_root;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("height", s.height);
    f("block_hash", s.block_hash);
    f("state_root", s.state_root);
  }
  friend bool operator==(const ChainTip&, const ChainTip&) = default;
};

struct TxRecord {
  Transaction tx;
  Receipt receipt;
};

class ChainView;

// The state at an earlier height, read through the undo records of the
// blocks since (Chain::state_at): the flat state with the values those
// blocks changed put back. For offline commands (verityd export).
class PastState final : public StateReader {
 public:
  PastState(const KvStore& store, std::uint64_t height, std::map<Bytes, std::optional<Bytes>> restored)
      : store_(store), height_(height), restored_(std::move(restored)) {}
  std::uint64_t height() const { return height_; }
  Result<std::optional<Bytes>> get(ByteView key) const override;
  // Every entry whose key starts with `prefix`, ascending, as of height().
  Status scan(ByteView prefix, const std::function<bool(ByteView key, ByteView value)>& visit) const;

 private:
  const KvStore& store_;
  std::uint64_t height_;
  std::map<Bytes, std::optional<Bytes>> restored_;  // key -> value at height_ (nullopt: absent)
};

// Reads of the committed chain kept in a store (blocks, certificates, the
// transaction index): what Chain and ChainView share. Absent: nullopt.
class CommittedReads {
 public:
  explicit CommittedReads(const KvStore& store) : store_(store) {}
  Result<std::optional<Block>> block_at(std::uint64_t height) const;
  Result<std::optional<std::uint64_t>> height_of(const Hash256& block_hash) const;
  Result<std::optional<CommitCertificate>> certificate_at(std::uint64_t height) const;
  Result<std::optional<TxRecord>> transaction(const Hash256& tx_id) const;
  // The validator-set hand-offs of epoch blocks >= from_height, ascending,
  // at most `limit` (and kMaxHandoffPage).
  Result<std::vector<ValidatorHandoff>> handoffs(std::uint64_t from_height, std::size_t limit) const;
  // The undo record of block `height`: each state key the block changed,
  // with its value before the block (nullopt: absent), ascending by key.
  // nullopt: none (pruned, or committed before undo records existed).
  Result<std::optional<std::vector<StateUpdate>>> undo(std::uint64_t height) const;
  // Its receipt alone, without reading its block.
  Result<std::optional<Receipt>> receipt(const Hash256& tx_id) const;
  // The history index (state/history.h): `before` 0 from the newest, else
  // heights below it; newest first, at most `limit` (and kMaxHistoryPage).
  // After the entry `after` when given.
  Result<std::vector<HistoryEntry>> history(ByteView term, std::uint64_t before, std::size_t limit,
                                            std::optional<HistoryCursor> after = std::nullopt) const;
  // How many events concern `term` (read from at most `cap` entries).
  Result<std::uint64_t> history_count(ByteView term, std::uint64_t cap) const;
  Result<std::vector<SeriesPoint>> series(ByteView term, std::uint64_t before, std::size_t limit) const;
  // The events of block `height`'s hooks (none: empty).
  Result<std::vector<Event>> block_events(std::uint64_t height) const;
  // nullopt for a block committed before the index existed, or not at all.
  Result<std::optional<BlockInfo>> block_info(std::uint64_t height) const;

 private:
  const KvStore& store_;
};

// What execute() tells its caller. The receipts and state changes stay in
// the Chain for commit() (last_receipts() has the receipts afterwards):
// handing out a copy of them cost more than anyone used.
struct Executed {
  Hash256 state_root;
};

// What Chain::check() went through.
struct CheckReport {
  std::uint64_t records = 0;        // every key in the store, read with its checksum
  std::uint64_t first_block = 1;    // the oldest block kept (keep_recent_blocks)
  std::uint64_t blocks = 0;         // headers, bodies and certificates checked
  std::uint64_t handoffs = 0;       // validator-set hand-offs followed from genesis
  std::uint64_t state_entries = 0;  // flat state entries matched against the tip's root
  std::uint64_t state_nodes = 0;    // state-map nodes of the tip's version, each rehashed (in their pages)
};

// How a node keeps its state (the [storage] section of its config).
struct ChainOptions {
  // The state-map page cache (state/state_map.h), in bytes.
  std::size_t state_cache_bytes = state::state_cache_bytes(kStateCacheDefaultMb);
  // 0: keep every version of the state map (an archive node). N: each
  // commit lists the nodes its version dropped, and prune() deletes those
  // that no version of the last N heights holds.
  std::uint64_t keep_recent_heights = 0;
  // 0: keep every block. N: prune() deletes blocks (with their
  // certificates, hash index entries and receipts) below the last N; the
  // validator-set hand-offs and the history index stay.
  std::uint64_t keep_recent_blocks = 0;
};

class Chain : public CommittedReads {
 public:
  // The first time, writes the genesis state (one batch); afterwards checks
  // that the store belongs to this genesis. Reasons: "genesis-mismatch",
  // "bad-genesis", "state-corrupt", store errors.
  static Result<std::unique_ptr<Chain>> open(KvStore& store, Genesis genesis, const Application& app,
                                             ChainOptions options = {});
  // State-map pages open() moved from the keys of before 2026-12-05
  // (migrate_hash_led_pages, state/state_map.h); 0 for most opens.
  std::uint64_t migrated_pages() const { return migrated_pages_; }

  // Deletes the state-map nodes that only versions older than the last
  // keep_recent_heights hold (prune_state_nodes, state/state_map.h), with
  // at most about `max_nodes` nodes looked at, their undo records, and
  // blocks older than the last keep_recent_blocks (at most kPruneChunk). The one call that may run
  // on another thread while commit() runs: it shares commit()'s write lock
  // a chunk at a time. Nothing to do without pruning.
  Result<PruneStats> prune(std::size_t max_nodes);

  // Takes the tip block back: the state returns to the height below it
  // (its undo record), and the block, its certificate, its indexes,
  // receipts, history, hand-off, undo record and orphan list are deleted,
  // in one synced write. The node then gets that height again from its
  // peers. For `verityd rollback`, with no node running. Reasons:
  // "nothing-to-roll-back" (at height 1 or 0: wipe the chain instead),
  // "no-undo-record" (pruned, or committed before they existed),
  // "state-pruned" (the state map of the height below is gone), store errors.
  Result<ChainTip> rollback();

  // Walks the whole store against what the chain certifies (verityd
  // check): every record reads with a good checksum; every block from 1 to the tip links to the one below, matches
  // its indexes and its body, and carries a certificate that the set of
  // its height signed, that set followed from the genesis through the
  // stored hand-offs (core/light_client.h); the tip record is the last
  // block; every state-map node of the tip's version is present and hashes
  // to its key; and the flat state is exactly the set of leaves under the
  // tip's state root. Reasons: "chain-broken", "bad-certificate" (+ the
  // light client's reason in the detail), "state-mismatch",
  // "state-node-missing", "state-node-corrupt", store errors
  // ("store-corrupt": a table's checksum). Reads only.
  Result<CheckReport> check() const;

  // The state as of `height` (<= the tip), through the undo records of
  // the blocks above it. Reasons: "bad-height", "no-undo-record" (the state
  // at that height is no longer kept: pruned, or from before undo records).
  Result<PastState> state_at(std::uint64_t height) const;

  // The last step of a state sync (node/state_sync.h): turns a store that
  // holds a state restored from a snapshot (SnapshotRestore), and nothing
  // else, into a chain whose tip is `block`: the genesis record, the block
  // with its certificate and hash index, the tip, and the hand-offs that
  // led to its set, in one synced write. The caller has checked all of it
  // (a light client from the genesis, and the restored root against the
  // block's). The chain then has no blocks, receipts, history or undo
  // records below `block`. Reasons: "bad-snapshot-base" (the block is not
  // of this genesis' chain, or its hand-offs do not lie below it), store
  // errors.
  static Status adopt_snapshot(KvStore& store, const Genesis& genesis, const Block& block,
                               const CommitCertificate& cert, const std::vector<ValidatorHandoff>& handoffs);

  const Genesis& genesis() const { return genesis_; }
  const ChainTip& tip() const { return tip_; }
  // The validator set that must certify the next block, and the one that
  // certified the tip (they differ right after an epoch boundary).
  const ValidatorSet& validators() const { return validators_; }
  const ValidatorSet& tip_validators() const { return tip_validators_; }
  BlockContext context_for(const BlockHeader& header) const;

  // Checks a block against the tip and executes it without writing.
  // Reasons: "wrong-chain-id", "bad-height", "bad-prev-hash",
  // "bad-last-commit" (+ the certificate's reason), and apply_block's.
  Result<Executed> execute(const Block& block, const ExecutionOptions& options = {});
  // Commits a block: its header's state root must be the one execution
  // gives, and `cert` must certify it. Reasons: "bad-state-root",
  // "bad-certificate", store errors (local).
  Status commit(const Block& block, const CommitCertificate& cert);
  // The receipts of the block the last successful commit() wrote.
  const std::vector<Receipt>& last_receipts() const { return last_receipts_; }

  // block_at, height_of, certificate_at, transaction: CommittedReads.
  const StateReader& state() const { return *reader_; }
  // A proof for `key` against tip().state_root.
  Result<StateProof> prove(ByteView key) const { return map_.prove(tip_.state_root, key); }

  // The committed chain as it is now, for readers on other threads: a
  // store snapshot with the tip and validator sets that go with it. Later
  // commits do not change it. It must not outlive this Chain's store.
  std::shared_ptr<const ChainView> view() const;

 private:
  Chain(KvStore& store, Genesis genesis, const Application& app, const ChainOptions& options);
  Status load_validators();
  // prune()'s two parts: the state map's versions with their undo records,
  // and blocks (how many it deleted).
  Result<PruneStats> prune_versions(std::size_t max_nodes);
  Result<std::uint64_t> prune_blocks(std::size_t max_blocks);
  // The lowest height with a stored block (nullopt: none): 1 unless
  // keep_recent_blocks pruned some.
  Result<std::optional<std::uint64_t>> oldest_block() const;
  // The hand-off of an epoch block being committed (core/light_client.h).
  Result<ValidatorHandoff> make_handoff(const BlockHeader& header, const CommitCertificate& cert) const;

  KvStore& store_;
  Genesis genesis_;
  const Application& app_;
  std::unique_ptr<StateReader> reader_;
  StateMap map_;
  ChainTip tip_;
  ValidatorSet validators_;
  ValidatorSet tip_validators_;
  // The execution key of the last block execute() ran, and its outcome,
  // whose state map nodes are still pending in map_.
  std::optional<Hash256> executed_hash_;
  BlockOutcome executed_;
  std::vector<Receipt> last_receipts_;
  const ChainOptions options_;
  // commit()'s store write and prune()'s chunks, one at a time; the tip
  // height for prune() on its thread.
  std::mutex write_mu_;
  std::atomic<std::uint64_t> tip_height_{0};
  std::uint64_t migrated_pages_ = 0;
};

// A consistent read-only view of the committed chain at one tip (Chain::view).
// Every method is const and safe to call from any thread.
class ChainView : public CommittedReads {
 public:
  ChainView(std::shared_ptr<const KvStore> snapshot, const Genesis& genesis, ChainTip tip, ValidatorSet validators,
            ValidatorSet tip_validators);

  const Genesis& genesis() const { return genesis_; }
  const ChainTip& tip() const { return tip_; }
  const ValidatorSet& validators() const { return validators_; }
  const ValidatorSet& tip_validators() const { return tip_validators_; }

  const StateReader& state() const { return *reader_; }
  Result<StateProof> prove(ByteView key) const { return map_.prove(tip_.state_root, key); }
  // The store snapshot itself (state/snapshot.h writes a state snapshot from it).
  const KvStore& store() const { return *store_; }

 private:
  std::shared_ptr<const KvStore> store_;
  const Genesis& genesis_;
  ChainTip tip_;
  ValidatorSet validators_;
  ValidatorSet tip_validators_;
  std::unique_ptr<StateReader> reader_;
  StateMap map_;
};

}  // namespace verity::state
