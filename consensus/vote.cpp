#include "consensus/vote.h"

namespace verity::consensus {

void Vote::sign(std::string_view chain_id, const SecretKey& key) {
  validator = key.public_key();
  signature = key.sign(digest(chain_id));
}

bool Vote::verify(std::string_view chain_id) const {
  return verify_signature(validator, digest(chain_id), signature);
}

void Vote::encode(Writer& w) const {
  w.u8(static_cast<std::uint8_t>(phase));
  w.varint(height);
  w.varint(view);
  w.fixed(block_hash);
  w.fixed(validator);
  w.fixed(signature);
}

Vote Vote::decode(Reader& r) {
  Vote v;
  std::uint8_t phase = r.u8();
  if (r.ok() && phase != static_cast<std::uint8_t>(VotePhase::prepare) &&
      phase != static_cast<std::uint8_t>(VotePhase::commit))
    r.fail("decode-bad-phase", "unknown vote phase " + std::to_string(phase));
  v.phase = static_cast<VotePhase>(phase);
  v.height = r.varint();
  v.view = r.varint();
  v.block_hash = r.fixed<32, HashTag>();
  v.validator = r.fixed<32, PublicKeyTag>();
  v.signature = r.fixed<64, SignatureTag>();
  return v;
}

bool is_equivocation(const Vote& a, const Vote& b) {
  return a.validator == b.validator && a.phase == b.phase && a.height == b.height &&
         a.view == b.view && a.block_hash != b.block_hash;
}

}  // namespace verity::consensus
