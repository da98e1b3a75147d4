#define BOOST_TEST_MODULE p2p_tests
// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include <boost/test/results_collector.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <sstream>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include "node/p2p.h"
#include "node/p2p_tls.h"
#include "test_support.h"

using namespace verity;
using namespace verity::node;
namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using asio::use_awaitable;

namespace {

// ------------------------------------------------------------ nodes

struct Recorder : P2PHandler {
  struct Frame {
    std::uint64_t peer;
    std::uint8_t type;
    Bytes body;
  };
  std::map<std::uint64_t, PeerInfo> connected;  // now
  int connects = 0;
  std::vector<PeerInfo> disconnected;
  std::vector<Frame> frames;
  std::optional<std::uint8_t> reject_type;  // frames of this type are "garbage"

  void on_connected(const PeerInfo& p) override {
    BOOST_TEST(connected.count(p.id) == 0u);
    connected[p.id] = p;
    ++connects;
  }
  void on_disconnected(const PeerInfo& p) override {
    BOOST_TEST(connected.count(p.id) == 1u);
    connected.erase(p.id);
    disconnected.push_back(p);
  }
  bool on_frame(const PeerInfo& p, std::uint8_t type, ByteView body, std::string& reason) override {
    BOOST_TEST(connected.count(p.id) == 1u);
    if (reject_type && type == *reject_type) {
      reason = "test-garbage";
      return false;
    }
    frames.push_back({p.id, type, Bytes(body.begin(), body.end())});
    return true;
  }
  std::size_t frames_from(std::uint64_t peer) const {
    std::size_t n = 0;
    for (const auto& f : frames) n += f.peer == peer;
    return n;
  }
};

struct Node {
  Node(asio::io_context& io, P2PConfig cfg, std::string name_)
      : name(std::move(name_)), key(cfg.node_key), logger(LogLevel::debug, &log), p2p(io, std::move(cfg), rec, logger) {}
  std::string name;
  SecretKey key;
  std::ostringstream log;
  Logger logger;
  Recorder rec;
  P2P p2p;

  // How many log lines contain `needle`.
  int count(std::string_view needle) const {
    std::istringstream in(log.str());
    int n = 0;
    for (std::string line; std::getline(in, line);) n += line.find(needle) != std::string::npos;
    return n;
  }
  PeerAddress address(bool with_key = true) const {
    PeerAddress a{"127.0.0.1", p2p.listen_port(), std::nullopt};
    if (with_key) a.node_key = key.public_key();
    return a;
  }
  tcp::endpoint endpoint() const { return {asio::ip::make_address("127.0.0.1"), p2p.listen_port()}; }
  // The one connected peer with this node key.
  std::optional<PeerInfo> peer_by_key(const PublicKey& k) const {
    std::optional<PeerInfo> out;
    for (const auto& p : p2p.peers())
      if (p.node_key == k) {
        BOOST_TEST(!out.has_value());
        out = p;
      }
    return out;
  }
};

// Every test runs on one io_context in bounded steps; at the end every node
// is stopped and the io_context must run out of work by itself.
struct Net {
  asio::io_context io;
  std::vector<std::unique_ptr<Node>> nodes;
  std::vector<std::function<void()>> cleanups;  // close helper sockets
  bool check_drain = true;

  P2PConfig config(const SecretKey& key, std::string chain = "verity-test") {
    P2PConfig c(key);
    c.chain_id = std::move(chain);
    c.handshake_timeout = 2s;
    c.redial_min = 20ms;
    c.redial_max = 200ms;
    return c;
  }
  Node& add(P2PConfig cfg, std::string name = "") {
    if (name.empty()) name = "node" + std::to_string(nodes.size());
    nodes.push_back(std::make_unique<Node>(io, std::move(cfg), name));
    auto s = nodes.back()->p2p.start();
    BOOST_TEST_REQUIRE(s.ok(), (s.ok() ? "" : s.error().to_string()));
    return *nodes.back();
  }
  Node& add(const SecretKey& key) { return add(config(key)); }

  // Runs until pred() holds or the timeout passes; false on timeout.
  bool run_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 10s) {
    auto deadline = Clock::now() + timeout;
    while (!pred()) {
      if (Clock::now() >= deadline) return false;
      if (io.stopped()) io.restart();
      io.run_for(5ms);
    }
    return true;
  }
  void run_for(std::chrono::milliseconds d) {
    auto deadline = Clock::now() + d;
    while (Clock::now() < deadline) {
      if (io.stopped()) io.restart();
      io.run_for(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()) + 1ms);
    }
  }
  static bool linked(const Node& a, const Node& b) {
    return a.peer_by_key(b.key.public_key()).has_value() && b.peer_by_key(a.key.public_key()).has_value();
  }

  ~Net() {
    for (auto& n : nodes) n->p2p.stop();
    for (auto& c : cleanups) c();
    if (check_drain) {
      // stop() must leave no work behind: run() returns on its own.
      io.restart();
      auto t0 = Clock::now();
      io.run_for(5s);
      BOOST_TEST(io.stopped(), "the io_context still has work after stop()");
      BOOST_TEST((Clock::now() - t0) < 4s);
    }
    auto& results = boost::unit_test::results_collector.results(boost::unit_test::framework::current_test_case().p_id);
    // The nodes' logs: on failure, or always with VERITY_TEST_LOGS=1.
    if (!results.passed() || std::getenv("VERITY_TEST_LOGS"))
      for (auto& n : nodes) std::cerr << "---- log of " << n->name << "\n" << n->log.str();
  }
};

Bytes random_bytes(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  Bytes out(n);
  for (auto& b : out) b = static_cast<std::uint8_t>(rng());
  return out;
}

// ------------------------------------------------------------ raw clients

bool is_closed_by_peer(const boost::system::error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset || ec == ssl::error::stream_truncated ||
         ec == asio::error::broken_pipe;
}

