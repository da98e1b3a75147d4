#include "state/chain.h"

#include <algorithm>

namespace verity::state {

namespace {

const Bytes kGenesisKey = prefixed_key("m/genesis", {});
const Bytes kTipKey = prefixed_key("m/tip", {});
// The height a state-synced chain starts at (adopt_snapshot): no blocks below.
const Bytes kBaseKey = prefixed_key("m/base", {});

Bytes block_key(std::uint64_t h) { return prefixed_key("b/", be64(h)); }
Bytes cert_key(std::uint64_t h) { return prefixed_key("c/", be64(h)); }
Bytes hash_key(const Hash256& hash) { return prefixed_key("h/", hash.view()); }
Bytes tx_key(const Hash256& id) { return prefixed_key("t/", id.view()); }
Bytes state_key(ByteView key) { return prefixed_key("s/", key); }
constexpr std::string_view kHandoffPrefix = "v/";
Bytes handoff_key(std::uint64_t h) { return prefixed_key(kHandoffPrefix, be64(h)); }
constexpr std::string_view kUndoPrefix = "u/";
Bytes undo_key(std::uint64_t h) { return prefixed_key(kUndoPrefix, be64(h)); }

// An undo record: varint count, then per key: bytes key, u8 present,
// [bytes value]. The keys come in the block's change order (ascending).
Bytes encode_undo(const std::vector<StateUpdate>& before) {
  Writer w;
  w.varint(before.size());
  for (const auto& u : before) {
    w.bytes(u.key);
    w.u8(u.value ? 1 : 0);
    if (u.value) w.bytes(*u.value);
  }
  return w.take();
}

Result<std::vector<StateUpdate>> decode_undo(ByteView raw) {
  Reader r(raw);
  std::vector<StateUpdate> out;
  const std::size_t n = r.count(raw.size(), 2);
  for (std::size_t i = 0; i < n && r.ok(); ++i) {
    StateUpdate u;
    u.key = r.bytes(raw.size());
    const std::uint8_t present = r.u8();
    if (present > 1) return local_error("state-corrupt", "an undo record does not decode");
    if (present) u.value = r.bytes(raw.size());
    out.push_back(std::move(u));
  }
  if (auto s = r.finish(); !s) return local_error("state-corrupt", "an undo record does not decode: " + s.error().to_string());
  return out;
}

// The committed flat state: "s/" + key in the store.
class StoreStateReader final : public StateReader {
 public:
  explicit StoreStateReader(const KvStore& store) : store_(store) {}
  Result<std::optional<Bytes>> get(ByteView key) const override { return store_.get(state_key(key)); }

 private:
  const KvStore& store_;
};

template <class T>
Result<std::optional<T>> load(const KvStore& store, const Bytes& key) {
  return decode_stored<T>(store.get(key));
}

// Where a committed transaction is, with its receipt (whose height and
// index locate it).
struct TxLocation {
  Receipt receipt;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("receipt", s.receipt);
  }
};

void put_state_changes(WriteBatch& batch, const std::vector<StateUpdate>& changes) {
  for (const auto& c : changes) {
    if (c.value)
      batch.put(state_key(c.key), *c.value);
    else
      batch.erase(state_key(c.key));
  }
}

// What execution depends on: everything in the block but the state root it
// produces (and the body, which tx_root and last_commit_hash commit to).
// A proposer executes a block before it knows its root, then commits the
// same block with the root filled in, without executing it twice.
Hash256 execution_key(const Block& block) {
  BlockHeader h = block.header;
  h.state_root = Hash256{};
  return h.hash();
}

Status refuse_old_state_format(const KvStore& store, const Hash256& root) {
  if (root == kEmptySubtree) return {};
  auto page = store.get(state_root_key(root));
  if (!page) return page.error();
  if (page->has_value()) return {};
  auto node = store.get(prefixed_key(kOldStateNodePrefix, root.view()));
  if (!node) return node.error();
  if (!node->has_value()) return {};  // not the old format: missing, as check() will say
  return local_error("state-format-old",
                     "this data directory keeps the state map in the format before pages (Verity before "
                     "2026-12); wipe the chain but keep the keys and the vote record, then sync again "
                     "(docs/operators.md, \"Wiping the chain, keeping the keys and the vote record\")");
}

}  // namespace

