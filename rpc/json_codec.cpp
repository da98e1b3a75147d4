#include "rpc/json_codec.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace verity::rpc {

namespace {
Error invalid(std::string_view field, std::string what) {
  return make_error("invalid-params", std::string(field) + ": " + what);
}

const rapidjson::Value* member(const rapidjson::Value& obj, const char* name) {
  auto it = obj.FindMember(name);
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

rapidjson::Value str(std::string_view s, JsonAlloc& alloc) {
  return rapidjson::Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), alloc);
}
}  // namespace

rapidjson::Value to_json(Amount a, JsonAlloc& alloc) { return str(a.to_string(), alloc); }

rapidjson::Value to_json(const Transaction& tx, JsonAlloc& alloc) {
  rapidjson::Value payload(rapidjson::kObjectType);
  payload.AddMember("type", rapidjson::StringRef(payload_name(tx.payload)), alloc);
  std::visit(
      [&](const auto& body) {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, Transfer>) {
          payload.AddMember("to", to_json(body.to, alloc), alloc);
          payload.AddMember("amount", to_json(body.amount, alloc), alloc);
        }
      },
      tx.payload);
  rapidjson::Value out(rapidjson::kObjectType);
  out.AddMember("chain_id", str(tx.chain_id, alloc), alloc);
  out.AddMember("sender", to_json(tx.sender, alloc), alloc);
  out.AddMember("nonce", rapidjson::Value(tx.nonce), alloc);
  out.AddMember("fee", to_json(tx.fee, alloc), alloc);
  out.AddMember("payload", payload, alloc);
  out.AddMember("signature", to_json(tx.signature, alloc), alloc);
  return out;
}

Result<std::string> string_from_json(const rapidjson::Value& v, std::string_view field) {
  if (!v.IsString()) return invalid(field, "expected a string");
  return std::string(v.GetString(), v.GetStringLength());
}

Result<Amount> amount_from_json(const rapidjson::Value& v, std::string_view field) {
  if (!v.IsString()) return invalid(field, "expected a decimal string such as \"1000\"");
  auto a = Amount::parse(std::string_view(v.GetString(), v.GetStringLength()));
  if (!a) return invalid(field, a.error().detail);
  return a;
}

Result<std::uint64_t> u64_from_json(const rapidjson::Value& v, std::string_view field) {
  if (!v.IsUint64()) return invalid(field, "expected an unsigned integer");
  return v.GetUint64();
}

Result<Transaction> transaction_from_json(const rapidjson::Value& v) {
  if (!v.IsObject()) return invalid("transaction", "expected an object");
  for (const char* required : {"chain_id", "sender", "nonce", "fee", "payload", "signature"})
    if (!member(v, required)) return invalid(required, "missing");
  Transaction tx;
  auto chain_id = string_from_json(*member(v, "chain_id"), "chain_id");
  if (!chain_id) return chain_id.error();
  if (chain_id->size() > kMaxChainIdBytes) return invalid("chain_id", "too long");
  tx.chain_id = *chain_id;
  auto sender = fixed_from_json<32, PublicKeyTag>(*member(v, "sender"), "sender");
  if (!sender) return sender.error();
  tx.sender = *sender;
  auto nonce = u64_from_json(*member(v, "nonce"), "nonce");
  if (!nonce) return nonce.error();
  tx.nonce = *nonce;
  auto fee = amount_from_json(*member(v, "fee"), "fee");
  if (!fee) return fee.error();
  tx.fee = *fee;
  auto sig = fixed_from_json<64, SignatureTag>(*member(v, "signature"), "signature");
  if (!sig) return sig.error();
  tx.signature = *sig;

  const rapidjson::Value& p = *member(v, "payload");
  if (!p.IsObject() || !member(p, "type")) return invalid("payload", "expected an object with a type");
  auto type = string_from_json(*member(p, "type"), "payload.type");
  if (!type) return type.error();
  if (*type == Transfer::kName) {
    if (!member(p, "to") || !member(p, "amount")) return invalid("payload", "transfer needs to and amount");
    auto to = fixed_from_json<32, PublicKeyTag>(*member(p, "to"), "payload.to");
    if (!to) return to.error();
    auto amount = amount_from_json(*member(p, "amount"), "payload.amount");
    if (!amount) return amount.error();
    tx.payload = Transfer{*to, *amount};
  } else {
    return invalid("payload.type", "unknown payload type '" + *type + "'");
  }
  return tx;
}

std::string json_string(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace verity::rpc
