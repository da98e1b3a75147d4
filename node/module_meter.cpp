#include "node/module_meter.h"

#include <string>

#include "worker/sandbox.h"

namespace verity::node {

namespace {

Error other_version(std::uint64_t version) {
  return make_error("unknown-metering-version", "the chain meters by version " + std::to_string(version) +
                                                    "; this node's sandbox implements version " +
                                                    std::to_string(worker::metering_version()));
}

Result<Hash256> hash_of(const Result<Bytes>& metered) {
  return metered ? Result<Hash256>(sha256(*metered)) : Result<Hash256>(metered.error());
}

}  // namespace

Result<Hash256> SandboxModuleMeter::metered_hash(ByteView module, std::uint64_t version) const {
  if (version != worker::metering_version()) return other_version(version);
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
  Result<Hash256> answer = hash_of(worker::metered_module(module));
  std::lock_guard lock(mu_);
  ++computed_;
  computing_.erase(key);
  done_.notify_all();
  remember_hash(key, answer);
  return answer;
}

void SandboxModuleMeter::remember_hash(const Key& key, const Result<Hash256>& answer) const {
  if (cache_.count(key)) return;  // metered_module may have put it there meanwhile
  order_.push_front(key);
  cache_.emplace(key, std::make_pair(answer, order_.begin()));
  while (cache_.size() > capacity_) {
    cache_.erase(order_.back());
    order_.pop_back();
  }
}

// One rewrite gives both the bytes and the hash: both caches take it.
Result<Bytes> SandboxModuleMeter::metered_module(ByteView module, std::uint64_t version) const {
  if (version != worker::metering_version()) return other_version(version);
  const Key key{sha256(module), version};
  {
    std::lock_guard lock(mu_);
    for (auto it = bytes_.begin(); it != bytes_.end(); ++it)
      if (it->first == key) {
        bytes_.splice(bytes_.begin(), bytes_, it);
        return bytes_.front().second;
      }
    if (auto it = cache_.find(key); it != cache_.end() && !it->second.first)
      return it->second.first.error();  // refused before: no second rewrite
  }
  auto metered = worker::metered_module(module);
  std::lock_guard lock(mu_);
  ++computed_;
  remember_hash(key, hash_of(metered));
  if (!metered) return metered.error();
  bytes_.emplace_front(key, *metered);
  if (bytes_.size() > kBytesCapacity) bytes_.pop_back();
  return metered;
}

std::uint64_t SandboxModuleMeter::computed() const {
  std::lock_guard lock(mu_);
  return computed_;
}

}  // namespace verity::node