// A hand-driven client that speaks as much of the protocol as a test wants.
struct Client {
  Client(asio::io_context& io, std::shared_ptr<ssl::context> ctx_) : ctx(std::move(ctx_)), s(io, *ctx) {}
  std::shared_ptr<ssl::context> ctx;
  ssl::stream<tcp::socket> s;
  bool tls_ok = false, tls_failed = false, closed_by_peer = false, finished = false;
  std::string error;
  std::optional<p2p::Hello> server_hello;
  Clock::time_point connected_at, closed_at;
  void close() {
    boost::system::error_code ignored;
    s.lowest_layer().close(ignored);
  }
};

enum class HelloMode { good, claims_other_key, reflected_role, none };

struct Script {
  bool tls = true;
  Bytes raw;  // plain TCP: bytes to send
  SecretKey key = SecretKey::generate();
  std::string chain = "verity-test";
  HelloMode hello = HelloMode::good;
  std::vector<Bytes> after;  // written once both Hellos are exchanged
};

// Reads and discards until the connection ends, which throws.
template <class Stream>
asio::awaitable<void> read_until_closed(Stream& s) {
  std::array<std::uint8_t, 4096> buf;
  for (;;) co_await s.async_read_some(asio::buffer(buf), use_awaitable);
}

asio::awaitable<Bytes> read_frame(ssl::stream<tcp::socket>& s) {
  std::array<std::uint8_t, 4> h;
  co_await asio::async_read(s, asio::buffer(h), use_awaitable);
  std::size_t len = (std::size_t{h[0]} << 24) | (std::size_t{h[1]} << 16) | (std::size_t{h[2]} << 8) | h[3];
  if (len == 0 || len > p2p::kMaxHelloBytes) throw std::runtime_error("bad hello frame length");
  Bytes body(len);
  co_await asio::async_read(s, asio::buffer(body), use_awaitable);
  co_return body;
}

asio::awaitable<void> run_client(std::shared_ptr<Client> c, tcp::endpoint ep, Script script) {
  try {
    co_await c->s.next_layer().async_connect(ep, use_awaitable);
    c->connected_at = Clock::now();
    if (!script.tls) {
      if (!script.raw.empty()) co_await asio::async_write(c->s.next_layer(), asio::buffer(script.raw), use_awaitable);
      co_await read_until_closed(c->s.next_layer());  // throws at the end
    }
    try {
      co_await c->s.async_handshake(ssl::stream_base::client, use_awaitable);
    } catch (const boost::system::system_error&) {
      c->tls_failed = true;
      throw;
    }
    c->tls_ok = true;
    auto ekm = p2p::export_keying_material(c->s.native_handle()).value();
    if (script.hello != HelloMode::none) {
      p2p::Hello h;
      if (script.hello == HelloMode::claims_other_key) {
        h = p2p::make_hello(script.chain, p2p::Role::dialer, ekm, SecretKey::generate(), std::nullopt, 0);
        h.node_key = script.key.public_key();  // the signature is by another key
      } else {
        auto role = script.hello == HelloMode::reflected_role ? p2p::Role::listener : p2p::Role::dialer;
        h = p2p::make_hello(script.chain, role, ekm, script.key, std::nullopt, 0);
      }
      co_await asio::async_write(c->s, asio::buffer(p2p::encode_frame(p2p::kHelloType, encode(h))), use_awaitable);
    }
    Bytes server = co_await read_frame(c->s);
    if (server[0] == p2p::kHelloType) {
      auto h = decode_exact<p2p::Hello>(ByteView(server).subspan(1));
      if (h) c->server_hello = *h;
    }
    for (const auto& b : script.after) co_await asio::async_write(c->s, asio::buffer(b), use_awaitable);
    co_await read_until_closed(c->s);
  } catch (const boost::system::system_error& e) {
    c->closed_by_peer = is_closed_by_peer(e.code());
    c->error = e.code().message();
  } catch (const std::exception& e) {
    c->error = e.what();
  }
  c->closed_at = Clock::now();
  c->finished = true;
}

std::shared_ptr<Client> spawn_client(Net& net, tcp::endpoint ep, Script script,
                                     std::shared_ptr<ssl::context> ctx = nullptr) {
  if (!ctx) ctx = p2p::make_tls_context().value();
  auto c = std::make_shared<Client>(net.io, ctx);
  net.cleanups.push_back([c] { c->close(); });
  asio::co_spawn(net.io, run_client(c, ep, std::move(script)), asio::detached);
  return c;
}

// ------------------------------------------------------------ relays

// Accepts connections and relays each to `target`. With tls, it is a man in
// the middle: it terminates TLS from the dialer with its own certificate,
// opens its own TLS session to the target, and relays the plaintext (the
// Hellos included) both ways. Without, it relays raw TCP bytes.
struct Relay {
  Relay(asio::io_context& io, bool tls_) : acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), tls(tls_) {
    ctx = p2p::make_tls_context().value();
  }
  tcp::acceptor acceptor;
  bool tls;
  std::shared_ptr<ssl::context> ctx;
  std::vector<std::shared_ptr<ssl::stream<tcp::socket>>> streams;
  int sessions = 0;                 // both legs up (TLS done when tls)
  std::size_t bytes_to_target = 0;  // relayed from the dialer to the target
  void close() {
    boost::system::error_code ignored;
    acceptor.close(ignored);
    for (auto& s : streams) s->lowest_layer().close(ignored);
  }
  PeerAddress address() const { return {"127.0.0.1", acceptor.local_endpoint().port(), std::nullopt}; }
};

template <class Stream>
asio::awaitable<void> pump(std::shared_ptr<Relay> r, std::shared_ptr<ssl::stream<tcp::socket>> keep_a,
                           std::shared_ptr<ssl::stream<tcp::socket>> keep_b, Stream& from, Stream& to,
                           bool to_target) {
  std::array<std::uint8_t, 16384> buf;
  try {
    for (;;) {
      std::size_t n = co_await from.async_read_some(asio::buffer(buf), use_awaitable);
      co_await asio::async_write(to, asio::buffer(buf.data(), n), use_awaitable);
      if (to_target) r->bytes_to_target += n;
    }
  } catch (const std::exception&) {
  }
  boost::system::error_code ignored;
  keep_a->lowest_layer().close(ignored);
  keep_b->lowest_layer().close(ignored);
}

