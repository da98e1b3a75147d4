#define BOOST_TEST_MODULE host_port_tests
#include <boost/test/unit_test.hpp>

#include "core/host_port.h"

using namespace verity;

BOOST_AUTO_TEST_CASE(host_port_parsing) {
  BOOST_CHECK(parse_host_port("127.0.0.1:7701")->port == 7701);
  BOOST_CHECK_EQUAL(parse_host_port("[::1]:80")->host, "::1");
  BOOST_CHECK_EQUAL(parse_host_port("node-1.example.org:1")->host, "node-1.example.org");
  BOOST_CHECK(!parse_host_port("::1:80"));
  BOOST_CHECK(!parse_host_port(":80"));
  BOOST_CHECK(!parse_host_port("host:"));
  BOOST_CHECK(!parse_host_port("host:0"));
  BOOST_CHECK(parse_host_port("host:0", true));
  BOOST_CHECK(!parse_host_port("host:12x"));
  BOOST_CHECK(!parse_host_port("ho st:12"));
  BOOST_CHECK(!parse_host_port("host:65536"));
  BOOST_CHECK_EQUAL(parse_host_port("host:").error().reason, "bad-address");
}

BOOST_AUTO_TEST_CASE(str_reads_back) {
  for (const char* text : {"127.0.0.1:7701", "[::1]:80", "node-1.example.org:1", "[fe80::1]:65535"}) {
    auto hp = parse_host_port(text);
    BOOST_REQUIRE_MESSAGE(hp, text);
    BOOST_CHECK_EQUAL(hp->str(), text);
    BOOST_CHECK(*parse_host_port(hp->str()) == *hp);
  }
}
