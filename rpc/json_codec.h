#pragma once
// JSON forms of core types, used only at the RPC edge (everything inside
// the node is the canonical binary encoding).
//
//   Amount       "12345"  (decimal string: JSON numbers lose precision > 2^53)
//   Hash256 etc. hex string, no 0x prefix: written lower-case, read in
//                either case (the schemas' patterns say [0-9a-fA-F])
//   byte fields  hex string as above (task module, input, output), refused
//                over the field's cap before decoding
//   heights, nonces, views: JSON unsigned integers
//   Transaction  {"chain_id", "sender", "nonce", "fee", "payload": {"type", ...}, "signature"}
//                and nothing else: an unknown field, in the transaction or
//                its payload, is refused (a typo must not be signed and sent)
//
// Decoders return Result with reason "invalid-params" and a detail that
// names the field, so a JSON-RPC caller learns exactly what to fix.

#include <rapidjson/document.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/amount.h"
#include "core/bytes.h"
#include "core/hex.h"
#include "core/transaction.h"

namespace verity::rpc {

using JsonAlloc = rapidjson::Document::AllocatorType;

rapidjson::Value to_json(std::string_view s, JsonAlloc& alloc);  // a JSON string (copied)
rapidjson::Value to_json(Amount a, JsonAlloc& alloc);
template <std::size_t N, class Tag>
rapidjson::Value to_json(const FixedBytes<N, Tag>& b, JsonAlloc& alloc) {
  std::string hex = b.hex();
  return rapidjson::Value(hex.c_str(), static_cast<rapidjson::SizeType>(hex.size()), alloc);
}
rapidjson::Value to_json(const Transaction& tx, JsonAlloc& alloc);

// The JSON form of a struct with fields() (core/encoding.h): an object with
// a member per field, named and ordered as the list, each in the form
// above (integers, booleans, strings, amounts, hex for fixed bytes and
// byte fields, arrays for lists, objects for structs with fields()).
template <HasFields T>
rapidjson::Value fields_json(const T& value, JsonAlloc& alloc);

// One field's JSON form, as fields_json() writes it.
rapidjson::Value field_json(std::uint64_t v, JsonAlloc& alloc);
rapidjson::Value field_json(bool v, JsonAlloc& alloc);
rapidjson::Value field_json(const std::string& v, JsonAlloc& alloc);
rapidjson::Value field_json(Amount v, JsonAlloc& alloc);
template <std::size_t N, class Tag>
rapidjson::Value field_json(const FixedBytes<N, Tag>& v, JsonAlloc& alloc) {
  return to_json(v, alloc);
}
template <std::size_t N>
rapidjson::Value field_json(const LimitedBytes<N>& v, JsonAlloc& alloc) {
  return to_json(to_hex(v.bytes), alloc);
}
// Evidence travels as the hex of its canonical encoding: the contract
// checks the signatures over exactly those bytes.
rapidjson::Value field_json(const DoubleSignEvidence& v, JsonAlloc& alloc);
// {"type": payload_name(p), then the payload's fields}.
rapidjson::Value field_json(const Payload& p, JsonAlloc& alloc);
// A byte string that is not a bounded payload field (an RPC record's
// input and output): hex.
rapidjson::Value field_json(const Bytes& v, JsonAlloc& alloc);
// Named strings (an event's attributes): an object of strings, in order.
rapidjson::Value field_json(const std::vector<std::pair<std::string, std::string>>& v, JsonAlloc& alloc);
// An optional field: null when absent (the RPC records, rpc/records.h).
template <class T>
rapidjson::Value field_json(const std::optional<T>& v, JsonAlloc& alloc);
template <class T>
rapidjson::Value field_json(const std::vector<T>& v, JsonAlloc& alloc);
template <HasFields T>
rapidjson::Value field_json(const T& v, JsonAlloc& alloc);

template <class T>
rapidjson::Value field_json(const std::optional<T>& v, JsonAlloc& alloc) {
  return v ? field_json(*v, alloc) : rapidjson::Value();
}

template <class T>
rapidjson::Value field_json(const std::vector<T>& v, JsonAlloc& alloc) {
  rapidjson::Value out(rapidjson::kArrayType);
  for (const auto& item : v) out.PushBack(field_json(item, alloc), alloc);
  return out;
}
template <HasFields T>
rapidjson::Value field_json(const T& v, JsonAlloc& alloc) {
  return fields_json(v, alloc);
}

// Adds each field of `value` to the object `out`.
template <HasFields T>
void add_fields_json(rapidjson::Value& out, const T& value, JsonAlloc& alloc) {
  T::fields(value, [&](const char* name, const auto& field, auto...) {
    out.AddMember(rapidjson::StringRef(name), field_json(field, alloc), alloc);
  });
}
template <HasFields T>
rapidjson::Value fields_json(const T& value, JsonAlloc& alloc) {
  rapidjson::Value out(rapidjson::kObjectType);
  add_fields_json(out, value, alloc);
  return out;
}

// `field` names the value in error messages ("fee", "payload.to").
Result<Amount> amount_from_json(const rapidjson::Value& v, std::string_view field);
Result<std::uint64_t> u64_from_json(const rapidjson::Value& v, std::string_view field);
Result<std::string> string_from_json(const rapidjson::Value& v, std::string_view field);
template <std::size_t N, class Tag>
Result<FixedBytes<N, Tag>> fixed_from_json(const rapidjson::Value& v, std::string_view field) {
  auto s = string_from_json(v, field);
  if (!s) return s.error();
  auto b = FixedBytes<N, Tag>::from_hex(*s);
  if (!b) return make_error("invalid-params", std::string(field) + ": " + b.error().to_string());
  return b;
}
Result<Transaction> transaction_from_json(const rapidjson::Value& v);

// Compact serialisation of a JSON value.
std::string json_string(const rapidjson::Value& v);

// Member `name` of `v`: null when `v` is not an object or has no such member.
const rapidjson::Value* member(const rapidjson::Value& v, const char* name);

}  // namespace verity::rpc