asio::awaitable<void> relay_session(std::shared_ptr<Relay> r, tcp::socket in, tcp::endpoint target) {
  auto a = std::make_shared<ssl::stream<tcp::socket>>(std::move(in), *r->ctx);
  auto b = std::make_shared<ssl::stream<tcp::socket>>(r->acceptor.get_executor(), *r->ctx);
  r->streams.push_back(a);
  r->streams.push_back(b);
  try {
    co_await b->next_layer().async_connect(target, use_awaitable);
    auto ex = co_await asio::this_coro::executor;
    if (r->tls) {
      co_await a->async_handshake(ssl::stream_base::server, use_awaitable);
      co_await b->async_handshake(ssl::stream_base::client, use_awaitable);
      ++r->sessions;
      asio::co_spawn(ex, pump(r, a, b, *b, *a, false), asio::detached);
      co_await pump(r, a, b, *a, *b, true);
    } else {
      ++r->sessions;
      asio::co_spawn(ex, pump(r, a, b, b->next_layer(), a->next_layer(), false), asio::detached);
      co_await pump(r, a, b, a->next_layer(), b->next_layer(), true);
    }
  } catch (const std::exception&) {
    boost::system::error_code ignored;
    a->lowest_layer().close(ignored);
    b->lowest_layer().close(ignored);
  }
}

asio::awaitable<void> relay_accept(std::shared_ptr<Relay> r, tcp::endpoint target) {
  try {
    for (;;) {
      tcp::socket s = co_await r->acceptor.async_accept(use_awaitable);
      asio::co_spawn(r->acceptor.get_executor(), relay_session(r, std::move(s), target), asio::detached);
    }
  } catch (const std::exception&) {
  }
}

std::shared_ptr<Relay> spawn_relay(Net& net, bool tls, tcp::endpoint target) {
  auto r = std::make_shared<Relay>(net.io, tls);
  net.cleanups.push_back([r] { r->close(); });
  asio::co_spawn(net.io, relay_accept(r, target), asio::detached);
  return r;
}

}  // namespace

// ============================================================ addresses and wire

BOOST_AUTO_TEST_CASE(peer_addresses_parse_strictly) {
  auto key = SecretKey::derive_insecure("p2p-address").public_key();
  auto a = parse_peer_address("127.0.0.1:26656");
  BOOST_TEST_REQUIRE(a.ok());
  BOOST_TEST(a->host == "127.0.0.1");
  BOOST_TEST(a->port == 26656);
  BOOST_TEST(!a->node_key.has_value());

  auto b = parse_peer_address(key.hex() + "@node-1.example.org:1");
  BOOST_TEST_REQUIRE(b.ok());
  BOOST_TEST(b->host == "node-1.example.org");
  BOOST_TEST(b->port == 1);
  BOOST_TEST((b->node_key == key));
  BOOST_TEST(b->to_string() == key.hex() + "@node-1.example.org:1");

  auto c = parse_peer_address("[::1]:65535");
  BOOST_TEST_REQUIRE(c.ok());
  BOOST_TEST(c->host == "::1");
  BOOST_TEST(c->port == 65535);
  BOOST_TEST(c->to_string() == "[::1]:65535");
  for (const auto& s : {"127.0.0.1:26656", "[::1]:65535", "h:80"}) BOOST_TEST(parse_peer_address(s)->to_string() == s);

  std::string bad_key(64, 'f');  // not on the curve's x range
  for (const std::string& s : std::vector<std::string>{"", "127.0.0.1", "127.0.0.1:", ":26656", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:+80", "127.0.0.1:8a",
        "127.0.0.1:123456", "::1:80", "[::1]80", "[::1:80", "host name:80", "abcd@127.0.0.1:80",
        bad_key + "@127.0.0.1:80", key.hex() + "@:80", key.hex() + "@127.0.0.1"}) {
    auto r = parse_peer_address(s);
    BOOST_TEST(!r.ok(), "accepted '" << s << "'");
    if (!r.ok()) BOOST_TEST(r.error().reason == "bad-peer-address");
  }
}

BOOST_AUTO_TEST_CASE(frames_are_length_type_body) {
  Bytes f = p2p::encode_frame(7, Bytes{0xaa, 0xbb});
  BOOST_TEST(f == (Bytes{0, 0, 0, 3, 7, 0xaa, 0xbb}), boost::test_tools::per_element());
  BOOST_TEST(p2p::encode_frame(1, {}) == (Bytes{0, 0, 0, 1, 1}), boost::test_tools::per_element());
  Bytes big(0x010203, 0);
  Bytes g = p2p::encode_frame(9, big);
  BOOST_TEST(g.size() == big.size() + 5);
  BOOST_TEST((g[0] == 0 && g[1] == 1 && g[2] == 2 && g[3] == 4 && g[4] == 9));
}

