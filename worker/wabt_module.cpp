#include "worker/wabt_module.h"

#include <wabt/binary-reader-ir.h>
#include <wabt/binary-reader.h>
#include <wabt/feature.h>
#include <wabt/ir.h>
#include <wabt/validator.h>

namespace verity::worker::wabt_glue {

ModuleInfo read_module(const std::uint8_t* data, std::size_t size) {
  ModuleInfo out;
  wabt::Features features;  // wabt's defaults: the MVP and the widely shipped extensions
  wabt::ReadBinaryOptions options(features, nullptr, /*read_debug_names=*/false,
                                  /*stop_on_first_error=*/true,
                                  /*fail_on_custom_section_error=*/false);
  wabt::Errors errors;
  wabt::Module module;
  auto first = [&] { return errors.empty() ? std::string("unknown error") : errors.front().message; };
  if (wabt::Failed(wabt::ReadBinaryIr("task.wasm", data, size, options, &errors, &module))) {
    out.error = first();
    return out;
  }
  wabt::ValidateOptions validate(features);
  if (wabt::Failed(wabt::ValidateModule(&module, &errors, validate))) {
    out.error = first();
    return out;
  }
  for (const wabt::Import* import : module.imports)
    out.imports.push_back({import->module_name, import->field_name, wabt::GetKindName(import->kind())});
  for (const wabt::Export* exp : module.exports) out.exports.push_back(exp->name);
  out.ok = true;
  return out;
}

}  // namespace verity::worker::wabt_glue
