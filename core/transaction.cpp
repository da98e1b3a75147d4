#include "core/transaction.h"

namespace verity {

namespace {
void write_field(Writer& w, const PublicKey& v) { w.fixed(v); }
void write_field(Writer& w, const Hash256& v) { w.fixed(v); }
template <std::size_t N>
void write_field(Writer& w, const LimitedBytes<N>& v) {
  w.bytes(v.bytes);
}
void write_field(Writer& w, const Amount& v) { v.encode(w); }
void write_field(Writer& w, std::uint64_t v) { w.varint(v); }
void write_field(Writer& w, const std::string& v) { w.string(v); }
void write_field(Writer& w, const DoubleSignEvidence& v) { v.encode(w); }

void read_field(Reader& r, PublicKey& v) { v = r.fixed<32, PublicKeyTag>(); }
void read_field(Reader& r, Hash256& v) { v = r.fixed<32, HashTag>(); }
template <std::size_t N>
void read_field(Reader& r, LimitedBytes<N>& v) {
  v.bytes = r.bytes(N);
}
void read_field(Reader& r, Amount& v) { v = Amount::decode(r); }
void read_field(Reader& r, std::uint64_t& v) { v = r.varint(); }
void read_field(Reader& r, std::string& v) { v = r.string(kMaxNameBytes); }
void read_field(Reader& r, DoubleSignEvidence& v) { v = DoubleSignEvidence::decode(r); }
}  // namespace

void encode_payload(Writer& w, const Payload& p) {
  std::visit(
      [&](const auto& body) {
        using T = std::decay_t<decltype(body)>;
        w.u8(T::kTag);
        T::fields(body, [&](const char*, const auto& field) { write_field(w, field); });
      },
      p);
}

namespace {
template <std::size_t I = 0>
Payload decode_alternative(std::uint8_t tag, Reader& r) {
  if constexpr (I < std::variant_size_v<Payload>) {
    using Alt = std::variant_alternative_t<I, Payload>;
    if (tag == Alt::kTag) {
      Alt body;
      Alt::fields(body, [&](const char*, auto& field) { read_field(r, field); });
      return body;
    }
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
  if (bytes.size() > kMaxTransactionBytes)
    return make_error("tx-too-large", std::to_string(bytes.size()) + " bytes exceeds " +
                                          std::to_string(kMaxTransactionBytes));
  return decode_exact<Transaction>(bytes);
}

}  // namespace verity
