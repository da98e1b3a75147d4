#include "node/mempool.h"

#include <algorithm>
#include <iterator>
#include <queue>
#include <type_traits>
#include <variant>

#include "contracts/accounts.h"
#include "contracts/tasks.h"

namespace verity::node {

namespace {

// What a payload can take out of the sender's balance if it succeeds. Every
// other payload only credits the sender (withdraw, claim, evidence rewards)
// or touches no balance (undelegate, unjail, commit and reveal). A task's
// escrow is replicas x reward (replicas 0 means params.task_replication); an
// escrow that overflows counts as the maximum, so the sender cannot afford
// it. request_audit escrows replicas x reward of the audited task, which
// the mempool cannot see: it counts 0 here and fails in execution with
// insufficient-funds if the balance cannot pay.
Amount payload_spend(const Payload& p, const ProtocolParams& params) {
  return std::visit(
      [&](const auto& x) -> Amount {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, Transfer>) return x.amount;
        else if constexpr (std::is_same_v<T, CreateValidator>) return x.self_stake;
        else if constexpr (std::is_same_v<T, Delegate>) return x.amount;
        else if constexpr (std::is_same_v<T, RegisterWorker>) return x.stake;
        else if constexpr (std::is_same_v<T, SubmitTask>) {
          auto escrow = x.reward.checked_mul(x.replicas == 0 ? params.task_replication : x.replicas);
          return escrow ? *escrow : Amount::max();
        }
        else return Amount{};
      },
      p);
}

const char* seen_name(int kind) {
  static const char* const names[] = {"committed", "evicted", "replaced", "dropped", "removed", "bad-signature"};
  return names[kind];
}

// Whether decode_transaction(encoded) would succeed, where encoded is
// encode(tx) within the size cap: the decoder refuses only fields over
// their limits (strings over their length or not UTF-8, byte strings over
// their cap) and, inside evidence, votes it cannot read. Those are checked
// on the fields themselves, without decoding (allocating) a copy; evidence
// is decoded. A field type this does not know does not compile.
struct DecodeLimits {
  bool ok = true;
  bool decode = false;  // a field only the decoder can judge
  void operator()(const char*, const std::string& v, Max bound) {
    ok = ok && v.size() <= bound.max && is_utf8(as_bytes(v));
  }
  template <std::size_t N>
  void operator()(const char*, const LimitedBytes<N>& v) {
    ok = ok && v.bytes.size() <= N;
  }
  void operator()(const char*, const DoubleSignEvidence&) { decode = true; }
  void operator()(const char*, const PublicKey&) {}
  void operator()(const char*, const Hash256&) {}
  void operator()(const char*, const Amount&) {}
  void operator()(const char*, const std::uint64_t&) {}
};

bool decodes_back(const Transaction& tx, ByteView encoded) {
  if (tx.chain_id.size() > kMaxChainIdBytes || !is_utf8(as_bytes(tx.chain_id))) return false;
  DecodeLimits limits;
  std::visit([&](const auto& body) { std::decay_t<decltype(body)>::fields(body, limits); }, tx.payload);
  if (!limits.ok) return false;
  return !limits.decode || decode_transaction(encoded).ok();
}

Amount plus(Amount a, Amount b) { return a.checked_add(b).value(); }    // callers know it fits
Amount minus(Amount a, Amount b) { return a.checked_sub(b).value(); }  // callers know it fits

}  // namespace

Mempool::Mempool(std::string chain_id, ProtocolParams params, Limits limits)
    : chain_id_(std::move(chain_id)), params_(std::move(params)), limits_(limits) {}

Result<AddOutcome> Mempool::add(const Transaction& tx, const state::StateReader& committed, bool signature_checked) {
  auto r = admit(tx, committed, signature_checked);
  if (r) ++counters_.admitted;
  else ++counters_.rejected[r.error().reason];
  return r;
}

