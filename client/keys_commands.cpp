#include "client/session.h"

#include <filesystem>

#include "cli/keystore.h"
#include "core/hex.h"
#include "rpc/json_codec.h"

namespace verity::client {

namespace {

// --- keys -------------------------------------------------------------------------

const char* kKeysHelp =
    "Usage: verity keys new NAME | list | show NAME | import NAME [--secret-hex HEX]\n"
    "                   | export NAME [--yes] | delete NAME [--yes]\n"
    "Key files live in HOME/keys (--home DIR, default ~/.verity), one NAME.json each, the secret\n"
    "encrypted with a passphrase (scrypt, AES-256-GCM), mode 0600, never overwritten.\n\n"
    "  new NAME               creates a key (asks for the passphrase twice on a terminal)\n"
    "  list                   names and addresses (no passphrase needed)\n"
    "  show NAME              one key's address and file\n"
    "  import NAME            stores an existing secret key: --secret-hex HEX, or 64 hex digits\n"
    "                         on stdin (safer: command lines end up in shell history)\n"
    "  export NAME            prints the secret key (64 hex digits), asking twice: the key's name\n"
    "                         typed (a confirmation; whoever reads the secret owns the account),\n"
    "                         then its passphrase. Without a terminal it needs --yes.\n"
    "  delete NAME            removes the key file after a confirmation (type the name on a\n"
    "                         terminal; --yes without one). Without a copy the key is gone.\n\n"
    "The passphrase comes from --passphrase-file FILE, else VERITY_PASSPHRASE, else a prompt.\n";

void print_key(Session& s, const KeyFileInfo& info, const fs::path& file, const char* verb) {
  if (s.json()) {
    rapidjson::Document d(rapidjson::kObjectType);
    auto& a = d.GetAllocator();
    d.AddMember("name", rpc::to_json(info.name, a), a);
    d.AddMember("address", rpc::to_json(info.address.hex(), a), a);
    d.AddMember("file", rpc::to_json(file.string(), a), a);
    print_json(s.io().out, d);
    return;
  }
  if (verb) s.io().out << verb << " key '" << info.name << "'\n";
  s.io().out << "name     " << info.name << "\naddress  " << info.address.hex() << "\nfile     " << file.string() << "\n";
}

Status keys_store(Session& s, const std::string& name, const SecretKey& key) {
  auto ks = s.keystore();
  if (!ks) return ks.error();
  if (ks->exists(name))
    return make_error("key-exists", ks->path_of(name).string() +
                                        " exists already; key files are never overwritten: choose another name");
  auto pass = s.passphrase(name, true);
  if (!pass) return pass.error();
  if (auto st = ks->create(name, key, *pass); !st) return st;
  print_key(s, KeyFileInfo{name, key.public_key()}, ks->path_of(name), s.command() == "keys new" ? "created" : "imported");
  if (!s.json())
    s.io().out << "Keep the passphrase and a copy of the file: the key cannot be recovered without both.\n";
  return {};
}

Status cmd_keys(Session& s, const std::vector<std::string>& args) {
  if (args.empty())
    return usage_error("missing a keys command (new, list, show, import, export, delete); run 'verity keys --help'");
  const std::string sub = args[0];
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  // A command on one key: its words, the NAME (positional) checked.
  auto parse_named = [&](const Spec& spec) -> Result<Args> {
    auto a = parse_args(spec, rest);
    if (!a) return a.error();
    const std::string& name = a->positional[0];
    if (!is_valid_key_name(name))
      return usage_error("'" + name + "' is not a valid key name: use 1 to 32 letters, digits, '.', '_' or '-', "
                         "starting with a letter or digit");
    return a;
  };
  // A command on one existing key: its words, the keystore and the key's address.
  struct Named {
    Args args;
    Keystore ks;
    KeyFileInfo info;
  };
  auto existing = [&](const Spec& spec) -> Result<Named> {
    auto a = parse_named(spec);
    if (!a) return a.error();
    const std::string name = a->positional[0];
    auto ks = s.keystore();
    if (!ks) return ks.error();
    if (!ks->exists(name))
      return make_error("unknown-key", "no key named '" + name + "' in " + ks->dir().string() +
                                           ": 'verity keys list' shows the keys there; 'verity keys new " + name +
                                           "' creates one");
    auto info = ks->info(name);
    if (!info) return info.error();
    return Named{std::move(*a), std::move(*ks), std::move(*info)};
  };
  if (sub == "new") {
    auto a = parse_named(Spec{"keys new", {}, {}, 1, 1, "NAME"});
    if (!a) return a.error();
    const std::string name = a->positional[0];
    return keys_store(s, name, SecretKey::generate());
  }
  if (sub == "import") {
    auto a = parse_named(Spec{"keys import", {"secret-hex"}, {}, 1, 1, "NAME"});
    if (!a) return a.error();
    const std::string name = a->positional[0];
    std::string hex;
    if (auto h = a->get("secret-hex")) {
      hex = *h;
    } else if (s.io().stdin_is_terminal && s.io().prompt_secret) {
      auto typed = s.io().prompt_secret("Secret key of '" + name + "' (64 hex digits): ");
      if (!typed || typed->empty()) return usage_error("no secret key: pass --secret-hex HEX or type 64 hex digits");
      hex = *typed;
    } else {
      std::getline(s.io().in, hex);
      while (!hex.empty() && (hex.back() == '\r' || hex.back() == ' ' || hex.back() == '\t')) hex.pop_back();
      if (hex.empty()) return usage_error("no secret key: pass --secret-hex HEX or write 64 hex digits to stdin");
    }
    auto raw = from_hex(hex);
    if (!raw || raw->size() != 32) return usage_error("the secret key must be 64 hex digits (32 bytes)");
    auto key = SecretKey::from_bytes(*raw);
    std::fill(raw->begin(), raw->end(), 0);
    std::fill(hex.begin(), hex.end(), '\0');
    if (!key) return usage_error("not a valid secret key: " + key.error().to_string());
    return keys_store(s, name, *key);
  }
  if (sub == "list") {
    Spec spec{"keys list", {}, {}, 0, 0, ""};
    auto a = parse_args(spec, rest);
    if (!a) return a.error();
    auto ks = s.keystore();
    if (!ks) return ks.error();
    std::vector<std::string> problems;
    auto keys = ks->list(&problems);
    for (const auto& p : problems) s.warn("key-file-skipped", "keys list: skipped " + p);
    if (s.json()) {
      rapidjson::Document d(rapidjson::kArrayType);
      auto& al = d.GetAllocator();
      for (const auto& k : keys) {
        Json o(rapidjson::kObjectType);
        o.AddMember("name", rpc::to_json(k.name, al), al);
        o.AddMember("address", rpc::to_json(k.address.hex(), al), al);
        o.AddMember("file", rpc::to_json(ks->path_of(k.name).string(), al), al);
        d.PushBack(o, al);
      }
      print_json(s.io().out, d);
    } else if (keys.empty()) {
      s.io().out << "no keys in " << ks->dir().string() << ": create one with 'verity keys new NAME'\n";
    } else {
      for (const auto& k : keys) s.io().out << k.address.hex() << "  " << k.name << "\n";
    }
    return {};
  }
  if (sub == "show") {
    auto k = existing(Spec{"keys show", {}, {}, 1, 1, "NAME"});
    if (!k) return k.error();
    print_key(s, k->info, k->ks.path_of(k->info.name), nullptr);
    return {};
  }
  if (sub == "export" || sub == "delete") {
    auto k = existing(Spec{"keys " + sub, {}, {"yes"}, 1, 1, "NAME"});
    if (!k) return k.error();
    const auto& [a, ks, info] = *k;
    const std::string& name = info.name;
    const bool exporting = sub == "export";
    // Confirmation: the key's name typed on the terminal, or --yes.
    const std::string warning =
        exporting ? "Exporting key '" + name + "' (" + info.address.hex() +
                        "): whoever reads its secret owns the account; print it only where nobody else can see."
                  : "Deleting key '" + name + "' (" + info.address.hex() + ", " + ks.path_of(name).string() +
                        "): without a copy of the file or of its secret, the account is lost.";
    if (!a.has("yes")) {
      if (!s.io().stdin_is_terminal || !s.io().prompt_secret)
        return usage_error(warning + " Pass --yes to do it without a terminal.");
      s.io().err << warning << "\n";
      auto typed = s.io().prompt_secret("Type the key's name to go on: ");
      if (!typed || *typed != name) return make_error("not-confirmed", "the name was not typed: nothing was done");
    } else {
      s.warn(exporting ? "exporting-secret" : "deleting-key", warning);
    }
    if (exporting) {
      auto pass = s.passphrase(name, /*confirm=*/false);
      if (!pass) return pass.error();
      auto key = ks.load(name, *pass);
      if (!key) return key.error();
      auto raw = key->secret_bytes();
      std::string secret = to_hex(ByteView(raw.data(), raw.size()));
      std::fill(raw.begin(), raw.end(), 0);
      if (s.json()) {
        rapidjson::Document d(rapidjson::kObjectType);
        auto& al = d.GetAllocator();
        d.AddMember("name", rpc::to_json(name, al), al);
        d.AddMember("address", rpc::to_json(info.address.hex(), al), al);
        d.AddMember("secret", rpc::to_json(secret, al), al);
        print_json(s.io().out, d);
      } else {
        s.io().out << secret << "\n";
      }
      std::fill(secret.begin(), secret.end(), '\0');
      return {};
    }
    std::error_code ec;
    if (!fs::remove(ks.path_of(name), ec) || ec)
      return make_error("key-delete-failed", "cannot remove " + ks.path_of(name).string() + ": " + ec.message());
    if (s.json())
      print_key(s, info, ks.path_of(name), nullptr);
    else
      s.io().out << "deleted key '" << name << "' (" << info.address.hex() << ")\n";
    return {};
  }
  return usage_error("unknown keys command '" + sub + "'; run 'verity keys --help'");
}

}  // namespace

std::vector<Command> key_commands() {
  return {
      {"keys", "new NAME | list | show NAME | import NAME | export NAME | delete NAME: encrypted key files",
       kKeysHelp, cmd_keys},
  };
}

}  // namespace verity::client
