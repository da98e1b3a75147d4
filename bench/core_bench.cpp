// Core primitives: Schnorr verifications per second, SHA-256 throughput,
// and transaction encode+decode per second. Prints; never asserts.
//
//   build/bench/core_bench [--seconds S]   (default 1 second per figure)

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/hash.h"
#include "core/keys.h"
#include "core/transaction.h"
#include "core/version.h"

using namespace verity;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Runs `batch` until at least `budget` seconds pass; returns operations/s.
template <class F>
double rate(double budget, std::size_t ops_per_batch, F&& batch) {
  std::size_t ops = 0;
  auto start = Clock::now();
  double elapsed = 0;
  do {
    batch();
    ops += ops_per_batch;
    elapsed = seconds_since(start);
  } while (elapsed < budget);
  return static_cast<double>(ops) / elapsed;
}

volatile std::uint8_t sink;

}  // namespace

int main(int argc, char** argv) {
  double budget = 1.0;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
      budget = std::atof(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s [--seconds S]\n", argv[0]);
      return 2;
    }
  }
  std::printf("verity %s core benchmark (%.1f s per figure)\n", kVersion, budget);

  // Schnorr: 256 distinct (key, message, signature) triples, verified in turn.
  std::vector<PublicKey> keys;
  std::vector<Hash256> msgs;
  std::vector<Signature> sigs;
  for (int i = 0; i < 256; ++i) {
    auto sk = SecretKey::generate();
    msgs.push_back(tagged_hash(Domain::transaction_sign, as_bytes(std::to_string(i))));
    sigs.push_back(sk.sign(msgs.back()));
    keys.push_back(sk.public_key());
  }
  double verify_rate = rate(budget, keys.size(), [&] {
    for (std::size_t i = 0; i < keys.size(); ++i)
      if (!verify_signature(keys[i], msgs[i], sigs[i])) std::abort();
  });
  std::printf("schnorr_verify        %12.0f verifications/s\n", verify_rate);

  auto signer = SecretKey::generate();
  double sign_rate = rate(budget, 256, [&] {
    for (int i = 0; i < 256; ++i) sink = signer.sign(msgs[static_cast<std::size_t>(i)]).data[0];
  });
  std::printf("schnorr_sign          %12.0f signatures/s\n", sign_rate);

  for (std::size_t size : {64u, 1024u, 1024u * 1024u}) {
    Bytes data(size, 0xab);
    double r = rate(budget, 1, [&] { sink = sha256(data).data[0]; });
    std::printf("sha256 %7zu B       %12.1f MB/s\n", size, r * static_cast<double>(size) / 1e6);
  }

  Transaction tx;
  tx.chain_id = "verity-bench-1";
  tx.nonce = 123456;
  tx.fee = Amount(1000);
  tx.payload = Transfer{SecretKey::generate().public_key(), Amount(987654321)};
  tx.sign(signer);
  std::size_t encoded_size = encode(tx).size();
  double codec_rate = rate(budget, 1000, [&] {
    for (int i = 0; i < 1000; ++i) {
      Bytes enc = encode(tx);
      auto back = decode_transaction(enc);
      if (!back) std::abort();
      sink = static_cast<std::uint8_t>(back->nonce);
    }
  });
  std::printf("tx_encode_decode      %12.0f transactions/s (%zu bytes each)\n", codec_rate, encoded_size);

  double id_rate = rate(budget, 1000, [&] {
    for (int i = 0; i < 1000; ++i) sink = tx.id().data[0];
  });
  std::printf("tx_id                 %12.0f hashes/s\n", id_rate);
  return 0;
}
