#pragma once
// The typed RPC client that `verity` and `verity-worker` share: each method
// calls the node and reads its answer into a record (rpc/records.h, or the
// few fields a caller uses, below) with the one codec the server writes
// them with. A missing or mistyped field is an error (reason
// "rpc-bad-response") that names the method and the field, never a
// default; the node's own errors ("not-found", "rpc-unreachable", ...)
// pass through, but "not-found" of a lookup is an empty optional.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/amount.h"
#include "core/block.h"
#include "core/bytes.h"
#include "core/hash.h"
#include "core/keys.h"
#include "core/receipt.h"
#include "core/result.h"
#include "core/transaction.h"
#include "rpc/http_client.h"
#include "rpc/records.h"

namespace verity::client {

// What a client uses of `status`.
struct StatusSummary {
  std::string chain_id;
  std::uint64_t height = 0;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("chain_id", s.chain_id);
    f("height", s.height);
  }
};

// What a worker uses of the genesis parameters (`genesis`'s "params").
struct ChainParams {
  Amount min_fee;
  Amount min_worker_stake;
  std::uint64_t metering_version = 0;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("min_fee", s.min_fee);
    f("min_worker_stake", s.min_worker_stake);
    f("metering_version", s.metering_version);
  }
};

// `tx`: the transaction (read by the reader send_tx uses), its status, and
// the receipt once committed.
using rpc::ReceiptInfo;
struct TxInfo {
  Hash256 hash;
  std::string status;  // "pending" or "committed"
  Transaction tx;
  std::optional<ReceiptInfo> receipt;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("hash", s.hash);
    f("status", s.status);
    f("tx", s.tx);
    f("receipt", s.receipt);
  }
};
// Checks what a `tx` answer says against itself and the id asked for: the
// hash is the transaction's and the one asked for, a committed one has a
// receipt and a pending one none. Reason "rpc-bad-response".
Result<TxInfo> read_tx(const rapidjson::Value& answer, const Hash256& asked);

// `block`: the header, the transactions, the previous block's certificate
// it carries and, once the next block is committed, its own.
struct BlockInfo {
  std::uint64_t height = 0;
  Hash256 hash;
  BlockHeader header;
  std::vector<rpc::HashedTx> txs;
  CommitCertificate last_commit;
  std::optional<CommitCertificate> certificate;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("height", s.height);
    f("hash", s.hash);
    f("header", s.header);
    f("txs", s.txs);
    f("last_commit", s.last_commit);
    f("certificate", s.certificate);
  }
};
// Checks a `block` answer against itself: the hash is the header's, the
// height the header's (and `height`, when one was asked for), the header's
// transaction root the listed transactions', its last-commit hash the
// carried certificate's, and a certificate names this block. A node that
// answers with pieces of different blocks is caught here; the signatures
// are checked only by `verity account --prove` (the validator set is
// needed). Reason "rpc-bad-response".
Result<BlockInfo> read_block(const rapidjson::Value& answer, std::optional<std::uint64_t> height);

// What a scan for one's assignments reads of each task in `tasks`: the
// rest of an entry is read when the task itself is asked for, so one
// entry the client cannot read does not hide the others.
struct AssignmentRef {
  PublicKey worker;
  bool revealed = false;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("worker", s.worker);
    f("revealed", s.revealed);
  }
};
struct RoundRef {
  std::vector<AssignmentRef> assignments;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("assignments", s.assignments);
  }
};
struct TaskRef {
  std::uint64_t id = 0;
  std::optional<RoundRef> round;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("id", s.id);
    f("round", s.round);
  }
};

class NodeClient {
 public:
  explicit NodeClient(const rpc::HttpRpcClient& http) : http_(http) {}

  Result<StatusSummary> status() const;
  Result<ChainParams> chain_params() const;
  Result<rpc::AccountInfo> account(const PublicKey& address) const;
  // Admits `tx` (send_tx); the answer must name its id.
  Result<Hash256> send_tx(const Transaction& tx) const;
  // The transaction `id`, read_tx's checks passed. Not found: an empty optional.
  Result<std::optional<TxInfo>> tx(const Hash256& id) const;
  Result<std::optional<rpc::TaskInfo>> task(std::uint64_t id) const;
  // Descending ids below `before` (0: the newest), at most `limit` (1-100).
  Result<std::vector<rpc::TaskInfo>> tasks(std::uint64_t before, std::uint64_t limit, bool in_progress) const;
  // The same list, each task read only as far as a TaskRef.
  Result<std::vector<TaskRef>> task_refs(std::uint64_t before, std::uint64_t limit, bool in_progress) const;
  // A page of the node's history index (`history`), newest first.
  // `cursor`: the page before's next_cursor ("" for the first page).
  Result<rpc::HistoryInfo> task_history(std::uint64_t id, const std::string& cursor, std::uint64_t limit = 100) const;
  Result<rpc::HistoryInfo> account_history(const PublicKey& address, const std::string& cursor,
                                           std::uint64_t limit = 100) const;
  Result<std::optional<rpc::WorkerInfo>> worker(const PublicKey& key) const;
  Result<std::vector<rpc::WorkerInfo>> workers() const;
  // The stored module whose SHA-256 is `hash`, checked: modules are content
  // addressed, so bytes that hash to anything else are refused
  // ("module-mismatch"), whatever the node says.
  Result<Bytes> module(const Hash256& hash) const;

 private:
  const rpc::HttpRpcClient& http_;
};

}  // namespace verity::client
