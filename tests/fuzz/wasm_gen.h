#pragma once
// A generator of valid WebAssembly modules for the differential fuzz target
// (tests/fuzz/engines_fuzz.cpp, docs/testing.md). The fuzzer's input is
// read as a stream of choices; when it runs out, every choice is the
// smallest one (the empty input gives a small, terminating module), so a
// mutation changes the module a little and libFuzzer's coverage steers it.
//
// Every module has the shape the sandbox admits (docs/sandbox.md): imports
// only wasi_snapshot_preview1.fd_write and proc_exit; one memory (1-4
// pages, a maximum of up to 8 or none) exported as `memory`; mutable
// globals of each type; a small funcref table with MVP element segments
// (the functions, sometimes the imports after them); sometimes a data
// segment that fits; 1-6 functions with random i32/i64/f32/f64 params,
// results (0-2) and locals, whose bodies come from a typed stack generator
// (constants, locals, globals, arithmetic, comparisons, conversions
// including the trapping and saturating truncations and reinterprets,
// loads and stores at random and sometimes out-of-bounds addresses,
// memory.size/grow (by a few pages, past the maximum, by 2^32 - k),
// select, block/if/loop with results, br/br_if/br_table, return, calls, recursion,
// call_indirect with good and bad indices and types, unreachable, fd_write,
// proc_exit); and `_start`, which calls each function, stores their results
// and the globals in memory, writes the first 128 bytes to stdout and
// sometimes calls proc_exit with a computed code. Loops are bounded by a
// counter local and calls by a budget global, except where the choices
// say otherwise: then fuel or the stack limit ends them.
//
// Only the standard library and core/bytes.h.

#include <cstdint>
#include <string>

#include "core/bytes.h"

namespace verity::fuzz {

// What the generator put in a module (for the seed search and for
// messages): counts of some instruction kinds.
struct WasmGenStats {
  int functions = 0;
  std::uint32_t memory_pages = 0;  // the declared minimum
  int instructions = 0;
  int memory_grows = 0;
  int proc_exits = 0;
  int unguarded_functions = 0;   // no call-budget check at entry: recursion may be unbounded
  int unbounded_loops = 0;
  int float_stores = 0;
};

struct GeneratedModule {
  Bytes wasm;
  WasmGenStats stats;
};

GeneratedModule generate_module(ByteView choices);

// The limits engines_fuzz runs a generated module under (seeds.cpp's search
// for its seeds uses the same): small, so that an endless loop or
// recursion ends quickly and a long write is output-too-large.
inline constexpr std::uint64_t kGenFuel = 200'000;
inline constexpr std::uint32_t kGenMemoryPages = 16;
inline constexpr std::size_t kGenMaxStdout = 4096;
inline constexpr std::size_t kGenMaxStderr = 1024;

}  // namespace verity::fuzz
