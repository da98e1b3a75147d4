#include "node/config.h"

#include <charconv>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <toml++/toml.h>

#include <boost/asio/ip/address.hpp>

#include "node/p2p_wire.h"  // parse_peer_address

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

// A string that must not be empty; `if_empty` says what to do instead.
template <class Get>
Reader string_key(Get get, std::string if_empty = {}) {
  return [get, if_empty](const toml::node& n, Config& c, const std::string& key, std::string_view source) -> Status {
    auto v = n.value_exact<std::string>();
    if (!v) return bad(source, key, "expected a string, got " + type_name(n));
    if (v->empty()) return bad(source, key, "must not be empty" + (if_empty.empty() ? "" : " (" + if_empty + ")"));
    get(c) = *v;
    return {};
  };
}

Reader string_key(std::string Config::*field) {
  return string_key([field](Config& c) -> std::string& { return c.*field; });
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
Reader bool_key(Get get) {
  return [get](const toml::node& n, Config& c, const std::string& key, std::string_view source) -> Status {
    auto v = n.value_exact<bool>();
    if (!v) return bad(source, key, "expected true or false, got " + type_name(n));
    get(c) = *v;
    return {};
  };
}

// An array of strings, each checked by `check` (a reason, or "" when fine).
template <class Get, class Check>
Reader strings_key(Get get, Check check) {
  return [get, check](const toml::node& n, Config& c, const std::string& key, std::string_view source) -> Status {
    const toml::array* a = n.as_array();
    if (!a) return bad(source, key, "expected an array of strings, got " + type_name(n));
    std::vector<std::string> out;
    for (std::size_t i = 0; i < a->size(); ++i) {
      const std::string item = key + "[" + std::to_string(i) + "]";
      auto v = (*a)[i].value_exact<std::string>();
      if (!v) return bad(source, item, "expected a string");
      if (std::string why = check(*v); !why.empty()) return bad(source, item, why + ", got \"" + *v + "\"");
      out.push_back(*v);
    }
    get(c) = std::move(out);
    return {};
  };
}

// A name or an address a Host header may carry, without port; or "*".
std::string check_allowed_host(const std::string& h) {
  if (h == "*") return {};
  if (h.empty()) return "must not be empty";
  std::string bare = h;
  if (bare.front() == '[') {
    if (bare.back() != ']') return "an IPv6 address goes in brackets, without port: \"[::1]\"";
    bare = bare.substr(1, bare.size() - 2);
    if (bare.empty()) return "an empty address";
  }
  if (bare.find(':') != std::string::npos) {
    boost::system::error_code ec;
    boost::asio::ip::make_address_v6(bare, ec);
    return ec ? "expected a host name or address without port (\"node.example\", \"10.0.0.5\", \"[::1]\")" : "";
  }
  for (char ch : bare)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '-' || ch == '_'))
      return "expected a host name or address without port (\"node.example\", \"10.0.0.5\", \"[::1]\")";
  return {};
}

