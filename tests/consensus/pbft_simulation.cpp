// Property runs of the PBFT engine under the deterministic simulator
// (tests/consensus/simulation.h). Each run checks safety, certificate
// validity, liveness after the network heals, evidence for every
// equivocation seen, and bounded memory.
//
//   pbft_simulation --seeds N [--first S] [--offset I]   N runs over every configuration
//   pbft_simulation --seed S --validators N [--unequal] --byzantine KIND
//                   [--byzantine-count K] [--calm]        replay one run
//
// The default test run does 216 seeds (every configuration six times);
// scripts/soak runs 10,000 across the machine's cores.

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "tests/consensus/simulation.h"

using namespace verity;
using namespace verity::sim;

namespace {

const Behavior kBehaviors[] = {Behavior::honest, Behavior::equivocating_primary, Behavior::double_voter,
                               Behavior::silent, Behavior::garbage, Behavior::replayer};

Behavior parse_behavior(const std::string& s) {
  for (auto b : kBehaviors)
    if (s == behavior_name(b)) return b;
  std::fprintf(stderr, "unknown behaviour '%s'\n", s.c_str());
  std::exit(2);
}

// The configuration of run number i: every combination in turn.
Config config_for(std::uint64_t i, std::uint64_t seed) {
  const std::size_t sizes[] = {4, 7, 10};
  Config c;
  c.seed = seed;
  c.validators = sizes[i % 3];
  c.unequal_stakes = (i / 3) % 2 == 1;
  c.byzantine = kBehaviors[(i / 6) % 6];
  c.byzantine_count = c.byzantine == Behavior::honest ? 0 : (c.validators - 1) / 3;
  c.chaos = (i / 36) % 4 != 3;  // one run in four on a calm network
  return c;
}

bool run_one(const Config& c, bool verbose) {
  Simulation sim(c);
  auto r = sim.run();
  if (verbose || !r.ok)
    std::printf("%s %s: heights %llu..%llu, highest view %llu, %llu evidence, %llu messages, %llu dropped, max log %zu%s%s\n",
                r.ok ? "ok  " : "FAIL", c.describe().c_str(), (unsigned long long)r.min_height,
                (unsigned long long)r.max_height, (unsigned long long)r.view_changes, (unsigned long long)r.evidence,
                (unsigned long long)r.messages, (unsigned long long)r.dropped, r.max_log, r.ok ? "" : "\n     ",
                r.failure.c_str());
  if (!r.ok) std::printf("     replay: build/tests/pbft_simulation %s\n", c.describe().c_str());
  return r.ok;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // a crash must not eat the lines before it
  std::uint64_t seeds = 0, first = 1, offset = 0;
  bool single = false, verbose = false;
  Config one;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--seeds") seeds = std::stoull(next());
    else if (a == "--first") first = std::stoull(next());
    else if (a == "--offset") offset = std::stoull(next());  // index of the first run in the configuration cycle
    else if (a == "--seed") { one.seed = std::stoull(next()); single = true; }
    else if (a == "--validators") one.validators = std::stoul(next());
    else if (a == "--unequal") one.unequal_stakes = true;
    else if (a == "--byzantine") one.byzantine = parse_behavior(next());
    else if (a == "--byzantine-count") one.byzantine_count = std::stoul(next());
    else if (a == "--calm") one.chaos = false;
    else if (a == "--verbose") verbose = true;
    else {
      std::fprintf(stderr, "usage: %s --seeds N [--first S] [--verbose] | --seed S [options]\n", argv[0]);
      return 2;
    }
  }
  if (single) return run_one(one, true) ? 0 : 1;
  if (seeds == 0) seeds = 200;
  std::uint64_t passed = 0, failed = 0;
  for (std::uint64_t i = 0; i < seeds; ++i) {
    if (run_one(config_for(offset + i, first + i), verbose)) passed++;
    else failed++;
    if (!verbose && (i + 1) % 500 == 0) std::printf("... %llu runs\n", (unsigned long long)(i + 1));
  }
  std::printf("%llu passed, %llu failed\n", (unsigned long long)passed, (unsigned long long)failed);
  return failed == 0 ? 0 : 1;
}
