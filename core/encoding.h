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
// Structs list their fields once (fields(), below) and encode as those
// fields in order.
//
// Decoding is strict and never trusts a length: a length or count is checked
// against both a caller-given maximum and the bytes actually left, before any
// allocation, so a 5-byte message cannot make us allocate gigabytes.
//
// Reader has a sticky error: after the first failure every read returns a
// zero value and does nothing, and finish() reports the first error. Decode
// functions read all their fields and let the caller check once.

#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

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

// --- one field list per struct ------------------------------------------------
// An encoded struct lists its fields once, in encoding order:
//
//   template <class Self, class F>
//   static void fields(Self& s, F&& f) {
//     f("height", s.height);
//     f("chain_id", s.chain_id, Max{kMaxChainIdBytes});
//     f("prepares", s.prepares, Max{kMaxValidators, 100});
//   }
//
// encode_field() and decode_field() walk that list (and the JSON codec, at
// the RPC edge, walks the same one), so the encoding is the fields in
// order, each in its type's form:
//
//   std::uint64_t            varint
//   unsigned __int128        varint of the high 64 bits, then of the low 64
//   bool                     boolean
//   enum E : std::uint8_t    u8; decoding calls check_field(r, e), which E's
//                            header declares, to refuse an unknown value
//   FixedBytes<N, Tag>       fixed N
//   Bytes, std::string       bytes, string: at most Max{n} bytes
//   LimitedBytes<N>          bytes of at most N
//   std::vector<T>           list of at most Max{n, min item bytes} items;
//                            further bounds apply to the items
//   std::optional<T>         boolean, then the value when present
//   std::pair<A, B>          A then B (both get the further bounds)
//   a struct with fields()   its fields
//   a type with encode(Writer&) const and static decode(Reader&): those,
//                            for an encoding a field walk cannot express
//
// A bound is part of the encoding's rules, so it sits in the field list,
// next to its field. A rule beyond a bound (a tag, a check across fields)
// stays explicit in the struct's own code, which says so.

// A byte string of at most N bytes: a field whose type says its own cap
// (the decoder refuses an over-long one before allocating).
template <std::size_t N>
struct LimitedBytes {
  static constexpr std::size_t kMax = N;
  Bytes bytes;
  friend bool operator==(const LimitedBytes&, const LimitedBytes&) = default;
};

// A bound on a length-prefixed field: at most `max` bytes (bytes, string)
// or items (list), each item at least `min_item_bytes` long, so that a count
// cannot promise more items than bytes remain.
struct Max {
  std::size_t max;
  std::size_t min_item_bytes = 1;
};

namespace codec_detail {
// Stands for any visitor of a fields() list, to ask whether a type has one.
struct AnyField {
  template <class T, class... Bounds>
  void operator()(const char*, T&, Bounds...) const;
};
}  // namespace codec_detail

template <class T>
concept HasFields = requires(T& v) { T::fields(v, codec_detail::AnyField{}); };
template <class T>
concept HasCodec = !HasFields<T> && requires(const T& v, Writer& w, Reader& r) {
  v.encode(w);
  { T::decode(r) } -> std::same_as<T>;
};
template <class E>
concept ByteEnum = std::is_enum_v<E> && std::is_same_v<std::underlying_type_t<E>, std::uint8_t>;

// Declared first so that each overload sees the others (a vector of
// optionals, a pair inside a vector, ...).
inline void encode_field(Writer& w, std::uint64_t v) { w.varint(v); }
inline void encode_field(Writer& w, unsigned __int128 v) {
  w.varint(static_cast<std::uint64_t>(v >> 64));
  w.varint(static_cast<std::uint64_t>(v));
}
inline void encode_field(Writer& w, bool v) { w.boolean(v); }
template <ByteEnum E>
void encode_field(Writer& w, E v) {
  w.u8(static_cast<std::uint8_t>(v));
}
template <std::size_t N, class Tag>
void encode_field(Writer& w, const FixedBytes<N, Tag>& v) {
  w.fixed(v);
}
inline void encode_field(Writer& w, const Bytes& v, Max) { w.bytes(v); }
inline void encode_field(Writer& w, const std::string& v, Max) { w.string(v); }
template <std::size_t N>
void encode_field(Writer& w, const LimitedBytes<N>& v) {
  w.bytes(v.bytes);
}
template <class T, class... Bounds>
void encode_field(Writer& w, const std::vector<T>& v, Max, Bounds... item_bounds);
template <class T, class... Bounds>
void encode_field(Writer& w, const std::optional<T>& v, Bounds... bounds);
template <class A, class B, class... Bounds>
void encode_field(Writer& w, const std::pair<A, B>& v, Bounds... bounds);
template <HasFields T>
void encode_field(Writer& w, const T& v);
template <HasCodec T>
void encode_field(Writer& w, const T& v) {
  v.encode(w);
}

