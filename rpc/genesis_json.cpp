#include "rpc/genesis_json.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include <set>

#include "rpc/json_codec.h"

namespace verity::rpc {

namespace {

Error bad(const std::string& field, const std::string& what) {
  return make_error("bad-genesis", field + ": " + what);
}

// Reads the members of one JSON object, and at the end rejects any it was
// not asked for.
class ObjectReader {
 public:
  ObjectReader(const rapidjson::Value& v, std::string path) : v_(v), path_(std::move(path)) {}

  Status check_object() const {
    if (!v_.IsObject()) return bad(path_, "expected an object");
    return {};
  }
  std::string field(const char* name) const { return path_.empty() ? name : path_ + "." + name; }

  Result<const rapidjson::Value*> get(const char* name) {
    seen_.insert(name);
    auto it = v_.FindMember(name);
    if (it == v_.MemberEnd()) return bad(field(name), "missing");
    return &it->value;
  }
  Result<std::string> string(const char* name) {
    auto v = get(name);
    if (!v) return v.error();
    if (!(*v)->IsString()) return bad(field(name), "expected a string");
    return std::string((*v)->GetString(), (*v)->GetStringLength());
  }
  Result<std::uint64_t> u64(const char* name) {
    auto v = get(name);
    if (!v) return v.error();
    if (!(*v)->IsUint64()) return bad(field(name), "expected an unsigned integer");
    return (*v)->GetUint64();
  }
  Result<Amount> amount(const char* name) {
    auto s = string(name);
    if (!s) return bad(field(name), "expected a decimal string such as \"1000\"");
    auto a = Amount::parse(*s);
    if (!a) return bad(field(name), a.error().detail);
    return a;
  }
  Result<PublicKey> key(const char* name) {
    auto s = string(name);
    if (!s) return s.error();
    auto k = PublicKey::from_hex(*s);
    if (!k) return bad(field(name), "expected 64 hex digits (" + k.error().detail + ")");
    return k;
  }
  // Member `name`, an array of objects, each read by `read` (given an
  // ObjectReader of it) into a T; members `read` did not ask for are refused.
  template <class T, class F>
  Result<std::vector<T>> objects(const char* name, F&& read) {
    auto array = get(name);
    if (!array) return array.error();
    if (!(*array)->IsArray()) return bad(field(name), "expected an array");
    std::vector<T> out;
    for (rapidjson::SizeType i = 0; i < (*array)->Size(); ++i) {
      ObjectReader o((**array)[i], field(name) + "[" + std::to_string(i) + "]");
      if (auto s = o.check_object(); !s) return s.error();
      auto item = read(o);
      if (!item) return item.error();
      if (auto s = o.no_unknown_fields(); !s) return s.error();
      out.push_back(std::move(*item));
    }
    return out;
  }
  Status no_unknown_fields() const {
    for (auto it = v_.MemberBegin(); it != v_.MemberEnd(); ++it) {
      std::string name(it->name.GetString(), it->name.GetStringLength());
      if (!seen_.count(name)) return bad(field(name.c_str()), "unknown field");
    }
    return {};
  }

