#include "core/transaction.h"

namespace verity {

void Transfer::encode(Writer& w) const {
  w.fixed(to);
  amount.encode(w);
}

Transfer Transfer::decode(Reader& r) {
  Transfer t;
  t.to = r.fixed<32, PublicKeyTag>();
  t.amount = Amount::decode(r);
  return t;
}

void encode_payload(Writer& w, const Payload& p) {
  std::visit(
      [&](const auto& body) {
        w.u8(std::decay_t<decltype(body)>::kTag);
        body.encode(w);
      },
      p);
}

namespace {
template <std::size_t I = 0>
Payload decode_alternative(std::uint8_t tag, Reader& r) {
  if constexpr (I < std::variant_size_v<Payload>) {
    using Alt = std::variant_alternative_t<I, Payload>;
    if (tag == Alt::kTag) return Alt::decode(r);
    return decode_alternative<I + 1>(tag, r);
  } else {
    r.fail("decode-unknown-payload", "unknown payload tag " + std::to_string(tag));
    return Payload{};
  }
}
}  // namespace

Payload decode_payload(Reader& r) {
  std::uint8_t tag = r.u8();
  if (!r.ok()) return Payload{};
  return decode_alternative(tag, r);
}

const char* payload_name(const Payload& p) {
  return std::visit([](const auto& body) { return std::decay_t<decltype(body)>::kName; }, p);
}

void Transaction::encode_unsigned(Writer& w) const {
  w.string(chain_id);
  w.fixed(sender);
  w.varint(nonce);
  fee.encode(w);
  encode_payload(w, payload);
}

void Transaction::encode(Writer& w) const {
  encode_unsigned(w);
  w.fixed(signature);
}

Transaction Transaction::decode(Reader& r) {
  Transaction tx;
  tx.chain_id = r.string(kMaxChainIdBytes);
  tx.sender = r.fixed<32, PublicKeyTag>();
  tx.nonce = r.varint();
  tx.fee = Amount::decode(r);
  tx.payload = decode_payload(r);
  tx.signature = r.fixed<64, SignatureTag>();
  return tx;
}

Hash256 Transaction::signing_hash() const {
  Writer w;
  encode_unsigned(w);
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

Result<Transaction> decode_transaction(ByteView bytes) {
  if (bytes.size() > kMaxTransactionBytes)
    return make_error("tx-too-large", std::to_string(bytes.size()) + " bytes exceeds " +
                                          std::to_string(kMaxTransactionBytes));
  return decode_exact<Transaction>(bytes);
}

}  // namespace verity
