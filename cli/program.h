#pragma once
// The command-line shape shared by verityd, verity and verity-worker:
//
//   PROGRAM --help | -h        usage on stdout, exit 0
//   PROGRAM --version          "PROGRAM VERSION" on stdout, exit 0
//   PROGRAM COMMAND [ARGS...]  runs a subcommand
//   PROGRAM COMMAND --help     the command's own help on stdout, exit 0
//
// Each command parses its ARGS with cli/args.h, so the three programs share
// one set of rules.
//
// Anything else prints a one-line error that says what to run next on
// stderr and exits 2 (usage error), so scripts can tell it from a failure
// of the command itself (exit 1).

#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "core/result.h"

namespace verity::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

struct Subcommand {
  std::string name;
  std::string summary;  // one line in the program's usage
  std::string help;     // `PROGRAM COMMAND --help` (run_cli prints it; the command never sees --help)
  std::function<int(const std::vector<std::string>& args, std::ostream& out, std::ostream& err)> run;
};

struct CliProgram {
  std::string name;     // "verityd"
  std::string summary;  // one line
  std::vector<Subcommand> commands;
};

std::string usage(const CliProgram& program);
int run_cli(const CliProgram& program, const std::vector<std::string>& args, std::ostream& out,
            std::ostream& err);
int run_cli(const CliProgram& program, int argc, char** argv);  // on std::cout / std::cerr

// Prints "LABEL: DETAIL" on `err` and returns the exit code of a usage
// error (2): for commands that return early on a cli::parse_args failure.
int usage_failure(const std::string& label, const Error& error, std::ostream& err);

}  // namespace verity::cli