BOOST_AUTO_TEST_CASE(hello_round_trips_and_binds_chain_role_and_session) {
  auto node = SecretKey::generate();
  auto validator = SecretKey::generate();
  p2p::Ekm ekm{};
  for (std::size_t i = 0; i < ekm.size(); ++i) ekm[i] = static_cast<std::uint8_t>(i);
  std::string chain(64, 'c');  // the longest chain id: the largest Hello
  auto h = p2p::make_hello(chain, p2p::Role::dialer, ekm, node, validator, 65535);
  Bytes enc = encode(h);
  BOOST_TEST(enc.size() + 1 <= p2p::kMaxHelloBytes);
  BOOST_TEST(enc.size() + 1 == 263u);
  auto back = decode_exact<p2p::Hello>(enc);
  BOOST_TEST_REQUIRE(back.ok());
  BOOST_TEST((*back == h));
  BOOST_TEST(p2p::verify_hello(h, chain, p2p::Role::dialer, ekm).ok());

  // Without a validator key, and strict decoding.
  auto plain = p2p::make_hello("verity-test", p2p::Role::listener, ekm, node, std::nullopt, 26656);
  auto plain_back = decode_exact<p2p::Hello>(encode(plain));
  BOOST_TEST_REQUIRE(plain_back.ok());
  BOOST_TEST(!plain_back->validator_key.has_value());
  Bytes trailing = encode(plain);
  trailing.push_back(0);
  BOOST_TEST(decode_exact<p2p::Hello>(trailing).error().reason == "decode-trailing-bytes");
  Bytes truncated = encode(plain);
  truncated.pop_back();
  BOOST_TEST(!decode_exact<p2p::Hello>(truncated).ok());
  {
    Writer w;  // a port above 65535
    w.varint(1);
    w.string("verity-test");
    w.fixed(node.public_key());
    w.varint(65536);
    w.boolean(false);
    w.fixed(plain.node_signature);
    BOOST_TEST(decode_exact<p2p::Hello>(w.data()).error().reason == "bad-hello-port");
  }

  // Each ingredient of the digest matters.
  auto reason = [&](const p2p::Hello& x, std::string_view c, p2p::Role r, const p2p::Ekm& e) {
    auto s = p2p::verify_hello(x, c, r, e);
    return s.ok() ? std::string("ok") : s.error().reason;
  };
  BOOST_TEST(reason(h, chain, p2p::Role::listener, ekm) == "bad-hello-signature");  // reflected
  auto other_ekm = ekm;
  other_ekm[31] ^= 1;
  BOOST_TEST(reason(h, chain, p2p::Role::dialer, other_ekm) == "bad-hello-signature");  // relayed
  BOOST_TEST(reason(h, "verity-other", p2p::Role::dialer, ekm) == "wrong-chain-id");
  auto v2 = h;
  v2.version = 2;
  BOOST_TEST(reason(v2, chain, p2p::Role::dialer, ekm) == "protocol-version-mismatch");
  auto forged_validator = h;
  forged_validator.validator_key = SecretKey::generate().public_key();
  BOOST_TEST(reason(forged_validator, chain, p2p::Role::dialer, ekm) == "bad-validator-signature");
  auto claimed = h;
  claimed.node_key = validator.public_key();
  BOOST_TEST(reason(claimed, chain, p2p::Role::dialer, ekm) == "bad-hello-signature");
  BOOST_TEST(p2p::handshake_digest("a", p2p::Role::dialer, ekm) != p2p::handshake_digest("a", p2p::Role::listener, ekm));
  // The digest is the documented construction.
  Writer w;
  w.string("a");
  w.u8(1);
  w.raw(ByteView(ekm.data(), ekm.size()));
  BOOST_TEST(p2p::handshake_digest("a", p2p::Role::dialer, ekm) == tagged_hash(Domain::peer_handshake, w.data()));
}

BOOST_FIXTURE_TEST_CASE(start_reports_bad_config_and_busy_port, Net) {
  auto& a = add(SecretKey::generate());
  auto cfg = config(SecretKey::generate());
  cfg.listen_port = a.p2p.listen_port();
  Node busy(io, cfg, "busy");
  auto s = busy.p2p.start();
  BOOST_TEST_REQUIRE(!s.ok());
  BOOST_TEST(s.error().reason == "listen-failed");
  BOOST_TEST(s.error().detail.find("in use") != std::string::npos, s.error().detail);

  auto no_chain = config(SecretKey::generate(), "");
  Node bad(io, no_chain, "bad");
  BOOST_TEST(bad.p2p.start().error().reason == "bad-p2p-config");
  BOOST_TEST(a.p2p.start().error().reason == "p2p-already-started");
}

// ============================================================ links

