// The `aot` engine: wasm2c, the C compiler, the object cache and the runner.
// See aot.h.
#include "worker/aot.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <random>

#include <fcntl.h>
#include <unistd.h>

#include "core/hash.h"
#include "core/hex.h"
#include "worker/child_process.h"

namespace verity::worker {

namespace fs = std::filesystem;

// Why each flag (all fixed; the list is part of the cache key):
//   -std=c11 -O2            the dialect wasm2c's output is written in; a normal optimisation level
//   -fPIC -shared           a shared object for dlopen
//   -pipe -w -g0            no temporary assembly files, no warnings on generated code, no debug info
//   -ffp-contract=off       never fuse a*b+c into an FMA: WebAssembly rounds each operation
//   -fno-fast-math          IEEE semantics (the default, stated)
//   -fexcess-precision=standard  no extra precision kept between operations (only matters on x87)
//   -fno-strict-aliasing -fwrapv  generated code is a translation of WebAssembly, which has neither
//                           type-based aliasing nor signed-overflow UB: do not let the optimiser assume them
//   -fvisibility=hidden     only the shim's verity_task_* are exported
//   -fno-plt -Wl,-z,now -Wl,-z,relro -Wl,-z,noexecstack  bind the runner's imports at load time,
//                           read-only GOT, no executable stack
//   -march=x86-64 -mtune=generic -mfpmath=sse  the baseline ISA whatever the distribution's default,
//                           never -march=native: same instructions and SSE2 arithmetic on every worker
//   -DWASM_RT_MEMCHECK_SIGNAL_HANDLER=1  what Debian's libwasm-rt-impl.a (linked into the runner) was
//                           built with: bounds checks by guard pages (an 8 GiB reservation per memory)
const std::vector<std::string> kAotCFlags = {
    "-std=c11", "-O2", "-fPIC", "-shared", "-pipe", "-w", "-g0",
    "-ffp-contract=off", "-fno-fast-math", "-fexcess-precision=standard",
    "-fno-strict-aliasing", "-fwrapv",
    "-fvisibility=hidden", "-fno-plt", "-Wl,-z,now", "-Wl,-z,relro", "-Wl,-z,noexecstack",
#if defined(__x86_64__)
    "-march=x86-64", "-mtune=generic", "-mfpmath=sse",
#endif
    "-DWASM_RT_MEMCHECK_SIGNAL_HANDLER=1",
};

namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kCacheFormat = "verity-aot-cache-1";
constexpr char kTrailerMagic[16] = {'V', 'E', 'R', 'I', 'T', 'Y', '-', 'A', 'O', 'T', '-', 'O', 'B', 'J', '0', '1'};
constexpr std::size_t kTrailerSize = 32 + sizeof kTrailerMagic;

// wasm2c 1.0.32 refuses any change to its feature set ("only supports a
// limited set of features"), so the refused proposals are left to admission
// (worker/wabt_sandbox.cpp), which runs first.
const std::vector<std::string> kWasm2cFlags = {"-n", "task", "--no-debug-names"};

// The shim compiled with the generated C: the runner calls these, so it
// needs neither the instance struct's layout nor the module's name.
// VERITY_WASI_IMPORTS (-D, from the generated header): whether the module
// imports anything, which changes Z_task_instantiate's parameters.
// _Generic checks the exports' types (a mutable i64 and a mutable i32:
// wasm2c gives immutable globals const pointers).
constexpr const char* kShimSource = R"(/* verity aot shim, ABI 1 */
#include <stddef.h>
#include <stdint.h>
#include "task.h"
#define VERITY_API __attribute__((visibility("default")))
_Static_assert(_Generic(Z_taskZ_verity_fuel((Z_task_instance_t*)0), u64*: 1, default: 0),
               "verity_fuel must be an exported mutable i64");
_Static_assert(_Generic(Z_taskZ_verity_flags((Z_task_instance_t*)0), u32*: 1, default: 0),
               "verity_flags must be an exported mutable i32");
VERITY_API uint32_t verity_task_abi(void) { return 1; }
VERITY_API size_t verity_task_instance_size(void) { return sizeof(Z_task_instance_t); }
static int s_initialized;
VERITY_API void verity_task_init_module(void) {
  if (!s_initialized) { s_initialized = 1; Z_task_init_module(); }
}
VERITY_API void verity_task_instantiate(void* instance, void* wasi) {
#if VERITY_WASI_IMPORTS
  Z_task_instantiate((Z_task_instance_t*)instance, (struct Z_wasi_snapshot_preview1_instance_t*)wasi);
#else
  (void)wasi;
  Z_task_instantiate((Z_task_instance_t*)instance);
#endif
}
VERITY_API void verity_task_start(void* instance) { Z_taskZ__start((Z_task_instance_t*)instance); }
VERITY_API uint64_t* verity_task_fuel(void* instance) { return Z_taskZ_verity_fuel((Z_task_instance_t*)instance); }
VERITY_API uint32_t* verity_task_flags(void* instance) { return Z_taskZ_verity_flags((Z_task_instance_t*)instance); }
VERITY_API wasm_rt_memory_t* verity_task_memory(void* instance) { return Z_taskZ_memory((Z_task_instance_t*)instance); }
)";

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

