// Properties of the weighted draw of workers (contracts/task_assignment.h),
// over many generated candidate sets with fixed seeds (deterministic: no
// test here can flake), and the draw checked against a reference written
// from the header's specification alone.
#define BOOST_TEST_MODULE task_assignment_tests
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "contracts/task_assignment.h"
#include "core/encoding.h"
#include "core/hash.h"

using namespace verity;
using namespace verity::contracts;
using u128 = unsigned __int128;

namespace {

PublicKey key(int i) { return SecretKey::derive_insecure("worker-" + std::to_string(i)).public_key(); }

// Candidates in ascending key order, as the contract lists them.
std::vector<Candidate> sorted(std::vector<Candidate> c) {
  std::sort(c.begin(), c.end(), [](const Candidate& a, const Candidate& b) { return a.key < b.key; });
  return c;
}

// A generated candidate set: 0 to 12 workers, some of weight 0, weights
// from 1 up to the largest the contract can produce (stake < 2^64 times
// a factor below 2^21).
std::vector<Candidate> generate(std::mt19937_64& g) {
  std::vector<Candidate> c;
  const int n = static_cast<int>(g() % 13);
  for (int i = 0; i < n; ++i) {
    u128 w;
    switch (g() % 4) {
      case 0: w = 0; break;
      case 1: w = 1 + g() % 10; break;
      case 2: w = static_cast<u128>(g()) * (1 + g() % 2'000'000); break;
      default: w = static_cast<u128>(~0ull) * 2'000'000; break;
    }
    c.push_back({key(static_cast<int>(g() % 1000) * 13 + i), w});
  }
  return sorted(c);
}

// The draw as the header specifies it, written without looking at the
// implementation's loop.
std::vector<PublicKey> reference(const Hash256& seed, std::vector<Candidate> left, std::size_t count) {
  std::vector<Candidate> positive;
  for (const auto& c : left)
    if (c.weight > 0) positive.push_back(c);
  std::vector<PublicKey> out;
  for (std::uint64_t i = 0; out.size() < count && !positive.empty(); ++i) {
    Writer w;
    w.fixed(seed);
    w.varint(i);
    const Hash256 h = tagged_hash(Domain::task_assignment, w.data());
    u128 x = 0;
    for (int b = 0; b < 16; ++b) x = (x << 8) | h.data[b];
    u128 total = 0;
    for (const auto& c : positive) total += c.weight;
    u128 offset = x % total;
    std::size_t at = 0;
    for (; at < positive.size(); ++at) {
      if (offset < positive[at].weight) break;
      offset -= positive[at].weight;
    }
    out.push_back(positive[at].key);
    positive.erase(positive.begin() + static_cast<std::ptrdiff_t>(at));
  }
  return out;
}

Hash256 seed_of(std::uint64_t i) { return assignment_seed(sha256(as_bytes("certificate")), i, i % 3); }

// 3,000 draws over generated candidate sets (from generator seed `g_seed`),
// each checked by `check(run, candidates, count, picked)` in its own context.
template <class Check>
void for_each_draw(std::uint64_t g_seed, Check check) {
  std::mt19937_64 g(g_seed);
  for (std::uint64_t run = 0; run < 3000; ++run) {
    const auto c = generate(g);
    const std::size_t count = g() % 8;
    const auto picked = draw_workers(seed_of(run), c, count);
    BOOST_TEST_CONTEXT("run " << run) { check(run, c, count, picked); }
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_draw_is_distinct_positive_candidates_as_many_as_asked_or_there_are) {
  for_each_draw(18, [](std::uint64_t, const std::vector<Candidate>& c, std::size_t count,
                       const std::vector<PublicKey>& picked) {
    std::size_t positive = 0;
    for (const auto& x : c) positive += x.weight > 0;
    BOOST_TEST(picked.size() == std::min(count, positive));
    BOOST_TEST(std::set<PublicKey>(picked.begin(), picked.end()).size() == picked.size());
    for (const auto& k : picked) {
      auto it = std::find_if(c.begin(), c.end(), [&](const Candidate& x) { return x.key == k; });
      BOOST_TEST((it != c.end() && it->weight > 0));
    }
  });
}

BOOST_AUTO_TEST_CASE(the_draw_is_the_specified_one_and_deterministic) {
  for_each_draw(7, [](std::uint64_t run, const std::vector<Candidate>& c, std::size_t count,
                      const std::vector<PublicKey>& picked) {
    BOOST_TEST((picked == reference(seed_of(run), c, count)));
    BOOST_TEST((picked == draw_workers(seed_of(run), c, count)));
    // Asking for one more extends the draw, never changes it.
    auto more = draw_workers(seed_of(run), c, count + 1);
    more.resize(std::min(more.size(), picked.size()));
    BOOST_TEST((more == picked));
  });
}

BOOST_AUTO_TEST_CASE(the_seed_binds_the_certificate_the_task_and_the_round) {
  const Hash256 a = sha256(as_bytes("a")), b = sha256(as_bytes("b"));
  std::set<Hash256> seeds;
  for (const Hash256& cert : {a, b})
    for (std::uint64_t task = 1; task <= 20; ++task)
      for (std::uint64_t round = 0; round < 5; ++round) seeds.insert(assignment_seed(cert, task, round));
  BOOST_TEST(seeds.size() == 2u * 20u * 5u);
  // And a different seed does change who is drawn (some of the time).
  std::vector<Candidate> c;
  for (int i = 0; i < 8; ++i) c.push_back({key(i), 100});
  c = sorted(c);
  std::set<std::vector<PublicKey>> draws;
  for (std::uint64_t task = 1; task <= 20; ++task) draws.insert(draw_workers(assignment_seed(a, task, 0), c, 3));
  BOOST_TEST(draws.size() > 10u);
}

// Without replacement: the first pick follows the weights, the second
// follows the weights of those left, whatever the first was.
BOOST_AUTO_TEST_CASE(each_pick_follows_the_weights_of_the_candidates_left) {
  std::vector<Candidate> c;
  for (int i = 0; i < 4; ++i) c.push_back({key(100 + i), static_cast<u128>(i + 1) * 1'000'003});
  c = sorted(c);
  u128 total = 0;
  for (const auto& x : c) total += x.weight;
  std::map<PublicKey, double> weight;
  for (const auto& x : c) weight[x.key] = static_cast<double>(x.weight);
  const int kSeeds = 40'000;
  std::map<PublicKey, int> first;
  std::map<std::pair<PublicKey, PublicKey>, int> second;
  for (int i = 0; i < kSeeds; ++i) {
    auto p = draw_workers(seed_of(1000 + static_cast<std::uint64_t>(i)), c, 2);
    BOOST_REQUIRE(p.size() == 2u);
    first[p[0]]++;
    second[{p[0], p[1]}]++;
  }
  for (const auto& x : c) {
    const double expected = kSeeds * weight[x.key] / static_cast<double>(total);
    BOOST_TEST(std::abs(first[x.key] - expected) < 0.08 * expected, "first pick " << first[x.key] << " vs " << expected);
    for (const auto& y : c) {
      if (y.key == x.key) continue;
      const double given = first[x.key] * weight[y.key] / (static_cast<double>(total) - weight[x.key]);
      const int seen = second[{x.key, y.key}];
      BOOST_TEST(std::abs(seen - given) < 0.15 * given + 20, "second pick " << seen << " vs " << given);
    }
  }
}

// The largest weights the contract can produce do not overflow: they are
// drawn as evenly as small ones.
BOOST_AUTO_TEST_CASE(the_largest_weights_are_drawn_evenly) {
  std::vector<Candidate> c;
  for (int i = 0; i < 8; ++i) c.push_back({key(200 + i), static_cast<u128>(~0ull) * 2'000'000});
  c = sorted(c);
  std::map<PublicKey, int> first;
  const int kSeeds = 16'000;
  for (int i = 0; i < kSeeds; ++i) first[draw_workers(seed_of(5000 + static_cast<std::uint64_t>(i)), c, 1)[0]]++;
  BOOST_TEST(first.size() == 8u);
  for (const auto& [k, n] : first) BOOST_TEST(std::abs(n - kSeeds / 8) < kSeeds / 8 / 10, n);
}
