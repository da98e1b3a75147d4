#pragma once
// A small network for state tests and benchmarks: a genesis with funded
// users and validators whose keys the test holds, and helpers that build,
// certify and commit blocks as a proposer and the validators would.

#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "contracts/accounts.h"
#include "contracts/native.h"
#include "contracts/staking.h"
#include "contracts/tasks.h"
#include "state/chain.h"

namespace verity::testing {

// The store keys of the state-map pages reachable from `root`, added to
// `out`; reason "state-node-missing" when one is not in the store.
inline Status reachable_nodes(const state::KvStore& store, const state::PageId& page, std::set<Bytes>& out) {
  if (page.hash == kEmptySubtree || !out.insert(state::state_page_key(page)).second) return {};
  auto loaded = state::StateMap::load_page(store, page);
  if (!loaded) return loaded.error();
  std::vector<state::PageId> below;
  state::StateMap::walk_page(*loaded->page, [](const state::StateMap::Node&) {}, [&](const state::PageId& p) { below.push_back(p); });
  for (const auto& p : below)
    if (auto s = reachable_nodes(store, p, out); !s) return s;
  return {};
}
inline Status reachable_nodes(const state::KvStore& store, const Hash256& root, std::set<Bytes>& out) {
  return reachable_nodes(store, state::PageId{root, state::kRootPage}, out);
}

// The store keys of every state-map page in the store (roots and others).
inline std::set<Bytes> stored_state_nodes(const state::KvStore& store) {
  std::set<Bytes> out;
  for (auto prefix : {state::kStatePagePrefix, state::kStateRootPrefix})
    (void)store.scan(prefixed_key(prefix, {}), [&](ByteView key, ByteView) {
      out.insert(Bytes(key.begin(), key.end()));
      return true;
    });
  return out;
}

// The key a page had before 2026-12-05 ("p/" + hash + be64(version),
// state::migrate_hash_led_pages) for its key now (state::state_page_key).
inline Bytes hash_led_page_key(ByteView page_key) {
  const std::size_t at = state::kStatePagePrefix.size();
  return prefixed_key(state::kHashLedPagePrefix, page_key.subspan(at + 8, 32), page_key.subspan(at, 8));
}

struct TestNet {
  Genesis genesis;
  std::vector<SecretKey> validators;
  std::vector<SecretKey> users;
};

inline TestNet make_test_net(std::size_t users, std::uint64_t balance = 1'000'000'000, std::size_t validators = 4) {
  TestNet net;
  net.genesis.chain_id = "verity-test-1";
  net.genesis.genesis_time = 1767225600;
  for (std::size_t i = 0; i < users; ++i) {
    net.users.push_back(SecretKey::derive_insecure("user-" + std::to_string(i)));
    net.genesis.accounts.push_back({"user-" + std::to_string(i), net.users.back().public_key(), Amount(balance)});
  }
  for (std::size_t i = 0; i < validators; ++i) {
    net.validators.push_back(SecretKey::derive_insecure("test-validator-" + std::to_string(i)));
    const auto& k = net.validators.back();
    net.genesis.validators.push_back({"v" + std::to_string(i), k.public_key(), k.public_key(), Amount(1000)});
  }
  return net;
}

inline Transaction make_transfer(const std::string& chain_id, const SecretKey& from, std::uint64_t nonce,
                                 const PublicKey& to, std::uint64_t amount, std::uint64_t fee = 1) {
  Transaction tx;
  tx.chain_id = chain_id;
  tx.nonce = nonce;
  tx.fee = Amount(fee);
  tx.payload = Transfer{to, Amount(amount)};
  tx.sign(from);
  return tx;
}

inline CommitCertificate certify(const Block& block, const std::vector<SecretKey>& keys) {
  CommitCertificate c{block.header.height, block.header.view, block.hash(), {}};
  Hash256 digest = vote_digest(block.header.chain_id, VotePhase::commit, c.height, c.view, c.block_hash);
  for (const auto& k : keys) c.signatures.push_back({k.public_key(), k.sign(digest)});
  std::sort(c.signatures.begin(), c.signatures.end(),
            [](const CommitSignature& a, const CommitSignature& b) { return a.validator < b.validator; });
  return c;
}

// A block on top of the chain's tip with its state root filled in by
// executing it. Fails with execute()'s error.
inline Result<Block> build_block(state::Chain& chain, std::vector<Transaction> txs, const PublicKey& proposer,
                                 std::vector<DoubleSignEvidence> evidence = {}) {
  Block b;
  const auto& tip = chain.tip();
  b.header.chain_id = chain.genesis().chain_id;
  b.header.height = tip.height + 1;
  b.header.prev_hash = tip.block_hash;
  b.header.proposer = proposer;
  b.header.timestamp_ms = 1767225600000ull + tip.height * 1000;
  b.transactions = std::move(txs);
  if (tip.height > 0) {
    auto cert = chain.certificate_at(tip.height);
    if (!cert) return cert.error();
    b.last_commit = cert->value();
  }
  b.header.tx_root = transactions_root(b.transactions);
  b.header.last_commit_hash = b.last_commit.hash();
  b.evidence = std::move(evidence);
  b.header.evidence_hash = evidence_hash(b.evidence);
  auto outcome = chain.execute(b);
  if (!outcome) return outcome.error();
  b.header.state_root = outcome->state_root;
  return b;
}

// Builds, certifies (by every validator) and commits one block.
inline Result<Block> produce_block(state::Chain& chain, const TestNet& net, std::vector<Transaction> txs) {
  auto block = build_block(chain, std::move(txs), net.validators[0].public_key());
  if (!block) return block.error();
  if (auto s = chain.commit(*block, certify(*block, net.validators)); !s) return s.error();
  return block;
}

// The supply invariant, summed over the accounts the test knows (every
// account that can hold anything in these tests): balances + bonded tokens
// + unbonding entries + reward entries + the reward pool + the fee pool
// + worker stakes (bonded and unbonding) + task escrow must equal the genesis supply + minted - burned. Returns a description of
// the mismatch, or "" when it holds.
inline std::string check_supply(const state::StateReader& s, const Genesis& genesis,
                                const std::vector<PublicKey>& accounts) {
  auto must = [](auto r) {
    if (!r) throw std::runtime_error(r.error().to_string());
    return std::move(r).value();
  };
  unsigned __int128 held = 0;
  for (const auto& a : accounts) {
    held += must(contracts::load_account(s, a)).balance.units();
    for (const auto& e : must(contracts::unbonding_entries(s, a))) held += e.amount.units();
    for (const auto& e : must(contracts::reward_entries(s, a))) held += e.amount.units();
  }
  for (const auto& op : must(contracts::validator_operators(s)))
    held += must(contracts::load_validator(s, op))->tokens.units();
  auto supply = must(contracts::supply_record(s));
  held += supply.reward_pool.units();
  held += must(contracts::load_amount(s, contracts::kFeePoolKey)).units();
  held += must(contracts::tasks_held(s)).units();
  unsigned __int128 expected =
      static_cast<unsigned __int128>(genesis.total_supply().units()) + supply.minted.units() - supply.burned.units();
  if (held == expected) return "";
  return "held " + std::to_string(static_cast<std::uint64_t>(held)) + " != expected " +
         std::to_string(static_cast<std::uint64_t>(expected));
}

inline std::vector<PublicKey> known_accounts(const TestNet& net) {
  std::vector<PublicKey> out;
  for (const auto& a : net.genesis.accounts) out.push_back(a.address);
  for (const auto& v : net.genesis.validators)
    if (std::find(out.begin(), out.end(), v.operator_address) == out.end()) out.push_back(v.operator_address);
  return out;
}

}  // namespace verity::testing
