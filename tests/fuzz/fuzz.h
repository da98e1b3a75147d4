#pragma once
// Shared by the fuzz targets (tests/fuzz/*_fuzz.cpp, docs/testing.md).
//
// Each target defines LLVMFuzzerTestOneInput and is linked either with
// libFuzzer (clang builds: scripts/fuzz, the sanitizer build of
// scripts/test) or with replay_main.cpp (every other build), which runs it
// over the seed corpus and the committed regressions. A target checks
// properties, not only "no crash": FUZZ_CHECK aborts with the failed
// condition, which libFuzzer reports as a crash and saves the input.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <algorithm>
#include <cstdlib>
#include <optional>
#include <type_traits>
#include <utility>

#include "core/bytes.h"

#define FUZZ_CHECK(cond)                                                                        \
  do {                                                                                          \
    if (!(cond)) {                                                                              \
      std::fprintf(stderr, "%s:%d: fuzz property failed: %s\n", __FILE__, __LINE__, #cond);  \
      std::abort();                                                                             \
    }                                                                                           \
  } while (0)

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace verity::fuzz {

inline ByteView input(const std::uint8_t* data, std::size_t size) { return ByteView(data, size); }

inline bool same_bytes(ByteView a, ByteView b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

// The canonical-encoding properties of an input `decode` accepts: encoding
// the value gives back the very bytes (each value has exactly one
// encoding), and they decode again to an equal value. Returns the value,
// or nullopt when `decode` refused the input.
template <class Decode, class Encode>
auto canonical(ByteView bytes, Decode decode, Encode encode) {
  auto value = decode(bytes);
  std::optional<std::decay_t<decltype(*value)>> out;
  if (!value) return out;
  const Bytes again = encode(*value);
  FUZZ_CHECK(same_bytes(again, bytes));
  auto twice = decode(ByteView(again));
  FUZZ_CHECK(twice && *twice == *value);
  out.emplace(std::move(*value));
  return out;
}

}  // namespace verity::fuzz
