#pragma once
// A deterministic simulator for the PBFT engine: N engines, a seeded
// scheduler that delays, drops, duplicates and reorders messages,
// partitions and heals the network, crashes nodes and restarts them from
// what they persisted, and byzantine validators. Everything follows from
// the seed, so a failing run replays exactly.
//
// Used by tests/consensus/pbft_simulation.cpp (the property runs) and
// bench/consensus_bench.cpp (an instant network, for speed).

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "consensus/engine.h"
#include "core/state_proof.h"

namespace verity::sim {

using consensus::Decision;
using consensus::Engine;
using consensus::EngineConfig;
using consensus::Output;
using consensus::SafetyState;
using consensus::TimerRequest;

enum class Behavior { honest, equivocating_primary, double_voter, silent, garbage, replayer };

inline const char* behavior_name(Behavior b) {
  switch (b) {
    case Behavior::honest: return "honest";
    case Behavior::equivocating_primary: return "equivocating-primary";
    case Behavior::double_voter: return "double-voter";
    case Behavior::silent: return "silent";
    case Behavior::garbage: return "garbage";
    case Behavior::replayer: return "replayer";
  }
  return "?";
}

// The application of a simulated node: a chain of blocks whose "state
// root" is a hash chain, checked like the real one (height, previous hash,
// state root, body).
class SimApp final : public consensus::ConsensusApp {
 public:
  SimApp(std::string chain_id, ValidatorSet set, PublicKey me) : chain_id_(std::move(chain_id)), set_(std::move(set)), me_(me) {}

  std::uint64_t committed_height() const override { return chain_.size(); }
  std::optional<ValidatorSet> validators_for(std::uint64_t) const override { return set_; }

  Block propose(std::uint64_t height, std::uint64_t view) override { return make_block(height, view, salt_++); }
  bool ready_to_propose(std::uint64_t) override { return ready; }
  bool ready = true;  // tests turn it off to hold the primary back

  Block make_block(std::uint64_t height, std::uint64_t view, std::uint64_t salt) const {
    Block b;
    b.header.chain_id = chain_id_;
    b.header.height = height;
    b.header.view = view;
    b.header.prev_hash = last_hash();
    b.header.proposer = me_;
    b.header.timestamp_ms = salt;  // makes two proposals of one proposer differ
    b.header.tx_root = transactions_root(b.transactions);
    if (height > 1) b.last_commit = chain_.back().certificate;
    b.header.last_commit_hash = b.last_commit.hash();
    b.header.state_root = next_root(b);
    return b;
  }

  Status check(const Block& b) override {
    if (b.header.chain_id != chain_id_) return make_error("wrong-chain-id");
    if (b.header.height != chain_.size() + 1) return make_error("bad-height");
    if (b.header.prev_hash != last_hash()) return make_error("bad-prev-hash");
    if (!set_.power_of(b.header.proposer)) return make_error("bad-proposer");
    if (auto s = b.check_body(); !s) return s;
    if (b.header.state_root != next_root(b)) return make_error("bad-state-root");
    return {};
  }

  Status commit(const Block& b, const CommitCertificate& cert) override {
    if (auto s = check(b); !s) return local_error("commit-of-invalid-block", s.error().to_string());
    if (!cert.verify(chain_id_, set_).ok() || cert.block_hash != b.hash()) return local_error("bad-certificate");
    chain_.push_back({b, cert});
    return {};
  }

  std::optional<Decision> decision(std::uint64_t h) const override {
    if (h == 0 || h > chain_.size()) return std::nullopt;
    return chain_[h - 1];
  }

  const std::vector<Decision>& chain() const { return chain_; }

 private:
  Hash256 last_hash() const { return chain_.empty() ? sha256(as_bytes(chain_id_)) : chain_.back().block.hash(); }
  Hash256 last_root() const { return chain_.empty() ? Hash256{} : chain_.back().block.header.state_root; }
  Hash256 next_root(const Block& b) const { return state_node_hash(last_root(), b.header.tx_root); }

