#define BOOST_TEST_MODULE safety_file_tests
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>

#include "tests/test_support.h"
#include "node/safety_file.h"

using namespace verity;
using namespace verity::node;
namespace fs = std::filesystem;

namespace {
using TempDir = verity::testing::TempDir;

const SecretKey& key() {
  static SecretKey k = SecretKey::derive_insecure("safety-tests");
  return k;
}

Vote vote(VotePhase phase, std::uint64_t height, std::uint64_t view, std::uint8_t fill) {
  Vote v;
  v.phase = phase;
  v.height = height;
  v.view = view;
  v.block_hash = Hash256::from_view(Bytes(32, fill));
  v.sign("chain", key());
  return v;
}
// Signing draws fresh auxiliary randomness: compare what was signed.
bool same_fields(const Vote& a, const Vote& b) {
  return a.phase == b.phase && a.height == b.height && a.view == b.view && a.block_hash == b.block_hash;
}
}  // namespace

BOOST_AUTO_TEST_CASE(state_survives_reopen_and_every_vote_is_logged) {
  TempDir d;
  {
    auto f = SafetyFile::open(d.path);
    BOOST_REQUIRE(f);
    BOOST_CHECK((*f)->restored() == consensus::SafetyState{});
    consensus::SafetyState s{5, 1, 1, {vote(VotePhase::prepare, 5, 1, 1)}, std::nullopt};
    BOOST_REQUIRE((*f)->save(s));
    s.signed_votes.push_back(vote(VotePhase::commit, 5, 1, 1));
    BOOST_REQUIRE((*f)->save(s));
    BOOST_REQUIRE((*f)->save(s));  // saving again logs nothing twice
    consensus::SafetyState next{6, 1, 1, {vote(VotePhase::prepare, 6, 1, 2)}, std::nullopt};
    BOOST_REQUIRE((*f)->save(next));
  }
  auto f = SafetyFile::open(d.path);
  BOOST_REQUIRE(f);
  BOOST_CHECK_EQUAL((*f)->restored().height, 6u);
  BOOST_REQUIRE_EQUAL((*f)->restored().signed_votes.size(), 1u);
  auto log = SafetyFile::read_log(d.path);
  BOOST_REQUIRE(log);
  BOOST_REQUIRE_EQUAL(log->size(), 3u);
  BOOST_CHECK((*log)[0] == vote(VotePhase::prepare, 5, 1, 1) || (*log)[0].height == 5);
  BOOST_CHECK_EQUAL((*log)[2].height, 6u);
}

// A crash after the log append and before the state file was replaced: the
// logged vote still binds the node.
BOOST_AUTO_TEST_CASE(votes_only_in_the_log_are_restored) {
  TempDir d;
  Vote later = vote(VotePhase::prepare, 9, 2, 7);
  {
    auto f = SafetyFile::open(d.path);
    BOOST_REQUIRE((*f)->save({8, 0, 0, {vote(VotePhase::prepare, 8, 0, 3)}, std::nullopt}));
    BOOST_REQUIRE((*f)->save({9, 2, 2, {later}, std::nullopt}));
  }
  // Put back the state file of height 8, as if the second replace never happened.
  {
    TempDir other;
    auto g = SafetyFile::open(other.path);
    BOOST_REQUIRE((*g)->save({8, 0, 0, {vote(VotePhase::prepare, 8, 0, 3)}, std::nullopt}));
    fs::copy_file(other.path / "safety_state", d.path / "safety_state", fs::copy_options::overwrite_existing);
  }
  auto f = SafetyFile::open(d.path);
  BOOST_REQUIRE(f);
  BOOST_CHECK_EQUAL((*f)->restored().height, 9u);
  BOOST_CHECK_EQUAL((*f)->restored().view, 2u);
  BOOST_REQUIRE_EQUAL((*f)->restored().signed_votes.size(), 1u);
  BOOST_CHECK((*f)->restored().signed_votes[0] == later);
}

BOOST_AUTO_TEST_CASE(a_torn_last_record_is_dropped_and_appends_continue) {
  TempDir d;
  {
    auto f = SafetyFile::open(d.path);
    BOOST_REQUIRE((*f)->save({3, 0, 0, {vote(VotePhase::prepare, 3, 0, 1)}, std::nullopt}));
  }
  {
    int fd = ::open((d.path / "signed_votes.log").c_str(), O_WRONLY | O_APPEND);
    const std::uint8_t torn[] = {0, 0, 0, 90, 1, 2, 3};
    BOOST_REQUIRE_EQUAL(::write(fd, torn, sizeof torn), static_cast<ssize_t>(sizeof torn));
    ::close(fd);
  }
  {
    auto f = SafetyFile::open(d.path);
    BOOST_REQUIRE(f);
    BOOST_REQUIRE((*f)->save({4, 0, 0, {vote(VotePhase::prepare, 4, 0, 2)}, std::nullopt}));
  }
  auto log = SafetyFile::read_log(d.path);
  BOOST_REQUIRE(log);
  BOOST_REQUIRE_EQUAL(log->size(), 2u);
  BOOST_CHECK_EQUAL((*log)[1].height, 4u);
}

