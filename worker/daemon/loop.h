#pragma once
// verity-worker: runs the WASM tasks the chain assigns to its key
// (docs/worker.md).
//
// HOME holds:
//   worker.key        the worker's key, a plain key file (cli/key_file.h,
//                     mode 0600): the worker signs unattended, so it cannot
//                     ask for a passphrase; protect HOME like a validator's
//                     (init makes it 0700). Or, with `run --key-file FILE`,
//                     a key file made by `verity keys` (encrypted, opened at
//                     start with the client's passphrase options).
//   tasks/ID.json     per-task state, written atomically (temp + rename)
//                     before the commitment is sent: the result, the salt
//                     and the round it belongs to, so a restarted worker can
//                     still reveal what it committed to.
//
// The loop: register (register_worker) if the key is not an active worker;
// subscribe to the "tasks" topic over WebSocket (reconnecting with backoff);
// on task_assigned to its key, and on a periodic scan of `tasks` (which also
// finds assignments made while it was away), fetch the task and its module,
// run it in the sandbox (fuel = the task's fuel, stdout capped at 64 KiB,
// random seed task_sandbox_seed(chain id, task id)), persist, commit, and
// reveal once reveals are open; log the settlement and forget the task.

#include <atomic>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>

#include "core/amount.h"
#include "core/keys.h"
#include "core/result.h"
#include "worker/sandbox.h"

namespace verity::worker {

struct WorkerOptions {
  std::filesystem::path home;
  std::string rpc_url;
  bool byzantine = false;              // reveal a wrong result (tests only)
  std::optional<Amount> stake;         // default: genesis min_worker_stake
  double poll_seconds = 0.5;           // how often open tasks are rechecked
  worker::Engine engine = worker::Engine::aot;  // compiled in HOME/aot-cache; falls back to interp
  // A `verity keys` file (HOME/keys/NAME.json of the client) instead of
  // HOME/worker.key, and its passphrase.
  std::optional<std::filesystem::path> key_file;
  std::string passphrase;
};

inline constexpr const char* kWorkerKeyFile = "worker.key";

// Creates HOME/worker.key (never overwrites): a fresh key, or with
// `insecure_name` the INSECURE key derived from that public name (devnets).
Result<PublicKey> init_worker_home(const std::filesystem::path& home, const std::optional<std::string>& insecure_name);

// Runs until `stop` becomes true; logs one line per step to `log`.
// Returns an error only when it cannot start (no key, bad URL).
Status run_worker(const WorkerOptions& options, std::ostream& log, const std::atomic<bool>& stop);

// verity-worker's command line.
int worker_main(int argc, char** argv);

}  // namespace verity::worker
