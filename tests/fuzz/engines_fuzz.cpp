// The differential fuzz target: a generated module (tests/fuzz/wasm_gen.h,
// the input read as a stream of choices) runs on `interp`, the reference,
// and on `aot` (wasm2c and the C compiler in verity-sandbox), and both must
// give the same outcome, exit code, stdout, stderr, fuel and final memory
// size (docs/sandbox.md: anything hashed that differs is a fork). Every
// generated module must pass check_module (else the generator has a bug).
//
// On a difference it prints both results, writes the module to
// ./engines-diff-HASH.wasm (read it with wasm2wat) and aborts, so libFuzzer
// or replay_main saves the input. If `aot` cannot run at all (no
// verity-sandbox, no C compiler: engine-failed) it says why once and
// compares nothing; with VERITY_ENGINES_STRICT=1 (the meson test, which
// points VERITY_SANDBOX_RUNNER at the built runner) that is a failure too.
//
// The aot cache: $VERITY_AOT_CACHE if set (kept), else a temporary folder
// emptied after every input and removed at exit. VERITY_ENGINES_VERBOSE=1
// prints one line per input: how the module ended.

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "core/hash.h"
#include "core/hex.h"
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/wasm_gen.h"
#include "worker/sandbox.h"

using namespace verity;
using namespace verity::worker;
namespace fs = std::filesystem;

namespace {

struct AotCache {
  std::string dir;
  bool temporary = false;

  AotCache() {
    if (const char* env = std::getenv("VERITY_AOT_CACHE"); env && *env) {
      dir = env;
      return;
    }
    std::string tmpl = (fs::temp_directory_path() / "verity-engines-fuzz-XXXXXX").string();
    if (mkdtemp(tmpl.data())) {
      dir = tmpl;
      temporary = true;
    }
  }
  ~AotCache() {
    std::error_code ec;
    if (temporary) fs::remove_all(dir, ec);
  }
  void clear() const {
    if (!temporary) return;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) fs::remove_all(e.path(), ec);
  }
};

AotCache& cache() {
  static AotCache c;
  return c;
}

bool strict() {
  const char* v = std::getenv("VERITY_ENGINES_STRICT");
  return v && std::string(v) == "1";
}

// The first 160 bytes, escaped.
std::string printable(const Bytes& b) {
  std::string out;
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (i == 160) return out + "... (" + std::to_string(b.size() - i) + " B more)";
    const std::uint8_t c = b[i];
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += char(c);
    } else {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

std::string describe(const SandboxResult& r) {
  std::ostringstream o;
  o << engine_name(r.engine) << ": " << outcome_name(r.outcome) << " exit=" << r.exit_code
    << " fuel=" << r.fuel_used << " pages=" << r.memory_pages << " detail=\"" << r.detail << "\"\n"
    << "    stdout (" << r.stdout_bytes.size() << " B): " << printable(r.stdout_bytes) << "\n"
    << "    stderr (" << r.stderr_bytes.size() << " B): " << printable(r.stderr_bytes);
  return o.str();
}

// Writes the module to ./PREFIX-HASH.wasm; returns the name.
std::string save(const std::string& prefix, const Bytes& wasm) {
  const std::string file = prefix + "-" + sha256(wasm).hex().substr(0, 16) + ".wasm";
  std::ofstream(file, std::ios::binary).write(reinterpret_cast<const char*>(wasm.data()), std::streamsize(wasm.size()));
  return file;
}

bool same(const SandboxResult& a, const SandboxResult& b) {
  return a.outcome == b.outcome && a.exit_code == b.exit_code && a.stdout_bytes == b.stdout_bytes &&
         a.stderr_bytes == b.stderr_bytes && a.fuel_used == b.fuel_used && a.memory_pages == b.memory_pages;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // VERITY_ENGINES_MODULE=1: the input is a module itself (an engines-diff
  // file, or one cut down by hand from its wasm2wat), not choices.
  static const bool raw_modules = std::getenv("VERITY_ENGINES_MODULE") != nullptr;
  const fuzz::GeneratedModule gen =
      raw_modules ? fuzz::GeneratedModule{Bytes(data, data + size), {}} : fuzz::generate_module(fuzz::input(data, size));
  const Bytes& wasm = gen.wasm;

  SandboxLimits limits;
  limits.fuel = fuzz::kGenFuel;
  limits.memory_pages = fuzz::kGenMemoryPages;
  limits.max_stdout = fuzz::kGenMaxStdout;
  limits.max_stderr = fuzz::kGenMaxStderr;

  if (const Status admitted = check_module(wasm, limits); !admitted && raw_modules) {
    std::fprintf(stderr, "engines_fuzz: check_module refuses the module: %s\n", admitted.error().to_string().c_str());
    return 0;
  } else if (!admitted) {
    const std::string file = save("engines-invalid", wasm);
    std::fprintf(stderr, "engines_fuzz: the generator made a module check_module refuses (%s); written to %s\n",
                 admitted.error().to_string().c_str(), file.c_str());
    std::abort();
  }

  const Hash256 task_id = sha256(wasm);
  EngineConfig interp;
  interp.engine = Engine::interp;
  const SandboxResult ref = run_task(wasm, {}, {}, limits, task_id, interp);
  FUZZ_CHECK(ref.engine == Engine::interp);
  if (ref.outcome == Outcome::invalid_module || ref.outcome == Outcome::forbidden_import ||
      ref.outcome == Outcome::engine_failed) {
    std::cerr << "engines_fuzz: an admitted module did not run on interp (written to " << save("engines-norun", wasm)
              << ")\n  " << describe(ref) << std::endl;
    std::abort();
  }

  EngineConfig aot;
  aot.engine = Engine::aot;
  aot.aot_cache_dir = cache().dir;
  aot.fallback = false;  // an aot that cannot run must not hide behind interp
  const SandboxResult run = run_task(wasm, {}, {}, limits, task_id, aot);
  cache().clear();
  if (std::getenv("VERITY_ENGINES_VERBOSE")) {
    std::fprintf(stderr, "engines_fuzz: %zu B module: %s exit=%u fuel=%llu pages=%u out=%zu B (%s) | aot: %s\n",
                 wasm.size(), std::string(outcome_name(ref.outcome)).c_str(), ref.exit_code,
                 static_cast<unsigned long long>(ref.fuel_used), ref.memory_pages, ref.stdout_bytes.size(),
                 ref.detail.c_str(), std::string(outcome_name(run.outcome)).c_str());
  }
  if (run.outcome == Outcome::engine_failed) {
    static bool said = false;
    if (!said || strict()) {
      said = true;
      std::fprintf(stderr, "engines_fuzz: aot cannot run (%s); interp and aot are not compared\n",
                   run.detail.c_str());
    }
    if (strict()) {
      const std::string file = save("engines-failed", wasm);
      std::fprintf(stderr, "engines_fuzz: VERITY_ENGINES_STRICT=1: a failure; the module is in %s\n", file.c_str());
      std::abort();
    }
    return 0;
  }
  FUZZ_CHECK(run.engine == Engine::aot);
  if (!same(ref, run)) {
    const std::string file = save("engines-diff", wasm);
    std::cerr << "engines_fuzz: interp and aot DIFFER on a generated module (written to " << file
              << "; wasm2wat it)\n  " << describe(ref) << "\n  " << describe(run) << std::endl;
    std::abort();
  }
  return 0;
}
