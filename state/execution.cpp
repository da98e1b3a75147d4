#include "state/execution.h"

namespace verity::state {

namespace {
Error tx_error(std::size_t index, const Hash256& id, const Error& e) {
  return Error{e.reason, "transaction " + std::to_string(index) + " (" + id.hex() + "): " + e.to_string(), e.fault};
}
}  // namespace

Result<BlockOutcome> apply_block(const StateReader& committed, StateMap& map, const Hash256& parent_root,
                                 const Block& block, const BlockContext& ctx, const Application& app,
                                 ExecutionOptions options) {
  if (block.transactions.size() > ctx.params.max_block_txs)
    return make_error("too-many-txs", std::to_string(block.transactions.size()) + " > " +
                                          std::to_string(ctx.params.max_block_txs));
  // One encoding of the block gives its size and each transaction's id
  // (the tagged hash of its slice: the bytes tx.id() would hash), so no
  // transaction is encoded or hashed again below.
  Writer w;
  w.reserve(1024 + block.transactions.size() * 192);
  std::vector<std::size_t> bounds;
  block.encode(w, bounds);
  if (std::size_t size = w.size(); size > ctx.params.max_block_bytes)
    return make_error("block-too-large", std::to_string(size) + " bytes > " + std::to_string(ctx.params.max_block_bytes));
  std::vector<Hash256> ids;
  ids.reserve(block.transactions.size());
  {
    const ByteView bytes(w.data());
    for (std::size_t i = 0; i + 1 < bounds.size(); ++i)
      ids.push_back(tagged_hash(Domain::transaction_id, bytes.subspan(bounds[i], bounds[i + 1] - bounds[i])));
  }
  if (auto s = block.check_body(ids); !s) return s.error();

  StateOverlay overlay(committed);
  BlockOutcome out;
  if (auto s = app.begin_block(overlay, ctx, block.last_commit, out.block_events); !s) return s.error();
  for (std::size_t i = 0; i < block.evidence.size(); ++i)
    if (auto s = app.apply_evidence(overlay, ctx, block.evidence[i], out.block_events); !s) {
      if (s.error().fault == Fault::local) return s.error();
      return Error{"bad-evidence", "evidence " + std::to_string(i) + ": " + s.error().to_string(), Fault::input};
    }
  out.receipts.reserve(block.transactions.size());
  for (std::size_t i = 0; i < block.transactions.size(); ++i) {
    const Transaction& tx = block.transactions[i];
    const Hash256& id = ids[i];
    if (tx.chain_id != ctx.chain_id)
      return tx_error(i, id, make_error("wrong-chain-id", "for chain '" + tx.chain_id + "'"));
    if (options.verify_signatures && !(options.already_verified && options.already_verified(id)) &&
        !tx.verify_signature())
      return tx_error(i, id, make_error("bad-signature"));
    if (auto s = app.charge(overlay, ctx, tx); !s) return tx_error(i, id, s.error());

    Receipt receipt;
    receipt.tx_id = id;
    receipt.height = ctx.height;
    receipt.index = i;
    receipt.fee_paid = tx.fee;
    auto scope = overlay.checkpoint();
    if (auto s = app.execute(overlay, ctx, tx, receipt.events); !s) {
      // A local fault (a failing disk) is not the transaction's fault: the
      // block cannot be executed here at all.
      if (s.error().fault == Fault::local) return tx_error(i, id, s.error());
      overlay.rollback(scope);
      receipt.ok = false;
      receipt.reason = s.error().reason;
      receipt.events.clear();
    }
    out.receipts.push_back(std::move(receipt));
  }
  if (auto s = app.end_block(overlay, ctx, out.block_events); !s) return s.error();
  out.changes = overlay.take_changes();
  auto root = map.apply(parent_root, out.changes);
  if (!root) return root.error();
  out.state_root = *root;
  out.encoded = w.take();
  return out;
}

}  // namespace verity::state
