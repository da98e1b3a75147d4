// Fuzzes the bodies of peer frames: the input is a frame's type byte and
// body (the 4-byte length in front is the transport's, checked before any
// body is read). Type 0 is the Hello of the handshake (node/p2p.h), 1-5 the
// node's frames (node/node.h): consensus message, transaction, status,
// get-blocks, blocks. Properties: every accepted body is the canonical
// encoding of what it decoded to (fuzz::canonical, or re-encoding gives
// the same bytes for the sync frames), a
// decoded Hello verifies or fails with a reason, and encode_frame puts the
// type and body behind a big-endian length of 1 + body size.

#include "consensus/messages.h"
#include "core/transaction.h"
#include "node/node.h"
#include "node/p2p_wire.h"
#include "tests/fuzz/fuzz.h"

using namespace verity;

namespace {

void check_frame_header(std::uint8_t type, ByteView body) {
  const Bytes frame = node::p2p::encode_frame(type, body);
  FUZZ_CHECK(frame.size() == node::p2p::kFrameHeaderBytes + 1 + body.size());
  const std::uint64_t length = (std::uint64_t(frame[0]) << 24) | (std::uint64_t(frame[1]) << 16) |
                               (std::uint64_t(frame[2]) << 8) | frame[3];
  FUZZ_CHECK(length == 1 + body.size());
  FUZZ_CHECK(frame[4] == type);
  FUZZ_CHECK(fuzz::same_bytes(ByteView(frame).subspan(5), body));
}

void check_hello(ByteView body) {
  if (body.size() > node::p2p::kMaxHelloBytes) return;  // the transport drops it unread
  auto hello = fuzz::canonical(body, decode_exact<node::p2p::Hello>,
                               [](const node::p2p::Hello& h) { return encode(h); });
  if (!hello) return;
  const node::p2p::Ekm ekm{};
  auto verdict = node::p2p::verify_hello(*hello, "verity-fuzz-1", node::p2p::Role::dialer, ekm);
  FUZZ_CHECK(verdict || !verdict.error().reason.empty());
}

void check_consensus(ByteView body) {
  (void)fuzz::canonical(body, consensus::decode_message, consensus::encode_message);
}

void check_get_blocks(ByteView body) {
  auto g = node::decode_get_blocks(body);
  if (g) FUZZ_CHECK(fuzz::same_bytes(node::encode_get_blocks(g->from, g->max), body));
}

void check_blocks(ByteView body) {
  auto items = node::decode_blocks(body);
  if (!items) return;
  FUZZ_CHECK(items->size() <= node::kMaxBlocksPerRequest);
  std::vector<Bytes> copies;
  for (ByteView item : *items) {
    copies.emplace_back(item.begin(), item.end());
    check_consensus(item);
  }
  FUZZ_CHECK(fuzz::same_bytes(node::encode_blocks(copies), body));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t type = data[0];
  const ByteView body = fuzz::input(data + 1, size - 1);
  check_frame_header(type, body);
  switch (type) {
    case node::p2p::kHelloType:
      check_hello(body);
      break;
    case node::kFrameConsensus:
      check_consensus(body);
      break;
    case node::kFrameTx:
      (void)fuzz::canonical(body, decode_transaction, [](const Transaction& t) { return encode(t); });
      break;
    case node::kFrameGetBlocks:
      check_get_blocks(body);
      break;
    case node::kFrameBlocks:
      check_blocks(body);
      break;
    default:
      break;  // status (read in place by Node::on_frame) and unknown types
  }
  return 0;
}
