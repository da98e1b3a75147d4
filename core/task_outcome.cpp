#include "core/task_outcome.h"

#include <array>
#include <cstddef>

namespace verity {

namespace {
constexpr std::array<std::string_view, 8> kNames = {
    "ok", "trap", "out-of-fuel", "memory-exceeded", "output-too-large", "invalid-module", "forbidden-import",
    "engine-failed",
};
}  // namespace

std::string_view outcome_name(TaskOutcome o) { return kNames.at(static_cast<std::size_t>(o)); }

std::optional<TaskOutcome> outcome_from_name(std::string_view name) {
  for (std::size_t i = 0; i < kNames.size(); ++i)
    if (kNames[i] == name) return static_cast<TaskOutcome>(i);
  return std::nullopt;
}

std::optional<std::string_view> outcome_name_of(std::uint64_t n) {
  if (n >= kNames.size()) return std::nullopt;
  return kNames[n];
}

}  // namespace verity
