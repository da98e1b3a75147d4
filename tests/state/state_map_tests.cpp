#define BOOST_TEST_MODULE state_map_tests
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <mutex>
#include <random>
#include <set>

#include "state/state_map.h"
#include "tests/chain_support.h"
#include "tests/test_support.h"

using namespace verity;
using namespace verity::state;

namespace {
Bytes b(const std::string& s) { return Bytes(s.begin(), s.end()); }

// The root by definition, from scratch: no store, no incremental updates.
Hash256 reference_root(std::vector<std::pair<Hash256, Hash256>> entries, unsigned depth = 0) {
  if (entries.empty()) return kEmptySubtree;
  if (entries.size() == 1) return state_leaf_hash(entries[0].first, entries[0].second);
  std::vector<std::pair<Hash256, Hash256>> left, right;
  for (auto& e : entries) (path_bit(e.first, depth) ? right : left).push_back(e);
  return state_node_hash(reference_root(left, depth + 1), reference_root(right, depth + 1));
}

Hash256 reference_root(const std::map<Bytes, Bytes>& content) {
  std::vector<std::pair<Hash256, Hash256>> entries;
  for (const auto& [k, v] : content) entries.push_back({state_path(k), sha256(v)});
  return reference_root(entries);
}

struct MapFixture {
  std::unique_ptr<KvStore> store = open_memory_store();
  StateMap map{*store};
  Hash256 root = kEmptySubtree;

  void apply(std::vector<StateUpdate> ups) {
    auto r = map.apply(root, std::move(ups));
    BOOST_REQUIRE(r.ok());
    root = *r;
    WriteBatch batch;
    map.flush(batch, 1);
    BOOST_REQUIRE(store->write(batch, false).ok());
  }
};
}  // namespace

BOOST_FIXTURE_TEST_CASE(empty_single_and_small_maps, MapFixture) {
  BOOST_TEST(root == kEmptySubtree);
  apply({{b("a"), b("1")}});
  BOOST_TEST(root == state_leaf_hash(state_path(b("a")), sha256(b("1"))));
  apply({{b("b"), b("2")}, {b("c"), b("3")}});
  BOOST_TEST(root == reference_root({{b("a"), b("1")}, {b("b"), b("2")}, {b("c"), b("3")}}));
  apply({{b("a"), std::nullopt}, {b("b"), std::nullopt}, {b("c"), std::nullopt}});
  BOOST_TEST(root == kEmptySubtree);
}

// The root depends only on the content: random orders, batch sizes and
// detours through deleted keys all end at the reference root.
BOOST_AUTO_TEST_CASE(root_is_independent_of_insertion_order) {
  auto seed = testing::test_seed();
  BOOST_TEST_MESSAGE("seed " << seed);
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 20; ++round) {
    std::map<Bytes, Bytes> content;
    std::vector<StateUpdate> writes;
    int n = 1 + static_cast<int>(rng() % 300);
    for (int i = 0; i < n; ++i) {
      Bytes k = b("key-" + std::to_string(rng() % 1000));
      Bytes v = b("value-" + std::to_string(rng()));
      content[k] = v;
      writes.push_back({k, v});
    }
    Hash256 expected = reference_root(content);

    for (int order = 0; order < 3; ++order) {
      // Last write per key must stay last: shuffle the distinct final writes.
      std::vector<StateUpdate> finals;
      for (const auto& [k, v] : content) finals.push_back({k, v});
      std::shuffle(finals.begin(), finals.end(), rng);
      // Noise: keys written and later deleted.
      std::vector<StateUpdate> noise;
      for (int j = 0; j < 10; ++j) noise.push_back({b("noise-" + std::to_string(rng())), b("x")});
      MapFixture f;
      f.apply(noise);
      std::size_t i = 0;
      while (i < finals.size()) {
        std::size_t batch = 1 + rng() % 40;
        std::vector<StateUpdate> part(finals.begin() + static_cast<std::ptrdiff_t>(i),
                                      finals.begin() + static_cast<std::ptrdiff_t>(std::min(finals.size(), i + batch)));
        f.apply(part);
        i += batch;
      }
      for (auto& u : noise) u.value.reset();
      f.apply(noise);
      BOOST_REQUIRE_MESSAGE(f.root == expected, "seed " << seed << " round " << round);
    }
  }
}

