// Four real Nodes (real state in memory stores, real mempools, real PBFT
// engines) under one simulated clock on a simulated network, driven by one
// seeded event loop: no sockets, no threads, no sleeping (docs/testing.md).
// The nodes run on the seams of node/clock.h, node/transport.h and
// node/workers.h (docs/node.md, "Seams").
//
// Each run: a calm start, then three fault windows, each followed by a heal.
// A window may bring network chaos (random delays, drops, duplicates), a
// partition of one node, and the run's byzantine scenario, which one
// validator (B) plays from start to end through its outgoing frames:
//   honest         none
//   equivocate     B, as primary, sends a second, different proposal for
//                  the same height and view to some peers
//   withhold       B's prepare and commit votes never leave it
//   late-votes     B's votes leave it 0.3-3 s late
//   lying-sync     B claims a far higher height and answers get_blocks
//                  with bad blocks (altered, out of order, forged
//                  certificates); an honest node is partitioned in each
//                  window and must catch up through the liar
//   garbage        B sends random frames, and corrupts some real ones
// Transfers go through the nodes' real mempools (submit_async) all along.
//
// Checks: no two nodes commit different blocks at a height (no fork),
// every transaction some node reported committed is in every node's chain
// at the end, every transfer a node admitted commits, and after each heal
// every node commits new heights within a bound.
//
//   node_simulation --seeds N [--first S] [--verbose]
//   node_simulation --seed S [--verbose]      replay one run
//
// scripts/soak runs thousands of seeds across the cores.

#include <sys/types.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "node/node.h"
#include "state/kv_store.h"
#include "tests/chain_support.h"
#include "tests/sim_args.h"

// Signatures draw their auxiliary randomness from getrandom(); the
// simulation answers it from the run's seed, so a seed replays the same
// signatures, block hashes and choices too.
namespace {
std::mt19937_64 g_entropy(1);
}
extern "C" ssize_t getrandom(void* buf, size_t n, unsigned int) {
  auto* p = static_cast<unsigned char*>(buf);
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<unsigned char>(g_entropy());
  return static_cast<ssize_t>(n);
}

namespace {

using namespace verity;
using namespace verity::node;
using std::chrono::milliseconds;
using TimePoint = Clock::TimePoint;

// ---------------------------------------------------------------- randomness

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : g_(seed) {}
  std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : g_() % n; }
  std::uint64_t range(std::uint64_t lo, std::uint64_t hi) { return lo + below(hi - lo + 1); }
  bool chance(std::uint64_t per_mille) { return below(1000) < per_mille; }

 private:
  std::mt19937_64 g_;
};

// ---------------------------------------------------------------- event loop

class Loop {
 public:
  TimePoint now() const { return now_; }
  std::uint64_t at(TimePoint t, std::function<void()> fn) {
    const std::uint64_t id = ++seq_;
    if (t < now_) t = now_;
    queue_.emplace(std::make_pair(t, id), std::move(fn));
    when_.emplace(id, t);
    return id;
  }
  std::uint64_t after(milliseconds d, std::function<void()> fn) { return at(now_ + d, std::move(fn)); }
  void cancel(std::uint64_t id) {
    auto w = when_.find(id);
    if (w == when_.end()) return;
    queue_.erase({w->second, id});
    when_.erase(w);
  }
  // Runs events up to `t` (or until `stop` says so), then sets the time to t.
  // A run that keeps posting work at one instant never lets time pass (in
  // production: a thread spinning); it stops the loop and is reported.
  static constexpr std::uint64_t kMaxEventsAtOneInstant = 100'000;
  void run_until(TimePoint t, const std::function<bool()>& stop = {}) {
    while (!livelock_ && !queue_.empty() && queue_.begin()->first.first <= t) {
      auto it = queue_.begin();
      if (it->first.first == now_) {
        if (++at_instant_ > kMaxEventsAtOneInstant) {
          livelock_ = true;
          return;
        }
      } else {
        at_instant_ = 0;
      }
      now_ = it->first.first;
      auto fn = std::move(it->second);
      when_.erase(it->first.second);
      queue_.erase(it);
      fn();
      ++events_;
      if (stop && stop()) return;
    }
    if (!livelock_ && now_ < t) now_ = t;
  }
  bool livelocked() const { return livelock_; }
  void clear() {
    queue_.clear();
    when_.clear();
  }
  std::uint64_t events() const { return events_; }
  TimePoint start() const { return start_; }

 private:
  TimePoint start_ = TimePoint(std::chrono::hours(1));
  TimePoint now_ = start_;
  std::uint64_t seq_ = 0, events_ = 0, at_instant_ = 0;
  bool livelock_ = false;
  std::map<std::pair<TimePoint, std::uint64_t>, std::function<void()>> queue_;
  std::unordered_map<std::uint64_t, TimePoint> when_;
};

