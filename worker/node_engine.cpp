#include "worker/node_engine.h"

#include <unistd.h>

#include <cstdlib>

#include "worker/child_process.h"

#ifndef VERITY_WEB_INSTALL_DIR
#define VERITY_WEB_INSTALL_DIR "/usr/local/share/verity/web"
#endif

namespace verity::worker {

namespace {

bool has_runner(const std::string& dir) {
  return !dir.empty() && access((dir + "/node_runner.mjs").c_str(), R_OK) == 0;
}

}  // namespace

std::string find_web_dir(const std::string& configured) {
  if (!configured.empty()) return has_runner(configured) ? configured : "";
  if (const char* env = std::getenv("VERITY_WEB_DIR"); env && has_runner(env)) return env;
  if (has_runner(VERITY_WEB_INSTALL_DIR)) return VERITY_WEB_INSTALL_DIR;
  return "";
}

EngineResponse node_run(const EngineRequest& request, const NodeConfig& config, double* run_ms, double* exec_ms) {
  EngineResponse failed;
  failed.ending = Ending::engine_failed;
  std::string web = find_web_dir(config.web_dir);
  if (web.empty()) {
    failed.detail = "node engine: node_runner.mjs not found (set VERITY_WEB_DIR)";
    return failed;
  }
  ChildLimits limits;
  limits.wall_ms = config.wall_ms;
  std::string node = find_on_path(config.node_path.empty() ? "node" : config.node_path);
  if (node.empty()) {
    failed.detail = "node engine: no node binary on PATH";
    return failed;
  }
  // Node 18 needs no flag for WebAssembly or worker threads; the runner asks
  // for the large stack itself (web/README.md).
  ChildResult child = run_child({node, web + "/node_runner.mjs"}, encode_request(request), limits);
  if (run_ms) *run_ms = child.wall_ms;
  if (exec_ms) {
    auto at = child.err.rfind("verity-run-ns ");
    *exec_ms = at == std::string::npos ? 0 : std::strtod(child.err.c_str() + at + 14, nullptr) / 1e6;
  }
  if (!child.started || child.exit_code != 0) {
    failed.detail = "node engine: " + child.describe() + (child.err.empty() ? "" : ": " + child.err.substr(0, 500));
    return failed;
  }
  auto response = decode_response(child.out.data(), child.out.size());
  if (!response) {
    failed.detail = "node engine: the runner's answer is malformed";
    return failed;
  }
  return *response;
}

}  // namespace verity::worker
