#pragma once
// How a task's run ended: part of a worker's result and of its hash
// (docs/sandbox.md, "Outcomes"), so every reader of a result (the sandbox,
// the worker, the client, the browser worker) shares this list.

#include <cstdint>
#include <optional>
#include <string_view>

namespace verity {

// The names (outcome_name) are stable, kebab-case, and part of the result
// hash: never rename one, never reorder.
enum class TaskOutcome : std::uint8_t {
  ok,                // _start returned (exit code 0) or called proc_exit (its code)
  trap,              // the module trapped; detail: the interpreter's message
  out_of_fuel,       // fuel ran out; fuel_used == limits.fuel
  memory_exceeded,   // declared memory above the cap, or a refused memory.grow and then a trap or a nonzero exit
  output_too_large,  // stdout would pass limits.max_stdout
  invalid_module,    // not run: unreadable, invalid, too large or the wrong shape; detail says why
  forbidden_import,  // not run: imports outside the WASI subset; detail names them
  engine_failed,     // not a result: the engine itself failed (a child crashed or was killed, node
                     // missing, aot without fallback); never committed, detail says why
};

std::string_view outcome_name(TaskOutcome o);
std::optional<TaskOutcome> outcome_from_name(std::string_view name);
// The name of outcome number `n` as a result carries it; nullopt when no
// outcome has that number.
std::optional<std::string_view> outcome_name_of(std::uint64_t n);

}  // namespace verity
