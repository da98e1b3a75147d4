// The load generator of the node benchmark: pre-signs transfers, feeds them
// to running validators over authenticated peer links (as a peer, the way
// transactions are gossiped), and watches committed blocks to time each
// transaction from submission to finality.
//
//   node_load --genesis FILE --peers HOST:PORT,... [--rate TX_PER_S | --burst N]
//             [--seconds S] [--wait S] [--corrupt-every N] [--spread]
//   node_load --measure-verify SECONDS   # prints one core's verifications/s
//
// --rate sends at a steady rate for --seconds; --burst sends N at once
// (saturation). The senders are the devnet accounts alice, bob, carol and
// dave with nonces from 0: run it against a fresh devnet (bench/node_load.py
// starts one). Each sender's transactions go to one validator, in nonce
// order, so gossip keeps them in order. Prints one summary line, and where
// the latency went: until the proposal that carried a transaction (its
// header's timestamp) and from there on. --spread also times the copies the
// other validators relay back (decoding each costs this process CPU the
// validators share, so the saturation run leaves it off).

#include <utility>

#include <boost/asio.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "consensus/messages.h"
#include "node/node.h"
#include "node/p2p.h"
#include "rpc/genesis_json.h"

using namespace verity;
using namespace verity::node;
using Steady = std::chrono::steady_clock;

namespace {

struct Options {
  std::string genesis;
  std::vector<std::string> peers;
  double rate = 0;
  std::size_t burst = 0;
  double seconds = 10;
  double wait = 30;
  std::size_t corrupt_every = 0;  // every Nth transfer's signature is broken (tests: a lying peer)
  bool spread = false;
};

[[noreturn]] void usage(const std::string& why) {
  std::cerr << "node_load: " << why << "\n"
            << "usage: node_load --genesis FILE --peers HOST:PORT,... (--rate TX_PER_S | --burst N) [--seconds S] [--wait S]\n"
            << "       [--corrupt-every N] [--spread]\n";
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    if (a == "--genesis") o.genesis = next();
    else if (a == "--peers") {
      std::stringstream s(next());
      std::string p;
      while (std::getline(s, p, ',')) o.peers.push_back(p);
    } else if (a == "--rate") o.rate = std::stod(next());
    else if (a == "--burst") o.burst = std::stoul(next());
    else if (a == "--seconds") o.seconds = std::stod(next());
    else if (a == "--wait") o.wait = std::stod(next());
    else if (a == "--corrupt-every") o.corrupt_every = std::stoul(next());
    else if (a == "--spread") o.spread = true;
    else usage("unknown option " + a);
  }
  if (o.genesis.empty() || o.peers.empty() || (o.rate <= 0 && o.burst == 0)) usage("missing options");
  return o;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

class Load final : public P2PHandler {
 public:
  Load(boost::asio::io_context& io, Options o, Genesis g, Logger& logger)
      : io_(io), o_(std::move(o)), genesis_(std::move(g)), tick_(io), poll_(io) {
    P2PConfig pc(SecretKey::generate());
    pc.chain_id = genesis_.chain_id;
    pc.listen_port = 0;
    for (const auto& p : o_.peers) pc.persistent_peers.push_back(parse_peer_address(p).value());
    p2p_ = std::make_unique<P2P>(io, std::move(pc), *this, logger);
    const std::size_t total = o_.burst ? o_.burst : static_cast<std::size_t>(o_.rate * o_.seconds);
    const char* names[] = {"alice", "bob", "carol", "dave"};
    const PublicKey to = SecretKey::derive_insecure("load-sink").public_key();
    std::vector<SecretKey> keys;
    for (auto n : names) keys.push_back(SecretKey::derive_insecure(n));
    auto t0 = Steady::now();
    for (std::size_t i = 0; i < total; ++i) {
      Transaction tx;
      tx.chain_id = genesis_.chain_id;
      tx.nonce = i / keys.size();
      tx.fee = Amount(1);
      tx.payload = Transfer{to, Amount(1)};
      tx.sign(keys[i % keys.size()]);
      if (o_.corrupt_every && (i + 1) % o_.corrupt_every == 0) tx.signature.data[7] ^= 0x01;
      txs_.push_back({tx.id(), encode(tx), i % keys.size()});
    }
    std::fprintf(stderr, "node_load: pre-signed %zu transfers in %.2f s\n", total,
                 std::chrono::duration<double>(Steady::now() - t0).count());
  }

