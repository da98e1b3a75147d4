#pragma once
// What state/ needs from the native contracts, as an interface: state/
// executes blocks without linking contracts/, and contracts/ sees only this
// header and the state view (core + state_view, no store).

#include <optional>
#include <string>
#include <vector>

#include "core/block.h"
#include "core/genesis.h"
#include "core/light_client.h"
#include "core/params.h"
#include "core/receipt.h"
#include "core/transaction.h"
#include "state/state_view.h"

namespace verity::state {

// What a transaction may know about the block it runs in: all of it agreed
// on by consensus, nothing local (no clock).
struct BlockContext {
  std::string chain_id;
  std::uint64_t height = 0;
  PublicKey proposer;
  ProtocolParams params;
};

// The Application keeps, as encoded ValidatorSets, the set that must
// certify the next block and the set that certified the last one (they
// differ only right after an epoch boundary). The chain reads them there to
// check commit certificates and each block's last_commit.
inline const Bytes& kValidatorSetKey = kValidatorSetStateKey;  // core/light_client.h
inline const Bytes kPreviousValidatorSetKey = prefixed_key("sys/previous_validators", {});

class Application {
 public:
  virtual ~Application() = default;
  // Writes the state of a validated genesis.
  virtual Status init_genesis(StateOverlay& state, const Genesis& genesis) const = 0;
  // The block hooks. Each appends the events it emits to `events`: they
  // are the block's own events (BlockOutcome::block_events), kept by the
  // node's history index and never hashed.
  //
  // Runs before the block's transactions, with the block's last_commit (the
  // certificate of the previous block, empty at height 1): rewards for its
  // signers, downtime tracking. An error makes the block invalid.
  virtual Status begin_block(StateOverlay& state, const BlockContext& ctx, const CommitCertificate& last_commit,
                             std::vector<Event>& events) const = 0;
  // Runs after begin_block, before the transactions, for each item of the
  // block's evidence in order: checks it against the state and punishes
  // the offender. An error (stale, duplicate, forged) makes the block invalid.
  virtual Status apply_evidence(StateOverlay& state, const BlockContext& ctx, const DoubleSignEvidence& e,
                                std::vector<Event>& events) const = 0;
  // Runs after them: epoch boundaries. An error makes the block invalid.
  virtual Status end_block(StateOverlay& state, const BlockContext& ctx, std::vector<Event>& events) const = 0;
  // What every transaction pays whatever its payload does: checks the
  // nonce and takes the fee. An error makes the whole block invalid.
  virtual Status charge(StateOverlay& state, const BlockContext& ctx, const Transaction& tx) const = 0;
  // Runs the payload. An input-fault error fails only this transaction
  // (its writes are rolled back by the caller); a local-fault error means
  // the block cannot be executed on this node.
  virtual Status execute(StateOverlay& state, const BlockContext& ctx, const Transaction& tx,
                         std::vector<Event>& events) const = 0;

  // --- the node's history index (state/chain.h, History) -------------------
  // Not consensus: nothing here reaches a hash. A term names what history
  // is kept of (an account, a task); terms of one kind share a first byte
  // and a length, so that no term is a prefix of another.
  //
  // The terms an event concerns, appended to `terms` (repeats allowed).
  virtual void history_terms(const Event& e, std::vector<Bytes>& terms) const = 0;
  // The term of a transaction's sender.
  virtual Bytes sender_term(const PublicKey& sender) const = 0;
  // The term of the series that a change of the state key `key` is a
  // point of (a worker's record over time), if any: the new value is kept
  // under it with the height.
  virtual std::optional<Bytes> series_term(ByteView key) const = 0;
};

}  // namespace verity::state
