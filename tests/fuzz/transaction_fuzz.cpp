// Fuzzes decode_transaction, the decoder of every transaction that reaches
// a node (RPC send_tx, peer gossip, blocks). Properties of an accepted
// input: it is the one canonical encoding of its value (encode gives the
// same bytes), the value decodes again to itself, and the
// RPC's JSON form of it is valid UTF-8 JSON and, parsed back, gives the
// same transaction.

#include <rapidjson/document.h>

#include "core/transaction.h"
#include "rpc/json_codec.h"
#include "tests/fuzz/fuzz.h"

using namespace verity;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto tx = fuzz::canonical(fuzz::input(data, size), decode_transaction,
                            [](const Transaction& t) { return encode(t); });
  if (!tx) return 0;
  (void)tx->verify_signature();

  rapidjson::Document doc;
  const std::string text = rpc::json_string(rpc::to_json(*tx, doc.GetAllocator()));
  rapidjson::Document parsed;
  parsed.Parse<rapidjson::kParseValidateEncodingFlag>(text.data(), text.size());
  FUZZ_CHECK(!parsed.HasParseError());
  auto from_json = rpc::transaction_from_json(parsed);
  FUZZ_CHECK(from_json && *from_json == *tx);
  return 0;
}
