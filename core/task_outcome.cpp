#include "core/task_outcome.h"

#include <array>
#include <cstddef>

#include "core/enum_names.h"

namespace verity {

namespace {
constexpr std::array<std::string_view, 8> kNames = {
    "ok", "trap", "out-of-fuel", "memory-exceeded", "output-too-large", "invalid-module", "forbidden-import",
    "engine-failed",
};
}  // namespace

std::string_view outcome_name(TaskOutcome o) { return enum_name(kNames, o); }

std::optional<TaskOutcome> outcome_from_name(std::string_view name) { return enum_from_name<TaskOutcome>(kNames, name); }

std::optional<std::string_view> outcome_name_of(std::uint64_t n) {
  if (n >= kNames.size()) return std::nullopt;
  return kNames[n];
}

}  // namespace verity
