#include "core/genesis.h"

#include <set>

namespace verity {

bool is_valid_chain_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxChainIdBytes) return false;
  for (char c : id)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')) return false;
  return true;
}

namespace {
Error bad(const std::string& field, const std::string& what) { return make_error("bad-genesis", field + ": " + what); }
}  // namespace

Status Genesis::validate() const {
  if (!is_valid_chain_id(chain_id)) return bad("chain_id", "must be 1 to 64 characters of a-z 0-9 . _ -");
  if (auto s = verity::validate(params); !s) return bad("params", s.error().detail);
  if (validators.empty()) return bad("validators", "at least one validator is needed");
  if (validators.size() > params.max_validators)
    return bad("validators", "more than params.max_validators (" + std::to_string(params.max_validators) + ")");
  Amount supply;
  std::set<PublicKey> addresses;
  for (std::size_t i = 0; i < accounts.size(); ++i) {
    std::string field = "accounts[" + std::to_string(i) + "]";
    if (!is_valid_public_key(accounts[i].address)) return bad(field + ".address", "not a valid public key");
    if (!addresses.insert(accounts[i].address).second) return bad(field + ".address", "duplicate account");
    auto s = supply.checked_add(accounts[i].balance);
    if (!s) return bad(field + ".balance", "total supply overflows 64 bits");
    supply = *s;
  }
  std::set<PublicKey> consensus_keys;
  for (std::size_t i = 0; i < validators.size(); ++i) {
    std::string field = "validators[" + std::to_string(i) + "]";
    const auto& v = validators[i];
    if (!is_valid_public_key(v.consensus_key)) return bad(field + ".consensus_key", "not a valid public key");
    if (!is_valid_public_key(v.operator_address)) return bad(field + ".operator", "not a valid public key");
    if (!consensus_keys.insert(v.consensus_key).second) return bad(field + ".consensus_key", "duplicate validator");
    if (v.stake.is_zero()) return bad(field + ".stake", "must be positive");
    auto s = supply.checked_add(v.stake);
    if (!s) return bad(field + ".stake", "total supply overflows 64 bits");
    supply = *s;
  }
  return {};
}

Amount Genesis::total_supply() const {
  std::uint64_t total = 0;
  for (const auto& a : accounts) total += a.balance.units();
  for (const auto& v : validators) total += v.stake.units();
  return Amount(total);
}

Result<ValidatorSet> Genesis::validator_set() const {
  std::vector<Validator> vs;
  for (const auto& v : validators) vs.push_back({v.consensus_key, v.stake.units()});
  return ValidatorSet::create(std::move(vs));
}

Hash256 Genesis::hash() const { return tagged_hash(Domain::genesis, verity::encode(*this)); }

}  // namespace verity