// One node's clock on the shared loop.
class SimClock final : public Clock {
 public:
  SimClock(Loop& loop, std::chrono::system_clock::time_point wall_start) : loop_(loop), wall_start_(wall_start) {}
  TimePoint now() const override { return loop_.now(); }
  std::chrono::system_clock::time_point system_now() const override {
    return wall_start_ + std::chrono::duration_cast<std::chrono::system_clock::duration>(loop_.now() - loop_.start());
  }
  TimerId schedule(TimePoint at, Callback fn) override { return loop_.at(at, std::move(fn)); }
  void cancel(TimerId id) override { loop_.cancel(id); }
  void post(Callback fn) override { loop_.at(loop_.now(), std::move(fn)); }

 private:
  Loop& loop_;
  std::chrono::system_clock::time_point wall_start_;
};

// The signed-votes record, in memory (nothing restarts in these runs).
class MemorySafety final : public SafetyRecord {
 public:
  const consensus::SafetyState& restored() const override { return restored_; }
  Status save(const consensus::SafetyState&) override { return {}; }
  Status flush() override { return {}; }

 private:
  consensus::SafetyState restored_;
};

// ---------------------------------------------------------------- scenarios

enum class Scenario { honest, equivocate, withhold, late_votes, lying_sync, garbage };
const Scenario kScenarios[] = {Scenario::honest,     Scenario::equivocate, Scenario::withhold,
                               Scenario::late_votes, Scenario::lying_sync, Scenario::garbage};
const char* scenario_name(Scenario s) {
  switch (s) {
    case Scenario::honest: return "honest";
    case Scenario::equivocate: return "equivocate";
    case Scenario::withhold: return "withhold";
    case Scenario::late_votes: return "late-votes";
    case Scenario::lying_sync: return "lying-sync";
    case Scenario::garbage: return "garbage";
  }
  return "?";
}

constexpr std::size_t kNodes = 4;
constexpr std::size_t kUsers = 6;
constexpr int kFaultWindows = 3;

struct RunConfig {
  std::uint64_t seed = 1;
  Scenario scenario = Scenario::honest;
  std::size_t byzantine = 0;  // which node plays the scenario
  bool chaos = true;          // delays, drops and duplicates in the fault windows
  // Derived from the seed alone, so --seed S replays the run.
  static RunConfig for_seed(std::uint64_t seed) {
    RunConfig c;
    c.seed = seed;
    c.scenario = kScenarios[seed % std::size(kScenarios)];
    Rng r(seed * 0x9E3779B97F4A7C15ull + 7);
    c.byzantine = r.below(kNodes);
    c.chaos = r.below(4) != 0;
    return c;
  }
  std::string describe() const {
    return "--seed " + std::to_string(seed) + " (" + scenario_name(scenario) + ", byzantine node " +
           std::to_string(byzantine) + (chaos ? ", chaos" : ", calm") + ")";
  }
};

// ---------------------------------------------------------------- network

class Network;

class SimTransport final : public Transport {
 public:
  SimTransport(Network& net, std::size_t me) : net_(net), me_(me) {}
  Status start() override;
  void stop() override;
  bool send(std::uint64_t peer, std::uint8_t type, ByteView body) override;
  std::size_t broadcast(std::uint8_t type, ByteView body, std::optional<std::uint64_t> except = {}) override;
  void disconnect(std::uint64_t peer, std::string_view reason) override;
  std::optional<std::uint64_t> peer_with_validator(const PublicKey& key) const override;
  std::vector<PeerInfo> peers() const override;
  const PublicKey& node_key() const override;
  std::uint16_t listen_port() const override { return 0; }
  TransportCounters counters() const override;

 private:
  Network& net_;
  std::size_t me_;
};

struct NetStats {
  std::uint64_t delivered = 0, dropped = 0, duplicated = 0, partitioned = 0, peer_drops = 0, garbage = 0,
                lies = 0, equivocations = 0, withheld = 0, late = 0;
  std::map<std::string, std::uint64_t> drop_reasons;
  std::uint64_t by_type[256] = {};  // frames delivered, by type
};

class Network {
 public:
  Network(Loop& loop, Rng& rng, const RunConfig& config, const testing::TestNet& net)
      : loop_(loop), rng_(rng), config_(config), net_(net) {}

  struct Endpoint {
    P2PHandler* handler = nullptr;
    PublicKey node_key;
    std::optional<PublicKey> validator_key;
    bool started = false;
    std::map<std::uint64_t, std::size_t> peers;  // peer id -> node index
    std::uint64_t next_id = 1;
    TransportCounters counters;
  };
  struct Link {
    bool up = false;
    std::uint64_t generation = 0;
    std::uint64_t id_at[2] = {0, 0};  // the id each side (lower index first) knows the other by
    TimePoint last_delivery[2];      // FIFO per direction, as on a TCP link
  };

  std::vector<Endpoint> endpoints{kNodes};
  NetStats stats;
  bool chaos = false;                       // delays, drops, duplicates
  std::optional<std::size_t> isolated;      // cut off from every other node
  bool byzantine_active = true;