Result<Hash256> Mempool::check_stateless(const Transaction& tx, ByteView encoded, const std::string& chain_id,
                                         const ProtocolParams& params, std::size_t pool_max_bytes) {
  // 1. Size and encoding: the transaction must be one a peer can decode
  // from a block, and one that can fit in a block and in the pool.
  const std::size_t size = encoded.size();
  const std::size_t cap = std::min<std::size_t>(
      {kMaxTransactionBytes, static_cast<std::size_t>(std::min<std::uint64_t>(params.max_block_bytes, SIZE_MAX)),
       pool_max_bytes});
  if (size > cap)
    return make_error("tx-too-large", std::to_string(size) + " bytes > " + std::to_string(cap));
  if (!decodes_back(tx, encoded))
    if (auto decoded = decode_transaction(encoded); !decoded)  // for the decoder's reason
      return make_error("malformed-tx", decoded.error().to_string());
  const Hash256 id = tagged_hash(Domain::transaction_id, encoded);

  // 2. Stateless rules.
  if (tx.chain_id != chain_id) return make_error("wrong-chain-id", "for chain '" + tx.chain_id + "'");
  if (tx.fee < params.min_fee)
    return make_error("fee-too-low", "fee " + tx.fee.to_string() + " < minimum " + params.min_fee.to_string());
  // A task's terms, as the contract checks them (no state needed): terms it
  // would refuse are refused here, with its reason and detail, before the
  // submitter pays a fee for them.
  if (const auto* task = std::get_if<SubmitTask>(&tx.payload))
    if (auto st = contracts::check_task_terms(params, *task); !st) return st.error();
  return id;
}

Result<AddOutcome> Mempool::admit(const Transaction& tx, const state::StateReader& committed, bool signature_checked) {
  const Bytes encoded = encode(tx);
  auto checked = check_stateless(tx, encoded, chain_id_, params_, limits_.max_bytes);
  if (!checked) return checked.error();
  const Hash256 id = *checked;
  const std::size_t size = encoded.size();

  // 3. Known already.
  if (pool_.count(id)) return make_error("tx-known", "pending");
  if (auto it = seen_.find(id); it != seen_.end()) {
    if (it->second == SeenKind::bad_signature) return make_error("bad-signature", "failed before");
    return make_error("tx-known", std::string("recently ") + seen_name(static_cast<int>(it->second)));
  }

  // 4. Nonce, against the account and the sender's pending transactions.
  auto account = contracts::load_account(committed, tx.sender);
  if (!account) return account.error();
  auto sit = senders_.find(tx.sender);
  if (sit != senders_.end() &&
      (sit->second.by_nonce.begin()->first != account->nonce || sit->second.cost > account->balance)) {
    recheck_sender(tx.sender, &*account);  // update() was missed for this sender
    sit = senders_.find(tx.sender);
  }
  Sender* sender = sit == senders_.end() ? nullptr : &sit->second;
  const std::uint64_t pending = sender ? sender->by_nonce.size() : 0;
  if (tx.nonce < account->nonce)
    return make_error("nonce-too-low", "nonce " + std::to_string(tx.nonce) + " < account nonce " +
                                           std::to_string(account->nonce));
  const std::uint64_t offset = tx.nonce - account->nonce;
  if (offset > pending)
    return make_error("nonce-gap", "nonce " + std::to_string(tx.nonce) + ", next is " +
                                       std::to_string(account->nonce + pending));
  const Entry* old = nullptr;
  if (offset < pending) {
    old = sender->by_nonce.at(tx.nonce);
    const unsigned __int128 fee = old->tx.fee.units();
    unsigned __int128 bump = (fee * limits_.replace_bump_bps + kBpsDenominator - 1) / kBpsDenominator;
    if (bump < 1) bump = 1;
    if (tx.fee.units() < fee + bump)
      return make_error("nonce-taken", "nonce " + std::to_string(tx.nonce) + " is pending with fee " +
                                           old->tx.fee.to_string() + "; a replacement must pay at least " +
                                           std::to_string(static_cast<unsigned long long>(
                                               std::min<unsigned __int128>(fee + bump, UINT64_MAX))));
  }

  // 5. Balance: fee + spend of every pending transaction of the sender.
  auto cost = tx.fee.checked_add(payload_spend(tx.payload, params_));
  if (!cost) return make_error("insufficient-funds", "fee + amount overflows");
  const Amount others = sender ? minus(sender->cost, old ? old->cost : Amount{}) : Amount{};
  auto total = others.checked_add(*cost);
  if (!total || *total > account->balance)
    return make_error("insufficient-funds", "balance " + account->balance.to_string() + " < " +
                                                (total ? total->to_string() : std::string("overflow")) +
                                                " (fee + amount of the sender's pending transactions)");

  // 6. Room, before the expensive signature check.
  const std::size_t count_after = pool_.size() + (old ? 0 : 1);
  const std::size_t bytes_after = bytes_ - (old ? old->bytes : 0) + size;
  std::vector<const Entry*> victims;
  if (count_after > limits_.max_txs || bytes_after > limits_.max_bytes) {
    auto plan = plan_eviction(tx.sender, tx.fee,
                              count_after > limits_.max_txs ? count_after - limits_.max_txs : 0,
                              bytes_after > limits_.max_bytes ? bytes_after - limits_.max_bytes : 0);
    if (!plan) return make_error("mempool-full", "no transactions paying less than " + tx.fee.to_string() + " to evict");
    victims = std::move(*plan);
  }

  // 7. Signature, last.
  if (!signature_checked && !tx.verify_signature()) {
    remember(id, SeenKind::bad_signature);
    return make_error("bad-signature");
  }

  // Admit: evict, replace, insert.
  AddOutcome out;
  out.id = id;
  for (const Entry* v : victims) {  // each is its sender's tail when its turn comes
    const Hash256 vid = v->id;
    const PublicKey vsender = v->tx.sender;
    const std::uint64_t vnonce = v->tx.nonce;
    erase_entry(senders_.find(vsender), vnonce, SeenKind::evicted);
    ++counters_.evicted;
    out.evicted.push_back(vid);
  }
  Sender& s = senders_[tx.sender];
  if (!s.by_nonce.empty()) detach_tail(s);
  if (old) {
    const Hash256 oid = old->id;
    s.cost = minus(s.cost, old->cost);
    bytes_ -= old->bytes;
    s.by_nonce.erase(tx.nonce);
    pool_.erase(oid);
    remember(oid, SeenKind::replaced);
    ++counters_.replaced;
    out.replaced = oid;
  }
  auto [pit, inserted] = pool_.emplace(id, Entry{tx, id, size, *cost, next_seq_++});
  (void)inserted;
  s.by_nonce[tx.nonce] = &pit->second;
  s.cost = plus(s.cost, *cost);
  bytes_ += size;
  attach_tail(s);
  return out;
}

