#include "node/verityd_commands.h"

#include <sys/stat.h>

#include <utility>

#include <boost/asio.hpp>
#include <filesystem>
#include <fstream>
#include <cerrno>
#include <cstdlib>
#include <set>
#include <optional>
#include <ostream>
#include <sstream>
#include <thread>

#include "cli/args.h"
#include "cli/key_file.h"
#include "cli/secret_file.h"
#include "cli/terminal.h"
#include "contracts/native.h"
#include "node/config.h"
#include "node/export.h"
#include "node/node.h"
#include "node/state_sync.h"
#include "node/safety_file.h"
#include "node/rpc_backend.h"
#include "rpc/genesis_json.h"
#include "rpc/server.h"

namespace verity::node {

namespace {

namespace fs = std::filesystem;

using cli::kExitFailure;
using cli::kExitOk;
using cli::kExitUsage;
using Flags = cli::Args;

cli::CommandSpec spec_of(std::string command, std::set<std::string> with_value, std::set<std::string> switches = {}) {
  return cli::CommandSpec{"verityd", std::move(command), std::move(with_value), std::move(switches), {}, 0, 0, ""};
}

// Parses `args` by cli/args.h's rules; on error writes why and returns nullopt.
std::optional<Flags> parse_flags(const cli::CommandSpec& spec, const std::vector<std::string>& args, std::ostream& err) {
  auto f = cli::parse_args(spec, args);
  if (!f) {
    cli::usage_failure("verityd " + spec.command, f.error(), err);
    return std::nullopt;
  }
  return std::move(*f);
}

std::optional<fs::path> home_of(const std::string& command, const Flags& f, std::ostream& err) {
  auto home = f.get("home");
  if (!home || home->empty()) {
    err << "verityd " << command << ": --home DIR is required (the node's directory)\n";
    return std::nullopt;
  }
  return fs::path(*home);
}

// The config of --home DIR; on failure writes why and sets `code`.
std::optional<Config> config_of(const std::string& command, const Flags& f, std::ostream& err, int& code) {
  auto home = home_of(command, f, err);
  if (!home) {
    code = kExitUsage;
    return std::nullopt;
  }
  auto config = load_config(*home);
  if (!config) {
    err << "verityd " << command << ": " << config.error().reason << ": " << config.error().detail << "\n";
    code = kExitFailure;
    return std::nullopt;
  }
  return std::move(*config);
}

constexpr const char* kPassphraseEnv = "VERITY_PASSPHRASE";

std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? std::optional<std::string>(v) : std::nullopt;
}

// The passphrase for `init --encrypt-keys`: --passphrase-file, else
// VERITY_PASSPHRASE, else asked twice on the terminal. On failure writes why
// and sets `code`.
std::optional<std::string> init_passphrase(const Flags& f, std::ostream& err, int& code) {
  if (auto file = f.get("passphrase-file")) {
    auto p = cli::read_secret_file(*file, "--passphrase-file");
    if (!p) {
      err << "verityd init: " << p.error().detail << "\n";
      code = kExitUsage;
      return std::nullopt;
    }
    return *p;
  }
  if (auto p = env(kPassphraseEnv)) return p;
  auto prompt = cli::prompt_secret;
  auto first = prompt("Passphrase for the new key files: ");
  if (!first) {
    err << "verityd init: --encrypt-keys needs a passphrase and there is no terminal to ask on: pass "
           "--passphrase-file FILE or set VERITY_PASSPHRASE\n";
    code = kExitUsage;
    return std::nullopt;
  }
  auto second = prompt("Repeat the passphrase: ");
  if (first->empty() || !second || *second != *first) {
    err << "verityd init: " << (first->empty() ? "the passphrase must not be empty" : "the two passphrases differ")
        << "; nothing was written: run the command again\n";
    code = kExitUsage;
    return std::nullopt;
  }
  return first;
}

const char* kInitHelp =
    "Usage: verityd init --home DIR [options]\n"
    "Creates DIR with a node key, a validator key, a commented config.toml and,\n"
    "with --genesis, the network's genesis.json. Existing keys are never overwritten.\n\n"
    "  --genesis FILE          the network's genesis file (copied to DIR/genesis.json)\n"
    "  --moniker NAME          a name for this node in logs\n"
    "  --p2p-listen HOST:PORT  where peers connect (default 0.0.0.0:7801)\n"
    "  --rpc-listen HOST:PORT  the JSON-RPC server (default 127.0.0.1:7701)\n"
    "  --peers LIST            comma-separated persistent peers, [NODEKEY@]HOST:PORT\n"
    "  --full-node             no validator key: follow the chain, never vote\n"
    "  --state-sync            join by state sync: the first start restores the newest snapshot\n"
    "                          the peers offer, checked against the genesis file, instead of\n"
    "                          replaying every block (needs --peers; [state_sync] enable)\n"
    "  --encrypt-keys          encrypt the key files with a passphrase (scrypt, AES-256-GCM);\n"
    "                          start then needs it (config passphrase_file, or VERITY_PASSPHRASE)\n"
    "  --passphrase-file FILE  with --encrypt-keys: the passphrase is FILE's first line, and\n"
    "                          config.toml's passphrase_file names FILE; else VERITY_PASSPHRASE,\n"
    "                          else a prompt on the terminal (twice)\n"
    "  --devnet-validator NAME INSECURE: keys derived from a public name, for\n"
    "                          genesis/devnet.json only (validator-1 .. validator-4)\n";

int cmd_init(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  auto f = parse_flags(spec_of("init",
                               {"home", "genesis", "moniker", "p2p-listen", "rpc-listen", "peers", "devnet-validator",
                                "passphrase-file"},
                               {"full-node", "encrypt-keys", "state-sync"}),
                       args, err);
  if (!f) return kExitUsage;
  auto home = home_of("init", *f, err);
  if (!home) return kExitUsage;
  if (f->has("passphrase-file") && !f->has("encrypt-keys")) {
    err << "verityd init: --passphrase-file goes with --encrypt-keys (plain key files have no passphrase)\n";
    return kExitUsage;
  }

  Config c;
  c.home = *home;
  if (auto m = f->get("moniker")) c.moniker = *m;
  for (auto [flag, target] : {std::pair{"p2p-listen", &c.p2p.listen}, std::pair{"rpc-listen", &c.rpc.listen}}) {
    if (auto v = f->get(flag)) {
      auto hp = parse_host_port(*v, /*allow_zero=*/false);
      if (!hp) {
        err << "verityd init: --" << flag << ": " << hp.error().detail << "\n";
        return kExitUsage;
      }
      *target = *hp;
    }
  }
  if (auto peers = f->get("peers")) {
    std::stringstream s(*peers);
    std::string p;
    while (std::getline(s, p, ','))
      if (!p.empty()) c.p2p.persistent_peers.push_back(p);
  }
  std::optional<std::string> genesis_text;
  if (auto g = f->get("genesis")) {
    std::ifstream in(*g);
    if (!in) {
      err << "verityd init: --genesis: cannot read " << *g << "\n";
      return kExitFailure;
    }
    std::stringstream s;
    s << in.rdbuf();
    if (auto parsed = rpc::genesis_from_json(s.str()); !parsed) {
      err << "verityd init: " << *g << ": " << parsed.error().detail << "\n";
      return kExitFailure;
    }
    genesis_text = s.str();
  }
  c.state_sync.enable = f->has("state-sync");
  if (c.state_sync.enable && c.p2p.persistent_peers.empty()) {
    err << "verityd init: --state-sync needs --peers: the snapshot comes from them\n";
    return kExitUsage;
  }
  if (auto file = f->get("passphrase-file"))  // what start reads: the same file
    c.passphrase_file = fs::absolute(*file).lexically_normal().string();
  // Check the whole config the way start will read it.
  if (auto again = parse_config(render_config(c), c.home); !again) {
    err << "verityd init: " << again.error().detail << "\n";
    return kExitUsage;
  }
  if (fs::exists(*home / "config.toml")) {
    err << "verityd init: " << (*home / "config.toml").string()
        << " exists already: this home is initialised (its keys are never overwritten); "
           "edit the config, or choose another --home\n";
    return kExitFailure;
  }
  // Asked before anything is written: a failure leaves nothing behind.
  std::optional<std::string> passphrase;
  if (f->has("encrypt-keys")) {
    int code = kExitOk;
    passphrase = init_passphrase(*f, err, code);
    if (!passphrase) return code;
  }

  std::error_code ec;
  fs::create_directories(*home, ec);
  if (ec) {
    err << "verityd init: cannot create " << home->string() << ": " << ec.message() << "\n";
    return kExitFailure;
  }
  ::chmod(home->c_str(), 0700);

  std::optional<SecretKey> node_key, validator_key;
  if (auto name = f->get("devnet-validator")) {
    node_key = SecretKey::derive_insecure(*name + "-node");
    validator_key = SecretKey::derive_insecure(*name + "-consensus");
    err << "verityd init: WARNING: keys derived from the public name '" << *name
        << "': anyone can sign with them; use them for a local devnet only\n";
  } else {
    node_key = SecretKey::generate();
    if (!f->has("full-node")) validator_key = SecretKey::generate();
  }
  auto write_key = [&](const fs::path& path, const SecretKey& key) {
    return passphrase ? cli::write_encrypted_key_file(path, key, *passphrase) : cli::write_key_file(path, key);
  };
  if (auto s = write_key(c.path_of(c.node_key_file), *node_key); !s) {
    err << "verityd init: " << s.error().detail << "\n";
    return kExitFailure;
  }
  if (validator_key && !f->has("full-node")) {
    if (auto s = write_key(c.path_of(c.validator_key_file), *validator_key); !s) {
      err << "verityd init: " << s.error().detail << "\n";
      return kExitFailure;
    }
  }
  if (genesis_text) {
    std::ofstream g(c.path_of(c.genesis_file));
    g << *genesis_text;
  }
  std::ofstream(*home / "config.toml") << render_config(c);

  out << "initialised " << home->string() << "\n"
      << "  node id:       " << node_key->public_key().hex() << "\n"
      << "  validator key: " << (validator_key && !f->has("full-node") ? validator_key->public_key().hex() : "none (full node)")
      << "\n"
      << "  config:        " << (*home / "config.toml").string() << "\n";
  if (passphrase)
    out << "  key files are encrypted: start reads the passphrase from "
        << (c.passphrase_file.empty() ? std::string("VERITY_PASSPHRASE (or set passphrase_file in config.toml)")
                                      : c.passphrase_file)
        << "; keep the passphrase and a copy of the key files\n";
  if (!genesis_text)
    out << "next: copy the network's genesis file to " << c.path_of(c.genesis_file).string()
        << ", then run 'verityd start --home " << home->string() << "'\n";
  else
    out << "next: verityd start --home " << home->string() << "\n";
  return kExitOk;
}

rpc::ServerLimits rpc_limits(const Config& c) {
  rpc::ServerLimits l;
  l.max_body_bytes = c.rpc.max_body_bytes;
  l.max_batch = c.rpc.max_batch;
  l.max_connections = c.rpc.max_connections;
  l.max_connections_per_ip = c.rpc.max_connections_per_ip;
  l.max_websockets_per_ip = c.rpc.max_websockets_per_ip;
  l.request_timeout = std::chrono::milliseconds(c.rpc.request_timeout_ms);
  l.idle_timeout = std::chrono::milliseconds(c.rpc.idle_timeout_ms);
  l.ws_idle_timeout = std::chrono::milliseconds(c.rpc.ws_idle_timeout_ms);
  l.allowed_hosts = c.rpc.allowed_hosts;
  l.cors_allowed_origins = c.rpc.cors_allowed_origins;
  return l;
}

// The pages the RPC port serves (rpc/pages.h): [rpc] pages_dir, else
// VERITY_PAGES_DIR, else the installed ones when they are there. nullptr:
// none (serve_pages = false, or none found). A directory that was named
// but cannot be loaded is an error: the operator asked for it.
Result<std::shared_ptr<const rpc::Pages>> load_pages(const Config& c) {
  if (!c.rpc.serve_pages) return std::shared_ptr<const rpc::Pages>();
  std::string dir, named_by;
  if (!c.rpc.pages_dir.empty()) {
    dir = c.path_of(c.rpc.pages_dir).string();
    named_by = "config.toml: [rpc] pages_dir";
  } else if (auto e = env("VERITY_PAGES_DIR"); e && !e->empty()) {
    dir = *e;
    named_by = "the environment's VERITY_PAGES_DIR";
  } else {
    std::error_code ec;
    if (!std::filesystem::is_directory(VERITY_PAGES_INSTALL_DIR, ec)) return std::shared_ptr<const rpc::Pages>();
    dir = VERITY_PAGES_INSTALL_DIR;
    named_by = "the installed pages";
  }
  auto pages = rpc::Pages::load(dir);
  if (!pages) {
    Error e = pages.error();
    e.detail += " (from " + named_by + "; [rpc] serve_pages = false serves none)";
    return e;
  }
  return std::make_shared<const rpc::Pages>(std::move(*pages));
}

const char* kStartHelp =
    "Usage: verityd start --home DIR [--log-level debug|info|warn|error] [--log-format text|json]\n"
    "Runs the node until SIGINT or SIGTERM, then flushes and closes the database.\n"
    "Encrypted key files are opened with the passphrase in config.toml's passphrase_file,\n"
    "else the environment variable VERITY_PASSPHRASE.\n";

int cmd_start(const std::vector<std::string>& args, std::ostream& /*out*/, std::ostream& err) {
  auto f = parse_flags(spec_of("start", {"home", "log-level", "log-format"}), args, err);
  if (!f) return kExitUsage;
  int code = kExitOk;
  auto config = config_of("start", *f, err, code);
  if (!config) return code;
  if (auto l = f->get("log-level")) {
    auto level = parse_log_level(*l);
    if (!level) {
      err << "verityd start: --log-level: expected debug, info, warn or error\n";
      return kExitUsage;
    }
    config->log_level = *level;
  }
  if (auto l = f->get("log-format")) {
    auto format = parse_log_format(*l);
    if (!format) {
      err << "verityd start: --log-format: expected text or json\n";
      return kExitUsage;
    }
    config->log_format = *format;
  }
  // Secrets first, before the database is opened.
  std::optional<std::string> passphrase;
  if (!config->passphrase_file.empty()) {
    auto p = cli::read_secret_file(config->path_of(config->passphrase_file), "passphrase_file");
    if (!p) {
      err << "verityd start: " << p.error().reason << ": " << p.error().detail << " (config.toml: passphrase_file)\n";
      return kExitFailure;
    }
    passphrase = *p;
  } else {
    passphrase = env(kPassphraseEnv);
  }
  std::string auth_token;
  if (!config->rpc.auth_token_file.empty()) {
    auto t = cli::read_secret_file(config->path_of(config->rpc.auth_token_file), "rpc.auth_token_file");
    if (t) {
      if (auto s = rpc::check_auth_token(*t); !s) t = s.error();
    }
    if (!t) {
      err << "verityd start: " << t.error().reason << ": " << t.error().detail << " (config.toml: [rpc] auth_token_file)\n";
      return kExitFailure;
    }
    auth_token = *t;
  }
  // An RPC others can reach, without a token, is refused (before anything
  // is opened or served) unless the operator said so; then it is logged.
  if (auto s = check_public_rpc(*config, !auth_token.empty()); !s) {
    err << "verityd start: " << s.error().reason << ": " << s.error().detail << "\n";
    return kExitFailure;
  }
  auto pages = load_pages(*config);
  if (!pages) {
    err << "verityd start: " << pages.error().reason << ": " << pages.error().detail << "\n";
    return kExitFailure;
  }
  Logger logger(config->log_level);
  logger.set_format(config->log_format);
  // A home with no chain yet, set to join by state sync: the state first
  // (docs/operators.md, "Joining by state sync"), then the node as usual.
  std::optional<Genesis> read_once;
  if (needs_state_sync(*config)) {
    auto genesis = read_genesis(*config);
    auto node_key = genesis ? cli::load_key_file(config->path_of(config->node_key_file), passphrase)
                            : Result<SecretKey>(genesis.error());
    auto synced = node_key ? run_state_sync(*config, logger, *genesis, *node_key) : Result<StateSyncReport>(node_key.error());
    if (!synced) {
      err << "verityd start: state sync: " << synced.error().reason << ": " << synced.error().detail << "\n";
      return kExitFailure;
    }
    logger.write(LogLevel::info, "state-sync", "done",
                 Fields()
                     .add("height", synced->height)
                     .add("root", synced->state_root.hex())
                     .add("entries", synced->entries)
                     .add("chunks", synced->chunks)
                     .add("handoffs", synced->handoffs)
                     .add("peers_dropped", synced->peers_dropped));
    read_once = std::move(*genesis);
  }
  boost::asio::io_context io;
  auto node = Node::open(io, *config, logger, passphrase, std::move(read_once));
  if (!node) {
    err << "verityd start: " << node.error().reason << ": " << node.error().detail << "\n";
    if (node.error().reason == "bad-passphrase")
      err << "verityd start: the passphrase comes from "
          << (config->passphrase_file.empty() ? std::string("VERITY_PASSPHRASE") : config->passphrase_file)
          << ": it must be the one given to 'verityd init --encrypt-keys'; fix it there and start again\n";
    return kExitFailure;
  }
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    logger.write(LogLevel::info, "node", "signal", Fields().add("signal", sig == SIGINT ? "SIGINT" : "SIGTERM"));
    (*node)->stop();
  });
  // Threads (docs/node.md, "Threads"): this one runs `io`, the consensus
  // thread; the RPC server's sessions run on `rpc_io`'s thread, and its
  // calls on `rpc_handlers`.
  boost::asio::io_context rpc_io;
  auto rpc_guard = boost::asio::make_work_guard(rpc_io);
  auto rpc_handler_pool = make_background_pool(pool_threads(), kRpcPoolNice);
  auto rpc_light_pool = make_background_pool(pool_threads(), kRpcPoolNice);
  boost::asio::thread_pool& rpc_handlers = *rpc_handler_pool;
  RpcBackend backend(**node);
  rpc::Server rpc_server(rpc_io, backend, rpc_limits(*config), &rpc_handlers, rpc_light_pool.get());
  rpc_server.set_auth_token(auth_token);
  rpc_server.set_pages(*pages);
  logger.write(LogLevel::info, "rpc", "pages",
               *pages ? Fields().add("dir", (*pages)->dir()).add("files", (*pages)->size())
                      : Fields().add("served", config->rpc.serve_pages ? "no: none found (set [rpc] pages_dir or "
                                                                          "VERITY_PAGES_DIR)"
                                                                        : "no: [rpc] serve_pages = false"));
  (*node)->on_commit([&](const Block& b, const std::vector<Receipt>& r, const std::vector<Event>& e) {
    rpc_server.on_committed(b, r, e);
  });
  (*node)->on_stop([&] {
    signals.cancel();
    boost::asio::post(rpc_io, [&] { rpc_server.stop(); });
  });
  std::thread rpc_thread;
  // Whatever way cmd_start returns, the RPC threads stop before the node
  // and the server they use are destroyed.
  struct RpcThreads {
    boost::asio::io_context& io;
    decltype(rpc_guard)& guard;
    boost::asio::thread_pool& handlers;
    boost::asio::thread_pool& light;
    rpc::Server& server;
    std::thread& thread;
    void stop() {
      if (thread.joinable()) {
        boost::asio::post(io, [this] { server.stop(); });
        guard.reset();
        thread.join();
      }
      handlers.join();
      light.join();
    }
    ~RpcThreads() { stop(); }
  } rpc_threads{rpc_io, rpc_guard, rpc_handlers, *rpc_light_pool, rpc_server, rpc_thread};
  if (auto s = rpc_server.listen(config->rpc.listen.host, config->rpc.listen.port); !s) {
    err << "verityd start: " << s.error().reason << ": " << s.error().detail
        << " (another program uses it? set [rpc] listen in config.toml)\n";
    return kExitFailure;
  }
  const std::string rpc_address = config->rpc.listen.host + ":" + std::to_string(rpc_server.port());
  logger.write(LogLevel::info, "rpc", "listening",
               Fields().add("address", rpc_address).add("auth", auth_token.empty() ? "none" : "token"));
  if (auth_token.empty() && !is_loopback_host(config->rpc.listen.host))
    logger.write(LogLevel::warn, "rpc", "public-without-token",
                 Fields()
                     .add("address", rpc_address)
                     .add("hint", "allow_public_without_token = true: anyone who reaches this address can submit "
                                  "transactions through this node"));
  if (auto s = (*node)->start(); !s) {
    err << "verityd start: " << s.error().reason << ": " << s.error().detail << "\n";
    return kExitFailure;
  }
  rpc_thread = std::thread([&] { rpc_io.run(); });
  io.run();
  const bool failed = (*node)->fatal().has_value();
  rpc_threads.stop();
  node->reset();  // closes the database
  logger.write(LogLevel::info, "node", "stopped", Fields());
  return failed ? kExitFailure : kExitOk;
}

