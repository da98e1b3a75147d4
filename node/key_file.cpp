#include "node/key_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <rapidjson/document.h>
#include <sstream>

#include "core/hex.h"

namespace verity::node {

Result<SecretKey> load_key_file(const std::filesystem::path& path) {
  const std::string name = path.string();
  struct stat st {};
  if (::stat(name.c_str(), &st) != 0)
    return make_error("key-missing", name + ": " + std::strerror(errno) + " (run 'verityd init' to create keys)");
  if (st.st_mode & (S_IRWXG | S_IRWXO))
    return make_error("key-unsafe-permissions",
                      name + " may be read by other users: run 'chmod 600 " + name + "' and start again");
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  rapidjson::Document doc;
  doc.Parse(text.str().c_str());
  auto bad = [&](const std::string& why) { return make_error("bad-key-file", name + ": " + why); };
  if (doc.HasParseError() || !doc.IsObject()) return bad("not a JSON object");
  if (!doc.HasMember("type") || !doc["type"].IsString() || std::string(doc["type"].GetString()) != "bip340-secp256k1")
    return bad("type must be \"bip340-secp256k1\"");
  if (!doc.HasMember("secret_key") || !doc["secret_key"].IsString()) return bad("secret_key missing");
  auto raw = from_hex(doc["secret_key"].GetString());
  if (!raw || raw->size() != 32) return bad("secret_key must be 64 hex digits");
  auto key = SecretKey::from_bytes(*raw);
  if (!key) return bad("secret_key: " + key.error().to_string());
  if (doc.HasMember("public_key")) {
    if (!doc["public_key"].IsString() || key->public_key().hex() != doc["public_key"].GetString())
      return bad("public_key does not match secret_key");
  }
  return key;
}

Status write_key_file(const std::filesystem::path& path, const SecretKey& key) {
  const std::string name = path.string();
  int fd = ::open(name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return make_error("key-exists", name + " exists already; it is never overwritten");
    return local_error("io-error", name + ": " + std::strerror(errno));
  }
  auto secret = key.secret_bytes();
  std::string text = "{\"type\": \"bip340-secp256k1\", \"public_key\": \"" + key.public_key().hex() +
                     "\", \"secret_key\": \"" + to_hex(ByteView(secret.data(), secret.size())) + "\"}\n";
  std::memset(secret.data(), 0, secret.size());
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  std::fill(text.begin(), text.end(), '\0');
  ::close(fd);
  if (!ok) return local_error("io-error", name + ": could not write the key");
  return {};
}

}  // namespace verity::node
