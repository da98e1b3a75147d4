#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace verity {

// Lower-case hex, no prefix.
std::string to_hex(std::span<const std::uint8_t> bytes);

// Accepts upper or lower case, no prefix, even length; reason "bad-hex".
Result<std::vector<std::uint8_t>> from_hex(std::string_view text);

}  // namespace verity