  std::string chain_id_;
  ValidatorSet set_;
  PublicKey me_;
  std::vector<Decision> chain_;  // survives a crash: it is the node's block store
  std::uint64_t salt_ = 0;
};

class SimStore final : public consensus::SafetyStore {
 public:
  Status save(const SafetyState& s) override {
    saved = s;
    saves++;
    return {};
  }
  SafetyState saved;
  std::uint64_t saves = 0;
};

struct Config {
  std::uint64_t seed = 1;
  std::size_t validators = 4;
  bool unequal_stakes = false;
  Behavior byzantine = Behavior::honest;
  std::size_t byzantine_count = 0;  // the first ones after sorting by key
  bool chaos = true;                // drops, duplicates, partitions, crashes
  std::uint64_t chaos_until = 20'000;
  std::uint64_t liveness_bound = 200'000;  // after chaos ends
  std::uint64_t max_delay = 40;
  std::uint64_t stop_at_height = 0;  // benchmarks: run until every honest node has it
  std::vector<std::uint64_t> powers;  // if set: one validator per entry, in the set's (key) order
  EngineConfig engine;

  std::string describe() const {
    std::ostringstream o;
    o << "--validators " << validators << (unequal_stakes ? " --unequal" : "") << " --byzantine "
      << behavior_name(byzantine) << " --byzantine-count " << byzantine_count << (chaos ? "" : " --calm")
      << " --seed " << seed;
    return o.str();
  }
};

// What the agreed chain shows of one committed height.
struct CommittedHeight {
  PublicKey proposer;
  std::uint64_t view = 0;  // of its commit certificate
};

struct Result {
  bool ok = true;
  std::vector<CommittedHeight> chain;  // heights 1.. as an honest node committed them
  std::string failure;
  std::uint64_t min_height = 0, max_height = 0;
  std::uint64_t evidence = 0, view_changes = 0, dropped = 0, messages = 0;
  std::size_t max_log = 0;
};

class Simulation {
 public:
  const ValidatorSet& set() const { return set_; }
  const PublicKey& key(std::size_t i) const { return keys_[i].public_key(); }

  explicit Simulation(Config cfg) : cfg_(std::move(cfg)), rng_(cfg_.seed) {
    cfg_.engine.chain_id = "verity-sim-1";
    if (!cfg_.powers.empty()) cfg_.validators = cfg_.powers.size();
    for (std::size_t i = 0; i < cfg_.validators; ++i) keys_.push_back(SecretKey::derive_insecure("sim-" + std::to_string(i)));
    std::vector<Validator> vs;
    for (std::size_t i = 0; i < keys_.size(); ++i) {
      std::uint64_t power = cfg_.unequal_stakes ? 1 + (i * 7 + 3) % 10 : 10;
      vs.push_back({keys_[i].public_key(), power});
    }
    // Nodes in set order, so "the first k" are well defined.
    std::sort(keys_.begin(), keys_.end(), [](const SecretKey& a, const SecretKey& b) { return a.public_key() < b.public_key(); });
    if (!cfg_.powers.empty())
      for (std::size_t i = 0; i < keys_.size(); ++i) vs[i] = {keys_[i].public_key(), cfg_.powers[i]};
    set_ = ValidatorSet::create(vs).value();
    // Byzantine: the first byzantine_count, kept under 1/3 of the power.
    std::uint64_t byz_power = 0;
    for (std::size_t i = 0; i < keys_.size(); ++i) {
      Node n;
      n.key = std::make_unique<SecretKey>(keys_[i]);
      n.app = std::make_unique<SimApp>(cfg_.engine.chain_id, set_, keys_[i].public_key());
      n.store = std::make_unique<SimStore>();
      std::uint64_t p = *set_.power_of(keys_[i].public_key());
      if (i < cfg_.byzantine_count && !set_.exceeds_one_third(byz_power + p) &&
          (byz_power + p) * 3 < set_.total_power()) {
        n.behavior = cfg_.byzantine;
        byz_power += p;
      }
      nodes_.push_back(std::move(n));
    }
    for (std::size_t i = 0; i < nodes_.size(); ++i) start_node(i);
    if (cfg_.chaos) plan_chaos();
  }

