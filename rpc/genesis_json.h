#pragma once
// The JSON form of a genesis file (see genesis/README.md for the format).
// Reading is strict: an unknown field, a missing field, a wrong type, bad
// hex, an amount that is not a decimal string or overflows, a duplicate key
// or a zero stake each fail with reason "bad-genesis" and a detail that
// names the field, e.g. "validators[2].stake: must be positive".

#include <string>
#include <string_view>

#include "core/genesis.h"

namespace verity::rpc {

Result<Genesis> genesis_from_json(std::string_view text);
std::string genesis_to_json(const Genesis& genesis);  // pretty-printed

}  // namespace verity::rpc
