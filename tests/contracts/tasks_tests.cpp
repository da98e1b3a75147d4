#define BOOST_TEST_MODULE tasks_tests
#include <boost/test/unit_test.hpp>

#include <map>
#include <random>
#include <set>

#include "contracts/reputation.h"
#include "contracts/tasks.h"
#include "tests/chain_support.h"
#include "tests/test_support.h"

using namespace verity;
using namespace verity::state;
using namespace verity::contracts;
using namespace verity::testing;

namespace verity::contracts {
std::ostream& operator<<(std::ostream& o, TaskStatus s) { return o << task_status_name(s); }
std::ostream& operator<<(std::ostream& o, RoundKind k) { return o << round_kind_name(k); }
}  // namespace verity::contracts

namespace {

// What a worker reports for a task.
struct Outcome {
  std::uint64_t outcome = 0;
  std::uint64_t exit_code = 0;
  std::uint64_t fuel_used = 100;
  std::string output = "42\n";
  Hash256 hash() const { return task_result_hash(outcome, exit_code, fuel_used, as_bytes(output)); }
};
const Outcome kHonest{};
const Outcome kLie{0, 0, 100, "41\n"};

const Bytes kModule{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};  // an empty module: the contract does not run it

// A chain with short periods: unbonding 20, reward lock 30, worker
// minimum stake 1000, gradual trust under reputation 50,000 for rewards of
// 100 or more, no block reward (balances move only by what the test does),
// a reference speed of 100,000 fuel per block (a task of 10,000 fuel needs a
// commit window of 3 blocks; max_task_fuel, 12).
// Users 0..2 submit and audit; users 3..(3+workers) are workers.
struct TaskFixture {
  TestNet net;
  NativeContracts app;
  std::unique_ptr<KvStore> store = open_memory_store();
  std::unique_ptr<Chain> chain;
  std::map<PublicKey, SecretKey> keys;

  explicit TaskFixture(std::size_t users = 12, const std::function<void(ProtocolParams&)>& tweak = {},
                       const ModuleMeter* meter = nullptr)
      : net(make_test_net(users)), app(meter) {
    auto& p = net.genesis.params;
    p.epoch_blocks = 1000;
    p.unbonding_blocks = 20;
    p.reward_lock_blocks = 30;
    p.min_worker_stake = Amount(1000);
    p.task_replication = 3;
    p.max_task_replication = 5;
    p.max_task_blocks = 20;
    p.max_task_fuel = 1'000'000;
    p.reference_fuel_per_block = 100'000;
    p.metering_version = 1;
    p.worker_reputation_threshold = 50'000;
    p.untrusted_reward_cap = Amount(100);
    p.worker_reputation_gain = 20'000;
    p.worker_reputation_loss = 200'000;
    if (tweak) tweak(p);
    chain = Chain::open(*store, net.genesis, app).value();
    for (const auto& k : net.users) keys.emplace(k.public_key(), k);
  }

  const SecretKey& user(std::size_t i) const { return net.users[i]; }
  const SecretKey& worker(std::size_t i) const { return net.users[3 + i]; }
  const SecretKey& key_of(const PublicKey& k) const { return keys.at(k); }
  const ProtocolParams& params() const { return net.genesis.params; }

  void produce(std::vector<Transaction> txs) {
    auto b = produce_block(*chain, net, std::move(txs));
    BOOST_REQUIRE_MESSAGE(b.ok(), (b.ok() ? "" : b.error().to_string()));
    auto supply = check_supply(chain->state(), net.genesis, known_accounts(net));
    BOOST_REQUIRE_MESSAGE(supply.empty(), "height " << chain->tip().height << ": " << supply);
  }
  void step(int blocks) {
    for (int i = 0; i < blocks; ++i) produce({});
  }
  std::uint64_t height() const { return chain->tip().height; }
  void step_to(std::uint64_t h) {
    while (height() < h) produce({});
  }

  Transaction tx(const SecretKey& from, Payload p, std::uint64_t nonce_offset = 0) {
    Transaction t;
    t.chain_id = net.genesis.chain_id;
    t.nonce = load_account(chain->state(), from.public_key())->nonce + nonce_offset;
    t.fee = Amount(1);
    t.payload = std::move(p);
    t.sign(from);
    return t;
  }
  Receipt receipt(const Transaction& t) { return chain->transaction(t.id())->value().receipt; }
  std::string reason(const SecretKey& from, Payload p) {
    Transaction t = tx(from, std::move(p));
    produce({t});
    Receipt r = receipt(t);
    return r.ok ? "ok" : r.reason;
  }
  // Runs the transactions in one block; returns their reasons.
  std::vector<std::string> reasons(std::vector<Transaction> txs) {
    produce(txs);
    std::vector<std::string> out;
    for (const auto& t : txs) {
      Receipt r = receipt(t);
      out.push_back(r.ok ? "ok" : r.reason);
    }
    return out;
  }

  Amount balance(const PublicKey& k) { return load_account(chain->state(), k)->balance; }
  WorkerRecord worker_record(const PublicKey& k) { return load_worker(chain->state(), k).value().value(); }
  TaskRecord task(std::uint64_t id) { return load_task(chain->state(), id).value().value(); }
  std::uint64_t last_task() { return next_task_id(chain->state()).value() - 1; }

  void register_workers(std::size_t n, std::uint64_t stake = 10'000) {
    std::vector<Transaction> txs;
    for (std::size_t i = 0; i < n; ++i) txs.push_back(tx(worker(i), RegisterWorker{Amount(stake)}));
    for (const auto& r : reasons(txs)) BOOST_REQUIRE_EQUAL(r, "ok");
  }