Chain::Chain(KvStore& store, Genesis genesis, const Application& app, const ChainOptions& options)
    : CommittedReads(store),
      store_(store),
      genesis_(std::move(genesis)),
      app_(app),
      reader_(std::make_unique<StoreStateReader>(store)),
      map_(store, options.state_cache_bytes),
      options_(options) {
  map_.set_record_orphans(options.keep_recent_heights > 0);
}

Result<std::unique_ptr<Chain>> Chain::open(KvStore& store, Genesis genesis, const Application& app,
                                           ChainOptions options) {
  if (auto s = genesis.validate(); !s) return s.error();
  std::unique_ptr<Chain> chain(new Chain(store, std::move(genesis), app, options));
  const Hash256 genesis_hash = chain->genesis_.hash();

  auto stored = store.get(kGenesisKey);
  if (!stored) return stored.error();
  if (stored->has_value()) {
    if (Bytes(genesis_hash.data.begin(), genesis_hash.data.end()) != **stored)
      return make_error("genesis-mismatch", "the data directory belongs to genesis " + to_hex(**stored) +
                                                ", not " + genesis_hash.hex());
    auto tip = load<ChainTip>(store, kTipKey);
    if (!tip) return tip.error();
    if (!tip->has_value()) return local_error("state-corrupt", "genesis recorded but no tip");
    chain->tip_ = **tip;
    // Pages keyed by hash first (written before 2026-12-05) move to their
    // keys by height, once.
    auto moved = migrate_hash_led_pages(store);
    if (!moved) return moved.error();
    chain->migrated_pages_ = *moved;
    // A data directory of a version before state-map pages holds nodes
    // under "n/" and no page for its root: it must be synced again.
    if (auto s = refuse_old_state_format(store, chain->tip_.state_root); !s) return s.error();
  } else {
    // First start: the genesis state, its map and the tip in one batch.
    StateOverlay overlay(*chain->reader_);
    if (auto s = app.init_genesis(overlay, chain->genesis_); !s) return s.error();
    auto changes = overlay.changes();
    auto root = chain->map_.apply(kEmptySubtree, changes);
    if (!root) return root.error();
    chain->tip_ = ChainTip{0, genesis_hash, *root};
    WriteBatch batch;
    put_state_changes(batch, changes);
    chain->map_.flush(batch, 0);
    batch.put(kGenesisKey, genesis_hash.view());
    batch.put(kTipKey, encode(chain->tip_));
    if (auto s = store.write(batch, /*sync=*/true); !s) return s.error();
  }
  if (auto s = chain->load_validators(); !s) return s.error();
  chain->tip_height_ = chain->tip_.height;
  return chain;
}

Result<PruneStats> Chain::prune(std::size_t max_nodes) {
  auto stats = prune_versions(max_nodes);
  if (!stats) return stats.error();
  auto blocks = prune_blocks(kPruneChunk);
  if (!blocks) return blocks.error();
  stats->blocks_deleted = *blocks;
  return stats;
}

Result<std::uint64_t> Chain::prune_blocks(std::size_t max_blocks) {
  const std::uint64_t keep = options_.keep_recent_blocks, tip = tip_height_.load();
  if (keep == 0 || tip <= keep) return std::uint64_t{0};
  const std::uint64_t last = tip - keep;  // blocks 1..last go
  auto oldest = oldest_block();
  if (!oldest) return oldest.error();
  const std::optional<std::uint64_t> first = *oldest;
  if (!first || *first > last) return std::uint64_t{0};
  WriteBatch batch;
  std::uint64_t deleted = 0;
  for (std::uint64_t h = *first; h <= last && deleted < max_blocks; ++h, ++deleted) {
    auto block = block_at(h);
    if (!block) return block.error();
    if (!*block) continue;
    for (const auto& tx : (*block)->transactions) batch.erase(tx_key(tx.id()));
    batch.erase(hash_key((*block)->hash()));
    batch.erase(cert_key(h));
    batch.erase(block_key(h));
  }
  std::lock_guard lock(write_mu_);  // the keys are the commits' too (a transaction id again)
  if (auto s = store_.write(batch, /*sync=*/false); !s) return s.error();
  return deleted;
}

