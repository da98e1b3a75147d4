#include "node/safety_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <algorithm>
#include <iterator>
#include <variant>

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

constexpr std::uint32_t kStateRecord = 0x80000000u;  // the length's top bit: a SafetyState, not a Vote

Bytes record(std::uint32_t flag, const Bytes& body) {
  const std::uint32_t n = static_cast<std::uint32_t>(body.size()) | flag;
  Bytes r;
  r.reserve(4 + body.size());
  for (int shift = 24; shift >= 0; shift -= 8) r.push_back(static_cast<std::uint8_t>(n >> shift));
  r.insert(r.end(), body.begin(), body.end());
  return r;
}

struct Log {
  std::vector<std::variant<Vote, consensus::SafetyState>> records;  // in the order written
  std::size_t whole = 0;                                            // bytes of whole records
};

// The records of a log. What a crash can leave at its end is dropped: a
// last record cut short, zeros where a length should be (appended but not
// yet written back), or a last record that does not decode. None of them
// was synced, so no message that depends on it left the node. Anything
// else that does not decode is corruption.
Result<Log> parse_log(const std::filesystem::path& p) {
  Log log;
  if (!std::filesystem::exists(p)) return log;
  auto raw = read_file(p);
  if (!raw) return raw.error();
  std::size_t at = 0;
  while (at + 4 <= raw->size()) {
    const std::uint32_t word = (std::uint32_t{(*raw)[at]} << 24) | (std::uint32_t{(*raw)[at + 1]} << 16) |
                               (std::uint32_t{(*raw)[at + 2]} << 8) | (*raw)[at + 3];
    const std::size_t len = word & ~kStateRecord;
    if (len == 0 || at + 4 + len > raw->size()) break;  // zeros or a torn last record
    const ByteView body(raw->data() + at + 4, len);
    const bool last = at + 4 + len == raw->size();
    Result<void> ok;
    if (word & kStateRecord) {
      auto s = decode_exact<consensus::SafetyState>(body);
      if (s) log.records.emplace_back(std::move(*s));
      else ok = s.error();
    } else {
      auto v = decode_exact<Vote>(body);
      if (v) log.records.emplace_back(std::move(*v));
      else ok = v.error();
    }
    if (!ok) {
      if (last) break;
      return local_error("safety-state-corrupt",
                         p.string() + ": record at byte " + std::to_string(at) + ": " + ok.error().to_string());
    }
    at += 4 + len;
  }
  log.whole = at;
  return log;
}

// What binds the node after `v` was signed, given what bound it before.
void add_vote(consensus::SafetyState& state, const Vote& v) {
  if (v.height > state.height)
    state = consensus::SafetyState{v.height, v.view, std::max(state.asked_view, v.view), {}, std::nullopt};
  if (v.height != state.height) return;
  if (std::find(state.signed_votes.begin(), state.signed_votes.end(), v) == state.signed_votes.end())
    state.signed_votes.push_back(v);
  state.view = std::max(state.view, v.view);
}

// Both bind the node: the later height wins; at one height, the union.
void add_state(consensus::SafetyState& state, const consensus::SafetyState& s) {
  if (s.height < state.height) return;
  if (s.height > state.height) {
    const std::uint64_t asked = state.asked_view;
    state = s;
    state.asked_view = std::max(state.asked_view, asked);
    return;
  }
  state.view = std::max(state.view, s.view);
  state.asked_view = std::max(state.asked_view, s.asked_view);
  for (const auto& v : s.signed_votes) add_vote(state, v);
  // The certificate of the latest view; at one view, the later record's.
  if (s.prepared && (!state.prepared || s.prepared->proposal.vote.view >= state.prepared->proposal.vote.view))
    state.prepared = s.prepared;
}

}  // namespace

Result<std::vector<Vote>> SafetyFile::read_log(const std::filesystem::path& data_dir) {
  std::vector<Vote> out;
  for (const char* name : {kOldLogFile, kLogFile}) {
    auto parsed = parse_log(data_dir / name);
    if (!parsed) return parsed.error();
    for (const auto& r : parsed->records)
      if (const Vote* v = std::get_if<Vote>(&r)) out.push_back(*v);
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
  // What was logged after the state file was last replaced binds us too
  // (in either log: see rotate()).
  auto old = parse_log(dir / kOldLogFile);
  if (!old) return old.error();
  auto parsed = parse_log(dir / kLogFile);
  if (!parsed) return parsed.error();
  const std::size_t whole = parsed->whole;
  for (const Log* log : {&*old, &*parsed})
    for (const auto& r : log->records) {
      if (const Vote* v = std::get_if<Vote>(&r)) add_vote(state, *v);
      else add_state(state, std::get<consensus::SafetyState>(r));
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
  f->last_ = state;
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
  if (state == last_) return {};
  if (state.height != logged_height_) {
    logged_.clear();
    logged_height_ = state.height;
  }
  // The votes not logged yet (the audit trail), then the whole state: one
  // append. A new height with nothing signed at it yet binds nothing (the
  // old height is committed), so it need not be synced; anything else is.
  Bytes records;
  std::vector<Bytes> added;
  for (const auto& v : state.signed_votes) {
    Bytes e = encode(v);
    if (v.height != state.height || logged_.count(e)) continue;
    Bytes r = record(0, e);
    records.insert(records.end(), r.begin(), r.end());
    added.push_back(std::move(e));
  }
  const bool binds = !(state.height > last_.height && state.signed_votes.empty() && !state.prepared &&
                       state.view == last_.view && state.asked_view == last_.asked_view);
  Bytes r = record(kStateRecord, encode(state));
  records.insert(records.end(), r.begin(), r.end());
  if (!write_all(log_fd_, records.data(), records.size())) return io_error(dir_ / kLogFile, "cannot append");
  log_size_ += records.size();
  for (auto& e : added) logged_.insert(std::move(e));
  last_ = state;
  unsynced_ = unsynced_ || binds;
  if (log_size_ >= log_limit_) return rotate();
  return {};
}

Status SafetyFile::flush() {
  if (!unsynced_) return {};
  if (::fdatasync(log_fd_) != 0) return io_error(dir_ / kLogFile, "cannot sync");
  unsynced_ = false;
  syncs_++;
  return {};
}

// The state file takes everything that binds the node (written to a
// temporary file, synced, renamed, the directory synced), then the log
// becomes the previous one and a new log starts. Only the state file is
// needed: open() still reads both logs. A failure to start the new log is
// not an error: appends go on where they were, and the next save tries
// again.
Status SafetyFile::rotate() {
  if (auto s = flush(); !s) return s;
  const auto tmp = dir_ / (std::string(kStateFile) + ".tmp");
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return io_error(tmp, "cannot create");
  Bytes body = encode(last_);
  bool ok = write_all(fd, body.data(), body.size()) && ::fdatasync(fd) == 0;
  ::close(fd);
  if (!ok) return io_error(tmp, "cannot write");
  if (::rename(tmp.c_str(), (dir_ / kStateFile).c_str()) != 0) return io_error(dir_ / kStateFile, "cannot rename");
  if (::fsync(dir_fd_) != 0) return io_error(dir_, "cannot fsync directory");
  if (::rename((dir_ / kLogFile).c_str(), (dir_ / kOldLogFile).c_str()) != 0) return {};
  fd = ::open((dir_ / kLogFile).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    ::rename((dir_ / kOldLogFile).c_str(), (dir_ / kLogFile).c_str());  // keep appending where we were
    return {};
  }
  ::close(log_fd_);
  log_fd_ = fd;
  log_size_ = 0;
  ::fsync(dir_fd_);
  return {};
}

}  // namespace verity::node