  void start() {
    if (auto s = p2p_->start(); !s) usage(s.error().to_string());
    wait_connected();
  }

  void on_connected(const PeerInfo& p) override {
    for (std::size_t i = 0; i < o_.peers.size(); ++i)
      if (o_.peers[i].ends_with(":" + std::to_string(p.listen_port))) by_index_[i] = p.id;
  }
  void on_disconnected(const PeerInfo& p) override {
    for (auto it = by_index_.begin(); it != by_index_.end();)
      it = it->second == p.id ? by_index_.erase(it) : std::next(it);
  }
  bool on_frame(const PeerInfo&, std::uint8_t type, ByteView body, std::string&) override {
    if (type == kFrameTx && o_.spread) {
      if (auto tx = decode_transaction(body)) {
        auto it = sent_at_.find(tx->id());
        if (it != sent_at_.end())
          relayed_ms_.push_back(std::chrono::duration<double, std::milli>(Steady::now() - it->second.steady).count());
      }
      return true;
    }
    if (type != kFrameBlocks) return true;
    polling_ = false;
    auto items = decode_blocks(body);
    for (ByteView item : items ? *items : std::vector<ByteView>{}) {
      auto m = consensus::decode_message(item);
      if (!m) continue;
      auto* d = std::get_if<consensus::Decision>(&*m);
      if (!d) continue;
      next_height_ = d->block.header.height + 1;
      const auto now = Steady::now();
      for (const auto& tx : d->block.transactions) {
        auto it = sent_at_.find(tx.id());
        if (it == sent_at_.end()) continue;
        latencies_ms_.push_back(std::chrono::duration<double, std::milli>(now - it->second.steady).count());
        // The header's timestamp is the proposer's wall clock (this machine's).
        const double proposed_ms = static_cast<double>(d->block.header.timestamp_ms);
        to_proposal_ms_.push_back(proposed_ms - it->second.wall_ms);
        from_proposal_ms_.push_back(wall_ms() - proposed_ms);
        if (!first_commit_) first_commit_ = now;
        last_commit_ = now;
        sent_at_.erase(it);
      }
    }
    if (items && !items->empty()) {
      poll();  // there may be more
    } else {
      // Nothing new: ask again in 1 ms, so that the latency measured is the
      // chain's, not this loop's (5 ms here added about 3 ms to the p50).
      poll_.expires_after(std::chrono::milliseconds(1));
      poll_.async_wait([this](auto ec) {
        if (!ec) poll();
      });
    }
    return true;
  }

 private:
  struct Pending {
    Hash256 id;
    Bytes bytes;
    std::size_t sender;
  };

  void wait_connected() {
    if (by_index_.size() < o_.peers.size()) {
      tick_.expires_after(std::chrono::milliseconds(20));
      tick_.async_wait([this](auto ec) {
        if (!ec) wait_connected();
      });
      return;
    }
    start_ = Steady::now();
    send_more();
    poll();
  }

  void send_more() {
    const double elapsed = std::chrono::duration<double>(Steady::now() - start_).count();
    std::size_t due = o_.burst ? txs_.size() : std::min(txs_.size(), static_cast<std::size_t>(elapsed * o_.rate));
    while (next_ < due) {
      const auto& t = txs_[next_];
      auto peer = by_index_.find(t.sender % o_.peers.size());
      if (peer == by_index_.end() || !p2p_->send(peer->second, kFrameTx, t.bytes)) break;  // retry on the next tick
      sent_at_[t.id] = Sent{Steady::now(), wall_ms()};
      ++next_;
    }
    if (next_ == txs_.size() && !sent_all_) {
      sent_all_ = true;
      sent_done_ = Steady::now();
    }
    const bool done = sent_all_ && (sent_at_.empty() ||
                                    std::chrono::duration<double>(Steady::now() - sent_done_).count() > o_.wait);
    if (done) {
      report();
      p2p_->stop();
      tick_.cancel();
      poll_.cancel();
      return;
    }
    tick_.expires_after(std::chrono::milliseconds(1));
    tick_.async_wait([this](auto ec) {
      if (!ec) send_more();
    });
  }

  void poll() {
    if (polling_ || by_index_.empty()) return;
    if (p2p_->send(by_index_.begin()->second, kFrameGetBlocks, encode_get_blocks(next_height_, kMaxBlocksPerRequest)))
      polling_ = true;
    // An answer may take a while from a busy validator (blocks of 10,000
    // transfers are megabytes): asking again sooner only adds to its load.
    poll_.expires_after(std::chrono::milliseconds(polling_ ? 2000 : 5));
    poll_.async_wait([this](auto ec) {
      if (ec) return;
      polling_ = false;  // lost or empty: ask again
      poll();
    });
  }

