#pragma once
// The command line of the simulators (pbft_simulation, node_simulation):
// options, some followed by a value. A missing value exits with 2.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace verity::testing {

class SimArgs {
 public:
  SimArgs(int argc, char** argv) : argc_(argc), argv_(argv) {}
  // Moves to the next option; false after the last.
  bool next() {
    if (i_ + 1 >= argc_) return false;
    option_ = argv_[++i_];
    return true;
  }
  const std::string& option() const { return option_; }
  // The word after the option.
  std::string value() {
    if (i_ + 1 >= argc_) {
      std::fprintf(stderr, "%s needs a value\n", option_.c_str());
      std::exit(2);
    }
    return argv_[++i_];
  }
  std::uint64_t number() { return std::stoull(value()); }

 private:
  int argc_;
  char** argv_;
  int i_ = 0;
  std::string option_;
};

}  // namespace verity::testing