  Result run() {
    const std::uint64_t heal = cfg_.chaos ? cfg_.chaos_until : 0;
    std::uint64_t height_at_heal = 0;
    bool healed = false;
    const std::uint64_t end = heal + cfg_.liveness_bound;
    while (!queue_.empty() && result_.ok) {
      Event e = queue_.top();
      if (e.time > end) break;
      if (!healed && e.time >= heal) {
        healed = true;
        height_at_heal = max_honest_height();
      }
      queue_.pop();
      now_ = e.time;
      process(e);
      // Stop early once liveness is shown (or the benchmark's height reached).
      if (cfg_.stop_at_height != 0) {
        if (min_honest_height() >= cfg_.stop_at_height) break;
      } else if (healed && min_honest_height() >= height_at_heal + 3) {
        break;
      }
    }
    finish(height_at_heal);
    return result_;
  }

 private:
  struct Node {
    std::unique_ptr<SecretKey> key;
    std::unique_ptr<SimApp> app;
    std::unique_ptr<SimStore> store;
    std::unique_ptr<Engine> engine;
    Behavior behavior = Behavior::honest;
    bool up = true;
    std::uint64_t incarnation = 0;
    std::vector<Bytes> history;  // messages seen, for the replayer
    std::uint64_t evidence = 0;
    std::set<Hash256> reported;  // offence ids this node reported
    std::map<std::tuple<std::uint64_t, std::uint64_t, std::uint8_t, PublicKey>, Hash256> seen_votes;
    std::set<Hash256> seen_conflicts;  // offence ids of conflicting votes delivered directly
  };

  enum class Kind { deliver, timer, crash, restart };
  struct Event {
    std::uint64_t time = 0;
    std::uint64_t seq = 0;
    Kind kind = Kind::deliver;
    std::size_t to = 0, from = 0;
    Bytes bytes;
    TimerRequest timer;
    std::uint64_t incarnation = 0;
    bool operator<(const Event& o) const { return time != o.time ? time > o.time : seq > o.seq; }
  };

  static Event make_event(std::uint64_t time, Kind kind) {
    Event e;
    e.time = time;
    e.kind = kind;
    return e;
  }

  bool honest(std::size_t i) const { return nodes_[i].behavior == Behavior::honest; }

  std::uint64_t min_honest_height() const {
    std::uint64_t m = UINT64_MAX;
    for (std::size_t i = 0; i < nodes_.size(); ++i)
      if (honest(i)) m = std::min(m, nodes_[i].app->committed_height());
    return m;
  }
  std::uint64_t max_honest_height() const {
    std::uint64_t m = 0;
    for (std::size_t i = 0; i < nodes_.size(); ++i)
      if (honest(i)) m = std::max(m, nodes_[i].app->committed_height());
    return m;
  }

  void push(Event e) {
    e.seq = seq_++;
    queue_.push(std::move(e));
  }

  void start_node(std::size_t i) {
    Node& n = nodes_[i];
    n.engine = std::make_unique<Engine>(cfg_.engine, *n.key, *n.app, *n.store, n.store->saved);
    n.up = true;
    n.incarnation++;
    apply(i, n.engine->start());
  }

