#include "core/vote.h"

#include <cstring>
#include <deque>
#include <mutex>
#include <unordered_set>

namespace verity {

namespace {

class VerifiedVotes {
 public:
  static constexpr std::size_t kCapacity = 4096;

  bool check(const PublicKey& validator, const Hash256& digest, const Signature& signature) {
    const Entry e = entry(validator, digest, signature);
    {
      std::lock_guard lock(mu_);
      if (seen_.count(e)) {
        ++hits_;
        return true;
      }
    }
    if (!verify_signature(validator, digest, signature)) return false;
    insert(e);
    return true;
  }

  void remember(const PublicKey& validator, const Hash256& digest, const Signature& signature) {
    insert(entry(validator, digest, signature));
  }

  std::uint64_t hits() const {
    std::lock_guard lock(mu_);
    return hits_;
  }

 private:
  struct Entry {
    std::array<std::uint8_t, 128> bytes{};  // key, digest, signature
    friend bool operator==(const Entry&, const Entry&) = default;
  };
  struct EntryHash {
    std::size_t operator()(const Entry& e) const {
      std::size_t h;
      std::memcpy(&h, e.bytes.data() + 64, sizeof h);  // the signature's nonce point: unpredictable
      return h;
    }
  };
  static Entry entry(const PublicKey& validator, const Hash256& digest, const Signature& signature) {
    Entry e;
    std::memcpy(e.bytes.data(), validator.data.data(), 32);
    std::memcpy(e.bytes.data() + 32, digest.data.data(), 32);
    std::memcpy(e.bytes.data() + 64, signature.data.data(), 64);
    return e;
  }
  void insert(const Entry& e) {
    std::lock_guard lock(mu_);
    if (seen_.insert(e).second) {
      order_.push_back(e);
      if (order_.size() > kCapacity) {
        seen_.erase(order_.front());
        order_.pop_front();
      }
    }
  }

  mutable std::mutex mu_;
  std::unordered_set<Entry, EntryHash> seen_;
  std::deque<Entry> order_;
  std::uint64_t hits_ = 0;
};

VerifiedVotes& memo() {
  static VerifiedVotes m;
  return m;
}

}  // namespace

bool verify_vote_signature(const PublicKey& validator, const Hash256& digest, const Signature& signature) {
  return memo().check(validator, digest, signature);
}

std::uint64_t vote_signature_memo_hits() { return memo().hits(); }

const char* vote_phase_name(VotePhase phase) {
  switch (phase) {
    case VotePhase::prepare: return "prepare";
    case VotePhase::commit: return "commit";
    case VotePhase::propose: return "propose";
  }
  return "unknown";
}


Hash256 vote_digest(std::string_view chain_id, VotePhase phase, std::uint64_t height, std::uint64_t view,
                    const Hash256& block_hash) {
  Writer w;
  w.string(chain_id);
  w.u8(static_cast<std::uint8_t>(phase));
  w.varint(height);
  w.varint(view);
  w.fixed(block_hash);
  return tagged_hash(Domain::vote, w.data());
}

void Vote::sign(std::string_view chain_id, const SecretKey& key) {
  validator = key.public_key();
  const Hash256 d = digest(chain_id);
  signature = key.sign(d);
  // Its own vote comes back in the certificate that commits the block and
  // in the next block's last_commit: a signature made here needs no check.
  memo().remember(validator, d, signature);
}

bool Vote::verify(std::string_view chain_id) const {
  return verify_vote_signature(validator, digest(chain_id), signature);
}

void check_field(Reader& r, VotePhase phase) {
  const auto v = static_cast<std::uint8_t>(phase);
  if (v < static_cast<std::uint8_t>(VotePhase::prepare) || v > static_cast<std::uint8_t>(VotePhase::propose))
    r.fail("decode-bad-phase", "unknown vote phase " + std::to_string(v));
}

bool is_equivocation(const Vote& a, const Vote& b) {
  return a.validator == b.validator && a.phase == b.phase && a.height == b.height && a.view == b.view &&
         a.block_hash != b.block_hash;
}

Status DoubleSignEvidence::verify(std::string_view chain_id) const {
  if (!is_equivocation(first, second))
    return make_error("evidence-not-conflicting", "the votes are not two different blocks in one slot");
  if (!first.verify(chain_id) || !second.verify(chain_id))
    return make_error("evidence-bad-signature", "a vote's signature does not verify");
  return {};
}

Hash256 DoubleSignEvidence::offence_id() const {
  Writer w;
  w.fixed(first.validator);
  w.u8(static_cast<std::uint8_t>(first.phase));
  w.varint(first.height);
  w.varint(first.view);
  return tagged_hash(Domain::evidence, w.data());
}

}  // namespace verity
