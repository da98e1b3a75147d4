// The PBFT engine alone: committed heights per second with 4 and 16
// validators, all honest, on the simulator's network with a 1-tick delay
// (every message delivered in order, nothing lost). Signatures are made and
// checked for real; the blocks are empty, so this measures consensus, not
// execution. Prints; never asserts.
//
//   build/bench/consensus_bench [--heights N] [--runs R]

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include "tests/consensus/simulation.h"

using namespace verity;

int main(int argc, char** argv) {
  std::uint64_t heights = 500;
  int runs = 3;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--heights") == 0 && i + 1 < argc) heights = std::stoull(argv[++i]);
    else if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc) runs = std::atoi(argv[++i]);
    else {
      std::fprintf(stderr, "usage: %s [--heights N] [--runs R]\n", argv[0]);
      return 2;
    }
  }
  std::printf("PBFT engine, instant network, %llu heights per run\n", (unsigned long long)heights);
  std::printf("%-12s %-6s %14s %16s\n", "validators", "run", "heights/s", "messages/height");
  for (std::size_t n : {4u, 16u}) {
    for (int run = 0; run < runs; ++run) {
      sim::Config c;
      c.seed = static_cast<std::uint64_t>(run + 1);
      c.validators = n;
      c.chaos = false;
      c.max_delay = 1;
      c.stop_at_height = heights;
      c.liveness_bound = UINT64_MAX / 4;
      sim::Simulation s(c);
      auto t0 = std::chrono::steady_clock::now();
      auto r = s.run();
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (r.min_height < heights) {
        std::fprintf(stderr, "run stopped at height %llu: %s\n", (unsigned long long)r.min_height, r.failure.c_str());
        return 1;
      }
      std::printf("%-12zu %-6d %14.1f %16.1f\n", n, run + 1, static_cast<double>(r.min_height) / secs,
                  static_cast<double>(r.messages) / static_cast<double>(r.min_height));
    }
  }
  return 0;
}
