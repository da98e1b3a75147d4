#pragma once
// verityd export: the state at a height as a genesis file for a new chain
// (docs/operators.md, "Rolling back and exporting").
//
// A genesis holds balances and validators' stakes only, so everything an
// account owns at that height becomes its balance: its liquid balance, the
// value of its delegations, its unbonding entries, its rewards (vested or
// not, settled or not) and its worker stake (bonded and unbonding). The
// validators are the set at that height, each with its operator's own
// delegation as its stake (a validator whose operator has none is left out:
// its delegators get their value as balance). What belongs to no account
// is not carried over and is reported: the undistributed reward pool, the
// fee pool, the escrow of tasks in progress, rounding dust. Nonces start
// again at 0, so the new chain must have another chain id: a transaction
// signed for the old chain must not be valid on the new one.

#include <string>

#include "core/genesis.h"
#include "state/chain.h"

namespace verity::node {

struct ExportedState {
  Genesis genesis;
  std::uint64_t height = 0;
  Amount supply;        // at that height: the genesis supply + minted - burned
  Amount carried;       // balances + stakes of `genesis`
  Amount not_carried;   // supply - carried
};

// Reasons: "same-chain-id" (chain_id is the old chain's), "bad-genesis" (an
// invalid chain id, or no validator left), store and state errors.
Result<ExportedState> export_state(const state::PastState& state, const Genesis& original, const std::string& chain_id,
                                   std::uint64_t genesis_time);

}  // namespace verity::node
