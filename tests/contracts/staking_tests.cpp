#define BOOST_TEST_MODULE staking_tests
#include <boost/test/unit_test.hpp>

#include <map>
#include <random>
#include <set>

#include "contracts/reputation.h"
#include "tests/chain_support.h"
#include "tests/test_support.h"

using namespace verity;
using namespace verity::state;
using namespace verity::contracts;
using namespace verity::testing;

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// A chain with short periods so that epochs, locks and unbonding pass in a
// test: epoch 10, unbonding 20, reward lock 5, downtime window 10 (sign at
// least 5), jail 5, block reward 1000, minimum stake 100.
struct StakingFixture {
  TestNet net;
  NativeContracts app;
  std::unique_ptr<KvStore> store = open_memory_store();
  std::unique_ptr<Chain> chain;
  std::map<PublicKey, SecretKey> consensus_keys;
  std::set<PublicKey> offline;  // consensus keys that do not sign commits

  explicit StakingFixture(std::size_t users = 6, std::uint64_t max_validators = 10) : net(make_test_net(users)) {
    for (const auto& v : net.genesis.validators)  // operators pay fees too
      net.genesis.accounts.push_back({v.name, v.operator_address, Amount(1'000'000)});
    auto& p = net.genesis.params;
    p.epoch_blocks = 10;
    p.unbonding_blocks = 20;
    p.reward_lock_blocks = 5;
    p.downtime_window = 10;
    p.min_signed_bps = 5000;
    p.downtime_jail_blocks = 5;
    p.block_reward = Amount(1000);
    p.min_validator_stake = Amount(100);
    p.max_validators = max_validators;
    chain = Chain::open(*store, net.genesis, app).value();
    for (const auto& k : net.validators) consensus_keys.emplace(k.public_key(), k);
  }

  const PublicKey& user(std::size_t i) const { return net.users[i].public_key(); }
  const PublicKey& validator_op(std::size_t i) const { return net.validators[i].public_key(); }

  CommitCertificate sign_commit(const Block& b) {
    CommitCertificate c{b.header.height, b.header.view, b.hash(), {}};
    Hash256 digest = vote_digest(b.header.chain_id, VotePhase::commit, c.height, c.view, c.block_hash);
    for (const auto& m : chain->validators().validators()) {
      if (offline.count(m.key)) continue;
      auto it = consensus_keys.find(m.key);
      BOOST_REQUIRE_MESSAGE(it != consensus_keys.end(), "test holds no key for a set member");
      c.signatures.push_back({m.key, it->second.sign(digest)});
    }
    return c;
  }

  void produce(std::vector<Transaction> txs) {
    auto b = build_block(*chain, std::move(txs), net.validators[0].public_key());
    BOOST_REQUIRE_MESSAGE(b.ok(), (b.ok() ? "" : b.error().to_string()));
    auto s = chain->commit(*b, sign_commit(*b));
    BOOST_REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.error().to_string()));
    auto supply = check_supply(chain->state(), net.genesis, known_accounts(net));
    BOOST_REQUIRE_MESSAGE(supply.empty(), "height " << chain->tip().height << ": " << supply);
  }
  void step(int blocks) {
    for (int i = 0; i < blocks; ++i) produce({});
  }
  std::uint64_t height() const { return chain->tip().height; }
  void step_to(std::uint64_t h) { step(static_cast<int>(h - height())); }

  Transaction tx(const SecretKey& from, Payload p) {
    Transaction t;
    t.chain_id = net.genesis.chain_id;
    t.nonce = load_account(chain->state(), from.public_key())->nonce;
    t.fee = Amount(1);
    t.payload = std::move(p);
    t.sign(from);
    return t;
  }
  // Runs one transaction in its own block; returns its receipt.
  Receipt run(const SecretKey& from, Payload p) {
    Transaction t = tx(from, std::move(p));
    produce({t});
    return chain->transaction(t.id())->value().receipt;
  }
  std::string reason(const SecretKey& from, Payload p) {
    Receipt r = run(from, std::move(p));
    return r.ok ? "ok" : r.reason;
  }

  Amount balance(const PublicKey& k) { return load_account(chain->state(), k)->balance; }
  ValidatorRecord validator(const PublicKey& op) { return load_validator(chain->state(), op).value().value(); }
  bool in_set(const PublicKey& consensus_key) { return chain->validators().power_of(consensus_key).has_value(); }
  // What the RPC says of a validator, as of the latest block.
  ValidatorWithStatus status_of(const PublicKey& op) {
    auto all = validator_statuses(chain->state(), height(), net.genesis.params);
    BOOST_REQUIRE_MESSAGE(all.ok(), (all.ok() ? "" : all.error().to_string()));
    for (auto& w : *all)
      if (w.record.operator_address == op) return w;
    BOOST_FAIL("no status for " << op.hex());
    return {};
  }
  // The staking contract's unjail, run as the next block would, on a copy
  // of the state: the error with its message (receipts keep the reason only).
  Status try_unjail(const PublicKey& op) {
    StateOverlay overlay(chain->state());
    std::vector<Event> events;
    BlockContext ctx{net.genesis.chain_id, height() + 1, PublicKey{}, net.genesis.params};
    return unjail(overlay, ctx, op, events);
  }

  DoubleSignEvidence evidence(const SecretKey& key, std::uint64_t h) {
    Vote a, b;
    a.phase = b.phase = VotePhase::prepare;
    a.height = b.height = h;
    a.block_hash = sha256(as_bytes("block A"));
    b.block_hash = sha256(as_bytes("block B"));
    a.sign(net.genesis.chain_id, key);
    b.sign(net.genesis.chain_id, key);
    return DoubleSignEvidence{a, b};
  }
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(create_validator_joins_at_next_epoch, StakingFixture) {
  auto ck = SecretKey::derive_insecure("new-consensus");
  consensus_keys.emplace(ck.public_key(), ck);
  BOOST_TEST(reason(net.users[0], CreateValidator{ck.public_key(), Amount(99), "too-small", 0}) == "stake-too-low");
  BOOST_TEST(reason(net.users[0], CreateValidator{ck.public_key(), Amount(500), "bad", 10001}) == "bad-commission");
  BOOST_TEST(reason(net.users[0], CreateValidator{net.validators[1].public_key(), Amount(500), "dup", 0}) ==
             "consensus-key-in-use");
  BOOST_TEST(reason(net.users[0], CreateValidator{ck.public_key(), Amount(500), "", 0}) == "bad-name");
  Amount before = balance(user(0));
  BOOST_TEST(reason(net.users[0], CreateValidator{ck.public_key(), Amount(5000), "newcomer", 1000}) == "ok");
  BOOST_TEST(balance(user(0)).units() == before.units() - 5000 - 1);
  BOOST_TEST(validator(user(0)).tokens.units() == 5000u);
  BOOST_TEST(reason(net.users[0], CreateValidator{SecretKey::derive_insecure("x").public_key(), Amount(500), "again", 0}) ==
             "validator-exists");
  BOOST_TEST(!in_set(ck.public_key()));
  step_to(10);  // end of the epoch block 10
  BOOST_TEST(in_set(ck.public_key()));
  BOOST_TEST(*chain->validators().power_of(ck.public_key()) == 5000u);
  step(3);  // and it signs: the chain goes on with it in the set
}