BOOST_AUTO_TEST_CASE(a_corrupt_state_file_is_a_clear_error) {
  TempDir d;
  {
    auto f = SafetyFile::open(d.path);
    BOOST_REQUIRE((*f)->save({3, 0, 0, {vote(VotePhase::prepare, 3, 0, 1)}, std::nullopt}));
  }
  fs::resize_file(d.path / "safety_state", 5);
  auto f = SafetyFile::open(d.path);
  BOOST_REQUIRE(!f);
  BOOST_CHECK_EQUAL(f.error().reason, "safety-state-corrupt");
}

// The log is rotated once it passes its limit: the two files stay bounded,
// the node restores exactly what binds it, and read_log still sees the
// previous log's votes.
BOOST_AUTO_TEST_CASE(a_full_log_is_rotated_and_disk_stays_bounded) {
  TempDir d;
  const std::uint64_t limit = 1000;  // a vote record is about 140 bytes
  std::uint64_t record = 0;
  {
    auto f = SafetyFile::open(d.path, limit);
    BOOST_REQUIRE(f);
    for (std::uint64_t h = 1; h <= 60; ++h) {
      consensus::SafetyState s{h, 0, 0, {vote(VotePhase::prepare, h, 0, 1)}, std::nullopt};
      BOOST_REQUIRE((*f)->save(s));
      s.signed_votes.push_back(vote(VotePhase::commit, h, 0, 1));
      BOOST_REQUIRE((*f)->save(s));
      if (h == 1) record = fs::file_size(d.path / "signed_votes.log") / 2;
      BOOST_REQUIRE(fs::file_size(d.path / "signed_votes.log") < limit + 2 * record);
    }
  }
  BOOST_REQUIRE(fs::exists(d.path / "signed_votes.log.1"));
  const auto current = fs::file_size(d.path / "signed_votes.log"), old = fs::file_size(d.path / "signed_votes.log.1");
  BOOST_TEST(old >= limit);
  BOOST_TEST(old + current < 2 * limit + 4 * record);  // 60 heights x 2 votes would be ~17 KB unrotated
  auto log = SafetyFile::read_log(d.path);
  BOOST_REQUIRE(log);
  BOOST_TEST(log->size() * record == old + current);
  BOOST_TEST(same_fields(log->back(), vote(VotePhase::commit, 60, 0, 1)));
  for (std::size_t i = 1; i < log->size(); ++i) BOOST_TEST(log->at(i - 1).height <= log->at(i).height);
  auto f = SafetyFile::open(d.path, limit);
  BOOST_REQUIRE(f);
  BOOST_TEST((*f)->restored().height == 60u);
  BOOST_TEST((*f)->restored().signed_votes.size() == 2u);
}

// A vote that only reached the rotated log (a rotation whose new log could
// not be made, then a crash before the state file) still binds the node.
BOOST_AUTO_TEST_CASE(votes_in_the_rotated_log_are_restored) {
  TempDir d;
  {
    auto f = SafetyFile::open(d.path);
    BOOST_REQUIRE(f);
    BOOST_REQUIRE((*f)->save(consensus::SafetyState{7, 0, 0, {vote(VotePhase::prepare, 7, 0, 1)}, std::nullopt}));
  }
  // As if the log had been renamed and the vote at height 8 appended to it.
  fs::rename(d.path / "signed_votes.log", d.path / "signed_votes.log.1");
  {
    Bytes e = encode(vote(VotePhase::prepare, 8, 2, 9));
    Bytes rec = {0, 0, static_cast<std::uint8_t>(e.size() >> 8), static_cast<std::uint8_t>(e.size())};
    rec.insert(rec.end(), e.begin(), e.end());
    int fd = ::open((d.path / "signed_votes.log.1").c_str(), O_WRONLY | O_APPEND);
    BOOST_REQUIRE(fd >= 0);
    BOOST_REQUIRE(::write(fd, rec.data(), rec.size()) == static_cast<ssize_t>(rec.size()));
    ::close(fd);
  }
  auto f = SafetyFile::open(d.path);
  BOOST_REQUIRE(f);
  BOOST_TEST((*f)->restored().height == 8u);
  BOOST_TEST((*f)->restored().view == 2u);
  BOOST_REQUIRE_EQUAL((*f)->restored().signed_votes.size(), 1u);
  BOOST_TEST(same_fields((*f)->restored().signed_votes[0], vote(VotePhase::prepare, 8, 2, 9)));
}
