#pragma once
// The node's consensus::SafetyStore: what this validator signed, on disk,
// durable before any signed message leaves the node.
//
//   DATA/signed_votes.log  an append-only log of records, each
//                          [u32 big-endian length][body]: a canonical Vote
//                          (every vote signed: the audit trail `verityd
//                          votes` prints), or, with the length's top bit
//                          set, a canonical SafetyState (height, view,
//                          asked view, votes signed at that height,
//                          prepared certificate) as of that save
//   DATA/safety_state      a SafetyState; replaced atomically (temporary
//                          file, fsync, rename, directory fsync) when the
//                          log rotates
//   DATA/signed_votes.log.1  the previous log: once the log reaches the
//                          limit (64 MiB by default: about 2.4 KB a height
//                          on an idle devnet, so some 7 hours at one block
//                          a second; sooner with full blocks, since the
//                          prepared certificate carries its block), the
//                          save that reached it writes safety_state,
//                          renames the log here (replacing the older one)
//                          and starts a new log, so the two take at most
//                          twice the limit
//
// save() appends the new votes and the state in one write; flush() makes
// them durable with one fdatasync. The node flushes before it sends any
// message of the engine's step (so one sync covers a proposal and the
// prepare signed with it), and a save that only moves to a new height,
// with nothing signed there yet, needs no sync of its own: losing it
// restores the previous height, whose block is committed.
//
// open() rebuilds the state from safety_state and both logs, in order: a
// record at a later height replaces what came before, records at one
// height add up (votes, highest views, the latest prepared certificate).
// A crash can only damage the unsynced end of the log: a torn, zero-filled
// or undecodable last record is dropped; elsewhere it is corruption.

#include <cstdio>
#include <filesystem>
#include <set>

#include "consensus/engine.h"

namespace verity::node {

// What Node needs of its safety record: the engine's SafetyStore, what it
// restored at start, and flush() (durable before any message of a step
// leaves). SafetyFile is the node's; the node simulation keeps its record
// in memory.
class SafetyRecord : public consensus::SafetyStore {
 public:
  virtual const consensus::SafetyState& restored() const = 0;
  // Makes every save so far durable. Reason "io-error".
  virtual Status flush() = 0;
};

class SafetyFile final : public SafetyRecord {
 public:
  static constexpr std::uint64_t kDefaultLogLimit = 64ull << 20;
  // Reasons: "safety-state-corrupt", "io-error" (local).
  static Result<std::unique_ptr<SafetyFile>> open(const std::filesystem::path& data_dir,
                                                  std::uint64_t log_limit = kDefaultLogLimit);
  ~SafetyFile() override;

  const consensus::SafetyState& restored() const override { return restored_; }
  Status save(const consensus::SafetyState& state) override;
  // Makes every save so far durable (one fdatasync, none if nothing binding
  // was saved since the last). Reason "io-error".
  Status flush() override;
  std::uint64_t syncs() const { return syncs_; }  // fdatasyncs of the log so far

  // Every vote in the previous and the current log, in the order signed.
  // Reasons "io-error", "safety-state-corrupt".
  static Result<std::vector<Vote>> read_log(const std::filesystem::path& data_dir);

 private:
  SafetyFile(std::filesystem::path dir, int log_fd) : dir_(std::move(dir)), log_fd_(log_fd) {}
  Status rotate();
  std::filesystem::path dir_;
  int log_fd_ = -1;
  std::uint64_t log_size_ = 0;
  std::uint64_t log_limit_ = kDefaultLogLimit;
  int dir_fd_ = -1;
  consensus::SafetyState restored_;
  std::set<Bytes> logged_;  // encoded votes in the log at logged_height_
  std::uint64_t logged_height_ = 0;
  consensus::SafetyState last_;  // as of the last save
  bool unsynced_ = false;        // a save since the last sync binds the node
  std::uint64_t syncs_ = 0;
};

}  // namespace verity::node
