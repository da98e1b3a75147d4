#pragma once
// The node's history index: what an explorer or a client asks of the past
// that the state (which holds only the present) cannot answer. Written by
// Chain::commit in the block's own write batch, so it is exactly as
// complete as the chain; read through CommittedReads. Not consensus:
// nothing here reaches a hash, and a node that joined without replaying
// the blocks (or an older data directory) lacks the entries of the heights
// it did not commit itself.
//
// Keys (docs/node.md, "History"; hN = be64(~height), newest first):
//   "i/" + be64(h)             BlockInfo: the block's summary
//   "e/" + be64(h)             BlockEvents: the events of its hooks, when any
//   "x/" + term + hN + be32(~p)  the transaction at position p (its id, its
//                                payload type, how many of its events
//                                concern the term), or, p = kHookPosition,
//                                the block's hook events that concern it
//   "y/" + term + hN           the new value of a state key that is a point
//                              of the series `term` (Application::series_term)
// Terms come from the Application (history_terms, sender_term).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/block.h"
#include "core/receipt.h"
#include "state/application.h"
#include "state/kv_store.h"

namespace verity::state {

// A committed block in a few figures (the `blocks` RPC method).
struct BlockInfo {
  Hash256 hash;
  BlockHeader header;
  std::uint64_t txs = 0;
  std::uint64_t bytes = 0;    // its encoding
  std::uint64_t signers = 0;  // signatures in its own commit certificate
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("hash", s.hash);
    f("header", s.header);
    f("txs", s.txs);
    f("bytes", s.bytes);
    f("signers", s.signers);
  }
  friend bool operator==(const BlockInfo&, const BlockInfo&) = default;
};

inline constexpr std::uint32_t kHookPosition = 0xFFFFFFFF;

// One entry of a term's history: a transaction, or the block's hooks.
struct HistoryEntry {
  std::uint64_t height = 0;
  std::uint32_t position = kHookPosition;  // the transaction's index in the block, or kHookPosition
  Hash256 tx_id;                           // a transaction's
  std::string type;                        // a transaction's payload name
  std::uint64_t count = 0;                 // how many of its events concern the term
  std::vector<Event> events;               // the block's hook events that concern it (hook entries)
  bool is_tx() const { return position != kHookPosition; }
  friend bool operator==(const HistoryEntry&, const HistoryEntry&) = default;
};

// Where a page ended: the next starts after this entry.
struct HistoryCursor {
  std::uint64_t height = 0;
  std::uint32_t position = 0;
};

// A point of a series: the state value at the height it was written.
struct SeriesPoint {
  std::uint64_t height = 0;
  Bytes value;
};

inline constexpr std::size_t kMaxHistoryPage = 100;

// The history writes of one block, added to its commit batch.
void index_block(WriteBatch& batch, const Application& app, const Block& block, const Hash256& block_hash,
                 std::size_t encoded_bytes, const CommitCertificate& cert, const std::vector<Receipt>& receipts,
                 const std::vector<Event>& block_events, const std::vector<StateUpdate>& changes);

// Reads, newest first, at most `limit` (capped at kMaxHistoryPage): after
// the entry `after` when given, else from heights below `before` (0: from
// the newest).
Result<std::vector<HistoryEntry>> read_history(const KvStore& store, ByteView term, std::uint64_t before,
                                               std::size_t limit, std::optional<HistoryCursor> after = std::nullopt);
// How many events concern `term` over its whole history, counting at most
// `cap` entries.
Result<std::uint64_t> count_history(const KvStore& store, ByteView term, std::uint64_t cap);
Result<std::vector<SeriesPoint>> read_series(const KvStore& store, ByteView term, std::uint64_t before,
                                             std::size_t limit);
Result<std::vector<Event>> read_block_events(const KvStore& store, std::uint64_t height);
Result<std::optional<BlockInfo>> read_block_info(const KvStore& store, std::uint64_t height);

}  // namespace verity::state