bool read_whole(const std::string& path, std::vector<std::uint8_t>* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

bool write_whole(const std::string& path, const void* data, std::size_t size, bool sync) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  const auto* p = static_cast<const std::uint8_t*>(data);
  std::size_t done = 0;
  while (done < size) {
    ssize_t w = ::write(fd, p + done, size - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      return false;
    }
    done += std::size_t(w);
  }
  bool ok = !sync || ::fsync(fd) == 0;
  return ::close(fd) == 0 && ok;
}

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

std::string tail(const std::string& s, std::size_t n = 600) {
  std::string t = s.size() > n ? "..." + s.substr(s.size() - n) : s;
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
  return t;
}

struct Tools {
  std::string wasm2c, cc;        // paths
  std::string wasm2c_version;    // `wasm2c --version`
  std::string cc_version;        // first line of `cc --version`
  std::string error;
};

// Found and asked once per process: the versions go into every cache key.
const Tools& tools() {
  static std::once_flag once;
  static Tools t;
  std::call_once(once, [] {
    ChildLimits lim;
    lim.wall_ms = 10'000;
    t.wasm2c = find_on_path("wasm2c");
    t.cc = find_on_path("cc");
    if (t.wasm2c.empty() || t.cc.empty()) {
      t.error = t.wasm2c.empty() ? "wasm2c not found on PATH" : "cc not found on PATH";
      return;
    }
    ChildResult w = run_child({t.wasm2c, "--version"}, {}, lim, 4096);
    ChildResult c = run_child({t.cc, "--version"}, {}, lim, 4096);
    if (!w.exited_ok() || !c.exited_ok()) {
      t.error = "cannot ask the tool versions: wasm2c " + w.describe() + ", cc " + c.describe();
      return;
    }
    t.wasm2c_version = first_line(std::string(w.out.begin(), w.out.end()));
    t.cc_version = first_line(std::string(c.out.begin(), c.out.end()));
  });
  return t;
}

void put_field(std::vector<std::uint8_t>& b, const void* data, std::size_t n) {
  for (int i = 0; i < 8; ++i) b.push_back(std::uint8_t(std::uint64_t(n) >> (8 * i)));
  const auto* p = static_cast<const std::uint8_t*>(data);
  b.insert(b.end(), p, p + n);
}
void put_field(std::vector<std::uint8_t>& b, const std::string& s) { put_field(b, s.data(), s.size()); }

std::string cache_key(const std::vector<std::uint8_t>& module, const Tools& t) {
  std::vector<std::uint8_t> m;
  put_field(m, std::string(kCacheFormat));
  put_field(m, module.data(), module.size());
  put_field(m, t.wasm2c_version);
  put_field(m, t.cc_version);
  for (const auto& f : kWasm2cFlags) put_field(m, f);
  put_field(m, std::string("--"));
  for (const auto& f : kAotCFlags) put_field(m, f);
  put_field(m, std::string(kShimSource));
  return to_hex(sha256(ByteView(m.data(), m.size())).view());
}

// A cache file: the object followed by its trailer. True if the trailer
// matches the object.
bool cache_file_intact(const std::string& path) {
  std::vector<std::uint8_t> f;
  if (!read_whole(path, &f) || f.size() <= kTrailerSize) return false;
  std::size_t n = f.size() - kTrailerSize;
  if (std::memcmp(f.data() + n + 32, kTrailerMagic, sizeof kTrailerMagic) != 0) return false;
  Hash256 h = sha256(ByteView(f.data(), n));
  return std::memcmp(h.data.data(), f.data() + n, 32) == 0;
}

std::string random_suffix() {
  std::random_device rd;
  char b[32];
  std::snprintf(b, sizeof b, "%d-%08x", int(::getpid()), unsigned(rd()));
  return b;
}

struct TempDirGuard {
  std::string path;
  ~TempDirGuard() {
    std::error_code ec;
    if (!path.empty()) fs::remove_all(path, ec);
  }
};

