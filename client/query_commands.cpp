#include "client/session.h"

#include <algorithm>

#include "core/params.h"
#include "rpc/json_codec.h"

namespace verity::client {

namespace {

// --- queries ------------------------------------------------------------------------

const char* kStatusHelp = "Usage: verity status\nThe node's chain, height, latest block, peers and mempool.\n";

Status cmd_status(Session& s, const std::vector<std::string>& args) {
  auto a = parse_args(Spec{"status", {}, {}, 0, 0, ""}, args);
  if (!a) return a.error();
  auto r = s.call("status");
  if (!r) return r.error();
  if (s.json()) {
    print_json(s.io().out, *r);
    return {};
  }
  auto st = rpc::record_from_json<rpc::NodeStatus>(*r, "status");
  if (!st) return st.error();
  auto& o = s.io().out;
  o << "chain       " << st->chain_id << "\n"
    << "height      " << st->height << "\n"
    << "block       " << st->latest_block_hash.hex() << "\n"
    << "state root  " << st->state_root.hex() << "\n"
    << "view        " << st->view << "\n"
    << "node        " << st->moniker << " " << st->node_id.hex() << "\n"
    << "role        " << (st->validator ? "validator " + st->validator->hex() : std::string("full node")) << "\n";
  if (st->signing == "double-sign-check") {
    const auto& c = st->double_sign_check;
    o << "signing     NOT SIGNING: double-sign check, " << (c ? std::to_string(c->watched) : "?") << " of "
      << (c ? std::to_string(c->heights) : "?")
      << " heights watched (its vote record was missing or older than the chain; docs/operators.md)\n";
  }
  if (st->another_instance) o << "WARNING     another instance signs with this validator key: stop all but one\n";
  if (st->catching_up)
    o << "catching up yes: at " << st->height << ", a peer has " << st->best_known_height
      << " (syncing blocks; its answers lag behind the chain)\n";
  o << "peers       " << st->peers << "\n"
    << "mempool     " << st->mempool_txs << " transactions, " << st->mempool_bytes << " bytes\n"
    << "version     " << st->version << "\n"
    << "rpc         " << s.globals().rpc << "\n";
  return {};
}

const char* kBalanceHelp = "Usage: verity balance ADDRESS|NAME\nThe account's balance (base units) at the node's latest height.\n";
const char* kAccountHelp =
    "Usage: verity account ADDRESS|NAME [--prove [--trust-height H --trust-hash HASH]]\n"
    "The account's balance and nonces. With --prove, fetches a state proof with the block header and\n"
    "its commit certificate, and checks all of it locally, trusting nothing the node says: it follows\n"
    "the validator set from the genesis file (--genesis FILE or VERITY_GENESIS) through every epoch's\n"
    "hand-off to the set that certifies the proof. With --trust-height and --trust-hash it starts\n"
    "instead from an epoch block whose hash you trust (from somewhere else than this node).\n"
    "Prints 'proof verified at height H', or fails (exit 1) saying what did not hold.\n";

// --trust-height H --trust-hash HASH: both or neither.
Result<std::pair<std::optional<std::uint64_t>, std::optional<Hash256>>> trust_of(const cli::Args& a) {
  const auto height = a.get("trust-height"), hash = a.get("trust-hash");
  if (!height && !hash) return std::pair<std::optional<std::uint64_t>, std::optional<Hash256>>{};
  if (!height || !hash) return usage_error("--trust-height and --trust-hash go together");
  auto h = parse_u64_arg("--trust-height", *height);
  if (!h) return h.error();
  auto raw = from_hex(lower(*hash));
  if (!raw || raw->size() != 32) return usage_error("--trust-hash: expected a block hash (64 hex digits)");
  return std::pair<std::optional<std::uint64_t>, std::optional<Hash256>>{*h, Hash256::from_view(*raw)};
}

Status cmd_account(Session& s, const std::vector<std::string>& args, bool balance_only) {
  Spec spec{balance_only ? "balance" : "account", {}, {}, 1, 1, "ADDRESS|NAME"};
  if (!balance_only) {
    spec.switches = {"prove"};
    spec.with_value = {"trust-height", "trust-hash"};
  }
  auto a = parse_args(spec, args);
  if (!a) return a.error();
  const bool prove = a->has("prove");
  auto trust = trust_of(*a);
  if (!trust) return trust.error();
  if (!prove && trust->first) return usage_error("--trust-height and --trust-hash need --prove");
  const std::string who = a->positional[0];
  auto address = s.address_of("", who);
  if (!address) return address.error();
  std::optional<LightClient> light;
  if (prove) {  // before the answer: a missing genesis file is a usage error, nothing asked
    auto lc = s.light_client(trust->first, trust->second);
    if (!lc) return lc.error();
    light = std::move(*lc);
  }
  rapidjson::Document params(rapidjson::kObjectType);
  auto& al = params.GetAllocator();
  params.AddMember("address", rpc::to_json(address->hex(), al), al);
  if (prove) params.AddMember("prove", true, al);
  auto r = s.call("account", params);
  if (!r) return r.error();
  std::optional<ProvenAccount> proven;
  if (prove) {
    auto p = verify_account_proof(*r, *address, *light, s.handoff_source());
    if (!p) {
      Error e = p.error();
      e.detail = "the node's proof for " + address->hex() + " does not verify: " + e.detail +
                 " (do not trust this node's answer; ask another with --rpc)";
      return e;
    }
    proven = *p;
  }
  auto& o = s.io().out;
  if (s.json()) {
    print_json(o, *r);
    return {};
  }
  auto info = rpc::record_from_json<rpc::AccountInfo>(*r, "account");
  if (!info) return info.error();
  if (balance_only) {
    o << info->balance.to_string() << "  " << label(who, *address) << " at height " << info->height << "\n";
    return {};
  }
  o << "address     " << address->hex() << (is_hex64(who) ? "" : "  (" + who + ")") << "\n"
    << "balance     " << info->balance.to_string() << "\n"
    << "nonce       " << info->nonce << "\n"
    << "next nonce  " << info->next_nonce << " (counting its pending transactions)\n"
    << "height      " << info->height << "\n";
  if (proven) {
    if (!proven->account) o << "the account does not exist (a zero balance); ";
    const std::string from = trust->first ? "the trusted block " + std::to_string(*trust->first) : "genesis";
    const std::uint64_t steps = (light->height() - trust->first.value_or(0)) / light->epoch_blocks();
    o << "proof verified at height " << proven->height << " (the validator set followed from " << from << " through "
      << steps << " hand-offs)\n";
  }
  return {};
}

const char* kTxHelp = "Usage: verity tx HASH\nA transaction: pending in the mempool, or committed with its receipt.\n";

Status cmd_tx(Session& s, const std::vector<std::string>& args) {
  auto a = parse_args(Spec{"tx", {}, {}, 1, 1, "HASH"}, args);
  if (!a) return a.error();
  const std::string hash = lower(a->positional[0]);
  if (!is_hex64(hash)) return usage_error("'" + hash + "' is not a transaction hash (64 hex digits)");
  rapidjson::Document params(rapidjson::kObjectType);
  params.AddMember("hash", rpc::to_json(hash, params.GetAllocator()), params.GetAllocator());
  auto r = s.call("tx", params);
  if (!r) {
    if (r.error().reason == "not-found") {
      Error e = r.error();
      e.detail += ": check the hash; a transaction that was rejected or evicted from the mempool is not kept";
      return e;
    }
    return r.error();
  }
  auto t = read_tx(*r, *Hash256::from_hex(hash));
  if (!t) return t.error();
  auto& o = s.io().out;
  if (s.json()) {
    print_json(o, *r);
    return {};
  }
  o << "tx " << t->hash.hex() << ": " << t->status << "\n";
  // The payload's fields as the node wrote them, in its order.
  rapidjson::Document doc;
  const Json tx = rpc::to_json(t->tx, doc.GetAllocator());
  const Json& payload = *member(tx, "payload");
  o << "  " << payload_name(t->tx.payload) << " from " << t->tx.sender.hex() << ", nonce " << t->tx.nonce << ", fee "
    << t->tx.fee.to_string() << "\n";
  const auto* task = std::get_if<SubmitTask>(&t->tx.payload);
  for (auto it = payload.MemberBegin(); it != payload.MemberEnd(); ++it) {
    const std::string name = it->name.GetString();
    if (name == "type") continue;
    o << "  " << name << " ";
    if (task && name == "module")  // a module as its size and hash, never as hex (--json has it)
      o << (task->module.bytes.empty() ? std::string("(by hash)")
                                       : std::to_string(task->module.bytes.size()) + " bytes, sha256 " +
                                             sha256(task->module.bytes).hex())
        << "\n";
    else if (task && name == "input" && task->input.bytes.size() > 64)
      o << task->input.bytes.size() << " bytes, sha256 " << sha256(task->input.bytes).hex() << "\n";
    else
      o << (it->value.IsString() ? std::string(it->value.GetString()) : rpc::json_string(it->value)) << "\n";
  }
  if (t->receipt) print_receipt(o, *t->receipt);
  return {};
}

const char* kVerifyHeaderHelp =
    "Usage: verity verify-header [HEIGHT] [--trust-height H --trust-hash HASH]\n"
    "Checks a block's header (default: the latest) as a light client, trusting nothing the node says:\n"
    "follows the validator set from the genesis file (--genesis FILE or VERITY_GENESIS), or from an\n"
    "epoch block whose hash you trust, through every epoch's hand-off, and checks the header's commit\n"
    "certificate with the set that certifies it. Prints the header's hash and state root.\n";

Status cmd_verify_header(Session& s, const std::vector<std::string>& args) {
  auto a = parse_args(Spec{"verify-header", {"trust-height", "trust-hash"}, {}, 0, 1, "HEIGHT"}, args);
  if (!a) return a.error();
  auto trust = trust_of(*a);
  if (!trust) return trust.error();
  std::optional<std::uint64_t> height;
  if (!a->positional.empty()) {
    auto h = parse_u64_arg("HEIGHT", a->positional[0]);
    if (!h) return h.error();
    if (*h == 0) return usage_error("HEIGHT: from 1 (height 0 is the genesis, which no certificate signs)");
    height = *h;
  }
  auto light = s.light_client(trust->first, trust->second);
  if (!light) return light.error();
  rapidjson::Document params(rapidjson::kObjectType);
  if (height) params.AddMember("height", Json(*height), params.GetAllocator());
  auto r = s.call("block", params);
  if (!r) return r.error();
  auto b = read_block(*r, height);
  if (!b) return b.error();
  if (!b->certificate) return make_error("not-found", "block " + std::to_string(b->height) + " has no certificate yet");
  auto fail = [&](Error e) {
    e.detail = "header " + std::to_string(b->height) + " does not verify: " + e.detail +
               " (do not trust this node; ask another with --rpc)";
    return e;
  };
  if (auto st = light->follow(b->height, s.handoff_source()); !st) return fail(st.error());
  if (auto st = light->verify_header(b->header, *b->certificate); !st) return fail(st.error());
  auto& o = s.io().out;
  if (s.json()) {
    print_json(o, *r);
    return {};
  }
  std::uint64_t power = 0;
  for (const auto& sig : b->certificate->signatures) power += light->validators().power_of(sig.validator).value_or(0);
  o << "height      " << b->height << "\n"
    << "hash        " << b->hash.hex() << "\n"
    << "state root  " << b->header.state_root.hex() << "\n"
    << "signed by   " << b->certificate->signatures.size() << " of " << light->validators().size() << " validators, power "
    << power << " of " << light->validators().total_power() << " (the set chosen at "
    << (light->height() == 0 ? std::string("genesis") : "block " + std::to_string(light->height())) << ")\n"
    << "header verified from " << (trust->first ? "the trusted block " + std::to_string(*trust->first) : std::string("genesis"))
    << "\n";
  return {};
}

const char* kBlockHelp = "Usage: verity block [HEIGHT|HASH]\nA block (default: the latest) with its transactions and certificate.\n";

Status cmd_block(Session& s, const std::vector<std::string>& args) {
  auto a = parse_args(Spec{"block", {}, {}, 0, 1, "HEIGHT|HASH"}, args);
  if (!a) return a.error();
  rapidjson::Document params(rapidjson::kObjectType);
  auto& al = params.GetAllocator();
  std::string which = "the latest block";
  std::optional<std::uint64_t> height;
  if (!a->positional.empty()) {
    const std::string x = lower(a->positional[0]);
    if (is_hex64(x)) {
      params.AddMember("hash", rpc::to_json(x, al), al);
      which = "block " + x;
    } else {
      auto h = parse_u64_arg("HEIGHT", x);
      if (!h) return usage_error("'" + x + "' is neither a height nor a block hash (64 hex digits)");
      params.AddMember("height", Json(*h), al);
      height = *h;
      which = "block " + x;
    }
  }
  auto r = s.call("block", params);
  if (!r) {
    if (r.error().reason == "not-found") {
      Error e = r.error();
      e.detail = which + ": " + e.detail + "; 'verity status' shows the node's height";
      return e;
    }
    return r.error();
  }
  auto b = read_block(*r, height);
  if (!b) return b.error();
  auto& o = s.io().out;
  if (s.json()) {
    print_json(o, *r);
    return {};
  }
  const BlockHeader& h = b->header;
  o << "block       " << b->height << "  " << b->hash.hex() << "\n"
    << "chain       " << h.chain_id << "\n"
    << "view        " << h.view << "\n"
    << "proposer    " << h.proposer.hex() << "\n"
    << "time        " << format_time_ms(h.timestamp_ms) << " (informational)\n"
    << "previous    " << h.prev_hash.hex() << "\n"
    << "state root  " << h.state_root.hex() << "\n";
  if (b->certificate)
    o << "certified   by " << b->certificate->signatures.size() << " validators\n";
  else
    o << "certified   not yet (the certificate of the latest block is known once the next one is made)\n";
  o << "txs         " << b->txs.size() << "\n";
  for (const auto& t : b->txs)
    o << "  " << t.hash.hex() << "  " << payload_name(t.tx.payload) << " from " << t.tx.sender.hex() << " nonce "
      << t.tx.nonce << "\n";
  return {};
}

const char* kValidatorsHelp =
    "Usage: verity validators\nEvery registered validator, the set that certifies the next block first: operator,\n"
    "name, tokens, power, commission and STATUS, why it has that power: active, waiting (joins the set at the\n"
    "next epoch boundary), not selected (outside the top max_validators), jailed until H (unjail from height H),\n"
    "banned, below min stake by N. Under a validator that is not active, the node's explanation.\n";

// The STATUS column: the node's stable status with its figure.
std::string status_text(const rpc::ValidatorInfo& v) {
  if (v.status == "jailed") return "jailed until " + std::to_string(v.jailed_until);
  if (v.status == "below-min-stake") return "below min stake by " + v.missing_stake.to_string();
  if (v.status == "waiting") return "waiting (joins at " + std::to_string(v.next_epoch_boundary) + ")";
  if (v.status == "not-selected") return "not selected";
  return v.status.empty() ? "?" : v.status;
}

Status cmd_validators(Session& s, const std::vector<std::string>& args) {
  auto a = parse_args(Spec{"validators", {}, {}, 0, 0, ""}, args);
  if (!a) return a.error();
  auto r = s.call("validators");
  if (!r) return r.error();
  auto& o = s.io().out;
  if (s.json()) {
    print_json(o, *r);
    return {};
  }
  auto height = rpc::member_from_json<std::uint64_t>(*r, "height", "validators");
  auto list = rpc::member_from_json<std::vector<rpc::ValidatorInfo>>(*r, "validators", "validators");
  if (!height) return height.error();
  if (!list) return list.error();
  o << "at height " << *height << "\n";
  std::vector<std::vector<std::string>> rows = {{"OPERATOR", "NAME", "TOKENS", "POWER", "COMMISSION", "STATUS"}};
  std::vector<std::string> details = {""};
  for (const auto& v : *list) {
    rows.push_back({v.operator_address.hex(), v.name, v.tokens.to_string(), std::to_string(v.power),
                    std::to_string(v.commission_bps) + " bps", status_text(v)});
    details.push_back(v.status == "active" ? "" : v.detail);
  }
  print_columns(o, rows, details);
  return {};
}

// `verity COMMAND ADDRESS|NAME`: calls the method of that name with the
// address; with --json, prints the result as it came, else reads it as a T
// and has `print(record, who, out)` write it, `who` being the address as
// given (label()).
template <class T, class Print>
Status query_address(Session& s, const std::string& method, const std::vector<std::string>& args, Print print) {
  auto a = parse_args(Spec{method, {}, {}, 1, 1, "ADDRESS|NAME"}, args);
  if (!a) return a.error();
  auto address = s.address_of("", a->positional[0]);
  if (!address) return address.error();
  rapidjson::Document params(rapidjson::kObjectType);
  params.AddMember("address", rpc::to_json(address->hex(), params.GetAllocator()), params.GetAllocator());
  auto r = s.call(method.c_str(), params);
  if (!r) return r.error();
  if (s.json()) {
    print_json(s.io().out, *r);
    return {};
  }
  auto record = rpc::record_from_json<T>(*r, method);
  if (!record) return record.error();
  print(*record, label(a->positional[0], *address), s.io().out);
  return {};
}

const char* kDelegationsHelp =
    "Usage: verity delegations ADDRESS|NAME\nAn account's delegations (value per validator) and unbonding entries.\n";

Status cmd_delegations(Session& s, const std::vector<std::string>& args) {
  return query_address<rpc::DelegationsInfo>(
      s, "delegations", args, [](const rpc::DelegationsInfo& d, const std::string& who, std::ostream& o) {
        if (d.delegations.empty() && d.unbonding.empty()) {
          o << "no delegations and nothing unbonding for " << who << "\n";
          return;
        }
        for (const auto& x : d.delegations)
          o << "delegated  " << x.value.to_string() << " to " << x.validator.hex() << " (" << x.shares << " shares)\n";
        for (const auto& u : d.unbonding)
          o << "unbonding  " << u.amount.to_string() << " from " << u.validator.hex() << ", withdrawable at height "
            << u.completion_height << "\n";
      });
}

const char* kRewardsHelp = "Usage: verity rewards ADDRESS|NAME\nAn account's rewards: vested (claimable with 'verity claim') and locked.\n";

Status cmd_rewards(Session& s, const std::vector<std::string>& args) {
  return query_address<rpc::RewardsInfo>(
      s, "rewards", args, [](const rpc::RewardsInfo& r, const std::string&, std::ostream& o) {
        o << "vested  " << r.vested.to_string() << " (claimable now)\nlocked  " << r.locked.to_string() << "\n";
        for (const auto& e : r.entries) o << "  " << e.amount.to_string() << " vests at height " << e.vest_height << "\n";
      });
}

}  // namespace

std::vector<Command> query_commands() {
  return {
      {"status", "the node's chain, height, peers and mempool", kStatusHelp, cmd_status},
      {"balance", "ADDRESS|NAME: an account's balance", kBalanceHelp,
       [](Session& s, const auto& a) { return cmd_account(s, a, true); }},
      {"account", "ADDRESS|NAME [--prove]: balance and nonces, with a proof checked locally", kAccountHelp,
       [](Session& s, const auto& a) { return cmd_account(s, a, false); }},
      {"validators", "the registered validators", kValidatorsHelp, cmd_validators},
      {"delegations", "ADDRESS|NAME: delegations and unbonding entries", kDelegationsHelp, cmd_delegations},
      {"rewards", "ADDRESS|NAME: vested and locked rewards", kRewardsHelp, cmd_rewards},
      {"tx", "HASH: a transaction and its receipt", kTxHelp, cmd_tx},
      {"block", "[HEIGHT|HASH]: a block (default the latest)", kBlockHelp, cmd_block},
      {"verify-header", "[HEIGHT]: a header checked from genesis as a light client", kVerifyHeaderHelp,
       cmd_verify_header},
  };
}

}  // namespace verity::client
