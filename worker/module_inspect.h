#pragma once
// Reads and validates a WebAssembly module and lists what it imports and
// exports: the first step of admitting a task module (the sandbox will
// reject imports outside its WASI subset).

#include <cstddef>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"
#include "worker/wabt_module.h"

namespace verity::worker {

inline constexpr std::size_t kMaxModuleBytes = 1024 * 1024;

using ModuleImport = wabt_glue::Import;

struct ModuleSummary {
  std::vector<ModuleImport> imports;
  std::vector<std::string> exports;
};

// Reasons: "module-too-large", "invalid-module" (detail: wabt's message).
Result<ModuleSummary> inspect_module(ByteView wasm);

}  // namespace verity::worker
