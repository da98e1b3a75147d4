#include "worker/module_inspect.h"

namespace verity::worker {

Result<ModuleSummary> inspect_module(ByteView wasm) {
  if (wasm.size() > kMaxModuleBytes)
    return make_error("module-too-large", std::to_string(wasm.size()) + " bytes exceeds " +
                                              std::to_string(kMaxModuleBytes));
  auto info = wabt_glue::read_module(wasm.data(), wasm.size());
  if (!info.ok) return make_error("invalid-module", info.error);
  return ModuleSummary{std::move(info.imports), std::move(info.exports)};
}

}  // namespace verity::worker
