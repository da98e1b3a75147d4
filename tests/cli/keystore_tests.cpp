#define BOOST_TEST_MODULE keystore_tests
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>

#include <fstream>
#include <rapidjson/document.h>

#include "core/hex.h"
#include "cli/keystore.h"
#include "rpc/json_codec.h"
#include "tests/test_support.h"

using namespace verity;
using namespace verity::cli;
using verity::testing::TempDir;

namespace {

// Cheap scrypt so the suite stays fast; one test uses the default.
const ScryptParams kFast{1u << 10, 8, 1};

// A keystore in a directory of its own, with fast scrypt.
struct KeystoreDir {
  TempDir dir{"keystore"};
  Keystore ks{dir.path, kFast};
};

std::string text_of_file(const std::filesystem::path& p) { return verity::testing::read_file(p.string()); }

void write_text(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

// The file's JSON with one member changed by `edit`.
template <class F>
std::string edited(const std::string& text, F edit) {
  rapidjson::Document d;
  d.Parse(text.c_str());
  edit(d);
  return rpc::json_string(d);
}

std::string flip_hex_digit(std::string hex, std::size_t at) {
  hex[at] = hex[at] == '0' ? '1' : '0';
  return hex;
}

}  // namespace

BOOST_AUTO_TEST_CASE(round_trip_keeps_the_key) {
  TempDir dir("keystore");
  Keystore ks(dir.path / "keys", kFast);
  const SecretKey key = SecretKey::generate();
  BOOST_REQUIRE(ks.create("alice", key, "correct horse"));
  auto back = ks.load("alice", "correct horse");
  BOOST_REQUIRE_MESSAGE(back, (back ? std::string() : back.error().to_string()));
  BOOST_TEST(back->secret_bytes() == key.secret_bytes());
  BOOST_TEST(back->public_key() == key.public_key());
  auto info = ks.info("alice");
  BOOST_REQUIRE(info);
  BOOST_TEST(info->name == "alice");
  BOOST_TEST(info->address == key.public_key());
}

BOOST_FIXTURE_TEST_CASE(file_has_the_documented_format_and_no_secret_in_clear, KeystoreDir) {
  const SecretKey key = SecretKey::generate();
  BOOST_REQUIRE(ks.create("bob", key, "pw"));
  const std::string text = text_of_file(dir.path / "bob.json");
  rapidjson::Document d;
  d.Parse(text.c_str());
  BOOST_REQUIRE(d.IsObject());
  BOOST_TEST(d["version"].GetUint() == 1u);
  BOOST_TEST(std::string(d["name"].GetString()) == "bob");
  BOOST_TEST(std::string(d["address"].GetString()) == key.public_key().hex());
  BOOST_TEST(std::string(d["kdf"]["name"].GetString()) == "scrypt");
  BOOST_TEST(d["kdf"]["n"].GetUint64() == 1024u);
  BOOST_TEST(d["kdf"]["r"].GetUint() == 8u);
  BOOST_TEST(d["kdf"]["p"].GetUint() == 1u);
  BOOST_TEST(std::string(d["kdf"]["salt"].GetString()).size() == 64u);
  BOOST_TEST(std::string(d["cipher"]["name"].GetString()) == "aes-256-gcm");
  BOOST_TEST(std::string(d["cipher"]["nonce"].GetString()).size() == 24u);
  BOOST_TEST(std::string(d["cipher"]["ciphertext"].GetString()).size() == 96u);  // 32 + 16-byte tag
  auto secret = key.secret_bytes();
  BOOST_TEST(text.find(to_hex(ByteView(secret.data(), secret.size()))) == std::string::npos);
}

BOOST_AUTO_TEST_CASE(default_parameters_are_scrypt_2_15) {
  TempDir dir("keystore");
  Keystore ks(dir.path);
  const SecretKey key = SecretKey::generate();
  BOOST_REQUIRE(ks.create("strong", key, "pw"));
  rapidjson::Document d;
  d.Parse(text_of_file(dir.path / "strong.json").c_str());
  BOOST_TEST(d["kdf"]["n"].GetUint64() == 32768u);
  BOOST_TEST(ks.load("strong", "pw")->public_key() == key.public_key());
}

BOOST_FIXTURE_TEST_CASE(wrong_passphrase_is_a_clear_error, KeystoreDir) {
  BOOST_REQUIRE(ks.create("carol", SecretKey::generate(), "right"));
  auto r = ks.load("carol", "wrong");
  BOOST_REQUIRE(!r);
  BOOST_TEST(r.error().reason == "bad-passphrase");
  BOOST_TEST(r.error().detail.find("wrong passphrase for key 'carol'") != std::string::npos);
  BOOST_TEST(r.error().detail.find("carol.json") != std::string::npos);
  BOOST_TEST(!ks.load("carol", ""));
}

BOOST_FIXTURE_TEST_CASE(tampered_ciphertext_nonce_salt_or_address_is_detected, KeystoreDir) {
  const SecretKey key = SecretKey::generate();
  const auto file = dir.path / "dave.json";
  BOOST_REQUIRE(ks.create("dave", key, "pw"));
  const std::string original = text_of_file(file);
  BOOST_REQUIRE(ks.load("dave", "pw"));

  auto with = [&](auto edit) { return edited(original, edit); };
  auto str = [](rapidjson::Document& d, rapidjson::Value& v, const std::string& s) {
    v.SetString(s.c_str(), static_cast<rapidjson::SizeType>(s.size()), d.GetAllocator());
  };
  std::vector<std::pair<std::string, std::string>> cases;
  for (std::size_t at : {0u, 63u, 64u, 95u})  // secret bytes and tag bytes
    cases.push_back({"ciphertext digit " + std::to_string(at), with([&](rapidjson::Document& d) {
                       str(d, d["cipher"]["ciphertext"], flip_hex_digit(d["cipher"]["ciphertext"].GetString(), at));
                     })});
  cases.push_back({"nonce", with([&](rapidjson::Document& d) {
                     str(d, d["cipher"]["nonce"], flip_hex_digit(d["cipher"]["nonce"].GetString(), 5));
                   })});
  cases.push_back({"salt", with([&](rapidjson::Document& d) {
                     str(d, d["kdf"]["salt"], flip_hex_digit(d["kdf"]["salt"].GetString(), 7));
                   })});
  cases.push_back({"address", with([&](rapidjson::Document& d) {
                     str(d, d["address"], SecretKey::generate().public_key().hex());
                   })});
  cases.push_back({"kdf.r", with([&](rapidjson::Document& d) { d["kdf"]["r"].SetUint(4); })});
  for (const auto& [what, text] : cases) {
    auto r = decrypt_key_file(text, "pw");
    BOOST_TEST_INFO("tampered " << what);
    BOOST_TEST(!r);
    if (!r) {
      BOOST_TEST_INFO("tampered " << what);
      BOOST_TEST(r.error().reason == "bad-passphrase");
    }
  }
  BOOST_TEST(decrypt_key_file(original, "pw").ok());
}

BOOST_AUTO_TEST_CASE(files_are_mode_0600_in_a_0700_directory) {
  TempDir dir("keystore");
  const auto keys = dir.path / "home" / "keys";
  Keystore ks(keys, kFast);
  ::umask(0022);
  BOOST_REQUIRE(ks.create("erin", SecretKey::generate(), "pw"));
  struct stat st {};
  BOOST_REQUIRE(::stat((keys / "erin.json").c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0777) == 0600u);
  BOOST_REQUIRE(::stat(keys.c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0777) == 0700u);
  // No temporary file is left behind.
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(keys)) ++files;
  BOOST_TEST(files == 1u);
}

