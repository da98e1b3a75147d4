#include "state/state_view.h"

namespace verity::state {

Result<std::optional<Bytes>> StateOverlay::get(ByteView key) const {
  if (auto it = writes_.find(key); it != writes_.end()) return it->second;
  return base_.get(key);
}

// One lookup; the key is copied once (into a new entry) and the value the
// entry held is moved into the journal, not copied.
void StateOverlay::write(ByteView key, std::optional<Bytes> value) {
  auto it = writes_.lower_bound(key);
  if (it != writes_.end() && !KeyLess{}(key, it->first)) {
    journal_.emplace_back(it, std::optional<std::optional<Bytes>>(std::move(it->second)));
    it->second = std::move(value);
  } else {
    it = writes_.emplace_hint(it, Bytes(key.begin(), key.end()), std::move(value));
    journal_.emplace_back(it, std::nullopt);
  }
}

void StateOverlay::put(ByteView key, ByteView value) { write(key, Bytes(value.begin(), value.end())); }

void StateOverlay::erase(ByteView key) { write(key, std::nullopt); }

void StateOverlay::rollback(Checkpoint cp) {
  while (journal_.size() > cp) {
    auto& [it, previous] = journal_.back();
    if (previous)
      it->second = std::move(*previous);
    else
      writes_.erase(it);
    journal_.pop_back();
  }
}

std::vector<StateUpdate> StateOverlay::changes() const {
  std::vector<StateUpdate> out;
  out.reserve(writes_.size());
  for (const auto& [k, v] : writes_) out.push_back({k, v});
  return out;
}

std::vector<StateUpdate> StateOverlay::take_changes() {
  journal_.clear();  // its iterators would dangle
  std::vector<StateUpdate> out;
  out.reserve(writes_.size());
  while (!writes_.empty()) {
    auto node = writes_.extract(writes_.begin());
    out.push_back({std::move(node.key()), std::move(node.mapped())});
  }
  return out;
}

}  // namespace verity::state