Result<std::optional<std::uint64_t>> Chain::oldest_block() const {
  std::optional<std::uint64_t> first;
  const Bytes prefix = prefixed_key("b/", {});
  auto scanned = store_.scan(prefix, [&](ByteView key, ByteView) {
    first = read_be(key.subspan(prefix.size()));
    return false;
  });
  if (!scanned) return scanned.error();
  return first;
}

Result<PruneStats> Chain::prune_versions(std::size_t max_nodes) {
  const std::uint64_t keep = options_.keep_recent_heights, tip = tip_height_.load();
  if (keep == 0 || tip + 1 <= keep) return PruneStats{};
  // A node dropped by the version at height v is in the versions below v
  // only: in none of the kept ones (tip - keep + 1 .. tip) once
  // v <= tip - keep + 1.
  const std::uint64_t last = tip + 1 - keep;
  // Undo records of heights <= last first, all of them: rollback() takes a
  // block back only while its undo record exists, and so only while the
  // nodes its version dropped (deleted below) are still there.
  const Bytes prefix = prefixed_key(kUndoPrefix, {});
  for (bool more = true; more;) {
    WriteBatch batch;
    auto scanned = store_.scan(prefix, [&](ByteView key, ByteView) {
      if (read_be(key.subspan(prefix.size())) > last) return false;
      if (batch.size() >= kPruneChunk) return false;
      batch.erase(key);
      return true;
    });
    if (!scanned) return scanned.error();
    more = batch.size() >= kPruneChunk;
    if (batch.empty()) break;
    std::lock_guard lock(write_mu_);
    if (auto s = store_.write(batch, /*sync=*/false); !s) return s.error();
  }
  return prune_state_nodes(store_, last, max_nodes, write_mu_);
}

Status Chain::load_validators() {
  for (auto [key, target] : {std::pair{&kValidatorSetKey, &validators_}, std::pair{&kPreviousValidatorSetKey, &tip_validators_}}) {
    auto raw = reader_->get(*key);
    if (!raw) return raw.error();
    if (!raw->has_value()) return local_error("state-corrupt", "no validator set in state");
    auto set = decode_exact<ValidatorSet>(**raw);
    if (!set) return local_error("state-corrupt", "validator set does not decode: " + set.error().to_string());
    *target = std::move(*set);
  }
  return {};
}

BlockContext Chain::context_for(const BlockHeader& header) const {
  return BlockContext{genesis_.chain_id, header.height, header.proposer, genesis_.params};
}

Result<Executed> Chain::execute(const Block& block, const ExecutionOptions& options) {
  const BlockHeader& h = block.header;
  if (h.chain_id != genesis_.chain_id) return make_error("wrong-chain-id", "block is for chain '" + h.chain_id + "'");
  if (h.height != tip_.height + 1)
    return make_error("bad-height", "expected height " + std::to_string(tip_.height + 1) + ", got " + std::to_string(h.height));
  if (h.prev_hash != tip_.block_hash) return make_error("bad-prev-hash", "block does not extend the tip");
  if (h.height == 1) {
    if (!block.last_commit.empty()) return make_error("bad-last-commit", "block 1 has no previous commit");
  } else {
    if (block.last_commit.height != tip_.height || block.last_commit.block_hash != tip_.block_hash)
      return make_error("bad-last-commit", "last_commit is not for the previous block");
    if (auto s = block.last_commit.verify(genesis_.chain_id, tip_validators_); !s)
      return make_error("bad-last-commit", s.error().to_string());
  }
  map_.discard();
  executed_hash_.reset();
  auto outcome = apply_block(*reader_, map_, tip_.state_root, block, context_for(h), app_, options);
  if (!outcome) {
    map_.discard();
    return outcome.error();
  }
  executed_hash_ = execution_key(block);
  executed_ = std::move(*outcome);
  return Executed{executed_.state_root};
}

