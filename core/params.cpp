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
  return out;
}

void ProtocolParams::encode(Writer& w) const {
  for_each_param(*this, [&](const char*, const auto& value, ParamRule) {
    using T = std::decay_t<decltype(value)>;
    if constexpr (std::is_same_v<T, Amount>)
      value.encode(w);
    else
      w.varint(value);
  });
}

ProtocolParams ProtocolParams::decode(Reader& r) {
  ProtocolParams p;
  for_each_param(p, [&](const char*, auto& value, ParamRule) {
    using T = std::decay_t<decltype(value)>;
    if constexpr (std::is_same_v<T, Amount>)
      value = Amount::decode(r);
    else
      value = r.varint();
  });
  return p;
}

}  // namespace verity
