#define BOOST_TEST_MODULE module_inspect_tests
#include <boost/test/unit_test.hpp>

#include <cstdlib>

#include "tests/test_support.h"
#include "tests/wasm_support.h"
#include "worker/module_inspect.h"

using namespace verity;
using namespace verity::worker;

namespace {
Bytes module_bytes(const std::string& name) { return testing::test_module(name); }
}  // namespace

BOOST_AUTO_TEST_CASE(lists_imports_and_exports) {
  auto summary = inspect_module(module_bytes("hello"));
  BOOST_REQUIRE_MESSAGE(summary.ok(), (summary.ok() ? "" : summary.error().to_string()));
  BOOST_REQUIRE_EQUAL(summary->imports.size(), 2u);
  BOOST_TEST(summary->imports[0].module == "wasi_snapshot_preview1");
  BOOST_TEST(summary->imports[0].name == "fd_write");
  BOOST_TEST(summary->imports[0].kind == "func");
  BOOST_TEST(summary->imports[1].name == "proc_exit");
  BOOST_TEST((summary->exports == std::vector<std::string>{"memory", "_start"}));

  auto files = inspect_module(module_bytes("opens_files"));
  BOOST_REQUIRE(files.ok());
  BOOST_TEST(files->imports.at(0).name == "path_open");
}

BOOST_AUTO_TEST_CASE(rejects_garbage_and_invalid_modules) {
  BOOST_TEST(inspect_module(Bytes{}).error().reason == "invalid-module");
  BOOST_TEST(inspect_module(as_bytes("not a wasm module at all")).error().reason == "invalid-module");
  Bytes truncated = module_bytes("hello");
  truncated.resize(truncated.size() / 2);
  BOOST_TEST(inspect_module(truncated).error().reason == "invalid-module");

  // Well-formed binary that fails validation: a () -> () function whose
  // body leaves an i32 on the stack.
  Bytes bad_types{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,  // magic, version
                  0x01, 0x04, 0x01, 0x60, 0x00, 0x00,              // type: func () -> ()
                  0x03, 0x02, 0x01, 0x00,                          // function 0 has type 0
                  0x0a, 0x06, 0x01, 0x04, 0x00, 0x41, 0x00, 0x0b}; // body: i32.const 0; end
  auto r = inspect_module(bad_types);
  BOOST_TEST(r.error().reason == "invalid-module");
  BOOST_TEST_MESSAGE("wabt says: " << r.error().detail);

  BOOST_TEST(inspect_module(Bytes(kMaxModuleBytes + 1, 0)).error().reason == "module-too-large");
}