const char* kShowNodeIdHelp =
    "Usage: verityd show-node-id --home DIR\n"
    "Prints the node key's public key (64 hex digits): what other nodes pin in\n"
    "persistent_peers as NODEKEY@HOST:PORT. Needs no passphrase.\n";
const char* kShowValidatorHelp =
    "Usage: verityd show-validator --home DIR\n"
    "Prints the validator (consensus) key's public key (64 hex digits): what\n"
    "'verity create-validator --consensus-key' takes. Needs no passphrase.\n";

int cmd_show_key(const std::string& command, bool validator, const std::vector<std::string>& args, std::ostream& out,
                 std::ostream& err) {
  auto f = parse_flags(spec_of(command, {"home"}), args, err);
  if (!f) return kExitUsage;
  int code = kExitOk;
  auto config = config_of(command, *f, err, code);
  if (!config) return code;
  auto key = cli::key_file_public_key(config->path_of(validator ? config->validator_key_file : config->node_key_file));
  if (!key) {
    err << "verityd " << command << ": " << key.error().detail << "\n";
    return kExitFailure;
  }
  out << key->hex() << "\n";
  return kExitOk;
}

const char* kVotesHelp =
    "Usage: verityd votes --home DIR\n"
    "Prints every vote this validator signed, one per line, oldest first:\n"
    "  HEIGHT VIEW PHASE BLOCK_HASH\n";

