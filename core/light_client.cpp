#include "core/light_client.h"

namespace verity {

Result<LightClient> LightClient::from_genesis(const Genesis& genesis) {
  if (auto s = genesis.validate(); !s) return s.error();
  auto set = genesis.validator_set();
  if (!set) return set.error();
  return LightClient(genesis.chain_id, genesis.params.epoch_blocks, 0, std::move(*set));
}

Result<LightClient> LightClient::from_trusted(const Genesis& genesis, const ValidatorHandoff& handoff,
                                              const Hash256& trusted_block_hash) {
  auto client = from_genesis(genesis);
  if (!client) return client.error();
  const std::uint64_t height = handoff.header.height;
  if (height == 0 || height % client->epoch_blocks_ != 0)
    return make_error("trust-not-epoch", "height " + std::to_string(height) + " is not an epoch block (a multiple of " +
                                             std::to_string(client->epoch_blocks_) + ")");
  if (handoff.header.hash() != trusted_block_hash)
    return make_error("trust-hash-mismatch", "block " + std::to_string(height) + " hashes to " +
                                                 handoff.header.hash().hex() + ", not the trusted " + trusted_block_hash.hex());
  if (auto s = client->check_handoff_body(handoff, height); !s) return s.error();
  client->height_ = height;
  client->set_ = handoff.next;
  return client;
}

Status LightClient::check_handoff_body(const ValidatorHandoff& handoff, std::uint64_t height) const {
  const BlockHeader& h = handoff.header;
  if (h.height != height || handoff.certificate.height != height)
    return make_error("handoff-wrong-height", "expected the hand-off of block " + std::to_string(height) + ", got block " +
                                                  std::to_string(h.height) + " with a certificate of " +
                                                  std::to_string(handoff.certificate.height));
  if (h.chain_id != chain_id_)
    return make_error("handoff-wrong-chain", "the header is of chain '" + h.chain_id + "', not '" + chain_id_ + "'");
  if (handoff.certificate.block_hash != h.hash())
    return make_error("handoff-bad-certificate", "the certificate of block " + std::to_string(height) +
                                                     " is for another block than its header");
  if (auto s = verify_state_proof(h.state_root, kValidatorSetStateKey, encode(handoff.next), handoff.proof); !s)
    return make_error("handoff-wrong-set", "the set of block " + std::to_string(height) +
                                               " is not the one its state holds: " + s.error().to_string());
  return {};
}

Status LightClient::advance(const ValidatorHandoff& handoff) {
  const std::uint64_t height = next_handoff();
  if (auto s = check_handoff_body(handoff, height); !s) return s;
  if (auto s = handoff.certificate.verify(chain_id_, set_); !s)
    return make_error("handoff-bad-certificate",
                      "the certificate of block " + std::to_string(height) + " does not hold: " + s.error().to_string());
  height_ = height;
  set_ = handoff.next;
  return {};
}

Status LightClient::follow(std::uint64_t height, const HandoffSource& source) {
  const std::uint64_t target = certifying_epoch(height, epoch_blocks_);
  while (height_ < target) {
    auto page = source(next_handoff());
    if (!page) return page.error();
    if (page->empty())
      return make_error("handoff-missing", "no hand-off of block " + std::to_string(next_handoff()) +
                                               " was given, and block " + std::to_string(height) + " needs it");
    for (const auto& handoff : *page) {  // each one either advances or fails: the loop ends
      if (height_ >= target) break;
      if (auto s = advance(handoff); !s) return s;
    }
  }
  return {};
}

Status LightClient::verify_header(const BlockHeader& header, const CommitCertificate& certificate) const {
  const std::uint64_t h = header.height, needed = certifying_epoch(h, epoch_blocks_);
  if (h == 0) return make_error("header-wrong-height", "height 0 is genesis, which no certificate signs");
  if (needed > height_)
    return make_error("light-client-behind", "block " + std::to_string(h) + " is certified by the set chosen at " +
                                                 std::to_string(needed) + "; hand-offs are checked up to " +
                                                 std::to_string(height_));
  if (needed < height_)
    return make_error("light-client-ahead", "block " + std::to_string(h) + " is before the set held (chosen at " +
                                                std::to_string(height_) + ")");
  if (header.chain_id != chain_id_)
    return make_error("header-wrong-chain", "the header is of chain '" + header.chain_id + "', not '" + chain_id_ + "'");
  if (certificate.height != h || certificate.block_hash != header.hash())
    return make_error("header-bad-certificate", "the certificate is for another block than header " + std::to_string(h));
  if (auto s = certificate.verify(chain_id_, set_); !s)
    return make_error("header-bad-certificate",
                      "the certificate of block " + std::to_string(h) + " does not hold: " + s.error().to_string());
  return {};
}

}  // namespace verity
