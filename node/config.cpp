#include "node/config.h"

#include <charconv>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <toml++/toml.h>

#include <boost/asio/ip/address.hpp>

#include "node/p2p.h"  // parse_peer_address

namespace verity::node {

namespace {

Error bad(std::string_view source, std::string_view key, const std::string& why) {
  return make_error("bad-config", std::string(source) + ": " + std::string(key) + ": " + why);
}

std::string type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a number";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    default: return "a date or time";
  }
}

// One key of the file: how to read it into the Config.
using Reader = std::function<Status(const toml::node&, Config&, const std::string& key, std::string_view source)>;

Reader string_key(std::string Config::*field) {
  return [field](const toml::node& n, Config& c, const std::string& key, std::string_view source) -> Status {
    auto v = n.value_exact<std::string>();
    if (!v) return bad(source, key, "expected a string, got " + type_name(n));
    if (v->empty()) return bad(source, key, "must not be empty");
    c.*field = *v;
    return {};
  };
}

template <class Get>
Reader uint_key(Get get, std::uint64_t min, std::uint64_t max) {
  return [get, min, max](const toml::node& n, Config& c, const std::string& key, std::string_view source) -> Status {
    auto v = n.value_exact<std::int64_t>();
    if (!v) return bad(source, key, "expected an integer, got " + type_name(n));
    if (*v < 0 || static_cast<std::uint64_t>(*v) < min || static_cast<std::uint64_t>(*v) > max)
      return bad(source, key, "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " +
                                  std::to_string(*v));
    get(c) = static_cast<std::remove_reference_t<decltype(get(c))>>(*v);
    return {};
  };
}

template <class Get>
Reader host_port_key(Get get) {
  return [get](const toml::node& n, Config& c, const std::string& key, std::string_view source) -> Status {
    auto v = n.value_exact<std::string>();
    if (!v) return bad(source, key, "expected a string \"HOST:PORT\", got " + type_name(n));
    auto hp = parse_host_port(*v, /*allow_zero=*/true);
    if (!hp) return bad(source, key, hp.error().detail);
    get(c) = *hp;
    return {};
  };
}

