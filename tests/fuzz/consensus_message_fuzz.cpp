// Fuzzes consensus::decode_message, the decoder of every PBFT message a
// peer sends (proposals, votes, view changes, new views, checkpoints,
// decisions). Properties of an accepted input: encode_message gives the
// same bytes, and the value decodes again to itself.

#include "consensus/messages.h"
#include "tests/fuzz/fuzz.h"

using namespace verity;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto message = fuzz::canonical(fuzz::input(data, size), consensus::decode_message, consensus::encode_message);
  if (!message) return 0;
  if (const auto* p = std::get_if<consensus::Proposal>(&*message)) (void)p->consistent();
  return 0;
}