 private:
  const rapidjson::Value& v_;
  std::string path_;
  std::set<std::string> seen_;
};

#define VERITY_ASSIGN(target, expr) \
  do {                              \
    auto r_ = (expr);               \
    if (!r_) return r_.error();     \
    target = std::move(*r_);        \
  } while (0)

Status read_params(ObjectReader& obj, ProtocolParams& p) {
  Status out;
  for_each_param(p, [&](const char* name, auto& value, ParamRule) {
    if (!out) return;
    using T = std::decay_t<decltype(value)>;
    if constexpr (std::is_same_v<T, Amount>) {
      auto a = obj.amount(name);
      if (!a) out = a.error(); else value = *a;
    } else {
      auto u = obj.u64(name);
      if (!u) out = u.error(); else value = *u;
    }
  });
  if (!out) return out;
  return obj.no_unknown_fields();
}

Result<Genesis> read_genesis(const rapidjson::Value& root) {
  Genesis g;
  ObjectReader top(root, "");
  if (auto s = top.check_object(); !s) return s.error();
  VERITY_ASSIGN(g.chain_id, top.string("chain_id"));
  VERITY_ASSIGN(g.genesis_time, top.u64("genesis_time"));

  const rapidjson::Value* params;
  VERITY_ASSIGN(params, top.get("params"));
  ObjectReader p(*params, "params");
  if (auto s = p.check_object(); !s) return s.error();
  if (auto s = read_params(p, g.params); !s) return s.error();

  VERITY_ASSIGN(g.accounts, top.objects<GenesisAccount>("accounts", [](ObjectReader& a) -> Result<GenesisAccount> {
    GenesisAccount acct;
    VERITY_ASSIGN(acct.name, a.string("name"));
    VERITY_ASSIGN(acct.address, a.key("address"));
    VERITY_ASSIGN(acct.balance, a.amount("balance"));
    return acct;
  }));
  VERITY_ASSIGN(g.validators, top.objects<GenesisValidator>("validators", [](ObjectReader& v) -> Result<GenesisValidator> {
    GenesisValidator val;
    VERITY_ASSIGN(val.name, v.string("name"));
    VERITY_ASSIGN(val.operator_address, v.key("operator"));
    VERITY_ASSIGN(val.consensus_key, v.key("consensus_key"));
    VERITY_ASSIGN(val.stake, v.amount("stake"));
    return val;
  }));
  if (auto s = top.no_unknown_fields(); !s) return s.error();
  if (auto s = g.validate(); !s) return s.error();
  return g;
}

#undef VERITY_ASSIGN

}  // namespace

Result<Genesis> genesis_from_json(std::string_view text) {
  rapidjson::Document doc;
  // Trailing non-space text is an error, and so is a string that is not
  // UTF-8 (names are served back as JSON by the genesis method).
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(text.data(), text.size());
  if (doc.HasParseError())
    return make_error("bad-genesis", std::string("not valid JSON at byte ") + std::to_string(doc.GetErrorOffset()) +
                                         ": " + rapidjson::GetParseError_En(doc.GetParseError()));
  return read_genesis(doc);
}

std::string genesis_to_json(const Genesis& g) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& alloc = doc.GetAllocator();
  doc.AddMember("chain_id", to_json(g.chain_id, alloc), alloc);
  doc.AddMember("genesis_time", rapidjson::Value(g.genesis_time), alloc);
  rapidjson::Value params(rapidjson::kObjectType);
  for_each_param(g.params, [&](const char* name, const auto& value, ParamRule) {
    using T = std::decay_t<decltype(value)>;
    if constexpr (std::is_same_v<T, Amount>)
      params.AddMember(rapidjson::StringRef(name), to_json(value, alloc), alloc);
    else
      params.AddMember(rapidjson::StringRef(name), rapidjson::Value(value), alloc);
  });
  doc.AddMember("params", params, alloc);
  doc.AddMember("accounts", field_json(g.accounts, alloc), alloc);  // {name, address, balance}: its fields list
  rapidjson::Value validators(rapidjson::kArrayType);
  for (const auto& v : g.validators) {
    rapidjson::Value o(rapidjson::kObjectType);
    o.AddMember("name", to_json(v.name, alloc), alloc);
    o.AddMember("operator", to_json(v.operator_address, alloc), alloc);
    o.AddMember("consensus_key", to_json(v.consensus_key, alloc), alloc);
    o.AddMember("stake", to_json(v.stake, alloc), alloc);
    validators.PushBack(o, alloc);
  }
  doc.AddMember("validators", validators, alloc);
  rapidjson::StringBuffer buf;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buf);
  w.SetIndent(' ', 2);
  doc.Accept(w);
  return std::string(buf.GetString(), buf.GetSize()) + "\n";
}

}  // namespace verity::rpc