BOOST_FIXTURE_TEST_CASE(two_nodes_connect_and_exchange_frames_both_ways, Net) {
  auto va = SecretKey::generate(), vb = SecretKey::generate();
  auto ca = config(SecretKey::generate());
  ca.validator_key = va;
  auto& a = add(ca, "a");
  auto cb = config(SecretKey::generate());
  cb.validator_key = vb;
  cb.persistent_peers = {a.address()};
  auto& b = add(cb, "b");
  auto& c = add(config(SecretKey::generate()), "c");  // no validator key
  BOOST_TEST_REQUIRE(c.p2p.add_persistent_peer(a.address(false)).ok());

  BOOST_TEST_REQUIRE(run_until([&] { return linked(a, b) && linked(a, c); }));
  BOOST_TEST(b.p2p.peers().size() == 1u);
  BOOST_TEST(a.p2p.peers().size() == 2u);

  // What each side learned about the other.
  auto b_at_a = *a.peer_by_key(b.key.public_key());
  auto a_at_b = *b.peer_by_key(a.key.public_key());
  auto c_at_a = *a.peer_by_key(c.key.public_key());
  BOOST_TEST((b_at_a.validator_key == vb.public_key()));
  BOOST_TEST((a_at_b.validator_key == va.public_key()));
  BOOST_TEST(!c_at_a.validator_key.has_value());
  BOOST_TEST(!b_at_a.outbound);
  BOOST_TEST(a_at_b.outbound);
  BOOST_TEST(b_at_a.listen_port == b.p2p.listen_port());
  BOOST_TEST(a_at_b.listen_port == a.p2p.listen_port());
  BOOST_TEST(a_at_b.remote == "127.0.0.1:" + std::to_string(a.p2p.listen_port()));
  BOOST_TEST((a.p2p.peer_with_validator(vb.public_key()) == b_at_a.id));
  BOOST_TEST((b.p2p.peer_with_validator(va.public_key()) == a_at_b.id));
  BOOST_TEST(!a.p2p.peer_with_validator(va.public_key()).has_value());
  BOOST_TEST(!a.p2p.peer_with_validator(c.key.public_key()).has_value());
  BOOST_TEST((a.rec.connected.at(b_at_a.id).node_key == b.key.public_key()));
  BOOST_TEST((a.p2p.peer(b_at_a.id)->node_key == b.key.public_key()));

  // Frames both ways, in order, of every size up to a large one.
  Bytes big = random_bytes(3 * 1024 * 1024 + 17, 1);
  BOOST_TEST(b.p2p.send(a_at_b.id, 1, as_bytes("ping")));
  BOOST_TEST(a.p2p.send(b_at_a.id, 255, big));
  BOOST_TEST(a.p2p.send(b_at_a.id, 2, {}));
  BOOST_TEST(!a.p2p.send(b_at_a.id, 0, as_bytes("hello is reserved")));
  BOOST_TEST(!a.p2p.send(999999, 1, as_bytes("nobody")));
  BOOST_TEST(a.p2p.broadcast(3, as_bytes("to all but c"), c_at_a.id) == 1u);
  BOOST_TEST(a.p2p.broadcast(4, as_bytes("to all")) == 2u);
  BOOST_TEST_REQUIRE(run_until([&] { return a.rec.frames.size() == 1 && b.rec.frames.size() == 4 && c.rec.frames.size() == 1; }));

  BOOST_TEST(a.rec.frames[0].peer == b_at_a.id);
  BOOST_TEST(a.rec.frames[0].type == 1);
  BOOST_TEST((a.rec.frames[0].body == Bytes{'p', 'i', 'n', 'g'}));
  BOOST_TEST(b.rec.frames[0].type == 255);
  BOOST_TEST((b.rec.frames[0].body == big));
  BOOST_TEST(b.rec.frames[1].type == 2);
  BOOST_TEST(b.rec.frames[1].body.empty());
  BOOST_TEST(b.rec.frames[2].type == 3);
  BOOST_TEST(b.rec.frames[3].type == 4);
  BOOST_TEST(c.rec.frames[0].type == 4);
  for (const auto& f : b.rec.frames) BOOST_TEST(f.peer == a_at_b.id);

  auto ka = a.p2p.counters(), kb = b.p2p.counters();
  BOOST_TEST(ka.frames_out == 5u);
  BOOST_TEST(ka.frames_in == 1u);
  BOOST_TEST(kb.frames_in == 4u);
  BOOST_TEST(kb.frames_out == 1u);
  BOOST_TEST(kb.bytes_in == ka.bytes_out - (5 + std::string("to all").size()));  // c got one of them
  BOOST_TEST(kb.bytes_out == 5 + 4u);
  BOOST_TEST(ka.dropped_peers == 0u);
  BOOST_TEST(kb.dropped_peers == 0u);
  BOOST_TEST(a.rec.connects == 2);
  BOOST_TEST(b.rec.connects == 1);
}

BOOST_FIXTURE_TEST_CASE(persistent_peer_with_wrong_node_key_is_rejected, Net) {
  auto& a = add(SecretKey::generate());
  auto cb = config(SecretKey::generate());
  auto addr = a.address(false);
  addr.node_key = SecretKey::generate().public_key();  // not a's
  cb.persistent_peers = {addr};
  auto& b = add(cb, "b");
  // b keeps redialling, and keeps refusing.
  BOOST_TEST_REQUIRE(run_until([&] { return b.count("reason=unexpected-node-key") >= 3; }));
  BOOST_TEST(b.rec.connects == 0);
  BOOST_TEST(b.p2p.peers().empty());
  BOOST_TEST(b.p2p.counters().dropped_peers >= 3u);
  BOOST_TEST(b.count("peer-dropped") == b.count("reason=unexpected-node-key"));
  b.p2p.stop();
  BOOST_TEST(run_until([&] { return a.p2p.peers().empty(); }));
}

BOOST_FIXTURE_TEST_CASE(wrong_chain_id_is_rejected, Net) {
  auto& a = add(config(SecretKey::generate(), "verity-a"), "a");
  auto cb = config(SecretKey::generate(), "verity-b");
  cb.persistent_peers = {a.address()};
  auto& b = add(cb, "b");
  BOOST_TEST_REQUIRE(run_until([&] { return a.count("reason=wrong-chain-id") >= 2 && b.count("reason=wrong-chain-id") >= 2; }));
  BOOST_TEST(a.rec.connects == 0);
  BOOST_TEST(b.rec.connects == 0);
  BOOST_TEST(a.p2p.counters().dropped_peers >= 2u);
}

