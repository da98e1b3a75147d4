#pragma once
// State snapshots (issue 21, item 3; docs/state.md, "Snapshots"): the flat
// state at one height, cut into chunks that can be fetched and checked one
// by one, and bound to the state root a commit certificate vouches for.
//
//   chunk     varint n, then n entries (bytes key, bytes value), keys in
//             ascending byte order, each above the previous chunk's last;
//             at most kSnapshotChunkBytes encoded (one entry may exceed it,
//             alone)
//   chunk id  tagged_hash(snapshot_chunk, the chunk's encoding)
//   manifest  {format, height, block_hash, state_root, entries, chunks:
//             [chunk id]}: what a peer offers; each chunk is checked against
//             its id as it arrives, and the entries of all chunks must
//             rebuild `state_root`, which the header of `height` holds and
//             its certificate signs.
//
// A receiver never trusts the manifest alone: it verifies the header of
// `height` with a light client (core/light_client.h) and requires
// header.state_root == manifest.state_root, then restore() must end at
// that root. Pure functions over a store; no I/O of their own.

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "core/encoding.h"
#include "core/hash.h"
#include "state/kv_store.h"
#include "state/state_map.h"

namespace verity::state {

inline constexpr std::uint64_t kSnapshotFormat = 1;
inline constexpr std::size_t kSnapshotChunkBytes = 4u << 20;
inline constexpr std::size_t kMaxSnapshotChunks = 1u << 20;

struct SnapshotManifest {
  std::uint64_t format = kSnapshotFormat;
  std::uint64_t height = 0;
  Hash256 block_hash;
  Hash256 state_root;
  std::uint64_t entries = 0;
  std::vector<Hash256> chunks;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("format", s.format);
    f("height", s.height);
    f("block_hash", s.block_hash);
    f("state_root", s.state_root);
    f("entries", s.entries);
    f("chunks", s.chunks, Max{kMaxSnapshotChunks, 32});
  }
  friend bool operator==(const SnapshotManifest&, const SnapshotManifest&) = default;
};

Hash256 snapshot_chunk_id(ByteView chunk);

// Cuts the flat state of `store` (a consistent view: a store snapshot at
// the tip `tip`) into chunks, handing each to `emit(index, bytes)`, and
// returns the manifest. Reasons: store errors, emit's.
Result<SnapshotManifest> write_snapshot(const KvStore& store, std::uint64_t height, const Hash256& block_hash,
                                        const Hash256& state_root,
                                        const std::function<Status(std::size_t index, ByteView chunk)>& emit,
                                        std::size_t chunk_bytes = kSnapshotChunkBytes);

// Rebuilds a state from a snapshot's chunks, in order, into an empty
// store: feed() checks each chunk as it comes (reason "snapshot-bad-chunk":
// its id is not the manifest's, it does not decode, or its keys are out of
// order: the peer that sent it lied, and the same chunk may be asked of
// another), then writes its entries to the flat state and the state map
// (one batch a chunk); finish() checks that every chunk came
// ("snapshot-incomplete") and that the map's root is the manifest's
// ("snapshot-wrong-root": throw the store away).
class SnapshotRestore {
 public:
  SnapshotRestore(SnapshotManifest manifest, KvStore& target)
      : manifest_(std::move(manifest)), target_(target), map_(target) {
    map_.set_drop_replaced(true);
  }
  const SnapshotManifest& manifest() const { return manifest_; }
  std::size_t next_chunk() const { return next_; }
  bool complete() const { return next_ == manifest_.chunks.size(); }
  Status feed(ByteView chunk);
  // The restored root (== manifest.state_root).
  Result<Hash256> finish();

 private:
  SnapshotManifest manifest_;
  KvStore& target_;
  StateMap map_;
  Hash256 root_ = kEmptySubtree;
  std::size_t next_ = 0;
  std::uint64_t entries_ = 0;
  std::optional<Bytes> last_key_;
};

}  // namespace verity::state
