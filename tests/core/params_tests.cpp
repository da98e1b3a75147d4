#define BOOST_TEST_MODULE params_tests
#include <boost/test/unit_test.hpp>

#include <set>

#include "core/params.h"

using namespace verity;

BOOST_AUTO_TEST_CASE(defaults_are_design_values_and_valid) {
  ProtocolParams p;
  BOOST_TEST(validate(p).ok());
  BOOST_TEST(p.double_sign_slash_bps == 500u);
  BOOST_TEST(p.downtime_window == 100u);
  BOOST_TEST(p.min_signed_bps == 5000u);
  BOOST_TEST(p.downtime_jail_blocks == 100u);
  BOOST_TEST(p.downtime_slash_bps == 100u);
  BOOST_TEST(p.unbonding_blocks == 1000u);
  BOOST_TEST(p.epoch_blocks == 100u);
  BOOST_TEST(p.reward_lock_blocks == 100u);
  BOOST_TEST(p.reputation_decay_bps == 1000u);
  BOOST_TEST(p.task_replication == 3u);
  BOOST_TEST(p.worker_outvoted_slash_bps == 1000u);
}

BOOST_AUTO_TEST_CASE(bad_values_name_the_field) {
  ProtocolParams p;
  p.epoch_blocks = 0;
  auto s = validate(p);
  BOOST_TEST(s.error().reason == "bad-param");
  BOOST_TEST(s.error().detail.find("epoch_blocks") != std::string::npos);

  ProtocolParams q;
  q.double_sign_slash_bps = 10001;
  BOOST_TEST(validate(q).error().detail.find("double_sign_slash_bps") != std::string::npos);

  ProtocolParams full;
  full.downtime_slash_bps = 10000;  // 100% is allowed
  BOOST_TEST(validate(full).ok());
}

BOOST_AUTO_TEST_CASE(encoding_round_trip_and_names_unique) {
  ProtocolParams p;
  p.min_fee = Amount(17);
  p.task_replication = 5;
  auto back = decode_exact<ProtocolParams>(encode(p));
  BOOST_REQUIRE(back.ok());
  BOOST_TEST((*back == p));
  std::set<std::string> names;
  int count = 0;
  for_each_param(p, [&](const char* name, const auto&, ParamRule) {
    names.insert(name);
    ++count;
  });
  BOOST_TEST(names.size() == static_cast<std::size_t>(count));
}

BOOST_AUTO_TEST_CASE(task_params_are_checked) {
  ProtocolParams p;
  BOOST_TEST(p.max_task_replication >= p.task_replication);
  p.task_replication = p.max_task_replication + 1;
  auto s = validate(p);
  BOOST_TEST(s.error().reason == "bad-param");
  BOOST_TEST(s.error().detail.find("max_task_replication") != std::string::npos);
  ProtocolParams q;
  q.worker_reputation_threshold = 1'000'001;
  BOOST_TEST(validate(q).error().detail.find("worker_reputation_threshold") != std::string::npos);
  ProtocolParams r;
  r.max_task_blocks = 0;
  BOOST_TEST(validate(r).error().detail.find("max_task_blocks") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(metering_version_and_reference_speed) {
  ProtocolParams p;
  BOOST_TEST(p.metering_version == 1u);
  BOOST_TEST(p.reference_fuel_per_block == kReferenceFuelPerBlock);
  BOOST_TEST(p.reference_fuel_per_block == 25'000'000u);
  // ceil(fuel / per block) + 2.
  BOOST_TEST(task_commit_blocks_needed(1, 200) == 3u);
  BOOST_TEST(task_commit_blocks_needed(200, 200) == 3u);
  BOOST_TEST(task_commit_blocks_needed(201, 200) == 4u);
  BOOST_TEST(task_commit_blocks_needed(1'000'000'000, 200'000'000) == 7u);
  BOOST_TEST(task_commit_blocks_needed(5'000'000'000, 200'000'000) == 27u);
  BOOST_TEST(task_commit_blocks_needed(UINT64_MAX, 1) == UINT64_MAX);  // saturates
  ProtocolParams zero;
  zero.reference_fuel_per_block = 0;
  BOOST_TEST(validate(zero).error().detail.find("reference_fuel_per_block") != std::string::npos);
  ProtocolParams unversioned;
  unversioned.metering_version = 0;
  BOOST_TEST(validate(unversioned).error().detail.find("metering_version") != std::string::npos);
  // A task of max_task_fuel must fit: its commit window plus one reveal block.
  ProtocolParams tight;
  tight.max_task_fuel = 1000;
  tight.reference_fuel_per_block = 100;  // 10 + 2 blocks to commit
  tight.max_task_blocks = 13;
  BOOST_TEST(validate(tight).ok());
  tight.max_task_blocks = 12;
  auto s = validate(tight);
  BOOST_REQUIRE(!s.ok());
  BOOST_TEST(s.error().reason == "bad-param");
  BOOST_TEST(s.error().detail.find("max_task_blocks 12") != std::string::npos, s.error().detail);
  BOOST_TEST(s.error().detail.find("at least 12 blocks") != std::string::npos, s.error().detail);
}
