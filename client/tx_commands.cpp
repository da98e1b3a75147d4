#include "client/session.h"

#include "core/hex.h"
#include "core/params.h"
#include "core/transaction.h"
#include "rpc/json_codec.h"

namespace verity::client {

namespace {

// The --KEY ADDRESS|NAME and --amount N that transfer, delegate and unbond
// take: both required, the text read as an address (a validator's operator
// when `validator`), in that order of complaints.
struct Target {
  std::string text;  // as given, for the summary
  PublicKey address;
  Amount amount;
};
Result<Target> required_target(Session& s, const Args& a, const Spec& spec, const std::string& key, bool validator) {
  auto text = required(a, spec, key, "ADDRESS|NAME");
  if (!text) return text.error();
  auto amount = required_amount(a, spec, "amount", "N");
  if (!amount) return amount.error();
  auto address = s.address_of("--" + key, *text, validator);
  if (!address) return address.error();
  return Target{*text, *address, *amount};
}

const std::string kTransferHelp = std::string(
    "Usage: verity transfer --from NAME --to ADDRESS|NAME --amount N [--fee N] [--wait]\n"
    "Moves N base units from the --from account to --to.\n\n") + kTxCommonHelp;

Status cmd_transfer(Session& s, const std::vector<std::string>& args) {
  Spec spec{"transfer", {"from", "fee", "to", "amount"}, kTxSwitches, 0, 0, ""};
  auto parsed = parse_tx_args(spec, args);
  if (!parsed) return parsed.error();
  const auto& [a, c] = *parsed;
  auto to = required_target(s, a, spec, "to", /*validator=*/false);
  if (!to) return to.error();
  const std::string summary =
      "transfer " + to->amount.to_string() + " from " + c.from + " to " + label(to->text, to->address);
  return send_transaction(s, c, Transfer{to->address, to->amount}, summary);
}

const std::string kCreateValidatorHelp = std::string(
    "Usage: verity create-validator --from NAME --consensus-key HEX --stake N --name S\n"
    "                               [--commission-bps N] [--fee N] [--wait]\n"
    "Registers --from as a validator operator with a consensus key (the node's validator key:\n"
    "'verityd show-validator --home DIR') and a self-stake; it joins the set at the next epoch.\n\n"
    "  --commission-bps N  the share of delegators' rewards the operator keeps, in basis points (default 0)\n") +
    kTxCommonHelp;

Status cmd_create_validator(Session& s, const std::vector<std::string>& args) {
  Spec spec{"create-validator", {"from", "fee", "consensus-key", "stake", "name", "commission-bps"}, kTxSwitches, 0, 0, ""};
  auto parsed = parse_tx_args(spec, args);
  if (!parsed) return parsed.error();
  const auto& [a, c] = *parsed;
  auto key_text = required(a, spec, "consensus-key", "HEX");
  if (!key_text) return key_text.error();
  auto key = PublicKey::from_hex(*key_text);
  if (!key || !is_valid_public_key(*key))
    return usage_error("--consensus-key: expected a public key of 64 hex digits ('verityd show-validator --home DIR' prints it)");
  auto stake = required_amount(a, spec, "stake", "N");
  if (!stake) return stake.error();
  auto name = required(a, spec, "name", "S (the validator's public name)");
  if (!name) return name.error();
  if (name->size() > kMaxNameBytes) return usage_error("--name: at most 64 bytes");
  std::uint64_t bps = 0;
  if (auto b = a.get("commission-bps")) {
    auto v = parse_u64_arg("--commission-bps", *b);
    if (!v) return v.error();
    if (*v > 10'000) return usage_error("--commission-bps: at most 10000 (100%)");
    bps = *v;
  }
  return send_transaction(s, c, CreateValidator{*key, *stake, *name, bps},
                          "create-validator '" + *name + "' operated by " + c.from + " with stake " + stake->to_string());
}

const std::string kDelegateHelp = std::string(
    "Usage: verity delegate --from NAME --validator ADDRESS|NAME --amount N [--fee N] [--wait]\n"
    "Bonds N base units of --from's balance to the validator (its operator address or name).\n\n") +
    kTxCommonHelp;
const std::string kUnbondHelp = std::string(
    "Usage: verity unbond --from NAME --validator ADDRESS|NAME --amount N [--fee N] [--wait]\n"
    "Starts unbonding N base units of --from's delegation (value, not shares); they reach the balance\n"
    "with 'verity withdraw' once the unbonding period (params.unbonding_blocks) has passed.\n\n") +
    kTxCommonHelp;

Status cmd_delegate(Session& s, const std::vector<std::string>& args, bool unbond) {
  Spec spec{unbond ? "unbond" : "delegate", {"from", "fee", "validator", "amount"}, kTxSwitches, 0, 0, ""};
  auto parsed = parse_tx_args(spec, args);
  if (!parsed) return parsed.error();
  const auto& [a, c] = *parsed;
  auto v = required_target(s, a, spec, "validator", /*validator=*/true);
  if (!v) return v.error();
  const std::string summary = std::string(unbond ? "unbond " : "delegate ") + v->amount.to_string() + " from " +
                              c.from + (unbond ? " out of validator " : " to validator ") + label(v->text, v->address);
  if (unbond) return send_transaction(s, c, Undelegate{v->address, v->amount}, summary);
  return send_transaction(s, c, Delegate{v->address, v->amount}, summary);
}

const std::string kWithdrawHelp = std::string(
    "Usage: verity withdraw --from NAME [--fee N] [--wait]\n"
    "Moves --from's unbonding entries whose period has passed to its balance.\n\n") + kTxCommonHelp;
const std::string kClaimHelp = std::string(
    "Usage: verity claim --from NAME [--fee N] [--wait]\n"
    "Moves --from's vested rewards (whose lock has expired) to its balance.\n\n") + kTxCommonHelp;
const std::string kUnjailHelp = std::string(
    "Usage: verity unjail --from NAME [--fee N] [--wait]\n"
    "Lets --from's jailed validator back: it rejoins the set at the next epoch boundary. The chain\n"
    "refuses it before the jail time has passed (still-jailed) and while the validator's tokens are\n"
    "below the minimum stake (below-min-stake: delegate the missing stake to it first). The client\n"
    "asks the node first, and when the chain would refuse, says why (until which height, how much\n"
    "stake is missing) and sends nothing: no fee is spent.\n\n") + kTxCommonHelp;

// An unjail the chain would refuse in the next block is not sent: the
// node's `validator` answer carries the contract's own verdict
// (unjail_refusal) and the sentence that explains it (detail). A node that
// cannot say (no such field) leaves the decision to the chain.
Status cmd_unjail(Session& s, const std::vector<std::string>& args) {
  Spec spec{"unjail", {"from", "fee"}, kTxSwitches, 0, 0, ""};
  auto parsed = parse_tx_args(spec, args);
  if (!parsed) return parsed.error();
  const auto& [a, c] = *parsed;
  if (auto address = s.address_of("--from", c.from)) {  // else the signer's own error comes below
    rapidjson::Document params(rapidjson::kObjectType);
    params.AddMember("address", rpc::to_json(address->hex(), params.GetAllocator()), params.GetAllocator());
    auto v = s.call("validator", params);
    if (!v && exit_code_for(v.error()) == kExitUnreachable) return v.error();
    if (!v && v.error().reason == "not-found")
      return make_error("unknown-validator",
                        label(c.from, *address) + " operates no validator: there is nothing to unjail; nothing was sent");
    const Json* refusal = v ? member(*v, "unjail_refusal") : nullptr;
    if (refusal && refusal->IsString() && refusal->GetStringLength() > 0)
      return make_error(refusal->GetString(),
                        "nothing was sent, as the chain would refuse it: validator '" + text_of(*v, "name") + "'" +
                            (std::string(refusal->GetString()) == "not-jailed" ? " is not jailed, and " : ": ") +
                            text_of(*v, "detail"));
  }
  return send_transaction(s, c, Unjail{}, "unjail by " + c.from);
}

const std::string kEvidenceHelp = std::string(
    "Usage: verity submit-evidence --from NAME --evidence HEX [--fee N] [--wait]\n"
    "Reports a validator that signed two conflicting votes; HEX is the canonical encoding of the\n"
    "DoubleSignEvidence (two votes). The reporter earns params.evidence_reward_bps of the slash.\n\n") +
    kTxCommonHelp;

Status cmd_submit_evidence(Session& s, const std::vector<std::string>& args) {
  Spec spec{"submit-evidence", {"from", "fee", "evidence"}, kTxSwitches, 0, 0, ""};
  auto parsed = parse_tx_args(spec, args);
  if (!parsed) return parsed.error();
  const auto& [a, c] = *parsed;
  auto hex = required(a, spec, "evidence", "HEX");
  if (!hex) return hex.error();
  auto raw = from_hex(*hex);
  if (!raw) return usage_error("--evidence: not hex");
  auto ev = decode_exact<DoubleSignEvidence>(*raw);
  if (!ev) return usage_error("--evidence: not a canonical DoubleSignEvidence: " + ev.error().to_string());
  return send_transaction(s, c, SubmitEvidence{*ev},
                          "submit-evidence against validator " + ev->validator().hex() + " at height " +
                              std::to_string(ev->height()) + " by " + c.from);
}

}  // namespace

std::vector<Command> transaction_commands() {
  return {
      {"transfer", "--from NAME --to ADDRESS|NAME --amount N: sends tokens", kTransferHelp, cmd_transfer},
      {"create-validator", "--from NAME --consensus-key HEX --stake N --name S", kCreateValidatorHelp,
       cmd_create_validator},
      {"delegate", "--from NAME --validator X --amount N: bonds stake", kDelegateHelp,
       [](Session& s, const auto& a) { return cmd_delegate(s, a, false); }},
      {"unbond", "--from NAME --validator X --amount N: starts unbonding", kUnbondHelp,
       [](Session& s, const auto& a) { return cmd_delegate(s, a, true); }},
      {"withdraw", "--from NAME: collects finished unbondings", kWithdrawHelp,
       [](Session& s, const auto& a) { return cmd_simple<Withdraw>(s, a, "withdraw"); }},
      {"claim", "--from NAME: collects vested rewards", kClaimHelp,
       [](Session& s, const auto& a) { return cmd_simple<Claim>(s, a, "claim"); }},
      {"unjail", "--from NAME: brings a jailed validator back", kUnjailHelp, cmd_unjail},
      {"submit-evidence", "--from NAME --evidence HEX: reports a double sign", kEvidenceHelp, cmd_submit_evidence},
  };
}

}  // namespace verity::client
