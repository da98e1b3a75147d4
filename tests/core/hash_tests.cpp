#define BOOST_TEST_MODULE hash_tests
#include <boost/test/unit_test.hpp>

#include <set>

#include "core/hash.h"

using namespace verity;

BOOST_AUTO_TEST_CASE(sha256_known_answers) {
  // FIPS 180-2 examples.
  BOOST_TEST(sha256(as_bytes("")).hex() ==
             "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  BOOST_TEST(sha256(as_bytes("abc")).hex() ==
             "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

BOOST_AUTO_TEST_CASE(tagged_hash_is_bip340_construction) {
  // tagged_hash(d, m) == SHA256(SHA256(tag) || SHA256(tag) || m)
  Bytes msg{1, 2, 3, 4, 5};
  for (int i = 0; i < kDomainCount; ++i) {
    auto d = static_cast<Domain>(i);
    Hash256 th = sha256(as_bytes(domain_tag(d)));
    Bytes pre;
    pre.insert(pre.end(), th.data.begin(), th.data.end());
    pre.insert(pre.end(), th.data.begin(), th.data.end());
    pre.insert(pre.end(), msg.begin(), msg.end());
    BOOST_TEST(tagged_hash(d, msg) == sha256(pre));
  }
}

BOOST_AUTO_TEST_CASE(domains_are_distinct) {
  std::set<std::string> tags;
  std::set<Hash256> hashes;
  for (int i = 0; i < kDomainCount; ++i) {
    auto d = static_cast<Domain>(i);
    BOOST_TEST(domain_tag(d) != "verity/unknown");
    tags.insert(std::string(domain_tag(d)));
    hashes.insert(tagged_hash(d, as_bytes("same message")));
  }
  BOOST_TEST(tags.size() == static_cast<std::size_t>(kDomainCount));
  BOOST_TEST(hashes.size() == static_cast<std::size_t>(kDomainCount));
}

BOOST_AUTO_TEST_CASE(incremental_equals_one_shot) {
  TaggedHasher h(Domain::transaction_id);
  h.update(as_bytes("hello ")).update(as_bytes("")).update(as_bytes("world"));
  BOOST_TEST(h.finish() == tagged_hash(Domain::transaction_id, as_bytes("hello world")));
}
