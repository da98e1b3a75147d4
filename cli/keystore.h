#pragma once
// Encrypted key files for the `verity` client: one JSON file per key,
// KEYSDIR/NAME.json, mode 0600, never overwritten:
//
//   {"version": 1, "name": "alice", "address": "<64 hex: x-only public key>",
//    "kdf": {"name": "scrypt", "n": 32768, "r": 8, "p": 1, "salt": "<64 hex>"},
//    "cipher": {"name": "aes-256-gcm", "nonce": "<24 hex>",
//               "ciphertext": "<128 hex: 32-byte secret key || 16-byte tag>"}}
//
// key = scrypt(passphrase, salt, n, r, p, 32 bytes); ciphertext =
// AES-256-GCM(key, nonce, secret, aad = "verity-keystore-v1:" + address).
// The address is in the clear (so `keys list` needs no passphrase) and is
// bound to the ciphertext as associated data; after decryption the secret's
// public key must equal it. GCM cannot tell a wrong passphrase from an
// altered file: both fail authentication, reported as "bad-passphrase" with
// a detail that names both causes. See docs/client.md.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/keys.h"
#include "core/result.h"

namespace verity::cli {

struct ScryptParams {
  std::uint64_t n = 1u << 15;  // CPU/memory cost, a power of two; 2^15 with r = 8 is 32 MiB
  std::uint32_t r = 8;
  std::uint32_t p = 1;
};

// Bounds accepted when reading or writing a key file, so that a crafted file
// cannot make the client allocate without limit: 2 <= n <= 2^20 (a power of
// two), 1 <= r <= 32, 1 <= p <= 16, and 128 * n * r <= 1 GiB.
Status check_scrypt_params(const ScryptParams& params);

// Key names: 1 to 32 characters of [A-Za-z0-9._-], starting with a letter or
// digit. (So a name is never a 64-digit address, nor a path.)
bool is_valid_key_name(std::string_view name);

// The file's text for `key` under `name`, encrypted with `passphrase`.
// Reasons: "bad-key-name", "bad-scrypt-params", "empty-passphrase".
Result<std::string> encrypt_key_file(std::string_view name, const SecretKey& key, std::string_view passphrase,
                                     const ScryptParams& params = {});

// What a key file says in the clear (no passphrase needed).
struct KeyFileInfo {
  std::string name;
  PublicKey address;
};

// Parses and checks every field; reason "bad-key-file", the detail names the
// field ("kdf.salt: expected hex"). `where` prefixes the detail (a path).
Result<KeyFileInfo> read_key_file_info(std::string_view text, std::string_view where = {});
// Decrypts. Reasons: "bad-key-file", "bad-passphrase" (wrong passphrase or
// altered file), "key-mismatch" (decrypts, but to another key than the
// address says).
Result<SecretKey> decrypt_key_file(std::string_view text, std::string_view passphrase,
                                   std::string_view where = {});

// Writes `text` to the new file `path`, mode 0600: to a temporary file in
// the same directory, fsync'd, then linked to its name, so an existing file
// is never overwritten ("key-exists") and a crash never leaves half a key
// under the name; "io-error" (local) otherwise. Used for every key file.
Status write_new_key_file(const std::filesystem::path& path, std::string_view text);

// The directory of key files (HOME/keys).
class Keystore {
 public:
  explicit Keystore(std::filesystem::path dir, ScryptParams params = {}) : dir_(std::move(dir)), params_(params) {}

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path path_of(std::string_view name) const;
  bool exists(std::string_view name) const;

  // Writes NAME.json (creating the directory with mode 0700), mode 0600,
  // fsync'd. Reasons: "bad-key-name", "key-exists" (never overwritten),
  // "empty-passphrase", "io-error" (local).
  Status create(std::string_view name, const SecretKey& key, std::string_view passphrase) const;
  // Reasons: "key-missing", plus read_key_file_info's.
  Result<KeyFileInfo> info(std::string_view name) const;
  // Reasons: "key-missing", plus decrypt_key_file's.
  Result<SecretKey> load(std::string_view name, std::string_view passphrase) const;
  // Every NAME.json in the directory, sorted by name; files that do not
  // parse are reported in `problems` ("FILE: why") rather than hidden.
  std::vector<KeyFileInfo> list(std::vector<std::string>* problems = nullptr) const;

 private:
  Result<std::string> read(std::string_view name) const;
  std::filesystem::path dir_;
  ScryptParams params_;
};

}  // namespace verity::cli