Status Chain::commit(const Block& block, const CommitCertificate& cert) {
  const Hash256 hash = block.hash();
  Bytes encoded;
  if (!executed_hash_ || *executed_hash_ != execution_key(block) || block.header.height != tip_.height + 1) {
    auto outcome = execute(block);
    if (!outcome) return outcome.error();
    encoded = std::move(executed_.encoded);  // this very block's encoding
  } else {
    // Executed before, with a header that differs from this one at most in
    // the state root (fixed width). A body whose bytes are the executed
    // one's passed check_body() then; any other body is checked here.
    encoded = encode(block);
    const std::size_t header_bytes = encode(block.header).size();
    const Bytes& executed = executed_.encoded;
    const bool same_body = encoded.size() == executed.size() && header_bytes <= encoded.size() &&
                           std::equal(encoded.begin() + static_cast<std::ptrdiff_t>(header_bytes), encoded.end(),
                                      executed.begin() + static_cast<std::ptrdiff_t>(header_bytes));
    if (!same_body)
      if (auto s = block.check_body(); !s) return s;
  }
  if (executed_.state_root != block.header.state_root)
    return make_error("bad-state-root", "header says " + block.header.state_root.hex() + ", execution gives " +
                                            executed_.state_root.hex());
  if (cert.height != block.header.height || cert.block_hash != hash)
    return make_error("bad-certificate", "certificate is for another block");
  if (auto s = cert.verify(genesis_.chain_id, validators_); !s)
    return make_error("bad-certificate", s.error().to_string());

  const std::uint64_t height = block.header.height;
  WriteBatch batch;
  batch.put(block_key(height), encoded);
  batch.put(cert_key(height), encode(cert));
  batch.put(hash_key(hash), be64(height));
  {
    Writer w;  // TxLocation's encoding is its receipt's
    for (const auto& receipt : executed_.receipts) {
      w.clear();
      encode_field(w, receipt);
      batch.put(tx_key(receipt.tx_id), w.data());
    }
  }
  {
    // The values before this block, for rollback(): the flat state still
    // holds them (mostly in LevelDB's cache: execution just read them).
    std::vector<StateUpdate> before;
    before.reserve(executed_.changes.size());
    for (const auto& c : executed_.changes) {
      auto old = reader_->get(c.key);
      if (!old) return old.error();
      before.push_back({c.key, std::move(*old)});
    }
    batch.put(undo_key(height), encode_undo(before));
  }
  put_state_changes(batch, executed_.changes);
  index_block(batch, app_, block, hash, encoded.size(), cert, executed_.receipts, executed_.block_events,
              executed_.changes);
  if (height % genesis_.params.epoch_blocks == 0) {
    auto handoff = make_handoff(block.header, cert);
    if (!handoff) return handoff.error();
    batch.put(handoff_key(height), encode(*handoff));
  }
  map_.flush(batch, height);
  ChainTip next{height, hash, executed_.state_root};
  batch.put(kTipKey, encode(next));
  {
    std::lock_guard lock(write_mu_);
    if (auto s = store_.write(batch, /*sync=*/true); !s) {
      executed_hash_.reset();
      return s;
    }
  }
  tip_ = next;
  tip_height_ = height;
  executed_hash_.reset();
  last_receipts_ = std::move(executed_.receipts);
  executed_ = {};
  return load_validators();
}