std::optional<std::vector<const Mempool::Entry*>> Mempool::plan_eviction(const PublicKey& own, Amount fee,
                                                                         std::size_t need_count,
                                                                         std::size_t need_bytes) const {
  using Candidate = std::pair<EvictKey, const Entry*>;
  auto later = [](const Candidate& a, const Candidate& b) { return b.first < a.first; };
  // Predecessors of chosen victims: they become evictable once their
  // successor is gone.
  std::priority_queue<Candidate, std::vector<Candidate>, decltype(later)> exposed(later);
  auto it = evictable_.begin();
  std::vector<const Entry*> victims;
  Amount paid;  // fees of the victims together
  std::size_t freed_count = 0, freed_bytes = 0;
  while (freed_count < need_count || freed_bytes < need_bytes) {
    while (it != evictable_.end() && it->second->tx.sender == own) ++it;
    const Entry* pick = nullptr;
    if (it != evictable_.end() && (exposed.empty() || it->first < exposed.top().first)) {
      pick = it->second;
      ++it;
    } else if (!exposed.empty()) {
      pick = exposed.top().second;
      exposed.pop();
    } else {
      return std::nullopt;
    }
    auto sum = paid.checked_add(pick->tx.fee);
    if (!sum || *sum >= fee) return std::nullopt;  // candidates only get dearer from here
    paid = *sum;
    victims.push_back(pick);
    ++freed_count;
    freed_bytes += pick->bytes;
    const Sender& s = senders_.at(pick->tx.sender);
    auto nit = s.by_nonce.find(pick->tx.nonce);
    if (nit != s.by_nonce.begin()) {
      const Entry* prev = std::prev(nit)->second;
      exposed.push({EvictKey{prev->tx.fee, prev->seq}, prev});
    }
  }
  return victims;
}

std::vector<Transaction> Mempool::select(std::size_t max_txs, std::size_t max_bytes) const {
  std::vector<Transaction> out;
  out.reserve(std::min(max_txs, pool_.size()));
  visit_selection(max_txs, max_bytes, [&](const Transaction& tx, const Hash256&) { out.push_back(tx); });
  return out;
}

