#define BOOST_TEST_MODULE args_tests
#include <boost/test/unit_test.hpp>

#include "cli/args.h"

using namespace verity::cli;

namespace {
CommandSpec spec() {
  return CommandSpec{"verity", "transfer", {"from", "amount", "arg"}, {"wait"}, {"arg"}, 0, 1, "ADDRESS"};
}
std::string detail_of(const verity::Result<Args>& r) { return r ? std::string("ok") : r.error().detail; }
}  // namespace

BOOST_AUTO_TEST_CASE(values_switches_and_positionals) {
  auto a = parse_args(spec(), {"--from", "alice", "--amount=5", "--wait", "bob"});
  BOOST_REQUIRE(a);
  BOOST_TEST(*a->get("from") == "alice");
  BOOST_TEST(*a->get("amount") == "5");
  BOOST_TEST(a->has("wait"));
  BOOST_TEST(!a->has("arg"));
  BOOST_TEST(a->all("arg").empty());
  BOOST_TEST(a->positional == std::vector<std::string>{"bob"});
}

BOOST_AUTO_TEST_CASE(a_repeated_option_is_refused_unless_repeatable) {
  auto twice = parse_args(spec(), {"--from", "a", "--from=b"});
  BOOST_REQUIRE(!twice);
  BOOST_TEST(twice.error().reason == "usage");
  BOOST_TEST(twice.error().detail == "option '--from' given twice; run 'verity transfer --help'");
  BOOST_TEST(detail_of(parse_args(spec(), {"--wait", "--wait"})) ==
             "option '--wait' given twice; run 'verity transfer --help'");
  auto args = parse_args(spec(), {"--arg", "x", "--arg=", "--arg", "z"});
  BOOST_REQUIRE(args);
  BOOST_TEST(args->all("arg") == (std::vector<std::string>{"x", "", "z"}));
  BOOST_TEST(*args->get("arg") == "z");
}

BOOST_AUTO_TEST_CASE(usage_errors_say_what_and_where_to_look) {
  BOOST_TEST(detail_of(parse_args(spec(), {"--frm", "a"})) == "unknown option '--frm'; run 'verity transfer --help'");
  BOOST_TEST(detail_of(parse_args(spec(), {"--frm=a"})) == "unknown option '--frm'; run 'verity transfer --help'");
  BOOST_TEST(detail_of(parse_args(spec(), {"-x"})) == "unknown option '-x'; run 'verity transfer --help'");
  BOOST_TEST(detail_of(parse_args(spec(), {"--from"})) == "option '--from' needs a value; run 'verity transfer --help'");
  BOOST_TEST(detail_of(parse_args(spec(), {"--wait=yes"})) == "option '--wait' takes no value; run 'verity transfer --help'");
  BOOST_TEST(detail_of(parse_args(spec(), {"a", "b"})) == "unexpected argument 'b'; run 'verity transfer --help'");
  CommandSpec needs_one = spec();
  needs_one.min_positional = 1;
  BOOST_TEST(detail_of(parse_args(needs_one, {})) == "missing ADDRESS; run 'verity transfer --help'");
  CommandSpec no_command{"verityd", "", {}, {}, {}, 0, 0, ""};
  BOOST_TEST(detail_of(parse_args(no_command, {"--x"})) == "unknown option '--x'; run 'verityd --help'");
}

BOOST_AUTO_TEST_CASE(double_dash_ends_the_options) {
  auto a = parse_args(spec(), {"--wait", "--", "--from"});
  BOOST_REQUIRE(a);
  BOOST_TEST(a->positional == std::vector<std::string>{"--from"});
  BOOST_TEST(!a->has("from"));
  BOOST_TEST(wants_help({"--wait", "-h"}));
  BOOST_TEST(wants_help({"x", "--help"}));
  BOOST_TEST(!wants_help({"--", "--help"}));
  BOOST_TEST(!wants_help({"--helpful"}));
  // A lone "-" is a positional argument (stdin, by convention).
  auto dash = parse_args(spec(), {"-"});
  BOOST_REQUIRE(dash);
  BOOST_TEST(dash->positional == std::vector<std::string>{"-"});
}

BOOST_AUTO_TEST_CASE(take_options_leaves_the_rest_in_order) {
  CommandSpec globals{"verity", "", {"rpc"}, {"json"}, {}, 0, 0, ""};
  std::vector<std::string> rest;
  auto g = take_options(globals, {"transfer", "--rpc", "http://h:1", "--from", "a", "--json", "-x", "--", "--rpc"}, rest);
  BOOST_REQUIRE(g);
  BOOST_TEST(*g->get("rpc") == "http://h:1");
  BOOST_TEST(g->has("json"));
  BOOST_TEST(rest == (std::vector<std::string>{"transfer", "--from", "a", "-x", "--", "--rpc"}));
  rest.clear();
  BOOST_TEST(detail_of(take_options(globals, {"--rpc=a", "--rpc", "b"}, rest)) ==
             "option '--rpc' given twice; run 'verity --help'");
}

BOOST_AUTO_TEST_CASE(required_refuses_absent_and_empty_values) {
  auto a = parse_args(spec(), {"--from="});
  BOOST_REQUIRE(a);
  auto r = required(*a, spec(), "from", "NAME");
  BOOST_REQUIRE(!r);
  BOOST_TEST(r.error().detail == "missing --from NAME; run 'verity transfer --help'");
  auto b = parse_args(spec(), {"--from", "alice"});
  BOOST_TEST(*required(*b, spec(), "from", "NAME") == "alice");
}
