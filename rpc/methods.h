#pragma once
// The node's JSON-RPC methods: one table (rpc/jsonrpc.h's Method) that
// serves requests, `rpc.discover` and docs/rpc.md alike.

#include <string>
#include <vector>

#include "rpc/json_codec.h"
#include "rpc/jsonrpc.h"

namespace verity::rpc {

// Limits the methods apply.
inline constexpr std::uint64_t kDefaultCommitTimeoutMs = 30'000;
inline constexpr std::uint64_t kMaxCommitTimeoutMs = 120'000;

const std::vector<Method>& node_methods();
// Shared schemas ("#/components/schemas/NAME"), as JSON text.
const std::vector<std::pair<std::string, std::string>>& schema_components();
// The OpenRPC 1.2.6 document of node_methods() (what rpc.discover returns).
const std::string& openrpc_document();
// docs/rpc.md, generated from the same table (`rpc-docs > docs/rpc.md`).
std::string markdown_reference();

// JSON forms shared with the WebSocket notifications.
rapidjson::Value receipt_json(const Receipt& r, JsonAlloc& a);

}  // namespace verity::rpc