  void report() {
    const std::size_t finalized = latencies_ms_.size();
    const double send_s = std::chrono::duration<double>(sent_done_ - start_).count();
    const double window = first_commit_ ? std::chrono::duration<double>(*last_commit_ - start_).count() : 0;
    std::printf("sent %zu in %.2f s (%.0f tx/s offered); finalized %zu (%zu missing) in %.2f s: %.0f tx/s; "
                "latency p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
                txs_.size(), send_s, send_s > 0 ? static_cast<double>(txs_.size()) / send_s : 0.0, finalized,
                sent_at_.size(), window, window > 0 ? static_cast<double>(finalized) / window : 0.0,
                percentile(latencies_ms_, 0.50), percentile(latencies_ms_, 0.99), percentile(latencies_ms_, 1.0));
    if (!latencies_ms_.empty())
      std::printf("  of which: submit to the proposal that carried it p50 %.1f ms, p99 %.1f ms; "
                  "that proposal to seen final p50 %.1f ms, p99 %.1f ms\n",
                  percentile(to_proposal_ms_, 0.50), percentile(to_proposal_ms_, 0.99),
                  percentile(from_proposal_ms_, 0.50), percentile(from_proposal_ms_, 0.99));
    if (!relayed_ms_.empty())
      std::printf("  mempool spread: a copy relayed back by another validator after p50 %.1f ms, p90 %.1f ms\n",
                  percentile(relayed_ms_, 0.50), percentile(relayed_ms_, 0.90));
    std::fflush(stdout);
    missing_ = sent_at_.size();
  }

 public:
  std::size_t missing_ = 0;

 private:
  boost::asio::io_context& io_;
  Options o_;
  Genesis genesis_;
  std::unique_ptr<P2P> p2p_;
  boost::asio::steady_timer tick_, poll_;
  std::vector<Pending> txs_;
  std::map<std::size_t, std::uint64_t> by_index_;
  struct Sent {
    Steady::time_point steady;
    double wall_ms;  // to compare with a header's timestamp_ms
  };
  // A validator that admitted a transaction from another validator passes
  // it on to the peers that are not validators, this one among them: the
  // time until a copy comes back is how long the mempools take to spread it.
  std::vector<double> relayed_ms_;
  static double wall_ms() {
    return std::chrono::duration<double, std::milli>(std::chrono::system_clock::now().time_since_epoch()).count();
  }
  std::map<Hash256, Sent> sent_at_;
  std::vector<double> latencies_ms_, to_proposal_ms_, from_proposal_ms_;
  std::size_t next_ = 0;
  bool sent_all_ = false, polling_ = false;
  std::uint64_t next_height_ = 1;
  Steady::time_point start_, sent_done_;
  std::optional<Steady::time_point> first_commit_, last_commit_;
};

}  // namespace

// One core's BIP-340 verifications per second of a signed transfer (its
// signing hash included, as admission pays it): the unit of the node
// benchmark's signature bound.
int measure_verify(double seconds) {
  Transaction tx;
  tx.chain_id = "bench";
  tx.fee = Amount(1);
  tx.payload = Transfer{SecretKey::derive_insecure("to").public_key(), Amount(1)};
  tx.sign(SecretKey::derive_insecure("from"));
  std::size_t n = 0;
  const auto start = Steady::now();
  double elapsed = 0;
  bool ok = true;
  while (elapsed < seconds) {
    for (int i = 0; i < 100; ++i) ok = tx.verify_signature() && ok;
    n += 100;
    elapsed = std::chrono::duration<double>(Steady::now() - start).count();
  }
  if (!ok) return 1;
  std::printf("%.0f\n", static_cast<double>(n) / elapsed);
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--measure-verify") return measure_verify(std::stod(argv[2]));
  Options o = parse(argc, argv);
  std::ifstream in(o.genesis);
  std::stringstream text;
  text << in.rdbuf();
  auto g = rpc::genesis_from_json(text.str());
  if (!g) usage(o.genesis + ": " + g.error().to_string());
  Logger logger(LogLevel::warn);
  boost::asio::io_context io;
  Load load(io, o, *g, logger);
  load.start();
  io.run();
  return load.missing_ == 0 ? 0 : 1;
}
