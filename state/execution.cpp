#include "state/execution.h"

namespace verity::state {

namespace {
Error tx_error(std::size_t index, const Transaction& tx, const Error& e) {
  return Error{e.reason, "transaction " + std::to_string(index) + " (" + tx.id().hex() + "): " + e.to_string(), e.fault};
}
}  // namespace

Result<BlockOutcome> apply_block(const StateReader& committed, StateMap& map, const Hash256& parent_root,
                                 const Block& block, const BlockContext& ctx, const Application& app,
                                 ExecutionOptions options) {
  if (block.transactions.size() > ctx.params.max_block_txs)
    return make_error("too-many-txs", std::to_string(block.transactions.size()) + " > " +
                                          std::to_string(ctx.params.max_block_txs));
  if (std::size_t size = encode(block).size(); size > ctx.params.max_block_bytes)
    return make_error("block-too-large", std::to_string(size) + " bytes > " + std::to_string(ctx.params.max_block_bytes));
  if (auto s = block.check_body(); !s) return s.error();

  StateOverlay overlay(committed);
  if (auto s = app.begin_block(overlay, ctx, block.last_commit); !s) return s.error();
  BlockOutcome out;
  out.receipts.reserve(block.transactions.size());
  for (std::size_t i = 0; i < block.transactions.size(); ++i) {
    const Transaction& tx = block.transactions[i];
    if (tx.chain_id != ctx.chain_id)
      return tx_error(i, tx, make_error("wrong-chain-id", "for chain '" + tx.chain_id + "'"));
    if (options.verify_signatures && !(options.already_verified && options.already_verified(tx.id())) &&
        !tx.verify_signature())
      return tx_error(i, tx, make_error("bad-signature"));
    if (auto s = app.charge(overlay, ctx, tx); !s) return tx_error(i, tx, s.error());

    Receipt receipt;
    receipt.tx_id = tx.id();
    receipt.height = ctx.height;
    receipt.index = i;
    receipt.fee_paid = tx.fee;
    auto scope = overlay.checkpoint();
    if (auto s = app.execute(overlay, ctx, tx, receipt.events); !s) {
      // A local fault (a failing disk) is not the transaction's fault: the
      // block cannot be executed here at all.
      if (s.error().fault == Fault::local) return tx_error(i, tx, s.error());
      overlay.rollback(scope);
      receipt.ok = false;
      receipt.reason = s.error().reason;
      receipt.events.clear();
    }
    out.receipts.push_back(std::move(receipt));
  }
  if (auto s = app.end_block(overlay, ctx); !s) return s.error();
  out.changes = overlay.changes();
  auto root = map.apply(parent_root, out.changes);
  if (!root) return root.error();
  out.state_root = *root;
  return out;
}

}  // namespace verity::state
