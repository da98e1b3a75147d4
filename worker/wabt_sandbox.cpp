// The `interp` engine on wabt 1.0.32's interpreter, through its public API
// only. Compiled as C++17: see wabt_sandbox.h.
//
// The module has been instrumented (wabt_metering.cpp): it counts its own
// fuel in the exported global `verity_fuel` and limits its own stack, so
// this file only binds the WASI imports, sets the fuel, calls `_start` to
// completion and reads how it ended. wabt's own call stack holds about
// 1,600 frames (64 KiB of frames, fixed in 1.0.32), more than the 1,024 the
// instrumented module allows itself, so the module's limit always comes first.

#include "worker/wabt_sandbox.h"

#include <wabt/binary-reader.h>
#include <wabt/feature.h>
#include <wabt/interp/binary-reader-interp.h>
#include <wabt/interp/interp.h>

#include <string>

namespace verity::worker::wabt_glue {

namespace ip = wabt::interp;

namespace {

ip::ValueTypes value_types(const char* letters) {
  ip::ValueTypes out;
  for (const char* c = letters; *c; ++c) out.push_back(*c == 'I' ? wabt::Type::I64 : wabt::Type::I32);
  return out;
}

struct Run {
  ip::Memory* memory = nullptr;  // owned by the store
  ip::Global* fuel = nullptr;
};

}  // namespace

EngineResponse interp_run(const EngineRequest& request, const RandomBlock& random) {
  EngineResponse resp;
  HostRequest hr;
  hr.input = request.input.data();
  hr.input_size = request.input.size();
  hr.argv = request.argv;
  hr.max_stdout = request.max_stdout;
  hr.max_stderr = request.max_stderr;
  hr.random = random;
  WasiHost host(hr);

  wabt::Features features;  // the module was validated with a narrower set at admission
  wabt::Errors errors;
  ip::ModuleDesc desc;
  wabt::ReadBinaryOptions read(features, nullptr, false, true, false);
  if (wabt::Failed(ip::ReadBinaryInterp("task.wasm", request.module.data(), request.module.size(), read, &errors,
                                        &desc))) {
    resp.ending = Ending::invalid_module;
    resp.detail = "the instrumented module does not load: " +
                  (errors.empty() ? std::string("unknown error") : errors.front().message);
    return resp;
  }

  ip::Store store(features);
  Run run;
  ip::Module::Ptr module = ip::Module::New(store, std::move(desc));
  ip::RefVec imports;
  std::vector<ip::HostFunc::Ptr> host_funcs;  // keeps them rooted
  for (const ip::ImportType& import : module->import_types()) {
    const WasiFunction* entry = import.module == kWasiModule && import.type->kind == wabt::ExternalKind::Func
                                    ? find_wasi_function(import.name)
                                    : nullptr;
    if (!entry) {
      resp.ending = Ending::invalid_module;
      resp.detail = "the host does not provide " + import.module + "." + import.name;
      return resp;
    }
    WasiFn fn = entry->fn;
    const char* letters = entry->params;
    auto func = ip::HostFunc::New(
        store, ip::FuncType(value_types(entry->params), value_types(entry->results)),
        [fn, letters, &host, &run](ip::Thread& thread, const ip::Values& params, ip::Values& results,
                          ip::Trap::Ptr* out_trap) -> wabt::Result {
          std::uint64_t args[8] = {};
          for (std::size_t i = 0; i < params.size() && i < 8; ++i)
            args[i] = letters[i] == 'I' ? params[i].Get<std::uint64_t>()
                                                        : params[i].Get<std::uint32_t>();
          std::int64_t fuel = static_cast<std::int64_t>(run.fuel->Get().Get<std::uint64_t>());
          GuestState guest{run.memory->UnsafeData(), run.memory->ByteSize(), &fuel};
          std::uint32_t err = 0;
          bool go_on = host.call(fn, args, guest, &err);
          run.fuel->UnsafeSet(ip::Value::Make(static_cast<std::uint64_t>(fuel)));
          if (!go_on) {
            *out_trap = ip::Trap::New(thread.store(), "wasi: the run ended");
            return wabt::Result::Error;
          }
          if (!results.empty()) results[0] = ip::Value::Make(err);
          return wabt::Result::Ok;
        });
    imports.push_back(func.ref());
    host_funcs.push_back(std::move(func));
  }

  ip::Trap::Ptr trap;
  ip::Instance::Ptr instance = ip::Instance::Instantiate(store, module.ref(), imports, &trap);
  if (!instance) {
    resp.ending = Ending::invalid_module;
    resp.detail = "instantiation failed: " + (trap ? trap->message() : std::string("unknown"));
    return resp;
  }
  ip::Func::Ptr start;
  ip::Global::Ptr fuel, flags;
  ip::Memory::Ptr memory;
  for (std::size_t i = 0; i < module->export_types().size(); ++i) {
    const std::string& name = module->export_types()[i].name;
    ip::Ref ref = instance->exports()[i];
    if (name == "_start") start = {store, ref};
    if (name == kFuelGlobal) fuel = {store, ref};
    if (name == kFlagsGlobal) flags = {store, ref};
    if (name == "memory") memory = {store, ref};
  }
  if (!start || !fuel || !flags || !memory) {
    resp.ending = Ending::invalid_module;
    resp.detail = "the module is not instrumented (no _start, memory, verity_fuel or verity_flags export)";
    return resp;
  }
  run.memory = memory.get();
  run.fuel = fuel.get();
  fuel->UnsafeSet(ip::Value::Make(request.fuel));

  ip::Values results;
  ip::Thread thread(store);
  wabt::Result r = start->Call(thread, {}, results, &trap);

  resp.fuel_left = static_cast<std::int64_t>(fuel->Get().Get<std::uint64_t>());
  resp.flags = flags->Get().Get<std::uint32_t>();
  resp.memory_pages = static_cast<std::uint32_t>(memory->PageSize());
  resp.out = std::move(host.out());
  resp.err = std::move(host.err());
  if (host.out_of_fuel() || (wabt::Failed(r) && resp.fuel_left < 0)) {
    resp.ending = Ending::out_of_fuel;
  } else if (host.output_too_large()) {
    resp.ending = Ending::output_too_large;
  } else if (host.exited()) {
    resp.ending = Ending::exited;
    resp.exit_code = host.exit_code();
  } else if (wabt::Succeeded(r)) {
    resp.ending = Ending::returned;
  } else {
    resp.ending = Ending::trap;
    resp.detail = trap ? trap->message() : std::string("trap");
  }
  return resp;
}

}  // namespace verity::worker::wabt_glue
