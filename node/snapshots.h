#pragma once
// The state snapshots a node keeps on disk and offers to peers that join
// by state sync (docs/node.md, "State sync"; the format: state/snapshot.h).
//
// Layout, under <data>/snapshots:
//   <height>/manifest   the manifest's canonical encoding
//   <height>/<index>    chunk <index>'s bytes (decimal file names)
//   <height>/base       the block of <height> with its commit certificate
//                       (a consensus Decision): what a joining node
//                       checks the snapshot against, still served when
//                       keep_recent_blocks has pruned it from the chain
// A snapshot is written into "<height>.tmp" and renamed when whole, so a
// crash leaves a whole snapshot or a ".tmp" directory, which open()
// deletes. Only the newest `keep` snapshots stay.
//
// Threads: write() runs on the verify pool (one at a time: the node starts
// one only when none runs); list() and chunk() may run on any thread at
// the same time. A chunk is checked against its manifest id before it is
// served: a damaged file is never sent (chunk() says "snapshot-damaged" and
// the snapshot is dropped).

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "consensus/messages.h"
#include "core/result.h"
#include "state/chain.h"
#include "state/snapshot.h"

namespace verity::node {

class SnapshotFiles {
 public:
  // Creates `dir` when missing, deletes unfinished ".tmp" snapshots and
  // loads the manifests of the others (a snapshot whose manifest does not
  // decode is deleted). Reason "io-error".
  static Result<std::unique_ptr<SnapshotFiles>> open(std::filesystem::path dir, std::size_t keep);

  // The kept snapshots' manifests, newest first.
  std::vector<state::SnapshotManifest> list() const;
  // Writes a snapshot of `view`'s state at its tip, then deletes the
  // oldest beyond `keep`. Reasons: store errors, "io-error",
  // "snapshot-cancelled" (`cancel` became true: the node is stopping).
  Result<state::SnapshotManifest> write(const state::ChainView& view, std::size_t chunk_bytes = state::kSnapshotChunkBytes,
                                        const std::atomic<bool>* cancel = nullptr);
  // Chunk `index` of the snapshot at `height`; nullopt when that snapshot
  // or chunk is not kept (any more). Reasons: "snapshot-damaged" (the file
  // is not the chunk its manifest names: the snapshot is deleted),
  // "io-error".
  Result<std::optional<Bytes>> chunk(std::uint64_t height, std::uint64_t index);

  // The block and certificate of a kept snapshot's height; nullopt when
  // not kept or unreadable.
  std::optional<consensus::Decision> base(std::uint64_t height) const;

  const std::filesystem::path& dir() const { return dir_; }

 private:
  SnapshotFiles(std::filesystem::path dir, std::size_t keep) : dir_(std::move(dir)), keep_(keep) {}
  void drop(std::uint64_t height);  // with mu_ held

  const std::filesystem::path dir_;
  const std::size_t keep_;
  mutable std::mutex mu_;
  std::map<std::uint64_t, state::SnapshotManifest> kept_;
};

}  // namespace verity::node
