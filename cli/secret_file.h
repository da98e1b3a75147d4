#pragma once
// A secret an operator keeps in a file: a key passphrase (`verityd init
// --passphrase-file`, config `passphrase_file`) or an RPC bearer token
// (`[rpc] auth_token_file`, `verity --rpc-token-file`).
//
// The secret is the file's first line without its line ending (so `echo
// SECRET > FILE` works). The file must not be readable or writable by
// "other" users; a group may read it, so that root can own it and give the
// service's group read access (`root:verity 0640`), as systemd credentials
// and configuration management usually do.

#include <filesystem>
#include <string>
#include <string_view>

#include "core/result.h"

namespace verity::cli {

// `what` names the secret in messages ("passphrase file"). Reasons:
// "secret-file-missing" (cannot be read), "secret-file-unsafe-permissions"
// (others may read or write it: the message says `chmod o-rwx FILE`),
// "secret-file-empty" (its first line is empty).
Result<std::string> read_secret_file(const std::filesystem::path& path, std::string_view what);

}  // namespace verity::cli