Result<ValidatorHandoff> Chain::make_handoff(const BlockHeader& header, const CommitCertificate& cert) const {
  // The set after this block: its own change, else the committed value.
  std::optional<Bytes> raw;
  auto change = std::find_if(executed_.changes.begin(), executed_.changes.end(),
                             [](const StateUpdate& c) { return c.key == kValidatorSetKey; });
  if (change != executed_.changes.end()) {
    raw = change->value;
  } else {
    auto stored = reader_->get(kValidatorSetKey);
    if (!stored) return stored.error();
    raw = std::move(*stored);
  }
  if (!raw) return local_error("state-corrupt", "no validator set after epoch block " + std::to_string(header.height));
  auto set = decode_exact<ValidatorSet>(*raw);
  if (!set) return local_error("state-corrupt", "validator set does not decode: " + set.error().to_string());
  auto proof = map_.prove(header.state_root, kValidatorSetKey);  // the block's nodes are still pending in map_
  if (!proof) return proof.error();
  return ValidatorHandoff{header, cert, std::move(*set), std::move(*proof)};
}

Result<std::optional<std::vector<StateUpdate>>> CommittedReads::undo(std::uint64_t height) const {
  auto raw = store_.get(undo_key(height));
  if (!raw) return raw.error();
  if (!raw->has_value()) return std::optional<std::vector<StateUpdate>>{};
  auto decoded = decode_undo(**raw);
  if (!decoded) return decoded.error();
  return std::optional<std::vector<StateUpdate>>{std::move(*decoded)};
}

Result<std::optional<Bytes>> PastState::get(ByteView key) const {
  if (auto it = restored_.find(Bytes(key.begin(), key.end())); it != restored_.end()) return it->second;
  return store_.get(state_key(key));
}

Status PastState::scan(ByteView prefix, const std::function<bool(ByteView key, ByteView value)>& visit) const {
  std::map<Bytes, Bytes> entries;
  const Bytes flat_prefix = state_key(prefix);
  auto scanned = store_.scan(flat_prefix, [&](ByteView key, ByteView value) {
    entries.emplace(Bytes(key.begin() + 2, key.end()), Bytes(value.begin(), value.end()));  // without "s/"
    return true;
  });
  if (!scanned) return scanned;
  for (auto it = restored_.lower_bound(Bytes(prefix.begin(), prefix.end()));
       it != restored_.end() && it->first.size() >= prefix.size() &&
       std::equal(prefix.begin(), prefix.end(), it->first.begin());
       ++it) {
    if (it->second)
      entries[it->first] = *it->second;
    else
      entries.erase(it->first);
  }
  for (const auto& [k, v] : entries)
    if (!visit(k, v)) break;
  return {};
}