int cmd_votes(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  auto f = parse_flags(spec_of("votes", {"home"}), args, err);
  if (!f) return kExitUsage;
  int code = kExitOk;
  auto config = config_of("votes", *f, err, code);
  if (!config) return code;
  auto votes = SafetyFile::read_log(config->path_of(config->data_dir));
  if (!votes) {
    err << "verityd votes: " << votes.error().detail << "\n";
    return kExitFailure;
  }
  for (const auto& v : *votes)
    out << v.height << " " << v.view << " " << vote_phase_name(v.phase) << " " << v.block_hash.hex() << "\n";
  return kExitOk;
}

// The chain of a stopped node's home, opened as the node opens it. On
// failure writes why (with the command's name) and returns nullopt.
struct OfflineChain {
  Genesis genesis;
  std::unique_ptr<state::KvStore> store;
  contracts::NativeContracts app;
  std::unique_ptr<state::Chain> chain;
};
std::unique_ptr<OfflineChain> open_offline_chain(const std::string& command, const Config& config, std::ostream& err) {
  auto fail = [&](const Error& e) {
    err << "verityd " << command << ": " << e.reason << ": " << e.detail
        << (e.reason == "store-corrupt" ? " (" + std::string(kDamagedStoreHint) + ")" : std::string()) << "\n";
    return nullptr;
  };
  auto genesis = read_genesis(config);
  if (!genesis) return fail(genesis.error());
  auto out = std::make_unique<OfflineChain>();
  out->genesis = *genesis;
  auto store = open_chain_store(config);
  if (!store) return fail(store.error());
  out->store = std::move(*store);
  auto chain = state::Chain::open(*out->store, out->genesis, out->app, chain_options(config));
  if (!chain) return fail(chain.error());
  out->chain = std::move(*chain);
  return out;
}