BOOST_FIXTURE_TEST_CASE(garbage_and_forged_hellos_are_dropped_while_a_good_peer_works, Net) {
  auto& a = add(SecretKey::generate());
  auto cb = config(SecretKey::generate());
  cb.persistent_peers = {a.address()};
  auto& b = add(cb, "b");
  BOOST_TEST_REQUIRE(run_until([&] { return linked(a, b); }));
  auto b_id = a.p2p.peers().at(0).id;

  Script garbage;
  garbage.tls = false;
  std::string http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  garbage.raw = Bytes(http.begin(), http.end());
  auto noise = random_bytes(2000, 2);
  garbage.raw.insert(garbage.raw.end(), noise.begin(), noise.end());
  auto c1 = spawn_client(*this, a.endpoint(), garbage);

  Script other_key;
  other_key.hello = HelloMode::claims_other_key;
  auto c2 = spawn_client(*this, a.endpoint(), other_key);

  Script reflected;  // a correct signature, made for the other role
  reflected.hello = HelloMode::reflected_role;
  auto c3 = spawn_client(*this, a.endpoint(), reflected);

  // A TLS 1.2 client: TLS 1.3 only.
  auto tls12 = std::make_shared<ssl::context>(ssl::context::tls_client);
  SSL_CTX_set_max_proto_version(tls12->native_handle(), TLS1_2_VERSION);
  tls12->set_verify_mode(ssl::verify_none);
  auto c4 = spawn_client(*this, a.endpoint(), Script{}, tls12);

  BOOST_TEST_REQUIRE(run_until([&] { return c1->finished && c2->finished && c3->finished && c4->finished; }));
  BOOST_TEST(c1->closed_by_peer, c1->error);
  BOOST_TEST(c2->tls_ok);
  BOOST_TEST(c2->closed_by_peer, c2->error);
  BOOST_TEST(c3->closed_by_peer, c3->error);
  BOOST_TEST(c4->tls_failed, c4->error);
  BOOST_TEST(!c4->tls_ok);
  BOOST_TEST_REQUIRE(run_until([&] { return a.p2p.counters().dropped_peers == 4; }));
  BOOST_TEST(a.count("reason=tls-handshake-failed") == 2);
  BOOST_TEST(a.count("reason=bad-hello-signature") == 2);
  BOOST_TEST(a.rec.connects == 1);

  // The good peer never noticed.
  BOOST_TEST(a.p2p.peers().size() == 1u);
  BOOST_TEST(a.p2p.peers().at(0).id == b_id);
  BOOST_TEST(a.p2p.send(b_id, 10, as_bytes("still here")));
  BOOST_TEST(b.p2p.send(b.p2p.peers().at(0).id, 11, as_bytes("me too")));
  BOOST_TEST(run_until([&] { return a.rec.frames.size() == 1 && b.rec.frames.size() == 1; }));
  BOOST_TEST(b.rec.connects == 1);
  BOOST_TEST(b.rec.disconnected.empty());
}

BOOST_FIXTURE_TEST_CASE(bad_frames_drop_only_that_peer, Net) {
  auto ca = config(SecretKey::generate());
  ca.max_frame_bytes = 1024;
  auto& a = add(ca, "a");
  a.rec.reject_type = 66;
  auto cb = config(SecretKey::generate());
  cb.persistent_peers = {a.address()};
  auto& b = add(cb, "b");
  BOOST_TEST_REQUIRE(run_until([&] { return linked(a, b); }));

  struct Case {
    std::string reason;
    std::vector<Bytes> after;
    std::size_t good_frames;  // delivered before the bad one
  };
  auto header = [](std::uint32_t len) {
    return Bytes{std::uint8_t(len >> 24), std::uint8_t(len >> 16), std::uint8_t(len >> 8), std::uint8_t(len)};
  };
  Bytes largest = p2p::encode_frame(5, Bytes(1023, 0x5a));  // exactly max_frame_bytes: fine
  std::vector<Case> cases = {
      {"reason=frame-too-large", {largest, header(1025), Bytes(1025, 0)}, 1},
      {"reason=frame-too-large", {header(0xffffffffu)}, 0},
      {"reason=empty-frame", {p2p::encode_frame(6, {}), header(0)}, 1},
      {"reason=test-garbage", {p2p::encode_frame(7, as_bytes("ok")), p2p::encode_frame(66, as_bytes("junk"))}, 1},
      {"reason=unexpected-hello", {p2p::encode_frame(p2p::kHelloType, as_bytes("again"))}, 0},
  };
  std::uint64_t dropped = 0;
  for (const auto& cs : cases) {
    BOOST_TEST_CONTEXT(cs.reason) {
      Script s;
      s.after = cs.after;
      auto before = a.count(cs.reason);
      std::size_t frames_before = a.rec.frames.size();
      auto cl = spawn_client(*this, a.endpoint(), s);
      BOOST_TEST_REQUIRE(run_until([&] { return cl->finished; }));
      BOOST_TEST(cl->closed_by_peer, cl->error);
      BOOST_TEST_REQUIRE(cl->server_hello.has_value());
      BOOST_TEST((cl->server_hello->node_key == a.key.public_key()));
      BOOST_TEST(a.count(cs.reason) == before + 1);
      BOOST_TEST(a.p2p.counters().dropped_peers == ++dropped);
      // It was connected, got its good frames delivered, then was dropped.
      BOOST_TEST_REQUIRE(!a.rec.disconnected.empty());
      auto gone = a.rec.disconnected.back();
      BOOST_TEST((gone.node_key == s.key.public_key()));
      BOOST_TEST(a.rec.frames.size() - frames_before == cs.good_frames);
      BOOST_TEST(a.rec.frames_from(gone.id) == cs.good_frames);
    }
  }
  BOOST_TEST(a.rec.frames.at(0).body.size() == 1023u);
  // The good peer stays, and the node still works.
  BOOST_TEST(a.p2p.peers().size() == 1u);
  BOOST_TEST(b.rec.disconnected.empty());
  BOOST_TEST(b.p2p.send(b.p2p.peers().at(0).id, 1, as_bytes("fine")));
  BOOST_TEST(run_until([&] { return a.rec.frames.back().body == Bytes{'f', 'i', 'n', 'e'}; }));
  // A frame too large for the peer is refused at send time.
  BOOST_TEST(!a.p2p.send(a.p2p.peers().at(0).id, 1, Bytes(1024, 0)));
  BOOST_TEST(a.p2p.send(a.p2p.peers().at(0).id, 1, Bytes(1023, 0)));
}

