#pragma once
// Key files: a node key (peer links) and a validator key (consensus votes)
// in the home directory, as JSON:
//
//   {"type": "bip340-secp256k1", "public_key": "<64 hex>", "secret_key": "<64 hex>"}
//
// written with mode 0600. A key file that other users may read is refused
// ("key-unsafe-permissions"): on a shared machine a readable validator key
// is a stolen one.

#include <filesystem>

#include "core/keys.h"
#include "core/result.h"

namespace verity::node {

// Reasons: "key-missing", "key-unsafe-permissions", "bad-key-file" (the
// message names the file and what is wrong).
Result<SecretKey> load_key_file(const std::filesystem::path& path);
// Creates the file (mode 0600, fsync'd); never overwrites: "key-exists".
Status write_key_file(const std::filesystem::path& path, const SecretKey& key);

}  // namespace verity::node
