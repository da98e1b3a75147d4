#pragma once
// The boundary to wabt. wabt's interpreter headers do not compile as C++20
// under GCC 12, so the code that includes them is compiled as C++17, and
// this header, its interface, uses only the C++17 standard library: no core
// types. Everything above it (worker/*.cpp besides wabt_*.cpp) is C++20.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace verity::worker::wabt_glue {

struct Import {
  std::string module;  // e.g. "wasi_snapshot_preview1"
  std::string name;    // e.g. "fd_write"
  std::string kind;    // "func", "table", "memory", "global", "tag"
};

struct ModuleInfo {
  bool ok = false;
  std::string error;  // wabt's first message when !ok
  std::vector<Import> imports;
  std::vector<std::string> exports;
};

// Parses and validates a binary module.
ModuleInfo read_module(const std::uint8_t* data, std::size_t size);

}  // namespace verity::worker::wabt_glue
