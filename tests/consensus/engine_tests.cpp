#define BOOST_TEST_MODULE engine_tests
#include <boost/test/unit_test.hpp>

#include "tests/consensus/simulation.h"

using namespace verity;
using namespace verity::consensus;
using verity::sim::SimApp;
using verity::sim::SimStore;

namespace {

const std::string kChain = "verity-sim-1";

// Four validators; the engine under test is `me`, the others are driven by
// hand through signed messages.
struct Fixture {
  std::vector<SecretKey> keys;
  ValidatorSet set;
  EngineConfig config;
  std::unique_ptr<SimApp> app;
  SimStore store;
  std::unique_ptr<Engine> engine;
  std::size_t me = 1;  // not the primary of view 0

  Fixture() {
    std::vector<Validator> vs;
    for (int i = 0; i < 4; ++i) keys.push_back(SecretKey::derive_insecure("engine-" + std::to_string(i)));
    std::sort(keys.begin(), keys.end(), [](const SecretKey& a, const SecretKey& b) { return a.public_key() < b.public_key(); });
    for (const auto& k : keys) vs.push_back({k.public_key(), 1});
    set = ValidatorSet::create(vs).value();
    config.chain_id = kChain;
    app = std::make_unique<SimApp>(kChain, set, keys[me].public_key());
    engine = std::make_unique<Engine>(config, keys[me], *app, store);
    engine->start();
  }

