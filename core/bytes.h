#pragma once
// Byte buffers and fixed-size byte strings (hashes, keys, signatures).
// Each fixed-size kind gets its own type through a tag, so a public key can
// never be passed where a hash is expected.

#include <algorithm>
#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/hex.h"
#include "core/result.h"

namespace verity {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

inline ByteView as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// Big-endian integers in store keys (so that keys sort by number): the low
// `bytes` bytes of v appended to out, and the number a big-endian span holds.
inline void append_be(Bytes& out, std::uint64_t v, int bytes = 8) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
inline Bytes be64(std::uint64_t v) {
  Bytes out;
  out.reserve(8);
  append_be(out, v);
  return out;
}
inline std::uint64_t read_be(ByteView b) {
  std::uint64_t v = 0;
  for (auto x : b) v = v << 8 | x;
  return v;
}

// prefix + rest, sized once: the shape of every namespaced store key.
inline Bytes prefixed_key(std::string_view prefix, ByteView rest) {
  Bytes k(prefix.size() + rest.size());
  std::copy(prefix.begin(), prefix.end(), k.begin());
  std::copy(rest.begin(), rest.end(), k.begin() + static_cast<std::ptrdiff_t>(prefix.size()));
  return k;
}

inline Bytes prefixed_key(std::string_view prefix, ByteView a, ByteView b) {
  Bytes k(prefix.size() + a.size() + b.size());
  auto it = std::copy(prefix.begin(), prefix.end(), k.begin());
  it = std::copy(a.begin(), a.end(), it);
  std::copy(b.begin(), b.end(), it);
  return k;
}

template <std::size_t N, class Tag>
struct FixedBytes {
  static constexpr std::size_t kSize = N;
  std::array<std::uint8_t, N> data{};

  static constexpr std::size_t size() { return N; }
  ByteView view() const { return {data.data(), N}; }
  bool is_zero() const {
    for (auto b : data)
      if (b != 0) return false;
    return true;
  }
  std::string hex() const { return to_hex(view()); }

  static FixedBytes from_view(ByteView v) {  // v.size() must be N
    FixedBytes out;
    for (std::size_t i = 0; i < N && i < v.size(); ++i) out.data[i] = v[i];
    return out;
  }
  static Result<FixedBytes> from_hex(std::string_view text) {
    auto raw = verity::from_hex(text);
    if (!raw) return raw.error();
    if (raw->size() != N)
      return make_error("bad-length", "expected " + std::to_string(N) + " bytes, got " +
                                          std::to_string(raw->size()));
    return from_view(*raw);
  }

  friend auto operator<=>(const FixedBytes&, const FixedBytes&) = default;
  friend bool operator==(const FixedBytes&, const FixedBytes&) = default;
  friend std::ostream& operator<<(std::ostream& o, const FixedBytes& b) { return o << b.hex(); }
};

}  // namespace verity
