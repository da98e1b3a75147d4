#pragma once
// An enumeration whose values 0, 1, ... are named by a table: both
// directions read the one table.

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

namespace verity {

// The name of `value`; "?" for a value past the table.
template <class E, class Name, std::size_t N>
Name enum_name(const std::array<Name, N>& names, E value) {
  const auto i = static_cast<std::size_t>(value);
  return i < N ? names[i] : Name("?");
}

// The value named `name`, or nullopt.
template <class E, class Name, std::size_t N>
std::optional<E> enum_from_name(const std::array<Name, N>& names, std::string_view name) {
  for (std::size_t i = 0; i < N; ++i)
    if (std::string_view(names[i]) == name) return static_cast<E>(i);
  return std::nullopt;
}

}  // namespace verity
