// The main of a fuzz target in builds without libFuzzer (gcc: the default
// build of scripts/test). Runs LLVMFuzzerTestOneInput over every file named
// on the command line or found under a directory named there (the seed
// corpus and the committed regressions), then over `--mutations N` seeded
// mutations of each (bit flips, byte changes, cuts, insertions: a bounded,
// deterministic stand-in for fuzzing). `VERITY_SEED` picks the mutations;
// the seed is printed. A missing directory is skipped (a target may have no
// regressions yet). A failed property aborts, naming the input.

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz.h"

namespace fs = std::filesystem;

namespace {

std::vector<std::uint8_t> read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The input being run, so that a failed property can be saved for replay.
const std::vector<std::uint8_t>* current = nullptr;

// On abort (a failed FUZZ_CHECK, a sanitizer report with abort_on_error),
// the input goes to ./fuzz-crash-input: replay it with this program, or
// minimize it under libFuzzer (docs/testing.md).
void save_current(int) {
  if (current) {
    if (std::FILE* f = std::fopen("fuzz-crash-input", "wb")) {
      std::fwrite(current->data(), 1, current->size(), f);
      std::fclose(f);
      std::fputs("the failing input is in ./fuzz-crash-input\n", stderr);
    }
  }
  std::signal(SIGABRT, SIG_DFL);
  std::abort();
}

void run(const std::vector<std::uint8_t>& bytes) {
  current = &bytes;
  LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
  current = nullptr;
}

std::vector<std::uint8_t> mutate(std::vector<std::uint8_t> b, std::mt19937_64& rng) {
  const int edits = 1 + int(rng() % 4);
  for (int i = 0; i < edits; ++i) {
    const std::size_t at = b.empty() ? 0 : rng() % b.size();
    switch (rng() % 5) {
      case 0:
        if (!b.empty()) b[at] ^= std::uint8_t(1u << (rng() % 8));
        break;
      case 1:
        if (!b.empty()) b[at] = std::uint8_t(rng());
        break;
      case 2:
        b.resize(at);
        break;
      case 3:
        b.insert(b.begin() + std::ptrdiff_t(at), std::uint8_t(rng()));
        break;
      default:
        if (!b.empty()) b[at] = std::uint8_t(rng() % 2 ? 0x00 : 0xff);
        break;
    }
  }
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  long mutations = 0;
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--mutations" && i + 1 < argc) {
      mutations = std::stol(argv[++i]);
      continue;
    }
    const fs::path p(arg);
    if (fs::is_directory(p)) {
      for (const auto& e : fs::recursive_directory_iterator(p))
        if (e.is_regular_file() && e.path().filename().string()[0] != '.') files.push_back(e.path());
    } else if (fs::is_regular_file(p)) {
      files.push_back(p);
    } else {
      std::cout << "skipping " << p.string() << ": not there\n";
    }
  }
  if (files.empty()) {
    std::cerr << "no inputs: give seed files or directories\n";
    return 2;
  }
  const char* seed_env = std::getenv("VERITY_SEED");
  const std::uint64_t seed = seed_env ? std::strtoull(seed_env, nullptr, 10) : 1;
  std::cout << "VERITY_SEED=" << seed << "\n";
  std::mt19937_64 rng(seed);
  std::signal(SIGABRT, save_current);
  for (const auto& f : files) {
    std::cout << "input " << f.string() << std::endl;
    const auto bytes = read_file(f);
    run(bytes);
    for (long m = 0; m < mutations; ++m) {
      const auto mutated = mutate(bytes, rng);
      run(mutated);
    }
  }
  std::cout << files.size() << " inputs, " << files.size() * std::size_t(mutations) << " mutations: all properties held\n";
  return 0;
}
