#define BOOST_TEST_MODULE key_file_tests
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/key_file.h"
#include "cli/secret_file.h"
#include "core/hex.h"
#include "tests/test_support.h"

using namespace verity;
using namespace verity::cli;
namespace fs = std::filesystem;

namespace {
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }
using TempDir = verity::testing::TempDir;
}  // namespace

BOOST_AUTO_TEST_CASE(key_files_round_trip_and_refuse_unsafe_permissions) {
  TempDir d;
  const auto path = d.path / "k.json";
  auto key = SecretKey::generate();
  BOOST_REQUIRE(write_key_file(path, key));
  struct stat st {};
  BOOST_REQUIRE_EQUAL(::stat(path.c_str(), &st), 0);
  BOOST_CHECK_EQUAL(st.st_mode & 0777, 0600u);
  auto back = load_key_file(path);
  BOOST_REQUIRE(back);
  BOOST_CHECK(back->public_key() == key.public_key());
  // Never overwritten.
  auto again = write_key_file(path, SecretKey::generate());
  BOOST_REQUIRE(!again);
  BOOST_CHECK_EQUAL(again.error().reason, "key-exists");
  BOOST_CHECK(load_key_file(path)->public_key() == key.public_key());
  // Readable by others: refused.
  ::chmod(path.c_str(), 0644);
  auto unsafe = load_key_file(path);
  BOOST_REQUIRE(!unsafe);
  BOOST_CHECK_EQUAL(unsafe.error().reason, "key-unsafe-permissions");
  BOOST_CHECK(contains(unsafe.error().detail, "chmod 600"));
  // Missing and damaged files.
  BOOST_CHECK_EQUAL(load_key_file(d.path / "none.json").error().reason, "key-missing");
  std::ofstream(d.path / "bad.json") << "{\"type\": \"bip340-secp256k1\", \"secret_key\": \"12\"}";
  ::chmod((d.path / "bad.json").c_str(), 0600);
  BOOST_CHECK_EQUAL(load_key_file(d.path / "bad.json").error().reason, "bad-key-file");
  std::ofstream(d.path / "mismatch.json")
      << "{\"type\": \"bip340-secp256k1\", \"public_key\": \"" << SecretKey::generate().public_key().hex()
      << "\", \"secret_key\": \"" << std::string(63, '0') << "1\"}";
  ::chmod((d.path / "mismatch.json").c_str(), 0600);
  auto mismatch = load_key_file(d.path / "mismatch.json");
  BOOST_REQUIRE(!mismatch);
  BOOST_CHECK(contains(mismatch.error().detail, "does not match"));
}

BOOST_AUTO_TEST_CASE(secret_files_take_the_first_line_and_refuse_other_users) {
  TempDir d;
  const auto path = d.path / "secret";
  std::ofstream(path) << "s3cret words\r\nsecond line\n";
  ::chmod(path.c_str(), 0640);  // a group may read it
  auto s = read_secret_file(path, "passphrase file");
  BOOST_REQUIRE(s);
  BOOST_CHECK_EQUAL(*s, "s3cret words");
  ::chmod(path.c_str(), 0604);
  auto unsafe = read_secret_file(path, "passphrase file");
  BOOST_REQUIRE(!unsafe);
  BOOST_CHECK_EQUAL(unsafe.error().reason, "secret-file-unsafe-permissions");
  BOOST_CHECK(contains(unsafe.error().detail, "chmod o-rwx"));
  BOOST_CHECK(contains(unsafe.error().detail, "passphrase file"));
  std::ofstream(d.path / "empty") << "\nsecond\n";
  ::chmod((d.path / "empty").c_str(), 0600);
  BOOST_CHECK_EQUAL(read_secret_file(d.path / "empty", "x").error().reason, "secret-file-empty");
  BOOST_CHECK_EQUAL(read_secret_file(d.path / "none", "x").error().reason, "secret-file-missing");
}

