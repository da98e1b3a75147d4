#define BOOST_TEST_MODULE config_tests
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "tests/test_support.h"
#include "core/hex.h"
#include "node/config.h"

using namespace verity;
using namespace verity::node;
namespace fs = std::filesystem;

namespace {
std::string error_of(std::string_view text) {
  auto c = parse_config(text, "/home/x");
  BOOST_REQUIRE(!c);
  BOOST_CHECK_EQUAL(c.error().reason, "bad-config");
  return c.error().detail;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Each config text is refused, with a message that contains its words.
void expect_errors(const std::vector<std::pair<std::string, std::string>>& cases) {
  for (const auto& [text, words] : cases) {
    const std::string error = error_of(text);
    BOOST_CHECK_MESSAGE(contains(error, words),
                        "config \"" << text << "\": \"" << error << "\" lacks \"" << words << "\"");
  }
}

using TempDir = verity::testing::TempDir;
}  // namespace

BOOST_AUTO_TEST_CASE(rendered_defaults_read_back_the_same) {
  Config c;
  c.home = "/h";
  c.moniker = "node-7";
  c.p2p.persistent_peers = {"127.0.0.1:7802", std::string(64, 'a') + "@example.org:7803"};
  c.consensus.timeout_ms = 1234;
  auto back = parse_config(render_config(c), "/h");
  BOOST_REQUIRE_MESSAGE(back.ok(), (back.ok() ? std::string() : back.error().to_string()));
  BOOST_CHECK_EQUAL(back->moniker, "node-7");
  BOOST_CHECK(back->p2p.persistent_peers == c.p2p.persistent_peers);
  BOOST_CHECK_EQUAL(back->consensus.timeout_ms, 1234u);
  BOOST_CHECK(back->p2p.listen == c.p2p.listen);
  BOOST_CHECK(back->rpc.listen == c.rpc.listen);
  BOOST_CHECK_EQUAL(back->mempool.max_txs, c.mempool.max_txs);
  // Comments explain the keys.
  BOOST_CHECK(contains(render_config(c), "# "));
}

BOOST_AUTO_TEST_CASE(an_empty_file_gives_the_defaults) {
  auto c = parse_config("", "/h");
  BOOST_REQUIRE(c);
  BOOST_CHECK_EQUAL(c->p2p.listen.port, 7801);
  BOOST_CHECK_EQUAL(c->rpc.listen.str(), "127.0.0.1:7701");
  BOOST_CHECK_EQUAL(c->path_of("data"), fs::path("/h/data"));
  BOOST_CHECK_EQUAL(c->path_of("/abs/x"), fs::path("/abs/x"));
}

// The proposal's waits after a commit (consensus.*_ms, 0 to 1000): the
// default, a round trip through render_config, both ends and bad values.
BOOST_AUTO_TEST_CASE(commit_wait_keys_default_read_back_and_are_bounded) {
  struct Key {
    const char* name;
    std::uint64_t Config::Consensus::*member;
    std::uint64_t fallback;
  };
  for (const Key& k : {Key{"last_commit_grace_ms", &Config::Consensus::last_commit_grace_ms, 10},
                       Key{"busy_block_pause_ms", &Config::Consensus::busy_block_pause_ms, 6}}) {
    BOOST_TEST_CONTEXT(k.name) {
      const std::string name = k.name;
      auto d = parse_config("", "/h");
      BOOST_REQUIRE(d);
      BOOST_CHECK_EQUAL(d->consensus.*k.member, k.fallback);
      BOOST_CHECK(contains(render_config(*d), name + " = " + std::to_string(k.fallback) + "\n"));
      Config c;
      c.consensus.*k.member = 0;  // never wait
      auto back = parse_config(render_config(c), "/h");
      BOOST_REQUIRE(back);
      BOOST_CHECK_EQUAL(back->consensus.*k.member, 0u);
      auto set = parse_config("[consensus]\n" + name + " = 1000\n", "/h");
      BOOST_REQUIRE(set);
      BOOST_CHECK_EQUAL(set->consensus.*k.member, 1000u);
      BOOST_CHECK(contains(error_of("[consensus]\n" + name + " = 1001\n"), "consensus." + name));
      BOOST_CHECK(contains(error_of("[consensus]\n" + name + " = -1\n"), "consensus." + name));
      BOOST_CHECK(contains(error_of("[consensus]\n" + name + " = \"6\"\n"), "consensus." + name));
    }
  }
}

BOOST_AUTO_TEST_CASE(bad_values_name_the_key_and_the_reason) {
  expect_errors({
      {"[p2p]\nlisten = \"localhost\"\n", "p2p.listen"},
      {"[p2p]\nlisten = \"localhost\"\n", "HOST:PORT"},
      {"[p2p]\nlisten = \"1.2.3.4:70000\"\n", "port"},
      {"[p2p]\nlisten = 7801\n", "expected a string"},
      {"[consensus]\ntimeout_ms = \"fast\"\n", "consensus.timeout_ms: expected an integer"},
      {"[consensus]\ntimeout_ms = 1\n", "between 50 and"},
      {"[consensus]\ntimeout_ms = -5\n", "consensus.timeout_ms"},
      {"log_level = \"loud\"\n", "log_level"},
      {"log_format = \"xml\"\n", "log_format"},
      {"moniker = \"\"\n", "moniker: must not be empty"},
      {"monikr = \"x\"\n", "monikr: unknown key"},
      {"[p2p]\nlisten_port = 1\n", "p2p.listen_port: unknown key"},
      {"[network]\nx = 1\n", "network: unknown section"},
      {"[p2p]\npersistent_peers = [\"nope\"]\n", "p2p.persistent_peers[0]"},
      {"[p2p]\npersistent_peers = [\"zz@1.2.3.4:5\"]\n", "64 hex"},
      {"[p2p]\npersistent_peers = \"1.2.3.4:5\"\n", "expected an array"},
  });
  // TOML syntax errors give the line.
  BOOST_CHECK(contains(error_of("[p2p\n"), ":1:"));
}

BOOST_AUTO_TEST_CASE(load_config_says_to_run_init) {
  TempDir d;
  auto c = load_config(d.path);
  BOOST_REQUIRE(!c);
  BOOST_CHECK_EQUAL(c.error().reason, "config-missing");
  BOOST_CHECK(contains(c.error().detail, "verityd init"));
}

BOOST_AUTO_TEST_CASE(optional_secret_files_render_commented_out_and_read_back) {
  Config c;
  c.home = "/h";
  const std::string text = render_config(c);
  // Unset: commented out, with an example, so the default stays "none".
  BOOST_CHECK(contains(text, "# passphrase_file = "));
  BOOST_CHECK(contains(text, "# auth_token_file = "));
  auto back = parse_config(text, "/h");
  BOOST_REQUIRE(back);
  BOOST_CHECK(back->passphrase_file.empty());
  BOOST_CHECK(back->rpc.auth_token_file.empty());
  c.passphrase_file = "/run/credentials/verityd.service/passphrase";
  c.rpc.auth_token_file = "rpc_token";
  auto set = parse_config(render_config(c), "/h");
  BOOST_REQUIRE(set);
  BOOST_CHECK_EQUAL(set->passphrase_file, c.passphrase_file);
  BOOST_CHECK_EQUAL(set->rpc.auth_token_file, "rpc_token");
  BOOST_CHECK_EQUAL(set->path_of(set->rpc.auth_token_file), fs::path("/h/rpc_token"));
  BOOST_CHECK(contains(error_of("[rpc]\nauth_token_file = \"\"\n"), "rpc.auth_token_file"));
  BOOST_CHECK(contains(error_of("[rpc]\nauth_token_file = 5\n"), "expected a string"));
  BOOST_CHECK(contains(error_of("passphrase_file = \"\"\n"), "passphrase_file"));
}

BOOST_AUTO_TEST_CASE(rpc_connection_and_browser_keys) {
  auto d = parse_config("", "/h");
  BOOST_REQUIRE(d);
  BOOST_CHECK_EQUAL(d->rpc.max_connections_per_ip, 32u);
  BOOST_CHECK_EQUAL(d->rpc.max_websockets_per_ip, 16u);
  BOOST_CHECK_EQUAL(d->rpc.ws_idle_timeout_ms, 300'000u);
  BOOST_CHECK(d->rpc.allowed_hosts.empty());
  BOOST_CHECK(d->rpc.cors_allowed_origins.empty());
  BOOST_CHECK(!d->rpc.allow_public_without_token);

  auto c = parse_config(
      "[rpc]\nmax_connections_per_ip = 4\nmax_websockets_per_ip = 0\nws_idle_timeout_ms = 5000\n"
      "allowed_hosts = [\"node.example\", \"10.0.0.5\", \"[2001:db8::1]\", \"::1\", \"*\"]\n"
      "cors_allowed_origins = [\"https://wallet.example\", \"http://localhost:3000/\", \"*\"]\n"
      "allow_public_without_token = true\n",
      "/h");
  BOOST_REQUIRE_MESSAGE(c, (c ? "" : c.error().to_string()));
  BOOST_CHECK_EQUAL(c->rpc.max_connections_per_ip, 4u);
  BOOST_CHECK_EQUAL(c->rpc.max_websockets_per_ip, 0u);
  BOOST_CHECK_EQUAL(c->rpc.ws_idle_timeout_ms, 5000u);
  BOOST_CHECK_EQUAL(c->rpc.allowed_hosts.size(), 5u);
  BOOST_CHECK_EQUAL(c->rpc.cors_allowed_origins.size(), 3u);
  BOOST_CHECK(c->rpc.allow_public_without_token);
  // And they survive render_config.
  auto back = parse_config(render_config(*c), "/h");
  BOOST_REQUIRE_MESSAGE(back, (back ? "" : back.error().to_string()));
  BOOST_CHECK(back->rpc.allowed_hosts == c->rpc.allowed_hosts);
  BOOST_CHECK(back->rpc.cors_allowed_origins == c->rpc.cors_allowed_origins);
  BOOST_CHECK_EQUAL(back->rpc.max_connections_per_ip, 4u);
  BOOST_CHECK_EQUAL(back->rpc.ws_idle_timeout_ms, 5000u);
  BOOST_CHECK(back->rpc.allow_public_without_token);

  expect_errors({
      {"[rpc]\nmax_connections_per_ip = 0\n", "rpc.max_connections_per_ip"},
      {"[rpc]\nws_idle_timeout_ms = 10\n", "rpc.ws_idle_timeout_ms"},
      {"[rpc]\nallowed_hosts = \"x\"\n", "expected an array"},
      {"[rpc]\nallowed_hosts = [\"node.example:7701\"]\n", "rpc.allowed_hosts[0]"},
      {"[rpc]\nallowed_hosts = [\"a\", \"http://x\"]\n", "rpc.allowed_hosts[1]"},
      {"[rpc]\nallowed_hosts = [\"[::1\"]\n", "brackets"},
      {"[rpc]\nallowed_hosts = [\"[]\"]\n", "rpc.allowed_hosts[0]"},
      {"[rpc]\ncors_allowed_origins = [\"wallet.example\"]\n", "https://"},
      {"[rpc]\ncors_allowed_origins = [\"https://w.example/app\"]\n", "no path"},
      {"[rpc]\ncors_allowed_origins = [\"null\"]\n", "sandboxed"},
      {"[rpc]\nallow_public_without_token = \"yes\"\n", "true or false"},
  });
}

// start refuses an RPC others can reach without a token, unless told to.
BOOST_AUTO_TEST_CASE(a_public_rpc_needs_a_token_or_a_yes) {
  Config c;
  BOOST_CHECK(check_public_rpc(c, false).ok());  // 127.0.0.1
  c.rpc.listen = {"0.0.0.0", 7701};
  auto refused = check_public_rpc(c, false);
  BOOST_REQUIRE(!refused.ok());
  BOOST_CHECK_EQUAL(refused.error().reason, "public-rpc-without-token");
  BOOST_CHECK(contains(refused.error().detail, "auth_token_file"));
  BOOST_CHECK(contains(refused.error().detail, "allow_public_without_token = true"));
  BOOST_CHECK(contains(refused.error().detail, "0.0.0.0:7701"));
  BOOST_CHECK(check_public_rpc(c, true).ok());
  c.rpc.allow_public_without_token = true;
  BOOST_CHECK(check_public_rpc(c, false).ok());
}

BOOST_AUTO_TEST_CASE(loopback_hosts) {
  for (const char* h : {"127.0.0.1", "127.1.2.3", "::1", "localhost"}) BOOST_CHECK_MESSAGE(is_loopback_host(h), h);
  for (const char* h : {"0.0.0.0", "::", "10.0.0.1", "203.0.113.7", "node.example"})
    BOOST_CHECK_MESSAGE(!is_loopback_host(h), h);
}


// The browser pages (docs/rpc-server.md, "Pages"): on by default, from the
// default places; both keys read back from the rendered file.
BOOST_AUTO_TEST_CASE(pages_keys) {
  auto d = parse_config("", "/h");
  BOOST_REQUIRE(d);
  BOOST_CHECK(d->rpc.serve_pages);
  BOOST_CHECK(d->rpc.pages_dir.empty());
  BOOST_CHECK(contains(render_config(*d), "# pages_dir = "));
  auto c = parse_config("[rpc]\nserve_pages = false\npages_dir = \"site\"\n", "/h");
  BOOST_REQUIRE_MESSAGE(c, (c ? "" : c.error().to_string()));
  BOOST_CHECK(!c->rpc.serve_pages);
  BOOST_CHECK_EQUAL(c->rpc.pages_dir, "site");
  BOOST_CHECK_EQUAL(c->path_of(c->rpc.pages_dir).string(), "/h/site");
  auto back = parse_config(render_config(*c), "/h");
  BOOST_REQUIRE_MESSAGE(back, (back ? "" : back.error().to_string()));
  BOOST_CHECK(!back->rpc.serve_pages);
  BOOST_CHECK_EQUAL(back->rpc.pages_dir, "site");
  expect_errors({
      {"[rpc]\nserve_pages = 1\n", "true or false"},
      {"[rpc]\npages_dir = \"\"\n", "rpc.pages_dir"},
      {"[rpc]\npages_dir = 3\n", "expected a string"},
  });
}

// [storage]: the defaults, a round trip through render_config, archive
// (keep_recent_heights 0) and bad values named in the error.
BOOST_AUTO_TEST_CASE(storage_keys_default_read_back_and_are_checked) {
  auto d = parse_config("", "/h");
  BOOST_REQUIRE(d);
  BOOST_CHECK_EQUAL(d->storage.state_cache_mb, 256u);
  BOOST_CHECK_EQUAL(d->storage.keep_recent_heights, 10'000u);
  BOOST_CHECK(contains(render_config(*d), "state_cache_mb = 256\n"));
  BOOST_CHECK(contains(render_config(*d), "keep_recent_heights = 10000\n"));
  Config c;
  c.storage.state_cache_mb = 0;
  c.storage.keep_recent_heights = 0;
  auto back = parse_config(render_config(c), "/h");
  BOOST_REQUIRE(back);
  BOOST_CHECK_EQUAL(back->storage.state_cache_mb, 0u);
  BOOST_CHECK_EQUAL(back->storage.keep_recent_heights, 0u);
  auto set = parse_config("[storage]\nstate_cache_mb = 512\nkeep_recent_heights = 100\n", "/h");
  BOOST_REQUIRE(set);
  BOOST_CHECK_EQUAL(set->storage.state_cache_mb, 512u);
  BOOST_CHECK_EQUAL(set->storage.keep_recent_heights, 100u);
  BOOST_CHECK(contains(error_of("[storage]\nkeep_recent_heights = -1\n"), "storage.keep_recent_heights"));
  BOOST_CHECK(contains(error_of("[storage]\nstate_cache_mb = \"big\"\n"), "storage.state_cache_mb"));
  BOOST_CHECK(contains(error_of("[storage]\nstate_cache_mb = 2000000\n"), "storage.state_cache_mb"));
  BOOST_CHECK(contains(error_of("[storage]\nprune = true\n"), "storage.prune"));
  BOOST_CHECK_EQUAL(d->storage.keep_recent_blocks, 0u);
  BOOST_CHECK(contains(render_config(*d), "keep_recent_blocks = 0\n"));
  auto blocks = parse_config("[storage]\nkeep_recent_blocks = 5000\n", "/h");
  BOOST_REQUIRE(blocks);
  BOOST_CHECK_EQUAL(blocks->storage.keep_recent_blocks, 5000u);
  BOOST_CHECK(contains(error_of("[storage]\nkeep_recent_blocks = 10\n"), "storage.keep_recent_blocks"));
}
