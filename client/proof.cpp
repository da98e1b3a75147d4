#include "client/session.h"

#include <fstream>
#include <sstream>

#include "core/block.h"
#include "core/hex.h"
#include "core/state_proof.h"
#include "core/validator_set.h"
#include "rpc/genesis_json.h"
#include "rpc/json_codec.h"

namespace verity::client {

Result<ProvenAccount> verify_account_proof(const Json& result, const PublicKey& address, LightClient& light,
                                           const LightClient::HandoffSource& handoffs) {
  const std::string& chain_id = light.chain_id();
  auto bad = [](const std::string& reason, const std::string& why) { return make_error(reason, why); };
  const Json* p = member(result, "proof");
  if (!p || !p->IsObject()) return bad("proof-missing", "the answer holds no proof");
  auto hex_field = [&](const char* name) -> Result<Bytes> {
    const Json* v = member(*p, name);
    if (!v || !v->IsString()) return bad("proof-malformed", std::string("proof.") + name + ": missing or not a string");
    auto raw = from_hex(std::string_view(v->GetString(), v->GetStringLength()));
    if (!raw) return bad("proof-malformed", std::string("proof.") + name + ": not hex");
    return raw;
  };
  auto height = u64_of(*p, "height");
  if (!height) return bad("proof-malformed", "proof.height: missing or not an unsigned integer");
  auto key = hex_field("key");
  if (!key) return key.error();
  if (*key != contracts::account_key(address))
    return bad("proof-wrong-key", "the proof is for another state key than the account " + address.hex());
  std::optional<Bytes> value;
  if (const Json* v = member(*p, "value"); v && !v->IsNull()) {
    auto raw = hex_field("value");
    if (!raw) return raw.error();
    value = std::move(*raw);
  } else if (!v) {
    return bad("proof-malformed", "proof.value: missing (null when the account does not exist)");
  }
  auto root_bytes = hex_field("root");
  if (!root_bytes) return root_bytes.error();
  if (root_bytes->size() != 32) return bad("proof-malformed", "proof.root: not 32 bytes");
  const Hash256 root = Hash256::from_view(*root_bytes);

  auto decode_field = [&]<class T>(const char* name, T*) -> Result<T> {
    auto raw = hex_field(name);
    if (!raw) return raw.error();
    auto v = decode_exact<T>(*raw);
    if (!v) return bad("proof-malformed", std::string("proof.") + name + ": " + v.error().to_string());
    return v;
  };
  auto header = decode_field("header", static_cast<BlockHeader*>(nullptr));
  if (!header) return header.error();
  auto cert = decode_field("certificate", static_cast<CommitCertificate*>(nullptr));
  if (!cert) return cert.error();
  auto validators = decode_field("validators", static_cast<ValidatorSet*>(nullptr));
  if (!validators) return validators.error();
  auto proof = decode_field("proof", static_cast<StateProof*>(nullptr));
  if (!proof) return proof.error();

  if (header->chain_id != chain_id)
    return bad("proof-wrong-chain", "the header is of chain '" + header->chain_id + "', not '" + std::string(chain_id) + "'");
  if (header->height != *height || cert->height != *height)
    return bad("proof-wrong-height", "proof.height " + std::to_string(*height) + ", header height " +
                                         std::to_string(header->height) + ", certificate height " +
                                         std::to_string(cert->height) + " differ");
  if (header->hash() != cert->block_hash)
    return bad("proof-bad-certificate", "the certificate is for block " + cert->block_hash.hex() +
                                            ", but the header hashes to " + header->hash().hex());
  // The set that certifies this height, followed from what the user trusts.
  if (auto s = light.follow(*height, handoffs); !s) return s.error();
  if (*validators != light.validators())
    return bad("proof-wrong-validators", "the node names a validator set (" + validators->hash().hex() +
                                             ") that is not the one the hand-offs from genesis lead to (" +
                                             light.validators().hash().hex() + ") for height " + std::to_string(*height));
  if (auto s = light.verify_header(*header, *cert); !s) return s.error();
  if (header->state_root != root)
    return bad("proof-wrong-root", "the proof is against root " + root.hex() + ", but the certified header's state root is " +
                                       header->state_root.hex());
  if (auto s = verify_state_proof(root, *key, value, *proof); !s)
    return bad(s.error().reason, "the state proof does not hold: " + s.error().to_string());

  ProvenAccount out;
  out.height = *height;
  contracts::Account shown;
  if (value) {
    auto acct = decode_exact<contracts::Account>(*value);
    if (!acct) return bad("proof-malformed", "proof.value: not an Account: " + acct.error().to_string());
    out.account = *acct;
    shown = *acct;
  }
  // The answer's own fields must be what the proof shows.
  if (const Json* b = member(result, "balance"))
    if (!b->IsString() || std::string(b->GetString()) != shown.balance.to_string())
      return bad("proof-mismatch", "the answer says balance " + text_of(result, "balance") + ", the proof says " +
                                       shown.balance.to_string());
  if (auto n = u64_of(result, "nonce"); n && *n != shown.nonce)
    return bad("proof-mismatch", "the answer says nonce " + std::to_string(*n) + ", the proof says " +
                                     std::to_string(shown.nonce));
  return out;
}

Result<std::vector<ValidatorHandoff>> read_handoffs(const Json& answer) {
  auto bad = [](const std::string& why) { return make_error("rpc-bad-response", "validator_handoffs: " + why); };
  const Json* list = member(answer, "handoffs");
  if (!list || !list->IsArray()) return bad("handoffs: missing or not an array");
  std::vector<ValidatorHandoff> out;
  for (const auto& item : list->GetArray()) {
    const Json* h = item.IsObject() ? member(item, "handoff") : nullptr;
    if (!h || !h->IsString()) return bad("handoffs[" + std::to_string(out.size()) + "].handoff: missing or not a string");
    auto raw = from_hex(std::string_view(h->GetString(), h->GetStringLength()));
    if (!raw) return bad("handoffs[" + std::to_string(out.size()) + "].handoff: not hex");
    auto decoded = decode_exact<ValidatorHandoff>(*raw);
    if (!decoded) return bad("handoffs[" + std::to_string(out.size()) + "]: " + decoded.error().to_string());
    out.push_back(std::move(*decoded));
  }
  return out;
}

Result<LightClient> Session::light_client(std::optional<std::uint64_t> trust_height, std::optional<Hash256> trust_hash) {
  if (g_.genesis.empty())
    return usage_error("a proof is checked from the chain's genesis, trusting nothing the node says: give --genesis FILE "
                       "(or set VERITY_GENESIS; the devnet's is genesis/devnet.json)");
  std::ifstream in(g_.genesis, std::ios::binary);
  if (!in) return make_error("bad-genesis", "cannot read the genesis file " + g_.genesis);
  std::stringstream text;
  text << in.rdbuf();
  auto genesis = rpc::genesis_from_json(text.str());
  if (!genesis) return make_error("bad-genesis", g_.genesis + ": " + genesis.error().detail);
  auto node_chain = chain_id();
  if (!node_chain) return node_chain.error();
  if (*node_chain != genesis->chain_id)
    return make_error("wrong-chain", "the genesis file " + g_.genesis + " is of chain '" + genesis->chain_id +
                                         "', the node is on '" + *node_chain + "'");
  if (!trust_height) return LightClient::from_genesis(*genesis);
  auto page = handoff_source()(*trust_height);
  if (!page) return page.error();
  if (page->empty() || page->front().header.height != *trust_height)
    return make_error("handoff-missing", "the node has no hand-off of block " + std::to_string(*trust_height) +
                                             " (trust an epoch block: a multiple of epoch_blocks, " +
                                             std::to_string(genesis->params.epoch_blocks) + ")");
  return LightClient::from_trusted(*genesis, page->front(), *trust_hash);
}

LightClient::HandoffSource Session::handoff_source() {
  return [this](std::uint64_t from) -> Result<std::vector<ValidatorHandoff>> {
    rapidjson::Document params(rapidjson::kObjectType);
    params.AddMember("from_height", Json(from), params.GetAllocator());
    auto r = call("validator_handoffs", params);
    if (!r) return r.error();
    return read_handoffs(*r);
  };
}

}  // namespace verity::client
