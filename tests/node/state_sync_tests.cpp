// Joining by state sync (node/state_sync.h) against scripted peers that
// serve a real chain's snapshot, blocks and hand-offs, some of them lying:
// each lie drops its peer, the request goes to another, and the store ends
// as the chain it was taken from, one that commits the next block.
#define BOOST_TEST_MODULE state_sync_tests
#include <boost/test/unit_test.hpp>

#include <deque>
#include <sstream>

#include "contracts/native.h"
#include "node/node.h"
#include "node/snapshots.h"
#include "node/state_sync.h"
#include "tests/chain_support.h"
#include "tests/test_support.h"

using namespace verity;
using namespace verity::node;
using namespace verity::testing;

namespace {

// Time moves only when nothing is left to run.
class ManualClock final : public Clock {
 public:
  TimePoint now() const override { return now_; }
  std::chrono::system_clock::time_point system_now() const override { return {}; }
  TimerId schedule(TimePoint at, Callback fn) override {
    timers_.emplace(++next_, std::pair{at, std::move(fn)});
    return next_;
  }
  void cancel(TimerId id) override { timers_.erase(id); }
  void post(Callback fn) override { posted_.push_back(std::move(fn)); }
  // Runs until `done()` or nothing is left; false on the latter.
  bool run(const std::function<bool()>& done, std::size_t max_steps = 100'000) {
    for (std::size_t i = 0; i < max_steps && !done(); ++i) {
      if (!posted_.empty()) {
        auto fn = std::move(posted_.front());
        posted_.pop_front();
        fn();
        continue;
      }
      if (timers_.empty()) return false;
      auto next = std::min_element(timers_.begin(), timers_.end(),
                                   [](const auto& a, const auto& b) { return a.second.first < b.second.first; });
      now_ = std::max(now_, next->second.first);
      auto fn = std::move(next->second.second);
      timers_.erase(next);
      fn();
    }
    return done();
  }

 private:
  TimePoint now_{};
  TimerId next_ = 0;
  std::map<TimerId, std::pair<TimePoint, Callback>> timers_;
  std::deque<Callback> posted_;
};

// A chain, its snapshot files, and what an honest peer answers from them.
struct Source {
  TestNet net;
  contracts::NativeContracts app;
  std::unique_ptr<state::KvStore> store = state::open_memory_store();
  std::unique_ptr<state::Chain> chain;
  TempDir dir{"state-sync"};
  std::unique_ptr<SnapshotFiles> files;
  std::shared_ptr<const state::ChainView> view;  // at the snapshot
  state::SnapshotManifest manifest;

  // `blocks` blocks (epochs of 4), a snapshot at the last, in small chunks.
  explicit Source(std::uint64_t blocks) : net(make_test_net(60)) {
    net.genesis.params.epoch_blocks = 4;
    chain = state::Chain::open(*store, net.genesis, app).value();
    for (std::uint64_t h = 1; h <= blocks; ++h) {
      std::vector<Transaction> txs;
      for (std::size_t i = 0; i < 5; ++i)
        txs.push_back(make_transfer(net.genesis.chain_id, net.users[(h * 5 + i) % 60], h / 12,
                                    SecretKey::derive_insecure("new-" + std::to_string(h * 5 + i)).public_key(), 10));
      if (!produce_block(*chain, net, txs)) throw std::runtime_error("block " + std::to_string(h));
    }
    files = SnapshotFiles::open(dir.path, 2).value();
    view = chain->view();
    manifest = files->write(*view, 1024).value();
  }

