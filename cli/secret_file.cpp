#include "cli/secret_file.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace verity::cli {

Result<std::string> read_secret_file(const std::filesystem::path& path, std::string_view what) {
  const std::string name = path.string();
  const std::string label = std::string(what) + " " + name;
  struct stat st {};
  if (::stat(name.c_str(), &st) != 0) return make_error("secret-file-missing", label + ": " + std::strerror(errno));
  if (st.st_mode & S_IRWXO)
    return make_error("secret-file-unsafe-permissions",
                      label + " may be read or changed by other users: run 'chmod o-rwx " + name + "' (or 600)");
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error("secret-file-missing", label + ": cannot read it: " + std::strerror(errno));
  std::ostringstream s;
  s << in.rdbuf();
  std::string secret = s.str();
  if (auto nl = secret.find('\n'); nl != std::string::npos) secret.resize(nl);
  if (!secret.empty() && secret.back() == '\r') secret.pop_back();
  if (secret.empty()) return make_error("secret-file-empty", label + ": its first line is empty");
  return secret;
}

}  // namespace verity::cli
