#pragma once
// Asking a human for a secret on the terminal, without echo: the client's
// key passphrases and `verityd init --encrypt-keys`.

#include <optional>
#include <string>

namespace verity::cli {

// Writes `prompt` to /dev/tty with echo off and reads one line (without its
// line ending). nullopt when there is no terminal or it closes first. A
// signal (Ctrl-C) at the prompt turns echo back on before it ends the
// process.
std::optional<std::string> prompt_secret(const std::string& prompt);

}  // namespace verity::cli
