#define BOOST_TEST_MODULE program_tests
#include <boost/test/unit_test.hpp>

#include <sstream>

#include "core/version.h"
#include "cli/program.h"

using namespace verity::cli;

namespace {
struct Run {
  int code;
  std::string out, err;
};
Run run(const CliProgram& p, std::vector<std::string> args) {
  std::ostringstream out, err;
  int code = run_cli(p, args, out, err);
  return {code, out.str(), err.str()};
}
CliProgram program() {
  return {"verityd", "the node",
          {{"echo", "prints its arguments", "Usage: verityd echo [ARGS...]\n",
            [](const std::vector<std::string>& a, std::ostream& o, std::ostream&) {
              for (const auto& s : a) o << s << ";";
              return 0;
            }}}};
}
}  // namespace

BOOST_AUTO_TEST_CASE(help_and_version) {
  auto h = run(program(), {"--help"});
  BOOST_TEST(h.code == kExitOk);
  BOOST_TEST(h.out.find("Usage:") != std::string::npos);
  BOOST_TEST(h.out.find("echo") != std::string::npos);
  auto v = run(program(), {"--version"});
  BOOST_TEST(v.code == kExitOk);
  BOOST_TEST(v.out == std::string("verityd ") + verity::kVersion + "\n");
}

BOOST_AUTO_TEST_CASE(dispatches_subcommands) {
  auto r = run(program(), {"echo", "a", "b"});
  BOOST_TEST(r.code == 0);
  BOOST_TEST(r.out == "a;b;");
}

BOOST_AUTO_TEST_CASE(usage_errors_say_what_to_do) {
  auto none = run(program(), {});
  BOOST_TEST(none.code == kExitUsage);
  BOOST_TEST(none.err.find("Usage:") != std::string::npos);
  auto unknown = run(program(), {"frobnicate"});
  BOOST_TEST(unknown.code == kExitUsage);
  BOOST_TEST(unknown.err.find("unknown command 'frobnicate'") != std::string::npos);
  BOOST_TEST(unknown.err.find("verityd --help") != std::string::npos);
  auto flag = run(program(), {"--bogus"});
  BOOST_TEST(flag.err.find("unknown option '--bogus'") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_command_help_is_printed_without_running_it) {
  for (const char* flag : {"--help", "-h"}) {
    auto r = run(program(), {"echo", "a", flag});
    BOOST_TEST(r.code == kExitOk);
    BOOST_TEST(r.out == "Usage: verityd echo [ARGS...]\n");  // not "a;--help;"
  }
  // After "--" it is an argument like any other.
  auto r = run(program(), {"echo", "--", "--help"});
  BOOST_TEST(r.out == "--;--help;");
}

BOOST_AUTO_TEST_CASE(usage_failure_prints_the_detail_and_returns_2) {
  std::ostringstream err;
  BOOST_TEST(usage_failure("verityd init", verity::make_error("usage", "missing --home DIR"), err) == kExitUsage);
  BOOST_TEST(err.str() == "verityd init: missing --home DIR\n");
}
