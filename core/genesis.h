#pragma once
// The genesis of a network, as a typed and validated struct. Its JSON form
// is read by rpc/genesis_json.h; its hash (of the canonical encoding) is the
// `prev_hash` of block 1, so nodes with different genesis files can never
// agree on a block.

#include <cstdint>
#include <string>
#include <vector>

#include "core/amount.h"
#include "core/encoding.h"
#include "core/hash.h"
#include "core/keys.h"
#include "core/params.h"
#include "core/transaction.h"
#include "core/validator_set.h"

namespace verity {

struct GenesisAccount {
  std::string name;  // informational ("alice")
  PublicKey address;
  Amount balance;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("name", s.name, Max{64});
    f("address", s.address);
    f("balance", s.balance);
  }
  friend bool operator==(const GenesisAccount&, const GenesisAccount&) = default;
};

struct GenesisValidator {
  std::string name;
  PublicKey operator_address;  // the account that owns the stake
  PublicKey consensus_key;     // signs consensus messages
  Amount stake;                // bonded at genesis; voting power = stake
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("name", s.name, Max{64});
    f("operator_address", s.operator_address);
    f("consensus_key", s.consensus_key);
    f("stake", s.stake);
  }
  friend bool operator==(const GenesisValidator&, const GenesisValidator&) = default;
};

struct Genesis {
  std::string chain_id;
  std::uint64_t genesis_time = 0;  // Unix seconds; informational
  ProtocolParams params;
  std::vector<GenesisAccount> accounts;
  std::vector<GenesisValidator> validators;

  // Reason "bad-genesis"; the detail names the field, e.g.
  // "validators[1].stake: must be positive".
  Status validate() const;
  Hash256 hash() const;
  // Balances plus stake; validate() guarantees it fits in 64 bits.
  Amount total_supply() const;
  Result<ValidatorSet> validator_set() const;

  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("chain_id", s.chain_id, Max{kMaxChainIdBytes});
    f("genesis_time", s.genesis_time);
    f("params", s.params);
    f("accounts", s.accounts, Max{1'000'000, 34});
    f("validators", s.validators, Max{kMaxValidators, 66});
  }
  friend bool operator==(const Genesis&, const Genesis&) = default;
};

// Chain ids are 1 to 64 characters of [a-z0-9._-].
bool is_valid_chain_id(std::string_view id);

}  // namespace verity
