// Fuzzes decode_block (blocks arrive from peers inside proposals and sync
// replies, and are read back from the block store). Properties of an
// accepted input: encode gives the same bytes, the value decodes again to
// itself, and its hash, check_body() and the certificate hash
// answer without crashing on any decoded block.

#include "core/block.h"
#include "tests/fuzz/fuzz.h"

using namespace verity;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto block = fuzz::canonical(fuzz::input(data, size), decode_block, [](const Block& b) { return encode(b); });
  if (!block) return 0;
  (void)block->hash();
  (void)block->check_body();
  (void)block->last_commit.hash();
  return 0;
}