  Endpoint& ep(std::size_t i) { return endpoints[i]; }
  Link& link(std::size_t a, std::size_t b) { return links_[{std::min(a, b), std::max(a, b)}]; }
  static int side(std::size_t a, std::size_t b) { return a < b ? 0 : 1; }

  PeerInfo info(std::size_t at, std::size_t other) {
    Link& l = link(at, other);
    PeerInfo p;
    p.id = l.id_at[side(at, other)];
    p.node_key = endpoints[other].node_key;
    p.validator_key = endpoints[other].validator_key;
    p.outbound = at < other;
    p.remote = "sim:" + std::to_string(other);
    return p;
  }

  void start(std::size_t me) {
    endpoints[me].started = true;
    for (std::size_t j = 0; j < kNodes; ++j)
      if (j != me) loop_.after(milliseconds(rng_.range(1, 20)), [this, me, j] { connect(me, j); });
  }

  void stop(std::size_t me) {
    endpoints[me].started = false;
    for (std::size_t j = 0; j < kNodes; ++j)
      if (j != me && link(me, j).up) drop_link(me, j, /*redial=*/false, /*report_now=*/true);
  }

  void connect(std::size_t a, std::size_t b) {
    Link& l = link(a, b);
    if (l.up || !endpoints[a].started || !endpoints[b].started) return;
    l.up = true;
    l.generation++;
    l.id_at[side(a, b)] = endpoints[a].next_id++;
    l.id_at[side(b, a)] = endpoints[b].next_id++;
    l.last_delivery[0] = l.last_delivery[1] = loop_.now();
    endpoints[a].peers[l.id_at[side(a, b)]] = b;
    endpoints[b].peers[l.id_at[side(b, a)]] = a;
    endpoints[a].handler->on_connected(info(a, b));
    if (l.up) endpoints[b].handler->on_connected(info(b, a));
  }

  // Both sides forget the link at once; the handlers hear of it from the
  // loop (never inside the call that dropped it), then it is redialled.
  void drop_link(std::size_t a, std::size_t b, bool redial, bool report_now = false) {
    Link& l = link(a, b);
    if (!l.up) return;
    PeerInfo at_a = info(a, b), at_b = info(b, a);
    l.up = false;
    endpoints[a].peers.erase(at_a.id);
    endpoints[b].peers.erase(at_b.id);
    auto report = [this, a, b, at_a, at_b] {
      endpoints[a].handler->on_disconnected(at_a);
      endpoints[b].handler->on_disconnected(at_b);
    };
    if (report_now) report();
    else loop_.after(milliseconds(0), report);
    if (redial) loop_.after(milliseconds(rng_.range(250, 1000)), [this, a, b] { connect(a, b); });
  }

  void disconnect(std::size_t me, std::uint64_t peer, std::string_view reason) {
    auto it = endpoints[me].peers.find(peer);
    if (it == endpoints[me].peers.end()) return;
    stats.peer_drops++;
    std::string why(reason.substr(0, reason.find_first_of(":(")));
    std::replace_if(why.begin(), why.end(), [](char c) { return c == ' ' || (c >= '0' && c <= '9'); }, '_');
    stats.drop_reasons[why]++;
    endpoints[me].counters.dropped_peers++;
    drop_link(me, it->second, /*redial=*/true);
  }

  bool send(std::size_t me, std::uint64_t peer, std::uint8_t type, ByteView body) {
    auto it = endpoints[me].peers.find(peer);
    if (it == endpoints[me].peers.end() || type == 0) return false;
    endpoints[me].counters.frames_out++;
    endpoints[me].counters.bytes_out += body.size() + 5;
    outgoing(me, it->second, type, Bytes(body.begin(), body.end()));
    return true;
  }

  // What leaves node `from` for `to`: the byzantine node's frames pass
  // through its scenario first.
  void outgoing(std::size_t from, std::size_t to, std::uint8_t type, Bytes body);
  // The network's own faults, then delivery in order on the link.
  void route(std::size_t from, std::size_t to, std::uint8_t type, Bytes body) {
    if (isolated && (*isolated == from || *isolated == to)) {
      stats.partitioned++;
      return;
    }
    int copies = 1;
    if (chaos) {
      if (rng_.chance(20)) {
        stats.dropped++;
        return;
      }
      if (rng_.chance(20)) {
        copies = 2;
        stats.duplicated++;
      }
    }
    Link& l = link(from, to);
    const std::uint64_t generation = l.generation;
    for (int c = 0; c < copies; ++c) {
      const auto delay = chaos ? (rng_.chance(100) ? rng_.range(50, 600) : rng_.range(1, 40)) : rng_.range(1, 5);
      TimePoint at = std::max(loop_.now() + milliseconds(delay), l.last_delivery[side(from, to)]);
      l.last_delivery[side(from, to)] = at;
      loop_.at(at, [this, from, to, type, body, generation] { deliver(from, to, type, body, generation); });
    }
  }

