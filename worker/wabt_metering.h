#pragma once
// The metering rewriter (docs/sandbox.md, "Metering"): admits a task module
// and instruments it so that it pays for itself. The instrumented module
// decrements its own fuel counter (the exported global `verity_fuel`) by the
// static cost of each straight-line run of instructions, traps on a call
// stack deeper than a fixed number of WebAssembly slots, pays for every page
// that memory.grow grants, and canonicalizes NaNs wherever their bits could
// escape. Every engine that runs the instrumented module (engine_protocol.h)
// therefore reaches the same fuel, the same traps and the same bytes.
//
// The same input bytes and MeterConfig give byte-identical output on every
// machine (with Debian 12's wabt, whose encoder the output goes through).
// Standard library only in this header (wabt's headers are C++17-only).

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace verity::worker::wabt_glue {

// The fuel rules' version: genesis's metering_version names it, and any
// change to what follows (costs, where they are charged, the stack rule,
// canonicalization) needs a new number.
inline constexpr std::uint32_t kMeteringVersion = 1;

// The cost table of version 1 (docs/sandbox.md has it with the reasons).
inline constexpr std::uint64_t kFuelPerInstruction = 1;   // every instruction not listed below
inline constexpr std::uint64_t kFuelStructural = 0;       // nop, block, loop (and end, else)
inline constexpr std::uint64_t kFuelPerLocal = 1;         // on entry, per declared local (zeroed)
inline constexpr std::uint64_t kFuelPerPage = 1024;       // per 64 KiB page memory.grow grants
// The stack: a frame takes 1 + params + locals + its maximum operand height
// slots, and at least kMinFrameSlots, so at most kStackSlots / kMinFrameSlots
// = 1,024 frames fit (wabt's interpreter holds about 1,600).
inline constexpr std::uint32_t kStackSlots = 131072;
inline constexpr std::uint32_t kMinFrameSlots = 128;
inline constexpr std::uint32_t kMaxLocalsPerFunction = 50000;

struct MeterConfig {
  std::uint32_t memory_pages = 256;      // the cap: declared minimum above it is refused, maximum lowered to it
  std::uint32_t table_elements = 65536;  // likewise for tables
  std::uint32_t stack_slots = kStackSlots;
};

enum class Refusal { none, invalid_module, memory_too_large };

struct Metered {
  Refusal refusal = Refusal::invalid_module;  // none: wasm holds the instrumented module
  std::string detail;                         // why, when refused
  std::vector<std::uint8_t> wasm;
};

// Reads and validates the module with the sandbox's feature set, checks its
// shape (a WASI command: exported `memory` and `_start: [] -> []`, no start
// section, only function imports, each of wasi_snapshot_preview1 with the
// host's signature, locals and declared sizes under the caps, no export
// named like the injected globals) and instruments it.
Metered instrument(const std::uint8_t* wasm, std::size_t size, const MeterConfig& config);

// The wabt 1.0.32 feature set the sandbox accepts: the MVP, mutable globals,
// saturating float-to-int, sign extension and multi-value.
std::string accepted_features();

}  // namespace verity::worker::wabt_glue