const char* kRollbackHelp =
    "Usage: verityd rollback --home DIR\n"
    "With the node stopped, takes its last block back: the state returns to the height below\n"
    "(each block keeps an undo record), and the block, its certificate and its indexes are\n"
    "deleted. When the node starts again it gets that height from its peers. The vote record\n"
    "(data/signed_votes.log*, data/safety_state) is never touched: on a validator's home it\n"
    "must reach the height taken back, or the command refuses (vote-record-behind), since\n"
    "nothing would then bind what the key signs at that height again.\n";

int cmd_rollback(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  auto f = parse_flags(spec_of("rollback", {"home"}), args, err);
  if (!f) return kExitUsage;
  int code = kExitOk;
  auto config = config_of("rollback", *f, err, code);
  if (!config) return code;
  auto c = open_offline_chain("rollback", *config, err);
  if (!c) return kExitFailure;
  const state::ChainTip before = c->chain->tip();
  const fs::path data = config->path_of(config->data_dir);
  if (fs::exists(config->path_of(config->validator_key_file))) {
    std::uint64_t record = 0;
    const bool kept = fs::exists(data / "signed_votes.log") || fs::exists(data / "safety_state");
    if (kept) {
      auto safety = SafetyFile::open(data);
      if (!safety) {
        err << "verityd rollback: " << safety.error().reason << ": " << safety.error().detail << "\n";
        return kExitFailure;
      }
      record = (*safety)->restored().height;
    }
    if (record < before.height) {
      err << "verityd rollback: vote-record-behind: this validator's vote record "
          << (kept ? "is at height " + std::to_string(record) : std::string("is missing")) << ", below the block "
          << before.height << " to take back: after a rollback nothing would bind what its key signs at that "
          << "height; nothing was changed (docs/operators.md, \"Rolling back and exporting\")\n";
      return kExitFailure;
    }
  }
  auto tip = c->chain->rollback();
  if (!tip) {
    err << "verityd rollback: " << tip.error().reason << ": " << tip.error().detail << "\n";
    return kExitFailure;
  }
  out << "rolled back block " << before.height << " (" << before.block_hash.hex() << ")\n"
      << "the chain is at height " << tip->height << ", block " << tip->block_hash.hex() << ", state root "
      << tip->state_root.hex() << "\n"
      << "start the node: it gets height " << before.height << " again from its peers\n";
  return kExitOk;
}

