#pragma once
// JSON Schemas for the method table (docs/rpc.md), built from tables, never
// written as JSON text by hand:
//
// - `schema::` builds one from parts: a reference to a component, an
//   integer with its bounds, an enumeration, an array, an object as a
//   table of (member, schema), a description added to any of them;
// - `record_schema<T>` generates the schema of a record of rpc/records.h
//   (or of a core struct) from its fields list, so it cannot drift from
//   what the server writes. The type of a field gives its schema (integer,
//   boolean, string, an Amount, Hash, Key or Hex reference, null-or-T for
//   an optional, an array for a list, an object for a record); `refine`
//   gives, by path ("status", "round.kind"), the schema where the type
//   alone says too little: an enumeration, a Height, a description.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "rpc/records.h"

namespace verity::rpc {

namespace schema {

// A JSON string literal of `text`, quotes and escapes included.
inline std::string quoted(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// {"$ref":"#/components/schemas/NAME"}
inline std::string ref(std::string_view component) {
  return R"({"$ref":"#/components/schemas/)" + std::string(component) + "\"}";
}
inline std::string boolean() { return R"({"type":"boolean"})"; }
inline std::string string() { return R"({"type":"string"})"; }
inline std::string null() { return R"({"type":"null"})"; }
inline std::string integer() { return R"({"type":"integer"})"; }
inline std::string integer(std::uint64_t minimum) {
  return R"({"type":"integer","minimum":)" + std::to_string(minimum) + "}";
}
inline std::string integer(std::uint64_t minimum, std::uint64_t maximum) {
  return R"({"type":"integer","minimum":)" + std::to_string(minimum) + R"(,"maximum":)" + std::to_string(maximum) +
         "}";
}
// A string matching `pattern`.
inline std::string pattern(std::string_view regex) { return R"({"type":"string","pattern":)" + quoted(regex) + "}"; }
inline std::string enumeration(const std::vector<std::string>& values) {
  std::string out = R"({"enum":[)";
  bool first = true;
  for (const auto& v : values) {
    out += (first ? "" : ",") + quoted(v);
    first = false;
  }
  return out + "]}";
}
inline std::string array(const std::string& items) { return R"({"type":"array","items":)" + items + "}"; }
inline std::string one_of(const std::vector<std::string>& schemas) {
  std::string out = R"({"oneOf":[)";
  bool first = true;
  for (const auto& s : schemas) {
    out += (first ? "" : ",") + s;
    first = false;
  }
  return out + "]}";
}
// An object of any members.
inline std::string any_object() { return R"({"type":"object"})"; }
// An object whose members are all strings (an event's attributes).
inline std::string string_map() { return R"({"type":"object","additionalProperties":{"type":"string"}})"; }

// An object: its members as a table of (name, schema), in order; those
// named in `required` must be present; `closed`: no other member is.
struct Member {
  std::string name;
  std::string schema;
};
inline std::string object(const std::vector<Member>& members, const std::vector<std::string>& required = {},
                          bool closed = false) {
  std::string out = R"({"type":"object")";
  if (!required.empty()) {
    out += R"(,"required":[)";
    bool first = true;
    for (const auto& r : required) {
      out += (first ? "" : ",") + quoted(r);
      first = false;
    }
    out += "]";
  }
  out += R"(,"properties":{)";
  bool first = true;
  for (const auto& m : members) {
    out += (first ? "" : ",") + quoted(m.name) + ":" + m.schema;
    first = false;
  }
  out += "}";
  if (closed) out += R"(,"additionalProperties":false)";
  return out + "}";
}

// `schema` (an object's text) with a description for people.
inline std::string described(const std::string& schema, std::string_view text) {
  return schema.substr(0, schema.size() - 1) + R"(,"description":)" + quoted(text) + "}";
}

}  // namespace schema

namespace records_detail {

// The schema of a T at `path` (the member names from the top, joined by
// "."; an optional's value and a list's items share their field's path).
template <class T>
std::string schema(const std::map<std::string, std::string>& refine, const std::string& path) {
  if constexpr (std::is_same_v<T, bool>) {
    return schema::boolean();
  } else if constexpr (std::is_same_v<T, std::uint64_t>) {
    return schema::integer();
  } else if constexpr (std::is_same_v<T, std::string>) {
    return schema::string();
  } else if constexpr (std::is_same_v<T, Amount>) {
    return schema::ref("Amount");
  } else if constexpr (std::is_same_v<T, Bytes>) {
    return schema::ref("Hex");
  } else if constexpr (std::is_same_v<T, Hash256>) {
    return schema::ref("Hash");
  } else if constexpr (std::is_same_v<T, PublicKey>) {
    return schema::ref("Key");
  } else if constexpr (is_string_pairs<T>::value) {
    return schema::string_map();
  } else if constexpr (is_optional<T>::value) {
    return schema::one_of({schema::null(), schema<typename T::value_type>(refine, path)});
  } else if constexpr (is_vector<T>::value) {
    return schema::array(schema<typename T::value_type>(refine, path));
  } else {
    static_assert(Record<T>, "a field type the schema does not know");
    std::vector<schema::Member> members;
    T sample{};
    T::fields(sample, [&](const char* name, auto& field, auto&&...) {  // a core struct's Max{} bounds: binary only
      const std::string at = path.empty() ? std::string(name) : path + "." + name;
      auto it = refine.find(at);
      members.push_back({name, it != refine.end() ? it->second : schema<std::remove_cvref_t<decltype(field)>>(refine, at)});
    });
    return schema::object(members);
  }
}

}  // namespace records_detail

template <class T>
std::string record_schema(const std::map<std::string, std::string>& refine = {}) {
  return records_detail::schema<T>(refine, "");
}

}  // namespace verity::rpc