  SubmitTask task_payload(std::uint64_t replicas = 3, std::uint64_t reward = 50, std::uint64_t commit = 5,
                          std::uint64_t reveal = 5) {
    return SubmitTask{ModuleBytes{kModule}, Hash256{}, TaskBytes{{'3', ' ', '1', ' ', '2'}}, replicas, Amount(reward),
                      10'000, commit, reveal};
  }
  // Submits a task from user 0 in its own block; returns its id.
  std::uint64_t submit(SubmitTask p, std::size_t from = 0) {
    BOOST_REQUIRE_EQUAL(reason(user(from), std::move(p)), "ok");
    return last_task();
  }
  // Submits `p` and steps a block: the first round is drawn at its start.
  std::uint64_t submit_and_step(SubmitTask p) {
    const std::uint64_t id = submit(std::move(p));
    step(1);
    return id;
  }
  std::vector<PublicKey> assigned(std::uint64_t id) {
    std::vector<PublicKey> out;
    auto t = task(id);
    if (t.round)
      for (const auto& a : t.round->assignments) out.push_back(a.worker);
    return out;
  }

  Hash256 salt(const PublicKey& w, std::uint64_t id) { return sha256(as_bytes("salt-" + w.hex() + std::to_string(id))); }
  Transaction commit_tx(const PublicKey& w, std::uint64_t id, const Outcome& o) {
    return tx(key_of(w), CommitResult{id, task_commitment(net.genesis.chain_id, id, o.hash(), salt(w, id), w)});
  }
  Transaction reveal_tx(const PublicKey& w, std::uint64_t id, const Outcome& o) {
    Bytes out(o.output.begin(), o.output.end());
    return tx(key_of(w), RevealResult{id, o.outcome, o.exit_code, o.fuel_used, TaskBytes{out}, salt(w, id)});
  }
  // Every assigned worker commits in one block and reveals in the next,
  // each with the result `answer` gives it.
  void answer_all(std::uint64_t id, const std::function<Outcome(std::size_t, const PublicKey&)>& answer) {
    auto ws = assigned(id);
    std::vector<Transaction> commits, reveals;
    for (std::size_t i = 0; i < ws.size(); ++i) commits.push_back(commit_tx(ws[i], id, answer(i, ws[i])));
    for (const auto& r : reasons(commits)) BOOST_REQUIRE_EQUAL(r, "ok");
    for (std::size_t i = 0; i < ws.size(); ++i) reveals.push_back(reveal_tx(ws[i], id, answer(i, ws[i])));
    for (const auto& r : reasons(reveals)) BOOST_REQUIRE_EQUAL(r, "ok");
  }
  std::vector<Event> hook_events() { return task_block_events(chain->state(), height()).value(); }
  bool hook_event(const std::string& kind) {
    for (const auto& e : hook_events())
      if (e.kind == kind) return true;
    return false;
  }
  // Attribute `name` of this block's first hook event of `kind` ("" if none).
  std::string hook_attr(const std::string& kind, const std::string& name) {
    for (const auto& e : hook_events())
      if (e.kind == kind)
        for (const auto& [k, v] : e.attributes)
          if (k == name) return v;
    return "";
  }
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(register_unregister_withdraw_worker, TaskFixture) {
  const SecretKey& w = worker(0);
  BOOST_TEST(reason(w, RegisterWorker{Amount(0)}) == "zero-amount");
  BOOST_TEST(reason(w, RegisterWorker{Amount(999)}) == "stake-too-low");
  BOOST_TEST(reason(w, RegisterWorker{Amount(2'000'000'000)}) == "insufficient-funds");
  BOOST_TEST(reason(w, UnregisterWorker{}) == "not-a-worker");
  Amount before = balance(w.public_key());
  BOOST_TEST(reason(w, RegisterWorker{Amount(1000)}) == "ok");
  BOOST_TEST(reason(w, RegisterWorker{Amount(1)}) == "ok");  // a second call adds, any amount
  auto rec = worker_record(w.public_key());
  BOOST_TEST(rec.stake.units() == 1001u);
  BOOST_TEST(rec.active);
  BOOST_TEST(balance(w.public_key()).units() == before.units() - 1001 - 2);
  BOOST_TEST(worker_keys(chain->state())->size() == 1u);

  BOOST_TEST(reason(w, Withdraw{}) == "nothing-to-withdraw");
  BOOST_TEST(reason(w, UnregisterWorker{}) == "ok");
  const std::uint64_t until = height() + 20;
  rec = worker_record(w.public_key());
  BOOST_TEST(!rec.active);
  BOOST_TEST(rec.stake.is_zero());
  BOOST_TEST(rec.unbonding.units() == 1001u);
  BOOST_TEST(rec.unbonding_until == until);
  BOOST_TEST(reason(w, UnregisterWorker{}) == "worker-inactive");
  BOOST_TEST(reason(w, Withdraw{}) == "nothing-to-withdraw");  // not yet
  step_to(until - 1);
  Amount mid = balance(w.public_key());
  BOOST_TEST(reason(w, Withdraw{}) == "ok");  // block `until`
  BOOST_TEST(balance(w.public_key()).units() == mid.units() + 1001 - 1);
  BOOST_TEST(worker_record(w.public_key()).unbonding.is_zero());
  BOOST_TEST(reason(w, Withdraw{}) == "nothing-to-withdraw");
  // Back again: the minimum applies to the new stake.
  BOOST_TEST(reason(w, RegisterWorker{Amount(10)}) == "stake-too-low");
  BOOST_TEST(reason(w, RegisterWorker{Amount(1000)}) == "ok");
  BOOST_TEST(worker_record(w.public_key()).active);
}

BOOST_FIXTURE_TEST_CASE(withdraw_pays_delegation_and_worker_stake_together, TaskFixture) {
  const SecretKey& w = worker(0);
  BOOST_TEST(reason(w, RegisterWorker{Amount(1000)}) == "ok");
  BOOST_TEST(reason(w, Delegate{net.validators[0].public_key(), Amount(500)}) == "ok");
  BOOST_TEST(reason(w, UnregisterWorker{}) == "ok");
  BOOST_TEST(reason(w, Undelegate{net.validators[0].public_key(), Amount(500)}) == "ok");
  step(25);
  Amount before = balance(w.public_key());
  BOOST_TEST(reason(w, Withdraw{}) == "ok");
  BOOST_TEST(balance(w.public_key()).units() == before.units() + 1500 - 1);
}

BOOST_FIXTURE_TEST_CASE(submit_task_rules_and_escrow, TaskFixture) {
  const SecretKey& u = user(0);
  auto p = task_payload();
  auto both = p;
  both.module_hash = sha256(kModule);
  BOOST_TEST(reason(u, both) == "module-and-hash");
  auto neither = p;
  neither.module.bytes.clear();
  BOOST_TEST(reason(u, neither) == "missing-module");
  auto unknown = neither;
  unknown.module_hash = sha256(kModule);
  BOOST_TEST(reason(u, unknown) == "unknown-module");
  auto many = p;
  many.replicas = 6;
  BOOST_TEST(reason(u, many) == "bad-replicas");
  auto free = p;
  free.reward = Amount(0);
  BOOST_TEST(reason(u, free) == "zero-amount");
  auto nofuel = p;
  nofuel.fuel = 0;
  BOOST_TEST(reason(u, nofuel) == "bad-fuel");
  BOOST_TEST(check_task_terms(params(), nofuel).error().detail == "fuel 0: a task needs at least 1");
  nofuel.fuel = 1'000'001;
  nofuel.commit_blocks = 15;  // long enough: the limit hit is max_task_fuel
  BOOST_TEST(reason(u, nofuel) == "bad-fuel");
  // The detail names the limit and its value.
  BOOST_TEST(check_task_terms(params(), nofuel).error().detail == "fuel 1000001 exceeds max_task_fuel 1000000");
  nofuel.fuel = 1'000'000;  // exactly the maximum: ok
  BOOST_TEST(check_task_terms(params(), nofuel).ok());
  auto late = p;
  late.commit_blocks = 0;
  BOOST_TEST(reason(u, late) == "bad-deadlines");
  late.commit_blocks = 10;
  late.reveal_blocks = 11;
  BOOST_TEST(reason(u, late) == "bad-deadlines");
  BOOST_TEST(check_task_terms(params(), late).error().detail ==
             "commit_blocks 10 + reveal_blocks 11 exceed max_task_blocks 20");
  auto rich = p;
  rich.reward = Amount(400'000'000);
  BOOST_TEST(reason(u, rich) == "insufficient-funds");
  auto overflow = p;
  overflow.reward = Amount(UINT64_MAX / 2);
  BOOST_TEST(reason(u, overflow) == "amount-overflow");
  BOOST_TEST(!load_module(chain->state(), sha256(kModule))->has_value());  // failed submissions store nothing

  Amount before = balance(u.public_key());
  auto defaults = p;
  defaults.replicas = 0;  // params.task_replication
  std::uint64_t id = submit(defaults);
  BOOST_TEST(id == 1u);
  BOOST_TEST(balance(u.public_key()).units() == before.units() - 3 * 50 - 1);
  auto t = task(id);
  BOOST_TEST(t.replicas == 3u);
  BOOST_TEST(t.module_hash == sha256(kModule));
  BOOST_TEST(t.metering_version == 1u);
  BOOST_TEST(t.status == TaskStatus::open);
  BOOST_REQUIRE(t.round.has_value());
  BOOST_TEST(t.round->escrow.units() == 150u);
  BOOST_TEST(t.round->assigned_height == 0u);
  BOOST_TEST(load_module(chain->state(), sha256(kModule))->value() == kModule);

  // By hash: the stored module is reused. Ids are sequential.
  std::uint64_t id2 = submit(unknown);
  BOOST_TEST(id2 == 2u);
  BOOST_TEST(task(id2).module_hash == sha256(kModule));
  auto listed = list_tasks(chain->state(), 0, 10).value();
  BOOST_REQUIRE_EQUAL(listed.size(), 2u);
  BOOST_TEST(listed[0].id == 2u);
  BOOST_TEST(list_tasks(chain->state(), 2, 10)->size() == 1u);
  BOOST_TEST(list_tasks(chain->state(), 0, 1)->size() == 1u);
}

BOOST_FIXTURE_TEST_CASE(listing_the_tasks_in_progress, TaskFixture) {
  register_workers(3);
  std::uint64_t a = submit(task_payload(3, 50)), b = submit(task_payload(3, 50)), c = submit(task_payload(3, 50));
  auto ids = [&](std::uint64_t before, std::size_t limit) {
    std::vector<std::uint64_t> out;
    auto listed = list_tasks(chain->state(), before, limit, true);  // kept: a range-for over .value() would dangle
    for (const auto& t : listed.value()) out.push_back(t.id);
    return out;
  };
  // Waiting for workers or assigned: all three, newest first; pages by `before` and `limit`.
  BOOST_TEST(ids(0, 10) == (std::vector<std::uint64_t>{c, b, a}));
  BOOST_TEST(ids(c, 10) == (std::vector<std::uint64_t>{b, a}));
  BOOST_TEST(ids(0, 2) == (std::vector<std::uint64_t>{c, b}));
  step(1);  // assigned
  BOOST_TEST(ids(0, 10) == (std::vector<std::uint64_t>{c, b, a}));
  answer_all(b, [](std::size_t, const PublicKey&) { return kHonest; });
  BOOST_REQUIRE(task(b).status == TaskStatus::settled);
  BOOST_TEST(ids(0, 10) == (std::vector<std::uint64_t>{c, a}));
  BOOST_TEST(list_tasks(chain->state(), 0, 10)->size() == 3u);  // the plain listing keeps every task
}

BOOST_FIXTURE_TEST_CASE(assignment_in_the_next_block_to_distinct_workers, TaskFixture) {
  register_workers(5);
  // The submitter is a worker too: never assigned its own task.
  BOOST_TEST(reason(worker(0), RegisterWorker{Amount(1)}) == "ok");
  auto p = task_payload(4);
  BOOST_TEST(reason(worker(0), p) == "ok");
  std::uint64_t id = last_task();
  BOOST_TEST(assigned(id).empty());  // the block that holds it does not assign it
  step(1);
  auto ws = assigned(id);
  BOOST_REQUIRE_EQUAL(ws.size(), 4u);
  BOOST_TEST(std::set<PublicKey>(ws.begin(), ws.end()).size() == 4u);
  BOOST_TEST((std::find(ws.begin(), ws.end(), worker(0).public_key()) == ws.end()));
  auto t = task(id);
  BOOST_TEST(t.round->assigned_height == height());
  BOOST_TEST(t.round->commit_deadline == height() + 5);
  BOOST_TEST(t.round->reveal_deadline == height() + 10);
  BOOST_TEST(t.served.size() == 4u);
  int assigned_events = 0;
  for (const auto& e : hook_events()) assigned_events += e.kind == "task_assigned";
  BOOST_TEST(assigned_events == 4);
  step(1);
  BOOST_TEST(hook_events().empty());  // the events belong to their block
}

BOOST_FIXTURE_TEST_CASE(a_task_waits_for_workers_then_fails_with_a_refund, TaskFixture) {
  register_workers(2);
  Amount before = balance(user(0).public_key());
  std::uint64_t id = submit(task_payload(3, 50, 3, 3));
  step(2);
  BOOST_TEST(assigned(id).empty());  // only 2 of 3
  register_workers(3);               // workers 0..2: 0 and 1 add stake, 2 is new
  BOOST_TEST(assigned(id).empty());  // this block's start saw two
  step(1);
  BOOST_TEST(assigned(id).size() == 3u);

  std::uint64_t id2 = submit(task_payload(5, 50, 3, 3));  // 5 replicas, 3 workers
  const std::uint64_t submitted = height();
  step_to(submitted + 5);
  BOOST_TEST(task(id2).status == TaskStatus::open);
  step(1);  // waited commit + reveal blocks: refunded
  auto t = task(id2);
  BOOST_TEST(t.status == TaskStatus::failed);
  BOOST_TEST(t.failure == "no-workers");
  BOOST_TEST(!t.round.has_value());
  BOOST_TEST(hook_event("task_failed"));
  BOOST_TEST(balance(user(0).public_key()).units() == before.units() - 150 - 2);  // task 1's escrow, two fees
}

BOOST_AUTO_TEST_CASE(the_draw_is_deterministic_and_weighted_by_stake) {
  std::vector<Candidate> c;
  for (int i = 0; i < 4; ++i)
    c.push_back({SecretKey::derive_insecure("w" + std::to_string(i)).public_key(), static_cast<unsigned __int128>(i + 1)});
  std::sort(c.begin(), c.end(), [](const Candidate& a, const Candidate& b) { return a.key < b.key; });
  Hash256 seed = assignment_seed(sha256(as_bytes("cert")), 7, 0);
  BOOST_TEST((draw_workers(seed, c, 3) == draw_workers(seed, c, 3)));
  BOOST_TEST(draw_workers(seed, c, 3).size() == 3u);
  BOOST_TEST(draw_workers(seed, c, 9).size() == 4u);  // no more than there are
  BOOST_TEST((assignment_seed(sha256(as_bytes("cert")), 7, 0) != assignment_seed(sha256(as_bytes("cert")), 7, 1)));
  BOOST_TEST((assignment_seed(sha256(as_bytes("cert")), 7, 0) != assignment_seed(sha256(as_bytes("cert")), 8, 0)));
  auto zero = c;
  zero[0].weight = 0;
  for (int i = 0; i < 50; ++i) {
    auto picked = draw_workers(assignment_seed(sha256(as_bytes("x")), static_cast<std::uint64_t>(i), 0), zero, 4);
    BOOST_TEST(picked.size() == 3u);  // weight 0 is never drawn
    BOOST_TEST((std::find(picked.begin(), picked.end(), zero[0].key) == picked.end()));
  }
  // The first pick follows the weights: 1/10, 2/10, 3/10, 4/10.
  std::map<PublicKey, int> first;
  const int kSeeds = 20'000;
  for (int i = 0; i < kSeeds; ++i)
    first[draw_workers(assignment_seed(sha256(as_bytes("many")), static_cast<std::uint64_t>(i), 0), c, 1)[0]]++;
  unsigned __int128 total = 10;
  for (const auto& cand : c) {
    double expected = kSeeds * static_cast<double>(cand.weight) / static_cast<double>(total);
    BOOST_TEST_CONTEXT("weight " << static_cast<int>(cand.weight)) {
      BOOST_TEST(std::abs(first[cand.key] - expected) < 0.1 * expected);
    }
  }
}

BOOST_AUTO_TEST_CASE(worker_weight_is_stake_times_one_plus_reputation) {
  WorkerRecord w;
  w.stake = Amount(1000);
  BOOST_TEST(static_cast<std::uint64_t>(worker_weight(w)) == 1000u * kReputationMax);
  w.reputation = kReputationMax;
  BOOST_TEST(static_cast<std::uint64_t>(worker_weight(w)) == 2000u * kReputationMax);
  w.stake = Amount(0);
  BOOST_TEST(static_cast<std::uint64_t>(worker_weight(w)) == 0u);
}

// A node that executes the same blocks assigns the same workers: the draw
// uses nothing but state and the block's last_commit.
BOOST_AUTO_TEST_CASE(a_replaying_node_assigns_the_same_workers) {
  TaskFixture a, b;
  a.register_workers(8);
  a.submit(a.task_payload(3));
  a.submit(a.task_payload(3));
  a.step(1);
  for (std::uint64_t h = 1; h <= a.height(); ++h) {
    auto block = a.chain->block_at(h).value().value();
    auto cert = a.chain->certificate_at(h).value().value();
    BOOST_REQUIRE(b.chain->execute(block).ok());
    BOOST_REQUIRE(b.chain->commit(block, cert).ok());
  }
  BOOST_TEST(a.assigned(1).size() == 3u);
  BOOST_TEST((a.assigned(1) == b.assigned(1)));
  BOOST_TEST((a.assigned(2) == b.assigned(2)));
  BOOST_TEST((a.chain->tip().state_root == b.chain->tip().state_root));
}

BOOST_FIXTURE_TEST_CASE(gradual_trust_keeps_new_workers_to_small_rewards, TaskFixture) {
  register_workers(3);
  std::uint64_t big = submit(task_payload(3, 100));  // at the cap: trusted workers only
  step(2);
  BOOST_TEST(assigned(big).empty());
  std::uint64_t small = submit_and_step(task_payload(3, 99));
  BOOST_TEST(assigned(small).size() == 3u);
  answer_all(small, [](std::size_t, const PublicKey&) { return kHonest; });
  BOOST_TEST(task(small).status == TaskStatus::settled);
  BOOST_TEST(worker_record(worker(0).public_key()).reputation == 20'000u);
  // Two more small tasks lift every worker over the threshold (60,000 >= 50,000).
  for (int i = 0; i < 2; ++i) {
    std::uint64_t id = submit(task_payload(3, 10));
    step(1);
    answer_all(id, [](std::size_t, const PublicKey&) { return kHonest; });
  }
  // The big task has waited all along, past its span: it failed in the meantime.
  BOOST_TEST(task(big).status == TaskStatus::failed);
  std::uint64_t big2 = submit_and_step(task_payload(3, 1000));
  BOOST_TEST(assigned(big2).size() == 3u);
}

BOOST_FIXTURE_TEST_CASE(commit_and_reveal_rules, TaskFixture) {
  register_workers(4);
  std::uint64_t waiting = submit(task_payload(5, 50, 3, 10));  // 5 replicas, 4 workers: waits
  std::uint64_t id = submit(task_payload(3, 50, 8, 10));
  BOOST_TEST(reason(worker(0), CommitResult{waiting, Hash256{}}) == "task-not-running");
  auto ws = assigned(id);
  BOOST_REQUIRE_EQUAL(ws.size(), 3u);
  PublicKey outsider;
  for (std::size_t i = 0; i < 4; ++i)
    if (std::find(ws.begin(), ws.end(), worker(i).public_key()) == ws.end()) outsider = worker(i).public_key();
  BOOST_TEST(reason(key_of(outsider), CommitResult{id, Hash256{}}) == "not-assigned");
  BOOST_TEST(reason(key_of(ws[0]), CommitResult{99, Hash256{}}) == "unknown-task");
  BOOST_TEST(reason(key_of(ws[0]), RevealResult{id, 0, 0, 100, TaskBytes{}, Hash256{}}) == "not-committed");
  auto c0 = commit_tx(ws[0], id, kHonest);
  produce({c0});
  BOOST_TEST(receipt(c0).ok);
  BOOST_TEST(reason(key_of(ws[0]), CommitResult{id, Hash256{}}) == "already-committed");
  // Before every commitment is in and before the deadline, reveals wait.
  BOOST_TEST(reason(key_of(ws[0]), RevealResult{id, 0, 0, 100, TaskBytes{{'4', '2', '\n'}}, salt(ws[0], id)}) ==
             "reveal-too-early");
  const auto deadline = task(id).round->commit_deadline;
  step_to(deadline);
  BOOST_TEST(reason(key_of(ws[1]), CommitResult{id, Hash256{}}) == "commit-closed");
  // Past the commit deadline the reveal opens; a wrong opening is refused.
  auto wrong = reveal_tx(ws[0], id, kLie);
  produce({wrong});
  BOOST_TEST(receipt(wrong).reason == "commitment-mismatch");
  auto bad_salt = tx(key_of(ws[0]), RevealResult{id, 0, 0, 100, TaskBytes{{'4', '2', '\n'}}, Hash256{}});
  produce({bad_salt});
  BOOST_TEST(receipt(bad_salt).reason == "commitment-mismatch");
  BOOST_TEST(task(id).round->kind == RoundKind::first);  // still collecting
  // The only committed worker reveals: the round is complete and settles
  // at once, but one vote of three is no majority: a retry is dispatched.
  auto right = reveal_tx(ws[0], id, kHonest);
  produce({right});
  BOOST_TEST(receipt(right).ok);
  auto t = task(id);
  BOOST_TEST(t.status == TaskStatus::open);
  BOOST_REQUIRE(t.round.has_value());
  BOOST_TEST(t.round->kind == RoundKind::retry);
  BOOST_TEST(reason(key_of(ws[0]), RevealResult{id, 0, 0, 100, TaskBytes{{'4', '2', '\n'}}, salt(ws[0], id)}) ==
             "task-not-running");  // the retry waits for fresh workers
  // The two that never committed lost reputation; nobody was slashed.
  BOOST_TEST(worker_record(ws[1]).missed == 1u);
  BOOST_TEST(worker_record(ws[2]).missed == 1u);
  BOOST_TEST(worker_record(ws[0]).missed == 0u);
  BOOST_TEST(worker_record(ws[0]).stake.units() == 10'000u);
}

BOOST_FIXTURE_TEST_CASE(a_reveal_after_settlement_is_refused, TaskFixture) {
  register_workers(3);
  std::uint64_t id = submit_and_step(task_payload(3, 50, 3, 2));
  auto ws = assigned(id);
  std::vector<Transaction> commits;
  for (const auto& w : ws) commits.push_back(commit_tx(w, id, kHonest));
  produce(commits);
  auto r0 = reveal_tx(ws[0], id, kHonest);
  produce({r0});
  BOOST_TEST(receipt(r0).ok);
  auto again = reveal_tx(ws[0], id, kHonest);
  produce({again});
  BOOST_TEST(receipt(again).reason == "already-revealed");
  step_to(task(id).round->reveal_deadline);  // the round settles at the end of its deadline block
  // One reveal of three is no majority; the retry has no fresh worker to wait for.
  auto t = task(id);
  BOOST_REQUIRE(t.round.has_value());
  BOOST_TEST(t.round->kind == RoundKind::retry);
  BOOST_TEST(reason(key_of(ws[1]), RevealResult{id, 0, 0, 100, TaskBytes{}, Hash256{}}) == "task-not-running");
}

BOOST_FIXTURE_TEST_CASE(honest_majority_is_paid_after_the_lock_and_the_liar_is_slashed, TaskFixture) {
  register_workers(3);
  Amount submitter_before = balance(user(0).public_key());
  std::uint64_t id = submit_and_step(task_payload(3, 50));
  auto ws = assigned(id);
  BOOST_REQUIRE_EQUAL(ws.size(), 3u);
  const PublicKey liar = ws[2];
  answer_all(id, [&](std::size_t, const PublicKey& w) { return w == liar ? kLie : kHonest; });
  // All revealed: settled at the end of the block of the last reveal.
  auto t = task(id);
  BOOST_TEST(t.status == TaskStatus::settled);
  BOOST_TEST(!t.round.has_value());
  BOOST_TEST(t.result_hash == kHonest.hash());
  BOOST_TEST(std::string(t.output.begin(), t.output.end()) == "42\n");
  BOOST_TEST(t.fuel_used == 100u);
  BOOST_TEST(t.majority.size() == 2u);
  BOOST_TEST(t.vest_height == height() + 30);
  BOOST_TEST(hook_event("task_settled"));
  BOOST_TEST(hook_event("worker_slashed"));
  for (const auto& e : hook_events()) {
    if (e.kind != "task_settled") continue;
    std::map<std::string, std::string> attrs(e.attributes.begin(), e.attributes.end());
    BOOST_TEST(attrs["task"] == std::to_string(id));
    BOOST_TEST(attrs["result_hash"] == kHonest.hash().hex());
    BOOST_TEST(attrs["agreeing"] == "2");
    BOOST_TEST(attrs["refund"] == "50");
  }

  auto l = worker_record(liar);
  BOOST_TEST(l.stake.units() == 9000u);  // 10% of 10,000, burned
  BOOST_TEST(l.reputation == 0u);
  BOOST_TEST(l.outvoted == 1u);
  BOOST_TEST(supply_record(chain->state())->burned.units() == 1000u);
  for (std::size_t i = 0; i < 2; ++i) {
    auto h = worker_record(ws[i]);
    BOOST_TEST(h.reputation == 20'000u);
    BOOST_TEST(h.agreed == 1u);
    BOOST_TEST(h.stake.units() == 10'000u);
  }
  // The liar's share goes back to the submitter.
  BOOST_TEST(balance(user(0).public_key()).units() == submitter_before.units() - 150 - 1 + 50);

  // Honest workers claim after the lock, not before.
  const SecretKey& honest = key_of(ws[0]);
  BOOST_TEST(reason(honest, Claim{}) == "nothing-to-claim");
  BOOST_TEST(reason(key_of(liar), Claim{}) == "nothing-to-claim");
  step_to(t.vest_height - 1);
  Amount before = balance(ws[0]);
  BOOST_TEST(reason(honest, Claim{}) == "ok");
  BOOST_TEST(balance(ws[0]).units() == before.units() + 50 - 1);
}

BOOST_FIXTURE_TEST_CASE(an_unregistered_worker_still_answers_and_can_be_slashed, TaskFixture) {
  register_workers(3);
  std::uint64_t id = submit_and_step(task_payload(3, 50));
  auto ws = assigned(id);
  const PublicKey liar = ws[0];
  BOOST_TEST(reason(key_of(liar), UnregisterWorker{}) == "ok");  // too late to escape
  answer_all(id, [&](std::size_t, const PublicKey& w) { return w == liar ? kLie : kHonest; });
  auto l = worker_record(liar);
  BOOST_TEST(l.stake.is_zero());
  BOOST_TEST(l.unbonding.units() == 9000u);  // 10% of the unbonding stake
  BOOST_TEST(task(id).status == TaskStatus::settled);
  // No longer drawn: the next task waits for a third worker.
  std::uint64_t next = submit_and_step(task_payload(3, 50));
  BOOST_TEST(assigned(next).empty());
}

BOOST_FIXTURE_TEST_CASE(worker_reputation_decays_every_epoch, TaskFixture) {
  register_workers(3);
  std::uint64_t id = submit_and_step(task_payload(3, 10));
  answer_all(id, [](std::size_t, const PublicKey&) { return kHonest; });
  BOOST_TEST(worker_record(worker(0).public_key()).reputation == 20'000u);
  step_to(1000);  // the epoch boundary (epoch_blocks 1000): 10% off
  BOOST_TEST(worker_record(worker(0).public_key()).reputation == 18'000u);
}

BOOST_FIXTURE_TEST_CASE(no_shows_lose_reputation_and_their_share_is_refunded, TaskFixture) {
  register_workers(3);
  Amount before = balance(user(0).public_key());
  std::uint64_t id = submit_and_step(task_payload(3, 50, 3, 3));
  auto ws = assigned(id);
  // ws[2] never answers; ws[0] and ws[1] agree.
  produce({commit_tx(ws[0], id, kHonest), commit_tx(ws[1], id, kHonest)});
  step_to(task(id).round->commit_deadline);
  produce({reveal_tx(ws[0], id, kHonest), reveal_tx(ws[1], id, kHonest)});
  auto t = task(id);
  BOOST_TEST(t.status == TaskStatus::settled);  // every committed worker revealed, commit window over
  auto gone = worker_record(ws[2]);
  BOOST_TEST(gone.missed == 1u);
  BOOST_TEST(gone.stake.units() == 10'000u);  // not slashed: it did not lie
  BOOST_TEST(balance(user(0).public_key()).units() == before.units() - 150 - 1 + 50);
}

BOOST_FIXTURE_TEST_CASE(no_majority_is_retried_on_fresh_workers_then_refunded, TaskFixture) {
  register_workers(6);
  Amount before = balance(user(0).public_key());
  std::uint64_t id = submit_and_step(task_payload(3, 50));
  auto first = assigned(id);
  auto distinct = [](std::size_t i, const PublicKey&) {
    Outcome o = kHonest;
    o.output = "answer " + std::to_string(i);
    return o;
  };
  answer_all(id, distinct);
  auto t = task(id);
  BOOST_TEST(t.status == TaskStatus::open);
  BOOST_REQUIRE(t.round.has_value());
  BOOST_TEST(t.round->kind == RoundKind::retry);
  BOOST_TEST(t.round->escrow.units() == 150u);
  BOOST_TEST(hook_event("task_retry"));
  BOOST_TEST(hook_attr("task_retry", "reason") == "no-majority");  // every worker committed and revealed
  BOOST_TEST(hook_attr("task_retry", "committed") == "3");
  BOOST_TEST(t.retry_reason == "no-majority");
  for (const auto& w : first) BOOST_TEST(worker_record(w).stake.units() == 10'000u);  // nobody slashed
  step(1);
  auto second = assigned(id);
  BOOST_REQUIRE_EQUAL(second.size(), 3u);
  for (const auto& w : second) BOOST_TEST((std::find(first.begin(), first.end(), w) == first.end()));
  answer_all(id, distinct);
  t = task(id);
  BOOST_TEST(t.status == TaskStatus::failed);
  BOOST_TEST(t.failure == "no-majority");
  BOOST_TEST(hook_event("task_failed"));
  BOOST_TEST(hook_attr("task_failed", "reason") == "no-majority");
  BOOST_TEST(balance(user(0).public_key()).units() == before.units() - 1);  // all of the escrow back
}

BOOST_FIXTURE_TEST_CASE(a_round_nobody_committed_to_is_named_no_commitments, TaskFixture) {
  register_workers(6);
  Amount before = balance(user(0).public_key());
  std::uint64_t id = submit_and_step(task_payload(3, 50));
  auto first = assigned(id);
  BOOST_REQUIRE_EQUAL(first.size(), 3u);
  // Nobody commits (say, every worker ran out of time): settled at the commit deadline.
  const std::uint64_t commit_deadline = task(id).round->commit_deadline;
  step_to(commit_deadline - 1);
  BOOST_TEST(task(id).round->kind == RoundKind::first);
  step(1);
  auto t = task(id);
  BOOST_TEST(t.status == TaskStatus::open);
  BOOST_REQUIRE(t.round.has_value());
  BOOST_TEST(t.round->kind == RoundKind::retry);
  BOOST_TEST(t.retry_reason == "no-commitments");  // not no-majority: nobody committed
  BOOST_TEST(hook_attr("task_retry", "reason") == "no-commitments");
  BOOST_TEST(hook_attr("task_retry", "committed") == "0");
  for (const auto& w : first) BOOST_TEST(worker_record(w).missed == 1u);
  // The retry: one worker commits and never reveals. There were commitments,
  // so the failure is no-majority.
  step(1);
  auto second = assigned(id);
  BOOST_REQUIRE_EQUAL(second.size(), 3u);
  produce({commit_tx(second[0], id, kHonest)});
  step_to(task(id).round->reveal_deadline);
  t = task(id);
  BOOST_TEST(t.status == TaskStatus::failed);
  BOOST_TEST(t.failure == "no-majority");
  BOOST_TEST(t.retry_reason == "no-commitments");  // kept: what happened to the first round
  BOOST_TEST(hook_attr("task_failed", "reason") == "no-majority");
  BOOST_TEST(balance(user(0).public_key()).units() == before.units() - 1);  // all of the escrow back
}

BOOST_FIXTURE_TEST_CASE(a_retry_nobody_committed_to_fails_with_no_commitments, TaskFixture) {
  register_workers(6);
  std::uint64_t id = submit_and_step(task_payload(3, 50));
  auto first = assigned(id);
  answer_all(id, [](std::size_t i, const PublicKey&) {
    Outcome o = kHonest;
    o.output = "answer " + std::to_string(i);
    return o;
  });
  BOOST_REQUIRE(task(id).round.has_value());
  BOOST_TEST(task(id).retry_reason == "no-majority");
  step(1);
  BOOST_REQUIRE_EQUAL(assigned(id).size(), 3u);
  step_to(task(id).round->commit_deadline);
  auto t = task(id);
  BOOST_TEST(t.status == TaskStatus::failed);
  BOOST_TEST(t.failure == "no-commitments");
  BOOST_TEST(hook_attr("task_failed", "reason") == "no-commitments");
}

BOOST_FIXTURE_TEST_CASE(the_commit_window_must_fit_the_fuel_at_the_reference_speed, TaskFixture) {
  // 100,000 fuel per block and a margin of 2: ceil(fuel / 100,000) + 2 blocks.
  const SecretKey& u = user(0);
  auto p = task_payload();
  p.reveal_blocks = 2;
  struct Case {
    std::uint64_t fuel, enough;
  };
  for (Case c : {Case{1, 3}, Case{100'000, 3}, Case{100'001, 4}, Case{250'000, 5}, Case{1'000'000, 12}}) {
    p.fuel = c.fuel;
    p.commit_blocks = c.enough - 1;  // one block short
    BOOST_TEST(reason(u, p) == "bad-deadlines", "fuel " << c.fuel);
    auto e = check_task_terms(params(), p).error();
    BOOST_TEST(e.reason == "bad-deadlines");
    const std::string want = "commit_blocks " + std::to_string(c.enough - 1) + " is too short for fuel " +
                             std::to_string(c.fuel) + " at 100000 per block; at least " + std::to_string(c.enough);
    BOOST_TEST(e.detail.rfind(want, 0) == 0u, e.detail << " should start with " << want);
    p.commit_blocks = c.enough;  // exactly enough
    BOOST_TEST(check_task_terms(params(), p).ok(), "fuel " << c.fuel);
    BOOST_TEST(reason(u, p) == "ok", "fuel " << c.fuel);
    BOOST_TEST(task(last_task()).commit_blocks == c.enough);
  }
  // A failed submission changed nothing but the fee.
  BOOST_TEST(last_task() == 5u);
}

BOOST_AUTO_TEST_CASE(the_metering_version_in_force_is_recorded) {
  TaskFixture f(12, [](ProtocolParams& p) { p.metering_version = 7; });
  Transaction t = f.tx(f.user(0), f.task_payload());
  f.produce({t});
  Receipt r = f.receipt(t);
  BOOST_REQUIRE(r.ok);
  BOOST_TEST(f.task(f.last_task()).metering_version == 7u);
  std::string attr;
  for (const auto& e : r.events)
    if (e.kind == "task_submitted")
      for (const auto& [k, v] : e.attributes)
        if (k == "metering_version") attr = v;
  BOOST_TEST(attr == "7");
}

BOOST_FIXTURE_TEST_CASE(audit_claws_back_a_colluding_majority, TaskFixture) {
  register_workers(6);
  std::uint64_t id = submit_and_step(task_payload(3, 50));
  auto first = assigned(id);
  const PublicKey honest_one = first[2];
  // Two colluders outvote the honest worker.
  answer_all(id, [&](std::size_t, const PublicKey& w) { return w == honest_one ? kHonest : kLie; });
  auto t = task(id);
  BOOST_TEST(t.status == TaskStatus::settled);
  BOOST_TEST(t.result_hash == kLie.hash());
  BOOST_TEST(worker_record(honest_one).stake.units() == 9000u);  // outvoted, slashed

  BOOST_TEST(reason(user(1), RequestAudit{99}) == "unknown-task");
  BOOST_TEST(list_tasks(chain->state(), 0, 10, true)->empty());  // settled: no round in progress
  Amount auditor_before = balance(user(1).public_key());
  BOOST_TEST(reason(user(1), RequestAudit{id}) == "ok");
  // Under audit the task is settled and in progress: that is how workers find audits.
  BOOST_REQUIRE_EQUAL(list_tasks(chain->state(), 0, 10, true)->size(), 1u);
  BOOST_TEST(list_tasks(chain->state(), 0, 10, true)->at(0).id == id);
  BOOST_TEST(balance(user(1).public_key()).units() == auditor_before.units() - 150 - 1);
  BOOST_TEST(reason(user(2), RequestAudit{id}) == "audit-in-progress");
  auto audit = assigned(id);  // assigned at the start of the last block
  BOOST_REQUIRE_EQUAL(audit.size(), 3u);
  for (const auto& w : audit) BOOST_TEST((std::find(first.begin(), first.end(), w) == first.end()));
  BOOST_TEST(task(id).round->kind == RoundKind::audit);
  answer_all(id, [](std::size_t, const PublicKey&) { return kHonest; });

  t = task(id);
  BOOST_TEST(!t.round.has_value());
  BOOST_TEST(t.status == TaskStatus::settled);
  BOOST_TEST(t.result_hash == kHonest.hash());  // the audit's result replaces the lie
  BOOST_TEST(t.audits == 1u);
  BOOST_TEST(hook_event("task_audited"));
  for (const auto& w : first) {
    if (w == honest_one) continue;
    auto c = worker_record(w);
    BOOST_TEST(c.stake.units() == 9000u);  // slashed
    BOOST_TEST(c.outvoted == 1u);
    BOOST_TEST(reward_entries(chain->state(), w)->empty());  // clawed back
  }
  // The auditor paid 150 and got the clawed-back 100; the audit workers
  // earned 50 each, locked.
  BOOST_TEST(balance(user(1).public_key()).units() == auditor_before.units() - 150 - 1 + 100);
  for (const auto& w : audit) BOOST_TEST(reward_entries(chain->state(), w)->at(0).amount.units() == 50u);
  BOOST_TEST(t.majority.size() == 3u);
}

BOOST_FIXTURE_TEST_CASE(an_audit_that_agrees_pays_its_workers_and_changes_nothing, TaskFixture) {
  register_workers(6);
  std::uint64_t id = submit(task_payload(3, 50));
  BOOST_TEST(reason(user(1), RequestAudit{id}) == "task-not-settled");
  answer_all(id, [](std::size_t, const PublicKey&) { return kHonest; });
  auto settled = task(id);
  BOOST_REQUIRE(settled.status == TaskStatus::settled);
  Amount auditor_before = balance(user(1).public_key());
  BOOST_TEST(reason(user(1), RequestAudit{id}) == "ok");
  step(1);  // assigned
  answer_all(id, [](std::size_t, const PublicKey&) { return kHonest; });
  auto t = task(id);
  BOOST_TEST(t.result_hash == settled.result_hash);
  BOOST_TEST((t.majority == settled.majority));
  BOOST_TEST(t.audits == 1u);
  for (const auto& w : settled.majority) BOOST_TEST(reward_entries(chain->state(), w)->size() == 1u);
  BOOST_TEST(balance(user(1).public_key()).units() == auditor_before.units() - 150 - 1);
  // Fewer than 3 fresh workers remain: a second audit cannot be assigned and is refunded.
  Amount before2 = balance(user(2).public_key());
  BOOST_TEST(reason(user(2), RequestAudit{id}) == "ok");
  step(1);
  BOOST_TEST(!task(id).round.has_value());
  BOOST_TEST(balance(user(2).public_key()).units() == before2.units() - 1);
  // Late in the lock, no audit can settle in time.
  step_to(t.vest_height - 10);
  BOOST_TEST(reason(user(1), RequestAudit{id}) == "audit-window-closed");
}

BOOST_AUTO_TEST_CASE(result_hash_and_commitment_bind_every_field) {
  Hash256 base = task_result_hash(0, 0, 100, as_bytes("out"));
  BOOST_TEST((base != task_result_hash(1, 0, 100, as_bytes("out"))));
  BOOST_TEST((base != task_result_hash(0, 1, 100, as_bytes("out"))));
  BOOST_TEST((base != task_result_hash(0, 0, 101, as_bytes("out"))));
  BOOST_TEST((base != task_result_hash(0, 0, 100, as_bytes("out!"))));
  auto w = SecretKey::derive_insecure("w").public_key();
  auto v = SecretKey::derive_insecure("v").public_key();
  Hash256 salt = sha256(as_bytes("s"));
  Hash256 c = task_commitment("chain", 1, base, salt, w);
  BOOST_TEST((c != task_commitment("chain", 1, base, salt, v)));
  BOOST_TEST((c != task_commitment("chain", 2, base, salt, w)));
  BOOST_TEST((c != task_commitment("chain-2", 1, base, salt, w)));
  BOOST_TEST((c != task_commitment("chain", 1, base, sha256(as_bytes("t")), w)));
}

// A seeded random run of registrations, submissions, honest, lying and
// absent workers, audits, claims, unregistrations and withdrawals: the
// supply invariant holds after every block (produce() checks it).
BOOST_AUTO_TEST_CASE(random_task_runs_keep_supply_exact) {
  auto seed = test_seed();
  BOOST_TEST_MESSAGE("seed " << seed << " (replay with VERITY_SEED=" << seed << ")");
  std::mt19937_64 rng(seed);
  TaskFixture f(14);
  f.register_workers(8, 2000);
  std::map<std::string, int> outcomes;
  std::set<PublicKey> byzantine{f.worker(0).public_key(), f.worker(1).public_key()};
  for (int block = 0; block < 400; ++block) {
    std::vector<Transaction> txs;
    std::set<PublicKey> senders;  // one transaction per sender per block keeps nonces simple
    auto add = [&](const SecretKey& k, Payload p) {
      if (!senders.insert(k.public_key()).second) return;
      txs.push_back(f.tx(k, std::move(p)));
    };
    // Workers answer what they are assigned to.
    for (std::uint64_t id = 1; id < next_task_id(f.chain->state()).value(); ++id) {
      auto t = f.task(id);
      if (!t.round || t.round->assigned_height == 0) continue;
      for (const auto& a : t.round->assignments) {
        if (rng() % 10 == 0) continue;  // sometimes absent this block
        Outcome o = byzantine.count(a.worker) ? kLie : kHonest;
        if (!a.committed)
          add(f.key_of(a.worker), CommitResult{id, task_commitment(f.net.genesis.chain_id, id, o.hash(),
                                                                   f.salt(a.worker, id), a.worker)});
        else if (!a.revealed) {
          Bytes out(o.output.begin(), o.output.end());
          add(f.key_of(a.worker), RevealResult{id, o.outcome, o.exit_code, o.fuel_used, TaskBytes{out},
                                               f.salt(a.worker, id)});
        }
      }
    }
    int n = static_cast<int>(rng() % 4);
    for (int i = 0; i < n; ++i) {
      std::uint64_t pick = rng() % 100;
      const SecretKey& who = f.net.users[rng() % f.net.users.size()];
      if (pick < 40) {
        // Commit windows from the shortest the fuel allows (3 blocks) up.
        auto p = f.task_payload(1 + rng() % 4, 1 + rng() % 150, 3 + rng() % 5, 1 + rng() % 5);
        if (rng() % 2) {
          p.module.bytes.clear();
          p.module_hash = sha256(kModule);
        }
        add(who, p);
      } else if (pick < 55) {
        std::uint64_t next = next_task_id(f.chain->state()).value();
        if (next > 1) add(who, RequestAudit{1 + rng() % (next - 1)});
      } else if (pick < 70) {
        add(who, Claim{});
      } else if (pick < 80) {
        add(who, RegisterWorker{Amount(500 + rng() % 2000)});
      } else if (pick < 85) {
        add(who, UnregisterWorker{});
      } else if (pick < 95) {
        add(who, Withdraw{});
      } else {
        add(who, Transfer{f.net.users[rng() % f.net.users.size()].public_key(), Amount(rng() % 1000)});
      }
    }
    f.produce(txs);
    for (const auto& t : txs) {
      Receipt r = f.receipt(t);
      outcomes[std::string(payload_name(t.payload)) + ":" + (r.ok ? "ok" : r.reason)]++;
    }
  }
  std::map<std::string, int> statuses;
  for (std::uint64_t id = 1; id < next_task_id(f.chain->state()).value(); ++id) {
    auto t = f.task(id);
    statuses[task_status_name(t.status)]++;
    if (t.audits > 0) statuses["audited"]++;
    if (t.status == TaskStatus::settled && t.result_hash == kLie.hash()) statuses["settled on the lie"]++;
  }
  std::string summary;
  for (const auto& [k, v] : outcomes) summary += k + "=" + std::to_string(v) + " ";
  for (const auto& [k, v] : statuses) summary += "task " + k + "=" + std::to_string(v) + " ";
  BOOST_TEST_MESSAGE(summary);
  BOOST_TEST(statuses["settled"] > 10);
  BOOST_TEST(outcomes["reveal_result:ok"] > 50);
}

namespace {
// A meter as the node's would answer, without the sandbox: modules that
// start with "bad" are refused; others meter to sha256("m" || module).
struct StubMeter final : ModuleMeter {
  mutable int calls = 0;
  Result<Hash256> metered_hash(ByteView module, std::uint64_t version) const override {
    ++calls;
    if (version != 1) return make_error("unknown-metering-version", "only 1");
    if (module.size() >= 3 && module[0] == 'b' && module[1] == 'a' && module[2] == 'd')
      return make_error("forbidden-import", "wasi_snapshot_preview1.path_open");
    Bytes m{'m'};
    m.insert(m.end(), module.begin(), module.end());
    return sha256(m);
  }
};
}  // namespace

BOOST_AUTO_TEST_CASE(the_task_records_the_metered_hash_and_the_contract_refuses_bad_modules) {
  StubMeter meter;
  TaskFixture f(12, {}, &meter);
  f.register_workers(3);
  auto id = f.submit(f.task_payload());
  Bytes expected{'m'};
  expected.insert(expected.end(), kModule.begin(), kModule.end());
  BOOST_TEST((f.task(id).metered_hash == sha256(expected)));
  BOOST_TEST(f.task(id).metering_version == 1u);

  // By hash only, the stored module is metered again.
  SubmitTask by_hash = f.task_payload();
  by_hash.module = ModuleBytes{};
  by_hash.module_hash = sha256(kModule);
  auto again = f.submit(by_hash);
  BOOST_TEST((f.task(again).metered_hash == sha256(expected)));

  // A module no worker may run fails in the block: fee paid, no escrow, no task.
  SubmitTask bad = f.task_payload();
  bad.module = ModuleBytes{{'b', 'a', 'd', 0}};
  auto before = f.balance(f.user(0).public_key());
  auto last = f.last_task();
  Transaction t = f.tx(f.user(0), bad);
  f.produce({t});
  Receipt r = f.receipt(t);
  BOOST_TEST(!r.ok);
  BOOST_TEST(r.reason == "bad-module");
  BOOST_TEST(f.last_task() == last);
  BOOST_TEST((f.balance(f.user(0).public_key()) == before.checked_sub(Amount(1)).value()));
}

BOOST_AUTO_TEST_CASE(without_a_meter_the_metered_hash_stays_zero) {
  TaskFixture f;
  f.register_workers(3);
  auto id = f.submit(f.task_payload());
  BOOST_TEST((f.task(id).metered_hash == Hash256{}));
}

BOOST_AUTO_TEST_CASE(a_reveal_of_an_outcome_that_does_not_exist_fails) {
  TaskFixture f;
  f.register_workers(3);
  auto id = f.submit(f.task_payload());
  f.step(1);  // assignment happens at the start of the next block
  auto ws = f.assigned(id);
  BOOST_REQUIRE_EQUAL(ws.size(), 3u);
  Outcome engine_failed{7, 0, 100, ""};
  std::vector<Transaction> commits;
  for (std::size_t i = 0; i < ws.size(); ++i) commits.push_back(f.commit_tx(ws[i], id, i == 0 ? engine_failed : kHonest));
  for (const auto& r : f.reasons(commits)) BOOST_REQUIRE_EQUAL(r, "ok");
  BOOST_TEST(f.reason(f.key_of(ws[0]), f.reveal_tx(ws[0], id, engine_failed).payload) == "bad-outcome");
  BOOST_TEST(f.reason(f.key_of(ws[1]), f.reveal_tx(ws[1], id, kHonest).payload) == "ok");
}
