#pragma once
// The node's configuration: HOME/config.toml, TOML read with toml++.
//
// Every key is optional and has the default that `verityd init` writes
// (with a comment per key). Unknown keys and wrong values stop start-up with
// reason "bad-config" and a message that names the key and the reason, for
// example `config.toml: p2p.listen: expected HOST:PORT, got "localhost"`: a
// typo must not silently fall back to a default.
//
// Relative paths are relative to the home directory.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/host_port.h"
#include "core/result.h"
#include "node/log.h"

namespace verity::node {

// Listen addresses are core/host_port.h's HostPort.

struct Config {
  std::filesystem::path home;

  std::string moniker = "verity-node";
  LogLevel log_level = LogLevel::info;
  LogFormat log_format = LogFormat::text;  // log_format: "text" or "json" (node/log.h)
  std::string genesis_file = "genesis.json";
  std::string data_dir = "data";
  std::string node_key_file = "node_key.json";
  std::string validator_key_file = "validator_key.json";
  // A file holding the passphrase of encrypted key files (`verityd init
  // --encrypt-keys`); empty: the environment's VERITY_PASSPHRASE, if any.
  std::string passphrase_file;

  struct P2P {
    HostPort listen{"0.0.0.0", 7801};
    std::vector<std::string> persistent_peers;  // "[NODEKEYHEX@]HOST:PORT"
    std::uint32_t max_inbound_peers = 40;
    std::uint64_t send_queue_bytes = 64ull << 20;
  } p2p;

  struct Rpc {
    HostPort listen{"127.0.0.1", 7701};
    std::uint64_t max_body_bytes = 5ull << 20;
    std::uint64_t max_batch = 100;
    std::uint64_t max_connections = 256;
    std::uint64_t max_connections_per_ip = 32;  // per client address (IPv6: per /64)
    std::uint64_t max_websockets_per_ip = 16;   // 0: no WebSockets
    std::uint64_t request_timeout_ms = 10'000;  // a whole request, from its first byte
    std::uint64_t idle_timeout_ms = 60'000;     // a keep-alive connection with no request
    std::uint64_t ws_idle_timeout_ms = 300'000; // a WebSocket without subscriptions and no message
    // A file holding the bearer token that send_tx and send_tx_commit
    // require (docs/rpc-server.md, "Authentication"); empty: none.
    std::string auth_token_file;
    // Host header names besides localhost, 127.0.0.1, [::1] and the listen
    // host ("*": any); origins whose pages may call ("*": any). Both are
    // checked as parsed: hosts without port, origins scheme://host[:port].
    std::vector<std::string> allowed_hosts;
    std::vector<std::string> cors_allowed_origins;
    // Start even when listen is beyond loopback and there is no token
    // (else start refuses: "public-rpc-without-token").
    bool allow_public_without_token = false;
    // The static pages served on GET (the browser worker, /worker:
    // rpc/pages.h): false serves none. pages_dir empty: the environment's
    // VERITY_PAGES_DIR, else the installed pages (share/verity/pages).
    bool serve_pages = true;
    std::string pages_dir;
  } rpc;

  struct Consensus {
    std::uint64_t timeout_ms = 5000;               // first view-change timeout; doubles per failed view
    std::uint64_t empty_block_interval_ms = 1000;  // the primary waits this long for transactions
    // A primary about to propose right after a commit waits at most this
    // long for the commit votes of that block it has not received yet, so
    // that the next block's last_commit credits every validator that
    // signed (docs/node.md, "How a block is made"); 0: never waits.
    std::uint64_t last_commit_grace_ms = 10;
    // Under load (the block just committed carried at least
    // kBusyBlockTxs transactions) the next primary proposes no sooner than
    // this long after the commit: transactions still spreading between the
    // mempools make that block, and fewer, fuller blocks leave CPU to the
    // rest (docs/node.md, "How a block is made"); 0: never pauses.
    std::uint64_t busy_block_pause_ms = 6;
    // Heights a validator watches commit without a vote of its own key
    // before it signs, when its signed-votes record is missing or older
    // than the chain it finds (docs/operators.md, "Restoring a validator");
    // 0 turns the check off.
    std::uint64_t double_sign_check_heights = 5;
    std::uint64_t checkpoint_interval = 10;
    std::uint64_t watermark_window = 20;
  } consensus;

  struct Mempool {
    std::uint64_t max_txs = 50'000;
    std::uint64_t max_bytes = 64ull << 20;
  } mempool;

  // The fewest blocks a pruning node keeps: the recent ones its peers and
  // its own RPC readers still ask for.
  static constexpr std::uint64_t kMinKeptBlocks = 100;
  struct Storage {
    std::uint64_t state_cache_mb = 256;          // the state-map page cache
    std::uint64_t keep_recent_heights = 10'000;  // versions of the state map kept; 0 keeps all (archive)
    std::uint64_t keep_recent_blocks = 0;        // blocks kept; 0 keeps all (what a joining peer replays)
    // Heights between the state snapshots offered to joining nodes
    // (node/snapshots.h); 0: none. The newest snapshot_keep_recent stay.
    std::uint64_t snapshot_interval = 1000;
    std::uint64_t snapshot_keep_recent = 2;
  } storage;

  struct StateSync {
    // On a home with no chain yet, start joins by state sync
    // (node/state_sync.h) instead of replaying from genesis.
    bool enable = false;
  } state_sync;

  std::filesystem::path path_of(const std::string& p) const {
    std::filesystem::path q(p);
    return q.is_absolute() ? q : home / q;
  }
};

// Reads HOME/config.toml. Reasons: "config-missing", "bad-config".
Result<Config> load_config(const std::filesystem::path& home);
// Parses TOML text (`source` names it in messages).
Result<Config> parse_config(std::string_view text, const std::filesystem::path& home, std::string_view source = "config.toml");
// The commented file `verityd init` writes for these values.
std::string render_config(const Config& c);

// Whether `host` (an address or a name) is the loopback interface only
// (127.0.0.0/8, ::1, "localhost"): start refuses to serve RPC beyond it
// without a token, unless rpc.allow_public_without_token.
bool is_loopback_host(std::string_view host);

// start's rule for an RPC reachable from other machines: with a token, or
// with rpc.allow_public_without_token; else reason "public-rpc-without-token"
// and a detail naming both fixes.
Status check_public_rpc(const Config& c, bool has_token);

}  // namespace verity::node
