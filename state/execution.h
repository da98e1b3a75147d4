#pragma once
// apply_block: the one entry point that executes a block. It takes the
// committed state and a block and gives the new state root, the receipts
// and the state changes, or an error that makes the block invalid.
//
// The rules it enforces itself are those of the envelope (chain id,
// signature, block limits); the rest belongs to the Application (the native
// contracts, in contracts/), which state/ reaches only through this
// interface. Per transaction:
//
//   1. chain id and signature must be right, else the block is invalid;
//   2. Application::charge checks the nonce (strictly sequential, so a
//      replay is rejected) and takes the fee, else the block is invalid;
//   3. Application::execute runs the payload inside an undo scope: if it
//      fails, its writes are rolled back and the receipt carries the reason,
//      but the fee stays paid and the nonce used.
//
// Deterministic: no clock, no randomness, no I/O but reads of committed
// state, and ordered containers wherever order reaches a hash.

#include <functional>
#include <string>
#include <vector>

#include "core/block.h"
#include "core/receipt.h"
#include "state/application.h"
#include "state/state_map.h"

namespace verity::state {

struct BlockOutcome {
  Hash256 state_root;
  std::vector<Receipt> receipts;     // receipts[i].tx_id is transactions[i].id()
  std::vector<StateUpdate> changes;  // sorted by key
  // The events of the block hooks (begin_block, evidence, end_block), in
  // that order: not hashed; the node's history index keeps them.
  std::vector<Event> block_events;
  // encode(block) as executed: execution encodes the block once (for its
  // size and its transactions' ids), and the chain stores these bytes.
  Bytes encoded;
};

struct ExecutionOptions {
  // false skips the BIP-340 check of each transaction. Only for a caller
  // that has verified these very transactions already (the mempool on
  // admission); a block from a peer is always checked.
  bool verify_signatures = true;
  // When set, transactions whose id it accepts are taken as verified: the
  // node passes the mempool's ids (each checked on admission; the id
  // covers the signature), so a block of known transactions is not
  // verified twice. Anything else in the block is verified as usual.
  std::function<bool(const Hash256& tx_id)> already_verified;
};

// `map` holds the new tree nodes until the caller flushes them (or discards
// them when the block is rejected). Error reasons: "block-too-large",
// "too-many-txs", "bad-tx-root", "bad-last-commit-hash", "wrong-chain-id",
// "bad-signature", and the Application's charge() reasons ("bad-nonce",
// "fee-too-low", "insufficient-funds", ...); the detail names the transaction.
Result<BlockOutcome> apply_block(const StateReader& committed, StateMap& map, const Hash256& parent_root,
                                 const Block& block, const BlockContext& ctx, const Application& app,
                                 ExecutionOptions options = {});

}  // namespace verity::state
