#pragma once
// The `interp` engine: runs an instrumented module (wabt_metering.h) on
// wabt 1.0.32's interpreter through its public API only, with the WASI
// subset of wasi_host.h. It is the reference engine: the others must give
// the same EngineResponse. Standard library only in this header (wabt's
// interpreter headers do not compile as C++20 under GCC 12).

#include "worker/engine_protocol.h"
#include "worker/wasi_host.h"

namespace verity::worker::wabt_glue {

// request.module holds the instrumented module. Never throws for anything
// the module does.
EngineResponse interp_run(const EngineRequest& request, const RandomBlock& random);

}  // namespace verity::worker::wabt_glue
