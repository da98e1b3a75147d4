#include "node/export.h"

#include <map>
#include <set>

#include "contracts/accounts.h"
#include "contracts/staking.h"
#include "contracts/task_records.h"

namespace verity::node {

namespace {

// Sums amounts, refusing an overflow (a supply fits in 64 bits).
Status add_to(Amount& total, Amount a) {
  auto sum = total.checked_add(a);
  if (!sum) return local_error("state-corrupt", "holdings overflow 64 bits");
  total = *sum;
  return {};
}

}  // namespace

Result<ExportedState> export_state(const state::PastState& s, const Genesis& original, const std::string& chain_id,
                                   std::uint64_t genesis_time) {
  if (chain_id == original.chain_id)
    return make_error("same-chain-id", "the exported chain needs a chain id of its own: nonces start again at 0 there, "
                                       "so a transaction signed for '" + chain_id + "' must not be valid on it");
  ExportedState out;
  out.height = s.height();
  Genesis& g = out.genesis;
  g.chain_id = chain_id;
  g.genesis_time = genesis_time;
  g.params = original.params;

  // The holders: every account, every validator's operator, every worker.
  std::set<PublicKey> holders;
  const Bytes account_prefix = contracts::account_key(PublicKey{});
  const ByteView prefix(account_prefix.data(), account_prefix.size() - PublicKey{}.view().size());
  if (auto st = s.scan(prefix, [&](ByteView key, ByteView) {
        if (key.size() == prefix.size() + 32) holders.insert(PublicKey::from_view(key.subspan(prefix.size())));
        return true;
      });
      !st)
    return st.error();
  auto operators = contracts::validator_operators(s);
  if (!operators) return operators.error();
  holders.insert(operators->begin(), operators->end());
  auto workers = contracts::worker_keys(s);
  if (!workers) return workers.error();
  holders.insert(workers->begin(), workers->end());

  // The validators: the set at that height, staked with their operators' own delegations.
  auto raw_set = s.get(state::kValidatorSetKey);
  if (!raw_set) return raw_set.error();
  if (!*raw_set) return local_error("state-corrupt", "no validator set in state");
  auto set = decode_exact<ValidatorSet>(**raw_set);
  if (!set) return local_error("state-corrupt", "the validator set does not decode");
  std::map<PublicKey, GenesisValidator> validators;  // by operator
  for (const auto& member : set->validators()) {
    auto op = contracts::operator_of(s, member.key);
    if (!op) return op.error();
    if (!*op) return local_error("state-corrupt", "no operator for consensus key " + member.key.hex());
    auto v = contracts::load_validator(s, **op);
    if (!v) return v.error();
    auto own = contracts::load_delegation(s, **op, **op);
    if (!own) return own.error();
    if (!*v || !*own) continue;
    const Amount stake = contracts::delegation_value(**v, **own);
    if (stake.is_zero()) continue;
    validators[**op] = GenesisValidator{(*v)->name, **op, member.key, stake};
  }
  if (validators.empty())
    return make_error("bad-genesis", "no validator of the set at height " + std::to_string(out.height) +
                                         " has a stake of its operator's own to start the new chain with");

  for (const auto& h : holders) {
    Amount total;
    auto account = contracts::load_account(s, h);
    if (!account) return account.error();
    if (auto st = add_to(total, account->balance); !st) return st.error();
    auto delegated = contracts::delegated_validators(s, h);
    if (!delegated) return delegated.error();
    for (const auto& op : *delegated) {
      if (op == h && validators.count(op)) continue;  // its genesis stake
      auto v = contracts::load_validator(s, op);
      if (!v) return v.error();
      auto d = contracts::load_delegation(s, op, h);
      if (!d) return d.error();
      if (*v && *d)
        if (auto st = add_to(total, contracts::delegation_value(**v, **d)); !st) return st.error();
    }
    auto unbonding = contracts::unbonding_entries(s, h);
    if (!unbonding) return unbonding.error();
    for (const auto& e : *unbonding)
      if (auto st = add_to(total, e.amount); !st) return st.error();
    auto rewards = contracts::rewards_of(s, h, out.height + 1, original.params);
    if (!rewards) return rewards.error();
    if (auto st = add_to(total, rewards->vested); !st) return st.error();
    if (auto st = add_to(total, rewards->locked); !st) return st.error();
    auto worker = contracts::load_worker(s, h);
    if (!worker) return worker.error();
    if (*worker) {
      if (auto st = add_to(total, (*worker)->stake); !st) return st.error();
      if (auto st = add_to(total, (*worker)->unbonding); !st) return st.error();
    }
    if (total.is_zero()) continue;
    auto v = validators.find(h);
    g.accounts.push_back({v != validators.end() ? v->second.name : "", h, total});
    if (auto st = add_to(out.carried, total); !st) return st.error();
  }
  for (auto& [op, v] : validators) {
    if (auto st = add_to(out.carried, v.stake); !st) return st.error();
    g.validators.push_back(std::move(v));
  }

  auto supply = contracts::supply_record(s);
  if (!supply) return supply.error();
  auto total = original.total_supply().checked_add(supply->minted);
  if (!total || total->units() < supply->burned.units())
    return local_error("state-corrupt", "the supply record does not add up");
  out.supply = Amount(total->units() - supply->burned.units());
  if (out.carried.units() > out.supply.units())
    return local_error("state-corrupt", "the holdings exceed the supply: " + out.carried.to_string() + " > " +
                                            out.supply.to_string());
  out.not_carried = Amount(out.supply.units() - out.carried.units());
  if (auto st = g.validate(); !st) return st.error();
  return out;
}

}  // namespace verity::node