const char* kCheckHelp =
    "Usage: verityd check --home DIR\n"
    "With the node stopped, reads the whole chain database against what the chain certifies:\n"
    "every block links to the one below and carries a certificate that the validator set of its\n"
    "height signed (the set followed from genesis through the stored hand-offs), and the state\n"
    "is exactly what the tip's state root commits to. Exits 0 with what it checked, or 1 with\n"
    "the first damage found (docs/operators.md, \"A damaged data directory\").\n";

int cmd_check(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  auto f = parse_flags(spec_of("check", {"home"}), args, err);
  if (!f) return kExitUsage;
  int code = kExitOk;
  auto config = config_of("check", *f, err, code);
  if (!config) return code;
  auto c = open_offline_chain("check", *config, err);
  if (!c) return kExitFailure;
  auto report = c->chain->check();
  if (!report) {
    err << "verityd check: " << report.error().reason << ": " << report.error().detail
        << " (" << kDamagedStoreHint << ")\n";
    return kExitFailure;
  }
  const auto& tip = c->chain->tip();
  out << "ok: " << report->records << " records read; " << report->blocks << " blocks and certificates, " << report->handoffs
      << " validator-set hand-offs from genesis; the state at height " << tip.height << " (" << report->state_entries
      << " entries, " << report->state_nodes << " map nodes) matches state root " << tip.state_root.hex() << "\n";
  return kExitOk;
}