// The page cache changes nothing but the reads: maps with a small cache
// (evicting all the time), a large one and none reach the same roots and
// proofs over random blocks, as does a map that only reads the store; the
// cached ones read the store less, and a cache never holds more than its
// bound.
BOOST_AUTO_TEST_CASE(node_cache_changes_only_the_reads) {
  auto seed = testing::test_seed();
  BOOST_TEST_MESSAGE("seed " << seed);
  std::mt19937_64 rng(seed);
  struct Cached {
    std::unique_ptr<KvStore> store = open_memory_store();
    StateMap map;
    Hash256 root = kEmptySubtree;
    explicit Cached(std::size_t bytes) : map(*store, bytes) {}
  };
  Cached none(0), small(8 << 10), large(4 << 20);
  for (int block = 0; block < 200; ++block) {
    std::vector<StateUpdate> ups;
    const int n = 1 + static_cast<int>(rng() % 20);
    for (int i = 0; i < n; ++i) {
      Bytes k = b("acct/" + std::to_string(rng() % 400));
      if (rng() % 5 == 0) ups.push_back({k, std::nullopt});
      else ups.push_back({k, b("v" + std::to_string(rng()))});
    }
    for (Cached* c : {&none, &small, &large}) {
      auto r = c->map.apply(c->root, ups);
      BOOST_REQUIRE(r.ok());
      c->root = *r;
      WriteBatch batch;
      c->map.flush(batch, 1);
      BOOST_REQUIRE(c->store->write(batch, false).ok());
    }
    BOOST_REQUIRE_MESSAGE(small.root == none.root && large.root == none.root, "seed " << seed << " block " << block);
    BOOST_REQUIRE(small.map.cache_counters().bytes <= std::size_t{8} << 10);
    BOOST_REQUIRE(small.map.cache_counters().held > 0u);
    Bytes probe = b("acct/" + std::to_string(rng() % 400));
    auto p0 = none.map.prove(none.root, probe);
    auto p1 = small.map.prove(small.root, probe);
    auto p2 = StateMap(*large.store).prove(large.root, probe);  // the store alone
    BOOST_REQUIRE(p0.ok() && p1.ok() && p2.ok());
    BOOST_TEST(encode(*p0) == encode(*p1));
    BOOST_TEST(encode(*p0) == encode(*p2));
  }
  BOOST_TEST(none.map.cache_counters().hits == 0u);
  BOOST_TEST(large.map.cache_counters().hits > 0u);
  BOOST_TEST(large.map.cache_counters().store_reads < none.map.cache_counters().store_reads / 10);
  BOOST_TEST(small.map.cache_counters().store_reads <= none.map.cache_counters().store_reads);
  BOOST_TEST(large.map.cache_counters().bytes <= std::size_t{4} << 20);
}

