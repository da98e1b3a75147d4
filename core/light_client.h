#pragma once
// The validator-set history and a light client that follows it from
// genesis, trusting no node.
//
// The set changes only at the end of an epoch block E (E % epoch_blocks
// == 0, contracts/staking.h): block E is certified by the old set, and the
// state after E holds, under kValidatorSetStateKey, the new set that
// certifies blocks E+1 .. E+epoch_blocks. So the set that certifies height
// h >= 1 is the one chosen at certifying_epoch(h), and a hand-off carries
// everything needed to go from one set to the next:
//
//   header      the header of epoch block E
//   certificate E's commit certificate, signed by the set that certified E
//   next        the set the state after E holds
//   proof       a state proof that, under header.state_root,
//               kValidatorSetStateKey maps to encode(next)
//
// A light client that holds the set chosen at E (the genesis set at 0)
// checks the hand-off of E + epoch_blocks with it and then holds that one's
// set; with every hand-off up to certifying_epoch(h) checked, it can check
// any header of height h with its certificate. A node that lies about a
// hand-off needs signatures of more than 2/3 of a set's power to do so.
// Pure: no I/O, no clock.

#include <cstdint>
#include <functional>
#include <vector>

#include "core/block.h"
#include "core/genesis.h"
#include "core/state_proof.h"

namespace verity {

// Where the state keeps the set that certifies the next block.
inline const Bytes kValidatorSetStateKey = prefixed_key("sys/validators", {});

// The epoch block whose chosen set certifies `height` (0: the genesis set).
inline std::uint64_t certifying_epoch(std::uint64_t height, std::uint64_t epoch_blocks) {
  return height <= 1 ? 0 : (height - 1) / epoch_blocks * epoch_blocks;
}

struct ValidatorHandoff {
  BlockHeader header;
  CommitCertificate certificate;
  ValidatorSet next;
  StateProof proof;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("header", s.header);
    f("certificate", s.certificate);
    f("next", s.next);
    f("proof", s.proof);
  }
  friend bool operator==(const ValidatorHandoff&, const ValidatorHandoff&) = default;
};

class LightClient {
 public:
  // Holds the genesis set (height 0). Reasons: genesis validation's.
  static Result<LightClient> from_genesis(const Genesis& genesis);
  // Holds the set of a hand-off the user trusts by its block hash (from
  // somewhere other than the node), without checking its certificate.
  // Reasons: "trust-not-epoch" (not an epoch block), "trust-hash-mismatch",
  // and the hand-off checks below but the certificate's.
  static Result<LightClient> from_trusted(const Genesis& genesis, const ValidatorHandoff& handoff,
                                          const Hash256& trusted_block_hash);

  // The epoch block whose set it holds (0: genesis), and that set.
  std::uint64_t height() const { return height_; }
  const ValidatorSet& validators() const { return set_; }
  std::uint64_t epoch_blocks() const { return epoch_blocks_; }
  const std::string& chain_id() const { return chain_id_; }
  // The height of the hand-off advance() takes next.
  std::uint64_t next_handoff() const { return height_ + epoch_blocks_; }

  // Checks the hand-off at next_handoff() and then holds its set. Reasons:
  // "handoff-wrong-height", "handoff-wrong-chain", "handoff-bad-certificate"
  // (its certificate is not for this header, or does not verify against
  // the set held), "handoff-wrong-set" (the proof does not show `next`
  // under the header's state root). Nothing changes on an error.
  Status advance(const ValidatorHandoff& handoff);

  // Hand-offs from a source that may lie: given a height, the hand-offs of
  // epoch blocks from that height on, ascending (a page; empty: none).
  using HandoffSource = std::function<Result<std::vector<ValidatorHandoff>>(std::uint64_t from_height)>;
  // advance()s through the source's hand-offs until it holds the set that
  // certifies `height` (nothing to do when it does). Reasons: advance()'s,
  // the source's, "handoff-missing" (the source has none where one must be).
  Status follow(std::uint64_t height, const HandoffSource& source);

  // Checks a header of height h >= 1 and its certificate against the set
  // held, which must be the one that certifies h (height() ==
  // certifying_epoch(h)). Reasons: "light-client-behind" (hand-offs up to
  // certifying_epoch(h) are still to be checked), "light-client-ahead"
  // (h is before the set held), "header-wrong-chain", "header-bad-certificate"
  // (+ the certificate's reason).
  Status verify_header(const BlockHeader& header, const CommitCertificate& certificate) const;

 private:
  LightClient(std::string chain_id, std::uint64_t epoch_blocks, std::uint64_t height, ValidatorSet set)
      : chain_id_(std::move(chain_id)), epoch_blocks_(epoch_blocks), height_(height), set_(std::move(set)) {}
  // The checks of a hand-off at `height` but its certificate's.
  Status check_handoff_body(const ValidatorHandoff& handoff, std::uint64_t height) const;

  std::string chain_id_;
  std::uint64_t epoch_blocks_;
  std::uint64_t height_;
  ValidatorSet set_;
};

}  // namespace verity