  void deliver(std::size_t from, std::size_t to, std::uint8_t type, const Bytes& body, std::uint64_t generation) {
    Link& l = link(from, to);
    if (!l.up || l.generation != generation) return;  // the link it was sent on is gone
    stats.delivered++;
    stats.by_type[type]++;
    endpoints[to].counters.frames_in++;
    endpoints[to].counters.bytes_in += body.size() + 5;
    std::string reason;
    if (!endpoints[to].handler->on_frame(info(to, from), type, body, reason)) {
      if (reason.empty()) reason = "bad-frame";
      if (link(from, to).up && link(from, to).generation == generation) disconnect(to, link(from, to).id_at[side(to, from)], reason);
    }
  }

  // Random frames from the byzantine node to a random honest one.
  void send_garbage() {
    const std::size_t b = config_.byzantine;
    std::size_t to = rng_.below(kNodes - 1);
    if (to >= b) ++to;
    if (!link(b, to).up) return;
    Bytes body(rng_.below(80));
    for (auto& x : body) x = static_cast<std::uint8_t>(rng_.below(256));
    std::uint8_t type = static_cast<std::uint8_t>(rng_.range(1, 9));
    if (rng_.chance(300) && !body.empty()) body[0] = consensus::kVoteTag;  // a message's tag, then junk
    stats.garbage++;
    route(b, to, type, std::move(body));
  }

 private:
  Bytes equivocate(const consensus::Proposal& p);
  Bytes lie_about_blocks(ByteView body);

  Loop& loop_;
  Rng& rng_;
  const RunConfig& config_;
  const testing::TestNet& net_;
  std::map<std::pair<std::size_t, std::size_t>, Link> links_;
  std::map<std::pair<std::uint64_t, std::uint64_t>, Bytes> second_proposal_;  // (height, view): what B's other half saw
};

Bytes Network::equivocate(const consensus::Proposal& p) {
  const auto key = std::make_pair(p.vote.height, p.vote.view);
  if (auto it = second_proposal_.find(key); it != second_proposal_.end()) return it->second;
  // The same block with another timestamp: it executes to the same state
  // root, so it is as valid as the first, and conflicts with it.
  consensus::Proposal q = p;
  q.block.header.timestamp_ms += rng_.range(1, 1000);
  q.vote.block_hash = q.block.hash();
  q.vote.sign(net_.genesis.chain_id, net_.validators[config_.byzantine]);
  Bytes out = consensus::encode_message(q);
  second_proposal_[key] = out;
  stats.equivocations++;
  return out;
}

Bytes Network::lie_about_blocks(ByteView body) {
  auto items = decode_blocks(body);
  if (!items || items->empty()) return Bytes(body.begin(), body.end());
  std::vector<consensus::Decision> ds;
  for (ByteView item : *items) {
    auto m = consensus::decode_message(item);
    if (!m || !std::holds_alternative<consensus::Decision>(*m)) return Bytes(body.begin(), body.end());
    ds.push_back(std::get<consensus::Decision>(*m));
  }
  consensus::Decision& d = ds[rng_.below(ds.size())];
  switch (rng_.below(5)) {
    case 0:  // another block under the certificate
      d.block.header.timestamp_ms += 1;
      break;
    case 1:  // a transaction changed: its signature no longer holds
      if (!d.block.transactions.empty()) {
        d.block.transactions[0].fee = Amount(d.block.transactions[0].fee.units() + 1);
        d.block.header.tx_root = transactions_root(d.block.transactions);
        d.certificate.block_hash = d.block.hash();
      } else {
        d.block.header.state_root = Hash256{};
      }
      break;
    case 2:  // a forged signature in the certificate
      if (!d.certificate.signatures.empty()) d.certificate.signatures[0].signature = Signature{};
      break;
    case 3:  // a wrong state root, certified by a key outside the set
      d.block.header.state_root = Hash256{};
      d.certificate = testing::certify(d.block, {SecretKey::derive_insecure("liar")});
      break;
    default:  // out of order
      if (ds.size() > 1) std::swap(ds.front(), ds.back());
      else d.block.header.height += 1;
      break;
  }
  std::vector<Bytes> out;
  for (const auto& x : ds) out.push_back(consensus::encode_message(x));
  stats.lies++;
  return encode_blocks(out);
}

