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
// A state file holding `s`, as a rotation writes it (a log limit of one
// byte rotates at every save), copied into `dir`.
void put_state_file(const fs::path& dir, const consensus::SafetyState& s) {
  verity::testing::TempDir other;
  auto g = SafetyFile::open(other.path, 1);
  BOOST_REQUIRE(g);
  BOOST_REQUIRE((*g)->save(s));
  fs::copy_file(other.path / "safety_state", dir / "safety_state", fs::copy_options::overwrite_existing);
}

void append(const fs::path& file, const Bytes& bytes) {
  int fd = ::open(file.c_str(), O_WRONLY | O_APPEND);
  BOOST_REQUIRE(fd >= 0);
  BOOST_REQUIRE_EQUAL(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  ::close(fd);
}

// A vote record of the log, as an older node wrote it: [u32 length][Vote].
Bytes vote_record(const Vote& v) {
  const Bytes e = encode(v);
  Bytes rec{0, 0, static_cast<std::uint8_t>(e.size() >> 8), static_cast<std::uint8_t>(e.size())};
  for (std::uint8_t b : e) rec.push_back(b);
  return rec;
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

// The state file is only written when the log rotates: what the log holds
// after it (a later height here) binds the node.
BOOST_AUTO_TEST_CASE(the_log_after_the_state_file_binds) {
  TempDir d;
  Vote later = vote(VotePhase::prepare, 9, 2, 7);
  {
    auto f = SafetyFile::open(d.path);
    BOOST_REQUIRE((*f)->save({8, 0, 0, {vote(VotePhase::prepare, 8, 0, 3)}, std::nullopt}));
    BOOST_REQUIRE((*f)->save({9, 2, 2, {later}, std::nullopt}));
    BOOST_REQUIRE((*f)->flush());
  }
  put_state_file(d.path, {8, 0, 0, {vote(VotePhase::prepare, 8, 0, 3)}, std::nullopt});
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
  append(d.path / "signed_votes.log", Bytes{0, 0, 0, 90, 1, 2, 3});
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
  put_state_file(d.path, {3, 0, 0, {vote(VotePhase::prepare, 3, 0, 1)}, std::nullopt});
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
  const std::uint64_t limit = 2000;  // a height appends about 700 bytes: two votes and two states
  std::uint64_t height_bytes = 0;
  {
    auto f = SafetyFile::open(d.path, limit);
    BOOST_REQUIRE(f);
    for (std::uint64_t h = 1; h <= 60; ++h) {
      consensus::SafetyState s{h, 0, 0, {vote(VotePhase::prepare, h, 0, 1)}, std::nullopt};
      BOOST_REQUIRE((*f)->save(s));
      s.signed_votes.push_back(vote(VotePhase::commit, h, 0, 1));
      BOOST_REQUIRE((*f)->save(s));
      if (h == 1) height_bytes = fs::file_size(d.path / "signed_votes.log");
      BOOST_REQUIRE(fs::file_size(d.path / "signed_votes.log") < limit + height_bytes);
    }
  }
  BOOST_REQUIRE(fs::exists(d.path / "signed_votes.log.1"));
  BOOST_REQUIRE(fs::exists(d.path / "safety_state"));
  const auto current = fs::file_size(d.path / "signed_votes.log"), old = fs::file_size(d.path / "signed_votes.log.1");
  BOOST_TEST(old >= limit);
  BOOST_TEST(old + current < 2 * limit + 2 * height_bytes);  // 60 heights would be ~40 KB unrotated
  // read_log: both logs' votes, whole heights in order, ending with the last.
  auto log = SafetyFile::read_log(d.path);
  BOOST_REQUIRE(log);
  BOOST_REQUIRE(log->size() >= 2u);
  BOOST_TEST(log->size() % 2 == 0u);
  BOOST_TEST(log->front().height > 1u);  // older logs are gone
  for (std::size_t i = 0; i < log->size(); i += 2) {
    BOOST_TEST(same_fields(log->at(i), vote(VotePhase::prepare, log->at(i).height, 0, 1)));
    BOOST_TEST(same_fields(log->at(i + 1), vote(VotePhase::commit, log->at(i).height, 0, 1)));
    if (i > 0) BOOST_TEST(log->at(i).height == log->at(i - 1).height + 1);
  }
  BOOST_TEST(log->back().height == 60u);
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
  append(d.path / "signed_votes.log.1", vote_record(vote(VotePhase::prepare, 8, 2, 9)));
  auto f = SafetyFile::open(d.path);
  BOOST_REQUIRE(f);
  BOOST_TEST((*f)->restored().height == 8u);
  BOOST_TEST((*f)->restored().view == 2u);
  BOOST_REQUIRE_EQUAL((*f)->restored().signed_votes.size(), 1u);
  BOOST_TEST(same_fields((*f)->restored().signed_votes[0], vote(VotePhase::prepare, 8, 2, 9)));
}

namespace {
consensus::PreparedCertificate prepared(std::uint64_t height, std::uint64_t view, std::uint8_t fill) {
  consensus::PreparedCertificate c;
  c.proposal.block.header.chain_id = "chain";
  c.proposal.block.header.height = height;
  c.proposal.block.header.view = view;
  c.proposal.vote = vote(VotePhase::propose, height, view, fill);
  for (std::uint8_t i = 0; i < 3; ++i) c.prepares.push_back(vote(VotePhase::prepare, height, view, fill));
  return c;
}
}  // namespace

// Everything the engine saves comes back from the log alone, without any
// state file: the prepared certificate and the view asked for included.
BOOST_AUTO_TEST_CASE(a_prepared_certificate_and_an_asked_view_survive_in_the_log) {
  TempDir d;
  const Vote prepare = vote(VotePhase::prepare, 12, 1, 4);
  consensus::SafetyState s{12, 1, 3, {prepare, vote(VotePhase::commit, 12, 1, 4)}, prepared(12, 1, 4)};
  {
    auto f = SafetyFile::open(d.path);
    BOOST_REQUIRE(f);
    BOOST_REQUIRE((*f)->save({12, 1, 1, {prepare}, std::nullopt}));
    BOOST_REQUIRE((*f)->save(s));
    BOOST_REQUIRE((*f)->flush());
  }
  BOOST_REQUIRE(!fs::exists(d.path / "safety_state"));
  auto f = SafetyFile::open(d.path);
  BOOST_REQUIRE(f);
  BOOST_TEST(((*f)->restored() == s));
}

// One sync per flush, only when something binding was saved since the
// last: a vote, a prepared certificate, a view. Moving to a new height with
// nothing signed there is not synced on its own.
BOOST_AUTO_TEST_CASE(only_binding_saves_are_synced) {
  TempDir d;
  auto f = SafetyFile::open(d.path);
  BOOST_REQUIRE(f);
  auto& file = **f;
  BOOST_REQUIRE(file.flush());
  BOOST_TEST(file.syncs() == 0u);
  consensus::SafetyState s{5, 0, 0, {vote(VotePhase::prepare, 5, 0, 1)}, std::nullopt};
  BOOST_REQUIRE(file.save(s));
  s.signed_votes.push_back(vote(VotePhase::commit, 5, 0, 1));
  BOOST_REQUIRE(file.save(s));
  BOOST_REQUIRE(file.flush());
  BOOST_TEST(file.syncs() == 1u);  // two saves in one step: one sync
  BOOST_REQUIRE(file.flush());
  BOOST_TEST(file.syncs() == 1u);
  BOOST_REQUIRE(file.save(s));  // the same state again
  BOOST_REQUIRE(file.flush());
  BOOST_TEST(file.syncs() == 1u);
  consensus::SafetyState next{6, 0, 0, {}, std::nullopt};
  BOOST_REQUIRE(file.save(next));
  BOOST_REQUIRE(file.flush());
  BOOST_TEST(file.syncs() == 1u);  // a new height alone
  next.asked_view = 1;
  BOOST_REQUIRE(file.save(next));
  BOOST_REQUIRE(file.flush());
  BOOST_TEST(file.syncs() == 2u);  // a view change asked for
  next.view = 1;
  BOOST_REQUIRE(file.save(next));
  BOOST_REQUIRE(file.flush());
  BOOST_TEST(file.syncs() == 3u);  // a view entered
  next.prepared = prepared(6, 1, 2);
  BOOST_REQUIRE(file.save(next));
  BOOST_REQUIRE(file.flush());
  BOOST_TEST(file.syncs() == 4u);
}

// A crash leaves at most the unsynced end of the log damaged: zeros (the
// file grew but its pages were never written), or a last record that does
// not decode. Both are dropped; the same damage before another record is
// corruption, and the node refuses to start rather than guess.
BOOST_AUTO_TEST_CASE(damage_at_the_end_is_dropped_and_elsewhere_refused) {
  for (int kind = 0; kind < 3; ++kind) {
    TempDir d;
    {
      auto f = SafetyFile::open(d.path);
      BOOST_REQUIRE((*f)->save({3, 0, 0, {vote(VotePhase::prepare, 3, 0, 1)}, std::nullopt}));
      BOOST_REQUIRE((*f)->flush());
    }
    const auto log = d.path / "signed_votes.log";
    const auto good = fs::file_size(log);
    if (kind == 0) append(log, Bytes(300, 0));                      // zeros
    if (kind == 1) append(log, Bytes{0x80, 0, 0, 3, 0xff, 0xff, 0xff});  // a state record that does not decode
    if (kind == 2) {                                                 // the same, then a good record
      append(log, Bytes{0x80, 0, 0, 3, 0xff, 0xff, 0xff});
      append(log, vote_record(vote(VotePhase::commit, 3, 0, 1)));
    }
    auto f = SafetyFile::open(d.path);
    if (kind == 2) {
      BOOST_REQUIRE(!f);
      BOOST_TEST(f.error().reason == "safety-state-corrupt");
      continue;
    }
    BOOST_REQUIRE(f);
    BOOST_TEST((*f)->restored().height == 3u);
    BOOST_TEST((*f)->restored().signed_votes.size() == 1u);
    BOOST_TEST(fs::file_size(log) == good);  // cut back to the last whole record
    BOOST_REQUIRE((*f)->save({4, 0, 0, {vote(VotePhase::prepare, 4, 0, 2)}, std::nullopt}));
    auto votes = SafetyFile::read_log(d.path);
    BOOST_REQUIRE(votes);
    BOOST_TEST(votes->size() == 2u);
  }
}
