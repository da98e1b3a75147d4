#include "state/state_view.h"

namespace verity::state {

Result<std::optional<Bytes>> StateOverlay::get(ByteView key) const {
  if (auto it = writes_.find(Bytes(key.begin(), key.end())); it != writes_.end()) return it->second;
  return base_.get(key);
}

void StateOverlay::record(const Bytes& key) {
  auto it = writes_.find(key);
  journal_.emplace_back(key, it == writes_.end() ? std::nullopt : std::optional<std::optional<Bytes>>(it->second));
}

void StateOverlay::put(ByteView key, ByteView value) {
  Bytes k(key.begin(), key.end());
  record(k);
  writes_[k] = Bytes(value.begin(), value.end());
}

void StateOverlay::erase(ByteView key) {
  Bytes k(key.begin(), key.end());
  record(k);
  writes_[k] = std::nullopt;
}

void StateOverlay::rollback(Checkpoint cp) {
  while (journal_.size() > cp) {
    auto& [key, previous] = journal_.back();
    if (previous)
      writes_[key] = *previous;
    else
      writes_.erase(key);
    journal_.pop_back();
  }
}

std::vector<StateUpdate> StateOverlay::changes() const {
  std::vector<StateUpdate> out;
  out.reserve(writes_.size());
  for (const auto& [k, v] : writes_) out.push_back({k, v});
  return out;
}

}  // namespace verity::state