void Mempool::visit_selection(std::size_t max_txs, std::size_t max_bytes,
                              const std::function<void(const Transaction&, const Hash256&)>& visit) const {
  struct Head {
    const Sender* sender;
    std::map<std::uint64_t, Entry*>::const_iterator next;
  };
  // std heap: the top is the "largest": highest fee, then earliest arrival.
  auto lower = [](const Head& a, const Head& b) {
    const Entry* x = a.next->second;
    const Entry* y = b.next->second;
    if (x->tx.fee != y->tx.fee) return x->tx.fee < y->tx.fee;
    return x->seq > y->seq;
  };
  std::vector<Head> heap;
  heap.reserve(senders_.size());
  for (const auto& [key, s] : senders_) heap.push_back({&s, s.by_nonce.begin()});
  std::make_heap(heap.begin(), heap.end(), lower);

  std::size_t used = 0, taken = 0;
  while (!heap.empty() && taken < max_txs) {
    std::pop_heap(heap.begin(), heap.end(), lower);
    Head h = heap.back();
    heap.pop_back();
    const Entry* e = h.next->second;
    if (e->bytes > max_bytes - used) continue;  // this sender is done: never skip its nonce
    visit(e->tx, e->id);
    ++taken;
    used += e->bytes;
    if (++h.next != h.sender->by_nonce.end()) {
      heap.push_back(h);
      std::push_heap(heap.begin(), heap.end(), lower);
    }
  }
}

void Mempool::update(const state::StateReader& committed, const std::vector<Transaction>& block_txs) {
  for (const auto& tx : block_txs) {
    // Ours: found by sender and nonce, and equal (so its id is the entry's,
    // no hashing needed).
    if (auto sit = senders_.find(tx.sender); sit != senders_.end()) {
      auto nit = sit->second.by_nonce.find(tx.nonce);
      if (nit != sit->second.by_nonce.end() && nit->second->tx == tx) {
        erase_entry(sit, tx.nonce, SeenKind::committed);
        ++counters_.committed;
        continue;
      }
    }
    remember(tx.id(), SeenKind::committed);
  }
  for (auto it = senders_.begin(); it != senders_.end();) {
    const PublicKey who = it->first;
    ++it;  // recheck_sender erases at most `who` itself
    auto account = contracts::load_account(committed, who);
    recheck_sender(who, account ? &*account : nullptr);
  }
}

void Mempool::recheck_sender(const PublicKey& who, const contracts::Account* account) {
  auto sit = senders_.find(who);
  if (sit == senders_.end()) return;
  Sender& s = sit->second;
  if (account && s.by_nonce.begin()->first == account->nonce && s.cost <= account->balance) return;  // the usual case

  // Nonces below the account's are used; from the account's nonce on, keep
  // the contiguous prefix the balance covers.
  std::uint64_t first_bad = UINT64_MAX;  // drop every nonce >= first_bad
  bool any_bad = !account;
  if (account) {
    std::uint64_t expected = account->nonce;
    Amount spent;
    for (const auto& [nonce, e] : s.by_nonce) {
      if (nonce < account->nonce) continue;
      auto sum = spent.checked_add(e->cost);
      if (nonce != expected || !sum || *sum > account->balance) {
        first_bad = nonce;
        any_bad = true;
        break;
      }
      spent = *sum;
      ++expected;
    }
  } else {
    first_bad = 0;
  }
  // The suffix first, from the tail, then the used prefix.
  if (any_bad) {
    while (true) {
      auto last = std::prev(s.by_nonce.end());
      if (last->first < first_bad) break;
      ++counters_.dropped;
      if (!erase_entry(sit, last->first, SeenKind::dropped)) return;
    }
  }
  if (!account) return;  // unreachable: everything was dropped above
  while (s.by_nonce.begin()->first < account->nonce) {
    ++counters_.dropped;
    if (!erase_entry(sit, s.by_nonce.begin()->first, SeenKind::dropped)) return;
  }
}

std::size_t Mempool::remove(const Hash256& id) {
  auto pit = pool_.find(id);
  if (pit == pool_.end()) return 0;
  const PublicKey who = pit->second.tx.sender;
  const std::uint64_t from = pit->second.tx.nonce;
  auto sit = senders_.find(who);
  std::size_t n = 0;
  while (true) {
    const std::uint64_t last = std::prev(sit->second.by_nonce.end())->first;
    ++n;
    ++counters_.removed;
    if (!erase_entry(sit, last, SeenKind::removed) || last == from) break;
  }
  return n;
}

const Transaction* Mempool::get(const Hash256& id) const {
  auto it = pool_.find(id);
  return it == pool_.end() ? nullptr : &it->second.tx;
}

std::optional<std::uint64_t> Mempool::next_nonce(const PublicKey& sender) const {
  auto it = senders_.find(sender);
  if (it == senders_.end()) return std::nullopt;
  return it->second.by_nonce.rbegin()->first + 1;
}

