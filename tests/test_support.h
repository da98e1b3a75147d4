#pragma once
// Helpers shared by the unit suites.

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>

namespace verity::testing {

// ../shared/testdata, as meson passes it in VERITY_TESTDATA.
inline std::string testdata_path(const std::string& file) {
  const char* dir = std::getenv("VERITY_TESTDATA");
  if (!dir) throw std::runtime_error("VERITY_TESTDATA is not set; run the tests with 'meson test'");
  return std::string(dir) + "/" + file;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Seed for property tests: VERITY_SEED if set (to replay a failure), else a
// fixed default so the default run is reproducible. Tests print it on failure.
inline std::uint64_t test_seed() {
  if (const char* s = std::getenv("VERITY_SEED")) return std::strtoull(s, nullptr, 10);
  return 20261120;
}

// A fresh directory under /tmp, removed with everything in it at the end
// of the scope. `name` shows in the path, to tell leftovers apart.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& name = "test") {
    std::string tmpl = (std::filesystem::temp_directory_path() / ("verity-" + name + "-XXXXXX")).string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed for " + tmpl);
    path = tmpl;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

}  // namespace verity::testing
