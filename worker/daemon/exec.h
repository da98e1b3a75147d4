#pragma once
// `verity-worker exec FILE.wasm`: runs one module exactly as a worker would
// (the same admission, rewriter, WASI host and limits), for task authors
// choosing a fuel limit before they pay for a task (docs/worker.md, "Running
// a task locally").

#include <iosfwd>
#include <string>
#include <vector>

namespace verity::worker {

extern const char* const kExecHelp;

// Task stdout to `out` byte for byte, task stderr to `err`, then one summary
// line on `err`; with --json one JSON object on `out` instead. Exit 0 when
// the sandbox gave a result (whatever its outcome), 1 when it could not
// (unreadable file, engine failure), 2 on a usage error.
int exec_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace verity::worker
