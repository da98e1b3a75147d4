#include "worker/daemon/exec.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "core/hash.h"
#include "core/hex.h"
#include "cli/args.h"
#include "cli/program.h"
#include "worker/sandbox.h"

namespace verity::worker {

using cli::kExitFailure;
using cli::kExitOk;

const char* const kExecHelp =
    "Usage: verity-worker exec FILE.wasm [--input FILE] [--arg A]... [--fuel N]\n"
    "                          [--engine aot|interp|node] [--json] [--cache DIR]\n"
    "Runs one task module exactly as a worker would (same admission, metering,\n"
    "WASI host and limits) and reports what a worker would commit.\n"
    "  --input FILE   the task's stdin (default: empty)\n"
    "  --arg A        an argument after argv[0] (repeatable, in order)\n"
    "  --fuel N       the fuel limit (default 1000000000, the client's default)\n"
    "  --engine E     aot (default; falls back to interp if it cannot compile), interp or node\n"
    "  --json         one JSON object on stdout: outcome, exit_code, fuel_used, result_hash,\n"
    "                 engine, stdout_hex, stderr_hex, metered_hash, metering_version, compile_ms,\n"
    "                 run_ms, detail\n"
    "  --cache DIR    where aot keeps compiled modules (default $XDG_CACHE_HOME/verity/aot,\n"
    "                 else ~/.cache/verity/aot)\n"
    "Without --json the task's stdout goes to stdout byte for byte and its stderr to\n"
    "stderr, then one line on stderr:\n"
    "  outcome=... exit_code=... fuel_used=... result_hash=... engine=...\n"
    "Exit status: 0 when the sandbox gave a result (any outcome), 1 when it could not,\n"
    "2 on a usage error.\n";

namespace {

std::string json_escape(const std::string& s) {
  std::string o;
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      o += '\\';
      o += char(c);
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      o += buf;
    } else {
      o += char(c);
    }
  }
  return o;
}

std::string default_cache() {
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/verity/aot";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/verity/aot";
  return "/tmp/verity-aot-cache";
}

bool read_all(const std::string& path, Bytes* out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  out->assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  return !f.bad();
}

const cli::CommandSpec kExecSpec{"verity-worker", "exec", {"input", "arg", "fuel", "engine", "cache"}, {"json"},
                                  {"arg"}, 1, 1, "a module FILE.wasm"};

int usage_error(std::ostream& err, const std::string& what) {
  return cli::usage_failure("verity-worker exec", kExecSpec.usage(what), err);
}

}  // namespace

int exec_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  auto parsed = cli::parse_args(kExecSpec, args);
  if (!parsed) return cli::usage_failure("verity-worker exec", parsed.error(), err);
  const std::string file = parsed->positional[0];
  const std::string input_file = parsed->get("input").value_or("");
  const std::vector<std::string> task_args = parsed->all("arg");
  const bool json = parsed->has("json");
  worker::SandboxLimits limits;
  worker::EngineConfig engine;
  engine.engine = worker::Engine::aot;
  if (auto v = parsed->get("fuel")) {
    char* end = nullptr;
    errno = 0;
    unsigned long long n = std::strtoull(v->c_str(), &end, 10);
    if (v->empty() || (*v)[0] == '-' || *end || errno == ERANGE || n == 0)
      return usage_error(err, "--fuel takes a positive whole number, not '" + *v + "'");
    limits.fuel = n;
  }
  if (auto v = parsed->get("engine")) {
    auto e = worker::engine_from_name(*v);
    if (!e) return usage_error(err, "--engine is aot, interp or node, not '" + *v + "'");
    engine.engine = *e;
  }
  const std::string cache = parsed->get("cache").value_or(default_cache());
  engine.aot_cache_dir = cache;

  Bytes module, input;
  if (!read_all(file, &module)) {
    err << "verity-worker exec: cannot read " << file << "\n";
    return kExitFailure;
  }
  if (!input_file.empty() && !read_all(input_file, &input)) {
    err << "verity-worker exec: cannot read " << input_file << "\n";
    return kExitFailure;
  }
  // A local run has no task: its random stream is seeded with 32 zero bytes.
  Hash256 seed;
  auto r = worker::run_task(module, input, task_args, limits, seed, engine);
  std::string outcome(worker::outcome_name(r.outcome));
  std::string hash = r.outcome == worker::Outcome::engine_failed ? "" : to_hex(r.result_hash().data);
  // The instrumented module every engine ran (docs/sandbox.md, "Versions").
  auto metered = worker::metered_module(module, limits);
  std::string metered_hash = metered ? to_hex(sha256(*metered).data) : "";
  if (json) {
    char ms[64];
    std::ostringstream o;
    o << "{\"outcome\":\"" << outcome << "\",\"exit_code\":" << r.exit_code << ",\"fuel_used\":" << r.fuel_used
      << ",\"result_hash\":\"" << hash << "\",\"engine\":\"" << worker::engine_name(r.engine)
      << "\",\"stdout_hex\":\"" << to_hex(r.stdout_bytes) << "\",\"stderr_hex\":\"" << to_hex(r.stderr_bytes) << "\",\"metered_hash\":\"" << metered_hash
      << "\",\"metering_version\":" << worker::metering_version();
    std::snprintf(ms, sizeof ms, ",\"compile_ms\":%.3f,\"run_ms\":%.3f", r.compile_ms, r.run_ms);
    o << ms << ",\"detail\":\"" << json_escape(r.detail) << "\"}\n";
    out << o.str();
  } else {
    out.write(reinterpret_cast<const char*>(r.stdout_bytes.data()), std::streamsize(r.stdout_bytes.size()));
    out.flush();
    err.write(reinterpret_cast<const char*>(r.stderr_bytes.data()), std::streamsize(r.stderr_bytes.size()));
    err << "outcome=" << outcome << " exit_code=" << r.exit_code << " fuel_used=" << r.fuel_used
        << " result_hash=" << hash << " engine=" << worker::engine_name(r.engine);
    if (!r.detail.empty()) err << " detail=\"" << r.detail << "\"";
    err << "\n";
  }
  return r.outcome == worker::Outcome::engine_failed ? kExitFailure : kExitOk;
}

}  // namespace verity::worker
