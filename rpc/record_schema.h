#pragma once
// The JSON Schema of a record of rpc/records.h, generated from its fields
// list, for the method table (docs/rpc.md): the schema cannot drift from
// what the server writes. The type of a field gives its schema (integer,
// boolean, string, an Amount, Hash, Key or Hex reference, null-or-T for an
// optional, an array for a list, an object for a record); `refine` gives,
// by path ("status", "round.kind"), the schema where the type alone says
// too little: an enumeration, a Height, a description.

#include <map>
#include <string>
#include <type_traits>

#include "rpc/records.h"

namespace verity::rpc {

namespace records_detail {

inline std::string schema_ref(const char* name) {
  return std::string(R"({"$ref":"#/components/schemas/)") + name + "\"}";
}

// The schema of a T at `path` (the member names from the top, joined by
// "."; an optional's value and a list's items share their field's path).
template <class T>
std::string schema(const std::map<std::string, std::string>& refine, const std::string& path) {
  if constexpr (std::is_same_v<T, bool>) {
    return R"({"type":"boolean"})";
  } else if constexpr (std::is_same_v<T, std::uint64_t>) {
    return R"({"type":"integer"})";
  } else if constexpr (std::is_same_v<T, std::string>) {
    return R"({"type":"string"})";
  } else if constexpr (std::is_same_v<T, Amount>) {
    return schema_ref("Amount");
  } else if constexpr (std::is_same_v<T, Bytes>) {
    return schema_ref("Hex");
  } else if constexpr (std::is_same_v<T, Hash256>) {
    return schema_ref("Hash");
  } else if constexpr (std::is_same_v<T, PublicKey>) {
    return schema_ref("Key");
  } else if constexpr (is_optional<T>::value) {
    return R"({"oneOf":[{"type":"null"},)" + schema<typename T::value_type>(refine, path) + "]}";
  } else if constexpr (is_vector<T>::value) {
    return R"({"type":"array","items":)" + schema<typename T::value_type>(refine, path) + "}";
  } else {
    static_assert(Record<T>, "a field type the schema does not know");
    std::string out = R"({"type":"object","properties":{)";
    bool first = true;
    T sample{};
    T::fields(sample, [&](const char* name, auto& field, auto&&...) {  // a core struct's Max{} bounds: binary only
      const std::string at = path.empty() ? std::string(name) : path + "." + name;
      auto it = refine.find(at);
      out += (first ? "\"" : ",\"") + std::string(name) + "\":" +
             (it != refine.end() ? it->second : schema<std::remove_cvref_t<decltype(field)>>(refine, at));
      first = false;
    });
    return out + "}}";
  }
}

}  // namespace records_detail

template <class T>
std::string record_schema(const std::map<std::string, std::string>& refine = {}) {
  return records_detail::schema<T>(refine, "");
}

}  // namespace verity::rpc
