#include "node/safety_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

namespace verity::node {

namespace {

constexpr const char* kStateFile = "safety_state";
constexpr const char* kLogFile = "signed_votes.log";
constexpr const char* kOldLogFile = "signed_votes.log.1";

Error io_error(const std::filesystem::path& p, const std::string& what) {
  return local_error("io-error", p.string() + ": " + what + ": " + std::strerror(errno));
}

bool write_all(int fd, const std::uint8_t* data, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

Result<Bytes> read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return io_error(p, "cannot open");
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The votes in the log, and the byte length of its whole records.
Result<std::pair<std::vector<Vote>, std::size_t>> parse_log(const std::filesystem::path& p) {
  std::vector<Vote> votes;
  if (!std::filesystem::exists(p)) return std::pair{votes, std::size_t{0}};
  auto raw = read_file(p);
  if (!raw) return raw.error();
  std::size_t at = 0;
  while (at + 4 <= raw->size()) {
    std::size_t len = (std::size_t{(*raw)[at]} << 24) | (std::size_t{(*raw)[at + 1]} << 16) |
                      (std::size_t{(*raw)[at + 2]} << 8) | (*raw)[at + 3];
    if (at + 4 + len > raw->size()) break;  // torn last record
    auto v = decode_exact<Vote>(ByteView(raw->data() + at + 4, len));
    if (!v) return local_error("safety-state-corrupt", p.string() + ": record at byte " + std::to_string(at) + ": " +
                                                          v.error().to_string());
    votes.push_back(*v);
    at += 4 + len;
  }
  return std::pair{std::move(votes), at};
}

}  // namespace

Result<std::vector<Vote>> SafetyFile::read_log(const std::filesystem::path& data_dir) {
  std::vector<Vote> out;
  for (const char* name : {kOldLogFile, kLogFile}) {
    auto parsed = parse_log(data_dir / name);
    if (!parsed) return parsed.error();
    out.insert(out.end(), parsed->first.begin(), parsed->first.end());
  }
  return out;
}

Result<std::unique_ptr<SafetyFile>> SafetyFile::open(const std::filesystem::path& dir, std::uint64_t log_limit) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return local_error("io-error", dir.string() + ": " + ec.message());

  consensus::SafetyState state;
  if (std::filesystem::exists(dir / kStateFile)) {
    auto raw = read_file(dir / kStateFile);
    if (!raw) return raw.error();
    auto decoded = decode_exact<consensus::SafetyState>(*raw);
    if (!decoded)
      return local_error("safety-state-corrupt", (dir / kStateFile).string() + ": " + decoded.error().to_string());
    state = *decoded;
  }
  auto old = parse_log(dir / kOldLogFile);
  if (!old) return old.error();
  auto parsed = parse_log(dir / kLogFile);
  if (!parsed) return parsed.error();
  auto& [votes, whole] = *parsed;

  // Votes logged after the state file was last replaced bind us too (in
  // either log: see rotate()).
  std::vector<Vote> all = std::move(old->first);
  all.insert(all.end(), votes.begin(), votes.end());
  for (const auto& v : all) {
    if (v.height > state.height) state = consensus::SafetyState{v.height, v.view, std::max(state.asked_view, v.view), {}, std::nullopt};
    if (v.height != state.height) continue;
    bool known = false;
    for (const auto& s : state.signed_votes) known = known || s == v;
    if (!known) state.signed_votes.push_back(v);
    state.view = std::max(state.view, v.view);
  }

  int fd = ::open((dir / kLogFile).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return io_error(dir / kLogFile, "cannot open");
  // Drop a torn record so the next append starts on a record boundary.
  if (::ftruncate(fd, static_cast<off_t>(whole)) != 0 || ::lseek(fd, 0, SEEK_END) < 0) {
    ::close(fd);
    return io_error(dir / kLogFile, "cannot truncate");
  }
  std::unique_ptr<SafetyFile> f(new SafetyFile(dir, fd));
  f->dir_fd_ = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (f->dir_fd_ < 0) return io_error(dir, "cannot open directory");
  f->restored_ = state;
  f->log_size_ = whole;
  f->log_limit_ = log_limit;
  f->logged_height_ = state.height;
  for (const auto& v : state.signed_votes) f->logged_.insert(encode(v));
  return f;
}

SafetyFile::~SafetyFile() {
  if (log_fd_ >= 0) ::close(log_fd_);
  if (dir_fd_ >= 0) ::close(dir_fd_);
}

Status SafetyFile::save(const consensus::SafetyState& state) {
  // 1. Append the votes not logged yet, and fsync.
  if (state.height != logged_height_) {
    logged_.clear();
    logged_height_ = state.height;
  }
  Bytes records;
  std::vector<Bytes> added;
  for (const auto& v : state.signed_votes) {
    Bytes e = encode(v);
    if (v.height != state.height || logged_.count(e)) continue;
    const std::size_t n = e.size();
    records.insert(records.end(), {static_cast<std::uint8_t>(n >> 24), static_cast<std::uint8_t>(n >> 16),
                                   static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)});
    records.insert(records.end(), e.begin(), e.end());
    added.push_back(std::move(e));
  }
  if (!records.empty()) {
    if (!write_all(log_fd_, records.data(), records.size()) || ::fdatasync(log_fd_) != 0)
      return io_error(dir_ / kLogFile, "cannot append");
    log_size_ += records.size();
    for (auto& e : added) logged_.insert(std::move(e));
  }
  // 2. Replace the state file atomically.
  const auto tmp = dir_ / (std::string(kStateFile) + ".tmp");
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return io_error(tmp, "cannot create");
  Bytes body = encode(state);
  bool ok = write_all(fd, body.data(), body.size()) && ::fdatasync(fd) == 0;
  ::close(fd);
  if (!ok) return io_error(tmp, "cannot write");
  if (::rename(tmp.c_str(), (dir_ / kStateFile).c_str()) != 0) return io_error(dir_ / kStateFile, "cannot rename");
  if (::fsync(dir_fd_) != 0) return io_error(dir_, "cannot fsync directory");
  // 3. safety_state now holds every vote that binds us: a full log can go.
  if (log_size_ >= log_limit_) rotate();
  return {};
}

// Best effort: on failure the current log stays and the next save tries
// again. Whatever happens, open() reads both files, so a vote appended to a
// renamed log still binds the node.
void SafetyFile::rotate() {
  if (::rename((dir_ / kLogFile).c_str(), (dir_ / kOldLogFile).c_str()) != 0) return;
  int fd = ::open((dir_ / kLogFile).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    ::rename((dir_ / kOldLogFile).c_str(), (dir_ / kLogFile).c_str());  // keep appending where we were
    return;
  }
  ::close(log_fd_);
  log_fd_ = fd;
  log_size_ = 0;
  ::fsync(dir_fd_);
}

}  // namespace verity::node
