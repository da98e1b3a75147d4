#include "node/snapshots.h"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <string>
#include <unistd.h>

namespace verity::node {

namespace fs = std::filesystem;

namespace {

Error io_error(const fs::path& p, const std::string& what) {
  return local_error("io-error", p.string() + ": " + what);
}

// Writes `bytes` to `path` and makes it durable.
Status write_file(const fs::path& path, ByteView bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return io_error(path, std::strerror(errno));
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string why = std::strerror(errno);
      ::close(fd);
      return io_error(path, why);
    }
    done += static_cast<std::size_t>(n);
  }
  const bool synced = ::fdatasync(fd) == 0;
  ::close(fd);
  if (!synced) return io_error(path, "cannot sync");
  return {};
}

std::optional<Bytes> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  Bytes out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return std::nullopt;
  return out;
}

// A snapshot directory's name: a height in decimal (no sign, no other
// character; one that overflows is no height).
std::optional<std::uint64_t> height_of(const std::string& name) {
  if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  std::uint64_t h = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), h);
  if (ec != std::errc() || end != name.data() + name.size()) return std::nullopt;
  return h;
}

}  // namespace

Result<std::unique_ptr<SnapshotFiles>> SnapshotFiles::open(fs::path dir, std::size_t keep) {
  std::unique_ptr<SnapshotFiles> files(new SnapshotFiles(dir, keep));
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return io_error(dir, ec.message());
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    auto height = height_of(name);
    std::optional<state::SnapshotManifest> manifest;
    if (height)
      if (auto raw = read_file(entry.path() / "manifest"))
        if (auto m = decode_exact<state::SnapshotManifest>(*raw); m && m->height == *height) manifest = std::move(*m);
    if (manifest) {
      files->kept_[*height] = std::move(*manifest);
    } else {
      fs::remove_all(entry.path(), ec);  // unfinished (".tmp") or unreadable
    }
  }
  if (ec) return io_error(dir, ec.message());
  return files;
}

std::vector<state::SnapshotManifest> SnapshotFiles::list() const {
  std::lock_guard lock(mu_);
  std::vector<state::SnapshotManifest> out;
  for (auto it = kept_.rbegin(); it != kept_.rend(); ++it) out.push_back(it->second);
  return out;
}

Result<state::SnapshotManifest> SnapshotFiles::write(const state::ChainView& view, std::size_t chunk_bytes,
                                                    const std::atomic<bool>* cancel) {
  const auto& tip = view.tip();
  const fs::path final_dir = dir_ / std::to_string(tip.height);
  const fs::path tmp = dir_ / (std::to_string(tip.height) + ".tmp");
  std::error_code ec;
  fs::remove_all(tmp, ec);
  if (!fs::create_directories(tmp, ec) || ec) return io_error(tmp, ec ? ec.message() : "cannot create");
  auto manifest = state::write_snapshot(view.store(), tip.height, tip.block_hash, tip.state_root,
                                        [&](std::size_t index, ByteView chunk) -> Status {
                                          if (cancel && cancel->load())
                                            return local_error("snapshot-cancelled", "the node is stopping");
                                          return write_file(tmp / std::to_string(index), chunk);
                                        }, chunk_bytes);
  auto fail = [&](Error e) -> Result<state::SnapshotManifest> {
    fs::remove_all(tmp, ec);
    return e;
  };
  if (!manifest) return fail(manifest.error());
  {
    auto block = view.block_at(tip.height);
    auto cert = view.certificate_at(tip.height);
    if (!block) return fail(block.error());
    if (!cert) return fail(cert.error());
    if (!*block || !*cert) return fail(local_error("state-corrupt", "no block or certificate at the tip"));
    if (auto s = write_file(tmp / "base", consensus::encode_message(consensus::Decision{**block, **cert})); !s)
      return fail(s.error());
  }
  if (auto s = write_file(tmp / "manifest", encode(*manifest)); !s) return fail(s.error());
  {
    std::lock_guard lock(mu_);
    fs::remove_all(final_dir, ec);
    fs::rename(tmp, final_dir, ec);
    if (ec) return fail(io_error(final_dir, ec.message()));
    kept_[tip.height] = *manifest;
    while (kept_.size() > std::max<std::size_t>(keep_, 1)) drop(kept_.begin()->first);
  }
  // The rename durable: the directory entry synced.
  if (const int fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  return manifest;
}

void SnapshotFiles::drop(std::uint64_t height) {
  kept_.erase(height);
  std::error_code ec;
  fs::remove_all(dir_ / std::to_string(height), ec);
}

std::optional<consensus::Decision> SnapshotFiles::base(std::uint64_t height) const {
  {
    std::lock_guard lock(mu_);
    if (!kept_.count(height)) return std::nullopt;
  }
  auto raw = read_file(dir_ / std::to_string(height) / "base");
  if (!raw) return std::nullopt;
  auto m = consensus::decode_message(*raw);
  if (!m) return std::nullopt;
  const auto* d = std::get_if<consensus::Decision>(&*m);
  if (!d || d->block.header.height != height) return std::nullopt;
  return *d;
}

Result<std::optional<Bytes>> SnapshotFiles::chunk(std::uint64_t height, std::uint64_t index) {
  Hash256 id;
  {
    std::lock_guard lock(mu_);
    auto it = kept_.find(height);
    if (it == kept_.end() || index >= it->second.chunks.size()) return std::optional<Bytes>{};
    id = it->second.chunks[index];
  }
  auto bytes = read_file(dir_ / std::to_string(height) / std::to_string(index));
  std::lock_guard lock(mu_);
  if (!kept_.count(height)) return std::optional<Bytes>{};  // dropped while we read
  if (!bytes || state::snapshot_chunk_id(*bytes) != id) {
    drop(height);
    return make_error("snapshot-damaged", "chunk " + std::to_string(index) + " of the snapshot at height " +
                                              std::to_string(height) + " is missing or not what its manifest names");
  }
  return std::optional<Bytes>{std::move(*bytes)};
}

}  // namespace verity::node
