#define BOOST_TEST_MODULE state_view_tests
#include <boost/test/unit_test.hpp>

#include <map>

#include "state/state_view.h"

using namespace verity;
using namespace verity::state;

namespace {
Bytes b(const std::string& s) { return Bytes(s.begin(), s.end()); }

class MapReader final : public StateReader {
 public:
  std::map<Bytes, Bytes> data;
  Result<std::optional<Bytes>> get(ByteView key) const override {
    auto it = data.find(Bytes(key.begin(), key.end()));
    if (it == data.end()) return std::optional<Bytes>{};
    return std::optional<Bytes>{it->second};
  }
};

std::optional<Bytes> get(const StateReader& r, const std::string& k) { return r.get(b(k)).value(); }
}  // namespace

BOOST_AUTO_TEST_CASE(overlay_reads_through_and_shadows) {
  MapReader base;
  base.data[b("a")] = b("1");
  base.data[b("b")] = b("2");
  StateOverlay o(base);
  BOOST_TEST((get(o, "a") == b("1")));
  o.put(b("a"), b("10"));
  o.erase(b("b"));
  o.put(b("c"), b("3"));
  BOOST_TEST((get(o, "a") == b("10")));
  BOOST_TEST(!get(o, "b").has_value());
  BOOST_TEST((get(o, "c") == b("3")));
  BOOST_TEST((get(base, "a") == b("1")));  // the base is never written

  auto changes = o.changes();
  BOOST_REQUIRE_EQUAL(changes.size(), 3u);
  BOOST_TEST((changes[0].key == b("a") && changes[0].value == b("10")));
  BOOST_TEST((changes[1].key == b("b") && !changes[1].value));
  BOOST_TEST((changes[2].key == b("c") && changes[2].value == b("3")));
}

BOOST_AUTO_TEST_CASE(nested_rollback_restores_exactly) {
  MapReader base;
  base.data[b("a")] = b("1");
  StateOverlay o(base);
  o.put(b("a"), b("2"));
  auto outer = o.checkpoint();
  o.put(b("a"), b("3"));
  o.put(b("new"), b("x"));
  auto inner = o.checkpoint();
  o.erase(b("a"));
  o.put(b("new"), b("y"));
  o.rollback(inner);
  BOOST_TEST((get(o, "a") == b("3")));
  BOOST_TEST((get(o, "new") == b("x")));
  o.rollback(outer);
  BOOST_TEST((get(o, "a") == b("2")));
  BOOST_TEST(!get(o, "new").has_value());
  BOOST_REQUIRE_EQUAL(o.changes().size(), 1u);  // "new" left no trace
  o.rollback(0);
  BOOST_TEST(o.changes().empty());
  BOOST_TEST((get(o, "a") == b("1")));
}
