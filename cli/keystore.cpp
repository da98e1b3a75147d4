#include "cli/keystore.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cryptopp/aes.h>
#include <cryptopp/gcm.h>
#include <cryptopp/osrng.h>
#include <cryptopp/scrypt.h>
#include <cryptopp/secblock.h>
#include <rapidjson/document.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "core/hex.h"

namespace verity::cli {

namespace fs = std::filesystem;

namespace {

constexpr int kVersion = 1;
constexpr std::size_t kSaltBytes = 32;
constexpr std::size_t kNonceBytes = 12;
constexpr std::size_t kTagBytes = 16;
constexpr std::size_t kSecretBytes = 32;
constexpr std::uint64_t kMaxScryptN = 1u << 20;
constexpr std::uint64_t kMaxScryptMemory = 1ull << 30;

std::string aad_of(const PublicKey& address) { return "verity-keystore-v1:" + address.hex(); }

Result<CryptoPP::SecByteBlock> derive_key(std::string_view passphrase, ByteView salt, const ScryptParams& p) {
  if (auto s = check_scrypt_params(p); !s) return s.error();
  CryptoPP::SecByteBlock key(32);
  try {
    CryptoPP::Scrypt scrypt;
    scrypt.DeriveKey(key.data(), key.size(), reinterpret_cast<const CryptoPP::byte*>(passphrase.data()),
                     passphrase.size(), salt.data(), salt.size(), p.n, p.r, p.p);
  } catch (const CryptoPP::Exception& e) {
    return make_error("bad-scrypt-params", e.what());
  }
  return key;
}

Error bad_file(std::string_view where, const std::string& why) {
  return make_error("bad-key-file", (where.empty() ? std::string() : std::string(where) + ": ") + why);
}

// Exactly these members, each present; names the first stray or missing one.
Status check_members(const rapidjson::Value& obj, std::string_view prefix, std::initializer_list<const char*> names,
                     std::string_view where) {
  if (!obj.IsObject()) return bad_file(where, std::string(prefix.empty() ? "the file" : prefix) + ": expected a JSON object");
  for (const char* n : names)
    if (!obj.HasMember(n)) return bad_file(where, std::string(prefix) + (prefix.empty() ? "" : ".") + n + ": missing");
  for (auto it = obj.MemberBegin(); it != obj.MemberEnd(); ++it) {
    std::string n(it->name.GetString(), it->name.GetStringLength());
    if (std::none_of(names.begin(), names.end(), [&](const char* k) { return n == k; }))
      return bad_file(where, std::string(prefix) + (prefix.empty() ? "" : ".") + n + ": unknown field");
  }
  return {};
}

Result<std::string> get_string(const rapidjson::Value& v, const std::string& field, std::string_view where) {
  if (!v.IsString()) return bad_file(where, field + ": expected a string");
  return std::string(v.GetString(), v.GetStringLength());
}

Result<Bytes> get_hex(const rapidjson::Value& v, const std::string& field, std::size_t size, std::string_view where) {
  auto s = get_string(v, field, where);
  if (!s) return s.error();
  auto raw = from_hex(*s);
  if (!raw) return bad_file(where, field + ": expected hex");
  if (size && raw->size() != size)
    return bad_file(where, field + ": expected " + std::to_string(size) + " bytes, got " + std::to_string(raw->size()));
  return raw;
}

Result<std::uint64_t> get_u64(const rapidjson::Value& v, const std::string& field, std::string_view where) {
  if (!v.IsUint64()) return bad_file(where, field + ": expected an unsigned integer");
  return v.GetUint64();
}

struct Parsed {
  KeyFileInfo info;
  ScryptParams kdf;
  Bytes salt, nonce, ciphertext;
};

Result<Parsed> parse(std::string_view text, std::string_view where) {
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  if (doc.HasParseError()) return bad_file(where, "not valid JSON");
  if (auto s = check_members(doc, "", {"version", "name", "address", "kdf", "cipher"}, where); !s) return s.error();
  auto version = get_u64(doc["version"], "version", where);
  if (!version) return version.error();
  if (*version != kVersion)
    return bad_file(where, "version: " + std::to_string(*version) + " is not supported (this client reads version 1)");
  Parsed p;
  auto name = get_string(doc["name"], "name", where);
  if (!name) return name.error();
  if (!is_valid_key_name(*name)) return bad_file(where, "name: not a valid key name");
  p.info.name = *name;
  auto address = get_hex(doc["address"], "address", 32, where);
  if (!address) return address.error();
  p.info.address = PublicKey::from_view(*address);
  if (!is_valid_public_key(p.info.address)) return bad_file(where, "address: not a valid public key");

  const auto& kdf = doc["kdf"];
  if (auto s = check_members(kdf, "kdf", {"name", "n", "r", "p", "salt"}, where); !s) return s.error();
  auto kdf_name = get_string(kdf["name"], "kdf.name", where);
  if (!kdf_name) return kdf_name.error();
  if (*kdf_name != "scrypt") return bad_file(where, "kdf.name: must be \"scrypt\"");
  auto n = get_u64(kdf["n"], "kdf.n", where);
  if (!n) return n.error();
  auto r = get_u64(kdf["r"], "kdf.r", where);
  if (!r) return r.error();
  auto pp = get_u64(kdf["p"], "kdf.p", where);
  if (!pp) return pp.error();
  if (*r > UINT32_MAX || *pp > UINT32_MAX) return bad_file(where, "kdf: r and p must fit in 32 bits");
  p.kdf = ScryptParams{*n, static_cast<std::uint32_t>(*r), static_cast<std::uint32_t>(*pp)};
  if (auto s = check_scrypt_params(p.kdf); !s) return bad_file(where, "kdf: " + s.error().detail);
  auto salt = get_hex(kdf["salt"], "kdf.salt", 0, where);
  if (!salt) return salt.error();
  if (salt->size() < 16) return bad_file(where, "kdf.salt: at least 16 bytes expected");
  p.salt = std::move(*salt);

  const auto& cipher = doc["cipher"];
  if (auto s = check_members(cipher, "cipher", {"name", "nonce", "ciphertext"}, where); !s) return s.error();
  auto cipher_name = get_string(cipher["name"], "cipher.name", where);
  if (!cipher_name) return cipher_name.error();
  if (*cipher_name != "aes-256-gcm") return bad_file(where, "cipher.name: must be \"aes-256-gcm\"");
  auto nonce = get_hex(cipher["nonce"], "cipher.nonce", kNonceBytes, where);
  if (!nonce) return nonce.error();
  p.nonce = std::move(*nonce);
  auto ct = get_hex(cipher["ciphertext"], "cipher.ciphertext", kSecretBytes + kTagBytes, where);
  if (!ct) return ct.error();
  p.ciphertext = std::move(*ct);
  return p;
}

}  // namespace

Status write_new_key_file(const fs::path& path, std::string_view text) {
  // link() fails if the name exists: that is what makes it never overwrite.
  std::string tmpl = (path.parent_path() / ("." + path.filename().string() + ".tmp-XXXXXX")).string();
  int fd = ::mkstemp(tmpl.data());  // mode 0600
  if (fd < 0) return local_error("io-error", "cannot create a file in " + path.parent_path().string() + ": " + std::strerror(errno));
  ::fchmod(fd, 0600);
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) {
    ::unlink(tmpl.c_str());
    return local_error("io-error", "could not write " + path.string());
  }
  int rc = ::link(tmpl.c_str(), path.c_str());
  int link_errno = errno;
  ::unlink(tmpl.c_str());
  if (rc != 0) {
    if (link_errno == EEXIST)
      return make_error("key-exists", path.string() + " exists already; key files are never overwritten (choose another name)");
    return local_error("io-error", "could not create " + path.string() + ": " + std::strerror(link_errno));
  }
  if (int dfd = ::open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

Status check_scrypt_params(const ScryptParams& p) {
  auto bad = [](const std::string& why) { return make_error("bad-scrypt-params", why); };
  if (p.n < 2 || p.n > kMaxScryptN || (p.n & (p.n - 1)) != 0)
    return bad("n must be a power of two from 2 to 2^20, got " + std::to_string(p.n));
  if (p.r < 1 || p.r > 32) return bad("r must be 1 to 32, got " + std::to_string(p.r));
  if (p.p < 1 || p.p > 16) return bad("p must be 1 to 16, got " + std::to_string(p.p));
  if (128ull * p.n * p.r > kMaxScryptMemory) return bad("n * r needs more than 1 GiB of memory");
  return {};
}

bool is_valid_key_name(std::string_view name) {
  if (name.empty() || name.size() > 32) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
  if (!alnum(name[0])) return false;
  return std::all_of(name.begin(), name.end(), [&](char c) { return alnum(c) || c == '.' || c == '_' || c == '-'; });
}

Result<std::string> encrypt_key_file(std::string_view name, const SecretKey& key, std::string_view passphrase,
                                     const ScryptParams& params) {
  if (!is_valid_key_name(name))
    return make_error("bad-key-name", "'" + std::string(name) +
                                          "' is not a valid key name: use 1 to 32 letters, digits, '.', '_' or '-', "
                                          "starting with a letter or digit");
  if (passphrase.empty()) return make_error("empty-passphrase", "the passphrase must not be empty");
  CryptoPP::AutoSeededRandomPool rng;
  Bytes salt(kSaltBytes), nonce(kNonceBytes);
  rng.GenerateBlock(salt.data(), salt.size());
  rng.GenerateBlock(nonce.data(), nonce.size());
  auto dk = derive_key(passphrase, salt, params);
  if (!dk) return dk.error();

  auto secret = key.secret_bytes();
  const std::string aad = aad_of(key.public_key());
  Bytes ct(kSecretBytes + kTagBytes);
  CryptoPP::GCM<CryptoPP::AES>::Encryption enc;
  enc.SetKeyWithIV(dk->data(), dk->size(), nonce.data(), nonce.size());
  enc.EncryptAndAuthenticate(ct.data(), ct.data() + kSecretBytes, kTagBytes, nonce.data(), static_cast<int>(nonce.size()),
                             reinterpret_cast<const CryptoPP::byte*>(aad.data()), aad.size(), secret.data(),
                             secret.size());
  std::memset(secret.data(), 0, secret.size());

  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  auto str = [&](const std::string& s) { return rapidjson::Value(s.c_str(), static_cast<rapidjson::SizeType>(s.size()), a); };
  rapidjson::Value kdf(rapidjson::kObjectType);
  kdf.AddMember("name", "scrypt", a);
  kdf.AddMember("n", rapidjson::Value(params.n), a);
  kdf.AddMember("r", rapidjson::Value(params.r), a);
  kdf.AddMember("p", rapidjson::Value(params.p), a);
  kdf.AddMember("salt", str(to_hex(salt)), a);
  rapidjson::Value cipher(rapidjson::kObjectType);
  cipher.AddMember("name", "aes-256-gcm", a);
  cipher.AddMember("nonce", str(to_hex(nonce)), a);
  cipher.AddMember("ciphertext", str(to_hex(ct)), a);
  doc.AddMember("version", kVersion, a);
  doc.AddMember("name", str(std::string(name)), a);
  doc.AddMember("address", str(key.public_key().hex()), a);
  doc.AddMember("kdf", kdf, a);
  doc.AddMember("cipher", cipher, a);
  rapidjson::StringBuffer buf;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buf);
  w.SetIndent(' ', 2);
  doc.Accept(w);
  return std::string(buf.GetString(), buf.GetSize()) + "\n";
}

Result<KeyFileInfo> read_key_file_info(std::string_view text, std::string_view where) {
  auto p = parse(text, where);
  if (!p) return p.error();
  return p->info;
}

Result<SecretKey> decrypt_key_file(std::string_view text, std::string_view passphrase, std::string_view where) {
  auto p = parse(text, where);
  if (!p) return p.error();
  auto dk = derive_key(passphrase, p->salt, p->kdf);
  if (!dk) return bad_file(where, "kdf: " + dk.error().detail);
  const std::string aad = aad_of(p->info.address);
  CryptoPP::SecByteBlock secret(kSecretBytes);
  CryptoPP::GCM<CryptoPP::AES>::Decryption dec;
  dec.SetKeyWithIV(dk->data(), dk->size(), p->nonce.data(), p->nonce.size());
  bool ok = dec.DecryptAndVerify(secret.data(), p->ciphertext.data() + kSecretBytes, kTagBytes, p->nonce.data(),
                                 static_cast<int>(p->nonce.size()), reinterpret_cast<const CryptoPP::byte*>(aad.data()),
                                 aad.size(), p->ciphertext.data(), kSecretBytes);
  const std::string prefix = where.empty() ? std::string() : std::string(where) + ": ";
  if (!ok)
    return make_error("bad-passphrase", prefix +
                                            "wrong passphrase for key '" + p->info.name +
                                            "' (or the file was altered: its authentication tag does not match)");
  auto key = SecretKey::from_bytes(ByteView(secret.data(), secret.size()));
  if (!key) return bad_file(where, "cipher.ciphertext: decrypts to an invalid secret key");
  if (key->public_key() != p->info.address)
    return make_error("key-mismatch", prefix + "decrypts to a key whose address is " + key->public_key().hex() +
                                          ", not the file's address " + p->info.address.hex());
  return key;
}

fs::path Keystore::path_of(std::string_view name) const { return dir_ / (std::string(name) + ".json"); }

bool Keystore::exists(std::string_view name) const {
  std::error_code ec;
  return is_valid_key_name(name) && fs::exists(path_of(name), ec);
}

Status Keystore::create(std::string_view name, const SecretKey& key, std::string_view passphrase) const {
  auto text = encrypt_key_file(name, key, passphrase, params_);
  if (!text) return text.error();
  std::error_code ec;
  if (!fs::exists(dir_)) {
    fs::create_directories(dir_, ec);
    if (ec) return local_error("io-error", "cannot create " + dir_.string() + ": " + ec.message());
    ::chmod(dir_.c_str(), 0700);
  }
  return write_new_key_file(path_of(name), *text);
}

Result<std::string> Keystore::read(std::string_view name) const {
  if (!is_valid_key_name(name))
    return make_error("bad-key-name", "'" + std::string(name) + "' is not a valid key name");
  const fs::path path = path_of(name);
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error("key-missing", "no key file " + path.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

Result<KeyFileInfo> Keystore::info(std::string_view name) const {
  auto text = read(name);
  if (!text) return text.error();
  auto info = read_key_file_info(*text, path_of(name).string());
  if (!info) return info.error();
  if (info->name != name)
    return bad_file(path_of(name).string(), "name: the file says '" + info->name + "', its file name says '" +
                                                std::string(name) + "'");
  return info;
}

Result<SecretKey> Keystore::load(std::string_view name, std::string_view passphrase) const {
  auto i = info(name);
  if (!i) return i.error();
  auto text = read(name);
  if (!text) return text.error();
  return decrypt_key_file(*text, passphrase, path_of(name).string());
}

std::vector<KeyFileInfo> Keystore::list(std::vector<std::string>* problems) const {
  std::vector<KeyFileInfo> out;
  std::error_code ec;
  if (!fs::is_directory(dir_, ec)) return out;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    const auto file = entry.path().filename().string();
    if (file.size() <= 5 || !file.ends_with(".json") || file[0] == '.') continue;
    const std::string name = file.substr(0, file.size() - 5);
    auto i = info(name);
    if (i)
      out.push_back(*i);
    else if (problems)
      problems->push_back(i.error().detail);
  }
  std::sort(out.begin(), out.end(), [](const KeyFileInfo& a, const KeyFileInfo& b) { return a.name < b.name; });
  return out;
}

}  // namespace verity::cli
