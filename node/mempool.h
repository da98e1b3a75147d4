#pragma once
// The transaction mempool: signed transactions waiting for a block.
//
// The one promise: every set select() hands out passes Application::charge
// when executed in that order on the committed state the mempool was last
// given (update(), or add() for the sender concerned). A bad nonce or an
// unpayable fee makes a whole block invalid (docs/state.md), so the pool
// keeps, per sender, only transactions that will charge:
//
//   * nonces are contiguous, starting at the account's nonce (the nonce the
//     next transaction must carry): no gap, ever, not after an eviction,
//     a removal or a recheck;
//   * the account's balance covers the sum over the sender's pending
//     transactions of fee + what the payload spends (Transfer.amount,
//     CreateValidator.self_stake, Delegate.amount; other payloads spend
//     nothing). Only the sender's own transactions lower its balance (the
//     block hooks and other payloads only credit it), so this bounds what
//     the sender can have lost by the time each of its transactions is
//     charged. Incoming funds are not counted until they are committed.
//
// Admission (add) runs its checks cheapest first, and a rejected
// transaction leaves the pool unchanged. Stable reasons, in check order:
//
//   tx-too-large        encoded size over kMaxTransactionBytes, the block's
//                       max_block_bytes, or the pool's max_bytes
//   malformed-tx        the encoding does not decode back (a field over its
//                       limit, e.g. a name of more than 64 bytes)
//   wrong-chain-id      signed for another chain
//   fee-too-low         fee below params.min_fee
//   bad-fuel, bad-deadlines, bad-replicas, zero-amount, module-and-hash,
//   missing-module      a submit_task whose terms the contract refuses
//                       (contracts::check_task_terms: same reason and detail)
//   tx-known            in the pool, or in the seen cache (recently
//                       committed, evicted, replaced, dropped or removed)
//   bad-signature       (from the seen cache only: this id failed its
//                       signature check before; see below for the check)
//   nonce-too-low       below the account's nonce (already used)
//   nonce-gap           above the sender's next nonce (account nonce +
//                       pending count): it could not be charged
//   nonce-taken         a pending nonce, and the fee does not replace it
//                       (a replacement must pay strictly more, and at least
//                       Limits::replace_bump_bps more)
//   insufficient-funds  the balance cannot pay fee + spend of all the
//                       sender's pending transactions with this one
//   mempool-full        no room, and the transactions that could be evicted
//                       pay more in total than this one
//   bad-signature       the BIP-340 signature does not verify
//   state-corrupt, ...  reading the account failed (Fault::local)
//
// The room check comes before the signature check, so a flood of low-fee
// transactions against a full pool costs no signature verification.
//
// Ordering: select() takes across senders the highest fee first (ties by
// arrival: earlier first), within a sender strictly by nonce; a sender
// whose next transaction does not fit is done for that block (never a
// skipped nonce). Fees are compared per transaction, not per byte: the
// protocol's minimum fee is per transaction.
//
// Bounds: Limits::max_txs and max_bytes (sum of encoded sizes). When full,
// a new transaction may evict transactions with lower fees: the candidates
// are the highest-nonce transaction of each other sender (so eviction never
// leaves a gap; after one is chosen its predecessor becomes a candidate),
// lowest fee first (ties: the latest arrival first); the new transaction
// must pay more than the victims together. The new transaction's own
// sender is never a victim.
//
// Gossip bookkeeping: add() succeeds only for a transaction that is new to
// this node, so the node gossips exactly the transactions add() accepted,
// once each. Every id that leaves the pool (committed, evicted, replaced,
// dropped by a recheck, removed) and every id committed in a block enters a
// bounded FIFO "seen" cache (Limits::max_seen), as does an id whose
// signature failed; a transaction that comes back from a peer while its id
// is in the cache is rejected without touching state or verifying anything
// ("tx-known", or "bad-signature" again). A client that wants an evicted or
// dropped transaction back re-signs it with another fee (a new id).
//
// Which rejections a peer can be blamed for: bad-signature, wrong-chain-id,
// malformed-tx, tx-too-large (the transaction can never be valid). The
// others can be honest races (tx-known, nonce-*, insufficient-funds,
// mempool-full, fee-too-low when min_fee changed).
//
// Deterministic: arrival order from a counter, no clock and no randomness;
// the same calls give the same pool. The tables keyed by transaction id
// are hash tables (IdHash) for speed, only ever looked up by id, never
// iterated where the order could show; every ordering uses ordered
// containers.
// Single-threaded: the node calls it from one thread (the one that commits
// blocks); it has no locks.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <cstring>
#include <functional>
#include <map>
#include <unordered_map>
#include <optional>
#include <string>
#include <vector>

