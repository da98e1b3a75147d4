#pragma once
// Key files: a node key (peer links) and a validator key (consensus votes)
// in the home directory, in one of two forms:
//
//   plain      {"type": "bip340-secp256k1", "public_key": "<64 hex>", "secret_key": "<64 hex>"}
//   encrypted  cli/keystore.h's format (scrypt + AES-256-GCM under a
//              passphrase; the public key in the clear), written by
//              `verityd init --encrypt-keys`
//
// both written with mode 0600 and never overwritten. Whatever the form, a key
// file that other users may read is refused ("key-unsafe-permissions"): on a
// shared machine a readable validator key is a stolen one (and an encrypted
// one is open to an offline guess of its passphrase). So is a key file in a
// directory that other users may write (without the sticky bit): they could
// replace the key by one of their own. See docs/operators.md.

#include <filesystem>
#include <optional>
#include <string_view>

#include "core/keys.h"
#include "core/result.h"
#include "cli/keystore.h"

namespace verity::cli {

// Reads a plain or an encrypted key file; an encrypted one needs
// `passphrase`. Reasons: "key-missing", "key-unsafe-permissions",
// "bad-key-file" (the message names the file and what is wrong),
// "key-passphrase-missing" (encrypted, and no passphrase given),
// "bad-passphrase" (wrong passphrase, or the file was altered),
// "key-mismatch".
Result<SecretKey> load_key_file(const std::filesystem::path& path,
                                std::optional<std::string_view> passphrase = std::nullopt);
// The public key of a key file of either form, with no passphrase (the
// same checks of permissions and form as load_key_file, without decrypting).
Result<PublicKey> key_file_public_key(const std::filesystem::path& path);
// Whether `path` holds an encrypted key file (false when it cannot be read).
bool is_encrypted_key_file(const std::filesystem::path& path);

// Creates a plain key file (mode 0600, fsync'd); never overwrites: "key-exists".
Status write_key_file(const std::filesystem::path& path, const SecretKey& key);
// Creates an encrypted key file under `passphrase`. Reasons as above, plus
// "empty-passphrase".
Status write_encrypted_key_file(const std::filesystem::path& path, const SecretKey& key, std::string_view passphrase,
                                const ScryptParams& params = {});

}  // namespace verity::cli