const std::map<std::string, Reader>& readers() {
  static const std::map<std::string, Reader> r = {
      {"moniker", string_key(&Config::moniker)},
      {"log_level",
       [](const toml::node& n, Config& c, const std::string& key, std::string_view source) -> Status {
         auto v = n.value_exact<std::string>();
         auto level = v ? parse_log_level(*v) : std::nullopt;
         if (!level) return bad(source, key, "expected one of \"debug\", \"info\", \"warn\", \"error\"");
         c.log_level = *level;
         return {};
       }},
      {"genesis_file", string_key(&Config::genesis_file)},
      {"data_dir", string_key(&Config::data_dir)},
      {"node_key_file", string_key(&Config::node_key_file)},
      {"validator_key_file", string_key(&Config::validator_key_file)},
      {"passphrase_file", string_key(&Config::passphrase_file)},
      {"p2p.listen", host_port_key([](Config& c) -> HostPort& { return c.p2p.listen; })},
      {"p2p.persistent_peers",
       [](const toml::node& n, Config& c, const std::string& key, std::string_view source) -> Status {
         const toml::array* a = n.as_array();
         if (!a) return bad(source, key, "expected an array of strings, got " + type_name(n));
         std::vector<std::string> peers;
         for (std::size_t i = 0; i < a->size(); ++i) {
           const std::string item = key + "[" + std::to_string(i) + "]";
           auto v = (*a)[i].value_exact<std::string>();
           if (!v) return bad(source, item, "expected a string \"[NODEKEY@]HOST:PORT\"");
           if (auto p = parse_peer_address(*v); !p) return bad(source, item, p.error().detail);
           peers.push_back(*v);
         }
         c.p2p.persistent_peers = std::move(peers);
         return {};
       }},
      {"p2p.max_inbound_peers", uint_key([](Config& c) -> std::uint32_t& { return c.p2p.max_inbound_peers; }, 0, 10'000)},
      {"p2p.send_queue_bytes",
       uint_key([](Config& c) -> std::uint64_t& { return c.p2p.send_queue_bytes; }, 1 << 20, 1ull << 34)},
      {"rpc.listen", host_port_key([](Config& c) -> HostPort& { return c.rpc.listen; })},
      {"rpc.max_body_bytes",
       uint_key([](Config& c) -> std::uint64_t& { return c.rpc.max_body_bytes; }, 4096, 1ull << 30)},
      {"rpc.max_batch", uint_key([](Config& c) -> std::uint64_t& { return c.rpc.max_batch; }, 1, 100'000)},
      {"rpc.max_connections", uint_key([](Config& c) -> std::uint64_t& { return c.rpc.max_connections; }, 1, 100'000)},
      {"rpc.request_timeout_ms",
       uint_key([](Config& c) -> std::uint64_t& { return c.rpc.request_timeout_ms; }, 100, 3'600'000)},
      {"rpc.idle_timeout_ms",
       uint_key([](Config& c) -> std::uint64_t& { return c.rpc.idle_timeout_ms; }, 100, 3'600'000)},
      {"rpc.auth_token_file",
       [](const toml::node& n, Config& c, const std::string& key, std::string_view source) -> Status {
         auto v = n.value_exact<std::string>();
         if (!v) return bad(source, key, "expected a string, got " + type_name(n));
         if (v->empty()) return bad(source, key, "must not be empty (remove the key for no token)");
         c.rpc.auth_token_file = *v;
         return {};
       }},
      {"consensus.timeout_ms",
       uint_key([](Config& c) -> std::uint64_t& { return c.consensus.timeout_ms; }, 50, 600'000)},
      {"consensus.empty_block_interval_ms",
       uint_key([](Config& c) -> std::uint64_t& { return c.consensus.empty_block_interval_ms; }, 0, 600'000)},
      {"consensus.checkpoint_interval",
       uint_key([](Config& c) -> std::uint64_t& { return c.consensus.checkpoint_interval; }, 1, 1'000'000)},
      {"consensus.watermark_window",
       uint_key([](Config& c) -> std::uint64_t& { return c.consensus.watermark_window; }, 2, 1'000'000)},
      {"mempool.max_txs", uint_key([](Config& c) -> std::uint64_t& { return c.mempool.max_txs; }, 1, 10'000'000)},
      {"mempool.max_bytes",
       uint_key([](Config& c) -> std::uint64_t& { return c.mempool.max_bytes; }, 1 << 20, 1ull << 36)},
  };
  return r;
}

Status read_table(const toml::table& t, const std::string& prefix, Config& c, std::string_view source) {
  for (auto&& [k, node] : t) {
    const std::string key = prefix + std::string(k.str());
    if (const toml::table* sub = node.as_table(); sub && prefix.empty()) {
      static const std::set<std::string> sections = {"p2p", "rpc", "consensus", "mempool"};
      if (!sections.count(key)) return bad(source, key, "unknown section");
      if (auto s = read_table(*sub, key + ".", c, source); !s) return s;
      continue;
    }
    auto r = readers().find(key);
    if (r == readers().end()) return bad(source, key, "unknown key");
    if (auto s = r->second(node, c, key, source); !s) return s;
  }
  return {};
}

}  // namespace

Result<HostPort> parse_host_port(std::string_view s, bool allow_zero) {
  auto fail = [&](const std::string& why) {
    return make_error("bad-address", "expected HOST:PORT, got \"" + std::string(s) + "\"" + (why.empty() ? "" : ": " + why));
  };
  HostPort hp;
  std::string_view port;
  if (!s.empty() && s.front() == '[') {
    auto close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') return fail("");
    hp.host = std::string(s.substr(1, close - 1));
    port = s.substr(close + 2);
  } else {
    auto colon = s.rfind(':');
    if (colon == std::string_view::npos) return fail("");
    hp.host = std::string(s.substr(0, colon));
    port = s.substr(colon + 1);
    if (hp.host.find(':') != std::string::npos) return fail("write IPv6 addresses as [ADDR]:PORT");
  }
  if (hp.host.empty()) return fail("empty host");
  for (char ch : hp.host)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '-' || ch == ':' || ch == '_'))
      return fail("bad character in host");
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || value > 65535)
    return fail("port must be 0-65535");
  if (value == 0 && !allow_zero) return fail("port must not be 0");
  hp.port = static_cast<std::uint16_t>(value);
  return hp;
}

bool is_loopback_host(std::string_view host) {
  if (host == "localhost") return true;
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(std::string(host), ec);
  return !ec && address.is_loopback();
}

Result<Config> parse_config(std::string_view text, const std::filesystem::path& home, std::string_view source) {
  Config c;
  c.home = home;
  toml::table t;
  try {
    t = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    std::ostringstream o;
    o << source << ":" << e.source().begin.line << ":" << e.source().begin.column << ": " << e.description();
    return make_error("bad-config", o.str());
  }
  if (auto s = read_table(t, "", c, source); !s) return s.error();
  return c;
}

Result<Config> load_config(const std::filesystem::path& home) {
  const auto path = home / "config.toml";
  std::ifstream in(path);
  if (!in)
    return make_error("config-missing",
                      path.string() + " not found: run 'verityd init --home " + home.string() + "' first");
  std::stringstream text;
  text << in.rdbuf();
  return parse_config(text.str(), home, path.string());
}

std::string render_config(const Config& c) {
  auto q = [](const std::string& s) { return "\"" + s + "\""; };
  // An optional path: the key when set, else the key commented out with an example.
  auto optional_path = [&](const char* key, const std::string& value, const char* example) {
    return value.empty() ? "# " + std::string(key) + " = " + q(example) + "\n"
                         : std::string(key) + " = " + q(value) + "\n";
  };
  std::ostringstream o;
  o << "# Verity node configuration (TOML). Every key is optional: a missing key\n"
       "# takes the default shown in docs/node.md. Relative paths are relative to\n"
       "# this home directory. A wrong value stops start-up with a message that\n"
       "# names the key.\n\n"
    << "# A name for this node in logs.\n"
    << "moniker = " << q(c.moniker) << "\n"
    << "# debug | info | warn | error\n"
    << "log_level = " << q(log_level_word(c.log_level)) << "\n"
    << "# The network's genesis file (chain id, parameters, first validators).\n"
    << "genesis_file = " << q(c.genesis_file) << "\n"
    << "# The chain database (LevelDB) and the signed-votes record.\n"
    << "data_dir = " << q(c.data_dir) << "\n"
    << "# This node's identity on peer links (BIP-340 key, hex, mode 0600).\n"
    << "node_key_file = " << q(c.node_key_file) << "\n"
    << "# The key this node signs consensus votes with. NEVER run two nodes with\n"
    << "# the same validator key: they would double-sign and be slashed.\n"
    << "validator_key_file = " << q(c.validator_key_file) << "\n"
    << "# Encrypted key files (verityd init --encrypt-keys) need their passphrase:\n"
    << "# the first line of this file (not readable by other users; under systemd\n"
    << "# LoadCredential=, /run/credentials/verityd.service/NAME), else the\n"
    << "# environment variable VERITY_PASSPHRASE.\n"
    << optional_path("passphrase_file", c.passphrase_file, "/run/credentials/verityd.service/passphrase") << "\n"
    << "[p2p]\n"
    << "# Where peers connect (TLS 1.3, authenticated by node keys).\n"
    << "listen = " << q(c.p2p.listen.str()) << "\n"
    << "# Peers to keep connected, redialled with backoff for ever:\n"
    << "# \"NODEKEY@HOST:PORT\" pins the peer's node key (64 hex); \"HOST:PORT\" does not.\n"
    << "persistent_peers = [";
  for (std::size_t i = 0; i < c.p2p.persistent_peers.size(); ++i)
    o << (i ? ",\n  " : "\n  ") << q(c.p2p.persistent_peers[i]);
  o << (c.p2p.persistent_peers.empty() ? "]\n" : ",\n]\n")
    << "# Connections accepted from peers not listed above.\n"
    << "max_inbound_peers = " << c.p2p.max_inbound_peers << "\n"
    << "# Bytes queued for one peer before further messages to it are dropped.\n"
    << "send_queue_bytes = " << c.p2p.send_queue_bytes << "\n\n"
    << "[rpc]\n"
    << "# HTTP JSON-RPC, WebSocket (/ws), /health and /metrics. Keep it on\n"
    << "# 127.0.0.1 unless something in front of it protects it.\n"
    << "listen = " << q(c.rpc.listen.str()) << "\n"
    << "# Largest request body; larger requests get 413 and are closed.\n"
    << "max_body_bytes = " << c.rpc.max_body_bytes << "\n"
    << "# Most calls in one JSON-RPC batch.\n"
    << "max_batch = " << c.rpc.max_batch << "\n"
    << "# Connections open at once (HTTP and WebSocket); more get 503.\n"
    << "max_connections = " << c.rpc.max_connections << "\n"
    << "# A request must arrive whole this soon after its first byte, and a\n"
    << "# response must be taken as soon (slow clients are cut off).\n"
    << "request_timeout_ms = " << c.rpc.request_timeout_ms << "\n"
    << "# A keep-alive connection with no request for this long is closed.\n"
    << "idle_timeout_ms = " << c.rpc.idle_timeout_ms << "\n"
    << "# A file whose first line is a bearer token (at least 32 characters,\n"
    << "# e.g. 'openssl rand -hex 32'; not readable by other users). When set,\n"
    << "# send_tx and send_tx_commit require 'Authorization: Bearer TOKEN'; reads\n"
    << "# stay open. Set it whenever listen is not a loopback address.\n"
    << optional_path("auth_token_file", c.rpc.auth_token_file, "rpc_token") << "\n"
    << "[consensus]\n"
    << "# How long a height may take before replicas ask for a view change; it\n"
    << "# doubles with each consecutive view change.\n"
    << "timeout_ms = " << c.consensus.timeout_ms << "\n"
    << "# How long the primary waits for transactions before it proposes an\n"
    << "# empty block (keep it well below timeout_ms).\n"
    << "empty_block_interval_ms = " << c.consensus.empty_block_interval_ms << "\n"
    << "# Heights between PBFT checkpoints, and how far above the stable\n"
    << "# checkpoint messages are accepted.\n"
    << "checkpoint_interval = " << c.consensus.checkpoint_interval << "\n"
    << "watermark_window = " << c.consensus.watermark_window << "\n\n"
    << "[mempool]\n"
    << "# Pending transactions kept, by count and by bytes; when full, the\n"
    << "# lowest fee is evicted.\n"
    << "max_txs = " << c.mempool.max_txs << "\n"
    << "max_bytes = " << c.mempool.max_bytes << "\n";
  return o.str();
}

}  // namespace verity::node
