#include "contracts/params.h"

#include <string>

namespace verity::contracts {

namespace {
Status positive(const char* name, std::uint64_t v) {
  if (v == 0) return make_error("bad-param", std::string(name) + " must be at least 1");
  return {};
}
Status fraction(const char* name, std::uint32_t bps) {
  if (bps > kBpsDenominator)
    return make_error("bad-param", std::string(name) + " is " + std::to_string(bps) +
                                       " bps, more than 10000 (100%)");
  return {};
}
}  // namespace

Status validate(const ProtocolParams& p) {
  for (Status s : {positive("epoch_blocks", p.epoch_blocks),
                   positive("max_validators", p.max_validators),
                   positive("unbonding_blocks", p.unbonding_blocks),
                   positive("downtime_window", p.downtime_window),
                   positive("downtime_jail_blocks", p.downtime_jail_blocks),
                   positive("reward_lock_blocks", p.reward_lock_blocks),
                   positive("task_replication", p.task_replication),
                   fraction("double_sign_slash_bps", p.double_sign_slash_bps),
                   fraction("min_signed_bps", p.min_signed_bps),
                   fraction("downtime_slash_bps", p.downtime_slash_bps),
                   fraction("reputation_decay_bps", p.reputation_decay_bps),
                   fraction("worker_outvoted_slash_bps", p.worker_outvoted_slash_bps)})
    if (!s) return s;
  return {};
}

}  // namespace verity::contracts