BOOST_AUTO_TEST_CASE(encrypted_key_files_need_their_passphrase) {
  TempDir d;
  const auto path = d.path / "validator_key.json";
  auto key = SecretKey::generate();
  ScryptParams cheap;
  cheap.n = 1 << 10;
  BOOST_REQUIRE(write_encrypted_key_file(path, key, "correct horse", cheap));
  struct stat st {};
  BOOST_REQUIRE_EQUAL(::stat(path.c_str(), &st), 0);
  BOOST_CHECK_EQUAL(st.st_mode & 0777, 0600u);
  BOOST_CHECK(is_encrypted_key_file(path));
  // The secret is not in the file.
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  auto secret = key.secret_bytes();
  BOOST_CHECK(!contains(text.str(), to_hex(ByteView(secret.data(), secret.size()))));

  auto back = load_key_file(path, "correct horse");
  BOOST_REQUIRE(back);
  BOOST_CHECK(back->public_key() == key.public_key());
  // The public key needs no passphrase.
  BOOST_CHECK(key_file_public_key(path).value() == key.public_key());
  auto none = load_key_file(path);
  BOOST_REQUIRE(!none);
  BOOST_CHECK_EQUAL(none.error().reason, "key-passphrase-missing");
  BOOST_CHECK(contains(none.error().detail, "passphrase_file"));
  BOOST_CHECK(contains(none.error().detail, "VERITY_PASSPHRASE"));
  auto wrong = load_key_file(path, "wrong horse");
  BOOST_REQUIRE(!wrong);
  BOOST_CHECK_EQUAL(wrong.error().reason, "bad-passphrase");
  BOOST_CHECK(contains(wrong.error().detail, path.string()));
  // Never overwritten, and readable by others: refused like a plain file.
  BOOST_CHECK_EQUAL(write_encrypted_key_file(path, SecretKey::generate(), "x", cheap).error().reason, "key-exists");
  BOOST_CHECK(load_key_file(path, "correct horse")->public_key() == key.public_key());
  ::chmod(path.c_str(), 0640);
  BOOST_CHECK_EQUAL(load_key_file(path, "correct horse").error().reason, "key-unsafe-permissions");
  BOOST_CHECK_EQUAL(key_file_public_key(path).error().reason, "key-unsafe-permissions");
  // An empty passphrase is refused when writing.
  BOOST_CHECK_EQUAL(write_encrypted_key_file(d.path / "other.json", key, "", cheap).error().reason, "empty-passphrase");
  BOOST_CHECK(!fs::exists(d.path / "other.json"));
  // A plain file ignores a passphrase, and its public key reads the same way.
  BOOST_REQUIRE(write_key_file(d.path / "plain.json", key));
  BOOST_CHECK(!is_encrypted_key_file(d.path / "plain.json"));
  BOOST_CHECK(load_key_file(d.path / "plain.json", "anything")->public_key() == key.public_key());
  BOOST_CHECK(key_file_public_key(d.path / "plain.json").value() == key.public_key());
}

BOOST_AUTO_TEST_CASE(key_files_in_a_directory_others_may_write_are_refused) {
  TempDir d;
  const auto dir = d.path / "shared";
  fs::create_directories(dir);
  auto key = SecretKey::generate();
  BOOST_REQUIRE(write_key_file(dir / "k.json", key));
  ::chmod(dir.c_str(), 0777);
  auto r = load_key_file(dir / "k.json");
  BOOST_REQUIRE(!r);
  BOOST_CHECK_EQUAL(r.error().reason, "key-unsafe-permissions");
  BOOST_CHECK(contains(r.error().detail, "chmod o-w"));
  // The sticky bit (as on /tmp) stops others replacing the file: allowed.
  ::chmod(dir.c_str(), 01777);
  BOOST_CHECK(load_key_file(dir / "k.json"));
  ::chmod(dir.c_str(), 0700);
  BOOST_CHECK(load_key_file(dir / "k.json"));
}