BOOST_FIXTURE_TEST_CASE(delegate_undelegate_withdraw, StakingFixture) {
  const PublicKey op = validator_op(1);
  BOOST_TEST(reason(net.users[2], Delegate{op, Amount(0)}) == "zero-amount");
  BOOST_TEST(reason(net.users[2], Delegate{user(5), Amount(10)}) == "unknown-validator");
  BOOST_TEST(reason(net.users[2], Delegate{op, Amount(2'000'000'000)}) == "insufficient-funds");
  BOOST_TEST(reason(net.users[2], Delegate{op, Amount(3000)}) == "ok");
  BOOST_TEST(validator(op).tokens.units() == 4000u);
  BOOST_TEST(chain->validators().power_of(net.validators[1].public_key()).value() == 1000u);  // until the epoch
  step_to(10);
  BOOST_TEST(chain->validators().power_of(net.validators[1].public_key()).value() == 4000u);

  BOOST_TEST(reason(net.users[2], Undelegate{op, Amount(3001)}) == "insufficient-delegation");  // more than bonded
  BOOST_TEST(reason(net.users[3], Undelegate{op, Amount(1)}) == "no-delegation");
  Amount before = balance(user(2));
  BOOST_TEST(reason(net.users[2], Undelegate{op, Amount(1000)}) == "ok");
  std::uint64_t started = height();
  BOOST_TEST(validator(op).tokens.units() == 3000u);
  auto entries = unbonding_entries(chain->state(), user(2)).value();
  BOOST_REQUIRE_EQUAL(entries.size(), 1u);
  BOOST_TEST(entries[0].completion_height == started + 20);
  BOOST_TEST(reason(net.users[2], Withdraw{}) == "nothing-to-withdraw");
  step_to(started + 20);
  BOOST_TEST(reason(net.users[2], Withdraw{}) == "ok");
  BOOST_TEST(unbonding_entries(chain->state(), user(2))->empty());
  // fees: undelegate 1 + failed withdraw 1 + withdraw 1
  BOOST_TEST(balance(user(2)).units() == before.units() + 1000 - 3);

  // Everything out: the delegation disappears.
  BOOST_TEST(reason(net.users[2], Undelegate{op, Amount(2000)}) == "ok");
  BOOST_TEST(!load_delegation(chain->state(), op, user(2))->has_value());
  BOOST_TEST(delegated_validators(chain->state(), user(2))->empty());
}

BOOST_FIXTURE_TEST_CASE(unbonding_entries_are_capped, StakingFixture) {
  const PublicKey op = validator_op(0);
  BOOST_TEST(reason(net.users[1], Delegate{op, Amount(100)}) == "ok");
  for (int i = 0; i < 7; ++i) BOOST_TEST(reason(net.users[1], Undelegate{op, Amount(1)}) == "ok");
  BOOST_TEST(reason(net.users[1], Undelegate{op, Amount(1)}) == "too-many-unbonding-entries");
}

BOOST_FIXTURE_TEST_CASE(rewards_vest_after_the_lock_and_claim_pays_exactly, StakingFixture) {
  // Block 1 has no last commit, so its 1000 waits in the pool; from block 2
  // on, 1000 per block plus fees is shared by the 4 equal validators that
  // all sign, all to the operator (commission 0, sole delegator).
  const SecretKey& opkey = net.validators[2];
  step(3);  // block 2 pays 2000 / 4, block 3 pays 1000 / 4
  auto early = rewards_of(chain->state(), opkey.public_key(), height(), net.genesis.params).value();
  BOOST_TEST(early.vested.is_zero());
  BOOST_TEST(early.locked.units() == 750u);
  BOOST_TEST(reason(opkey, Claim{}) == "nothing-to-claim");  // block 4: claim before vesting
  step_to(9);
  // Rewards earned in blocks 2..4 have vested by block 9 (lock 5): 3 * 250 + fee shares.
  auto r = rewards_of(chain->state(), opkey.public_key(), height() + 1, net.genesis.params).value();
  BOOST_TEST(r.vested.units() >= 750u);
  Amount before = balance(opkey.public_key());
  BOOST_TEST(reason(opkey, Claim{}) == "ok");  // block 10 claims what vested by 10
  BOOST_TEST(balance(opkey.public_key()).units() + 1 == before.units() + r.vested.units());
  BOOST_TEST(reason(opkey, Claim{}) == "ok");  // one more block has vested since
}

BOOST_FIXTURE_TEST_CASE(delegators_share_rewards_by_stake_minus_commission, StakingFixture) {
  auto ck = SecretKey::derive_insecure("c2");
  consensus_keys.emplace(ck.public_key(), ck);
  BOOST_TEST(reason(net.users[0], CreateValidator{ck.public_key(), Amount(1000), "shared", 2000}) == "ok");
  BOOST_TEST(reason(net.users[1], Delegate{user(0), Amount(3000)}) == "ok");
  step_to(10);  // joins the set: 4 x 1000 + 4000
  BOOST_TEST(in_set(ck.public_key()));
  step(2);      // block 12 pays for block 11 signed by all; the newcomer holds half the power
  auto set = chain->validators();
  BOOST_TEST(set.total_power() == 8000u);
  step(10);     // let everything vest
  auto op = rewards_of(chain->state(), user(0), height(), net.genesis.params).value();
  auto del = rewards_of(chain->state(), user(1), height(), net.genesis.params).value();
  // Per paid block the newcomer earns half the pool P: commission 20% of it,
  // then 1/4 of the rest to the operator's stake and 3/4 to the delegator.
  // Operator: 0.2 + 0.8/4 = 0.4 of the half; delegator: 0.6 of the half.
  std::uint64_t op_total = op.vested.units() + op.locked.units();
  std::uint64_t del_total = del.vested.units() + del.locked.units();
  BOOST_TEST(del_total > 0u);
  BOOST_TEST(op_total * 3 >= del_total * 2 - 3);  // 0.4 : 0.6, up to rounding
  BOOST_TEST(op_total * 3 <= del_total * 2 + 3);
}

BOOST_FIXTURE_TEST_CASE(double_sign_slashes_bans_and_claws_back, StakingFixture) {
  const SecretKey& bad = net.validators[3];
  const PublicKey op = bad.public_key();
  step(8);  // rewards accrue, some locked
  BOOST_TEST(reason(net.users[4], Delegate{op, Amount(1000)}) == "ok");
  auto before = validator(op);
  Amount locked_before = rewards_of(chain->state(), op, height(), net.genesis.params)->locked;
  BOOST_TEST(!locked_before.is_zero());
  auto ev = evidence(bad, height() - 1);

  BOOST_TEST(reason(net.users[0], SubmitEvidence{DoubleSignEvidence{ev.first, ev.first}}) == "evidence-not-conflicting");
  auto forged = ev;
  forged.second.block_hash = sha256(as_bytes("C"));
  BOOST_TEST(reason(net.users[0], SubmitEvidence{forged}) == "evidence-bad-signature");
  BOOST_TEST(reason(net.users[0], SubmitEvidence{evidence(bad, height() + 5)}) == "evidence-from-future");
  BOOST_TEST(reason(net.users[0], SubmitEvidence{evidence(SecretKey::derive_insecure("stranger"), 1)}) == "unknown-validator");

  Amount reporter_before = balance(user(0));
  BOOST_TEST(reason(net.users[0], SubmitEvidence{ev}) == "ok");
  auto after = validator(op);
  BOOST_TEST(after.banned);
  std::uint64_t slashed = before.tokens.units() - after.tokens.units();
  BOOST_TEST(slashed == before.tokens.units() * 500 / 10000);
  BOOST_TEST(balance(user(0)).units() == reporter_before.units() - 1 + slashed * 1000 / 10000);
  BOOST_TEST(rewards_of(chain->state(), op, height(), net.genesis.params)->locked.is_zero());  // clawed back
  BOOST_TEST(reputation(chain->state(), op).value() == 0u);
  // The delegation lost 5% with it.
  auto d = load_delegation(chain->state(), op, user(4)).value().value();
  BOOST_TEST(delegation_value(after, d).units() == 950u);

  BOOST_TEST(reason(net.users[1], SubmitEvidence{ev}) == "duplicate-evidence");
  BOOST_TEST(reason(net.users[1], SubmitEvidence{evidence(bad, 2)}) == "validator-banned");
  BOOST_TEST(reason(net.users[1], Delegate{op, Amount(10)}) == "validator-banned");
  BOOST_TEST(reason(bad, Unjail{}) == "validator-banned");
  // Banned wins over jailed (a banned validator is jailed too); it keeps
  // its power until the boundary, and the status says so.
  auto banned = status_of(op);
  BOOST_TEST(banned.status.status == "banned");
  BOOST_TEST(banned.record.jailed);
  BOOST_TEST(banned.status.unjail_refusal == "validator-banned");
  BOOST_TEST(banned.power.has_value());
  BOOST_TEST(contains(banned.status.detail, "double signing"));
  BOOST_TEST(contains(banned.status.detail, "keeps power"));
  step_to((height() / 10 + 1) * 10);  // the next epoch boundary
  BOOST_TEST(!in_set(op));
  BOOST_TEST(chain->validators().size() == 3u);
  BOOST_TEST(status_of(op).status.status == "banned");
  BOOST_TEST(!status_of(op).power.has_value());
  step(2);  // three validators go on
}

// Evidence in a block (the way it reaches the chain by itself): the same
// checks and punishment as submit_evidence, the proposer's operator as the
// reporter, and any item that does not pass makes the block invalid.
BOOST_FIXTURE_TEST_CASE(evidence_in_a_block_punishes_once_and_pays_the_proposer, StakingFixture) {
  const SecretKey& bad = net.validators[3];
  const PublicKey op = bad.public_key();
  const PublicKey proposer = net.validators[0].public_key();  // produce() proposes with validators[0]
  step(5);
  auto ev = evidence(bad, height() - 1);
  auto block_reason = [&](std::vector<DoubleSignEvidence> list) {
    auto b = build_block(*chain, {}, proposer, std::move(list));
    return b ? std::string("ok") : b.error().reason + " " + b.error().detail;
  };
  auto starts = [](const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; };
  // Refused before anything changes, with the stable reason in the detail.
  auto forged = ev;
  forged.second.block_hash = sha256(as_bytes("C"));
  BOOST_TEST(starts(block_reason({forged}), "bad-evidence evidence 0: evidence-bad-signature"));
  BOOST_TEST(starts(block_reason({DoubleSignEvidence{ev.first, ev.first}}), "bad-evidence evidence 0: evidence-not-conflicting"));
  BOOST_TEST(starts(block_reason({evidence(bad, height() + 5)}), "bad-evidence evidence 0: evidence-from-future"));
  BOOST_TEST(starts(block_reason({evidence(SecretKey::derive_insecure("stranger"), 1)}), "bad-evidence evidence 0: unknown-validator"));
  // Two offences of one validator in one block: the first bans it.
  BOOST_TEST(starts(block_reason({ev, evidence(bad, 2)}), "bad-evidence evidence 1: validator-banned"));
  // A header that does not commit to the evidence.
  {
    auto b = build_block(*chain, {}, proposer, {ev});
    BOOST_REQUIRE(b.ok());
    Block tampered = *b;
    tampered.evidence.clear();
    BOOST_TEST(chain->execute(tampered).error().reason == "bad-evidence-hash");
  }
  BOOST_TEST(!validator(op).banned);  // nothing above changed anything

  auto before = validator(op);
  Amount proposer_before = balance(proposer);
  auto b = build_block(*chain, {}, proposer, {ev});
  BOOST_REQUIRE(b.ok());
  BOOST_REQUIRE(chain->commit(*b, sign_commit(*b)).ok());
  auto after = validator(op);
  BOOST_TEST(after.banned);
  BOOST_TEST(after.jailed);
  const std::uint64_t slashed = before.tokens.units() - after.tokens.units();
  BOOST_TEST(slashed == before.tokens.units() * 500 / 10000);
  BOOST_TEST(balance(proposer).units() == proposer_before.units() + slashed * 1000 / 10000);
  BOOST_TEST(check_supply(chain->state(), net.genesis, known_accounts(net)).empty());
  // Once per offence: the same evidence again, in a block or a transaction.
  BOOST_TEST(starts(block_reason({ev}), "bad-evidence evidence 0: duplicate-evidence"));
  BOOST_TEST(reason(net.users[0], SubmitEvidence{ev}) == "duplicate-evidence");
}

// A proposer that includes evidence against itself gets no reward for it.
BOOST_FIXTURE_TEST_CASE(a_proposer_reporting_itself_is_not_paid, StakingFixture) {
  step(3);
  const SecretKey& self = net.validators[0];
  Amount before = balance(self.public_key());
  auto b = build_block(*chain, {}, self.public_key(), {evidence(self, height() - 1)});
  BOOST_REQUIRE(b.ok());
  BOOST_REQUIRE(chain->commit(*b, sign_commit(*b)).ok());
  BOOST_TEST(validator(self.public_key()).banned);
  BOOST_TEST(balance(self.public_key()).units() == before.units());
  BOOST_TEST(check_supply(chain->state(), net.genesis, known_accounts(net)).empty());
}

BOOST_FIXTURE_TEST_CASE(evidence_too_old_is_rejected, StakingFixture) {
  step(25);  // unbonding period 20
  BOOST_TEST(reason(net.users[0], SubmitEvidence{evidence(net.validators[1], 2)}) == "evidence-too-old");
}

BOOST_FIXTURE_TEST_CASE(slash_reaches_unbonding_entries_made_after_the_offence, StakingFixture) {
  const SecretKey& bad = net.validators[2];
  const PublicKey op = bad.public_key();
  BOOST_TEST(reason(net.users[1], Delegate{op, Amount(2000)}) == "ok");
  BOOST_TEST(reason(net.users[1], Undelegate{op, Amount(1000)}) == "ok");  // before the offence
  std::uint64_t offence = height() + 1;
  step(1);
  BOOST_TEST(reason(net.users[1], Undelegate{op, Amount(500)}) == "ok");   // after it: still liable
  BOOST_TEST(reason(net.users[0], SubmitEvidence{evidence(bad, offence)}) == "ok");
  auto entries = unbonding_entries(chain->state(), user(1)).value();
  BOOST_REQUIRE_EQUAL(entries.size(), 2u);
  BOOST_TEST(entries[0].amount.units() == 1000u);  // created before the offence: untouched
  BOOST_TEST(entries[1].amount.units() == 475u);   // 5% slashed
}

BOOST_FIXTURE_TEST_CASE(evidence_for_a_validator_that_already_left, StakingFixture) {
  const SecretKey& leaver = net.validators[1];
  std::uint64_t offence = height() + 1;
  step(1);
  BOOST_TEST(reason(leaver, Undelegate{leaver.public_key(), Amount(1000)}) == "ok");  // all of it
  BOOST_TEST(validator(leaver.public_key()).tokens.is_zero());
  step_to(10);
  BOOST_TEST(!in_set(leaver.public_key()));
  BOOST_TEST(status_of(leaver.public_key()).status.status == "below-min-stake");
  BOOST_TEST(reason(net.users[0], SubmitEvidence{evidence(leaver, offence)}) == "ok");
  BOOST_TEST(validator(leaver.public_key()).banned);
  // Banned wins over below-min-stake; what is missing is still counted.
  BOOST_TEST(status_of(leaver.public_key()).status.status == "banned");
  BOOST_TEST(status_of(leaver.public_key()).status.missing_stake.units() == 100u);
  auto entries = unbonding_entries(chain->state(), leaver.public_key()).value();
  BOOST_TEST(entries.at(0).amount.units() == 950u);  // the stake on its way out still pays
}

BOOST_FIXTURE_TEST_CASE(downtime_jails_and_slashes_then_unjail, StakingFixture) {
  const SecretKey& lazy = net.validators[1];
  const PublicKey op = lazy.public_key();
  step(2);
  std::uint64_t rep_before = reputation(chain->state(), op).value();
  BOOST_TEST(rep_before > 0u);
  // A delegation to a jailed validator is allowed: test it below.
  offline.insert(lazy.public_key());
  Amount tokens_before = validator(op).tokens;
  int blocks = 0;
  while (!validator(op).jailed && blocks < 30) {
    step(1);
    ++blocks;
  }
  auto v = validator(op);
  BOOST_REQUIRE(v.jailed);
  BOOST_TEST(v.tokens.units() == tokens_before.units() - tokens_before.units() * 100 / 10000);
  BOOST_TEST(reputation(chain->state(), op).value() < rep_before);
  BOOST_TEST(reason(lazy, Unjail{}) == "still-jailed");
  BOOST_TEST(reason(net.users[2], Delegate{op, Amount(10)}) == "ok");
  step_to(((height() / 10) + 1) * 10);  // the next epoch drops it
  BOOST_TEST(!in_set(lazy.public_key()));
  offline.clear();
  step_to(v.jailed_until);
  BOOST_TEST(reason(net.users[3], Unjail{}) == "unknown-validator");
  BOOST_TEST(reason(lazy, Unjail{}) == "ok");
  BOOST_TEST(reason(lazy, Unjail{}) == "not-jailed");
  step_to(((height() / 10) + 1) * 10);
  BOOST_TEST(in_set(lazy.public_key()));
}

BOOST_AUTO_TEST_CASE(the_set_rule_ranks_by_tokens_then_address_and_skips_who_cannot_serve) {
  ProtocolParams p;
  p.min_validator_stake = Amount(100);
  auto record = [](const char* name, std::uint64_t tokens) {
    ValidatorRecord v;
    v.operator_address = SecretKey::derive_insecure(name).public_key();
    v.tokens = Amount(tokens);
    return v;
  };
  ValidatorRecord a = record("a", 500), b = record("b", 500), c = record("c", 900), low = record("low", 99),
                  jailed = record("jailed", 5000), banned = record("banned", 5000), edge = record("edge", 100);
  jailed.jailed = true;
  banned.banned = banned.jailed = true;
  BOOST_TEST((eligibility(banned, p) == Eligibility::banned));
  BOOST_TEST((eligibility(jailed, p) == Eligibility::jailed));
  low.jailed = true;
  BOOST_TEST((eligibility(low, p) == Eligibility::jailed));  // jailed before below-min-stake
  low.jailed = false;
  BOOST_TEST((eligibility(low, p) == Eligibility::below_min_stake));
  BOOST_TEST((eligibility(edge, p) == Eligibility::eligible));  // exactly the minimum qualifies
  BOOST_TEST(missing_stake(low, p).units() == 1u);
  BOOST_TEST(missing_stake(edge, p).is_zero());
  auto ranked = rank_candidates({a, low, jailed, b, banned, c, edge}, p);
  BOOST_REQUIRE_EQUAL(ranked.size(), 4u);
  BOOST_TEST(ranked[0].operator_address == c.operator_address);
  BOOST_TEST(ranked[1].operator_address == std::min(a.operator_address, b.operator_address));  // ties: by address
  BOOST_TEST(ranked[2].operator_address == std::max(a.operator_address, b.operator_address));
  BOOST_TEST(ranked[3].operator_address == edge.operator_address);
  // With no minimum, a validator without tokens still does not qualify.
  p.min_validator_stake = Amount(0);
  BOOST_TEST(qualifying_stake(p).units() == 1u);
  BOOST_TEST((eligibility(record("empty", 0), p) == Eligibility::below_min_stake));
  BOOST_TEST(missing_stake(record("empty", 0), p).units() == 1u);
}

BOOST_AUTO_TEST_CASE(status_says_active_waiting_or_not_selected_as_the_selection_will) {
  StakingFixture f(6, 4);  // the four genesis validators of 1000 fill max_validators
  for (std::size_t i = 0; i < 4; ++i) {
    auto w = f.status_of(f.validator_op(i));
    BOOST_TEST(w.status.status == "active");
    BOOST_TEST(w.power.value_or(0) == 1000u);
    BOOST_TEST(w.status.missing_stake.is_zero());
    BOOST_TEST(w.status.next_epoch_boundary == 10u);
    BOOST_TEST(w.status.unjail_refusal == "not-jailed");
  }
  auto small = SecretKey::derive_insecure("small-ck"), big = SecretKey::derive_insecure("big-ck");
  f.consensus_keys.emplace(small.public_key(), small);
  f.consensus_keys.emplace(big.public_key(), big);
  BOOST_TEST(f.reason(f.net.users[0], CreateValidator{small.public_key(), Amount(500), "small", 0}) == "ok");
  auto w = f.status_of(f.user(0));
  BOOST_TEST(w.status.status == "not-selected");  // qualifies, fifth of five
  BOOST_TEST(!w.power.has_value());
  BOOST_TEST(contains(w.status.detail, "ranks 5"));
  BOOST_TEST(f.reason(f.net.users[1], CreateValidator{big.public_key(), Amount(2000), "big", 0}) == "ok");
  w = f.status_of(f.user(1));
  BOOST_TEST(w.status.status == "waiting");
  BOOST_TEST(contains(w.status.detail, "joins the set at the epoch boundary at height 10"));
  BOOST_TEST(f.status_of(f.user(0)).status.status == "not-selected");
  // Of the four equal genesis validators, the one with the highest operator
  // address is outranked now: active until the boundary, and it says so.
  std::vector<PublicKey> genesis_ops;
  for (std::size_t i = 0; i < 4; ++i) genesis_ops.push_back(f.validator_op(i));
  const PublicKey last = *std::max_element(genesis_ops.begin(), genesis_ops.end());
  auto outranked = f.status_of(last);
  BOOST_TEST(outranked.status.status == "active");
  BOOST_TEST(contains(outranked.status.detail, "leaves the set at the epoch boundary at height 10"));
  for (const auto& op : genesis_ops)
    if (op != last) BOOST_TEST(!contains(f.status_of(op).status.detail, "leaves the set"));

  f.step_to(10);  // what the statuses said is what the selection did
  BOOST_TEST(f.in_set(big.public_key()));
  BOOST_TEST(f.status_of(f.user(1)).status.status == "active");
  BOOST_TEST(!f.in_set(last));  // genesis validators use one key as operator and consensus key
  BOOST_TEST(f.status_of(last).status.status == "not-selected");
  BOOST_TEST(!f.in_set(small.public_key()));
  BOOST_TEST(f.status_of(f.user(0)).status.status == "not-selected");
  BOOST_TEST(f.status_of(f.user(0)).status.next_epoch_boundary == 20u);
  f.step(2);  // the new set certifies
}

BOOST_FIXTURE_TEST_CASE(below_min_stake_says_how_much_is_missing_and_delegating_it_brings_it_back, StakingFixture) {
  const SecretKey& leaver = net.validators[2];
  const PublicKey op = leaver.public_key();
  BOOST_TEST(reason(leaver, Undelegate{op, Amount(950)}) == "ok");  // 50 of 1000 left, the minimum is 100
  auto w = status_of(op);
  BOOST_TEST(w.status.status == "below-min-stake");
  BOOST_TEST(w.status.missing_stake.units() == 50u);
  BOOST_TEST(w.power.value_or(0) == 1000u);  // its power holds until the boundary
  BOOST_TEST(contains(w.status.detail, "delegate at least 50"));
  BOOST_TEST(contains(w.status.detail, "keeps power 1000 until the epoch boundary at height 10"));
  BOOST_TEST(w.status.unjail_refusal == "not-jailed");  // not jailed: unjail cannot help
  step_to(10);
  BOOST_TEST(!in_set(op));
  w = status_of(op);
  BOOST_TEST(w.status.status == "below-min-stake");  // rather than a bare "not in the set"
  BOOST_TEST(!w.power.has_value());
  BOOST_TEST(reason(net.users[1], Delegate{op, Amount(50)}) == "ok");
  BOOST_TEST(status_of(op).status.status == "waiting");
  BOOST_TEST(status_of(op).status.missing_stake.is_zero());
  step_to(20);
  BOOST_TEST(in_set(op));
  BOOST_TEST(status_of(op).status.status == "active");
}

BOOST_FIXTURE_TEST_CASE(unjail_says_until_when_and_refuses_below_the_minimum_stake, StakingFixture) {
  const SecretKey& lazy = net.validators[1];
  const PublicKey op = lazy.public_key();
  offline.insert(op);
  for (int blocks = 0; !validator(op).jailed && blocks < 30; ++blocks) step(1);
  BOOST_REQUIRE(validator(op).jailed);
  offline.clear();
  const std::uint64_t until = validator(op).jailed_until;  // jailed 5 blocks
  BOOST_REQUIRE(height() + 3 < until);

  // The status names the height unjail is allowed from.
  auto w = status_of(op);
  BOOST_TEST(w.status.status == "jailed");
  BOOST_TEST(w.record.jailed_until == until);
  BOOST_TEST(w.status.unjail_refusal == "still-jailed");
  BOOST_TEST(contains(w.status.detail, "until height " + std::to_string(until)));
  BOOST_TEST(w.power.has_value());  // in the set until the boundary
  BOOST_TEST(contains(w.status.detail, "keeps power"));
  // Unjail before its time: the message names the height and the blocks left.
  auto early = try_unjail(op);
  BOOST_REQUIRE(!early.ok());
  BOOST_TEST(early.error().reason == "still-jailed");
  BOOST_TEST(contains(early.error().detail, "jailed until height " + std::to_string(until)));
  BOOST_TEST(contains(early.error().detail, std::to_string(until - (height() + 1)) + " blocks after this one"));
  BOOST_TEST(reason(lazy, Unjail{}) == "still-jailed");

  // All but 60 taken out (990 after the 1% slash): jailed still wins over
  // below-min-stake, and both the status and unjail say what is missing.
  BOOST_TEST(reason(lazy, Undelegate{op, Amount(validator(op).tokens.units() - 60)}) == "ok");
  w = status_of(op);
  BOOST_TEST(w.status.status == "jailed");
  BOOST_TEST(w.status.missing_stake.units() == 40u);
  BOOST_TEST(contains(w.status.detail, "40 below the minimum stake 100"));
  auto both = try_unjail(op);
  BOOST_REQUIRE(!both.ok());
  BOOST_TEST(both.error().reason == "still-jailed");
  BOOST_TEST(contains(both.error().detail, "40 below the minimum stake 100"));

  step_to((height() / 10 + 1) * 10);  // the boundary drops it
  BOOST_TEST(!in_set(op));
  step_to(until);
  w = status_of(op);
  BOOST_TEST(w.status.status == "jailed");
  BOOST_TEST(w.status.unjail_refusal == "below-min-stake");
  BOOST_TEST(!w.power.has_value());
  // Unjail below the minimum is refused and changes nothing; the message
  // says how much to delegate first.
  auto refused = try_unjail(op);
  BOOST_REQUIRE(!refused.ok());
  BOOST_TEST(refused.error().reason == "below-min-stake");
  BOOST_TEST(contains(refused.error().detail, "delegate at least 40"));
  const ValidatorRecord before = validator(op);
  BOOST_TEST(reason(lazy, Unjail{}) == "below-min-stake");
  const ValidatorRecord after = validator(op);  // its reward accumulator may move: it signed the last set's commits
  BOOST_TEST(after.jailed);
  BOOST_TEST(after.jailed_until == before.jailed_until);
  BOOST_TEST(after.tokens.units() == before.tokens.units());
  BOOST_TEST(after.shares == before.shares);

  // The way forward: delegate what is missing (allowed while jailed), then
  // unjail; it rejoins the set at the next boundary.
  BOOST_TEST(reason(net.users[2], Delegate{op, Amount(40)}) == "ok");
  BOOST_TEST(status_of(op).status.unjail_refusal.empty());
  BOOST_TEST(contains(status_of(op).status.detail, "may send unjail now"));
  BOOST_TEST(reason(lazy, Unjail{}) == "ok");
  w = status_of(op);
  BOOST_TEST(w.status.status == "waiting");
  step_to(w.status.next_epoch_boundary);
  BOOST_TEST(in_set(op));
  BOOST_TEST(status_of(op).status.status == "active");
}

BOOST_FIXTURE_TEST_CASE(reputation_rises_with_signing_and_decays_each_epoch, StakingFixture) {
  step(9);  // blocks 2..9 credit every signer
  std::uint64_t r9 = reputation(chain->state(), validator_op(0)).value();
  BOOST_TEST(r9 == 8u * 1000u);
  step(1);  // block 10: +1000, then the epoch decays 10%
  BOOST_TEST(reputation(chain->state(), validator_op(0)).value() == (r9 + 1000) - (r9 + 1000) / 10);
}

// The score arithmetic validators and workers share: clamped at both ends,
// and a decay that rounds the part taken down, even near the maximum.
BOOST_AUTO_TEST_CASE(score_arithmetic_clamps_and_decays) {
  BOOST_TEST(adjusted_score(0, -1) == 0u);
  BOOST_TEST(adjusted_score(5, -5) == 0u);
  BOOST_TEST(adjusted_score(5, 3) == 8u);
  BOOST_TEST(adjusted_score(kReputationMax - 1, 1000) == kReputationMax);
  BOOST_TEST(adjusted_score(kReputationMax, -kReputationJailed) == kReputationMax);
  BOOST_TEST(decayed_score(0, 1000) == 0u);
  BOOST_TEST(decayed_score(9, 1000) == 9u);  // 0.9 taken, rounded down to 0
  BOOST_TEST(decayed_score(10, 1000) == 9u);
  BOOST_TEST(decayed_score(kReputationMax, 1000) == 900'000u);
  BOOST_TEST(decayed_score(kReputationMax, kBpsDenominator) == 0u);
}

// A seeded random sequence of staking, delegation, slashing and claim
// operations: the supply invariant holds after every block (produce()
// checks it), no amount wraps, and the chain never stops.
BOOST_AUTO_TEST_CASE(random_operations_keep_every_invariant) {
  auto seed = test_seed();
  BOOST_TEST_MESSAGE("seed " << seed << " (replay with VERITY_SEED=" << seed << ")");
  std::mt19937_64 rng(seed);
  StakingFixture f(8);
  std::vector<SecretKey> created;  // consensus keys of created validators
  std::map<std::string, int> outcomes;
  int ops = 0;
  const int kOps = 10'000;
  while (ops < kOps) {
    std::vector<Transaction> txs;
    std::map<PublicKey, std::uint64_t> nonce;
    int n = 1 + static_cast<int>(rng() % 40);
    for (int i = 0; i < n && ops < kOps; ++i, ++ops) {
      const SecretKey& who = f.net.users[rng() % f.net.users.size()];
      std::vector<PublicKey> ops_list = validator_operators(f.chain->state()).value();
      const PublicKey& target = ops_list[rng() % ops_list.size()];
      Amount amount(1 + rng() % 5000);
      Payload p;
      // Weighted towards the operations that move stake; evidence is rare,
      // as a validator it bans stays banned.
      std::uint64_t pick = rng() % 100;
      if (pick < 15) {
        p = Transfer{f.net.users[rng() % f.net.users.size()].public_key(), amount};
      } else if (pick < 50) {
        p = Delegate{target, amount};
      } else if (pick < 70) {
        p = Undelegate{target, amount};
      } else if (pick < 80) {
        p = Withdraw{};
      } else if (pick < 93) {
        p = Claim{};
      } else if (pick < 96) {
        auto ck = SecretKey::derive_insecure("rand-" + std::to_string(rng()));
        f.consensus_keys.emplace(ck.public_key(), ck);
        p = CreateValidator{ck.public_key(), Amount(100 + rng() % 3000), "r", rng() % 10001};
      } else if (pick < 99) {
        p = Unjail{};
      } else {
        auto it = f.consensus_keys.begin();
        std::advance(it, static_cast<long>(rng() % f.consensus_keys.size()));
        std::uint64_t back = rng() % 15;
        p = SubmitEvidence{f.evidence(it->second, f.height() > back ? f.height() - back : 1)};
      }
      if (!nonce.count(who.public_key())) nonce[who.public_key()] = load_account(f.chain->state(), who.public_key())->nonce;
      Transaction t;
      t.chain_id = f.net.genesis.chain_id;
      t.nonce = nonce[who.public_key()]++;
      t.fee = Amount(rng() % 3);
      t.payload = p;
      t.sign(who);
      txs.push_back(t);
    }
    // Sometimes one validator stays offline for a while (never more than f).
    if (rng() % 20 == 0) {
      f.offline.clear();
      if (rng() % 2) f.offline.insert(f.chain->validators().validators()[rng() % f.chain->validators().size()].key);
    }
    // Keep a quorum signing: drop the offline member if it alone would break it.
    std::uint64_t online = 0;
    for (const auto& m : f.chain->validators().validators())
      if (!f.offline.count(m.key)) online += m.power;
    if (!f.chain->validators().is_quorum(online)) f.offline.clear();
    auto ids = std::vector<Hash256>{};
    for (const auto& t : txs) ids.push_back(t.id());
    f.produce(txs);
    for (const auto& id : ids) {
      auto r = f.chain->transaction(id)->value().receipt;
      outcomes[r.ok ? "ok" : r.reason]++;
    }
    // Right after a boundary the set is the one just chosen from this very
    // state: the statuses must say what the selection did.
    if (f.height() % f.net.genesis.params.epoch_blocks == 0) {
      auto all = validator_statuses(f.chain->state(), f.height(), f.net.genesis.params).value();
      const bool any_qualifies = std::any_of(all.begin(), all.end(), [](const ValidatorWithStatus& w) {
        return w.status.status == "active" || w.status.status == "waiting" || w.status.status == "not-selected";
      });
      for (const auto& w : all) {
        BOOST_TEST(w.status.status != "waiting", "height " << f.height());
        if (any_qualifies)
          BOOST_TEST(w.power.has_value() == (w.status.status == "active"),
                     "height " << f.height() << ": " << w.status.status << ": " << w.status.detail);
      }
    }
  }
  std::string summary;
  for (const auto& [k, v] : outcomes) summary += k + "=" + std::to_string(v) + " ";
  BOOST_TEST_MESSAGE(kOps << " operations over " << f.height() << " blocks: " << summary);
  BOOST_TEST(outcomes["ok"] > kOps / 4);  // the sequence did real work, not only failures
}