// The store holds a page per four levels, not an entry per node: over
// 3,000 entries (depth about 13), a batch of 50 random updates rebuilds
// about 12 nodes per update but writes fewer than 3 pages per update.
BOOST_AUTO_TEST_CASE(a_batch_writes_a_page_per_four_levels_of_its_paths) {
  auto store = open_memory_store();
  StateMap map(*store, 4 << 20);
  Hash256 root = kEmptySubtree;
  std::mt19937_64 rng(5);
  std::size_t pages = 0;
  auto commit = [&](std::vector<StateUpdate> ups, std::uint64_t height) {
    auto r = map.apply(root, std::move(ups));
    BOOST_REQUIRE(r.ok());
    root = *r;
    WriteBatch batch;
    map.flush(batch, height);
    batch.for_each([&](ByteView key, const ByteView*) {
      for (auto prefix : {kStatePagePrefix, kStateRootPrefix})
        if (key.size() > prefix.size() && std::equal(prefix.begin(), prefix.end(), key.begin())) ++pages;
    });
    BOOST_REQUIRE(store->write(batch, false).ok());
  };
  std::uint64_t height = 0;
  std::vector<StateUpdate> fill;
  std::map<Bytes, Bytes> content;
  for (int i = 0; i < 3'000; ++i) {
    fill.push_back({b("acct/" + std::to_string(i)), b("v")});
    content[fill.back().key] = b("v");
  }
  commit(std::move(fill), ++height);
  pages = 0;
  for (int n = 0; n < 100; ++n) {
    std::vector<StateUpdate> ups;
    for (int i = 0; i < 50; ++i) {
      ups.push_back({b("acct/" + std::to_string(rng() % 3'000)), b("w" + std::to_string(rng()))});
      content[ups.back().key] = *ups.back().value;
    }
    commit(std::move(ups), ++height);
  }
  BOOST_TEST(root == reference_root(content));
  const double per_update = static_cast<double>(pages) / 5'000;
  BOOST_TEST_MESSAGE("pages written per update: " << per_update);
  BOOST_TEST(per_update < 3.0);
}

// A page is checked against its key when read: a flipped byte anywhere in
// it is an error of a read that meets it (the page's own hash check, or a
// page below that is not found under a damaged version), never a wrong
// root or proof.
BOOST_AUTO_TEST_CASE(a_damaged_page_is_an_error_not_a_wrong_answer) {
  auto store = open_memory_store();
  StateMap writer(*store);
  std::vector<StateUpdate> fill;
  std::vector<Bytes> keys;
  for (int i = 0; i < 200; ++i) {
    keys.push_back(b("acct/" + std::to_string(i)));
    fill.push_back({keys.back(), b("v" + std::to_string(i))});
  }
  const Hash256 root = writer.apply(kEmptySubtree, fill).value();
  WriteBatch batch;
  writer.flush(batch, 1);
  BOOST_REQUIRE(store->write(batch, false).ok());
  const Bytes good = store->get(state_root_key(root)).value().value();
  for (std::size_t at = 0; at + 8 < good.size(); at += 3) {  // every 3rd byte of the page, not its height
    Bytes bad = good;
    bad[at] ^= 0x10;
    WriteBatch w;
    w.put(state_root_key(root), bad);
    BOOST_REQUIRE(store->write(w, false).ok());
    StateMap reader(*store);
    std::size_t errors = 0, failing = 0;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      auto proof = reader.prove(root, keys[i]);
      if (!proof.ok()) {
        BOOST_TEST((proof.error().reason == "state-node-corrupt" || proof.error().reason == "state-node-missing"));
        if (errors++ == 0) failing = i;
      } else {
        BOOST_REQUIRE_MESSAGE(verify_state_proof(root, keys[i], fill[i].value, *proof).ok(), "byte " << at);
      }
    }
    BOOST_REQUIRE_MESSAGE(errors > 0, "byte " << at << " went unnoticed");
    BOOST_TEST(!reader.apply(root, {{keys[failing], b("x")}}).ok());  // an update walks the same path
  }
  WriteBatch w;
  w.put(state_root_key(root), good);
  BOOST_REQUIRE(store->write(w, false).ok());
  BOOST_TEST(StateMap(*store).prove(root, b("acct/7")).ok());
}

// A root page made by hand (docs/state.md, "Pages"): an inner node at
// depth 0 whose leftmost path goes down to depth 3, where two exits sit at
// depth 4, to pages written at `left` and `right`, in the form given by
// `exit` (the tag, the hash and the version's encoding); written at
// `height`. Returns its root hash.
Hash256 put_hand_made_root(KvStore& store, std::uint64_t height, const std::function<void(Bytes&, std::uint64_t)>& version,
                           std::uint8_t exit_tag, std::uint64_t left, std::uint64_t right) {
  // Hashes of their own, so that two of these pages never share a key.
  static int made = 0;
  ++made;
  const Hash256 a = sha256(b("page a" + std::to_string(made))), c = sha256(b("page c" + std::to_string(made)));
  Bytes value = {2, 2, 2, 2};
  for (auto [h, v] : {std::pair{a, left}, std::pair{c, right}}) {
    value.push_back(exit_tag);
    value.insert(value.end(), h.data.begin(), h.data.end());
    version(value, v);
  }
  value.insert(value.end(), {0, 0, 0});
  append_be(value, height);
  const Hash256 root =
      state_node_hash(state_node_hash(state_node_hash(state_node_hash(a, c), kEmptySubtree), kEmptySubtree), kEmptySubtree);
  WriteBatch batch;
  batch.put(state_root_key(root), value);
  BOOST_REQUIRE(store.write(batch, false).ok());
  return root;
}

std::vector<PageId> exits_of(const KvStore& store, const Hash256& root) {
  std::vector<PageId> out;
  auto page = StateMap::load_page(store, PageId{root, kRootPage});
  BOOST_REQUIRE_MESSAGE(page.ok(), (page.ok() ? std::string() : page.error().to_string()));
  StateMap::walk_page(*page->page, [](const StateMap::Node&) {}, [&](const PageId& id) { out.push_back(id); });
  return out;
}

// An exit names the page below by how many versions back it was written
// (a varint, tag 4); pages of the format before, with a be64 version
// (tag 3), still read the same.
BOOST_AUTO_TEST_CASE(exits_name_their_page_by_how_far_back_it_was_written) {
  auto store = open_memory_store();
  auto be = [](Bytes& out, std::uint64_t v) { append_be(out, v); };
  auto back_from = [](std::uint64_t height) {
    return [height](Bytes& out, std::uint64_t v) {
      Writer w;
      w.varint(height - v);
      out.insert(out.end(), w.data().begin(), w.data().end());
    };
  };
  const std::uint64_t height = std::uint64_t{1} << 40;
  const Hash256 old_form = put_hand_made_root(*store, 7, be, 3, 5, 7);
  const Hash256 new_form = put_hand_made_root(*store, height, back_from(height), 4, height - 300, height);
  const auto old_exits = exits_of(*store, old_form), new_exits = exits_of(*store, new_form);
  BOOST_REQUIRE(old_exits.size() == 2u);
  BOOST_TEST(old_exits[0].version == 5u);
  BOOST_TEST(old_exits[1].version == 7u);
  BOOST_REQUIRE(new_exits.size() == 2u);
  BOOST_TEST(new_exits[0].version == height - 300);
  BOOST_TEST(new_exits[1].version == height);

  // Further back than the page's own height, or a varint with a redundant
  // group, is a damaged page.
  auto corrupt = [&](const Hash256& root) {
    auto page = StateMap::load_page(*store, PageId{root, kRootPage});
    return !page.ok() && page.error().reason == "state-node-corrupt";
  };
  BOOST_TEST(corrupt(put_hand_made_root(*store, 10, back_from(10), 4, 3, 11)));
  BOOST_TEST(corrupt(put_hand_made_root(*store, 10, [](Bytes& out, std::uint64_t) { out.insert(out.end(), {0x81, 0x00}); }, 4, 0, 0)));
  // A root page's height beyond 2^63 (a damaged suffix) names no version.
  const std::uint64_t beyond = (std::uint64_t{1} << 63) + 5;
  BOOST_TEST(corrupt(put_hand_made_root(*store, beyond, back_from(beyond), 4, beyond, beyond)));

  // The map itself writes the short form: a page flushed at a height of
  // 2^40 holds no 8-byte versions.
  StateMap map(*store);
  Hash256 root = kEmptySubtree;
  std::vector<StateUpdate> ups;
  for (int i = 0; i < 200; ++i) ups.push_back({b("acct/" + std::to_string(i)), b("v")});
  root = map.apply(root, ups).value();
  WriteBatch batch;
  map.flush(batch, height);
  BOOST_REQUIRE(store->write(batch, false).ok());
  const auto exits = exits_of(*store, root);
  BOOST_REQUIRE(exits.size() >= 8u);
  std::size_t nodes = 0;
  StateMap::walk_page(*StateMap::load_page(*store, PageId{root, kRootPage})->page, [&](const StateMap::Node&) { ++nodes; },
                      [](const PageId&) {});
  const auto raw = store->get(state_root_key(root)).value().value();
  // Each exit takes 1 + 32 + 1 bytes (written at this very height), each
  // node (no leaves here) its tag, the empty positions one byte each.
  BOOST_TEST(raw.size() <= nodes + exits.size() * (1 + 32 + 1) + (31 - nodes - exits.size()) + 8);
  for (const auto& e : exits) BOOST_TEST(e.version == height);
}

// A map of one entry has its leaf as root, with a page of its own; it
// grows to two entries and shrinks back, and each version reads back
// from the store alone.
BOOST_FIXTURE_TEST_CASE(a_leaf_root_has_a_page_of_its_own, MapFixture) {
  apply({{b("a"), b("1")}});
  const Hash256 one = root;
  BOOST_TEST(StateMap(*store).prove(one, b("a")).ok());
  apply({{b("b"), b("2")}});
  const Hash256 two = root;
  apply({{b("b"), std::nullopt}, {b("a"), b("3")}});
  BOOST_TEST(root == reference_root({{b("a"), b("3")}}));
  for (const auto& [r, value] : {std::pair{one, b("1")}, std::pair{two, b("1")}, std::pair{root, b("3")}}) {
    auto proof = StateMap(*store).prove(r, b("a"));
    BOOST_REQUIRE(proof.ok());
    BOOST_TEST(verify_state_proof(r, b("a"), value, *proof).ok());
  }
}

BOOST_FIXTURE_TEST_CASE(later_update_of_a_key_wins_within_a_batch, MapFixture) {
  apply({{b("k"), b("1")}, {b("k"), b("2")}, {b("j"), b("x")}, {b("j"), std::nullopt}});
  BOOST_TEST(root == reference_root({{b("k"), b("2")}}));
}

BOOST_FIXTURE_TEST_CASE(proofs_verify_and_tampering_fails, MapFixture) {
  std::map<Bytes, Bytes> content;
  std::vector<StateUpdate> ups;
  for (int i = 0; i < 500; ++i) {
    content[b("acct/" + std::to_string(i))] = b("balance " + std::to_string(i * 7));
    ups.push_back({b("acct/" + std::to_string(i)), content[b("acct/" + std::to_string(i))]});
  }
  apply(ups);
  Hash256 old_root = root;

  for (int i = 0; i < 500; i += 37) {
    Bytes key = b("acct/" + std::to_string(i));
    auto proof = map.prove(root, key);
    BOOST_REQUIRE(proof.ok());
    BOOST_TEST(verify_state_proof(root, key, content[key], *proof).ok());
    // Round trip through the encoding.
    auto decoded = decode_exact<StateProof>(encode(*proof));
    BOOST_REQUIRE(decoded.ok());
    BOOST_TEST((*decoded == *proof));
    BOOST_TEST(verify_state_proof(root, key, content[key], *decoded).ok());
    // Wrong value, wrong key, absent claim, wrong root: all fail.
    BOOST_TEST(verify_state_proof(root, key, b("forged"), *proof).error().reason == "proof-mismatch");
    BOOST_TEST(!verify_state_proof(root, b("acct/other"), content[key], *proof).ok());
    BOOST_TEST(!verify_state_proof(root, key, std::nullopt, *proof).ok());
    Hash256 other_root = root;
    other_root.data[5] ^= 1;
    BOOST_TEST(!verify_state_proof(other_root, key, content[key], *proof).ok());
    // Any flipped bit in any sibling fails.
    for (std::size_t s = 0; s < proof->siblings.size(); ++s) {
      StateProof t = *proof;
      t.siblings[s].data[s % 32] ^= 0x10;
      BOOST_TEST(!verify_state_proof(root, key, content[key], t).ok());
    }
    StateProof shorter = *proof;
    if (!shorter.siblings.empty()) {
      shorter.siblings.pop_back();
      BOOST_TEST(!verify_state_proof(root, key, content[key], shorter).ok());
    }
  }

  // Non-inclusion proofs for absent keys, both kinds of terminal.
  int by_leaf = 0, by_empty = 0;
  for (int i = 0; i < 200; ++i) {
    Bytes key = b("absent/" + std::to_string(i));
    auto proof = map.prove(root, key);
    BOOST_REQUIRE(proof.ok());
    BOOST_TEST(verify_state_proof(root, key, std::nullopt, *proof).ok());
    BOOST_TEST(!verify_state_proof(root, key, b("anything"), *proof).ok());
    (proof->leaf_path ? by_leaf : by_empty)++;
  }
  BOOST_TEST(by_leaf > 0);
  BOOST_TEST(by_empty > 0);

  // A present key cannot be proven absent with its own proof.
  Bytes present = b("acct/3");
  auto proof = map.prove(root, present);
  BOOST_TEST(!verify_state_proof(root, present, std::nullopt, *proof).ok());

  // Old roots stay provable after updates.
  apply({{b("acct/3"), b("changed")}});
  BOOST_TEST(root != old_root);
  auto old_proof = map.prove(old_root, present);
  BOOST_TEST(verify_state_proof(old_root, present, content[present], *old_proof).ok());
  auto new_proof = map.prove(root, present);
  BOOST_TEST(verify_state_proof(root, present, b("changed"), *new_proof).ok());
}

BOOST_FIXTURE_TEST_CASE(missing_nodes_are_local_errors, MapFixture) {
  Hash256 bogus = sha256(b("not a node"));
  auto r = map.apply(bogus, {{b("k"), b("v")}});
  BOOST_TEST(r.error().reason == "state-node-missing");
  BOOST_TEST((r.error().fault == Fault::local));
  BOOST_TEST(map.prove(bogus, b("k")).error().reason == "state-node-missing");
}

BOOST_AUTO_TEST_CASE(malformed_proof_encodings_rejected) {
  Writer w;
  w.varint(300);
  BOOST_TEST(decode_exact<StateProof>(w.data()).error().reason == "proof-malformed");
  Writer pad;
  pad.varint(3);
  pad.u8(0x80);  // bit 7 set beyond depth 3
  pad.boolean(false);
  BOOST_TEST(decode_exact<StateProof>(pad.data()).error().reason == "decode-not-canonical");
}


// Pruning keeps every kept version whole and nothing else: over random
// blocks whose values come from a small set (so that subtrees dropped by
// one version come back in a later one), every tenth block undoing the one
// before (so that a root comes back), with the orphan lists pruned now and
// then with random budgets, every key's proof verifies against each of the
// last `keep` versions, and once everything prunable is pruned the store
// holds exactly the pages those versions reach. A root written again after
// the version that dropped it must survive (nodes_kept counts them); other
// pages written again have new keys.
BOOST_AUTO_TEST_CASE(pruning_keeps_exactly_the_recent_versions) {
  auto seed = testing::test_seed();
  BOOST_TEST_MESSAGE("seed " << seed);
  std::mt19937_64 rng(seed);
  auto store = open_memory_store();
  StateMap map(*store, 8 << 10);  // a small cache: a few pages
  map.set_record_orphans(true);
  std::mutex write_mu;
  const std::uint64_t keep = 5;
  std::vector<Hash256> roots{kEmptySubtree};
  std::vector<std::map<Bytes, Bytes>> contents{{}};
  PruneStats total;
  auto key = [](std::uint64_t i) { return b("k/" + std::to_string(i)); };
  for (std::uint64_t h = 1; h <= 300; ++h) {
    std::map<Bytes, Bytes> content = contents.back();
    std::vector<StateUpdate> ups;
    const int n = h % 10 == 0 ? 0 : 1 + static_cast<int>(rng() % 8);
    if (h % 10 == 0) {  // back to the content two versions ago
      content = contents[h - 2];
      for (const auto& [k, v] : contents[h - 1])
        if (!content.contains(k)) ups.push_back({k, std::nullopt});
      for (const auto& [k, v] : content) ups.push_back({k, v});
    }
    for (int i = 0; i < n; ++i) {
      Bytes k = key(rng() % 40);
      if (rng() % 6 == 0) {
        ups.push_back({k, std::nullopt});
        content.erase(k);
      } else {
        Bytes v = b("v" + std::to_string(rng() % 3));
        ups.push_back({k, v});
        content[k] = v;
      }
    }
    auto r = map.apply(roots.back(), ups);
    BOOST_REQUIRE(r.ok());
    if (h % 10 == 0) BOOST_REQUIRE((*r == roots[h - 2]));
    WriteBatch batch;
    map.flush(batch, h);
    BOOST_REQUIRE(store->write(batch, false).ok());
    roots.push_back(*r);
    contents.push_back(content);
    if (h % 7 == 0 && h + 1 > keep) {
      auto stats = prune_state_nodes(*store, h + 1 - keep, 1 + rng() % 200, write_mu);
      BOOST_REQUIRE_MESSAGE(stats.ok(), (stats.ok() ? "" : stats.error().to_string()));
      total.nodes_deleted += stats->nodes_deleted;
      total.nodes_kept += stats->nodes_kept;
      for (std::uint64_t v = h + 1 - keep; v <= h; ++v)
        for (std::uint64_t i = 0; i < 40; ++i) {
          auto proof = map.prove(roots[v], key(i));
          BOOST_REQUIRE_MESSAGE(proof.ok(), "seed " << seed << " height " << h << " version " << v);
          auto it = contents[v].find(key(i));
          auto value = it == contents[v].end() ? std::nullopt : std::optional<Bytes>(it->second);
          BOOST_REQUIRE(verify_state_proof(roots[v], key(i), value, *proof).ok());
        }
    }
  }
  const std::uint64_t tip = roots.size() - 1;
  auto last = prune_state_nodes(*store, tip + 1 - keep, std::size_t{1} << 30, write_mu);
  BOOST_REQUIRE(last.ok());
  total.nodes_deleted += last->nodes_deleted;
  total.nodes_kept += last->nodes_kept;
  std::set<Bytes> live;
  for (std::uint64_t v = tip + 1 - keep; v <= tip; ++v) BOOST_REQUIRE(testing::reachable_nodes(*store, roots[v], live).ok());
  BOOST_TEST(testing::stored_state_nodes(*store) == live, "the store holds exactly the kept versions' nodes");
  BOOST_TEST(total.nodes_deleted > 0u);
  BOOST_TEST(total.nodes_kept > 0u, "no node came back: the test did not exercise rebirth");
  // The lists up to the last pruned height are gone; the later ones wait.
  std::size_t lists = 0;
  BOOST_REQUIRE(store->scan(b("o/"), [&](ByteView k, ByteView) {
    BOOST_TEST(read_be(k.subspan(2)) > tip + 1 - keep);
    ++lists;
    return true;
  }).ok());
  BOOST_TEST(lists <= keep - 1);
}

// Without orphan lists (an archive node) every version stays: nothing is
// listed, so nothing is pruned, and the oldest root still proves.
BOOST_AUTO_TEST_CASE(an_archive_map_lists_nothing_and_keeps_every_version) {
  auto store = open_memory_store();
  StateMap map(*store, 64);
  std::mutex write_mu;
  Hash256 first, root = kEmptySubtree;
  for (std::uint64_t h = 1; h <= 20; ++h) {
    auto r = map.apply(root, {{b("k"), b("v" + std::to_string(h))}, {b("j/" + std::to_string(h % 4)), b("x")}});
    BOOST_REQUIRE(r.ok());
    root = *r;
    if (h == 1) first = root;
    WriteBatch batch;
    map.flush(batch, h);
    BOOST_REQUIRE(store->write(batch, false).ok());
  }
  auto stats = prune_state_nodes(*store, 20, 1000, write_mu);
  BOOST_REQUIRE(stats.ok());
  BOOST_TEST(stats->nodes_deleted == 0u);
  auto proof = map.prove(first, b("k"));
  BOOST_REQUIRE(proof.ok());
  BOOST_TEST(verify_state_proof(first, b("k"), b("v1"), *proof).ok());
}

namespace {
// A memory store that records the ranges compacted.
class CompactionRecorder final : public KvStore {
 public:
  Result<std::optional<Bytes>> get(ByteView key) const override { return inner_->get(key); }
  Status write(const WriteBatch& batch, bool sync) override { return inner_->write(batch, sync); }
  Status scan_from(ByteView prefix, ByteView start,
                   const std::function<bool(ByteView, ByteView)>& visit) const override {
    return inner_->scan_from(prefix, start, visit);
  }
  std::shared_ptr<const KvStore> snapshot() const override { return inner_->snapshot(); }
  Status compact(ByteView begin, ByteView end) override {
    ranges.emplace_back(Bytes(begin.begin(), begin.end()), Bytes(end.begin(), end.end()));
    return {};
  }
  std::vector<std::pair<Bytes, Bytes>> ranges;

 private:
  std::unique_ptr<KvStore> inner_ = open_memory_store();
};
}  // namespace

// Pages are keyed by the height that wrote them first ("w/" + be64(height)
// + hash), so a batch's pages sort after every older page; pruning then
// compacts the key range of each kCompactHeights heights once, when its
// lists are done, in order and never ahead of them.
BOOST_AUTO_TEST_CASE(pages_are_keyed_by_height_and_pruning_compacts_each_range_once) {
  CompactionRecorder store;
  StateMap map(store, 1 << 20);
  map.set_record_orphans(true);
  std::mutex write_mu;
  std::mt19937_64 rng(3);
  Hash256 root = kEmptySubtree;
  const Bytes prefix = prefixed_key(kStatePagePrefix, {});
  std::uint64_t pruned_to = 0;
  for (std::uint64_t h = 1; h <= 300; ++h) {
    std::vector<StateUpdate> ups;
    for (int i = 0; i < 20; ++i) ups.push_back({b("k/" + std::to_string(rng() % 500)), b(std::to_string(rng()))});
    root = map.apply(root, std::move(ups)).value();
    WriteBatch batch;
    map.flush(batch, h);
    // The batch's pages, in key order, all lead with h.
    std::size_t pages = 0;
    batch.for_each([&](ByteView key, const ByteView* value) {
      if (!value || key.size() < prefix.size() || !std::equal(prefix.begin(), prefix.end(), key.begin())) return;
      ++pages;
      BOOST_REQUIRE_EQUAL(key.size(), prefix.size() + 8 + 32);
      BOOST_REQUIRE_EQUAL(read_be(key.subspan(prefix.size(), 8)), h);
    });
    BOOST_REQUIRE(pages > 0u);
    BOOST_REQUIRE(store.write(batch, false).ok());
    if (h % 10 == 0) {
      pruned_to = h - 5;
      BOOST_REQUIRE(prune_state_nodes(store, pruned_to, std::size_t{1} << 30, write_mu).ok());
    }
  }
  // Keys in the store ascend with the height they name.
  std::uint64_t previous = 0;
  std::size_t stored = 0;
  BOOST_REQUIRE(store.scan(prefix, [&](ByteView key, ByteView) {
    const std::uint64_t h = read_be(key.subspan(prefix.size(), 8));
    BOOST_REQUIRE(h >= previous);
    previous = h;
    ++stored;
    return true;
  }).ok());
  BOOST_TEST(stored > 0u);
  // Lists of heights 1..295 are done: ranges [0, 64), [64, 128), ... [192, 256).
  BOOST_REQUIRE_EQUAL(store.ranges.size(), (pruned_to + 1) / kCompactHeights);
  for (std::size_t i = 0; i < store.ranges.size(); ++i) {
    BOOST_TEST((store.ranges[i].first == prefixed_key(kStatePagePrefix, be64(i * kCompactHeights))));
    BOOST_TEST((store.ranges[i].second == prefixed_key(kStatePagePrefix, be64((i + 1) * kCompactHeights))));
  }
}