#include "core/amount.h"
#include "core/hash.h"
#include "core/keys.h"
#include "core/params.h"
#include "core/result.h"
#include "core/transaction.h"
#include "state/state_view.h"

namespace verity::contracts {
struct Account;
}

namespace verity::node {

// A hash of a transaction id (itself a SHA-256): its first eight bytes.
struct IdHash {
  std::size_t operator()(const Hash256& id) const {
    std::size_t v = 0;
    std::memcpy(&v, id.data.data(), sizeof v);
    return v;
  }
};

struct MempoolLimits {
  std::size_t max_txs = 50'000;
  std::size_t max_bytes = 64 * 1024 * 1024;  // sum of the encoded sizes
  // How many ids of transactions that left the pool (or were committed, or
  // failed their signature) are remembered. 0 remembers none.
  std::size_t max_seen = 100'000;
  // A replacement (same sender and nonce) must pay strictly more than the
  // transaction it replaces, and at least this fraction more (rounded up).
  // 0: strictly more is enough. Each replacement is gossiped, so a bump
  // makes replacement spam cost fees.
  std::uint64_t replace_bump_bps = 0;
};

struct AddOutcome {
  Hash256 id;                       // of the admitted transaction: gossip it
  std::optional<Hash256> replaced;  // the pending transaction it replaced
  std::vector<Hash256> evicted;     // the transactions evicted to make room
};

struct MempoolCounters {
  std::uint64_t admitted = 0;   // add() succeeded (replacements included)
  std::uint64_t replaced = 0;   // pending transactions replaced by a higher fee
  std::uint64_t evicted = 0;    // evicted to make room for a higher fee
  std::uint64_t committed = 0;  // removed by update() because a block included them
  std::uint64_t dropped = 0;    // removed by a recheck: stale nonce, or no longer payable
  std::uint64_t removed = 0;    // removed by remove() (with the later nonces of their sender)
  std::map<std::string, std::uint64_t> rejected;  // by reason
};

class Mempool {
 public:
  using Limits = MempoolLimits;

  Mempool(std::string chain_id, ProtocolParams params, Limits limits = {});

  // Admits a transaction after the checks listed above, against the
  // committed state (the tip the node last passed to update()). With
  // signature_checked the caller vouches that tx.verify_signature() holds.
  // If the sender's pending transactions do not match `committed` (update()
  // was not called for a block), the sender is rechecked first, which may
  // drop some of them even if the new transaction is then rejected.
  Result<AddOutcome> add(const Transaction& tx, const state::StateReader& committed, bool signature_checked = false);

  // Checks 1 and 2 of the list above (size, encoding, chain id, fee, a
  // task's terms), which need no state: any thread may run them before
  // add() (node/admission.h). `encoded` is encode(tx). Returns the id.
  static Result<Hash256> check_stateless(const Transaction& tx, ByteView encoded, const std::string& chain_id,
                                         const ProtocolParams& params, std::size_t pool_max_bytes);

  // The candidate transactions of the next block, in execution order: at
  // most max_txs of them whose encoded sizes sum to at most max_bytes (the
  // block's own overhead, header and last commit, is the caller's to
  // subtract). See "Ordering" above.
  std::vector<Transaction> select(std::size_t max_txs, std::size_t max_bytes) const;
  // The same transactions in the same order, each with its id, without
  // copying them; the pool must not change during the call.
  void visit_selection(std::size_t max_txs, std::size_t max_bytes,
                       const std::function<void(const Transaction&, const Hash256&)>& visit) const;

