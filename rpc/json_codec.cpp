#include "rpc/json_codec.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <array>
#include <vector>

namespace verity::rpc {

namespace {
Error invalid(std::string_view field, std::string what) {
  return make_error("invalid-params", std::string(field) + ": " + what);
}

}  // namespace

const rapidjson::Value* member(const rapidjson::Value& v, const char* name) {
  if (!v.IsObject()) return nullptr;
  auto it = v.FindMember(name);
  return it == v.MemberEnd() ? nullptr : &it->value;
}

rapidjson::Value to_json(std::string_view s, JsonAlloc& alloc) {
  return rapidjson::Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), alloc);
}

rapidjson::Value to_json(Amount a, JsonAlloc& alloc) { return to_json(a.to_string(), alloc); }

rapidjson::Value field_json(const std::vector<std::pair<std::string, std::string>>& v, JsonAlloc& alloc) {
  rapidjson::Value out(rapidjson::kObjectType);
  for (const auto& [name, value] : v) out.AddMember(to_json(name, alloc), to_json(value, alloc), alloc);
  return out;
}

rapidjson::Value field_json(const Bytes& v, JsonAlloc& alloc) { return to_json(to_hex(v), alloc); }

rapidjson::Value field_json(std::uint64_t v, JsonAlloc&) { return rapidjson::Value(v); }
rapidjson::Value field_json(bool v, JsonAlloc&) { return rapidjson::Value(v); }
rapidjson::Value field_json(const std::string& v, JsonAlloc& a) { return to_json(v, a); }
rapidjson::Value field_json(Amount v, JsonAlloc& a) { return to_json(v, a); }
rapidjson::Value field_json(const DoubleSignEvidence& v, JsonAlloc& a) { return to_json(to_hex(encode(v)), a); }
rapidjson::Value field_json(const Payload& p, JsonAlloc& alloc) {
  rapidjson::Value out(rapidjson::kObjectType);
  out.AddMember("type", rapidjson::StringRef(payload_name(p)), alloc);
  std::visit([&](const auto& body) { add_fields_json(out, body, alloc); }, p);
  return out;
}

namespace {
Status field_from_json(const rapidjson::Value& v, const std::string& name, PublicKey& out) {
  auto k = fixed_from_json<32, PublicKeyTag>(v, name);
  if (!k) return k.error();
  out = *k;
  return {};
}
Status field_from_json(const rapidjson::Value& v, const std::string& name, Hash256& out) {
  auto h = fixed_from_json<32, HashTag>(v, name);
  if (!h) return h.error();
  out = *h;
  return {};
}
template <std::size_t N>
Status field_from_json(const rapidjson::Value& v, const std::string& name, LimitedBytes<N>& out) {
  if (!v.IsString()) return invalid(name, "expected a hex string");
  if (v.GetStringLength() > 2 * N) return invalid(name, "longer than " + std::to_string(N) + " bytes");
  auto raw = from_hex(std::string_view(v.GetString(), v.GetStringLength()));
  if (!raw) return invalid(name, "expected hex");
  out.bytes = std::move(*raw);
  return {};
}
Status field_from_json(const rapidjson::Value& v, const std::string& name, Amount& out) {
  auto a = amount_from_json(v, name);
  if (!a) return a.error();
  out = *a;
  return {};
}
Status field_from_json(const rapidjson::Value& v, const std::string& name, std::uint64_t& out) {
  auto u = u64_from_json(v, name);
  if (!u) return u.error();
  out = *u;
  return {};
}
Status field_from_json(const rapidjson::Value& v, const std::string& name, std::string& out, Max bound) {
  auto s = string_from_json(v, name);
  if (!s) return s.error();
  if (s->size() > bound.max) return invalid(name, "longer than " + std::to_string(bound.max) + " bytes");
  out = *s;
  return {};
}
Status field_from_json(const rapidjson::Value& v, const std::string& name, DoubleSignEvidence& out) {
  auto s = string_from_json(v, name);
  if (!s) return s.error();
  auto raw = from_hex(*s);
  if (!raw) return invalid(name, "expected hex of the encoded evidence");
  auto e = decode_exact<DoubleSignEvidence>(*raw);
  if (!e) return invalid(name, e.error().to_string());
  out = *e;
  return {};
}

template <std::size_t I = 0>
Result<Payload> payload_from_json(const std::string& type, const rapidjson::Value& p) {
  if constexpr (I < std::variant_size_v<Payload>) {
    using Alt = std::variant_alternative_t<I, Payload>;
    if (type != Alt::kName) return payload_from_json<I + 1>(type, p);
    Alt body;
    Status status;
    std::vector<std::string_view> names;
    Alt::fields(body, [&](const char* name, auto& field, auto... bounds) {
      names.push_back(name);
      if (!status) return;
      const rapidjson::Value* v = member(p, name);
      if (!v) {
        status = invalid(std::string("payload.") + name, "missing");
        return;
      }
      status = field_from_json(*v, std::string("payload.") + name, field, bounds...);
    });
    if (!status) return status.error();
    // A field the payload does not have is refused, never ignored: a typo
    // ("amuont") must not sign and send something other than meant.
    for (auto it = p.MemberBegin(); it != p.MemberEnd(); ++it) {
      const std::string_view name(it->name.GetString(), it->name.GetStringLength());
      if (name == "type" || std::find(names.begin(), names.end(), name) != names.end()) continue;
      std::string known;
      for (auto n : names) known += (known.empty() ? "" : ", ") + std::string(n);
      return invalid("payload." + std::string(name), std::string("no such field in a ") + Alt::kName + " payload (" +
                                                         (known.empty() ? "it has none" : "it has " + known) + ")");
    }
    return Payload{body};
  } else {
    return invalid("payload.type", "unknown payload type '" + type + "'");
  }
}
}  // namespace

rapidjson::Value to_json(const Transaction& tx, JsonAlloc& alloc) { return fields_json(tx, alloc); }

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
  static constexpr std::array<std::string_view, 6> kFields = {"chain_id", "sender", "nonce", "fee", "payload", "signature"};
  for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
    const std::string_view name(it->name.GetString(), it->name.GetStringLength());
    if (std::find(kFields.begin(), kFields.end(), name) == kFields.end())
      return invalid(name, "no such field in a transaction (it has chain_id, sender, nonce, fee, payload, signature)");
  }
  for (std::string_view required : kFields)
    if (!member(v, std::string(required).c_str())) return invalid(required, "missing");
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
  auto payload = payload_from_json(*type, p);
  if (!payload) return payload.error();
  tx.payload = std::move(*payload);
  return tx;
}

std::string json_string(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace verity::rpc
