#pragma once
// The `node` engine: the instrumented module under Node.js's V8, with the
// JavaScript twin of the WASI host (web/wasi_host.mjs) that the browser
// worker shares. One child process per run: `node web/node_runner.mjs`,
// spoken to in engine_protocol.h's framing.

#include <cstdint>
#include <string>

#include "worker/engine_protocol.h"

namespace verity::worker {

struct NodeConfig {
  std::string node_path;     // "" = `node` on PATH
  std::string web_dir;       // "" = $VERITY_WEB_DIR, else the installed web folder
  std::uint64_t wall_ms = 0; // 0 = none
};

// The folder holding node_runner.mjs, or "" if none is found.
std::string find_web_dir(const std::string& configured);

// request.module holds the instrumented module. A child that cannot start,
// crashes or answers garbage gives Ending::engine_failed with the reason.
EngineResponse node_run(const EngineRequest& request, const NodeConfig& config, double* run_ms = nullptr,
                        double* exec_ms = nullptr);

}  // namespace verity::worker