BOOST_FIXTURE_TEST_CASE(never_overwrites_a_key_file, KeystoreDir) {
  const SecretKey first = SecretKey::generate();
  BOOST_REQUIRE(ks.create("frank", first, "pw"));
  const std::string before = text_of_file(dir.path / "frank.json");
  auto again = ks.create("frank", SecretKey::generate(), "pw");
  BOOST_REQUIRE(!again);
  BOOST_TEST(again.error().reason == "key-exists");
  BOOST_TEST(again.error().detail.find("never overwritten") != std::string::npos);
  BOOST_TEST(text_of_file(dir.path / "frank.json") == before);
  BOOST_TEST(ks.load("frank", "pw")->public_key() == first.public_key());
}

BOOST_FIXTURE_TEST_CASE(bad_json_names_the_field, KeystoreDir) {
  BOOST_REQUIRE(ks.create("gina", SecretKey::generate(), "pw"));
  const std::string good = text_of_file(dir.path / "gina.json");
  auto str = [](rapidjson::Document& d, rapidjson::Value& v, const char* s) { v.SetString(s, d.GetAllocator()); };
  struct Case {
    std::string text, expect;
  };
  std::vector<Case> cases = {
      {"not json", "not valid JSON"},
      {"[]", "expected a JSON object"},
      {edited(good, [](rapidjson::Document& d) { d.RemoveMember("address"); }), "address: missing"},
      {edited(good, [](rapidjson::Document& d) { d["version"].SetUint(2); }), "version: 2 is not supported"},
      {edited(good, [&](rapidjson::Document& d) { str(d, d["kdf"]["salt"], "zz"); }), "kdf.salt: expected hex"},
      {edited(good, [&](rapidjson::Document& d) { str(d, d["kdf"]["name"], "pbkdf2"); }), "kdf.name: must be \"scrypt\""},
      {edited(good, [](rapidjson::Document& d) { d["kdf"]["n"].SetUint(1000); }), "kdf: n must be a power of two"},
      {edited(good, [](rapidjson::Document& d) { d["kdf"]["n"].SetUint64(1ull << 30); }), "kdf: n must be a power of two"},
      {edited(good, [](rapidjson::Document& d) { d["kdf"].RemoveMember("p"); }), "kdf.p: missing"},
      {edited(good, [&](rapidjson::Document& d) { str(d, d["kdf"]["r"], "8"); }), "kdf.r: expected an unsigned integer"},
      {edited(good, [&](rapidjson::Document& d) { str(d, d["cipher"]["name"], "aes-128-cbc"); }),
       "cipher.name: must be \"aes-256-gcm\""},
      {edited(good, [&](rapidjson::Document& d) { str(d, d["cipher"]["nonce"], "00"); }),
       "cipher.nonce: expected 12 bytes"},
      {edited(good, [&](rapidjson::Document& d) { str(d, d["cipher"]["ciphertext"], "0011"); }),
       "cipher.ciphertext: expected 48 bytes"},
      {edited(good, [](rapidjson::Document& d) { d.AddMember("extra", 1, d.GetAllocator()); }), "extra: unknown field"},
      {edited(good, [](rapidjson::Document& d) { d["cipher"].AddMember("tag", 1, d.GetAllocator()); }),
       "cipher.tag: unknown field"},
      {edited(good, [&](rapidjson::Document& d) { str(d, d["name"], "../x"); }), "name: not a valid key name"},
  };
  for (const auto& c : cases) {
    write_text(dir.path / "gina.json", c.text);
    auto r = ks.load("gina", "pw");
    BOOST_TEST_INFO("expecting '" << c.expect << "'");
    BOOST_REQUIRE(!r);
    BOOST_TEST(r.error().reason == "bad-key-file");
    BOOST_TEST_INFO("got: " << r.error().detail);
    BOOST_TEST(r.error().detail.find(c.expect) != std::string::npos);
    BOOST_TEST(r.error().detail.find("gina.json") != std::string::npos);  // names the file
  }
  // The name inside must match the file's name.
  write_text(dir.path / "gina.json", edited(good, [&](rapidjson::Document& d) { str(d, d["name"], "other"); }));
  auto r = ks.info("gina");
  BOOST_REQUIRE(!r);
  BOOST_TEST(r.error().detail.find("name: the file says 'other'") != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(names_are_checked_and_missing_keys_reported, KeystoreDir) {
  for (const char* bad : {"", "../etc", "a/b", ".hidden", "-dash", "has space",
                          "0123456789012345678901234567890123"})
    BOOST_TEST(!ks.create(bad, SecretKey::generate(), "pw"), bad);
  BOOST_TEST(ks.create("x", SecretKey::generate(), "pw").ok());
  BOOST_TEST(!is_valid_key_name(std::string(64, 'a')));
  BOOST_TEST(is_valid_key_name("validator-1"));
  BOOST_TEST(is_valid_key_name("A.b_c-9"));
  BOOST_TEST(ks.load("nobody", "pw").error().reason == "key-missing");
  BOOST_TEST(ks.create("y", SecretKey::generate(), "").error().reason == "empty-passphrase");
  BOOST_TEST(!check_scrypt_params({1u << 20, 16, 1}).ok());  // 2 GiB
  BOOST_TEST(check_scrypt_params({1u << 20, 8, 1}).ok());
  BOOST_TEST(!check_scrypt_params({1u << 15, 0, 1}).ok());
}

BOOST_FIXTURE_TEST_CASE(list_is_sorted_and_reports_broken_files, KeystoreDir) {
  BOOST_TEST(ks.list().empty());  // no directory yet is not an error
  const SecretKey b = SecretKey::generate(), a = SecretKey::generate();
  BOOST_REQUIRE(ks.create("bravo", b, "pw"));
  BOOST_REQUIRE(ks.create("alpha", a, "pw"));
  write_text(dir.path / "broken.json", "{");
  write_text(dir.path / "notes.txt", "not a key");
  std::vector<std::string> problems;
  auto keys = ks.list(&problems);
  BOOST_REQUIRE(keys.size() == 2u);
  BOOST_TEST(keys[0].name == "alpha");
  BOOST_TEST(keys[0].address == a.public_key());
  BOOST_TEST(keys[1].name == "bravo");
  BOOST_REQUIRE(problems.size() == 1u);
  BOOST_TEST(problems[0].find("broken.json") != std::string::npos);
}