  // An honest answer to a request, or nothing.
  std::optional<std::pair<std::uint8_t, Bytes>> answer(std::uint8_t type, ByteView body) {
    switch (type) {
      case kFrameGetSnapshots:
        return std::pair{kFrameSnapshots, encode_snapshots(files->list())};
      case kFrameGetBlocks: {
        auto r = decode_get_blocks(body).value();
        auto b = view->block_at(r.from).value();
        auto c = view->certificate_at(r.from).value();
        std::vector<Bytes> items;
        if (b && c) items.push_back(consensus::encode_message(consensus::Decision{*b, *c}));
        return std::pair{kFrameBlocks, encode_blocks(items)};
      }
      case kFrameGetHandoffs: {
        auto r = decode_get_blocks(body).value();
        return std::pair{kFrameHandoffs, encode_handoffs(view->handoffs(r.from, r.max).value())};
      }
      case kFrameGetChunk: {
        auto r = decode_get_chunk(body).value();
        return std::pair{kFrameChunk, encode_chunk(r.height, r.index, files->chunk(r.height, r.index).value())};
      }
      default:
        return std::nullopt;
    }
  }
};

// Peers played by the test: each answers through a function (honest:
// Source::answer; a liar alters it), after the send, on the clock.
class ScriptedPeers final : public Transport {
 public:
  using Answer = std::function<std::optional<std::pair<std::uint8_t, Bytes>>(std::uint8_t, ByteView)>;
  ScriptedPeers(ManualClock& clock, P2PHandler& handler) : clock_(clock), handler_(handler) {}
  std::uint64_t add(Answer answer) {
    PeerInfo p;
    p.id = ++next_;
    p.node_key = SecretKey::derive_insecure("peer-" + std::to_string(p.id)).public_key();
    peers_[p.id] = {p, std::move(answer)};
    return p.id;
  }
  Status start() override {
    for (auto& [id, p] : peers_) clock_.post([this, info = p.info] { handler_.on_connected(info); });
    return {};
  }
  void stop() override {}
  bool send(std::uint64_t peer, std::uint8_t type, ByteView body) override {
    auto it = peers_.find(peer);
    if (it == peers_.end()) return false;
    ++requests_[peer];
    auto reply = it->second.answer(type, body);
    if (reply)
      clock_.post([this, peer, reply = std::move(*reply)] {
        auto p = peers_.find(peer);
        std::string reason;
        if (p != peers_.end()) handler_.on_frame(p->second.info, reply.first, reply.second, reason);
      });
    return true;
  }
  std::size_t broadcast(std::uint8_t, ByteView, std::optional<std::uint64_t>) override { return 0; }
  void disconnect(std::uint64_t peer, std::string_view reason) override {
    auto it = peers_.find(peer);
    if (it == peers_.end()) return;
    dropped_[peer] = std::string(reason);
    PeerInfo info = it->second.info;
    peers_.erase(it);
    clock_.post([this, info] { handler_.on_disconnected(info); });
  }
  std::optional<std::uint64_t> peer_with_validator(const PublicKey&) const override { return std::nullopt; }
  std::vector<PeerInfo> peers() const override {
    std::vector<PeerInfo> out;
    for (const auto& [id, p] : peers_) out.push_back(p.info);
    return out;
  }
  const PublicKey& node_key() const override { return key_; }
  std::uint16_t listen_port() const override { return 0; }
  TransportCounters counters() const override { return {}; }

  std::map<std::uint64_t, std::string> dropped_;
  std::map<std::uint64_t, std::size_t> requests_;

 private:
  struct Peer {
    PeerInfo info;
    Answer answer;
  };
  ManualClock& clock_;
  P2PHandler& handler_;
  std::map<std::uint64_t, Peer> peers_;
  std::uint64_t next_ = 0;
  PublicKey key_ = SecretKey::derive_insecure("syncing-node").public_key();
};

// The flat state ("s/" keys) of a store.
std::map<Bytes, Bytes> flat_state(const state::KvStore& store) {
  std::map<Bytes, Bytes> out;
  (void)store.scan(prefixed_key("s/", {}), [&](ByteView k, ByteView v) {
    out.emplace(Bytes(k.begin(), k.end()), Bytes(v.begin(), v.end()));
    return true;
  });
  return out;
}

struct Run {
  ManualClock clock;
  std::ostringstream log_text;
  Logger logger{LogLevel::debug, &log_text};
  std::unique_ptr<state::KvStore> target = state::open_memory_store();
  std::optional<StateSync> sync;
  std::optional<ScriptedPeers> peers;
  std::optional<Result<StateSyncReport>> result;