  // A proposal by validator i (the primary of view i) for the next height.
  Proposal proposal(std::size_t i, std::uint64_t view, std::uint64_t salt) {
    SimApp other(kChain, set, keys[i].public_key());
    for (const auto& d : app->chain()) BOOST_REQUIRE(other.commit(d.block, d.certificate).ok());
    Proposal p;
    p.block = other.make_block(app->committed_height() + 1, view, salt);
    p.vote.phase = VotePhase::propose;
    p.vote.height = p.block.header.height;
    p.vote.view = view;
    p.vote.block_hash = p.block.hash();
    p.vote.sign(kChain, keys[i]);
    return p;
  }
  Vote vote(std::size_t i, VotePhase phase, std::uint64_t height, std::uint64_t view, const Hash256& hash) {
    Vote v;
    v.phase = phase;
    v.height = height;
    v.view = view;
    v.block_hash = hash;
    v.sign(kChain, keys[i]);
    return v;
  }
  Output deliver(std::size_t from, const Message& m) {
    return engine->on_message(keys[from].public_key(), encode_message(m));
  }
  static std::vector<Message> sent(const Output& o) {
    std::vector<Message> out;
    for (const auto& m : o.messages) out.push_back(decode_message(m.bytes).value());
    return out;
  }
  static bool sent_vote(const Output& o, VotePhase phase, const Hash256& hash) {
    for (const auto& m : sent(o))
      if (auto* v = std::get_if<Vote>(&m); v && v->phase == phase && v->block_hash == hash) return true;
    return false;
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(messages_round_trip_and_reject_garbage) {
  Fixture f;
  Proposal p = f.proposal(0, 0, 1);
  Vote v = f.vote(0, VotePhase::prepare, 1, 0, p.vote.block_hash);
  ViewChange vc;
  vc.new_view = 1;
  vc.prepared = PreparedCertificate{p, {v}};
  vc.sign(kChain, f.keys[2]);
  NewView nv;
  nv.view = 1;
  nv.view_changes = {vc};
  nv.proposal = p;
  nv.sign(kChain, f.keys[1]);
  Checkpoint c;
  c.height = 10;
  c.sign(kChain, f.keys[3]);
  Decision d{p.block, CommitCertificate{1, 0, p.vote.block_hash, {}}};
  for (const Message& m : std::vector<Message>{p, v, vc, nv, c, d}) {
    auto back = decode_message(encode_message(m));
    BOOST_REQUIRE(back.ok());
    BOOST_TEST((*back == m));
  }
  BOOST_TEST(vc.verify(kChain));
  BOOST_TEST(nv.verify(kChain));
  BOOST_TEST(c.verify(kChain));
  BOOST_TEST(!c.verify("other-chain"));
  BOOST_TEST(decode_message(Bytes{99, 1, 2}).error().reason == "decode-unknown-message");
  Bytes trailing = encode_message(v);
  trailing.push_back(0);
  BOOST_TEST(decode_message(trailing).error().reason == "decode-trailing-bytes");
}

BOOST_FIXTURE_TEST_CASE(normal_case_commits_with_a_valid_certificate, Fixture) {
  Proposal p = proposal(0, 0, 1);
  auto out = deliver(0, p);
  BOOST_TEST(sent_vote(out, VotePhase::prepare, p.vote.block_hash));
  deliver(0, vote(0, VotePhase::prepare, 1, 0, p.vote.block_hash));
  out = deliver(2, vote(2, VotePhase::prepare, 1, 0, p.vote.block_hash));  // 3 of 4: prepared
  BOOST_TEST(sent_vote(out, VotePhase::commit, p.vote.block_hash));
  BOOST_TEST(store.saved.prepared.has_value());
  out = deliver(0, vote(0, VotePhase::commit, 1, 0, p.vote.block_hash));
  BOOST_TEST(out.committed.empty());  // 2 of 4 commits
  out = deliver(3, vote(3, VotePhase::commit, 1, 0, p.vote.block_hash));
  BOOST_REQUIRE_EQUAL(out.committed.size(), 1u);
  BOOST_TEST(out.committed[0].certificate.verify(kChain, set).ok());
  BOOST_TEST(out.committed[0].block.hash() == p.vote.block_hash);
  BOOST_TEST(engine->height() == 2u);
  BOOST_TEST(app->committed_height() == 1u);
}

BOOST_FIXTURE_TEST_CASE(bad_messages_are_dropped_and_counted, Fixture) {
  Proposal p = proposal(0, 0, 1);
  // Garbage.
  engine->on_message(keys[0].public_key(), Bytes{1, 2, 3});
  BOOST_TEST(engine->drops().malformed == 1u);
  // A bad signature.
  Vote forged = vote(2, VotePhase::prepare, 1, 0, p.vote.block_hash);
  forged.block_hash.data[0] ^= 1;
  deliver(2, forged);
  BOOST_TEST(engine->drops().bad_signature == 1u);
  // A vote from outside the set.
  Vote stranger;
  stranger.phase = VotePhase::prepare;
  stranger.height = 1;
  stranger.block_hash = p.vote.block_hash;
  stranger.sign(kChain, SecretKey::derive_insecure("stranger"));
  engine->on_message(stranger.validator, encode_message(stranger));
  BOOST_TEST(engine->drops().not_validator == 1u);
  // Far beyond the watermark.
  deliver(2, vote(2, VotePhase::prepare, 1000, 0, p.vote.block_hash));
  BOOST_TEST(engine->drops().beyond_watermark == 1u);
  // A proposal from a validator that is not the primary.
  deliver(2, proposal(2, 0, 1));
  BOOST_TEST(engine->drops().invalid == 1u);
  // A duplicate.
  deliver(2, vote(2, VotePhase::prepare, 1, 0, p.vote.block_hash));
  deliver(2, vote(2, VotePhase::prepare, 1, 0, p.vote.block_hash));
  BOOST_TEST(engine->drops().duplicate == 1u);
  BOOST_TEST(engine->height() == 1u);  // none of it moved the engine
}

BOOST_FIXTURE_TEST_CASE(memory_stays_bounded_under_spam, Fixture) {
  // A byzantine validator sends votes for every height and view it can.
  for (std::uint64_t h = 1; h < 200; ++h)
    for (std::uint64_t v = 0; v < 100; ++v)
      deliver(3, vote(3, VotePhase::prepare, h, v, sha256(as_bytes(std::to_string(h * 1000 + v)))));
  BOOST_TEST(engine->log_size() <= (config.watermark_window + 1) * (config.max_views_ahead + 1));
  BOOST_TEST(engine->drops().beyond_watermark > 0u);
}

BOOST_FIXTURE_TEST_CASE(equivocating_votes_produce_evidence, Fixture) {
  auto out1 = deliver(2, vote(2, VotePhase::prepare, 1, 0, sha256(as_bytes("A"))));
  BOOST_TEST(out1.evidence.empty());
  auto out2 = deliver(2, vote(2, VotePhase::prepare, 1, 0, sha256(as_bytes("B"))));
  BOOST_REQUIRE_EQUAL(out2.evidence.size(), 1u);
  BOOST_TEST(out2.evidence[0].verify(kChain).ok());
  BOOST_TEST(out2.evidence[0].validator() == keys[2].public_key());
  // Two proposals of the primary for one slot, too.
  deliver(0, proposal(0, 0, 1));
  auto out3 = deliver(0, proposal(0, 0, 2));
  BOOST_REQUIRE_EQUAL(out3.evidence.size(), 1u);
  BOOST_TEST((out3.evidence[0].first.phase == VotePhase::propose));
}

// A validator restarted from its persisted safety state never signs a
// second, conflicting prepare for a slot it already voted in.
BOOST_FIXTURE_TEST_CASE(restart_never_double_signs, Fixture) {
  Proposal a = proposal(0, 0, 1), b = proposal(0, 0, 2);
  auto out = deliver(0, a);
  BOOST_REQUIRE(sent_vote(out, VotePhase::prepare, a.vote.block_hash));
  BOOST_TEST(store.saved.signed_votes.size() == 1u);  // saved before it was sent

  // Crash: memory is gone; the block store and the safety state remain.
  engine = std::make_unique<Engine>(config, keys[me], *app, store, store.saved);
  engine->start();
  auto after = deliver(0, b);  // the equivocating primary's other block
  BOOST_TEST(!sent_vote(after, VotePhase::prepare, b.vote.block_hash));
  // The same block again is fine: it is the same signature's message.
  engine = std::make_unique<Engine>(config, keys[me], *app, store, store.saved);
  engine->start();
  auto again = deliver(0, a);
  BOOST_TEST(sent_vote(again, VotePhase::prepare, a.vote.block_hash));
}

namespace {
ViewChange view_change(const SecretKey& k, std::uint64_t new_view) {
  ViewChange vc;
  vc.new_view = new_view;
  vc.sign(kChain, k);
  return vc;
}
}  // namespace

// Regression (found in review): a byzantine primary sends a NewView for a
// height above the one its quorum shows, then an ordinary proposal for the
// skipped height in the new view. Both must be refused.
BOOST_FIXTURE_TEST_CASE(new_view_cannot_skip_a_height_and_fill_it_later, Fixture) {
  // keys[1] (this engine) is the primary of view 1; use view 2's primary, keys[2], as the byzantine one.
  std::vector<ViewChange> vcs{view_change(keys[0], 2), view_change(keys[2], 2), view_change(keys[3], 2)};
  auto skip = proposal(2, 2, 7);
  // A proposal for height 2 while the quorum shows height 0 committed.
  SimApp ahead(kChain, set, keys[2].public_key());
  Proposal p2;
  p2.block = ahead.make_block(1, 2, 9);
  p2.block.header.height = 2;  // a block claiming height 2
  p2.vote.phase = VotePhase::propose;
  p2.vote.height = 2;
  p2.vote.view = 2;
  p2.vote.block_hash = p2.block.hash();
  p2.vote.sign(kChain, keys[2]);
  NewView bad;
  bad.view = 2;
  bad.view_changes = vcs;
  bad.proposal = p2;
  bad.sign(kChain, keys[2]);
  auto before = engine->drops().invalid;
  deliver(2, bad);
  BOOST_TEST(engine->drops().invalid == before + 1);
  BOOST_TEST(engine->view() == 0u);

  // A proper NewView at height 1, then an ordinary proposal at height 1 in
  // the same view: only the NewView's own proposal counts.
  NewView good;
  good.view = 2;
  good.view_changes = vcs;
  good.proposal = skip;
  good.sign(kChain, keys[2]);
  auto out = deliver(2, good);
  BOOST_TEST(engine->view() == 2u);
  BOOST_TEST(sent_vote(out, VotePhase::prepare, skip.vote.block_hash));
  auto other = proposal(2, 2, 8);
  before = engine->drops().invalid;
  out = deliver(2, other);
  BOOST_TEST(engine->drops().invalid == before + 1);
  BOOST_TEST(!sent_vote(out, VotePhase::prepare, other.vote.block_hash));
}

// Regression (found in review): after asking for view 3, a late NewView for
// view 2 is not followed back.
BOOST_FIXTURE_TEST_CASE(never_back_below_an_asked_view, Fixture) {
  // Two others (more than 1/3 of the power) ask for view 3: this replica joins them.
  for (std::size_t i : {0u, 2u}) deliver(i, view_change(keys[i], 3));
  BOOST_TEST(engine->view_base() == 3u);  // more than 1/3 asked for 3: joined
  std::vector<ViewChange> vcs{view_change(keys[0], 2), view_change(keys[2], 2), view_change(keys[3], 2)};
  NewView late;
  late.view = 2;
  late.view_changes = vcs;
  late.proposal = proposal(2, 2, 1);
  late.sign(kChain, keys[2]);
  deliver(2, late);
  BOOST_TEST(engine->view() == 0u);  // not entered
  BOOST_TEST(engine->in_view_change());
}

// The primary proposes only when the application is ready (the node waits
// for transactions or its empty-block interval), then on on_ready().
BOOST_AUTO_TEST_CASE(primary_waits_until_the_application_is_ready) {
  Fixture f;
  SimApp app(kChain, f.set, f.keys[0].public_key());
  app.ready = false;
  SimStore store;
  Engine primary(f.config, f.keys[0], app, store);
  Output started = primary.start();
  for (const auto& m : Fixture::sent(started)) BOOST_CHECK(!std::holds_alternative<Proposal>(m));
  BOOST_CHECK(primary.awaiting_own_proposal());
  BOOST_CHECK(Fixture::sent(primary.on_ready()).empty());  // still not ready
  app.ready = true;
  Output ready = primary.on_ready();
  std::size_t proposals = 0;
  for (const auto& m : Fixture::sent(ready)) proposals += std::holds_alternative<Proposal>(m);
  BOOST_CHECK_EQUAL(proposals, 1u);
  BOOST_CHECK(!primary.awaiting_own_proposal());
  for (const auto& m : Fixture::sent(primary.on_ready()))
    BOOST_CHECK(!std::holds_alternative<Proposal>(m));  // proposes once
  // A replica is never awaiting its own proposal.
  BOOST_CHECK(!f.engine->awaiting_own_proposal());
}

// A full node runs the engine with a key outside the set: it follows the
// votes and commits, and signs and sends nothing (a vote of its own would
// put an unknown signer into the certificate).
BOOST_AUTO_TEST_CASE(an_observer_follows_and_signs_nothing) {
  Fixture f;
  SecretKey outsider = SecretKey::derive_insecure("engine-observer");
  SimApp app(kChain, f.set, outsider.public_key());
  SimStore store;
  Engine observer(f.config, outsider, app, store);
  std::vector<Outbound> sent;
  auto keep = [&](Output o) {
    for (auto& m : o.messages) sent.push_back(m);
    return o;
  };
  keep(observer.start());
  Proposal p = f.proposal(0, 0, 1);
  auto deliver = [&](std::size_t from, const Message& m) {
    return keep(observer.on_message(f.keys[from].public_key(), encode_message(m)));
  };
  deliver(0, p);
  for (std::size_t i : {0, 2, 3}) deliver(i, f.vote(i, VotePhase::prepare, 1, 0, p.vote.block_hash));
  Output last;
  for (std::size_t i : {0, 2, 3}) last = deliver(i, f.vote(i, VotePhase::commit, 1, 0, p.vote.block_hash));
  BOOST_REQUIRE_EQUAL(last.committed.size(), 1u);
  BOOST_CHECK(last.committed[0].certificate.verify(kChain, f.set).ok());
  BOOST_CHECK_EQUAL(last.committed[0].certificate.signatures.size(), 3u);
  BOOST_CHECK_EQUAL(observer.height(), 2u);
  // Through a view change too: its timer fires, it asks nothing.
  for (const auto& t : last.timers) keep(observer.on_timer(t));
  BOOST_CHECK(sent.empty());
  BOOST_CHECK(store.saved.signed_votes.empty());
}

// The header must name the primary of the height and of the view it was
// first proposed in: the proposer's reward goes to that key.
BOOST_FIXTURE_TEST_CASE(a_proposal_naming_another_proposer_is_refused, Fixture) {
  Proposal p = proposal(0, 0, 1);
  p.block.header.proposer = keys[2].public_key();  // keys[0] is the primary of height 1, view 0
  p.vote.block_hash = p.block.hash();
  p.vote.sign(kChain, keys[0]);
  const auto before = engine->drops().invalid;
  auto out = deliver(0, p);
  BOOST_TEST(engine->drops().invalid == before + 1);
  BOOST_TEST(!sent_vote(out, VotePhase::prepare, p.vote.block_hash));
  // The honest one is accepted.
  Proposal good = proposal(0, 0, 2);
  BOOST_TEST(sent_vote(deliver(0, good), VotePhase::prepare, good.vote.block_hash));
}

namespace {
// Commits `p` in the fixture's app with commit votes of validators 0, 2, 3.
void commit_in_app(Fixture& f, const Proposal& p) {
  CommitCertificate cert{p.vote.height, p.vote.view, p.vote.block_hash, {}};
  for (std::size_t i : {0u, 2u, 3u}) {
    Vote v = f.vote(i, VotePhase::commit, p.vote.height, p.vote.view, p.vote.block_hash);
    cert.signatures.push_back({v.validator, v.signature});
  }
  std::sort(cert.signatures.begin(), cert.signatures.end(),
            [](const CommitSignature& a, const CommitSignature& b) { return a.validator < b.validator; });
  BOOST_REQUIRE(f.app->commit(p.block, cert).ok());
}
}  // namespace

// A replica that starts with a vote record older than its chain (here: no
// record at all, and a block store at height 1) holds every vote; a view
// change it still asks for; release_signing() lets it vote.
BOOST_FIXTURE_TEST_CASE(a_stale_record_holds_votes_until_released, Fixture) {
  commit_in_app(*this, proposal(0, 0, 1));
  config.guard_stale_record = true;
  engine = std::make_unique<Engine>(config, keys[me], *app, store, SafetyState{});
  auto out = engine->start();
  // Height 2, view 0 is this replica's slot (equal powers: index (h - 1 + v) mod 4).
  BOOST_TEST(engine->height() == 2u);
  BOOST_TEST(engine->signing_held());
  BOOST_TEST(engine->guard_pending());
  BOOST_TEST(sent(out).empty());  // no proposal
  BOOST_TEST(!engine->awaiting_own_proposal());  // nor a wait for one: its node would poll for ever
  // It follows a view change's quorum like everyone, and asks for it too.
  auto timer = out.timers.back();
  out = engine->on_timer(timer);
  bool asked = false;
  for (const auto& m : sent(out)) asked = asked || std::holds_alternative<ViewChange>(m);
  BOOST_TEST(asked);
  // Released, it proposes when asked again (a fresh engine, same state: the view change is separate).
  engine = std::make_unique<Engine>(config, keys[me], *app, store, SafetyState{});
  engine->start();
  BOOST_TEST(engine->signing_held());
  engine->release_signing();
  BOOST_TEST(!engine->signing_held());
  BOOST_TEST(!engine->guard_pending());
  BOOST_TEST(engine->awaiting_own_proposal());
  bool proposed = false;
  for (const auto& m : sent(engine->on_ready())) proposed = proposed || std::holds_alternative<Proposal>(m);
  BOOST_TEST(proposed);
}

// Without the guard, and with a record that covers the height (a restart),
// nothing is held.
BOOST_FIXTURE_TEST_CASE(a_current_record_does_not_hold, Fixture) {
  commit_in_app(*this, proposal(0, 0, 1));
  config.guard_stale_record = true;
  SafetyState record;
  record.height = 1;  // it was voting at height 1 when it stopped
  engine = std::make_unique<Engine>(config, keys[me], *app, store, record);
  auto out = engine->start();
  BOOST_TEST(!engine->signing_held());
  bool proposed = false;
  for (const auto& m : sent(out)) proposed = proposed || std::holds_alternative<Proposal>(m);
  BOOST_TEST(proposed);
  BOOST_TEST(!engine->guard_pending());  // it signed: the guard is done for this run
}

// A record ahead of the block store (the chain wiped, the record kept:
// docs/operators.md, "A damaged data directory"): the replica follows the
// chain without signing or saving below the record's height, and there
// what it signed binds again. Without the record it would have proposed.
BOOST_FIXTURE_TEST_CASE(a_record_ahead_of_the_store_signs_nothing_below_it_and_binds_at_it, Fixture) {
  const Hash256 before_the_wipe = sha256(as_bytes("the block it proposed before the wipe"));
  SafetyState record;
  record.height = 2;  // height 2, view 0 is this replica's slot
  record.signed_votes.push_back(vote(me, VotePhase::propose, 2, 0, before_the_wipe));
  SimStore kept;
  engine = std::make_unique<Engine>(config, keys[me], *app, kept, record);
  auto out = engine->start();
  BOOST_TEST(out.local_errors.empty());  // no stop: it can follow the chain
  BOOST_TEST(sent(out).empty());
  BOOST_TEST(kept.saves == 0u);  // the record is not overwritten with height 1
  // Height 1 commits without its vote; it signs nothing there.
  Proposal p = proposal(0, 0, 1);
  BOOST_TEST(!sent_vote(deliver(0, p), VotePhase::prepare, p.vote.block_hash));
  for (std::size_t i : {0, 2, 3}) BOOST_TEST(sent(deliver(i, vote(i, VotePhase::prepare, 1, 0, p.vote.block_hash))).empty());
  Output last;
  for (std::size_t i : {0, 2, 3}) last = deliver(i, vote(i, VotePhase::commit, 1, 0, p.vote.block_hash));
  BOOST_REQUIRE_EQUAL(last.committed.size(), 1u);
  BOOST_TEST(sent(last).empty());
  // At height 2 the record binds: it proposed another block in this slot, so it proposes nothing new.
  BOOST_TEST(engine->height() == 2u);
  BOOST_TEST(kept.saved.height == 2u);
  BOOST_REQUIRE_EQUAL(kept.saved.signed_votes.size(), 1u);
  BOOST_TEST((kept.saved.signed_votes[0].block_hash == before_the_wipe));
  bool proposed = false;
  for (const auto& m : sent(engine->on_ready())) proposed = proposed || std::holds_alternative<Proposal>(m);
  BOOST_TEST(!proposed);
  // The same replica without that record proposes in its slot.
  SimApp fresh_app(kChain, set, keys[me].public_key());
  BOOST_REQUIRE(fresh_app.commit(last.committed[0].block, last.committed[0].certificate).ok());
  SimStore fresh_store;
  Engine fresh(config, keys[me], fresh_app, fresh_store);
  proposed = false;
  for (const auto& m : sent(fresh.start())) proposed = proposed || std::holds_alternative<Proposal>(m);
  BOOST_TEST(proposed);
}

// A vote under this replica's key that it did not sign, for its height or
// later, is reported; its own vote coming back is not; older heights are not.
BOOST_FIXTURE_TEST_CASE(votes_of_its_own_key_it_did_not_sign_are_reported, Fixture) {
  Proposal p = proposal(0, 0, 1);
  auto out = deliver(0, p);
  BOOST_REQUIRE(sent_vote(out, VotePhase::prepare, p.vote.block_hash));
  // Its own prepare, echoed by a peer: not foreign.
  out = deliver(2, vote(me, VotePhase::prepare, 1, 0, p.vote.block_hash));
  BOOST_TEST(out.foreign_own_votes.empty());
  // A commit it never signed, at its height: another instance.
  out = deliver(2, vote(me, VotePhase::commit, 1, 0, p.vote.block_hash));
  BOOST_REQUIRE_EQUAL(out.foreign_own_votes.size(), 1u);
  BOOST_TEST((out.foreign_own_votes[0].phase == VotePhase::commit));
  // A prepare for another block in its slot: another instance (and evidence).
  out = deliver(2, vote(me, VotePhase::prepare, 1, 0, sha256(as_bytes("other"))));
  BOOST_TEST(out.foreign_own_votes.size() == 1u);
  BOOST_TEST(out.evidence.size() == 1u);
}

// Committed blocks say whether the replica decided them from live votes.
BOOST_FIXTURE_TEST_CASE(committed_blocks_say_whether_they_were_decided_live, Fixture) {
  Proposal p = proposal(0, 0, 1);
  deliver(0, p);
  deliver(0, vote(0, VotePhase::prepare, 1, 0, p.vote.block_hash));
  deliver(2, vote(2, VotePhase::prepare, 1, 0, p.vote.block_hash));
  deliver(0, vote(0, VotePhase::commit, 1, 0, p.vote.block_hash));
  auto out = deliver(3, vote(3, VotePhase::commit, 1, 0, p.vote.block_hash));
  BOOST_REQUIRE_EQUAL(out.committed.size(), 1u);
  BOOST_TEST(out.committed[0].live);
  // A second replica catches up through a Decision: not live.
  SimApp other_app(kChain, set, keys[3].public_key());
  SimStore other_store;
  Engine other(config, keys[3], other_app, other_store);
  other.start();
  auto d = app->decision(1);
  BOOST_REQUIRE(d.has_value());
  auto caught = other.on_message(keys[1].public_key(), encode_message(*d));
  BOOST_REQUIRE_EQUAL(caught.committed.size(), 1u);
  BOOST_TEST(!caught.committed[0].live);
}