inline void decode_field(Reader& r, std::uint64_t& v) { v = r.varint(); }
inline void decode_field(Reader& r, unsigned __int128& v) {
  unsigned __int128 hi = r.varint();
  v = hi << 64 | r.varint();
}
inline void decode_field(Reader& r, bool& v) { v = r.boolean(); }
template <ByteEnum E>
void decode_field(Reader& r, E& v) {
  v = static_cast<E>(r.u8());
  if (r.ok()) check_field(r, v);
}
template <std::size_t N, class Tag>
void decode_field(Reader& r, FixedBytes<N, Tag>& v) {
  v = r.fixed<N, Tag>();
}
inline void decode_field(Reader& r, Bytes& v, Max bound) { v = r.bytes(bound.max); }
inline void decode_field(Reader& r, std::string& v, Max bound) { v = r.string(bound.max); }
template <std::size_t N>
void decode_field(Reader& r, LimitedBytes<N>& v) {
  v.bytes = r.bytes(N);
}
template <class T, class... Bounds>
void decode_field(Reader& r, std::vector<T>& v, Max bound, Bounds... item_bounds);
template <class T, class... Bounds>
void decode_field(Reader& r, std::optional<T>& v, Bounds... bounds);
template <class A, class B, class... Bounds>
void decode_field(Reader& r, std::pair<A, B>& v, Bounds... bounds);
template <HasFields T>
void decode_field(Reader& r, T& v);
template <HasCodec T>
void decode_field(Reader& r, T& v) {
  v = T::decode(r);
}

template <class T, class... Bounds>
void encode_field(Writer& w, const std::vector<T>& v, Max, Bounds... item_bounds) {
  w.varint(v.size());
  for (const auto& item : v) encode_field(w, item, item_bounds...);
}
template <class T, class... Bounds>
void decode_field(Reader& r, std::vector<T>& v, Max bound, Bounds... item_bounds) {
  v.resize(r.count(bound.max, bound.min_item_bytes));
  for (auto& item : v) decode_field(r, item, item_bounds...);
}

template <class T, class... Bounds>
void encode_field(Writer& w, const std::optional<T>& v, Bounds... bounds) {
  w.boolean(v.has_value());
  if (v) encode_field(w, *v, bounds...);
}
template <class T, class... Bounds>
void decode_field(Reader& r, std::optional<T>& v, Bounds... bounds) {
  if (!r.boolean()) return;
  T value{};
  decode_field(r, value, bounds...);
  v = std::move(value);
}

template <class A, class B, class... Bounds>
void encode_field(Writer& w, const std::pair<A, B>& v, Bounds... bounds) {
  encode_field(w, v.first, bounds...);
  encode_field(w, v.second, bounds...);
}
template <class A, class B, class... Bounds>
void decode_field(Reader& r, std::pair<A, B>& v, Bounds... bounds) {
  decode_field(r, v.first, bounds...);
  decode_field(r, v.second, bounds...);
}

// The visitors that encode or decode each field of a fields() list; also
// for a part of one, such as a signed body without its signature.
inline auto field_encoder(Writer& w) {
  return [&w](const char*, const auto& field, auto... bounds) { encode_field(w, field, bounds...); };
}
inline auto field_decoder(Reader& r) {
  return [&r](const char*, auto& field, auto... bounds) { decode_field(r, field, bounds...); };
}

template <HasFields T>
void encode_field(Writer& w, const T& v) {
  T::fields(v, field_encoder(w));
}
template <HasFields T>
void decode_field(Reader& r, T& v) {
  T::fields(v, field_decoder(r));
}

// One value of type T read from `r` (bounds as its field would give them).
template <class T, class... Bounds>
T decode_value(Reader& r, Bounds... bounds) {
  T value{};
  decode_field(r, value, bounds...);
  return value;
}

// The encoding of any value above.
template <class T>
Bytes encode(const T& value) {
  Writer w;
  encode_field(w, value);
  return w.take();
}

// Decodes exactly one T from all of `bytes`.
template <class T>
Result<T> decode_exact(ByteView bytes) {
  Reader r(bytes);
  T value = decode_value<T>(r);
  if (auto s = r.finish(); !s) return s.error();
  return value;
}

// Decodes exactly one T from `bytes`, refused before any decoding when
// longer than `max_bytes` (reason `too_large`: a cheap check first).
template <class T>
Result<T> decode_bounded(ByteView bytes, std::size_t max_bytes, const char* too_large) {
  if (bytes.size() > max_bytes)
    return make_error(too_large, std::to_string(bytes.size()) + " bytes exceeds " + std::to_string(max_bytes));
  return decode_exact<T>(bytes);
}

// A value read back from the node's own storage (what a store's get
// answered): nullopt when absent. Bytes that do not decode are the node's
// own damage, not anyone's request: a local fault, "state-corrupt".
template <class T>
Result<std::optional<T>> decode_stored(const Result<std::optional<Bytes>>& raw) {
  if (!raw) return raw.error();
  if (!raw->has_value()) return std::optional<T>{};
  auto v = decode_exact<T>(**raw);
  if (!v) return local_error("state-corrupt", "stored value does not decode: " + v.error().to_string());
  return std::optional<T>{std::move(*v)};
}

}  // namespace verity