const char* kExportHelp =
    "Usage: verityd export --home DIR --chain-id NEW_ID [--height H] [--output FILE]\n"
    "With the node stopped, writes the state at height H (default: the latest) as a genesis\n"
    "file for a new chain (stdout, or FILE): every account's holdings (balance, delegations,\n"
    "unbonding, rewards, worker stake) as its balance, and the validator set of that height,\n"
    "each staked with its operator's own delegation. The new chain needs its own chain id\n"
    "(nonces start again at 0). Prints to stderr what belonged to no account and was not\n"
    "carried over. Heights older than the kept ones ([storage] keep_recent_heights) are gone.\n";

int cmd_export(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  auto f = parse_flags(spec_of("export", {"home", "chain-id", "height", "output"}), args, err);
  if (!f) return kExitUsage;
  const auto chain_id = f->get("chain-id");
  if (!chain_id || !is_valid_chain_id(*chain_id)) {
    err << "verityd export: --chain-id NEW_ID is required: 1-64 of a-z 0-9 . _ - (the new chain's, not this one's)\n";
    return kExitUsage;
  }
  std::optional<std::uint64_t> height;
  if (auto h = f->get("height")) {
    char* end = nullptr;
    errno = 0;
    const unsigned long long v = std::strtoull(h->c_str(), &end, 10);
    if (h->empty() || *end != '\0' || errno != 0 || (*h)[0] == '-') {
      err << "verityd export: --height: expected a block height\n";
      return kExitUsage;
    }
    height = v;
  }
  int code = kExitOk;
  auto config = config_of("export", *f, err, code);
  if (!config) return code;
  auto c = open_offline_chain("export", *config, err);
  if (!c) return kExitFailure;
  const std::uint64_t at = height.value_or(c->chain->tip().height);
  auto past = c->chain->state_at(at);
  if (!past) {
    err << "verityd export: " << past.error().reason << ": " << past.error().detail << "\n";
    return kExitFailure;
  }
  std::uint64_t time = c->genesis.genesis_time;
  if (at > 0) {
    auto block = c->chain->block_at(at);
    if (block && *block) time = (*block)->header.timestamp_ms / 1000;
  }
  auto exported = export_state(*past, c->genesis, *chain_id, time);
  if (!exported) {
    err << "verityd export: " << exported.error().reason << ": " << exported.error().detail << "\n";
    return kExitFailure;
  }
  const std::string json = rpc::genesis_to_json(exported->genesis);
  if (auto file = f->get("output")) {
    std::ofstream o(*file, std::ios::binary | std::ios::trunc);
    o << json;
    if (!o.flush()) {
      err << "verityd export: cannot write " << *file << "\n";
      return kExitFailure;
    }
  } else {
    out << json;
  }
  err << "exported height " << at << " of " << c->genesis.chain_id << " as chain " << *chain_id << ": "
      << exported->genesis.accounts.size() << " accounts, " << exported->genesis.validators.size()
      << " validators; supply " << exported->supply.to_string() << ", carried " << exported->carried.to_string()
      << ", not carried " << exported->not_carried.to_string()
      << " (the reward and fee pools, escrow of tasks in progress, rounding)\n";
  return kExitOk;
}

}  // namespace

cli::CliProgram verityd_program() {
  return {"verityd",
          "the Verity validator node",
          {{"init", "create a node home: keys, config.toml, genesis.json", kInitHelp, cmd_init},
           {"start", "run the node", kStartHelp, cmd_start},
           {"show-node-id", "print the node key (what peers pin)", kShowNodeIdHelp,
            [](const auto& a, auto& o, auto& e) { return cmd_show_key("show-node-id", false, a, o, e); }},
           {"show-validator", "print the validator (consensus) key", kShowValidatorHelp,
            [](const auto& a, auto& o, auto& e) { return cmd_show_key("show-validator", true, a, o, e); }},
           {"votes", "print every vote this validator signed", kVotesHelp, cmd_votes},
           {"check", "read the whole database against the certified chain (node stopped)", kCheckHelp, cmd_check},
           {"rollback", "take the last block back (node stopped)", kRollbackHelp, cmd_rollback},
           {"export", "the state at a height as a genesis file for a new chain (node stopped)", kExportHelp,
            cmd_export}}};
}

}  // namespace verity::node
