#pragma once
// What the WASM test suites share: the test modules meson builds from
// tests/worker/modules/*.wat, and a minimal binary-module builder for
// modules wat cannot say briefly.

#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "core/bytes.h"
#include "tests/test_support.h"

namespace verity::testing {

// VERITY_TEST_MODULES/NAME.wasm, as tests/meson.build builds it.
inline Bytes test_module(const std::string& name) {
  const char* dir = std::getenv("VERITY_TEST_MODULES");
  if (!dir) throw std::runtime_error("VERITY_TEST_MODULES is not set; run with 'meson test'");
  std::string raw = read_file(std::string(dir) + "/" + name + ".wasm");
  return Bytes(raw.begin(), raw.end());
}

// Unsigned LEB128, as the binary format writes sizes and indices.
inline void leb(Bytes& out, std::uint64_t v) {
  do {
    std::uint8_t b = v & 0x7f;
    v >>= 7;
    out.push_back(v ? (b | 0x80) : b);
  } while (v);
}

// Section `id` with its size, then `payload`.
inline void section(Bytes& module, std::uint8_t id, const Bytes& payload) {
  module.push_back(id);
  leb(module, payload.size());
  module.insert(module.end(), payload.begin(), payload.end());
}

}  // namespace verity::testing
