#include "cli/key_file.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <rapidjson/document.h>
#include <sstream>

#include "core/hex.h"

namespace verity::cli {

namespace {

// The file's text, after the permission checks of the header.
Result<std::string> read_guarded(const std::filesystem::path& path) {
  const std::string name = path.string();
  struct stat st {};
  if (::stat(name.c_str(), &st) != 0)
    return make_error("key-missing", name + ": " + std::strerror(errno) + " (run 'verityd init' to create keys)");
  if (st.st_mode & (S_IRWXG | S_IRWXO))
    return make_error("key-unsafe-permissions",
                      name + " may be read by other users: run 'chmod 600 " + name + "' and start again");
  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  struct stat dst {};
  if (::stat(dir.c_str(), &dst) == 0 && (dst.st_mode & S_IWOTH) && !(dst.st_mode & S_ISVTX))
    return make_error("key-unsafe-permissions", "the directory " + dir.string() + " of " + name +
                                                    " may be changed by other users (they could replace the key): "
                                                    "run 'chmod o-w " + dir.string() + "' and start again");
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error("key-missing", name + ": cannot read it: " + std::strerror(errno));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool encrypted_form(const rapidjson::Document& doc) { return doc.IsObject() && doc.HasMember("cipher"); }

// A name for the encrypted form's "name" field: the file's stem when it is a
// valid key name (validator_key.json -> "validator_key").
std::string keystore_name(const std::filesystem::path& path) {
  std::string stem = path.stem().string();
  return is_valid_key_name(stem) ? stem : "key";
}

Result<SecretKey> parse_plain(const rapidjson::Document& doc, const std::string& name) {
  auto bad = [&](const std::string& why) { return make_error("bad-key-file", name + ": " + why); };
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

}  // namespace

Result<SecretKey> load_key_file(const std::filesystem::path& path, std::optional<std::string_view> passphrase) {
  auto text = read_guarded(path);
  if (!text) return text.error();
  const std::string name = path.string();
  rapidjson::Document doc;
  doc.Parse(text->data(), text->size());
  if (doc.HasParseError() || !doc.IsObject()) return make_error("bad-key-file", name + ": not a JSON object");
  if (!encrypted_form(doc)) return parse_plain(doc, name);
  if (!passphrase)
    return make_error("key-passphrase-missing",
                      name + " is encrypted and no passphrase was given: set passphrase_file in config.toml "
                             "(a file holding the passphrase) or the environment variable VERITY_PASSPHRASE");
  return decrypt_key_file(*text, *passphrase, name);
}

Result<PublicKey> key_file_public_key(const std::filesystem::path& path) {
  auto text = read_guarded(path);
  if (!text) return text.error();
  rapidjson::Document doc;
  doc.Parse(text->data(), text->size());
  if (encrypted_form(doc)) {
    auto info = read_key_file_info(*text, path.string());
    if (!info) return info.error();
    return info->address;
  }
  if (doc.HasParseError() || !doc.IsObject()) return make_error("bad-key-file", path.string() + ": not a JSON object");
  auto key = parse_plain(doc, path.string());
  if (!key) return key.error();
  return key->public_key();
}

bool is_encrypted_key_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  rapidjson::Document doc;
  doc.Parse(text.str().c_str());
  return !doc.HasParseError() && encrypted_form(doc);
}

Status write_key_file(const std::filesystem::path& path, const SecretKey& key) {
  auto secret = key.secret_bytes();
  std::string text = "{\"type\": \"bip340-secp256k1\", \"public_key\": \"" + key.public_key().hex() +
                     "\", \"secret_key\": \"" + to_hex(ByteView(secret.data(), secret.size())) + "\"}\n";
  std::memset(secret.data(), 0, secret.size());
  auto s = write_new_key_file(path, text);
  std::fill(text.begin(), text.end(), '\0');
  return s;
}

Status write_encrypted_key_file(const std::filesystem::path& path, const SecretKey& key, std::string_view passphrase,
                                const ScryptParams& params) {
  auto text = encrypt_key_file(keystore_name(path), key, passphrase, params);
  if (!text) return text.error();
  return write_new_key_file(path, *text);
}

}  // namespace verity::cli