// Temporary directories and partial files of compiles that crashed (their
// owner would have removed them): anything older than `age`.
void remove_stale(const std::string& dir, std::chrono::seconds age) {
  std::error_code ec;
  const auto now = fs::file_time_type::clock::now();
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind("tmp-", 0) != 0 && name.find(".part-") == std::string::npos) continue;
    std::error_code e2;
    auto t = fs::last_write_time(it->path(), e2);
    if (!e2 && now - t > age) fs::remove_all(it->path(), e2);
  }
}

std::string exe_dir() {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : self.parent_path().string();
}

}  // namespace

std::string aot_runner_path(const AotConfig& config) {
  if (!config.runner_path.empty()) return config.runner_path;
  if (const char* env = std::getenv("VERITY_SANDBOX_RUNNER"); env && *env) return env;
  std::string dir = exe_dir();
  if (dir.empty()) return "";
  // Next to the executable; installed (bin/ and libexec/verity/); the build tree (node/ and worker/).
  for (const char* rel : {"verity-sandbox", "../libexec/verity/verity-sandbox", "../worker/verity-sandbox"}) {
    std::string p = dir + "/" + rel;
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return "";
}

AotCompiled aot_compile(const std::vector<std::uint8_t>& instrumented, const AotConfig& config) {
  const auto t0 = Clock::now();
  AotCompiled r;
  auto fail = [&](std::string why) {
    r.ok = false;
    r.error = std::move(why);
    r.compile_ms = ms_since(t0);
    return r;
  };
  if (config.cache_dir.empty()) return fail("aot: no cache directory");
  const Tools& t = tools();
  if (!t.error.empty()) return fail("aot: " + t.error);

  std::error_code ec;
  fs::create_directories(config.cache_dir, ec);
  if (ec) return fail("aot: cannot create " + config.cache_dir + ": " + ec.message());
  // Absolute: the runner dlopens it (a name without '/' would be searched for).
  const std::string final_path = fs::absolute(config.cache_dir, ec).string() + "/" + cache_key(instrumented, t) + ".so";

  if (fs::exists(final_path, ec)) {
    if (cache_file_intact(final_path)) {
      r.ok = true;
      r.cached = true;
      r.so_path = final_path;
      r.compile_ms = ms_since(t0);
      return r;
    }
    fs::remove(final_path, ec);  // corrupted or truncated: compile it again
  }
  if (config.lookup_only) return fail("aot: not compiled yet");

  remove_stale(config.cache_dir,
               std::chrono::seconds(60 + 2 * std::max<std::uint64_t>(config.compile_wall_ms, 60'000) / 1000));
  TempDirGuard tmp;
  std::string tmpl = config.cache_dir + "/tmp-XXXXXX";
  if (!::mkdtemp(tmpl.data())) return fail("aot: mkdtemp in " + config.cache_dir + ": " + std::strerror(errno));
  tmp.path = tmpl;
  const std::string wasm = tmp.path + "/task.wasm", c_file = tmp.path + "/task.c", h_file = tmp.path + "/task.h",
                    shim = tmp.path + "/shim.c", so = tmp.path + "/task.so";
  if (!write_whole(wasm, instrumented.data(), instrumented.size(), false) ||
      !write_whole(shim, kShimSource, std::strlen(kShimSource), false))
    return fail("aot: cannot write into " + tmp.path);

  // One time budget for both tools.
  const auto deadline = t0 + std::chrono::milliseconds(config.compile_wall_ms);
  auto limits = [&](std::uint64_t file_bytes) {
    ChildLimits lim;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    lim.wall_ms = config.compile_wall_ms ? std::uint64_t(std::max<long long>(left, 1)) : 0;
    lim.cpu_seconds = config.compile_cpu_seconds;
    lim.address_space = config.compile_address_space;
    lim.file_bytes = file_bytes;
    return lim;
  };

  std::vector<std::string> w2c = {t.wasm2c};
  w2c.insert(w2c.end(), kWasm2cFlags.begin(), kWasm2cFlags.end());
  w2c.insert(w2c.end(), {wasm, "-o", c_file});
  // RLIMIT_FSIZE stops wasm2c (SIGXFSZ) as soon as it writes more than the bound.
  ChildResult wr = run_child(w2c, {}, limits(config.max_generated_c + 1), 1u << 20);
  if (!wr.exited_ok()) return fail("aot: wasm2c " + wr.describe() + (wr.err.empty() ? "" : ": " + tail(wr.err)));
  std::uint64_t c_size = fs::file_size(c_file, ec);
  if (ec) return fail("aot: wasm2c wrote no " + c_file);
  std::uint64_t h_size = fs::file_size(h_file, ec);
  if (ec) return fail("aot: wasm2c wrote no " + h_file);
  if (c_size + h_size > config.max_generated_c)
    return fail("aot: generated C is " + std::to_string(c_size + h_size) + " bytes, more than the bound " +
                std::to_string(config.max_generated_c));

  // Does Z_task_instantiate take the WASI imports' instance? (Only if the
  // module imports anything.)
  std::vector<std::uint8_t> header;
  if (!read_whole(h_file, &header)) return fail("aot: cannot read " + h_file);
  const std::string h_text(header.begin(), header.end());
  std::string imports_define;
  if (h_text.find("void Z_task_instantiate(Z_task_instance_t*, struct Z_wasi_snapshot_preview1_instance_t*);") !=
      std::string::npos)
    imports_define = "-DVERITY_WASI_IMPORTS=1";
  else if (h_text.find("void Z_task_instantiate(Z_task_instance_t*);") != std::string::npos)
    imports_define = "-DVERITY_WASI_IMPORTS=0";
  else
    return fail("aot: unexpected Z_task_instantiate in the generated header (imports outside WASI?)");

  std::vector<std::string> cc = {t.cc};
  cc.insert(cc.end(), kAotCFlags.begin(), kAotCFlags.end());
  cc.insert(cc.end(), {imports_define, "-I", tmp.path, "-o", so, c_file, shim, "-lm"});
  ChildResult cr = run_child(cc, {}, limits(std::uint64_t(1) << 30), 1u << 20);
  if (!cr.exited_ok()) return fail("aot: cc " + cr.describe() + (cr.err.empty() ? "" : ": " + tail(cr.err)));

  std::vector<std::uint8_t> object;
  if (!read_whole(so, &object) || object.empty()) return fail("aot: cc wrote no object");
  Hash256 h = sha256(ByteView(object.data(), object.size()));
  object.insert(object.end(), h.data.begin(), h.data.end());
  object.insert(object.end(), kTrailerMagic, kTrailerMagic + sizeof kTrailerMagic);
  const std::string part = final_path + ".part-" + random_suffix();
  if (!write_whole(part, object.data(), object.size(), true)) {
    fs::remove(part, ec);
    return fail("aot: cannot write " + part);
  }
  if (::rename(part.c_str(), final_path.c_str()) != 0) {
    int e = errno;
    fs::remove(part, ec);
    return fail("aot: rename to " + final_path + ": " + std::strerror(e));
  }
  r.ok = true;
  r.so_path = final_path;
  r.compile_ms = ms_since(t0);
  return r;
}

EngineResponse aot_run(const std::string& so_path, EngineRequest request, const AotConfig& config,
                       double* run_ms, double* exec_ms) {
  EngineResponse failed;
  failed.ending = Ending::engine_failed;
  if (run_ms) *run_ms = 0;
  const std::string runner = aot_runner_path(config);
  if (runner.empty()) {
    failed.detail = "aot: verity-sandbox not found (set AotConfig::runner_path or VERITY_SANDBOX_RUNNER)";
    return failed;
  }
  request.module.assign(so_path.begin(), so_path.end());
  const std::uint64_t outputs = request.max_stdout + request.max_stderr;
  std::vector<std::uint8_t> bytes = encode_request(request);

  ChildLimits lim;
  lim.wall_ms = config.wall_ms;
  lim.cpu_seconds = config.cpu_seconds;
  // 256 MiB of native stack: the module's injected stack-height limit
  // (worker/wabt_metering.cpp) always traps before the native stack ends.
  lim.stack_bytes = 256ull << 20;
  // Writable private memory: the wasm memory (pages are committed as it
  // grows; the rest of its 8 GiB guard reservation is PROT_NONE and not
  // counted), the request read and decoded (two copies), stdout and stderr
  // as the host collects them, the encoded response and its copy, plus the
  // runner's own heap and libraries. No RLIMIT_AS: the guard reservation
  // alone is 8 GiB of address space.
  lim.data_bytes = config.memory_cap_bytes + 2 * std::uint64_t(bytes.size()) + 3 * outputs + (64ull << 20);
  ChildResult c = run_child({runner}, bytes, lim, std::size_t(outputs + (1u << 20)));
  if (run_ms) *run_ms = c.wall_ms;
  if (exec_ms) {
    auto at = c.err.rfind("verity-run-ns ");
    *exec_ms = at == std::string::npos ? 0 : std::strtod(c.err.c_str() + at + 14, nullptr) / 1e6;
  }
  if (!c.exited_ok()) {
    failed.detail = "aot: verity-sandbox " + c.describe() + (c.err.empty() ? "" : ": " + tail(c.err, 300));
    return failed;
  }
  std::optional<EngineResponse> r = decode_response(c.out.data(), c.out.size());
  if (!r) {
    failed.detail = "aot: verity-sandbox answered " + std::to_string(c.out.size()) + " bytes that are no response";
    return failed;
  }
  return std::move(*r);
}

}  // namespace verity::worker