void Mempool::detach_tail(const Sender& s) {
  const Entry* tail = s.by_nonce.rbegin()->second;
  evictable_.erase(EvictKey{tail->tx.fee, tail->seq});
}

void Mempool::attach_tail(const Sender& s) {
  Entry* tail = s.by_nonce.rbegin()->second;
  evictable_.emplace(EvictKey{tail->tx.fee, tail->seq}, tail);
}

bool Mempool::erase_entry(std::map<PublicKey, Sender>::iterator sit, std::uint64_t nonce, SeenKind why) {
  Sender& s = sit->second;
  auto nit = s.by_nonce.find(nonce);
  // Only the tail is evictable: erasing another entry (a committed head,
  // the usual case) leaves evictable_ as it is.
  const bool tail = std::next(nit) == s.by_nonce.end();
  if (tail) detach_tail(s);
  const Entry* e = nit->second;
  const Hash256 id = e->id;
  s.cost = minus(s.cost, e->cost);
  bytes_ -= e->bytes;
  s.by_nonce.erase(nit);
  pool_.erase(id);
  remember(id, why);
  if (s.by_nonce.empty()) {
    senders_.erase(sit);
    return false;
  }
  if (tail) attach_tail(s);
  return true;
}

void Mempool::remember(const Hash256& id, SeenKind why) {
  if (limits_.max_seen == 0) return;
  auto [it, inserted] = seen_.try_emplace(id, why);
  if (!inserted) {
    it->second = why;
    return;
  }
  seen_order_.push_back(id);
  while (seen_order_.size() > limits_.max_seen) {
    seen_.erase(seen_order_.front());
    seen_order_.pop_front();
  }
}

Status Mempool::check_invariants(const state::StateReader& committed) const {
  auto bad = [](std::string what) { return make_error("mempool-inconsistent", std::move(what)); };
  std::size_t count = 0, total_bytes = 0;
  for (const auto& [who, s] : senders_) {
    if (s.by_nonce.empty()) return bad("an empty sender " + who.hex());
    auto account = contracts::load_account(committed, who);
    if (!account) return account.error();
    std::uint64_t expected = account->nonce;
    Amount cost;
    for (const auto& [nonce, e] : s.by_nonce) {
      auto pit = pool_.find(e->id);
      if (pit == pool_.end() || &pit->second != e) return bad("a sender's entry is not in the pool");
      if (e->tx.sender != who || e->tx.nonce != nonce) return bad("an entry under the wrong sender or nonce");
      if (nonce != expected) return bad("sender " + who.hex() + ": nonce " + std::to_string(nonce) + ", expected " +
                                        std::to_string(expected));
      ++expected;
      if (e->id != e->tx.id()) return bad("an entry's id is not its transaction's");
      if (e->bytes != encode(e->tx).size()) return bad("an entry's size is wrong");
      auto c = e->tx.fee.checked_add(payload_spend(e->tx.payload, params_));
      if (!c || *c != e->cost) return bad("an entry's cost is wrong");
      auto sum = cost.checked_add(e->cost);
      if (!sum) return bad("a sender's cost overflows");
      cost = *sum;
      total_bytes += e->bytes;
      ++count;
    }
    if (cost != s.cost) return bad("sender " + who.hex() + ": cost " + s.cost.to_string() + " != " + cost.to_string());
    if (cost > account->balance)
      return bad("sender " + who.hex() + ": cost " + cost.to_string() + " > balance " + account->balance.to_string());
    const Entry* tail = s.by_nonce.rbegin()->second;
    auto eit = evictable_.find(EvictKey{tail->tx.fee, tail->seq});
    if (eit == evictable_.end() || eit->second != tail) return bad("a sender's tail is not evictable");
  }
  if (count != pool_.size()) return bad("the pool holds entries no sender lists");
  if (total_bytes != bytes_) return bad("bytes " + std::to_string(bytes_) + " != " + std::to_string(total_bytes));
  if (evictable_.size() != senders_.size()) return bad("evictable entries that are no sender's tail");
  if (pool_.size() > limits_.max_txs || bytes_ > limits_.max_bytes) return bad("over the limits");
  if (seen_.size() != seen_order_.size() || seen_.size() > limits_.max_seen) return bad("the seen cache is off");
  for (const auto& [id, e] : pool_)
    if (seen_.count(id)) return bad("an id both pending and seen");
  return {};
}

}  // namespace verity::node