  explicit Run(const Source& s) {
    sync.emplace(s.net.genesis, *target, clock, logger);
    peers.emplace(clock, *sync);
  }
  Result<StateSyncReport> go() {
    sync->start(*peers, [this](Result<StateSyncReport> r) { result = std::move(r); });
    if (!clock.run([this] { return result.has_value(); })) return local_error("test-stalled", log_text.str());
    return *result;
  }
};

// The synced store is the source's chain at the snapshot: same flat state,
// the block and its certificate, a clean check(), and the next block commits.
void expect_joined(Source& s, state::KvStore& target) {
  BOOST_TEST((flat_state(target) == flat_state(*s.store)));
  contracts::NativeContracts app;
  auto chain = state::Chain::open(target, s.net.genesis, app);
  BOOST_REQUIRE_MESSAGE(chain, (chain ? "" : chain.error().to_string()));
  BOOST_TEST(((*chain)->tip() == s.chain->tip()));
  auto report = (*chain)->check();
  BOOST_REQUIRE_MESSAGE(report, (report ? "" : report.error().to_string()));
  BOOST_TEST(report->first_block == s.chain->tip().height);
  auto next = produce_block(*s.chain, s.net, {});
  BOOST_REQUIRE(next);
  auto cert = s.chain->certificate_at(next->header.height).value().value();
  auto committed = (*chain)->commit(*next, cert);
  BOOST_TEST_MESSAGE((committed ? "" : committed.error().to_string()));
  BOOST_TEST(bool(committed));
  BOOST_TEST(((*chain)->tip() == s.chain->tip()));
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_peer_that_serves_a_bad_chunk_is_dropped_and_the_chunk_comes_from_another) {
  Source s(10);
  BOOST_REQUIRE(s.manifest.chunks.size() > 3u);
  Run run(s);
  auto honest = [&](std::uint8_t t, ByteView b) { return s.answer(t, b); };
  auto liar = run.peers->add([&](std::uint8_t t, ByteView b) {
    auto a = s.answer(t, b);
    if (a && a->first == kFrameChunk) a->second[a->second.size() - 3] ^= 0x01;  // inside the chunk's bytes
    return a;
  });
  auto good = run.peers->add(honest);
  auto r = run.go();
  BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
  BOOST_TEST(r->height == 10u);
  BOOST_TEST(r->peers_dropped == 1u);
  BOOST_TEST(run.peers->dropped_[liar] == "snapshot-bad-chunk");
  BOOST_TEST(!run.peers->dropped_.count(good));
  BOOST_TEST(r->handoffs == 2u);  // epochs 4 and 8 certify 10
  expect_joined(s, *run.target);
}

BOOST_AUTO_TEST_CASE(a_block_or_handoff_that_is_not_the_chains_drops_its_peer) {
  Source s(10);
  for (std::uint8_t lie : {kFrameBlocks, kFrameHandoffs}) {
    BOOST_TEST_CONTEXT("lie in frame " << int(lie)) {
      Run run(s);
      // Requests go round robin from the lowest id: the block to the first
      // peer, the first page of hand-offs to the second.
      if (lie == kFrameHandoffs) run.peers->add([&](std::uint8_t t, ByteView b) { return s.answer(t, b); });
      auto liar = run.peers->add([&, lie](std::uint8_t t, ByteView b) -> std::optional<std::pair<std::uint8_t, Bytes>> {
        auto a = s.answer(t, b);
        if (!a || a->first != lie) return a;
        if (lie == kFrameBlocks) {  // another state root, the same certificate
          auto d = std::get<consensus::Decision>(
              consensus::decode_message(decode_blocks(a->second).value()[0]).value());
          d.block.header.state_root.data[0] ^= 1;
          d.certificate.block_hash = d.block.hash();
          return std::pair{kFrameBlocks, encode_blocks({consensus::encode_message(d)})};
        }
        auto page = decode_handoffs(a->second).value();  // a set that did not come
        page[0].next = make_test_net(1, 1, 3).genesis.validator_set().value();
        return std::pair{kFrameHandoffs, encode_handoffs(page)};
      });
      if (lie == kFrameBlocks) run.peers->add([&](std::uint8_t t, ByteView b) { return s.answer(t, b); });
      auto r = run.go();
      BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
      BOOST_TEST(r->peers_dropped == 1u);
      BOOST_TEST(run.peers->dropped_.count(liar) == 1u);
      BOOST_TEST_MESSAGE("dropped for " << run.peers->dropped_[liar]);
      BOOST_TEST((flat_state(*run.target) == flat_state(*s.store)));
    }
  }
}

BOOST_AUTO_TEST_CASE(a_forged_manifest_is_thrown_away_with_what_it_restored) {
  Source s(10);
  // The forger offers the real height, block and root with chunks of its
  // own: each chunk matches its (forged) id; only the root gives it away.
  Source other(3);
  state::SnapshotManifest forged = other.manifest;
  forged.height = s.manifest.height;
  forged.block_hash = s.manifest.block_hash;
  forged.state_root = s.manifest.state_root;
  forged.entries = other.manifest.entries;
  Run run(s);
  auto forger = run.peers->add([&](std::uint8_t t, ByteView b) -> std::optional<std::pair<std::uint8_t, Bytes>> {
    if (t == kFrameGetSnapshots) return std::pair{kFrameSnapshots, encode_snapshots({forged})};
    if (t == kFrameGetChunk) {
      auto r = decode_get_chunk(b).value();
      return std::pair{kFrameChunk, encode_chunk(r.height, r.index, other.files->chunk(other.manifest.height, r.index).value())};
    }
    return s.answer(t, b);  // the real block and hand-offs
  });
  run.peers->add([&](std::uint8_t t, ByteView b) { return s.answer(t, b); });
  auto r = run.go();
  BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
  BOOST_TEST(run.peers->dropped_[forger] == "snapshot-wrong-root");
  BOOST_TEST(run.log_text.str().find("snapshot-forged") != std::string::npos);
  expect_joined(s, *run.target);  // nothing of the forged state is left
}

BOOST_AUTO_TEST_CASE(an_epoch_block_snapshot_keeps_its_own_handoff) {
  Source s(8);  // 8 is an epoch block: its hand-off names the set after it
  Run run(s);
  run.peers->add([&](std::uint8_t t, ByteView b) { return s.answer(t, b); });
  auto r = run.go();
  BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
  BOOST_TEST(r->handoffs == 2u);  // 4 (certifies 8) and 8 itself
  contracts::NativeContracts app;
  auto chain = state::Chain::open(*run.target, s.net.genesis, app).value();
  auto handoffs = chain->handoffs(0, 10).value();
  BOOST_REQUIRE(handoffs.size() == 2u);
  BOOST_TEST(handoffs.back().header.height == 8u);
  expect_joined(s, *run.target);
}

BOOST_AUTO_TEST_CASE(a_peer_without_the_snapshot_or_silent_is_passed_over_and_sync_waits_for_one) {
  Source s(10);
  Run run(s);
  // Offers the snapshot, then answers nothing: the request times out.
  auto silent = run.peers->add([&](std::uint8_t t, ByteView b) -> std::optional<std::pair<std::uint8_t, Bytes>> {
    if (t == kFrameGetSnapshots) return s.answer(t, b);
    return std::nullopt;
  });
  run.peers->add([&](std::uint8_t t, ByteView b) { return s.answer(t, b); });
  auto r = run.go();
  BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
  BOOST_TEST(r->peers_dropped == 0u);  // slow is not a lie
  BOOST_TEST(!run.peers->dropped_.count(silent));
  BOOST_TEST(run.log_text.str().find("peer-slow") != std::string::npos);
  expect_joined(s, *run.target);
}

BOOST_AUTO_TEST_CASE(a_snapshot_that_goes_away_midway_is_thrown_away_and_another_restored) {
  Source s(10);
  Run run(s);
  const auto start = run.clock.now();
  // Serves the block, the hand-offs and chunk 0, then no longer keeps it.
  run.peers->add([&](std::uint8_t t, ByteView b) -> std::optional<std::pair<std::uint8_t, Bytes>> {
    if (t == kFrameGetChunk) {
      auto r = decode_get_chunk(b).value();
      if (r.index > 0) return std::pair{kFrameChunk, encode_chunk(r.height, r.index, std::nullopt)};
    }
    if (t == kFrameGetSnapshots && run.clock.now() > start) return std::pair{kFrameSnapshots, encode_snapshots({})};
    return s.answer(t, b);
  });
  // Offers nothing for a minute, then the snapshot.
  run.peers->add([&](std::uint8_t t, ByteView b) -> std::optional<std::pair<std::uint8_t, Bytes>> {
    if (t == kFrameGetSnapshots && run.clock.now() - start < std::chrono::minutes(1))
      return std::pair{kFrameSnapshots, encode_snapshots({})};
    return s.answer(t, b);
  });
  auto r = run.go();
  BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
  BOOST_TEST(run.log_text.str().find("snapshot-gone") != std::string::npos);
  BOOST_TEST(r->peers_dropped == 0u);
  expect_joined(s, *run.target);
}

BOOST_AUTO_TEST_CASE(snapshot_files_keep_the_newest_and_never_serve_a_damaged_chunk) {
  Source s(10);
  // Two more snapshots: only the newest two stay.
  BOOST_REQUIRE(produce_block(*s.chain, s.net, {}));
  BOOST_REQUIRE(s.files->write(*s.chain->view(), 1024));
  BOOST_REQUIRE(produce_block(*s.chain, s.net, {}));
  BOOST_REQUIRE(s.files->write(*s.chain->view(), 1024));
  auto kept = s.files->list();
  BOOST_REQUIRE(kept.size() == 2u);
  BOOST_TEST(kept[0].height == 12u);
  BOOST_TEST(kept[1].height == 11u);
  BOOST_TEST(!std::filesystem::exists(s.dir.path / "10"));
  // Each keeps its block and certificate, for when the chain has pruned them.
  auto base = s.files->base(12);
  BOOST_REQUIRE(base.has_value());
  BOOST_TEST(base->block.hash() == kept[0].block_hash);
  BOOST_TEST(base->certificate.block_hash == kept[0].block_hash);
  BOOST_TEST(!s.files->base(10).has_value());
  // A write cancelled (the node stopping) leaves nothing behind.
  BOOST_REQUIRE(produce_block(*s.chain, s.net, {}));
  std::atomic<bool> cancel{true};
  auto cancelled = s.files->write(*s.chain->view(), 1024, &cancel);
  BOOST_TEST((!cancelled && cancelled.error().reason == "snapshot-cancelled"));
  BOOST_TEST(!std::filesystem::exists(s.dir.path / "13.tmp"));
  BOOST_TEST(!std::filesystem::exists(s.dir.path / "13"));
  BOOST_TEST(s.files->list().size() == 2u);
  // A reopen finds them, and throws away an unfinished one.
  std::filesystem::create_directories(s.dir.path / "14.tmp");
  std::filesystem::create_directories(s.dir.path / "99999999999999999999");  // no height: overflows
  auto again = SnapshotFiles::open(s.dir.path, 2).value();
  BOOST_TEST((again->list() == kept));
  BOOST_TEST(!std::filesystem::exists(s.dir.path / "14.tmp"));
  BOOST_TEST(!std::filesystem::exists(s.dir.path / "99999999999999999999"));
  // A damaged chunk file is refused, and its snapshot dropped.
  {
    std::fstream f(s.dir.path / "12" / "1", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(5);
    f.put('\x7f');
  }
  auto bad = again->chunk(12, 1);
  BOOST_TEST((!bad && bad.error().reason == "snapshot-damaged"));
  BOOST_TEST(again->list().size() == 1u);
  BOOST_TEST(!again->chunk(12, 0).value().has_value());  // gone
  BOOST_TEST(again->chunk(11, 0).value().has_value());
}