// An origin as browsers send it: scheme://host[:port], no path; or "*".
std::string check_origin(const std::string& o) {
  if (o == "*") return {};
  if (o == "null")
    return "\"null\" is the origin of sandboxed frames and local files, which any site can make: list real origins";
  std::string_view rest = o;
  if (rest.rfind("http://", 0) == 0) rest.remove_prefix(7);
  else if (rest.rfind("https://", 0) == 0) rest.remove_prefix(8);
  else return "expected an origin such as \"https://wallet.example\" (http:// or https://, host, optional port)";
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.empty() || rest.find('/') != std::string_view::npos || rest.find('?') != std::string_view::npos ||
      rest.find('#') != std::string_view::npos || rest.find('@') != std::string_view::npos)
    return "expected an origin such as \"https://wallet.example\": scheme, host and optional port, no path";
  return {};
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
      {"log_format",
       [](const toml::node& n, Config& c, const std::string& key, std::string_view source) -> Status {
         auto v = n.value_exact<std::string>();
         auto format = v ? parse_log_format(*v) : std::nullopt;
         if (!format) return bad(source, key, "expected \"text\" or \"json\"");
         c.log_format = *format;
         return {};
       }},
      {"genesis_file", string_key(&Config::genesis_file)},
      {"data_dir", string_key(&Config::data_dir)},
      {"node_key_file", string_key(&Config::node_key_file)},
      {"validator_key_file", string_key(&Config::validator_key_file)},
      {"passphrase_file", string_key(&Config::passphrase_file)},
      {"p2p.listen", host_port_key([](Config& c) -> HostPort& { return c.p2p.listen; })},
      {"p2p.persistent_peers",
       strings_key([](Config& c) -> std::vector<std::string>& { return c.p2p.persistent_peers; },
                   [](const std::string& v) -> std::string {
                     auto p = parse_peer_address(v);
                     return p ? "" : p.error().detail + " (expected \"[NODEKEY@]HOST:PORT\")";
                   })},
      {"p2p.max_inbound_peers", uint_key([](Config& c) -> std::uint32_t& { return c.p2p.max_inbound_peers; }, 0, 10'000)},
      {"p2p.send_queue_bytes",
       uint_key([](Config& c) -> std::uint64_t& { return c.p2p.send_queue_bytes; }, 1 << 20, 1ull << 34)},
      {"rpc.listen", host_port_key([](Config& c) -> HostPort& { return c.rpc.listen; })},
      {"rpc.max_body_bytes",
       uint_key([](Config& c) -> std::uint64_t& { return c.rpc.max_body_bytes; }, 4096, 1ull << 30)},
      {"rpc.max_batch", uint_key([](Config& c) -> std::uint64_t& { return c.rpc.max_batch; }, 1, 100'000)},
      {"rpc.max_connections", uint_key([](Config& c) -> std::uint64_t& { return c.rpc.max_connections; }, 1, 100'000)},
      {"rpc.max_connections_per_ip",
       uint_key([](Config& c) -> std::uint64_t& { return c.rpc.max_connections_per_ip; }, 1, 100'000)},
      {"rpc.max_websockets_per_ip",
       uint_key([](Config& c) -> std::uint64_t& { return c.rpc.max_websockets_per_ip; }, 0, 100'000)},
      {"rpc.ws_idle_timeout_ms",
       uint_key([](Config& c) -> std::uint64_t& { return c.rpc.ws_idle_timeout_ms; }, 1000, 86'400'000)},
      {"rpc.allowed_hosts",
       strings_key([](Config& c) -> std::vector<std::string>& { return c.rpc.allowed_hosts; }, check_allowed_host)},
      {"rpc.cors_allowed_origins",
       strings_key([](Config& c) -> std::vector<std::string>& { return c.rpc.cors_allowed_origins; }, check_origin)},
      {"rpc.allow_public_without_token",
       bool_key([](Config& c) -> bool& { return c.rpc.allow_public_without_token; })},
      {"rpc.serve_pages", bool_key([](Config& c) -> bool& { return c.rpc.serve_pages; })},
      {"rpc.pages_dir", string_key([](Config& c) -> std::string& { return c.rpc.pages_dir; },
                                   "remove the key for the installed pages")},
      {"rpc.request_timeout_ms",
       uint_key([](Config& c) -> std::uint64_t& { return c.rpc.request_timeout_ms; }, 100, 3'600'000)},
      {"rpc.idle_timeout_ms",
       uint_key([](Config& c) -> std::uint64_t& { return c.rpc.idle_timeout_ms; }, 100, 3'600'000)},
      {"rpc.auth_token_file", string_key([](Config& c) -> std::string& { return c.rpc.auth_token_file; },
                                         "remove the key for no token")},
      {"consensus.timeout_ms",
       uint_key([](Config& c) -> std::uint64_t& { return c.consensus.timeout_ms; }, 50, 600'000)},
      {"consensus.empty_block_interval_ms",
       uint_key([](Config& c) -> std::uint64_t& { return c.consensus.empty_block_interval_ms; }, 0, 600'000)},
      {"consensus.last_commit_grace_ms",
       uint_key([](Config& c) -> std::uint64_t& { return c.consensus.last_commit_grace_ms; }, 0, 1000)},
      {"consensus.busy_block_pause_ms",
       uint_key([](Config& c) -> std::uint64_t& { return c.consensus.busy_block_pause_ms; }, 0, 1000)},
      {"consensus.double_sign_check_heights",
       uint_key([](Config& c) -> std::uint64_t& { return c.consensus.double_sign_check_heights; }, 0, 1'000'000)},
      {"consensus.checkpoint_interval",
       uint_key([](Config& c) -> std::uint64_t& { return c.consensus.checkpoint_interval; }, 1, 1'000'000)},
      {"consensus.watermark_window",
       uint_key([](Config& c) -> std::uint64_t& { return c.consensus.watermark_window; }, 2, 1'000'000)},
      {"mempool.max_txs", uint_key([](Config& c) -> std::uint64_t& { return c.mempool.max_txs; }, 1, 10'000'000)},
      {"mempool.max_bytes",
       uint_key([](Config& c) -> std::uint64_t& { return c.mempool.max_bytes; }, 1 << 20, 1ull << 36)},
      {"storage.state_cache_mb",
       uint_key([](Config& c) -> std::uint64_t& { return c.storage.state_cache_mb; }, 0, 1 << 20)},
      {"storage.keep_recent_heights",
       uint_key([](Config& c) -> std::uint64_t& { return c.storage.keep_recent_heights; }, 0, 1ull << 40)},
      {"storage.keep_recent_blocks",
       uint_key([](Config& c) -> std::uint64_t& { return c.storage.keep_recent_blocks; }, 0, 1ull << 40)},
      {"storage.snapshot_interval",
       uint_key([](Config& c) -> std::uint64_t& { return c.storage.snapshot_interval; }, 0, 1ull << 40)},
      {"storage.snapshot_keep_recent",
       uint_key([](Config& c) -> std::uint64_t& { return c.storage.snapshot_keep_recent; }, 1, 1000)},
      {"state_sync.enable", bool_key([](Config& c) -> bool& { return c.state_sync.enable; })},
  };
  return r;
}

Status read_table(const toml::table& t, const std::string& prefix, Config& c, std::string_view source) {
  for (auto&& [k, node] : t) {
    const std::string key = prefix + std::string(k.str());
    if (const toml::table* sub = node.as_table(); sub && prefix.empty()) {
      static const std::set<std::string> sections = {"p2p", "rpc", "consensus", "mempool", "storage",
                                                             "state_sync"};
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

bool is_loopback_host(std::string_view host) {
  if (host == "localhost") return true;
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(std::string(host), ec);
  return !ec && address.is_loopback();
}

Status check_public_rpc(const Config& c, bool has_token) {
  if (has_token || c.rpc.allow_public_without_token || is_loopback_host(c.rpc.listen.host)) return {};
  return make_error("public-rpc-without-token",
                    "[rpc] listen = \"" + c.rpc.listen.str() +
                        "\" is reachable from other machines and there is no token, so anyone reaching it could "
                        "submit transactions through this node: set [rpc] auth_token_file (a file holding "
                        "'openssl rand -hex 32'), or listen on 127.0.0.1; to serve it so anyway, set [rpc] "
                        "allow_public_without_token = true");
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
  if (c.storage.keep_recent_blocks != 0 && c.storage.keep_recent_blocks < Config::kMinKeptBlocks)
    return make_error("bad-config", std::string(source) + ": storage.keep_recent_blocks: 0 (keep all) or at least " +
                                        std::to_string(Config::kMinKeptBlocks) + ", got " +
                                        std::to_string(c.storage.keep_recent_blocks));
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
  auto toml_strings = [&](const std::vector<std::string>& v) {
    std::string out = "[";
    for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + q(v[i]);
    return out + "]";
  };
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
    << "# text (one line per event) | json (one JSON object per line: for log collectors)\n"
    << "log_format = " << q(log_format_word(c.log_format)) << "\n"
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
    << "# Connections open at once (HTTP and WebSocket). When full, a new one\n"
    << "# closes the longest idle (a silent or keep-alive connection, a\n"
    << "# WebSocket without subscriptions); if none is idle it gets 503.\n"
    << "max_connections = " << c.rpc.max_connections << "\n"
    << "# Connections, and WebSockets, from one client address (IPv6: one /64);\n"
    << "# beyond them its own idlest closes, else 429. Behind a reverse proxy\n"
    << "# every client has the proxy's address: raise both there.\n"
    << "max_connections_per_ip = " << c.rpc.max_connections_per_ip << "\n"
    << "max_websockets_per_ip = " << c.rpc.max_websockets_per_ip << "\n"
    << "# A request must arrive whole this soon after its first byte, and a\n"
    << "# response must be taken as soon (slow clients are cut off).\n"
    << "request_timeout_ms = " << c.rpc.request_timeout_ms << "\n"
    << "# A keep-alive connection with no request for this long is closed.\n"
    << "idle_timeout_ms = " << c.rpc.idle_timeout_ms << "\n"
    << "# A WebSocket without subscriptions that sends no message (pings do not\n"
    << "# count) for this long is closed.\n"
    << "ws_idle_timeout_ms = " << c.rpc.ws_idle_timeout_ms << "\n"
    << "# Host header names this node answers besides localhost, 127.0.0.1,\n"
    << "# [::1] and the listen host (DNS rebinding: a page must not reach the\n"
    << "# node by a name of the page's choosing). No port; \"*\" for any\n"
    << "# (behind a proxy that checks it).\n"
    << "allowed_hosts = " << toml_strings(c.rpc.allowed_hosts) << "\n"
    << "# Origins whose web pages may call this node (CORS, WebSockets), e.g.\n"
    << "# \"https://wallet.example\"; others get 403. \"*\" for any.\n"
    << "cors_allowed_origins = " << toml_strings(c.rpc.cors_allowed_origins) << "\n"
    << "# A file whose first line is a bearer token (at least 32 characters,\n"
    << "# e.g. 'openssl rand -hex 32'; not readable by other users). When set,\n"
    << "# send_tx and send_tx_commit require 'Authorization: Bearer TOKEN'; reads\n"
    << "# stay open. Set it whenever listen is not a loopback address.\n"
    << optional_path("auth_token_file", c.rpc.auth_token_file, "rpc_token")
    << "# Without a token, start refuses a listen address beyond loopback,\n"
    << "# unless this is true (anyone reaching it may then submit transactions).\n"
    << "allow_public_without_token = " << (c.rpc.allow_public_without_token ? "true" : "false") << "\n"
    << "# Serve the browser pages (the worker page, /worker) on this port. They\n"
    << "# read only the public JSON-RPC and WebSocket; false keeps them off.\n"
    << "serve_pages = " << (c.rpc.serve_pages ? "true" : "false") << "\n"
    << "# Where the pages are; by default VERITY_PAGES_DIR, else the installed ones.\n"
    << optional_path("pages_dir", c.rpc.pages_dir, "/usr/local/share/verity/pages") << "\n"
    << "[consensus]\n"
    << "# How long a height may take before replicas ask for a view change; it\n"
    << "# doubles with each consecutive view change.\n"
    << "timeout_ms = " << c.consensus.timeout_ms << "\n"
    << "# How long the primary waits for transactions before it proposes an\n"
    << "# empty block (keep it well below timeout_ms).\n"
    << "empty_block_interval_ms = " << c.consensus.empty_block_interval_ms << "\n"
    << "# Right after a commit, how long the primary of the next block waits\n"
    << "# for the commit votes of the block just committed that it has not\n"
    << "# received yet (it proposes as soon as the last arrives): the next\n"
    << "# block's last_commit then credits every validator that signed, for\n"
    << "# rewards and the downtime rule. Milliseconds, 0 to 1000; 0 never waits.\n"
    << "last_commit_grace_ms = " << c.consensus.last_commit_grace_ms << "\n"
    << "# Under load (the block just committed carried 4 or more transactions)\n"
    << "# the next primary proposes no sooner than this long after the commit:\n"
    << "# transactions still spreading between the mempools make that block,\n"
    << "# and fewer, fuller blocks leave CPU to the rest. Milliseconds, 0 to\n"
    << "# 1000; 0 never pauses.\n"
    << "busy_block_pause_ms = " << c.consensus.busy_block_pause_ms << "\n"
    << "# When the signed-votes record is missing or older than the chain found\n"
    << "# on start (data lost, or restored from a backup), watch this many\n"
    << "# heights commit without a vote of this validator's key before signing\n"
    << "# anything; a vote of the key meanwhile means another instance runs\n"
    << "# with it, and the node stops. 0 turns the check off.\n"
    << "double_sign_check_heights = " << c.consensus.double_sign_check_heights << "\n"
    << "# Heights between PBFT checkpoints, and how far above the stable\n"
    << "# checkpoint messages are accepted.\n"
    << "checkpoint_interval = " << c.consensus.checkpoint_interval << "\n"
    << "watermark_window = " << c.consensus.watermark_window << "\n\n"
    << "[mempool]\n"
    << "# Pending transactions kept, by count and by bytes; when full, the\n"
    << "# lowest fee is evicted.\n"
    << "max_txs = " << c.mempool.max_txs << "\n"
    << "max_bytes = " << c.mempool.max_bytes << "\n\n"
    << "[storage]\n"
    << "# Most memory for the state-map pages the node keeps at hand (MiB; 0 none):\n"
    << "# the more of the map it holds, the fewer disk reads a block costs.\n"
    << "state_cache_mb = " << c.storage.state_cache_mb << "\n"
    << "# Versions of the state map kept on disk: older ones are deleted in the\n"
    << "# background. 0 keeps every version (an archive node). A node switched\n"
    << "# from 0 to pruning never deletes the versions it wrote before.\n"
    << "keep_recent_heights = " << c.storage.keep_recent_heights << "\n"
    << "# Blocks kept on disk (with their certificates and receipts): older ones\n"
    << "# are deleted in the background. 0 keeps every block, which a node that\n"
    << "# joins by replaying the chain needs from its peers; at least 100 otherwise.\n"
    << "keep_recent_blocks = " << c.storage.keep_recent_blocks << "\n"
    << "# Every this many heights the node writes a snapshot of the state to\n"
    << "# data/snapshots, in the background, and offers it to peers that join\n"
    << "# by state sync; 0 writes none. The newest snapshot_keep_recent stay.\n"
    << "snapshot_interval = " << c.storage.snapshot_interval << "\n"
    << "snapshot_keep_recent = " << c.storage.snapshot_keep_recent << "\n\n"
    << "[state_sync]\n"
    << "# On a home with no chain yet, start restores the newest snapshot its\n"
    << "# peers offer (every chunk checked, its root checked against a header\n"
    << "# certified by the validator sets followed from the genesis file)\n"
    << "# instead of replaying every block, then follows the chain. Ignored\n"
    << "# once the home has a chain.\n"
    << "enable = " << (c.state_sync.enable ? "true" : "false") << "\n";
  return o.str();
}

}  // namespace verity::node