  // Partitions and crashes during the chaos period: at most f honest nodes
  // down at once, at most one partition at a time.
  void plan_chaos() {
    std::uniform_int_distribution<std::uint64_t> when(500, cfg_.chaos_until - 2'000);
    for (int k = 0; k < 3; ++k) {
      std::uint64_t start = when(rng_), length = 500 + rng_() % 3'000;
      std::vector<int> side(nodes_.size());
      for (auto& s : side) s = static_cast<int>(rng_() % 2);
      partitions_.push_back({start, std::min(start + length, cfg_.chaos_until), side});
    }
    for (int k = 0; k < 3; ++k) {
      std::size_t i = rng_() % nodes_.size();
      if (!honest(i)) continue;
      std::uint64_t start = when(rng_), length = 200 + rng_() % 2'000;
      Event crash = make_event(start, Kind::crash);
      crash.to = i;
      push(crash);
      Event restart = make_event(std::min(start + length, cfg_.chaos_until), Kind::restart);
      restart.to = i;
      push(restart);
    }
  }

  bool partitioned(std::size_t a, std::size_t b) const {
    for (const auto& p : partitions_)
      if (now_ >= p.start && now_ < p.end && p.side[a] != p.side[b]) return true;
    return false;
  }

  bool in_chaos() const { return cfg_.chaos && now_ < cfg_.chaos_until; }

  void deliver_later(std::size_t from, std::size_t to, Bytes bytes) {
    if (to == from) return;
    if (in_chaos()) {
      if (partitioned(from, to)) return;
      if (rng_() % 100 < 10) return;  // drop
      if (rng_() % 100 < 5) deliver_later_once(from, to, bytes);  // duplicate
    }
    deliver_later_once(from, to, std::move(bytes));
  }
  void deliver_later_once(std::size_t from, std::size_t to, Bytes bytes) {
    Event e = make_event(now_ + 1 + rng_() % cfg_.max_delay, Kind::deliver);
    e.from = from;
    e.to = to;
    e.bytes = std::move(bytes);
    push(std::move(e));
  }

  std::size_t index_of(const PublicKey& k) const {
    for (std::size_t i = 0; i < nodes_.size(); ++i)
      if (nodes_[i].key->public_key() == k) return i;
    return nodes_.size();
  }

  void broadcast_from(std::size_t from, const Bytes& bytes) {
    for (std::size_t j = 0; j < nodes_.size(); ++j) deliver_later(from, j, bytes);
  }

  // Applies one step's outputs of node i, through its behaviour.
  void apply(std::size_t i, Output out) {
    Node& n = nodes_[i];
    for (const auto& err : out.local_errors) fail("node " + std::to_string(i) + " local error: " + err.to_string());
    for (const auto& t : out.timers) {
      Event e = make_event(now_ + t.delay, Kind::timer);
      e.to = i;
      e.timer = t;
      e.incarnation = n.incarnation;
      push(e);
    }
    for (const auto& c : out.committed) check_commit(i, c);
    for (const auto& ev : out.evidence) {
      if (!ev.verify(cfg_.engine.chain_id).ok()) fail("node " + std::to_string(i) + " reported invalid evidence");
      n.evidence++;
      n.reported.insert(ev.offence_id());
      result_.evidence++;
    }
    for (auto& m : out.messages) {
      result_.messages++;
      if (n.behavior == Behavior::honest || n.behavior == Behavior::replayer || n.behavior == Behavior::double_voter ||
          n.behavior == Behavior::equivocating_primary) {
        if (n.behavior == Behavior::replayer) n.history.push_back(m.bytes);
        misbehave(i, m);
        if (m.to) {
          std::size_t j = index_of(*m.to);
          if (j < nodes_.size()) deliver_later(i, j, m.bytes);
        } else if (!(n.behavior == Behavior::equivocating_primary && is_proposal(m.bytes))) {
          broadcast_from(i, m.bytes);
        }
      } else if (n.behavior == Behavior::garbage) {
        Bytes g = m.bytes;
        for (int k = 0; k < 3 && !g.empty(); ++k) g[rng_() % g.size()] ^= static_cast<std::uint8_t>(1 + rng_() % 255);
        broadcast_from(i, g);
        Bytes junk(rng_() % 200);
        for (auto& b : junk) b = static_cast<std::uint8_t>(rng_());
        broadcast_from(i, junk);
      }
      // silent: nothing leaves
    }
  }

  static bool is_proposal(const Bytes& b) {
    auto m = consensus::decode_message(b);
    return m && (std::holds_alternative<consensus::Proposal>(*m) || std::holds_alternative<consensus::NewView>(*m));
  }

  // Extra messages of the byzantine behaviours that need a key.
  void misbehave(std::size_t i, const consensus::Outbound& m) {
    Node& n = nodes_[i];
    if (n.behavior == Behavior::replayer) {
      for (int k = 0; k < 2 && !n.history.empty(); ++k)
        deliver_later(i, rng_() % nodes_.size(), n.history[rng_() % n.history.size()]);
      return;
    }
    auto msg = consensus::decode_message(m.bytes);
    if (!msg) return;
    if (n.behavior == Behavior::double_voter) {
      if (auto* v = std::get_if<Vote>(&*msg); v && v->phase != VotePhase::propose) {
        Vote other = *v;
        other.block_hash = sha256(as_bytes("double-" + std::to_string(rng_())));
        other.sign(cfg_.engine.chain_id, *n.key);
        broadcast_from(i, consensus::encode_message(other));
      }
    }
    if (n.behavior == Behavior::equivocating_primary) {
      // Half the peers get the real proposal, the other half another block
      // for the same slot, both signed.
      const consensus::Proposal* real = nullptr;
      if (auto* p = std::get_if<consensus::Proposal>(&*msg)) real = p;
      if (auto* nv = std::get_if<consensus::NewView>(&*msg)) real = &nv->proposal;
      if (!real) return;
      // The same block with another timestamp: as valid, and different.
      consensus::Proposal fake = *real;
      fake.block.header.timestamp_ms = 1'000'000 + rng_() % 1'000'000;
      fake.vote.block_hash = fake.block.hash();
      fake.vote.sign(cfg_.engine.chain_id, *n.key);
      consensus::Message fake_msg = *msg;
      if (auto* nv = std::get_if<consensus::NewView>(&fake_msg)) {
        nv->proposal = fake;
        nv->sign(cfg_.engine.chain_id, *n.key);
      } else {
        fake_msg = fake;
      }
      Bytes fake_bytes = consensus::encode_message(fake_msg);
      for (std::size_t j = 0; j < nodes_.size(); ++j) deliver_later(i, j, j % 2 ? m.bytes : fake_bytes);
    }
  }

  static const char* message_name(const Bytes& b) {
    auto m = consensus::decode_message(b);
    if (!m) return "garbage";
    const char* names[] = {"proposal", "vote", "view-change", "new-view", "checkpoint", "decision"};
    return names[m->index()];
  }

  void trace(const Event& e) {
    static const bool on = std::getenv("VERITY_SIM_TRACE") != nullptr;
    if (!on) return;
    const Node& n = nodes_[e.to];
    std::fprintf(stderr, "t=%llu node %zu %s", (unsigned long long)e.time, e.to,
                 e.kind == Kind::deliver ? "recv" : e.kind == Kind::timer ? "timer" : e.kind == Kind::crash ? "crash" : "restart");
    if (e.kind == Kind::deliver) std::fprintf(stderr, " %s from %zu", message_name(e.bytes), e.from);
    if (e.kind == Kind::timer) std::fprintf(stderr, " (h%llu v%llu)", (unsigned long long)e.timer.height, (unsigned long long)e.timer.view);
    if (n.engine)
      std::fprintf(stderr, " | h%llu v%llu vc%llu\n", (unsigned long long)n.engine->height(), (unsigned long long)n.engine->view(),
                   (unsigned long long)(n.engine->in_view_change() ? 1 : 0));
    else
      std::fprintf(stderr, " | down\n");
  }

  void process(const Event& e) {
    trace(e);
    Node& n = nodes_[e.to];
    switch (e.kind) {
      case Kind::crash:
        n.up = false;
        n.engine.reset();  // memory is lost; app (block store) and store (safety) survive
        return;
      case Kind::restart:
        if (!n.up) start_node(e.to);
        return;
      case Kind::timer:
        if (!n.up || e.incarnation != n.incarnation) return;
        apply(e.to, n.engine->on_timer(e.timer));
        return;
      case Kind::deliver:
        if (!n.up) return;
        if (honest(e.to)) record_conflicts(e.to, e.from, e.bytes);
        apply(e.to, n.engine->on_message(nodes_[e.from].key->public_key(), e.bytes));
        result_.max_log = std::max(result_.max_log, n.engine->log_size());
        return;
    }
  }

  // Independently of the engine: conflicting signed votes delivered directly
  // to an honest node, inside its window, must each produce evidence.
  void record_conflicts(std::size_t to, std::size_t from, const Bytes& bytes) {
    if (honest(from)) return;
    auto m = consensus::decode_message(bytes);
    if (!m) return;
    const Vote* v = nullptr;
    if (auto* p = std::get_if<consensus::Proposal>(&*m); p && p->consistent()) v = &p->vote;
    if (auto* x = std::get_if<Vote>(&*m)) v = x;
    if (!v || !v->verify(cfg_.engine.chain_id)) return;
    Node& n = nodes_[to];
    if (v->height <= n.engine->stable_checkpoint() || v->height > n.engine->high_watermark()) return;
    if (v->view > n.engine->view_base() + cfg_.engine.max_views_ahead ||
        v->view + cfg_.engine.max_views_ahead < n.engine->view())
      return;
    auto key = std::tuple{v->height, v->view, static_cast<std::uint8_t>(v->phase), v->validator};
    auto [it, inserted] = n.seen_votes.emplace(key, v->block_hash);
    if (!inserted && it->second != v->block_hash) n.seen_conflicts.insert(DoubleSignEvidence{*v, *v}.offence_id());
  }

  void check_commit(std::size_t i, const consensus::Committed& c) {
    if (!honest(i)) return;
    if (c.certificate.block_hash != c.block.hash() || !c.certificate.verify(cfg_.engine.chain_id, set_).ok())
      fail("node " + std::to_string(i) + " committed with an invalid certificate at height " +
           std::to_string(c.block.header.height));
    // Safety: no two honest nodes commit different blocks at one height.
    auto [it, inserted] = decided_.emplace(c.block.header.height, c.block.hash());
    if (inserted) committed_.emplace(c.block.header.height, CommittedHeight{c.block.header.proposer, c.certificate.view});
    if (!inserted && it->second != c.block.hash())
      fail("SAFETY: two different blocks committed at height " + std::to_string(c.block.header.height));
  }

  void fail(const std::string& why) {
    if (!result_.ok) return;
    result_.ok = false;
    result_.failure = why;
  }

  void finish(std::uint64_t height_at_heal) {
    result_.min_height = min_honest_height();
    result_.max_height = max_honest_height();
    for (const auto& [h, c] : committed_) {
      if (h != result_.chain.size() + 1) break;
      result_.chain.push_back(c);
    }
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      const Node& n = nodes_[i];
      if (n.engine) {
        result_.dropped += n.engine->drops().total();
        result_.view_changes = std::max(result_.view_changes, n.engine->view());
      }
      if (!honest(i)) continue;
      for (const auto& offence : n.seen_conflicts)
        if (!n.reported.count(offence)) fail("node " + std::to_string(i) + " saw an equivocation and reported no evidence");
      // Every honest chain is a prefix of the agreed one.
      for (const auto& d : n.app->chain())
        if (decided_.at(d.block.header.height) != d.block.hash()) fail("SAFETY: chains diverge");
    }
    if (result_.ok && result_.min_height < height_at_heal + 3)
      fail("LIVENESS: honest nodes reached only height " + std::to_string(result_.min_height) + " (had " +
           std::to_string(height_at_heal) + " when the network healed)");
    // Memory stays bounded whatever the byzantine nodes send.
    const std::size_t bound = (cfg_.engine.watermark_window + 1) * (cfg_.engine.max_views_ahead + 1) * 3 * nodes_.size() * 2;
    if (result_.max_log > bound) fail("message log grew to " + std::to_string(result_.max_log));
  }

  struct Partition {
    std::uint64_t start, end;
    std::vector<int> side;
  };

  Config cfg_;
  std::mt19937_64 rng_;
  std::vector<SecretKey> keys_;
  ValidatorSet set_;
  std::vector<Node> nodes_;
  std::vector<Partition> partitions_;
  std::priority_queue<Event> queue_;
  std::uint64_t now_ = 0, seq_ = 0;
  std::map<std::uint64_t, Hash256> decided_;
  std::map<std::uint64_t, CommittedHeight> committed_;
  Result result_;
};

}  // namespace verity::sim
