// Fuzzes genesis loading: genesis_from_json (rpc/genesis_json.h) is what
// `verityd init --genesis` and every node start read from a file an
// operator was handed. Properties of an accepted file: the genesis
// validates; written back as JSON it is valid UTF-8, and reading that
// gives the same genesis; its canonical encoding (whose hash is block 1's prev_hash)
// decodes to the same value and re-encodes to the same bytes; its
// validator set and total supply exist.

#include <rapidjson/document.h>

#include "core/genesis.h"
#include "rpc/genesis_json.h"
#include "tests/fuzz/fuzz.h"

using namespace verity;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto genesis = rpc::genesis_from_json(text);
  if (!genesis) {
    FUZZ_CHECK(!genesis.error().reason.empty());
    return 0;
  }
  FUZZ_CHECK(genesis->validate());
  const std::string json = rpc::genesis_to_json(*genesis);
  rapidjson::Document strict;  // the genesis RPC method serves this text
  strict.Parse<rapidjson::kParseValidateEncodingFlag>(json.data(), json.size());
  FUZZ_CHECK(!strict.HasParseError());
  auto again = rpc::genesis_from_json(json);
  FUZZ_CHECK(again && *again == *genesis);
  const Bytes bytes = encode(*genesis);
  auto decoded = decode_exact<Genesis>(bytes);
  FUZZ_CHECK(decoded && *decoded == *genesis);
  FUZZ_CHECK(fuzz::same_bytes(encode(*decoded), bytes));
  FUZZ_CHECK(decoded->hash() == genesis->hash());
  FUZZ_CHECK(genesis->validator_set());
  (void)genesis->total_supply();
  return 0;
}
