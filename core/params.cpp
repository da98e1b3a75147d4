#include "core/params.h"

#include <string>

namespace verity {

Status validate(const ProtocolParams& p) {
  Status out;
  for_each_param(p, [&](const char* name, const auto& value, ParamRule rule) {
    if (!out) return;
    using T = std::decay_t<decltype(value)>;
    if constexpr (std::is_same_v<T, std::uint64_t>) {
      if (rule == ParamRule::positive && value == 0)
        out = make_error("bad-param", std::string(name) + " must be at least 1");
      if (rule == ParamRule::fraction_bps && value > kBpsDenominator)
        out = make_error("bad-param", std::string(name) + " is " + std::to_string(value) +
                                          " bps, more than 10000 (100%)");
      if (rule == ParamRule::reputation && value > 1'000'000)
        out = make_error("bad-param", std::string(name) + " is " + std::to_string(value) +
                                          " ppm, more than 1000000 (the maximum reputation)");
    }
  });
  if (out && p.task_replication > p.max_task_replication)
    out = make_error("bad-param", "task_replication " + std::to_string(p.task_replication) +
                                      " exceeds max_task_replication " + std::to_string(p.max_task_replication));
  if (out && p.reference_fuel_per_block != 0) {
    const std::uint64_t needed = task_commit_blocks_needed(p.max_task_fuel, p.reference_fuel_per_block);
    if (needed >= p.max_task_blocks)
      out = make_error("bad-param", "max_task_blocks " + std::to_string(p.max_task_blocks) +
                                        " leaves no room for a task of max_task_fuel " + std::to_string(p.max_task_fuel) +
                                        ": its commit window at reference_fuel_per_block " +
                                        std::to_string(p.reference_fuel_per_block) + " is at least " +
                                        std::to_string(needed) + " blocks, plus 1 to reveal");
  }
  return out;
}

}  // namespace verity
