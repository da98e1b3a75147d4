// Writes the seed corpus of every fuzz target from the codebase's own
// encoders, so the seeds follow the formats as they change and are never
// committed binaries: `fuzz_seeds OUTDIR [--copy TARGET FILE]...`
// writes OUTDIR/TARGET/NAME for each target, and copies each FILE given
// with --copy into OUTDIR/TARGET (the test WASM modules, the example
// tasks, genesis/devnet.json: the files the other suites use). The engines
// target's seeds are searched for (engines_seeds, below).

#include <rapidjson/document.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <random>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "consensus/messages.h"
#include "core/block.h"
#include "core/genesis.h"
#include "core/transaction.h"
#include "node/node.h"
#include "node/p2p_wire.h"
#include "rpc/genesis_json.h"
#include "rpc/json_codec.h"
#include "rpc/methods.h"
#include "tests/fuzz/wasm_gen.h"
#include "worker/sandbox.h"

using namespace verity;
namespace fs = std::filesystem;

namespace {

const std::string kChain = "verity-fuzz-1";

fs::path out_dir;

void write(const std::string& target, const std::string& name, ByteView bytes) {
  fs::create_directories(out_dir / target);
  std::ofstream(out_dir / target / name, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}
void write(const std::string& target, const std::string& name, std::string_view text) {
  write(target, name, as_bytes(text));
}

SecretKey key(std::uint8_t n) {
  std::array<std::uint8_t, 32> raw{};
  raw.fill(n);
  return SecretKey::from_bytes(ByteView(raw.data(), raw.size())).value();
}

// One signed transaction of every payload kind, with non-zero fields where
// a default would leave them empty.
std::vector<Transaction> transactions() {
  std::vector<Transaction> out;
  const SecretKey sender = key(1);
  auto add = [&](Payload p) {
    Transaction tx;
    tx.chain_id = kChain;
    tx.nonce = out.size() + 1;
    tx.fee = Amount(10);
    tx.payload = std::move(p);
    tx.sign(sender);
    out.push_back(std::move(tx));
  };
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (add(Payload(std::in_place_index<I>)), ...);
  }(std::make_index_sequence<std::variant_size_v<Payload>>());
  add(Transfer{key(2).public_key(), Amount(1'000'000)});
  return out;
}

CommitCertificate certificate(std::uint64_t height, const Hash256& block_hash) {
  CommitCertificate c;
  c.height = height;
  c.block_hash = block_hash;
  for (std::uint8_t k = 3; k <= 5; ++k) {
    Vote v;
    v.phase = VotePhase::commit;
    v.height = height;
    v.block_hash = block_hash;
    v.sign(kChain, key(k));
    c.signatures.push_back(CommitSignature{v.validator, v.signature});
  }
  std::sort(c.signatures.begin(), c.signatures.end(),
            [](const auto& a, const auto& b) { return a.validator < b.validator; });
  return c;
}

Block block(std::uint64_t height, std::vector<Transaction> txs) {
  Block b;
  b.header.chain_id = kChain;
  b.header.height = height;
  b.header.proposer = key(3).public_key();
  b.header.timestamp_ms = 1'700'000'000'000;
  b.transactions = std::move(txs);
  if (height > 1) b.last_commit = certificate(height - 1, Hash256{});
  b.header.tx_root = transactions_root(b.transactions);
  b.header.last_commit_hash = b.last_commit.hash();
  return b;
}

Vote vote(VotePhase phase, const Block& b, std::uint8_t signer) {
  Vote v;
  v.phase = phase;
  v.height = b.header.height;
  v.view = b.header.view;
  v.block_hash = b.hash();
  v.sign(kChain, key(signer));
  return v;
}

consensus::Proposal proposal(const Block& b) { return consensus::Proposal{vote(VotePhase::propose, b, 3), b}; }

std::vector<std::pair<std::string, consensus::Message>> messages(const Block& b) {
  using namespace consensus;
  PreparedCertificate prepared{proposal(b), {vote(VotePhase::prepare, b, 4), vote(VotePhase::prepare, b, 5)}};
  ViewChange vc;
  vc.new_view = 1;
  vc.committed_height = b.header.height - 1;
  vc.committed = certificate(vc.committed_height, b.header.prev_hash);
  vc.prepared = prepared;
  vc.sign(kChain, key(4));
  NewView nv;
  nv.view = 1;
  nv.view_changes = {vc};
  nv.proposal = proposal(b);
  nv.sign(kChain, key(3));
  Checkpoint cp;
  cp.height = b.header.height;
  cp.block_hash = b.hash();
  cp.sign(kChain, key(5));
  return {{"proposal", proposal(b)},
          {"prepare", vote(VotePhase::prepare, b, 4)},
          {"commit", vote(VotePhase::commit, b, 5)},
          {"view_change", vc},
          {"new_view", nv},
          {"checkpoint", cp},
          {"decision", Decision{b, certificate(b.header.height, b.hash())}}};
}

Bytes frame_body(std::uint8_t type, ByteView body) {
  Bytes out{type};
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

std::string tx_json(const Transaction& tx) {
  rapidjson::Document d;
  return rpc::json_string(rpc::to_json(tx, d.GetAllocator()));
}

void jsonrpc_seeds(const Transaction& tx) {
  int id = 0;
  auto call = [&](const std::string& method, const std::string& params) {
    return R"({"jsonrpc":"2.0","id":)" + std::to_string(++id) + R"(,"method":")" + method + R"(","params":)" +
           params + "}";
  };
  for (const auto& m : rpc::node_methods()) write("jsonrpc", m.name, call(m.name, "{}"));
  const std::string account = key(1).public_key().hex();
  write("jsonrpc", "account-by-name", call("account", R"({"account":")" + account + R"("})"));
  write("jsonrpc", "account-positional", call("account", R"([")" + account + R"("])"));
  write("jsonrpc", "block-by-height", call("block", R"({"height":3})"));
  write("jsonrpc", "send_tx", call("send_tx", R"({"tx":)" + tx_json(tx) + "}"));
  write("jsonrpc", "notification", R"({"jsonrpc":"2.0","method":"status"})");
  write("jsonrpc", "batch", "[" + call("status", "[]") + "," + call("account", "{}") + R"(,{"jsonrpc":"2.0"}])");
}

Genesis genesis() {
  Genesis g;
  g.chain_id = kChain;
  g.genesis_time = 1'700'000'000;
  g.accounts.push_back(GenesisAccount{"alice", key(1).public_key(), Amount(1'000'000)});
  for (std::uint8_t k = 3; k <= 6; ++k)
    g.validators.push_back(
        GenesisValidator{"validator-" + std::to_string(k), key(k + 10).public_key(), key(k).public_key(), Amount(100)});
  return g;
}

// The engines target's seeds are choice streams for the module generator
// (tests/fuzz/wasm_gen.h): the empty one (the smallest module, which ends
// ok), then, from a fixed sequence of random streams, the first whose
// module ends on interp in each of the ways the default run must compare
// the engines on. Searched here, not committed, so they follow the
// generator as it changes; a way not found is named (the seeds still work).
void engines_seeds() {
  using worker::Outcome;
  using worker::SandboxResult;
  using Stats = fuzz::WasmGenStats;
  auto contains = [](const Bytes& hay, std::initializer_list<std::uint8_t> needle) {
    return std::search(hay.begin(), hay.end(), needle.begin(), needle.end()) != hay.end();
  };
  struct Want {
    std::string name;
    std::function<bool(const Stats&, const SandboxResult&)> hit;
    bool found = false;
  };
  std::vector<Want> wants = {
      {"trap", [](const Stats&, const SandboxResult& r) {
         return r.outcome == Outcome::trap && r.detail.find("call stack") == std::string::npos;
       }},
      {"out-of-fuel", [](const Stats&, const SandboxResult& r) { return r.outcome == Outcome::out_of_fuel; }},
      {"stack-limit", [](const Stats&, const SandboxResult& r) {
         return r.outcome == Outcome::trap && r.detail.find("call stack") != std::string::npos;
       }},
      {"nan-store", [&](const Stats& s, const SandboxResult& r) {
         return r.outcome == Outcome::ok && s.float_stores > 0 &&
                (contains(r.stdout_bytes, {0x00, 0x00, 0xc0, 0x7f}) ||
                 contains(r.stdout_bytes, {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf8, 0x7f}));
       }},
      {"memory-grow", [](const Stats& s, const SandboxResult& r) {
         return r.outcome == Outcome::ok && r.memory_pages > s.memory_pages;
       }},
      {"proc-exit", [](const Stats&, const SandboxResult& r) { return r.outcome == Outcome::ok && r.exit_code != 0; }},
      {"memory-exceeded", [](const Stats&, const SandboxResult& r) { return r.outcome == Outcome::memory_exceeded; }},
      {"output-too-large", [](const Stats&, const SandboxResult& r) { return r.outcome == Outcome::output_too_large; }},
  };
  write("engines", "empty", Bytes{});
  worker::SandboxLimits limits;
  limits.fuel = fuzz::kGenFuel;
  limits.memory_pages = fuzz::kGenMemoryPages;
  limits.max_stdout = fuzz::kGenMaxStdout;
  limits.max_stderr = fuzz::kGenMaxStderr;
  std::mt19937_64 rng(20261202);
  std::size_t left = wants.size();
  int tried = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (; tried < 2000 && left > 0; ++tried) {
    Bytes in(16 + rng() % 600);
    for (auto& b : in) b = std::uint8_t(rng());
    const auto gen = fuzz::generate_module(in);
    const auto r = worker::run_task(gen.wasm, {}, {}, limits, sha256(gen.wasm));
    for (auto& w : wants) {
      if (w.found || !w.hit(gen.stats, r)) continue;
      w.found = true;
      --left;
      write("engines", w.name, in);
    }
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "engines: " << tried << " generated modules searched in " << s << " s\n";
  for (const auto& w : wants)
    if (!w.found) std::cerr << "engines: no seed ends " << w.name << " (tests/fuzz/wasm_gen.cpp changed?)\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: fuzz_seeds OUTDIR [--copy TARGET FILE]...\n";
    return 2;
  }
  out_dir = argv[1];
  fs::remove_all(out_dir);  // a seed whose encoder is gone must not linger

  const auto txs = transactions();
  for (const auto& tx : txs) write("transaction", std::string(payload_name(tx.payload)) + "-" + std::to_string(tx.nonce),
                                   encode(tx));

  const Block first = block(1, {});
  const Block full = block(2, {txs.front(), txs.back()});
  write("block", "empty", encode(first));
  write("block", "two-transactions", encode(full));

  for (const auto& [name, m] : messages(full)) write("consensus_message", name, consensus::encode_message(m));

  const SecretKey node_key = key(7);
  const auto hello = node::p2p::make_hello(kChain, node::p2p::Role::dialer, node::p2p::Ekm{}, node_key, key(3), 26656);
  write("p2p_frame", "hello", frame_body(node::p2p::kHelloType, encode(hello)));
  write("p2p_frame", "consensus", frame_body(node::kFrameConsensus, consensus::encode_message(vote(VotePhase::commit, full, 4))));
  write("p2p_frame", "tx", frame_body(node::kFrameTx, encode(txs.back())));
  Writer status;
  status.varint(full.header.height);
  status.fixed(full.hash());
  write("p2p_frame", "status", frame_body(node::kFrameStatus, status.data()));
  write("p2p_frame", "get_blocks", frame_body(node::kFrameGetBlocks, node::encode_get_blocks(1, 64)));
  const Bytes decision = consensus::encode_message(consensus::Decision{full, certificate(2, full.hash())});
  write("p2p_frame", "blocks", frame_body(node::kFrameBlocks, node::encode_blocks({decision, decision})));

  jsonrpc_seeds(txs.back());
  write("genesis", "generated", rpc::genesis_to_json(genesis()));
  engines_seeds();

  for (int i = 2; i < argc; i += 3) {
    if (std::string(argv[i]) != "--copy" || i + 2 >= argc) {
      std::cerr << "unexpected argument " << argv[i] << "\n";
      return 2;
    }
    const fs::path file = argv[i + 2];
    fs::create_directories(out_dir / argv[i + 1]);
    fs::copy_file(file, out_dir / argv[i + 1] / file.filename(), fs::copy_options::overwrite_existing);
  }
  std::cout << "seeds written to " << out_dir.string() << "\n";
  return 0;
}
