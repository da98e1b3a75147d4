#include "node/module_meter.h"

#include <string>

#include "worker/sandbox.h"

namespace verity::node {

Result<Hash256> SandboxModuleMeter::metered_hash(ByteView module, std::uint64_t version) const {
  if (version != worker::metering_version())
    return make_error("unknown-metering-version", "the chain meters by version " + std::to_string(version) +
                                                      "; this node's sandbox implements version " +
                                                      std::to_string(worker::metering_version()));
  Key key{sha256(module), version};
  {
    std::unique_lock lock(mu_);
    done_.wait(lock, [&] { return computing_.count(key) == 0; });
    if (auto it = cache_.find(key); it != cache_.end()) {
      order_.splice(order_.begin(), order_, it->second.second);
      return it->second.first;
    }
    computing_.insert(key);
  }
  // The rewrite runs outside the lock; others asking for this key wait.
  auto metered = worker::metered_module(module);
  Result<Hash256> answer = metered ? Result<Hash256>(sha256(*metered)) : Result<Hash256>(metered.error());
  std::lock_guard lock(mu_);
  ++computed_;
  computing_.erase(key);
  done_.notify_all();
  order_.push_front(key);
  cache_.emplace(key, std::make_pair(answer, order_.begin()));
  while (cache_.size() > capacity_) {
    cache_.erase(order_.back());
    order_.pop_back();
  }
  return answer;
}

std::uint64_t SandboxModuleMeter::computed() const {
  std::lock_guard lock(mu_);
  return computed_;
}

}  // namespace verity::node