void Network::outgoing(std::size_t from, std::size_t to, std::uint8_t type, Bytes body) {
  if (from != config_.byzantine || !byzantine_active) return route(from, to, type, std::move(body));
  switch (config_.scenario) {
    case Scenario::honest:
      break;
    case Scenario::equivocate:
      if (type == kFrameConsensus) {
        auto m = consensus::decode_message(body);
        auto* p = m ? std::get_if<consensus::Proposal>(&*m) : nullptr;
        if (p) {
          // Odd peers get the second proposal, even ones the first; some
          // get both, in either order (they can prove the equivocation).
          Bytes other = equivocate(*p);
          if (to % 2 == 1) std::swap(body, other);
          if (rng_.chance(400)) route(from, to, type, std::move(other));
        }
      }
      break;
    case Scenario::withhold:
    case Scenario::late_votes:
      if (type == kFrameConsensus) {
        auto m = consensus::decode_message(body);
        if (m && std::holds_alternative<Vote>(*m)) {
          if (config_.scenario == Scenario::withhold) {
            stats.withheld++;
            return;
          }
          stats.late++;
          // B sends it later: the link's order holds from then.
          loop_.after(milliseconds(rng_.range(300, 3000)), [this, from, to, type, body] {
            if (link(from, to).up) route(from, to, type, body);
          });
          return;
        }
      }
      break;
    case Scenario::lying_sync:
      if (type == kFrameStatus) {
        Reader r(body);
        const std::uint64_t height = r.varint();
        const auto hash = r.fixed<32, HashTag>();
        Writer w;
        w.varint(height + rng_.range(5, 500));
        w.fixed(hash);
        body = w.take();
      } else if (type == kFrameBlocks) {
        // Half the runs the liar answers with bad blocks, half with none
        // at all (it "has" them, but never sends one).
        if (config_.seed % 4 < 2) body = lie_about_blocks(body);
        else {
          body = encode_blocks({});
          stats.lies++;
        }
      }
      break;
    case Scenario::garbage:
      if (rng_.chance(20) && !body.empty()) {
        body[rng_.below(body.size())] ^= static_cast<std::uint8_t>(rng_.range(1, 255));
        stats.garbage++;
      }
      break;
  }
  route(from, to, type, std::move(body));
}

Status SimTransport::start() {
  net_.start(me_);
  return {};
}
void SimTransport::stop() { net_.stop(me_); }
bool SimTransport::send(std::uint64_t peer, std::uint8_t type, ByteView body) { return net_.send(me_, peer, type, body); }
std::size_t SimTransport::broadcast(std::uint8_t type, ByteView body, std::optional<std::uint64_t> except) {
  std::size_t n = 0;
  const auto peers = net_.ep(me_).peers;  // a copy: nothing changes it meanwhile, but be plain about it
  for (const auto& [id, j] : peers)
    if (id != except && net_.send(me_, id, type, body)) ++n;
  return n;
}
void SimTransport::disconnect(std::uint64_t peer, std::string_view reason) { net_.disconnect(me_, peer, reason); }
std::optional<std::uint64_t> SimTransport::peer_with_validator(const PublicKey& key) const {
  for (const auto& [id, j] : net_.ep(me_).peers)
    if (net_.ep(j).validator_key == key) return id;
  return std::nullopt;
}
std::vector<PeerInfo> SimTransport::peers() const {
  std::vector<PeerInfo> out;
  for (const auto& [id, j] : net_.ep(me_).peers) out.push_back(net_.info(me_, j));
  return out;
}
const PublicKey& SimTransport::node_key() const { return net_.ep(me_).node_key; }
TransportCounters SimTransport::counters() const { return net_.ep(me_).counters; }

// ---------------------------------------------------------------- the run

struct RunResult {
  bool ok = true;
  std::string failure;
  std::uint64_t min_height = 0, max_height = 0, committed_txs = 0, admitted = 0, events = 0;
  double sim_seconds = 0;
  std::uint64_t view_changes = 0, synced_blocks = 0, evidence = 0;
  NetStats net;
};