Result<CheckReport> Chain::check() const {
  CheckReport report;
  // Every record once, each table block's checksum verified: damage in
  // what the walks below do not read (receipts, history, old versions) shows too.
  if (auto s = store_.scan({}, [&](ByteView, ByteView) {
        ++report.records;
        return true;
      });
      !s)
    return s.error();
  auto light = LightClient::from_genesis(genesis_);
  if (!light) return light.error();
  const std::uint64_t heights_before = light->height();
  auto source = [this](std::uint64_t from) { return handoffs(from, kMaxHandoffPage); };
  Hash256 prev = genesis_.hash();
  auto broken = [](std::uint64_t h, const std::string& why) {
    return make_error("chain-broken", "block " + std::to_string(h) + ": " + why);
  };
  // A state-synced chain starts at its snapshot's block, and a node that
  // prunes blocks checks from the oldest it keeps (each one's certificate
  // still against the set followed from genesis).
  std::uint64_t from = 1;
  auto base = store_.get(kBaseKey);
  if (!base) return base.error();
  if (*base) {
    if ((*base)->size() != 8) return local_error("state-corrupt", "bad base height record");
    from = read_be(**base);
  }
  if (options_.keep_recent_blocks > 0) {
    auto oldest = oldest_block();
    if (!oldest) return oldest.error();
    if (*oldest) from = std::max<std::uint64_t>(from, **oldest);
  }
  if (from > 1) {
    auto first = block_at(from);
    if (!first) return first.error();
    if (*first) prev = (*first)->header.prev_hash;
  }
  report.first_block = from;
  for (std::uint64_t h = from; h <= tip_.height; ++h) {
    auto block = block_at(h);
    if (!block) return block.error();
    auto cert = certificate_at(h);
    if (!cert) return cert.error();
    if (!*block) return broken(h, "missing");
    if (!*cert) return broken(h, "its commit certificate is missing");
    const Block& b = **block;
    const Hash256 hash = b.hash();
    if (b.header.height != h) return broken(h, "stored under another height");
    if (b.header.prev_hash != prev) return broken(h, "does not extend block " + std::to_string(h - 1));
    if (auto s = b.check_body(); !s) return broken(h, s.error().to_string());
    auto indexed = height_of(hash);
    if (!indexed) return indexed.error();
    if (*indexed != std::optional<std::uint64_t>(h)) return broken(h, "its hash index is wrong");
    if (auto s = light->follow(h, source); !s)
      return make_error("bad-certificate", "block " + std::to_string(h) + ": " + s.error().to_string());
    if (auto s = light->verify_header(b.header, **cert); !s)
      return make_error("bad-certificate", "block " + std::to_string(h) + ": " + s.error().to_string());
    prev = hash;
    ++report.blocks;
  }
  report.handoffs = (light->height() - heights_before) / light->epoch_blocks();
  if (tip_.block_hash != prev) return broken(tip_.height, "the tip record names another block");
  if (tip_.height > 0) {
    auto last = block_at(tip_.height);
    if (!last) return last.error();
    if ((*last)->header.state_root != tip_.state_root) return broken(tip_.height, "the tip record names another state root");
  }

  // The tip's version of the state map: every page present and hashing to
  // its key (StateMap::load_page rehashes each node in it).
  std::map<Hash256, Hash256> leaves;  // path -> value hash
  std::vector<PageId> todo;
  if (tip_.state_root != kEmptySubtree) todo.push_back({tip_.state_root, kRootPage});
  while (!todo.empty()) {
    const PageId at = todo.back();
    todo.pop_back();
    auto page = StateMap::load_page(store_, at);
    if (!page) return page.error();
    StateMap::walk_page(
        *page->page,
        [&](const StateMap::Node& node) {
          ++report.state_nodes;
          if (node.leaf) leaves.emplace(node.a, node.b);
        },
        [&](const PageId& below) { todo.push_back(below); });
  }
  // The flat state: exactly those leaves.
  Status mismatch;
  const Bytes prefix = state_key({});
  auto scanned = store_.scan(prefix, [&](ByteView key, ByteView value) {
    const ByteView state = key.subspan(prefix.size());
    auto it = leaves.find(state_path(state));
    if (it == leaves.end() || it->second != sha256(value)) {
      mismatch = make_error("state-mismatch", "state key " + to_hex(state) +
                                                  (it == leaves.end() ? " is not under the tip's state root"
                                                                      : " holds another value than the tip's state root"));
      return false;
    }
    ++report.state_entries;
    return true;
  });
  if (!scanned) return scanned.error();
  if (!mismatch) return mismatch.error();
  if (report.state_entries != leaves.size())
    return make_error("state-mismatch", std::to_string(leaves.size() - report.state_entries) +
                                            " entries under the tip's state root are missing from the flat state");
  return report;
}

Result<PastState> Chain::state_at(std::uint64_t height) const {
  if (height > tip_.height)
    return make_error("bad-height", "height " + std::to_string(height) + " is above the tip " + std::to_string(tip_.height));
  std::map<Bytes, std::optional<Bytes>> restored;
  for (std::uint64_t h = tip_.height; h > height; --h) {  // newest first: the oldest value of a key wins
    auto before = undo(h);
    if (!before) return before.error();
    if (!*before)
      return make_error("no-undo-record", "the state at height " + std::to_string(height) +
                                              " is no longer kept (block " + std::to_string(h) + " has no undo record)");
    for (auto& u : **before) restored[std::move(u.key)] = std::move(u.value);
  }
  return PastState(store_, height, std::move(restored));
}

