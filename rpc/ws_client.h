#pragma once
// A subscription to one topic of a node's WebSocket (/ws, docs/rpc-server.md)
// for the `verity` client and verity-worker. Synchronous: each notification
// is waited for with a deadline, so the caller can watch its own clock or
// stop flag between them.

#include <rapidjson/document.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string_view>

#include "core/result.h"
#include "rpc/http_client.h"

namespace verity::rpc {

class WsSubscription {
 public:
  // Connects (at most 5 s), upgrades and subscribes to `topic` ("blocks",
  // "txs", "tasks"). With `idle_timeout`, an upgrade has 5 s and a
  // connection silent for that long is pinged and then dropped (next()
  // fails); without, only the connect is bounded. Reason "rpc-unreachable".
  static Result<std::unique_ptr<WsSubscription>> open(
      const RpcUrl& url, std::string_view topic,
      std::optional<std::chrono::seconds> idle_timeout = std::nullopt);
  ~WsSubscription();

  // The next notification's `params.result`, waiting at most `wait`; nullopt
  // when none came in time (a read still pending carries over to the next
  // call). Other messages (the answer to the subscribe call) are skipped.
  // Reason "rpc-unreachable" once the connection has closed.
  Result<std::optional<rapidjson::Document>> next(std::chrono::milliseconds wait);

 private:
  struct Impl;
  explicit WsSubscription(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace verity::rpc