class Simulation {
 public:
  explicit Simulation(const RunConfig& c)
      : config_(c), rng_(c.seed), net_(testing::make_test_net(kUsers, 1'000'000'000, kNodes)),
        network_(loop_, rng_, config_, net_) {
    g_entropy.seed(c.seed);
    net_.genesis.params.epoch_blocks = 20;  // epochs turn over within a run
  }
  ~Simulation() {
    for (auto& n : nodes_)
      if (n) n->stop();
    loop_.clear();
    nodes_.clear();
  }

  RunResult run();
  const std::string& logs() const { return logs_text_; }

 private:
  // Called after each stretch of the loop.
  bool check_livelock() {
    if (loop_.livelocked())
      fail("livelock: over " + std::to_string(Loop::kMaxEventsAtOneInstant) +
           " events at one simulated instant (something reposts itself at once)");
    return result_.ok;
  }
  void fail(const std::string& why) {
    if (result_.ok) {
      result_.ok = false;
      result_.failure = why + " (at " + std::to_string(seconds()) + " s)";
    }
  }
  double seconds() const {
    return std::chrono::duration<double>(loop_.now() - loop_.start()).count();
  }
  std::uint64_t height(std::size_t i) const { return nodes_[i]->chain().tip().height; }
  std::uint64_t min_height() const {
    std::uint64_t h = UINT64_MAX;
    for (std::size_t i = 0; i < kNodes; ++i) h = std::min(h, height(i));
    return h;
  }
  std::uint64_t max_height() const {
    std::uint64_t h = 0;
    for (std::size_t i = 0; i < kNodes; ++i) h = std::max(h, height(i));
    return h;
  }
  void on_commit(std::size_t i, const Block& b, const std::vector<Receipt>& receipts);
  void feed();
  void submit(std::size_t user);
  void fault_window(std::uint64_t ms);
  bool heal_and_check(const std::string& after);
  void final_checks();

  RunConfig config_;
  Rng rng_;
  Loop loop_;
  testing::TestNet net_;
  Network network_;
  std::vector<std::unique_ptr<std::ostringstream>> log_streams_;
  std::vector<std::unique_ptr<Logger>> loggers_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::string logs_text_;
  RunResult result_;

  std::map<std::uint64_t, Hash256> committed_;      // height -> the block first committed there
  std::map<Hash256, std::uint64_t> acknowledged_;   // tx id -> height, as some node reported it committed
  std::set<Hash256> admitted_;                      // accepted by some node's mempool
  struct User {
    std::uint64_t nonce = 0;
    std::optional<Transaction> pending;
    TimePoint sent;
  };
  std::vector<User> users_{kUsers};
  bool feeding_ = true;
};

void Simulation::on_commit(std::size_t i, const Block& b, const std::vector<Receipt>& receipts) {
  const std::uint64_t h = b.header.height;
  const Hash256 hash = b.hash();
  auto [it, fresh] = committed_.emplace(h, hash);
  if (!fresh && it->second != hash)
    fail("fork: node " + std::to_string(i) + " committed " + hash.hex().substr(0, 16) + " at height " +
         std::to_string(h) + ", another node " + it->second.hex().substr(0, 16));
  for (const auto& r : receipts) {
    acknowledged_.emplace(r.tx_id, h);
    for (auto& u : users_)
      if (u.pending && u.pending->id() == r.tx_id) {
        u.pending.reset();
        u.nonce++;
      }
  }
}

void Simulation::submit(std::size_t user) {
  User& u = users_[user];
  if (!u.pending) {
    std::size_t to = rng_.below(kUsers - 1);
    if (to >= user) ++to;
    u.pending = testing::make_transfer(net_.genesis.chain_id, net_.users[user], u.nonce, net_.users[to].public_key(),
                                       rng_.range(1, 1000));
  }
  u.sent = loop_.now();
  const Transaction tx = *u.pending;
  nodes_[rng_.below(kNodes)]->submit_async(tx, [this](verity::Result<Hash256> r) {
    if (r) admitted_.insert(*r);
  });
}

// A transfer every 20-200 ms from an idle user; a user whose transfer has
// not committed within 2 s sends it again, to any node (a client would).
void Simulation::feed() {
  if (feeding_) {
    std::vector<std::size_t> idle;
    for (std::size_t i = 0; i < kUsers; ++i)
      if (!users_[i].pending) idle.push_back(i);
    if (!idle.empty()) submit(idle[rng_.below(idle.size())]);
  }
  for (std::size_t i = 0; i < kUsers; ++i)
    if (users_[i].pending && loop_.now() - users_[i].sent > milliseconds(2000)) submit(i);
  loop_.after(milliseconds(rng_.range(20, 200)), [this] { feed(); });
}

void Simulation::fault_window(std::uint64_t ms) {
  network_.chaos = config_.chaos;
  std::optional<std::size_t> victim;
  if (config_.scenario == Scenario::lying_sync) {
    // An honest node falls behind, then catches up through the liar.
    victim = rng_.below(kNodes - 1);
    if (*victim >= config_.byzantine) ++*victim;
  } else if (rng_.chance(500)) {
    victim = rng_.below(kNodes);
  }
  const TimePoint end = loop_.now() + milliseconds(ms);
  if (victim) {
    const TimePoint cut = loop_.now() + milliseconds(rng_.below(ms / 3));
    const TimePoint mend = end - milliseconds(rng_.below(ms / 3));
    loop_.at(cut, [this, victim] { network_.isolated = victim; });
    loop_.at(mend, [this] { network_.isolated.reset(); });
  }
  if (config_.scenario == Scenario::garbage) {
    for (TimePoint t = loop_.now(); t < end; t += milliseconds(rng_.range(20, 300)))
      loop_.at(t, [this] { network_.send_garbage(); });
  }
  loop_.run_until(end, [this] { return !result_.ok; });
  check_livelock();
  network_.chaos = false;
  network_.isolated.reset();
}

// After the faults end: every node commits kProgress more heights than the
// highest any had at the heal, within kLivenessBound.
bool Simulation::heal_and_check(const std::string& after) {
  constexpr std::uint64_t kProgress = 5;
  constexpr auto kLivenessBound = std::chrono::seconds(150);
  const std::uint64_t target = max_height() + kProgress;
  const TimePoint deadline = loop_.now() + kLivenessBound;
  loop_.run_until(deadline, [&] { return !result_.ok || min_height() >= target; });
  if (!check_livelock()) return false;
  if (min_height() < target) {
    std::string hs;
    for (std::size_t i = 0; i < kNodes; ++i) hs += " " + std::to_string(height(i));
    fail("no progress after " + after + ": heights" + hs + " after " + std::to_string(kLivenessBound.count()) +
         " s, wanted " + std::to_string(target));
    return false;
  }
  return true;
}

void Simulation::final_checks() {
  // Every block the same on every node, height by height.
  const std::uint64_t low = min_height();
  for (std::uint64_t h = 1; h <= low && result_.ok; ++h) {
    std::optional<Hash256> first;
    for (std::size_t i = 0; i < kNodes; ++i) {
      auto b = nodes_[i]->chain().block_at(h);
      if (!b || !b->has_value()) {
        fail("node " + std::to_string(i) + " has no block at " + std::to_string(h));
        return;
      }
      const Hash256 hash = (*b)->hash();
      if (first && *first != hash) {
        fail("fork in the stored chains at height " + std::to_string(h));
        return;
      }
      first = hash;
    }
  }
  // Every transaction acknowledged as committed is in every node's chain.
  std::map<Hash256, std::size_t> found;
  for (std::size_t i = 0; i < kNodes; ++i)
    for (std::uint64_t h = 1; h <= height(i); ++h) {
      auto b = nodes_[i]->chain().block_at(h);
      if (!b || !b->has_value()) continue;
      for (const auto& tx : (*b)->transactions) found[tx.id()]++;
    }
  for (const auto& [id, h] : acknowledged_)
    if (found[id] != kNodes) {
      fail("transaction " + id.hex().substr(0, 16) + " acknowledged committed at height " + std::to_string(h) +
           " is in " + std::to_string(found[id]) + " of " + std::to_string(kNodes) + " chains (heights " +
           std::to_string(min_height()) + ".." + std::to_string(max_height()) + ")");
      return;
    }
  // Sync asks a peer again only when it has reason to: at most about one
  // get_blocks per peer's status (one a second) beyond the blocks taken.
  // A peer claiming a height it never serves once pinned sync to itself,
  // a request per round trip.
  const std::uint64_t requests = network_.stats.by_type[kFrameGetBlocks];
  const std::uint64_t bound = 2 * kNodes * static_cast<std::uint64_t>(seconds() + 1) + 64;
  if (requests > bound) {
    fail("sync asked " + std::to_string(requests) + " times for blocks in " + std::to_string(seconds()) +
         " simulated seconds (bound " + std::to_string(bound) + ")");
    return;
  }
  // Every transfer some mempool admitted was committed.
  for (const auto& id : admitted_)
    if (!acknowledged_.count(id)) {
      fail("transaction " + id.hex().substr(0, 16) + " admitted by a mempool never committed");
      return;
    }
}

RunResult Simulation::run() {
  const auto wall_start = std::chrono::system_clock::time_point(std::chrono::seconds(net_.genesis.genesis_time));
  for (std::size_t i = 0; i < kNodes; ++i) {
    Config config;
    config.moniker = "sim-" + std::to_string(i);
    config.consensus.timeout_ms = 1000;
    config.consensus.empty_block_interval_ms = 250;
    log_streams_.push_back(std::make_unique<std::ostringstream>());
    loggers_.push_back(std::make_unique<Logger>(LogLevel::warn, log_streams_.back().get()));
    const SecretKey node_key = SecretKey::derive_insecure("sim-node-" + std::to_string(i));
    network_.ep(i).node_key = node_key.public_key();
    network_.ep(i).validator_key = net_.validators[i].public_key();
    NodeParts parts{net_.genesis, node_key, net_.validators[i], state::open_memory_store(),
                    []() -> verity::Result<std::unique_ptr<SafetyRecord>> {
                      return std::unique_ptr<SafetyRecord>(std::make_unique<MemorySafety>());
                    },
                    std::nullopt};
    NodeEnv env;
    env.clock = std::make_unique<SimClock>(loop_, wall_start);
    env.workers = std::make_unique<InlineWorkers>();
    env.make_transport = [this, i](P2PHandler& handler) -> verity::Result<std::unique_ptr<Transport>> {
      network_.ep(i).handler = &handler;
      return std::unique_ptr<Transport>(std::make_unique<SimTransport>(network_, i));
    };
    auto n = Node::open(config, *loggers_.back(), std::move(parts), std::move(env));
    if (!n) {
      fail("open: " + n.error().to_string());
      return result_;
    }
    (*n)->on_commit([this, i](const Block& b, const std::vector<Receipt>& receipts, const std::vector<Event>&) {
      on_commit(i, b, receipts);
    });
    nodes_.push_back(std::move(*n));
  }
  for (auto& n : nodes_)
    if (auto s = n->start(); !s) fail("start: " + s.error().to_string());
  loop_.after(milliseconds(100), [this] { feed(); });

  loop_.run_until(loop_.start() + milliseconds(1500), [this] { return !result_.ok; });
  if (check_livelock()) heal_and_check("the start");
  for (int w = 0; w < kFaultWindows && result_.ok; ++w) {
    fault_window(rng_.range(3000, 10000));
    if (result_.ok) heal_and_check("fault window " + std::to_string(w + 1));
  }
  // Drain: no new transfers; what waits must commit everywhere.
  feeding_ = false;
  if (result_.ok) {
    const TimePoint deadline = loop_.now() + std::chrono::seconds(60);
    auto drained = [&] {
      if (!result_.ok) return true;
      for (const auto& u : users_)
        if (u.pending && admitted_.count(u.pending->id())) return false;
      std::uint64_t top = 0;
      for (const auto& [id, h] : acknowledged_) top = std::max(top, h);
      return min_height() >= top;
    };
    loop_.run_until(deadline, drained);
    check_livelock();
  }
  for (std::size_t i = 0; i < kNodes; ++i)
    if (nodes_[i]->fatal()) fail("node " + std::to_string(i) + " stopped: " + nodes_[i]->fatal()->to_string());
  if (result_.ok) final_checks();

  result_.min_height = min_height();
  result_.max_height = max_height();
  result_.committed_txs = acknowledged_.size();
  result_.admitted = admitted_.size();
  result_.events = loop_.events();
  result_.sim_seconds = seconds();
  result_.net = network_.stats;
  for (const auto& n : nodes_) {
    result_.view_changes = std::max(result_.view_changes, n->stats().view_changes);
    result_.synced_blocks += n->stats().synced_blocks;
    result_.evidence += n->stats().evidence_committed;
  }
  if (!result_.ok)
    for (std::size_t i = 0; i < kNodes; ++i) {
      std::string text = log_streams_[i]->str();
      if (text.size() > 3000) text = "..." + text.substr(text.size() - 3000);
      logs_text_ += "--- node " + std::to_string(i) + " (warn and above, last lines)\n" + text;
    }
  return result_;
}

bool run_one(const RunConfig& c, bool verbose) {
  Simulation sim(c);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = sim.run();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (verbose || !r.ok) {
    std::printf("%s %s: heights %llu..%llu, %llu txs committed (%llu admitted), %.0f s simulated in %.2f s, %llu events\n",
                r.ok ? "ok  " : "FAIL", c.describe().c_str(), (unsigned long long)r.min_height,
                (unsigned long long)r.max_height, (unsigned long long)r.committed_txs, (unsigned long long)r.admitted,
                r.sim_seconds, wall, (unsigned long long)r.events);
  }
  if (verbose) {
    const auto& n = r.net;
    std::printf("     views %llu, synced %llu, evidence %llu; frames %llu delivered, %llu dropped, %llu duplicated, "
                "%llu partitioned; byzantine: %llu equivocations, %llu withheld, %llu late, %llu lies, %llu garbage; "
                "%llu peers dropped:",
                (unsigned long long)r.view_changes, (unsigned long long)r.synced_blocks, (unsigned long long)r.evidence,
                (unsigned long long)n.delivered, (unsigned long long)n.dropped, (unsigned long long)n.duplicated,
                (unsigned long long)n.partitioned, (unsigned long long)n.equivocations, (unsigned long long)n.withheld,
                (unsigned long long)n.late, (unsigned long long)n.lies, (unsigned long long)n.garbage,
                (unsigned long long)n.peer_drops);
    for (const auto& [why, count] : n.drop_reasons) std::printf(" %s=%llu", why.c_str(), (unsigned long long)count);
    std::printf("; by type:");
    for (int t = 1; t <= 6; ++t) std::printf(" %d=%llu", t, (unsigned long long)n.by_type[t]);
    std::printf("\n");
  }
  if (!r.ok) {
    std::printf("     %s\n%s", r.failure.c_str(), verbose ? sim.logs().c_str() : "");
    std::printf("     replay: build/tests/node_simulation --seed %llu --verbose\n", (unsigned long long)c.seed);
  }
  return r.ok;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::uint64_t seeds = 0, first = 1, one = 0;
  bool single = false, verbose = false;
  verity::testing::SimArgs args(argc, argv);
  while (args.next()) {
    const std::string& a = args.option();
    if (a == "--seeds") seeds = args.number();
    else if (a == "--first") first = args.number();
    else if (a == "--seed") { one = args.number(); single = true; }
    else if (a == "--verbose") verbose = true;
    else {
      std::fprintf(stderr, "usage: %s --seeds N [--first S] [--verbose] | --seed S [--verbose]\n", argv[0]);
      return 2;
    }
  }
  if (single) return run_one(RunConfig::for_seed(one), true) ? 0 : 1;
  if (seeds == 0) seeds = 50;
  std::uint64_t passed = 0, failed = 0;
  for (std::uint64_t s = first; s < first + seeds; ++s) {
    if (run_one(RunConfig::for_seed(s), verbose)) passed++;
    else failed++;
    if (!verbose && (s - first + 1) % 100 == 0) std::printf("... %llu runs\n", (unsigned long long)(s - first + 1));
  }
  std::printf("%llu passed, %llu failed\n", (unsigned long long)passed, (unsigned long long)failed);
  return failed == 0 ? 0 : 1;
}