Result<ChainTip> Chain::rollback() {
  const std::uint64_t h = tip_.height;
  if (h <= 1)
    return make_error("nothing-to-roll-back", "the chain is at height " + std::to_string(h) +
                                                  ": to start again from genesis, move the chain database aside");
  auto before = undo(h);
  if (!before) return before.error();
  if (!*before)
    return make_error("no-undo-record", "block " + std::to_string(h) +
                                            " has no undo record (committed by a version before they existed)");
  auto block = block_at(h);
  if (!block) return block.error();
  auto cert = certificate_at(h);
  if (!cert) return cert.error();
  auto below = block_at(h - 1);
  if (!below) return below.error();
  if (!*block || !*cert || !*below) return local_error("state-corrupt", "block " + std::to_string(h) + " or the one below is missing");
  const Hash256 hash = (*block)->hash();
  const ChainTip next{h - 1, (*below)->hash(), (*below)->header.state_root};
  // The version below is whole while the undo record exists: pruning
  // deletes the undo record before the nodes block h dropped.
  if (auto root = store_.get(state_root_key(next.state_root)); !root || !root->has_value())
    return root ? make_error("state-pruned", "the state of height " + std::to_string(h - 1) + " was pruned") : root.error();

  WriteBatch batch;
  // What the block changed, as commit wrote it (the history index is
  // written by the same function again, then each of its keys erased).
  std::vector<StateUpdate> changes;
  for (const auto& u : **before) {
    auto now = reader_->get(u.key);
    if (!now) return now.error();
    changes.push_back({u.key, std::move(*now)});
  }
  std::vector<Receipt> receipts;
  for (const auto& tx : (*block)->transactions) {
    auto r = receipt(tx.id());
    if (!r) return r.error();
    if (!*r) return local_error("state-corrupt", "a receipt of block " + std::to_string(h) + " is missing");
    receipts.push_back(std::move(**r));
  }
  auto events = block_events(h);
  if (!events) return events.error();
  WriteBatch index;
  index_block(index, app_, **block, hash, encode(**block).size(), **cert, receipts, *events, changes);
  index.for_each([&](ByteView key, const ByteView*) { batch.erase(key); });
  for (const auto& r : receipts) batch.erase(tx_key(r.tx_id));
  put_state_changes(batch, **before);
  batch.erase(block_key(h));
  batch.erase(cert_key(h));
  batch.erase(hash_key(hash));
  batch.erase(handoff_key(h));
  batch.erase(undo_key(h));
  batch.erase(orphans_key(h));  // what block h dropped is live again
  batch.put(kTipKey, encode(next));
  {
    std::lock_guard lock(write_mu_);
    if (auto s = store_.write(batch, /*sync=*/true); !s) return s.error();
  }
  map_.discard();
  executed_hash_.reset();
  tip_ = next;
  tip_height_ = next.height;
  if (auto s = load_validators(); !s) return s.error();
  return next;
}

Status Chain::adopt_snapshot(KvStore& store, const Genesis& genesis, const Block& block, const CommitCertificate& cert,
                             const std::vector<ValidatorHandoff>& handoffs) {
  const BlockHeader& h = block.header;
  const Hash256 hash = block.hash();
  if (h.chain_id != genesis.chain_id || h.height == 0 || cert.height != h.height || cert.block_hash != hash)
    return make_error("bad-snapshot-base", "block " + std::to_string(h.height) + " is not a certified block of chain '" +
                                               genesis.chain_id + "'");
  WriteBatch batch;
  const Hash256 genesis_hash = genesis.hash();
  batch.put(kGenesisKey, genesis_hash.view());
  batch.put(block_key(h.height), encode(block));
  batch.put(cert_key(h.height), encode(cert));
  batch.put(hash_key(hash), be64(h.height));
  for (const auto& handoff : handoffs) {
    if (handoff.header.height == 0 || handoff.header.height > h.height)
      return make_error("bad-snapshot-base", "a hand-off above the block");
    batch.put(handoff_key(handoff.header.height), encode(handoff));
  }
  batch.put(kTipKey, encode(ChainTip{h.height, hash, h.state_root}));
  batch.put(kBaseKey, be64(h.height));
  return store.write(batch, /*sync=*/true);
}

