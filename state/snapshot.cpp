#include "state/snapshot.h"

namespace verity::state {

namespace {
const Bytes kFlatPrefix = prefixed_key("s/", {});
}  // namespace

Hash256 snapshot_chunk_id(ByteView chunk) { return tagged_hash(Domain::snapshot_chunk, chunk); }

Result<SnapshotManifest> write_snapshot(const KvStore& store, std::uint64_t height, const Hash256& block_hash,
                                        const Hash256& state_root,
                                        const std::function<Status(std::size_t index, ByteView chunk)>& emit,
                                        std::size_t chunk_bytes) {
  SnapshotManifest m;
  m.height = height;
  m.block_hash = block_hash;
  m.state_root = state_root;
  Writer body;
  std::uint64_t in_chunk = 0;
  Status failed;
  auto flush = [&]() -> Status {
    Writer w;
    w.varint(in_chunk);
    Bytes chunk = w.take();
    chunk.insert(chunk.end(), body.data().begin(), body.data().end());
    m.chunks.push_back(snapshot_chunk_id(chunk));
    if (m.chunks.size() > kMaxSnapshotChunks) return local_error("snapshot-too-large", "more chunks than a manifest holds");
    if (auto s = emit(m.chunks.size() - 1, chunk); !s) return s;
    body.clear();
    in_chunk = 0;
    return {};
  };
  auto scanned = store.scan(kFlatPrefix, [&](ByteView key, ByteView value) {
    body.bytes(key.subspan(kFlatPrefix.size()));
    body.bytes(value);
    ++in_chunk;
    ++m.entries;
    if (body.size() >= chunk_bytes) {
      failed = flush();
      if (!failed) return false;
    }
    return true;
  });
  if (!scanned) return scanned.error();
  if (!failed) return failed.error();
  if (in_chunk > 0 || m.chunks.empty())
    if (auto s = flush(); !s) return s.error();
  return m;
}

Status SnapshotRestore::feed(ByteView chunk) {
  auto bad = [&](const std::string& why) {
    return make_error("snapshot-bad-chunk", "chunk " + std::to_string(next_) + ": " + why);
  };
  if (complete()) return bad("the snapshot has only " + std::to_string(manifest_.chunks.size()) + " chunks");
  if (snapshot_chunk_id(chunk) != manifest_.chunks[next_]) return bad("its hash is not the manifest's");
  Reader r(chunk);
  const std::size_t n = r.count(chunk.size(), 2);
  std::vector<StateUpdate> updates;
  updates.reserve(n);
  WriteBatch batch;
  for (std::size_t i = 0; i < n && r.ok(); ++i) {
    Bytes key = r.bytes(chunk.size());
    Bytes value = r.bytes(chunk.size());
    if (!r.ok()) break;
    if (last_key_ && !std::lexicographical_compare(last_key_->begin(), last_key_->end(), key.begin(), key.end()))
      return bad("its keys are not in ascending order");
    last_key_ = key;
    batch.put(prefixed_key("s/", key), value);
    updates.push_back({std::move(key), std::move(value)});
  }
  if (auto s = r.finish(); !s) return bad("it does not decode: " + s.error().to_string());
  auto root = map_.apply(root_, std::move(updates));
  if (!root) return root.error();
  map_.flush(batch, manifest_.height);
  if (auto s = target_.write(batch, /*sync=*/false); !s) return s;
  root_ = *root;
  entries_ += n;
  ++next_;
  return {};
}

Result<Hash256> SnapshotRestore::finish() {
  if (!complete())
    return make_error("snapshot-incomplete", std::to_string(manifest_.chunks.size() - next_) + " chunks still missing");
  if (root_ != manifest_.state_root || entries_ != manifest_.entries)
    return make_error("snapshot-wrong-root", "the chunks rebuild root " + root_.hex() + " (" + std::to_string(entries_) +
                                                 " entries), not the manifest's " + manifest_.state_root.hex());
  return root_;
}

}  // namespace verity::state