BOOST_FIXTURE_TEST_CASE(man_in_the_middle_relay_is_rejected, Net) {
  auto& b = add(SecretKey::generate());

  // Control: a byte-level relay does not touch TLS, so the link works
  // through it; the relay plumbing is sound.
  auto plain = spawn_relay(*this, false, b.endpoint());
  auto c0 = config(SecretKey::generate());
  c0.persistent_peers = {plain->address()};
  auto& via_plain = add(c0, "via-plain");
  BOOST_TEST_REQUIRE(run_until([&] { return linked(via_plain, b); }));
  BOOST_TEST(plain->bytes_to_target > 0u);

  // The attack: the relay terminates TLS on both sides and forwards the
  // Hellos. Each side's signature is bound to its own TLS session.
  auto mitm = spawn_relay(*this, true, b.endpoint());
  auto ca = config(SecretKey::generate());
  ca.persistent_peers = {mitm->address()};
  auto& a = add(ca, "a");
  BOOST_TEST_REQUIRE(run_until([&] {
    return b.count("reason=bad-hello-signature") >= 2 && a.count("reason=bad-hello-signature") >= 2;
  }));
  BOOST_TEST(mitm->sessions >= 2);
  BOOST_TEST(mitm->bytes_to_target > 0u);
  BOOST_TEST(a.rec.connects == 0);
  BOOST_TEST(!b.peer_by_key(a.key.public_key()).has_value());
  BOOST_TEST(b.rec.connects == 1);  // only via-plain
  BOOST_TEST(b.p2p.peers().size() == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_restarted_peer_is_redialled, Net) {
  auto ka = SecretKey::generate();
  auto* a = &add(config(ka), "a");
  std::uint16_t port = a->p2p.listen_port();
  auto cb = config(SecretKey::generate());
  cb.persistent_peers = {a->address()};
  auto& b = add(cb, "b");
  BOOST_TEST_REQUIRE(run_until([&] { return linked(*a, b); }));

  a->p2p.stop();
  BOOST_TEST_REQUIRE(run_until([&] { return b.p2p.peers().empty(); }));
  BOOST_TEST(b.rec.disconnected.size() == 1u);
  // While a is down, b keeps trying (and fails).
  BOOST_TEST_REQUIRE(run_until([&] { return b.count("dial-failed") >= 3; }));

  auto ca = config(ka);
  ca.listen_port = port;
  a = &add(ca, "a-again");
  BOOST_TEST_REQUIRE(run_until([&] { return linked(*a, b); }));
  BOOST_TEST(b.rec.connects == 2);
  BOOST_TEST(b.p2p.peers().at(0).outbound);
  BOOST_TEST(b.p2p.send(b.p2p.peers().at(0).id, 1, as_bytes("welcome back")));
  BOOST_TEST(run_until([&] { return a->rec.frames.size() == 1; }));
}

BOOST_FIXTURE_TEST_CASE(redial_backs_off_exponentially, Net) {
  // A port with nothing listening: take one from the OS, then free it.
  std::uint16_t dead_port;
  {
    tcp::acceptor probe(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    dead_port = probe.local_endpoint().port();
  }
  auto c = config(SecretKey::generate());
  c.redial_min = 10ms;
  c.redial_max = 160ms;
  c.persistent_peers = {{"127.0.0.1", dead_port, std::nullopt}};
  auto& a = add(c, "a");
  run_for(1200ms);
  // 10+20+40+80+160+160+... ms (each up to 25% less): about 10 attempts
  // in 1.2 s; without backoff there would be about 100.
  int attempts = a.count("dial-failed");
  BOOST_TEST(attempts >= 6);
  BOOST_TEST(attempts <= 16);
}

BOOST_FIXTURE_TEST_CASE(send_queue_is_bounded, Net) {
  auto ca = config(SecretKey::generate());
  ca.max_send_queue_bytes = 64 * 1024;
  auto& a = add(ca, "a");
  auto cb = config(SecretKey::generate());
  cb.persistent_peers = {a.address()};
  auto& b = add(cb, "b");
  BOOST_TEST_REQUIRE(run_until([&] { return linked(a, b); }));
  auto id = a.p2p.peers().at(0).id;

  // Nothing is written until the io_context runs, so the queue fills.
  Bytes body(10000, 0xab);  // 10,005 bytes framed: 6 fit in 64 KiB
  int accepted = 0, refused = 0;
  for (int i = 0; i < 100; ++i) (a.p2p.send(id, 9, body) ? accepted : refused)++;
  BOOST_TEST(accepted == 6);
  BOOST_TEST(refused == 94);
  BOOST_TEST(a.p2p.counters().send_queue_full == 94u);
  BOOST_TEST(a.p2p.broadcast(9, body) == 0u);
  BOOST_TEST(a.p2p.counters().send_queue_full == 95u);
  BOOST_TEST(a.count("send-queue-full") == 1);  // logged once, not 95 times

  BOOST_TEST_REQUIRE(run_until([&] { return b.rec.frames.size() == 6; }));
  run_for(100ms);
  BOOST_TEST(b.rec.frames.size() == 6u);
  // Once drained, the queue takes frames again; the peer was never dropped.
  BOOST_TEST(a.p2p.send(id, 9, body));
  BOOST_TEST(run_until([&] { return b.rec.frames.size() == 7; }));
  BOOST_TEST(a.p2p.peers().size() == 1u);
  BOOST_TEST(a.p2p.counters().dropped_peers == 0u);
}

BOOST_FIXTURE_TEST_CASE(mutual_persistent_peers_converge_to_one_connection, Net) {
  for (int round = 0; round < 6; ++round) {
    BOOST_TEST_CONTEXT("round " << round) {
      auto& a = add(config(SecretKey::generate()), "a" + std::to_string(round));
      auto& b = add(config(SecretKey::generate()), "b" + std::to_string(round));
      // Both dial at once; with and without the expected key.
      BOOST_TEST_REQUIRE(a.p2p.add_persistent_peer(b.address(round % 2 == 0)).ok());
      BOOST_TEST_REQUIRE(b.p2p.add_persistent_peer(a.address(round % 3 == 0)).ok());
      BOOST_TEST_REQUIRE(run_until([&] {
        return a.p2p.peers().size() == 1 && b.p2p.peers().size() == 1 && linked(a, b);
      }));
      run_for(400ms);  // settled: no flapping, no second link
      BOOST_TEST(a.p2p.peers().size() == 1u);
      BOOST_TEST(b.p2p.peers().size() == 1u);
      BOOST_TEST(a.rec.connected.size() == 1u);
      BOOST_TEST(b.rec.connected.size() == 1u);
      int connects_a = a.rec.connects, connects_b = b.rec.connects;
      run_for(400ms);
      BOOST_TEST(a.rec.connects == connects_a);
      BOOST_TEST(b.rec.connects == connects_b);
      // Both kept the same link: the one dialled by the smaller key.
      auto pa = a.p2p.peers().at(0), pb = b.p2p.peers().at(0);
      bool a_smaller = a.key.public_key() < b.key.public_key();
      BOOST_TEST(pa.outbound == a_smaller);
      BOOST_TEST(pb.outbound == !a_smaller);
      BOOST_TEST(a.p2p.send(pa.id, 1, as_bytes("one link")));
      BOOST_TEST(run_until([&] { return b.rec.frames.size() == 1; }));
      BOOST_TEST(a.p2p.counters().dropped_peers == 0u);
      a.p2p.stop();
      b.p2p.stop();
    }
  }
}

BOOST_FIXTURE_TEST_CASE(self_connection_is_dropped_and_not_redialled, Net) {
  auto& a = add(SecretKey::generate());
  BOOST_TEST_REQUIRE(a.p2p.add_persistent_peer(a.address(false)).ok());
  BOOST_TEST_REQUIRE(run_until([&] { return a.count("persistent-peer-is-self") == 1; }));
  run_for(300ms);
  int self_drops = a.count("reason=self-connection");
  BOOST_TEST(self_drops >= 1);
  BOOST_TEST(self_drops <= 2);  // each end may notice once
  int dials = a.count("dialing");
  run_for(300ms);
  BOOST_TEST(a.count("reason=self-connection") == self_drops);
  BOOST_TEST(a.count("dialing") == dials);  // the address is no longer dialled
  BOOST_TEST(a.rec.connects == 0);
}

BOOST_FIXTURE_TEST_CASE(handshake_must_finish_in_time, Net) {
  auto ca = config(SecretKey::generate());
  ca.handshake_timeout = 300ms;
  auto& a = add(ca, "a");
  Script silent_tcp;  // connects and says nothing
  silent_tcp.tls = false;
  auto c1 = spawn_client(*this, a.endpoint(), silent_tcp);
  Script silent_tls;  // finishes TLS but sends no Hello
  silent_tls.hello = HelloMode::none;
  auto c2 = spawn_client(*this, a.endpoint(), silent_tls);
  BOOST_TEST_REQUIRE(run_until([&] { return c1->finished && c2->finished; }, 5s));
  BOOST_TEST(c1->closed_by_peer, c1->error);
  BOOST_TEST(c2->closed_by_peer, c2->error);
  BOOST_TEST(c2->tls_ok);
  for (auto& c : {c1, c2}) {
    auto waited = c->closed_at - c->connected_at;
    BOOST_TEST(waited >= 250ms);
    BOOST_TEST(waited < 2s);
  }
  BOOST_TEST(a.count("reason=handshake-timeout") == 2);
  BOOST_TEST(a.p2p.counters().dropped_peers == 2u);
}

BOOST_FIXTURE_TEST_CASE(inbound_connections_are_limited, Net) {
  auto ca = config(SecretKey::generate());
  ca.max_inbound_peers = 1;
  auto& a = add(ca, "a");
  auto cb = config(SecretKey::generate());
  cb.persistent_peers = {a.address()};
  auto& b = add(cb, "b");
  BOOST_TEST_REQUIRE(run_until([&] { return linked(a, b); }));
  auto cc = config(SecretKey::generate());
  cc.persistent_peers = {a.address()};
  auto& c = add(cc, "c");
  BOOST_TEST_REQUIRE(run_until([&] { return a.count("reason=too-many-inbound") >= 2; }));
  BOOST_TEST(c.rec.connects == 0);
  BOOST_TEST(a.p2p.peers().size() == 1u);
  // A freed slot is taken by the peer still trying.
  b.p2p.stop();
  BOOST_TEST(run_until([&] { return linked(a, c); }));
  BOOST_TEST(a.p2p.peers().size() == 1u);
}

BOOST_FIXTURE_TEST_CASE(stop_leaves_nothing_running, Net) {
  check_drain = false;  // checked here, without closing the helpers first
  // Long timers, so that any left pending would keep run() busy.
  auto ca = config(SecretKey::generate());
  ca.handshake_timeout = 30s;
  auto& a = add(ca, "a");
  auto cb = config(SecretKey::generate());
  cb.redial_min = 30s;
  cb.redial_max = 60s;
  cb.persistent_peers = {a.address(), {"127.0.0.1", 1, std::nullopt}};  // one live, one refused
  auto& b = add(cb, "b");
  BOOST_TEST_REQUIRE(run_until([&] { return linked(a, b) && b.count("dial-failed") >= 1; }));
  Script silent;  // a handshake in progress at a
  silent.hello = HelloMode::none;
  auto cl = spawn_client(*this, a.endpoint(), silent);
  BOOST_TEST_REQUIRE(run_until([&] { return cl->tls_ok; }));
  BOOST_TEST(a.p2p.send(a.p2p.peers().at(0).id, 1, Bytes(1 << 20, 1)));  // a write in flight

  a.p2p.stop();
  b.p2p.stop();
  BOOST_TEST(a.rec.connected.empty());  // on_disconnected was called
  BOOST_TEST(b.rec.connected.empty());
  BOOST_TEST(a.p2p.peers().empty());
  BOOST_TEST(!a.p2p.send(1, 1, as_bytes("x")));
  BOOST_TEST(a.p2p.add_persistent_peer(b.address()).error().reason == "p2p-stopped");
  io.restart();
  auto t0 = Clock::now();
  io.run_for(5s);
  BOOST_TEST(io.stopped(), "run() did not return after stop()");
  BOOST_TEST((Clock::now() - t0) < 2s);
  BOOST_TEST(cl->finished);
  BOOST_TEST(cl->closed_by_peer);
}
