#include "node/p2p.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <algorithm>
#include <deque>
#include <map>
#include <random>
#include <sstream>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include "core/transaction.h"  // kMaxChainIdBytes
#include "node/p2p_tls.h"

namespace verity::node {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;

// ---------------------------------------------------------------- transport

namespace {

std::string endpoint_string(const tcp::endpoint& ep) {
  std::ostringstream o;
  o << ep;
  return o.str();
}

void set_socket_options(tcp::socket& s) {
  error_code ignored;
  s.set_option(tcp::no_delay(true), ignored);
  s.set_option(asio::socket_base::keep_alive(true), ignored);
#if defined(TCP_KEEPIDLE) && defined(TCP_KEEPINTVL) && defined(TCP_KEEPCNT)
  int idle = 30, interval = 10, count = 3;
  ::setsockopt(s.native_handle(), IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  ::setsockopt(s.native_handle(), IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  ::setsockopt(s.native_handle(), IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
#endif
}

// The remote went away (closed, reset) rather than sending something wrong.
bool is_remote_close(const error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::error::connection_aborted || ec == ssl::error::stream_truncated;
}

struct Slot {
  Slot(asio::io_context& io, PeerAddress a, std::chrono::milliseconds min)
      : address(std::move(a)), key(address.node_key), timer(io), backoff(min) {}
  enum class State { waiting, dialing, latched, disabled };
  PeerAddress address;
  std::optional<PublicKey> key;  // expected, else the last one authenticated
  asio::steady_timer timer;
  std::chrono::milliseconds backoff;
  State state = State::waiting;
};

struct Conn {
  enum class Phase { connecting, tls, hello, open, closed };

  template <class Arg>
  Conn(std::uint64_t id_, bool outbound_, Arg&& arg, ssl::context& tls, asio::io_context& io)
      : id(id_), outbound(outbound_), stream(std::forward<Arg>(arg), tls), resolver(io), timer(io) {
    info.id = id_;
    info.outbound = outbound_;
  }

  std::uint64_t id;
  bool outbound;
  Slot* slot = nullptr;
  ssl::stream<tcp::socket> stream;
  tcp::resolver resolver;
  asio::steady_timer timer;  // the handshake deadline
  Phase phase = Phase::connecting;
  PeerInfo info;
  p2p::Ekm ekm{};
  // Bytes read and not yet parsed are rbuf[rpos, rend); a frame too big
  // for rbuf is read into body.
  Bytes rbuf;
  std::size_t rpos = 0, rend = 0;
  Bytes body;
  std::deque<std::shared_ptr<const Bytes>> queue;
  std::size_t queued_bytes = 0;
  bool writing = false;
  bool queue_full_logged = false;
};

}  // namespace

class P2P::Impl : public std::enable_shared_from_this<P2P::Impl> {
 public:
  Impl(asio::io_context& io, P2PConfig config, P2PHandler& handler, Logger& logger)
      : io_(io),
        cfg_(std::move(config)),
        self_(cfg_.node_key.public_key()),
        handler_(handler),
        log_(logger, "p2p"),
        acceptor_(io),
        accept_retry_(io),
        rng_(std::random_device{}()) {}

  Status start();
  void stop(bool notify);
  Status add_persistent_peer(const PeerAddress& address);
  std::uint16_t listen_port() const { return port_; }
  const PublicKey& node_key() const { return self_; }
  bool send(std::uint64_t peer, std::uint8_t type, ByteView body);
  std::size_t broadcast(std::uint8_t type, ByteView body, std::optional<std::uint64_t> except);
  void disconnect(std::uint64_t peer, std::string_view reason);
  std::optional<std::uint64_t> peer_with_validator(const PublicKey& key) const;
  std::optional<PeerInfo> peer(std::uint64_t id) const;
  std::vector<PeerInfo> peers() const;
  Counters counters() const;

 private:
  using ConnPtr = std::shared_ptr<Conn>;
  // Why a connection ends, which decides how it is logged and counted.
  enum class Close {
    dropped,    // the peer's fault: warn "peer-dropped", counted
    remote,     // the remote closed or the link failed: info
    duplicate,  // another link to the same node key is kept: info
    dial,       // our dial failed before a TLS session existed: info
    stopping,   // stop(): silent
  };

  void accept_next();
  void on_accept(const error_code& ec, tcp::socket socket);
  void try_dial(Slot& s);
  void dial(Slot& s);
  void schedule_redial(Slot& s);
  void start_deadline(const ConnPtr& c);
  void on_tls(const ConnPtr& c, const error_code& ec);
  // Handles the whole frames already read, then reads more (one read in
  // flight per link).
  void read_frames(const ConnPtr& c);
  void on_read(const ConnPtr& c, const error_code& ec, std::size_t n);
  void on_big_body(const ConnPtr& c, const error_code& ec);
  // One frame (type byte and body); false when the link is no longer open
  // for frames (closed, dropped, or still waiting for the hello).
  bool on_frame_bytes(const ConnPtr& c, ByteView frame);
  void on_hello(const ConnPtr& c, ByteView payload);
  bool enqueue(const ConnPtr& c, std::shared_ptr<const Bytes> frame, bool force);
  void write_next(const ConnPtr& c);
  void on_written(const ConnPtr& c, const error_code& ec, std::size_t frames);
  void close_on_error(const ConnPtr& c, const error_code& ec);
  void close(const ConnPtr& c, Close kind, std::string_view reason, const std::string& detail = {});
  bool dialled_by_smaller_key(const Conn& c) const {
    bool we_are_smaller = self_ < c.info.node_key;
    return c.outbound == we_are_smaller;
  }
  Fields conn_fields(const Conn& c) const;

  asio::io_context& io_;
  P2PConfig cfg_;
  PublicKey self_;
  P2PHandler& handler_;
  Log log_;
  std::shared_ptr<ssl::context> tls_;
  tcp::acceptor acceptor_;
  asio::steady_timer accept_retry_;
  std::uint16_t port_ = 0;
  bool started_ = false, stopped_ = false, notify_ = true;
  std::uint64_t next_id_ = 1;
  std::map<std::uint64_t, ConnPtr> conns_;  // every live connection
  std::map<std::uint64_t, ConnPtr> peers_;  // the authenticated ones
  std::map<PublicKey, std::uint64_t> by_key_;  // the first link of each node key
  std::map<PublicKey, std::chrono::steady_clock::time_point> twice_logged_;  // node keys seen at two addresses
  std::size_t inbound_ = 0;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::minstd_rand rng_;
  struct {
    std::atomic<std::uint64_t> dropped_peers{0}, send_queue_full{0}, frames_in{0}, frames_out{0}, bytes_in{0},
        bytes_out{0}, node_key_twice{0};
  } ctr_;
  // Which running node a link reaches: the remote host and the port it
  // announced it listens on.
  static std::string instance_of(const Conn& c) {
    const auto colon = c.info.remote.rfind(':');
    return (colon == std::string::npos ? c.info.remote : c.info.remote.substr(0, colon)) + ":" +
           std::to_string(c.info.listen_port);
  }
};

Status P2P::Impl::start() {
  if (stopped_) return local_error("p2p-stopped", "a stopped P2P cannot start again");
  if (started_) return local_error("p2p-already-started");
  auto bad = [](const std::string& why) { return make_error("bad-p2p-config", why); };
  if (cfg_.chain_id.empty() || cfg_.chain_id.size() > kMaxChainIdBytes) return bad("chain id must be 1..64 bytes");
  if (cfg_.max_frame_bytes < 1 || cfg_.max_frame_bytes > 0xffffffffULL) return bad("max_frame_bytes out of range");
  if (cfg_.handshake_timeout.count() <= 0 || cfg_.redial_min.count() <= 0 || cfg_.redial_max < cfg_.redial_min)
    return bad("timeouts must be positive and redial_max >= redial_min");
  for (const auto& a : cfg_.persistent_peers)
    if (a.host.empty() || a.port == 0) return bad("persistent peer '" + a.to_string() + "' has no host or port");

  auto tls = p2p::make_tls_context();
  if (!tls) return tls.error();
  tls_ = *tls;

  error_code ec;
  auto address = asio::ip::make_address(cfg_.listen_host, ec);
  if (ec) return local_error("listen-failed", "listen host '" + cfg_.listen_host + "' is not an IP address");
  tcp::endpoint endpoint(address, cfg_.listen_port);
  auto fail = [&](const char* step) {
    error_code ignored;
    acceptor_.close(ignored);
    return local_error("listen-failed", endpoint_string(endpoint) + ": " + step + ": " + ec.message());
  };
  if (acceptor_.open(endpoint.protocol(), ec)) return fail("open");
  // Lets a restarted node bind its port while old links sit in TIME_WAIT.
  if (acceptor_.set_option(tcp::acceptor::reuse_address(true), ec)) return fail("SO_REUSEADDR");
  if (acceptor_.bind(endpoint, ec)) return fail("bind");
  if (acceptor_.listen(asio::socket_base::max_listen_connections, ec)) return fail("listen");
  port_ = acceptor_.local_endpoint(ec).port();
  if (ec) return fail("local_endpoint");
  started_ = true;

  auto f = Fields().add("address", endpoint_string(tcp::endpoint(address, port_))).add("node", self_.hex());
  if (cfg_.validator_key) f.add("validator", cfg_.validator_key->public_key().hex());
  log_.info("p2p-listening", f.add("persistent_peers", cfg_.persistent_peers.size()));

  accept_next();
  for (const auto& a : cfg_.persistent_peers) slots_.push_back(std::make_unique<Slot>(io_, a, cfg_.redial_min));
  for (auto& s : slots_) try_dial(*s);
  return {};
}

void P2P::Impl::stop(bool notify) {
  if (stopped_) return;
  stopped_ = true;
  notify_ = notify;
  error_code ignored;
  acceptor_.close(ignored);
  accept_retry_.cancel();
  for (auto& s : slots_) s->timer.cancel();
  std::vector<ConnPtr> all;
  for (auto& [id, c] : conns_) all.push_back(c);
  for (auto& c : all) close(c, Close::stopping, "stopped");
  if (started_) log_.info("p2p-stopped");
}

Status P2P::Impl::add_persistent_peer(const PeerAddress& address) {
  if (stopped_) return local_error("p2p-stopped", "cannot add a peer to a stopped P2P");
  if (address.host.empty() || address.port == 0) return make_error("bad-peer-address", "no host or port");
  if (!started_) {
    cfg_.persistent_peers.push_back(address);
    return {};
  }
  slots_.push_back(std::make_unique<Slot>(io_, address, cfg_.redial_min));
  try_dial(*slots_.back());
  return {};
}

// ---- accepting

void P2P::Impl::accept_next() {
  acceptor_.async_accept(
      [self = shared_from_this()](const error_code& ec, tcp::socket socket) { self->on_accept(ec, std::move(socket)); });
}

void P2P::Impl::on_accept(const error_code& ec, tcp::socket socket) {
  if (stopped_) return;
  if (ec) {
    if (ec == asio::error::operation_aborted) return;
    // E.g. out of file descriptors: back off a little instead of spinning.
    log_.warn("accept-failed", Fields().add("error", ec.message()));
    accept_retry_.expires_after(std::chrono::milliseconds(100));
    accept_retry_.async_wait([self = shared_from_this()](const error_code& e) {
      if (!e && !self->stopped_) self->accept_next();
    });
    return;
  }
  error_code ignored;
  auto remote_ep = socket.remote_endpoint(ignored);
  std::string remote = ignored ? "?" : endpoint_string(remote_ep);
  if (inbound_ >= cfg_.max_inbound_peers) {
    ++ctr_.dropped_peers;
    log_.warn("peer-dropped", Fields()
                                  .add("remote", remote)
                                  .add("dir", "in")
                                  .add("reason", "too-many-inbound")
                                  .add("limit", cfg_.max_inbound_peers));
    socket.close(ignored);
  } else {
    set_socket_options(socket);
    auto c = std::make_shared<Conn>(next_id_++, false, std::move(socket), *tls_, io_);
    c->info.remote = remote;
    conns_[c->id] = c;
    ++inbound_;
    log_.debug("peer-accepted", conn_fields(*c));
    start_deadline(c);
    c->phase = Conn::Phase::tls;
    c->stream.async_handshake(ssl::stream_base::server,
                              [self = shared_from_this(), c](const error_code& e) { self->on_tls(c, e); });
  }
  accept_next();
}

// ---- dialling

void P2P::Impl::try_dial(Slot& s) {
  if (stopped_ || s.state == Slot::State::disabled) return;
  if (s.key && by_key_.count(*s.key)) {
    // Already linked (perhaps it dialled us): wait for that link to end.
    s.state = Slot::State::latched;
    log_.debug("persistent-peer-connected", Fields().add("address", s.address.to_string()));
    return;
  }
  dial(s);
}

void P2P::Impl::dial(Slot& s) {
  s.state = Slot::State::dialing;
  auto c = std::make_shared<Conn>(next_id_++, true, io_, *tls_, io_);
  c->slot = &s;
  c->info.remote = PeerAddress{s.address.host, s.address.port, std::nullopt}.to_string();
  conns_[c->id] = c;
  log_.debug("dialing", conn_fields(*c).add("address", s.address.to_string()));
  start_deadline(c);
  auto self = shared_from_this();
  c->resolver.async_resolve(
      s.address.host, std::to_string(s.address.port),
      [self, c](const error_code& ec, const tcp::resolver::results_type& results) {
        if (c->phase == Conn::Phase::closed) return;
        if (ec) return self->close(c, Close::dial, "resolve-failed", ec.message());
        asio::async_connect(c->stream.lowest_layer(), results,
                            [self, c](const error_code& e, const tcp::endpoint& ep) {
                              if (c->phase == Conn::Phase::closed) return;
                              if (e) return self->close(c, Close::dial, "connect-failed", e.message());
                              set_socket_options(c->stream.next_layer());
                              c->info.remote = endpoint_string(ep);
                              c->phase = Conn::Phase::tls;
                              c->stream.async_handshake(ssl::stream_base::client,
                                                        [self, c](const error_code& e2) { self->on_tls(c, e2); });
                            });
      });
}

void P2P::Impl::schedule_redial(Slot& s) {
  if (stopped_ || s.state == Slot::State::disabled) return;
  s.state = Slot::State::waiting;
  auto base = s.backoff.count();
  auto delay = std::chrono::milliseconds(base - static_cast<long>(rng_() % static_cast<unsigned long>(base / 4 + 1)));
  s.backoff = std::min(s.backoff * 2, cfg_.redial_max);
  log_.debug("redial-scheduled", Fields().add("address", s.address.to_string()).add("delay_ms", delay.count()));
  s.timer.expires_after(delay);
  s.timer.async_wait([self = shared_from_this(), sp = &s](const error_code& ec) {
    if (ec || self->stopped_) return;
    self->try_dial(*sp);
  });
}

// ---- handshake

void P2P::Impl::start_deadline(const ConnPtr& c) {
  c->timer.expires_after(cfg_.handshake_timeout);
  c->timer.async_wait([self = shared_from_this(), c](const error_code& ec) {
    if (ec || c->phase == Conn::Phase::closed || c->phase == Conn::Phase::open) return;
    std::string detail = "not done after " + std::to_string(self->cfg_.handshake_timeout.count()) + " ms";
    if (c->phase == Conn::Phase::connecting)
      self->close(c, Close::dial, "dial-timeout", detail);
    else
      self->close(c, Close::dropped, "handshake-timeout", detail);
  });
}

void P2P::Impl::on_tls(const ConnPtr& c, const error_code& ec) {
  if (c->phase == Conn::Phase::closed) return;
  if (ec) {
    if (is_remote_close(ec)) return close(c, Close::remote, "tls-handshake-failed", ec.message());
    return close(c, Close::dropped, "tls-handshake-failed", ec.message());
  }
  auto ekm = p2p::export_keying_material(c->stream.native_handle());
  if (!ekm) return close(c, Close::dropped, ekm.error().reason, ekm.error().detail);
  c->ekm = *ekm;
  c->phase = Conn::Phase::hello;
  auto role = c->outbound ? p2p::Role::dialer : p2p::Role::listener;
  auto hello = p2p::make_hello(cfg_.chain_id, role, c->ekm, cfg_.node_key, cfg_.validator_key, port_);
  enqueue(c, std::make_shared<const Bytes>(p2p::encode_frame(p2p::kHelloType, encode(hello))), true);
  read_frames(c);
}

void P2P::Impl::on_hello(const ConnPtr& c, ByteView payload) {
  auto hello = p2p::decode_hello(payload);
  if (!hello) return close(c, Close::dropped, hello.error().reason, hello.error().detail);
  c->info.node_key = hello->node_key;  // for the logs, even if it fails below
  auto sender = c->outbound ? p2p::Role::listener : p2p::Role::dialer;
  if (auto s = p2p::verify_hello(*hello, cfg_.chain_id, sender, c->ekm); !s)
    return close(c, Close::dropped, s.error().reason, s.error().detail);
  c->info.validator_key = hello->validator_key;
  c->info.listen_port = hello->listen_port;

  if (hello->node_key == self_) {
    if (c->slot && c->slot->state != Slot::State::disabled) {
      c->slot->state = Slot::State::disabled;
      log_.warn("persistent-peer-is-self", Fields().add("address", c->slot->address.to_string()));
    }
    return close(c, Close::dropped, "self-connection");
  }
  if (c->slot) {
    Slot& s = *c->slot;
    if (s.address.node_key && *s.address.node_key != hello->node_key)
      return close(c, Close::dropped, "unexpected-node-key", "expected " + s.address.node_key->hex());
    s.key = hello->node_key;
    s.backoff = cfg_.redial_min;
  }
  bool second_instance = false;
  if (auto it = by_key_.find(hello->node_key); it != by_key_.end()) {
    ConnPtr existing = peers_.at(it->second);
    if (instance_of(*existing) != instance_of(*c)) {
      // One node key, two listening addresses: a copied home runs twice.
      // Both links stay (closing one only makes the two take turns, a
      // line per turn, and hides one instance's votes from the detector
      // that would turn its double signing into evidence); a warning a
      // minute says so.
      second_instance = true;
      ++ctr_.node_key_twice;
      if (twice_logged_.size() >= 1024 && !twice_logged_.count(hello->node_key)) twice_logged_.clear();  // bounded
      auto& last = twice_logged_[hello->node_key];
      if (last == std::chrono::steady_clock::time_point{} || std::chrono::steady_clock::now() - last > std::chrono::minutes(1)) {
        last = std::chrono::steady_clock::now();
        log_.warn("node-key-twice", Fields()
                                        .add("node_key", hello->node_key.hex())
                                        .add("first", instance_of(*existing))
                                        .add("second", instance_of(*c))
                                        .add("detail", "two nodes present one node key: a home copied and started "
                                                       "twice? If it is a validator's, it will sign twice"));
      }
    } else {
      // Opposite directions: both sides keep the link that the smaller key
      // dialled. Same direction: the newer link (the older is likely dead).
      bool keep_new = existing->outbound != c->outbound ? dialled_by_smaller_key(*c) : true;
      if (!keep_new)
        return close(c, Close::duplicate, "duplicate-connection", "kept peer " + std::to_string(existing->id));
      close(existing, Close::duplicate, "duplicate-connection", "replaced by peer " + std::to_string(c->id));
      if (c->phase == Conn::Phase::closed) return;  // the handler stopped us
    }
  }

  c->phase = Conn::Phase::open;
  c->timer.cancel();
  peers_[c->id] = c;
  if (!second_instance) by_key_[c->info.node_key] = c->id;
  auto f = conn_fields(*c).add("listen_port", c->info.listen_port);
  if (c->info.validator_key) f.add("validator", c->info.validator_key->hex());
  log_.info("peer-connected", f);
  if (notify_) handler_.on_connected(c->info);
  // read_frames(), which called us, goes on with the frames after the hello.
}

// ---- reading

// Frames are read in chunks of up to kReadBytes and every whole frame in a
// chunk is handled before the next read: one TLS read and one completion
// for many small frames (gossiped transactions, votes), instead of two
// reads (header, body) per frame.
constexpr std::size_t kReadBytes = 64 * 1024;

void P2P::Impl::read_frames(const ConnPtr& c) {
  while (c->phase != Conn::Phase::closed) {
    const std::size_t avail = c->rend - c->rpos;
    if (avail < p2p::kFrameHeaderBytes) break;
    const std::uint8_t* h = c->rbuf.data() + c->rpos;
    std::size_t len = (std::size_t{h[0]} << 24) | (std::size_t{h[1]} << 16) | (std::size_t{h[2]} << 8) | h[3];
    if (len == 0) return close(c, Close::dropped, "empty-frame");
    bool open = c->phase == Conn::Phase::open;
    std::size_t limit = open ? cfg_.max_frame_bytes : p2p::kMaxHelloBytes;
    if (len > limit)
      return close(c, Close::dropped, open ? "frame-too-large" : "hello-too-large",
                   std::to_string(len) + " bytes, limit " + std::to_string(limit));
    const std::size_t have = avail - p2p::kFrameHeaderBytes;
    if (have < len) {
      if (p2p::kFrameHeaderBytes + len <= kReadBytes) break;  // the rest comes with the next read
      // Too big for the chunk buffer: the frame gets its own, and a big
      // frame's buffer is not kept for the small ones after it.
      if (c->body.capacity() > (1u << 20) && len <= (1u << 20)) Bytes().swap(c->body);
      c->body.resize(len);
      std::copy(h + p2p::kFrameHeaderBytes, h + p2p::kFrameHeaderBytes + have, c->body.begin());
      c->rpos = c->rend = 0;
      asio::async_read(c->stream, asio::buffer(c->body.data() + have, len - have),
                       [self = shared_from_this(), c](const error_code& e, std::size_t) { self->on_big_body(c, e); });
      return;
    }
    c->rpos += p2p::kFrameHeaderBytes + len;
    if (!on_frame_bytes(c, ByteView(h + p2p::kFrameHeaderBytes, len))) return;
  }
  if (c->phase == Conn::Phase::closed) return;
  if (c->rpos > 0) {  // keep the start of a partial frame at the front
    std::copy(c->rbuf.begin() + static_cast<std::ptrdiff_t>(c->rpos), c->rbuf.begin() + static_cast<std::ptrdiff_t>(c->rend),
              c->rbuf.begin());
    c->rend -= c->rpos;
    c->rpos = 0;
  }
  if (c->rbuf.size() < kReadBytes) c->rbuf.resize(kReadBytes);
  c->stream.async_read_some(asio::buffer(c->rbuf.data() + c->rend, kReadBytes - c->rend),
                            [self = shared_from_this(), c](const error_code& ec, std::size_t n) { self->on_read(c, ec, n); });
}

void P2P::Impl::on_read(const ConnPtr& c, const error_code& ec, std::size_t n) {
  if (c->phase == Conn::Phase::closed) return;
  if (ec) return close_on_error(c, ec);
  c->rend += n;
  read_frames(c);
}

void P2P::Impl::on_big_body(const ConnPtr& c, const error_code& ec) {
  if (c->phase == Conn::Phase::closed) return;
  if (ec) return close_on_error(c, ec);
  if (!on_frame_bytes(c, c->body)) return;
  read_frames(c);
}

bool P2P::Impl::on_frame_bytes(const ConnPtr& c, ByteView frame) {
  std::uint8_t type = frame[0];
  ByteView payload = frame.subspan(1);
  if (c->phase == Conn::Phase::hello) {
    if (type != p2p::kHelloType) {
      close(c, Close::dropped, "expected-hello", "frame type " + std::to_string(type));
      return false;
    }
    on_hello(c, payload);
    return c->phase == Conn::Phase::open;
  }
  if (type == p2p::kHelloType) {
    close(c, Close::dropped, "unexpected-hello");
    return false;
  }
  ++ctr_.frames_in;
  ctr_.bytes_in += p2p::kFrameHeaderBytes + frame.size();
  std::string reason;
  bool ok = handler_.on_frame(c->info, type, payload, reason);
  if (c->phase != Conn::Phase::open) return false;  // dropped or stopped by the handler
  if (!ok) {
    close(c, Close::dropped, reason.empty() ? "bad-frame" : reason, "frame type " + std::to_string(type));
    return false;
  }
  return true;
}

// ---- writing

bool P2P::Impl::enqueue(const ConnPtr& c, std::shared_ptr<const Bytes> frame, bool force) {
  if (!force && c->queued_bytes + frame->size() > cfg_.max_send_queue_bytes) {
    ++ctr_.send_queue_full;
    if (!c->queue_full_logged) {
      c->queue_full_logged = true;  // once per link: a slow peer must not flood the log
      log_.warn("send-queue-full", conn_fields(*c).add("queued_bytes", c->queued_bytes));
    }
    return false;
  }
  c->queued_bytes += frame->size();
  c->queue.push_back(std::move(frame));
  if (!c->writing) write_next(c);
  return true;
}

// Small frames waiting together are written as one buffer (up to
// kCoalesceBytes): one TLS record and one system call for many gossiped
// transactions, instead of one each, which cost the consensus thread half
// its time at saturation.
constexpr std::size_t kCoalesceBytes = 64 * 1024;

void P2P::Impl::write_next(const ConnPtr& c) {
  c->writing = true;
  std::size_t frames = 1;
  std::shared_ptr<const Bytes> buffer = c->queue.front();
  if (c->queue.size() > 1 && buffer->size() < kCoalesceBytes) {
    auto batch = std::make_shared<Bytes>();
    batch->reserve(kCoalesceBytes);
    frames = 0;
    for (const auto& f : c->queue) {
      if (frames > 0 && batch->size() + f->size() > kCoalesceBytes) break;
      batch->insert(batch->end(), f->begin(), f->end());
      ++frames;
    }
    buffer = std::move(batch);
  }
  // The handler holds the buffer, so it outlives the write whatever happens to the queue.
  asio::async_write(c->stream, asio::buffer(*buffer),
                    [self = shared_from_this(), c, buffer, frames](const error_code& ec, std::size_t) {
                      self->on_written(c, ec, frames);
                    });
}

void P2P::Impl::on_written(const ConnPtr& c, const error_code& ec, std::size_t frames) {
  c->writing = false;
  if (c->phase == Conn::Phase::closed) return;
  if (ec) return close_on_error(c, ec);
  for (std::size_t i = 0; i < frames; ++i) {
    const auto& frame = c->queue.front();
    c->queued_bytes -= frame->size();
    if ((*frame)[p2p::kFrameHeaderBytes] != p2p::kHelloType) {
      ++ctr_.frames_out;
      ctr_.bytes_out += frame->size();
    }
    c->queue.pop_front();
  }
  if (!c->queue.empty()) write_next(c);
}

// ---- closing

void P2P::Impl::close_on_error(const ConnPtr& c, const error_code& ec) {
  if (is_remote_close(ec)) return close(c, Close::remote, "connection-closed", ec.message());
  // Anything TLS rejects (a bad record, a forged MAC) is the peer's doing.
  if (ec.category() == asio::error::get_ssl_category()) return close(c, Close::dropped, "tls-error", ec.message());
  close(c, Close::remote, "connection-error", ec.message());
}

Fields P2P::Impl::conn_fields(const Conn& c) const {
  Fields f;
  f.add("peer", c.id).add("dir", c.outbound ? "out" : "in").add("remote", c.info.remote);
  if (!c.info.node_key.is_zero()) f.add("node", c.info.node_key.hex());
  return f;
}

void P2P::Impl::close(const ConnPtr& c, Close kind, std::string_view reason, const std::string& detail) {
  if (c->phase == Conn::Phase::closed) return;
  const bool was_open = c->phase == Conn::Phase::open;
  c->phase = Conn::Phase::closed;
  // Cancels every pending operation; their handlers see `closed` and return.
  // Buffers of pending operations stay with the Conn until they complete.
  error_code ignored;
  c->timer.cancel();
  c->resolver.cancel();
  c->stream.lowest_layer().close(ignored);
  conns_.erase(c->id);
  if (!c->outbound) --inbound_;
  if (was_open) {
    peers_.erase(c->id);
    if (auto it = by_key_.find(c->info.node_key); it != by_key_.end() && it->second == c->id) by_key_.erase(it);
  }

  if (kind != Close::stopping) {
    auto f = conn_fields(*c).add("reason", reason);
    if (!detail.empty()) f.add("detail", detail);
    switch (kind) {
      case Close::dropped:
        ++ctr_.dropped_peers;
        log_.warn("peer-dropped", f);
        break;
      case Close::remote:
        if (was_open)
          log_.info("peer-disconnected", f);
        else
          log_.info("handshake-failed", f);
        break;
      case Close::duplicate: log_.info("duplicate-connection-closed", f); break;
      case Close::dial: log_.info("dial-failed", f.add("address", c->slot ? c->slot->address.to_string() : "")); break;
      case Close::stopping: break;
    }
  }

  if (was_open && notify_) handler_.on_disconnected(c->info);
  if (stopped_) return;
  if (c->slot && c->slot->state == Slot::State::dialing) schedule_redial(*c->slot);
  if (was_open && !by_key_.count(c->info.node_key))
    for (auto& s : slots_)
      if (s->state == Slot::State::latched && s->key == c->info.node_key) schedule_redial(*s);
}

// ---- the public side

bool P2P::Impl::send(std::uint64_t peer, std::uint8_t type, ByteView body) {
  if (type == p2p::kHelloType) return false;
  auto it = peers_.find(peer);
  if (it == peers_.end()) return false;
  if (body.size() + 1 > cfg_.max_frame_bytes) {
    log_.warn("frame-too-large-to-send", conn_fields(*it->second).add("type", int(type)).add("bytes", body.size()));
    return false;
  }
  return enqueue(it->second, std::make_shared<const Bytes>(p2p::encode_frame(type, body)), false);
}

std::size_t P2P::Impl::broadcast(std::uint8_t type, ByteView body, std::optional<std::uint64_t> except) {
  if (type == p2p::kHelloType || peers_.empty()) return 0;
  if (body.size() + 1 > cfg_.max_frame_bytes) {
    log_.warn("frame-too-large-to-send", Fields().add("type", int(type)).add("bytes", body.size()));
    return 0;
  }
  auto frame = std::make_shared<const Bytes>(p2p::encode_frame(type, body));
  std::vector<ConnPtr> targets;  // enqueue may not change peers_, but stay safe
  for (auto& [id, c] : peers_)
    if (!except || *except != id) targets.push_back(c);
  std::size_t n = 0;
  for (auto& c : targets)
    if (c->phase == Conn::Phase::open && enqueue(c, frame, false)) ++n;
  return n;
}

void P2P::Impl::disconnect(std::uint64_t peer, std::string_view reason) {
  if (auto it = peers_.find(peer); it != peers_.end()) {
    ConnPtr c = it->second;
    close(c, Close::dropped, reason.empty() ? "disconnected" : reason);
  }
}

std::optional<std::uint64_t> P2P::Impl::peer_with_validator(const PublicKey& key) const {
  for (const auto& [id, c] : peers_)
    if (c->info.validator_key == key) return id;
  return std::nullopt;
}

std::optional<PeerInfo> P2P::Impl::peer(std::uint64_t id) const {
  if (auto it = peers_.find(id); it != peers_.end()) return it->second->info;
  return std::nullopt;
}

std::vector<PeerInfo> P2P::Impl::peers() const {
  std::vector<PeerInfo> out;
  for (const auto& [id, c] : peers_) out.push_back(c->info);
  return out;
}

P2P::Counters P2P::Impl::counters() const {
  Counters out;
  out.dropped_peers = ctr_.dropped_peers;
  out.send_queue_full = ctr_.send_queue_full;
  out.frames_in = ctr_.frames_in;
  out.frames_out = ctr_.frames_out;
  out.bytes_in = ctr_.bytes_in;
  out.bytes_out = ctr_.bytes_out;
  out.node_key_twice = ctr_.node_key_twice;
  return out;
}

// ---- P2P

P2P::P2P(asio::io_context& io, P2PConfig config, P2PHandler& handler, Logger& logger)
    : impl_(std::make_shared<Impl>(io, std::move(config), handler, logger)) {}
P2P::~P2P() { impl_->stop(false); }
Status P2P::start() { return impl_->start(); }
void P2P::stop() { impl_->stop(true); }
Status P2P::add_persistent_peer(const PeerAddress& address) { return impl_->add_persistent_peer(address); }
std::uint16_t P2P::listen_port() const { return impl_->listen_port(); }
const PublicKey& P2P::node_key() const { return impl_->node_key(); }
bool P2P::send(std::uint64_t peer, std::uint8_t type, ByteView body) { return impl_->send(peer, type, body); }
std::size_t P2P::broadcast(std::uint8_t type, ByteView body, std::optional<std::uint64_t> except) {
  return impl_->broadcast(type, body, except);
}
void P2P::disconnect(std::uint64_t peer, std::string_view reason) { impl_->disconnect(peer, reason); }
std::optional<std::uint64_t> P2P::peer_with_validator(const PublicKey& key) const {
  return impl_->peer_with_validator(key);
}
std::optional<PeerInfo> P2P::peer(std::uint64_t id) const { return impl_->peer(id); }
std::vector<PeerInfo> P2P::peers() const { return impl_->peers(); }
P2P::Counters P2P::counters() const { return impl_->counters(); }

}  // namespace verity::node
