// The deterministic WASI subset; see wasi_host.h and docs/sandbox.md.
#include "worker/wasi_host.h"

#include <algorithm>
#include <cstring>

namespace verity::worker {

namespace {

// errno values of wasi_snapshot_preview1.
constexpr std::uint32_t kSuccess = 0;
constexpr std::uint32_t kBadf = 8;
constexpr std::uint32_t kFault = 21;
constexpr std::uint32_t kInval = 28;
constexpr std::uint32_t kNosys = 52;
constexpr std::uint32_t kSpipe = 70;

constexpr std::uint64_t kRightFdRead = 1u << 1;
constexpr std::uint64_t kRightFdWrite = 1u << 6;
constexpr std::uint8_t kFiletypeUnknown = 0;  // what pipes are in WASI: not a terminal

// Guest memory: pointers are u32, lengths are checked in 64 bits.
struct Mem {
  GuestState g;
  bool in_bounds(std::uint64_t ptr, std::uint64_t len) const { return ptr + len <= g.memory_size; }
  std::uint8_t* at(std::uint64_t ptr) const { return g.memory + ptr; }
  std::uint32_t load32(std::uint64_t p) const {
    const std::uint8_t* b = at(p);
    return std::uint32_t(b[0]) | std::uint32_t(b[1]) << 8 | std::uint32_t(b[2]) << 16 |
           std::uint32_t(b[3]) << 24;
  }
  void store32(std::uint64_t p, std::uint32_t v) const {
    std::uint8_t* b = at(p);
    for (int i = 0; i < 4; ++i) b[i] = std::uint8_t(v >> (8 * i));
  }
  void store64(std::uint64_t p, std::uint64_t v) const {
    std::uint8_t* b = at(p);
    for (int i = 0; i < 8; ++i) b[i] = std::uint8_t(v >> (8 * i));
  }
};

// The iovec array at (iovs, count): checks it and every buffer it names,
// and keeps a copy of the pairs, which the call then uses (as readv does):
// a read may overwrite the array itself, and must not be steered by that.
// Returns false (EFAULT) if any is out of bounds; total gets the byte count.
struct Iovec {
  std::uint32_t buf, len;
};
bool check_iovecs(const Mem& m, std::uint32_t iovs, std::uint32_t count, std::uint64_t* total,
                  std::vector<Iovec>* pairs) {
  if (!m.in_bounds(iovs, std::uint64_t(count) * 8)) return false;
  std::uint64_t sum = 0;
  pairs->clear();
  pairs->reserve(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    std::uint32_t buf = m.load32(std::uint64_t(iovs) + 8 * i);
    std::uint32_t len = m.load32(std::uint64_t(iovs) + 8 * i + 4);
    if (!m.in_bounds(buf, len)) return false;
    pairs->push_back({buf, len});
    sum += len;
  }
  *total = sum;
  return true;
}

}  // namespace

const std::vector<WasiFunction>& wasi_functions() {
  static const std::vector<WasiFunction> t = {
      {"args_get", "ii", "i", true, WasiFn::args_get},
      {"args_sizes_get", "ii", "i", true, WasiFn::args_sizes_get},
      {"environ_get", "ii", "i", true, WasiFn::environ_get},
      {"environ_sizes_get", "ii", "i", true, WasiFn::environ_sizes_get},
      {"clock_res_get", "ii", "i", true, WasiFn::clock_res_get},
      {"clock_time_get", "iIi", "i", true, WasiFn::clock_time_get},
      {"fd_close", "i", "i", true, WasiFn::fd_close},
      {"fd_fdstat_get", "ii", "i", true, WasiFn::fd_fdstat_get},
      {"fd_prestat_get", "ii", "i", true, WasiFn::fd_prestat_get},
      {"fd_read", "iiii", "i", true, WasiFn::fd_read},
      {"fd_seek", "iIii", "i", true, WasiFn::fd_seek},
      {"fd_write", "iiii", "i", true, WasiFn::fd_write},
      {"proc_exit", "i", "", true, WasiFn::proc_exit},
      {"random_get", "ii", "i", true, WasiFn::random_get},
      {"sched_yield", "", "i", true, WasiFn::sched_yield},
      // Harmless names a libc may import; they answer ENOSYS.
      {"fd_advise", "iIIi", "i", false, WasiFn::nosys},
      {"fd_allocate", "iII", "i", false, WasiFn::nosys},
      {"fd_datasync", "i", "i", false, WasiFn::nosys},
      {"fd_fdstat_set_flags", "ii", "i", false, WasiFn::nosys},
      {"fd_fdstat_set_rights", "iII", "i", false, WasiFn::nosys},
      {"fd_filestat_get", "ii", "i", false, WasiFn::nosys},
      {"fd_filestat_set_size", "iI", "i", false, WasiFn::nosys},
      {"fd_filestat_set_times", "iIIi", "i", false, WasiFn::nosys},
      {"fd_pread", "iiiIi", "i", false, WasiFn::nosys},
      {"fd_prestat_dir_name", "iii", "i", false, WasiFn::nosys},
      {"fd_pwrite", "iiiIi", "i", false, WasiFn::nosys},
      {"fd_renumber", "ii", "i", false, WasiFn::nosys},
      {"fd_sync", "i", "i", false, WasiFn::nosys},
      {"fd_tell", "ii", "i", false, WasiFn::nosys},
      {"poll_oneoff", "iiii", "i", false, WasiFn::nosys},
      {"proc_raise", "i", "i", false, WasiFn::nosys},
  };
  return t;
}

const WasiFunction* find_wasi_function(std::string_view name) {
  for (const auto& f : wasi_functions())
    if (name == f.name) return &f;
  return nullptr;
}

bool WasiHost::call(WasiFn fn, const std::uint64_t* args, GuestState guest, std::uint32_t* errno_out) {
  Mem h{guest};
  auto u32 = [&](std::size_t i) { return std::uint32_t(args[i]); };
  // WASI calls pay one unit of fuel per byte they move between the host and
  // the module's memory (buffers and iovec arrays), so no call does
  // unbounded work for the one instruction that made it.
  auto charge = [&](std::uint64_t bytes) {
    std::int64_t& fuel = *guest.fuel;  // never negative here: the module stops as soon as it is
    if (fuel < 0 || bytes > std::uint64_t(fuel)) {
      fuel = -1;
      out_of_fuel_ = true;
      return false;
    }
    fuel -= std::int64_t(bytes);
    return true;
  };
  auto fd_open = [&](std::uint32_t fd) { return fd <= 2 && !closed_[fd]; };
  std::uint32_t& e = *errno_out;
  e = kSuccess;
  switch (fn) {
    case WasiFn::args_sizes_get:
    case WasiFn::environ_sizes_get: {
      std::uint32_t count = 0, bytes = 0;
      if (fn == WasiFn::args_sizes_get) {
        count = std::uint32_t(req_.argv.size());
        for (const auto& a : req_.argv) bytes += std::uint32_t(a.size() + 1);
      }
      if (!h.in_bounds(u32(0), 4) || !h.in_bounds(u32(1), 4)) return e = kFault, true;
      h.store32(u32(0), count);
      h.store32(u32(1), bytes);
      return true;
    }
    case WasiFn::args_get: {
      const auto& argv = req_.argv;
      std::uint64_t bytes = 0;
      for (const auto& a : argv) bytes += a.size() + 1;
      if (!h.in_bounds(u32(0), 4 * std::uint64_t(argv.size())) || !h.in_bounds(u32(1), bytes))
        return e = kFault, true;
      if (!charge(bytes + 4 * argv.size())) return false;
      std::uint64_t ptr = u32(1);
      for (std::size_t i = 0; i < argv.size(); ++i) {
        h.store32(u32(0) + 4 * i, std::uint32_t(ptr));
        std::memcpy(h.at(ptr), argv[i].data(), argv[i].size());
        h.at(ptr)[argv[i].size()] = 0;
        ptr += argv[i].size() + 1;
      }
      return true;
    }
    case WasiFn::environ_get:
      return true;  // the environment is empty: nothing to write
    case WasiFn::clock_res_get:
    case WasiFn::clock_time_get: {
      std::uint32_t id = u32(0);
      std::uint32_t out = fn == WasiFn::clock_res_get ? u32(1) : u32(2);
      if (id > 3) return e = kInval, true;  // realtime, monotonic, process and thread CPU time
      if (!h.in_bounds(out, 8)) return e = kFault, true;
      // Every clock reads 0 (the epoch) and never advances; resolution 1 ns.
      h.store64(out, fn == WasiFn::clock_res_get ? 1 : 0);
      return true;
    }
    case WasiFn::fd_close: {
      std::uint32_t fd = u32(0);
      if (!fd_open(fd)) return e = kBadf, true;
      closed_[fd] = true;
      return true;
    }
    case WasiFn::fd_fdstat_get: {
      std::uint32_t fd = u32(0);
      if (!fd_open(fd)) return e = kBadf, true;
      if (!h.in_bounds(u32(1), 24)) return e = kFault, true;
      std::uint64_t p1 = u32(1);
      std::memset(h.at(p1), 0, 24);
      h.at(p1)[0] = kFiletypeUnknown;
      h.store64(p1 + 8, fd == 0 ? kRightFdRead : kRightFdWrite);
      return true;
    }
    case WasiFn::fd_prestat_get:
      return e = kBadf, true;  // no preopened directories
    case WasiFn::fd_seek: {
      std::uint32_t fd = u32(0);
      return e = fd_open(fd) ? kSpipe : kBadf, true;  // streams, not files
    }
    case WasiFn::fd_read: {
      std::uint32_t fd = u32(0);
      if (fd != 0 || !fd_open(fd)) return e = kBadf, true;
      std::uint64_t total = 0;
      std::vector<Iovec> iov;
      if (!check_iovecs(h, u32(1), u32(2), &total, &iov) || !h.in_bounds(u32(3), 4)) return e = kFault, true;
      std::uint64_t left = req_.input_size - input_pos_;
      std::uint64_t n = std::min(total, left);
      if (!charge(n + 8 * std::uint64_t(u32(2)))) return false;
      std::uint64_t done = 0;
      for (std::size_t i = 0; i < iov.size() && done < n; ++i) {
        std::uint64_t k = std::min<std::uint64_t>(iov[i].len, n - done);
        std::memcpy(h.at(iov[i].buf), req_.input + input_pos_, k);
        input_pos_ += k;
        done += k;
      }
      h.store32(u32(3), std::uint32_t(done));
      return true;
    }
    case WasiFn::fd_write: {
      std::uint32_t fd = u32(0);
      if (fd == 0 || !fd_open(fd)) return e = kBadf, true;
      std::uint64_t total = 0;
      std::vector<Iovec> iov;
      if (!check_iovecs(h, u32(1), u32(2), &total, &iov) || !h.in_bounds(u32(3), 4)) return e = kFault, true;
      if (!charge(total + 8 * std::uint64_t(u32(2)))) return false;
      std::vector<std::uint8_t>& sink = fd == 1 ? out_ : err_;
      std::size_t cap = fd == 1 ? req_.max_stdout : req_.max_stderr;
      for (const Iovec& v : iov) {
        std::size_t room = cap - sink.size();
        std::size_t k = std::min<std::size_t>(v.len, room);
        sink.insert(sink.end(), h.at(v.buf), h.at(v.buf) + k);
        if (k < v.len && fd == 1) {
          output_too_large_ = true;  // stdout keeps its first max_stdout bytes
          return false;
        }
      }
      h.store32(u32(3), std::uint32_t(total));  // stderr past its cap is dropped silently
      return true;
    }
    case WasiFn::proc_exit:
      exited_ = true;
      exit_code_ = u32(0);
      return false;
    case WasiFn::random_get: {
      std::uint32_t buf = u32(0), len = u32(1);
      if (!h.in_bounds(buf, len)) return e = kFault, true;
      if (!charge(len)) return false;
      for (std::uint32_t i = 0; i < len; ++i) {
        if (random_left_ == 0) {
          req_.random(random_index_++, random_block_);
          random_left_ = 32;
        }
        h.at(buf)[i] = random_block_[32 - random_left_--];
      }
      return true;
    }
    case WasiFn::sched_yield:
      return true;
    case WasiFn::nosys:
      return e = kNosys, true;
  }
  return e = kNosys, true;
}

}  // namespace verity::worker