Result<std::vector<ValidatorHandoff>> CommittedReads::handoffs(std::uint64_t from_height, std::size_t limit) const {
  limit = std::min(limit, kMaxHandoffPage);
  std::vector<ValidatorHandoff> out;
  Status failed;
  const Bytes prefix = prefixed_key(kHandoffPrefix, {});
  auto scanned = store_.scan_from(prefix, handoff_key(from_height), [&](ByteView, ByteView value) {
    if (out.size() >= limit) return false;
    auto handoff = decode_exact<ValidatorHandoff>(value);
    if (!handoff) {
      failed = local_error("state-corrupt", "a validator-set hand-off does not decode: " + handoff.error().to_string());
      return false;
    }
    out.push_back(std::move(*handoff));
    return true;
  });
  if (!scanned) return scanned.error();
  if (!failed) return failed.error();
  return out;
}

Result<std::optional<Block>> CommittedReads::block_at(std::uint64_t height) const {
  return load<Block>(store_, block_key(height));
}

Result<std::optional<std::uint64_t>> CommittedReads::height_of(const Hash256& block_hash) const {
  auto raw = store_.get(hash_key(block_hash));
  if (!raw) return raw.error();
  if (!raw->has_value()) return std::optional<std::uint64_t>{};
  if ((*raw)->size() != 8) return local_error("state-corrupt", "bad height index entry");
  return std::optional<std::uint64_t>{read_be(**raw)};
}

Result<std::optional<CommitCertificate>> CommittedReads::certificate_at(std::uint64_t height) const {
  return load<CommitCertificate>(store_, cert_key(height));
}

Result<std::optional<TxRecord>> CommittedReads::transaction(const Hash256& tx_id) const {
  auto found = receipt(tx_id);
  if (!found) return found.error();
  if (!found->has_value()) return std::optional<TxRecord>{};
  const Receipt& r = **found;
  auto block = block_at(r.height);
  if (!block) return block.error();
  if (!block->has_value() || r.index >= (*block)->transactions.size())
    return local_error("state-corrupt", "transaction index points at a missing block");
  return std::optional<TxRecord>{TxRecord{(*block)->transactions[r.index], r}};
}

Result<std::vector<HistoryEntry>> CommittedReads::history(ByteView term, std::uint64_t before, std::size_t limit,
                                                          std::optional<HistoryCursor> after) const {
  return read_history(store_, term, before, limit, after);
}
Result<std::uint64_t> CommittedReads::history_count(ByteView term, std::uint64_t cap) const {
  return count_history(store_, term, cap);
}
Result<std::vector<SeriesPoint>> CommittedReads::series(ByteView term, std::uint64_t before, std::size_t limit) const {
  return read_series(store_, term, before, limit);
}
Result<std::vector<Event>> CommittedReads::block_events(std::uint64_t height) const {
  return read_block_events(store_, height);
}
Result<std::optional<BlockInfo>> CommittedReads::block_info(std::uint64_t height) const {
  return read_block_info(store_, height);
}

Result<std::optional<Receipt>> CommittedReads::receipt(const Hash256& tx_id) const {
  auto loc = load<TxLocation>(store_, tx_key(tx_id));
  if (!loc) return loc.error();
  if (!loc->has_value()) return std::optional<Receipt>{};
  return std::optional<Receipt>{std::move((*loc)->receipt)};
}

std::shared_ptr<const ChainView> Chain::view() const {
  return std::make_shared<ChainView>(store_.snapshot(), genesis_, tip_, validators_, tip_validators_);
}

ChainView::ChainView(std::shared_ptr<const KvStore> snapshot, const Genesis& genesis, ChainTip tip,
                     ValidatorSet validators, ValidatorSet tip_validators)
    : CommittedReads(*snapshot),
      store_(std::move(snapshot)),
      genesis_(genesis),
      tip_(tip),
      validators_(std::move(validators)),
      tip_validators_(std::move(tip_validators)),
      reader_(std::make_unique<StoreStateReader>(*store_)),
      map_(*store_) {}

}  // namespace verity::state
