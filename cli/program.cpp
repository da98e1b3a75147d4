#include "cli/program.h"

#include <algorithm>
#include <iostream>
#include <ostream>
#include <sstream>

#include "cli/args.h"
#include "core/version.h"

namespace verity::cli {

std::string usage(const CliProgram& program) {
  std::ostringstream o;
  o << program.name << " " << kVersion << ": " << program.summary << "\n\n"
    << "Usage:\n"
    << "  " << program.name << (program.commands.empty() ? "" : " COMMAND [ARGS...]") << "\n"
    << "  " << program.name << " --help       show this help\n"
    << "  " << program.name << " --version    print the version\n";
  if (!program.commands.empty()) {
    o << "\nCommands:\n";
    std::size_t width = 14;  // the summaries start in one column
    for (const auto& c : program.commands) width = std::max(width, c.name.size() + 2);
    for (const auto& c : program.commands) o << "  " << c.name << std::string(width - c.name.size(), ' ') << c.summary << "\n";
  }
  return o.str();
}

int run_cli(const CliProgram& program, const std::vector<std::string>& args, std::ostream& out,
            std::ostream& err) {
  if (args.empty()) {
    err << usage(program);
    return kExitUsage;
  }
  const std::string& first = args[0];
  if (first == "--help" || first == "-h" || first == "help") {
    out << usage(program);
    return kExitOk;
  }
  if (first == "--version") {
    out << program.name << " " << kVersion << "\n";
    return kExitOk;
  }
  for (const auto& c : program.commands) {
    if (c.name != first) continue;
    std::vector<std::string> rest(args.begin() + 1, args.end());
    if (!c.help.empty() && wants_help(rest)) {
      out << c.help;
      return kExitOk;
    }
    return c.run(rest, out, err);
  }
  err << program.name << ": unknown " << (first.rfind("-", 0) == 0 ? "option" : "command") << " '"
      << first << "'; run '" << program.name << " --help' to see what it accepts\n";
  return kExitUsage;
}

int usage_failure(const std::string& label, const Error& error, std::ostream& err) {
  err << label << ": " << (error.detail.empty() ? error.reason : error.detail) << "\n";
  return kExitUsage;
}

int run_cli(const CliProgram& program, int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return run_cli(program, args, std::cout, std::cerr);
}

}  // namespace verity::cli
