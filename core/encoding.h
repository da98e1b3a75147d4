#pragma once
// The one canonical binary encoding for everything hashed, signed, stored or
// sent between nodes. Each value has exactly one encoding, so equal objects
// hash equal and a decoded object re-encodes to the very bytes it came from.
//
//   u8        one byte
//   varint    unsigned LEB128, minimal (no redundant 0x80/0x00 groups), <= 64 bits
//   boolean   one byte, 0 or 1
//   fixed N   N raw bytes (hashes, keys, signatures)
//   bytes     varint length, then the bytes
//   string    as bytes, which must be well-formed UTF-8 (RFC 3629: no
//             overlong forms, surrogates or code points past U+10FFFF);
//             callers bound the length. Strings reach JSON at the RPC edge,
//             where anything else would make the answer invalid JSON.
//   list      varint count, then the items
//
// Decoding is strict and never trusts a length: a length or count is checked
// against both a caller-given maximum and the bytes actually left, before any
// allocation, so a 5-byte message cannot make us allocate gigabytes.
//
// Reader has a sticky error: after the first failure every read returns a
// zero value and does nothing, and finish() reports the first error. Decode
// functions read all their fields and let the caller check once.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "core/bytes.h"
#include "core/result.h"

namespace verity {

class Writer {
 public:
  void u8(std::uint8_t v) { out_.push_back(v); }
  void varint(std::uint64_t v);
  void boolean(bool v) { u8(v ? 1 : 0); }
  void raw(ByteView v) { out_.insert(out_.end(), v.begin(), v.end()); }
  void bytes(ByteView v) {
    varint(v.size());
    raw(v);
  }
  void string(std::string_view v) { bytes(as_bytes(v)); }
  template <std::size_t N, class Tag>
  void fixed(const FixedBytes<N, Tag>& v) {
    raw(v.view());
  }

  void reserve(std::size_t n) { out_.reserve(n); }
  void clear() { out_.clear(); }  // keeps the capacity, to encode the next value
  std::size_t size() const { return out_.size(); }
  const Bytes& data() const { return out_; }
  Bytes take() { return std::move(out_); }

 private:
  Bytes out_;
};

class Reader {
 public:
  explicit Reader(ByteView in) : in_(in) {}

  std::uint8_t u8();
  std::uint64_t varint();
  bool boolean();
  // A length-prefixed byte string of at most max_len bytes.
  Bytes bytes(std::size_t max_len);
  // The same, without a copy: a view into the input.
  ByteView bytes_view(std::size_t max_len);
  // The same, which must be well-formed UTF-8 ("decode-bad-utf8").
  std::string string(std::size_t max_len);
  template <std::size_t N, class Tag>
  FixedBytes<N, Tag> fixed() {
    FixedBytes<N, Tag> out;
    if (take(N)) out = FixedBytes<N, Tag>::from_view(in_.subspan(pos_ - N, N));
    return out;
  }
  // A list count of at most max_items, each item at least min_item_bytes
  // long, so that the count cannot promise more items than bytes remain.
  std::size_t count(std::size_t max_items, std::size_t min_item_bytes = 1);

  // Records the first error; later ones are ignored.
  void fail(std::string reason, std::string detail);
  bool ok() const { return ok_; }
  std::size_t remaining() const { return ok_ ? in_.size() - pos_ : 0; }
  std::size_t position() const { return pos_; }
  // The decode verdict: the first error, or "decode-trailing-bytes" when the
  // input is longer than what was read.
  Status finish() const;

 private:
  bool take(std::size_t n);
  ByteView in_;
  std::size_t pos_ = 0;
  bool ok_ = true;
  Error error_;
};

// Well-formed UTF-8 (RFC 3629).
bool is_utf8(ByteView s);

// Encodes any type with `void encode(Writer&) const`.
template <class T>
Bytes encode(const T& value) {
  Writer w;
  value.encode(w);
  return w.take();
}

// Decodes exactly one T (`static T decode(Reader&)`) from all of `bytes`.
template <class T>
Result<T> decode_exact(ByteView bytes) {
  Reader r(bytes);
  T value = T::decode(r);
  if (auto s = r.finish(); !s) return s.error();
  return value;
}

}  // namespace verity
