// Property runs of the PBFT engine under the deterministic simulator
// (tests/consensus/simulation.h). Each run checks safety, certificate
// validity, liveness after the network heals, evidence for every
// equivocation seen, and bounded memory.
//
//   pbft_simulation --seeds N [--first S] [--offset I]   N runs over every configuration
//   pbft_simulation --seed S --validators N [--unequal] --byzantine KIND
//                   [--byzantine-count K] [--calm]        replay one run
//   pbft_simulation --rotation HEIGHTS                    proposer rotation:
//       shares of proposals against power shares over HEIGHTS heights, and
//       what a crashed proposer costs
//
// The default test run does 216 seeds (every configuration six times);
// scripts/soak runs 10,000 across the machine's cores.

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "tests/consensus/simulation.h"
#include "tests/sim_args.h"

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

// Proposer rotation on a calm network with unequal powers: (1) over
// `heights` heights each validator's share of the committed blocks is its
// power share within 1 percentage point; (2) with one validator silent
// (crashed) from the start, a height costs a view change exactly when the
// slot it starts at belongs to the silent one, and then exactly one.
bool run_rotation(std::uint64_t heights) {
  const std::vector<std::uint64_t> powers = {15, 10, 20, 30, 25};  // the first (15%) is the one that crashes
  bool ok = true;
  for (bool crash : {false, true}) {
    Config c;
    c.seed = 7;
    c.chaos = false;
    c.powers = powers;
    c.stop_at_height = crash ? heights / 5 : heights;
    c.liveness_bound = c.stop_at_height * 2'000;  // simulated ticks: plenty, the run stops at the height
    if (crash) {
      c.byzantine = Behavior::silent;
      c.byzantine_count = 1;
    }
    Simulation sim(c);
    auto r = sim.run();
    if (!r.ok || r.chain.size() < c.stop_at_height) {
      std::printf("FAIL rotation%s: %s (%zu heights)\n", crash ? " with a crash" : "", r.failure.c_str(), r.chain.size());
      return false;
    }
    const std::size_t n = powers.size();
    std::vector<std::uint64_t> count(n, 0);
    for (const auto& h : r.chain) count[*sim.set().index_of(h.proposer)]++;
    const double total = static_cast<double>(r.chain.size());
    std::uint64_t live_power = 0;
    for (std::size_t i = crash ? 1 : 0; i < n; ++i) live_power += powers[i];
    std::printf("rotation%s over %zu heights:\n", crash ? ", validator 0 silent," : "", r.chain.size());
    for (std::size_t i = 0; i < n; ++i) {
      const double expect = crash && i == 0 ? 0.0 : 100.0 * static_cast<double>(powers[i]) / static_cast<double>(live_power);
      const double got = 100.0 * static_cast<double>(count[*sim.set().index_of(sim.key(i))]) / total;
      const bool good = std::abs(got - expect) <= 1.0;
      std::printf("  validator %zu: power %llu, %.2f%% of the proposals (power share %.2f%%)%s\n", i,
                  (unsigned long long)powers[i], got, expect, good ? "" : "  <-- off by more than 1 point");
      ok = ok && good;
    }
    if (!crash) continue;
    consensus::ProposerSchedule schedule(sim.set());
    const PublicKey& silent = sim.key(0);
    std::uint64_t prev_view = 0, costly = 0;
    for (std::size_t k = 0; k < r.chain.size(); ++k) {
      const std::uint64_t h = k + 1, changes = r.chain[k].view - prev_view;
      const bool its_slot = schedule.proposer(h, prev_view) == silent;
      if (changes != (its_slot ? 1u : 0u)) {
        std::printf("FAIL height %llu: %llu view changes, its first primary %s the silent validator\n",
                    (unsigned long long)h, (unsigned long long)changes, its_slot ? "was" : "was not");
        ok = false;
        break;
      }
      costly += changes;
      prev_view = r.chain[k].view;
    }
    std::printf("  %llu heights started at the silent validator's slot; each cost exactly one view change, no other height any\n",
                (unsigned long long)costly);
  }
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // a crash must not eat the lines before it
  std::uint64_t seeds = 0, first = 1, offset = 0;
  bool single = false, verbose = false;
  Config one;
  verity::testing::SimArgs args(argc, argv);
  while (args.next()) {
    const std::string& a = args.option();
    if (a == "--seeds") seeds = args.number();
    else if (a == "--first") first = args.number();
    else if (a == "--offset") offset = args.number();  // index of the first run in the configuration cycle
    else if (a == "--seed") { one.seed = args.number(); single = true; }
    else if (a == "--validators") one.validators = std::stoul(args.value());
    else if (a == "--unequal") one.unequal_stakes = true;
    else if (a == "--byzantine") one.byzantine = parse_behavior(args.value());
    else if (a == "--byzantine-count") one.byzantine_count = std::stoul(args.value());
    else if (a == "--calm") one.chaos = false;
    else if (a == "--verbose") verbose = true;
    else if (a == "--rotation") return run_rotation(args.number()) ? 0 : 1;
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