  // After each committed block, with the new committed state: removes the
  // block's transactions, remembers their ids, then rechecks every pending
  // sender against `committed` (one account read each): drops transactions
  // below the account nonce, and the suffix that starts with a gap or that
  // the balance no longer covers. A failed account read (a local fault)
  // drops that sender's transactions: the pool never keeps what it cannot
  // vouch for.
  void update(const state::StateReader& committed, const std::vector<Transaction>& block_txs);

  // Removes a transaction and, so no gap is left, its sender's later ones.
  // Returns how many were removed (0: not in the pool).
  std::size_t remove(const Hash256& id);

  bool contains(const Hash256& id) const { return pool_.count(id) != 0; }
  // nullptr when absent; valid until the next call that changes the pool.
  const Transaction* get(const Hash256& id) const;
  // In the seen cache (not the pool): recently committed, evicted,
  // replaced, dropped, removed, or failed its signature check.
  bool recently_seen(const Hash256& id) const { return seen_.count(id) != 0; }
  // The nonce after the sender's last pending transaction; nullopt when it
  // has none (the next nonce is then the account's).
  std::optional<std::uint64_t> next_nonce(const PublicKey& sender) const;

  std::size_t size() const { return pool_.size(); }
  std::size_t bytes() const { return bytes_; }
  std::size_t senders() const { return senders_.size(); }
  std::size_t seen_size() const { return seen_.size(); }
  const MempoolCounters& counters() const { return counters_; }
  const Limits& limits() const { return limits_; }

  // Checks every internal invariant, and the per-sender rules against
  // `committed`: for tests and debugging. Reason "mempool-inconsistent".
  Status check_invariants(const state::StateReader& committed) const;

 private:
  struct Entry {
    Transaction tx;
    Hash256 id;
    std::size_t bytes = 0;
    Amount cost;            // fee + what the payload spends
    std::uint64_t seq = 0;  // arrival order
  };
  struct Sender {
    std::map<std::uint64_t, Entry*> by_nonce;  // contiguous nonces
    Amount cost;                               // sum of the entries' costs
  };
  // Eviction order: lowest fee first, then the latest arrival.
  struct EvictKey {
    Amount fee;
    std::uint64_t seq = 0;
    friend bool operator<(const EvictKey& a, const EvictKey& b) {
      if (a.fee != b.fee) return a.fee < b.fee;
      return a.seq > b.seq;
    }
  };
  enum class SeenKind : std::uint8_t { committed, evicted, replaced, dropped, removed, bad_signature };

  Result<AddOutcome> admit(const Transaction& tx, const state::StateReader& committed, bool signature_checked);
  // The victims that make room for `need_count` transactions and
  // `need_bytes` bytes, in an order that removes each sender's tail first;
  // nullopt when they would pay `fee` or more together.
  std::optional<std::vector<const Entry*>> plan_eviction(const PublicKey& own, Amount fee, std::size_t need_count,
                                                         std::size_t need_bytes) const;
  // Brings one sender in line with its account (nullptr: the read failed,
  // drop all of its transactions).
  void recheck_sender(const PublicKey& sender, const contracts::Account* account);
  void detach_tail(const Sender& s);
  void attach_tail(const Sender& s);
  // Removes one entry of a sender (the caller keeps nonces contiguous),
  // erasing the sender when it is left empty. Returns whether the sender
  // is still there.
  bool erase_entry(std::map<PublicKey, Sender>::iterator sit, std::uint64_t nonce, SeenKind why);
  void remember(const Hash256& id, SeenKind why);

  std::string chain_id_;
  ProtocolParams params_;
  Limits limits_;

  std::unordered_map<Hash256, Entry, IdHash> pool_;  // stable references: senders point into it
  std::map<PublicKey, Sender> senders_;
  std::map<EvictKey, Entry*> evictable_;  // the highest-nonce entry of each sender
  std::size_t bytes_ = 0;
  std::uint64_t next_seq_ = 0;

  std::unordered_map<Hash256, SeenKind, IdHash> seen_;
  std::deque<Hash256> seen_order_;  // FIFO: the oldest is forgotten first

  MempoolCounters counters_;
};

}  // namespace verity::node
