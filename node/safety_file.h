#pragma once
// The node's consensus::SafetyStore: what this validator signed, on disk,
// durable before any signed message leaves the node.
//
//   DATA/safety_state      the engine's SafetyState (height, view, asked
//                          view, votes signed at that height, prepared
//                          certificate); replaced atomically: written to a
//                          temporary file, fsync'd, renamed, directory fsync'd
//   DATA/signed_votes.log  every vote signed, appended and fsync'd before
//                          safety_state: an audit trail (and the record the
//                          functional tests check for conflicts)
//   DATA/signed_votes.log.1  the previous log: once the log reaches the
//                          limit (64 MiB by default, about two days at one
//                          block a second), a save that has made safety_state
//                          durable renames it here (replacing the older one)
//                          and starts a new log, so the two take at most
//                          twice the limit. Safe: what binds the node is
//                          safety_state plus the votes logged after it, and
//                          right after a save the new log holds none.
//
// Records in the log are [u32 big-endian length][canonical Vote]. A crash
// mid-append leaves a torn last record, which open() drops.
//
// open() rebuilds the state from both files: a vote that reached the log but
// not safety_state (a crash between the two writes) still binds the node,
// since the engine never sends a vote before save() returns.

#include <cstdio>
#include <filesystem>
#include <set>

#include "consensus/engine.h"

namespace verity::node {

class SafetyFile final : public consensus::SafetyStore {
 public:
  static constexpr std::uint64_t kDefaultLogLimit = 64ull << 20;
  // Reasons: "safety-state-corrupt", "io-error" (local).
  static Result<std::unique_ptr<SafetyFile>> open(const std::filesystem::path& data_dir,
                                                  std::uint64_t log_limit = kDefaultLogLimit);
  ~SafetyFile() override;

  const consensus::SafetyState& restored() const { return restored_; }
  Status save(const consensus::SafetyState& state) override;

  // Every vote in the previous and the current log, in the order signed.
  // Reasons "io-error", "safety-state-corrupt".
  static Result<std::vector<Vote>> read_log(const std::filesystem::path& data_dir);

 private:
  SafetyFile(std::filesystem::path dir, int log_fd) : dir_(std::move(dir)), log_fd_(log_fd) {}
  void rotate();
  std::filesystem::path dir_;
  int log_fd_ = -1;
  std::uint64_t log_size_ = 0;
  std::uint64_t log_limit_ = kDefaultLogLimit;
  int dir_fd_ = -1;
  consensus::SafetyState restored_;
  std::set<Bytes> logged_;  // encoded votes in the log at logged_height_
  std::uint64_t logged_height_ = 0;
};

}  // namespace verity::node
