#define BOOST_TEST_MODULE module_meter_tests
#include <boost/test/unit_test.hpp>

// The node's contracts::ModuleMeter: the sandbox's admission and rewriter,
// cached by module hash and version (node/module_meter.h).

#include "node/module_meter.h"
#include "worker/sandbox.h"

using namespace verity;

namespace {

// (module (memory (export "memory") 1) (func (export "_start") [nops]))
Bytes tiny_module(std::uint8_t nops) {
  Bytes m{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};
  m.insert(m.end(), {0x01, 0x04, 0x01, 0x60, 0x00, 0x00});  // type () -> ()
  m.insert(m.end(), {0x03, 0x02, 0x01, 0x00});              // one function
  m.insert(m.end(), {0x05, 0x03, 0x01, 0x00, 0x01});        // memory 1
  m.insert(m.end(), {0x07, 0x13, 0x02, 0x06, 'm', 'e', 'm', 'o', 'r', 'y', 0x02, 0x00,
                     0x06, '_', 's', 't', 'a', 'r', 't', 0x00, 0x00});
  Bytes body{0x00};
  body.insert(body.end(), nops, 0x01);
  body.push_back(0x0b);
  m.insert(m.end(), {0x0a, std::uint8_t(body.size() + 2), 0x01, std::uint8_t(body.size())});
  m.insert(m.end(), body.begin(), body.end());
  return m;
}

}  // namespace

BOOST_AUTO_TEST_CASE(meters_once_per_module_and_version) {
  node::SandboxModuleMeter meter(2);
  Bytes a = tiny_module(1);
  auto h = meter.metered_hash(a, worker::metering_version());
  BOOST_REQUIRE_MESSAGE(h.ok(), (h.ok() ? std::string() : h.error().to_string()));
  BOOST_TEST((*h == sha256(worker::metered_module(a).value())));
  BOOST_TEST(meter.computed() == 1u);
  BOOST_TEST((*meter.metered_hash(a, worker::metering_version()) == *h));
  BOOST_TEST(meter.computed() == 1u);  // cached

  // Another module differs; the cache holds two and forgets the oldest.
  Bytes b = tiny_module(2), c = tiny_module(3);
  BOOST_TEST((*meter.metered_hash(b, worker::metering_version()) != *h));
  (void)meter.metered_hash(c, worker::metering_version());
  BOOST_TEST(meter.computed() == 3u);
  (void)meter.metered_hash(a, worker::metering_version());
  BOOST_TEST(meter.computed() == 4u);
}

BOOST_AUTO_TEST_CASE(refusals_carry_the_sandbox_reason_and_are_cached_too) {
  node::SandboxModuleMeter meter;
  Bytes junk{'n', 'o', 't', ' ', 'w', 'a', 's', 'm'};
  auto r = meter.metered_hash(junk, worker::metering_version());
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.error().reason == "invalid-module");
  (void)meter.metered_hash(junk, worker::metering_version());
  BOOST_TEST(meter.computed() == 1u);

  auto other = meter.metered_hash(tiny_module(1), worker::metering_version() + 1);
  BOOST_REQUIRE(!other.ok());
  BOOST_TEST(other.error().reason == "unknown-metering-version");
}

// What a browser worker fetches (RPC `module` with `metered: true`): the
// very bytes whose hash the chain records, rewritten once while cached.
BOOST_AUTO_TEST_CASE(the_metered_module_is_the_one_whose_hash_the_chain_records) {
  node::SandboxModuleMeter meter;
  Bytes a = tiny_module(4);
  auto bytes = meter.metered_module(a, worker::metering_version());
  BOOST_REQUIRE_MESSAGE(bytes.ok(), (bytes.ok() ? std::string() : bytes.error().to_string()));
  BOOST_TEST(meter.computed() == 1u);  // one rewrite gives the bytes and the hash
  BOOST_TEST((*bytes == worker::metered_module(a).value()));
  BOOST_TEST((sha256(*bytes) == *meter.metered_hash(a, worker::metering_version())));
  BOOST_TEST(meter.computed() == 1u);  // the hash came from that rewrite
  const auto rewrites = meter.computed();
  BOOST_TEST((*meter.metered_module(a, worker::metering_version()) == *bytes));
  BOOST_TEST(meter.computed() == rewrites);  // cached
  // Eight modules later the first is rewritten again (the cache is small: bytes are large).
  for (std::uint8_t i = 10; i < 18; ++i) (void)meter.metered_module(tiny_module(i), worker::metering_version());
  const auto before = meter.computed();
  (void)meter.metered_module(a, worker::metering_version());
  BOOST_TEST(meter.computed() == before + 1);

  Bytes junk{'n', 'o', 't', ' ', 'w', 'a', 's', 'm'};
  auto refused = meter.metered_module(junk, worker::metering_version());
  BOOST_REQUIRE(!refused.ok());
  BOOST_TEST(refused.error().reason == "invalid-module");
  auto other = meter.metered_module(a, worker::metering_version() + 1);
  BOOST_REQUIRE(!other.ok());
  BOOST_TEST(other.error().reason == "unknown-metering-version");
}
