#include "core/transaction.h"

namespace verity {

void encode_field(Writer& w, const Payload& p) {
  std::visit(
      [&](const auto& body) {
        w.u8(std::decay_t<decltype(body)>::kTag);
        encode_field(w, body);
      },
      p);
}

namespace {
template <std::size_t I = 0>
Payload decode_alternative(std::uint8_t tag, Reader& r) {
  if constexpr (I < std::variant_size_v<Payload>) {
    using Alt = std::variant_alternative_t<I, Payload>;
    if (tag == Alt::kTag) {
      return decode_value<Alt>(r);
    }
    return decode_alternative<I + 1>(tag, r);
  } else {
    r.fail("decode-unknown-payload", "unknown payload tag " + std::to_string(tag));
    return Payload{};
  }
}
}  // namespace

void decode_field(Reader& r, Payload& p) {
  std::uint8_t tag = r.u8();
  p = r.ok() ? decode_alternative(tag, r) : Payload{};
}

const char* payload_name(const Payload& p) {
  return std::visit([](const auto& body) { return std::decay_t<decltype(body)>::kName; }, p);
}

Hash256 Transaction::signing_hash() const {
  Writer w;
  unsigned_fields(*this, field_encoder(w));
  return tagged_hash(Domain::transaction_sign, w.data());
}

Hash256 Transaction::id() const { return tagged_hash(Domain::transaction_id, verity::encode(*this)); }

void Transaction::sign(const SecretKey& key) {
  sender = key.public_key();
  signature = key.sign(signing_hash());
}

bool Transaction::verify_signature() const {
  return verity::verify_signature(sender, signing_hash(), signature);
}

Hash256 task_result_hash(std::uint64_t outcome, std::uint64_t exit_code, std::uint64_t fuel_used, ByteView output) {
  Writer w;
  w.varint(outcome);
  w.varint(exit_code);
  w.varint(fuel_used);
  w.bytes(output);
  return tagged_hash(Domain::task_result, w.data());
}

Hash256 task_commitment(std::string_view chain_id, std::uint64_t task_id, const Hash256& result_hash, const Hash256& salt,
                        const PublicKey& worker) {
  Writer w;
  w.string(chain_id);
  w.varint(task_id);
  w.fixed(result_hash);
  w.fixed(salt);
  w.fixed(worker);
  return tagged_hash(Domain::task_commitment, w.data());
}

Hash256 task_sandbox_seed(std::string_view chain_id, std::uint64_t task_id) {
  Writer w;
  w.string(chain_id);
  w.varint(task_id);
  return tagged_hash(Domain::task_random, w.data());
}

Result<Transaction> decode_transaction(ByteView bytes) {
  return decode_bounded<Transaction>(bytes, kMaxTransactionBytes, "tx-too-large");
}

}  // namespace verity
