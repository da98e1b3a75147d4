#include "worker/sandbox.h"

#include "core/transaction.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "core/encoding.h"
#include "worker/wabt_sandbox.h"

namespace verity::worker {

namespace {

constexpr std::array<std::string_view, 7> kNames = {
    "ok", "trap", "out-of-fuel", "memory-exceeded", "output-too-large", "invalid-module", "forbidden-import",
};

wabt_glue::ExecLimits glue_limits(const SandboxLimits& l) {
  wabt_glue::ExecLimits g;
  g.fuel = l.fuel;
  g.memory_pages = l.memory_pages;
  g.table_elements = l.table_elements;
  g.call_depth = l.call_depth;
  g.value_stack = l.value_stack;
  g.max_stdout = l.max_stdout;
  g.max_stderr = l.max_stderr;
  return g;
}

struct Refusal {
  Outcome outcome;
  std::string detail;
};

// Size, validity and imports: the checks that need no interpreter.
std::optional<Refusal> screen(ByteView wasm, const SandboxLimits& limits) {
  if (wasm.size() > limits.max_module_bytes)
    return Refusal{Outcome::invalid_module, "module-too-large: " + std::to_string(wasm.size()) +
                                                " bytes exceeds " + std::to_string(limits.max_module_bytes)};
  auto summary = inspect_module(wasm);
  if (!summary) {
    const Error& e = summary.error();  // "invalid-module" is the outcome already; keep other reasons
    return Refusal{Outcome::invalid_module, e.reason == "invalid-module" ? e.detail : e.to_string()};
  }

  const auto& allowed = wabt_glue::wasi_functions();
  std::string forbidden;
  for (const auto& import : summary->imports) {
    bool ok = import.module == wabt_glue::kWasiModule && import.kind == "func" &&
              std::any_of(allowed.begin(), allowed.end(),
                          [&](const wabt_glue::WasiFunction& f) { return import.name == f.name; });
    if (ok) continue;
    if (!forbidden.empty()) forbidden += ", ";
    forbidden += import.module + "." + import.name;
    if (import.kind != "func") forbidden += " (" + import.kind + ")";
  }
  if (!forbidden.empty()) return Refusal{Outcome::forbidden_import, forbidden};
  return std::nullopt;
}

Outcome from_admission(wabt_glue::Ending e) {
  return e == wabt_glue::Ending::memory_too_large ? Outcome::memory_exceeded : Outcome::invalid_module;
}

}  // namespace

std::string_view outcome_name(Outcome o) { return kNames.at(static_cast<std::size_t>(o)); }

std::optional<Outcome> outcome_from_name(std::string_view name) {
  for (std::size_t i = 0; i < kNames.size(); ++i)
    if (kNames[i] == name) return static_cast<Outcome>(i);
  return std::nullopt;
}

Hash256 SandboxResult::result_hash() const {
  return task_result_hash(static_cast<std::uint64_t>(outcome), exit_code, fuel_used, stdout_bytes);
}

Hash256 random_block(const Hash256& task_id, std::uint64_t index) {
  std::array<std::uint8_t, 40> in{};
  std::memcpy(in.data(), task_id.data.data(), 32);
  for (int i = 0; i < 8; ++i) in[32 + i] = static_cast<std::uint8_t>(index >> (56 - 8 * i));
  return tagged_hash(Domain::task_random, in);
}

std::vector<AllowedImport> allowed_wasi_imports() {
  std::vector<AllowedImport> out;
  for (const auto& f : wabt_glue::wasi_functions()) out.push_back({f.name, f.implemented});
  return out;
}

Status check_module(ByteView wasm, const SandboxLimits& limits) {
  if (auto refusal = screen(wasm, limits))
    return make_error(std::string(outcome_name(refusal->outcome)), refusal->detail);
  auto admission = wabt_glue::admit(wasm.data(), wasm.size(), glue_limits(limits));
  if (!admission.ok)
    return make_error(std::string(outcome_name(from_admission(admission.ending))), admission.detail);
  return {};
}

SandboxResult run_task(ByteView module, ByteView input, const std::vector<std::string>& args,
                       const SandboxLimits& limits, const Hash256& task_id) {
  SandboxResult result;
  if (auto refusal = screen(module, limits)) {
    result.outcome = refusal->outcome;
    result.detail = std::move(refusal->detail);
    return result;
  }

  wabt_glue::ExecRequest req;
  req.wasm = module.data();
  req.wasm_size = module.size();
  req.input = input.data();
  req.input_size = input.size();
  req.argv.reserve(args.size() + 1);
  req.argv.emplace_back(kTaskArgv0);
  req.argv.insert(req.argv.end(), args.begin(), args.end());
  req.limits = glue_limits(limits);
  req.random = [&task_id](std::uint64_t index, std::uint8_t* out) {
    Hash256 block = random_block(task_id, index);
    std::memcpy(out, block.data.data(), 32);
  };

  wabt_glue::Execution ex = wabt_glue::execute(req);
  result.exit_code = ex.exit_code;
  result.stdout_bytes = std::move(ex.out);
  result.stderr_bytes = std::move(ex.err);
  result.fuel_used = ex.fuel_used;
  result.memory_pages = ex.memory_pages;
  result.detail = std::move(ex.detail);
  using wabt_glue::Ending;
  switch (ex.ending) {
    case Ending::returned:
    case Ending::exited:
      result.outcome = Outcome::ok;
      break;
    case Ending::trap:
      result.outcome = Outcome::trap;
      break;
    case Ending::out_of_fuel:
      result.outcome = Outcome::out_of_fuel;
      break;
    case Ending::output_too_large:
      result.outcome = Outcome::output_too_large;
      break;
    case Ending::memory_too_large:
      result.outcome = Outcome::memory_exceeded;
      break;
    case Ending::invalid_module:
      result.outcome = Outcome::invalid_module;
      break;
  }
  // A refused memory.grow that the program did not survive: it trapped, or
  // gave up with a nonzero exit code (what malloc failing usually leads to).
  bool failed = result.outcome == Outcome::trap || (result.outcome == Outcome::ok && result.exit_code != 0);
  if (ex.grow_refused && failed) {
    std::string then = result.outcome == Outcome::trap ? "then trapped: " + result.detail
                                                       : "then exited with " + std::to_string(result.exit_code);
    result.outcome = Outcome::memory_exceeded;
    result.detail = "memory.grow refused (the cap is " + std::to_string(limits.memory_pages) + " pages); " + then;
  }
  return result;
}

}  // namespace verity::worker
