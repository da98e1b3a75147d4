#pragma once
// The one argument parser of verityd, verity and verity-worker, with one set
// of rules (docs/layout.md, "Command lines"):
//
//   --name VALUE and --name=VALUE   an option with a value
//   --name                          a switch (a value after '=' is refused)
//   anything else                   a positional argument
//   --                              ends the options: what follows is positional
//
// An unknown option, an option given twice (unless the command lists it as
// repeatable, like `verity-worker exec --arg`), a missing value and too few
// or too many positional arguments are usage errors: reason "usage", with a
// detail that says what is wrong and ends "; run 'PROGRAM COMMAND --help'".
// Programs print it and exit 2 (cli/program.h).

#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/result.h"

namespace verity::cli {

// What one command accepts.
struct CommandSpec {
  std::string program;               // "verity"
  std::string command;               // "transfer", "keys new"
  std::set<std::string> with_value;  // --from NAME
  std::set<std::string> switches;    // --wait
  std::set<std::string> repeatable;  // of with_value: may be given more than once, in order
  std::size_t min_positional = 0, max_positional = 0;
  std::string positional_name;       // "ADDRESS|NAME": "missing ADDRESS|NAME"

  // "; run 'verity transfer --help'"
  std::string help_hint() const;
  // A usage error whose detail ends with the help hint.
  Error usage(const std::string& what) const;
};

struct Args {
  std::map<std::string, std::vector<std::string>> values;  // a switch: one empty value
  std::vector<std::string> positional;

  // The option's value (the last one of a repeatable option).
  std::optional<std::string> get(const std::string& name) const;
  // Every value of the option, in command-line order (empty when absent).
  std::vector<std::string> all(const std::string& name) const;
  bool has(const std::string& name) const { return values.count(name) > 0; }
};

// Parses `args` (the words after the command) by the rules above.
Result<Args> parse_args(const CommandSpec& spec, const std::vector<std::string>& args);

// The same, for options that may stand anywhere among a command's own (the
// client's --rpc, --json, ...): takes out those `spec` knows and leaves every
// other word, in order, in `rest` (positional limits are not checked).
Result<Args> take_options(const CommandSpec& spec, const std::vector<std::string>& args,
                          std::vector<std::string>& rest);

// The value of a required option, refusing an absent or empty one:
// "missing --from NAME; run 'verity transfer --help'".
Result<std::string> required(const Args& args, const CommandSpec& spec, const std::string& option,
                             const std::string& what);

// Whether the words ask for help: --help or -h before any "--".
bool wants_help(const std::vector<std::string>& args);

}  // namespace verity::cli
