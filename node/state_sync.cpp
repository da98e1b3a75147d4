#include "node/state_sync.h"

#include <filesystem>

#include "node/node.h"
#include "node/p2p.h"

namespace verity::node {

namespace fs = std::filesystem;

namespace {
// Deletes every key of `store`, 100,000 to a batch. Each batch's scan
// starts at the last key the one before deleted, not at the first key:
// LevelDB would otherwise step over every deletion made so far again.
Status erase_all(state::KvStore& store) {
  Bytes from;
  for (bool more = true; more;) {
    state::WriteBatch batch;
    std::size_t n = 0;
    auto scanned = store.scan_from(Bytes{}, from, [&](ByteView key, ByteView) {
      batch.erase(key);
      from.assign(key.begin(), key.end());
      return ++n < 100'000;
    });
    if (scanned && n > 0) scanned = store.write(batch, /*sync=*/false);
    if (!scanned) return scanned;
    more = n == 100'000;
  }
  return {};
}
}  // namespace

// ---------------------------------------------------------------- frames

Bytes encode_snapshots(const std::vector<state::SnapshotManifest>& manifests) {
  Writer w;
  w.varint(manifests.size());
  for (const auto& m : manifests) w.bytes(encode(m));
  return w.take();
}

std::optional<std::vector<state::SnapshotManifest>> decode_snapshots(ByteView body) {
  Reader r(body);
  const std::size_t n = r.count(kMaxSnapshotsOffered, 1);
  std::vector<state::SnapshotManifest> out;
  for (std::size_t i = 0; i < n && r.ok(); ++i) {
    auto m = decode_exact<state::SnapshotManifest>(r.bytes_view(body.size()));
    if (!m) return std::nullopt;
    out.push_back(std::move(*m));
  }
  if (!r.finish()) return std::nullopt;
  return out;
}

Bytes encode_get_chunk(std::uint64_t height, std::uint64_t index) { return encode(ChunkRequest{height, index}); }

std::optional<ChunkRequest> decode_get_chunk(ByteView body) {
  auto c = decode_exact<ChunkRequest>(body);
  return c ? std::optional<ChunkRequest>(*c) : std::nullopt;
}

Bytes encode_chunk(std::uint64_t height, std::uint64_t index, const std::optional<Bytes>& chunk) {
  return encode(ChunkReply{height, index, chunk});
}

std::optional<ChunkReply> decode_chunk(ByteView body) {
  auto c = decode_exact<ChunkReply>(body);
  return c ? std::optional<ChunkReply>(std::move(*c)) : std::nullopt;
}

Bytes encode_handoffs(const std::vector<ValidatorHandoff>& handoffs) {
  Writer w;
  w.varint(handoffs.size());
  for (const auto& h : handoffs) w.bytes(encode(h));
  return w.take();
}

std::optional<std::vector<ValidatorHandoff>> decode_handoffs(ByteView body) {
  Reader r(body);
  const std::size_t n = r.count(state::kMaxHandoffPage, 1);
  std::vector<ValidatorHandoff> out;
  for (std::size_t i = 0; i < n && r.ok(); ++i) {
    auto h = decode_exact<ValidatorHandoff>(r.bytes_view(body.size()));
    if (!h) return std::nullopt;
    out.push_back(std::move(*h));
  }
  if (!r.finish()) return std::nullopt;
  return out;
}

// ---------------------------------------------------------------- the client

StateSync::StateSync(Genesis genesis, state::KvStore& target, Clock& clock, Logger& logger, StateSyncOptions options)
    : genesis_(std::move(genesis)),
      store_(target),
      clock_(clock),
      log_(logger, "state-sync"),
      options_(options),
      discovery_timer_(clock),
      ask_timer_(clock),
      request_timer_(clock) {}

void StateSync::start(Transport& transport, Done done) {
  transport_ = &transport;
  done_ = std::move(done);
  log_.info("discovering", Fields().add("chain", genesis_.chain_id));
  if (auto s = transport.start(); !s) {
    finish(s.error());
    return;
  }
  // Peers are asked when they connect; choose() asks again now and then
  // while nothing usable is offered (a peer may write its first snapshot
  // later).
  ask_timer_.arm_after(options_.ask_interval, [this] {
    if (phase_ == Phase::discover && !discovery_timer_.armed()) choose();
  });
}

void StateSync::on_connected(const PeerInfo& peer) {
  if (phase_ == Phase::done) return;
  if (banned_.count(peer.node_key)) {
    transport_->disconnect(peer.id, "state-sync-liar");
    return;
  }
  connected_[peer.id] = peer;
  transport_->send(peer.id, kFrameGetSnapshots, {});
}

void StateSync::on_disconnected(const PeerInfo& peer) {
  connected_.erase(peer.id);
  answered_.erase(peer.id);
  for (auto& [key, offer] : offers_) offer.peers.erase(peer.id);
  if (asked_ == peer.id) {
    asked_.reset();
    request_next();
  }
}

bool StateSync::on_frame(const PeerInfo& peer, std::uint8_t type, ByteView body, std::string& reason) {
  if (phase_ == Phase::done) return true;
  switch (type) {
    case kFrameSnapshots: {
      auto offered = decode_snapshots(body);
      if (!offered) {
        reason = "malformed snapshots";
        return false;
      }
      // A peer's latest answer replaces its earlier ones, and offers nobody
      // makes any more go: what a peer can make this node hold is bounded by
      // one answer (one frame).
      for (auto& [key, offer] : offers_) offer.peers.erase(peer.id);
      std::erase_if(offers_, [&](const auto& o) { return o.second.peers.empty() && o.first != target_; });
      for (auto& m : *offered) {
        if (m.format != state::kSnapshotFormat || m.height == 0 || m.chunks.empty()) continue;
        Bytes key = encode(m);
        if (forged_.count(key)) continue;
        if (key == target_ && passed_over_.count(peer.id)) continue;  // it said it lacks it, or was too slow
        auto& offer = offers_[key];
        if (offer.peers.empty() && offer.manifest.chunks.empty()) offer.manifest = std::move(m);
        offer.peers.insert(peer.id);
      }
      answered_.insert(peer.id);
      if (phase_ == Phase::discover && !offers_.empty()) {
        // Every peer linked so far has answered: no need to wait longer.
        bool all = true;
        for (const auto& [id, p] : connected_) all = all && answered_.count(id);
        if (all) {
          discovery_timer_.cancel();
          choose();
        } else if (!discovery_timer_.armed()) {
          discovery_timer_.arm_after(options_.discovery, [this] { choose(); });
        }
      }
      // A restore that lost its peers goes on once one offers it again.
      if (phase_ == Phase::restore && !asked_ && offers_.count(*target_) && !offers_.at(*target_).peers.empty())
        request_next();
      return true;
    }
    case kFrameBlocks:
      if (asked_ == peer.id && expect_ == kFrameBlocks) on_base(peer.id, body);
      return true;
    case kFrameHandoffs:
      if (asked_ == peer.id && expect_ == kFrameHandoffs) on_handoffs(peer.id, body);
      return true;
    case kFrameChunk:
      if (asked_ == peer.id && expect_ == kFrameChunk) on_chunk(peer.id, body);
      return true;
    default:
      return true;  // consensus, transactions, status, requests: not for a node still syncing its state
  }
}

void StateSync::choose() {
  if (phase_ == Phase::done) return;
  discovery_timer_.cancel();
  phase_ = Phase::discover;
  target_.reset();
  passed_over_.clear();
  base_.reset();
  light_.reset();
  header_checked_ = false;
  handoffs_.clear();
  const Offer* best = nullptr;
  const Bytes* best_key = nullptr;
  for (const auto& [key, offer] : offers_) {
    if (offer.peers.empty()) continue;
    if (!best || offer.manifest.height > best->manifest.height ||
        (offer.manifest.height == best->manifest.height && offer.peers.size() > best->peers.size())) {
      best = &offer;
      best_key = &key;
    }
  }
  if (!best) {
    for (const auto& [id, p] : connected_) transport_->send(id, kFrameGetSnapshots, {});
    log_.info("waiting-for-snapshots", Fields().add("peers", connected_.size()));
    ask_timer_.arm_after(options_.ask_interval, [this] {
      if (phase_ == Phase::discover && !discovery_timer_.armed()) choose();
    });
    return;
  }
  target_ = *best_key;
  ask_timer_.cancel();  // discovery's; the restore may arm it to wait for peers
  const auto& m = best->manifest;
  log_.info("snapshot-chosen", Fields()
                                   .add("height", m.height)
                                   .add("root", m.state_root.hex())
                                   .add("chunks", m.chunks.size())
                                   .add("entries", m.entries)
                                   .add("peers", best->peers.size()));
  auto light = LightClient::from_genesis(genesis_);
  if (!light) {
    finish(light.error());
    return;
  }
  light_ = std::move(*light);
  phase_ = Phase::verify;
  request_next();
}

std::uint64_t StateSync::last_handoff_needed() const {
  const std::uint64_t h = target().height;
  const std::uint64_t epoch = genesis_.params.epoch_blocks;
  return h % epoch == 0 ? h : certifying_epoch(h, epoch);
}

void StateSync::request_next() {
  if (phase_ != Phase::verify && phase_ != Phase::restore) return;
  request_timer_.cancel();
  asked_.reset();
  auto& offer = offers_.at(*target_);
  // The next peer that offered the snapshot, round robin.
  std::optional<std::uint64_t> peer;
  for (int pass = 0; pass < 2 && !peer; ++pass) {
    auto it = pass == 0 ? offer.peers.upper_bound(last_peer_) : offer.peers.begin();
    if (it != offer.peers.end() && connected_.count(*it)) peer = *it;
  }
  if (!peer) {
    if (phase_ == Phase::verify) {
      choose();  // another snapshot, or wait for one
      return;
    }
    // Restoring: the chunks so far stay while a peer may offer the
    // snapshot again, asked every ask_interval; after request_timeout
    // without one it is gone (its peers kept newer ones): start over with
    // another.
    const auto now = clock_.now();
    if (!waiting_since_) {
      waiting_since_ = now;
    } else if (now - *waiting_since_ >= options_.request_timeout) {
      log_.warn("snapshot-gone", Fields().add("height", target().height).add("chunk", restore_->next_chunk()));
      offers_.erase(*target_);
      if (auto s = discard_restore(); !s) {
        finish(s.error());
        return;
      }
      choose();
      return;
    }
    if (!ask_timer_.armed()) {
      log_.info("waiting-for-peers", Fields().add("height", target().height).add("chunk", restore_->next_chunk()));
      for (const auto& [id, p] : connected_) transport_->send(id, kFrameGetSnapshots, {});
      ask_timer_.arm_after(options_.ask_interval, [this] {
        if (phase_ == Phase::restore && !asked_) request_next();
      });
    }
    return;
  }
  waiting_since_.reset();
  last_peer_ = *peer;
  const auto& m = target();
  Bytes body;
  if (phase_ == Phase::verify && !base_) {
    expect_ = kFrameBlocks;
    body = encode_get_blocks(m.height, 1);
  } else if (phase_ == Phase::verify) {
    expect_ = kFrameHandoffs;
    body = encode_get_blocks(light_->next_handoff(), state::kMaxHandoffPage);
  } else {
    expect_ = kFrameChunk;
    body = encode_get_chunk(m.height, restore_->next_chunk());
  }
  const std::uint8_t type =
      expect_ == kFrameBlocks ? kFrameGetBlocks : expect_ == kFrameHandoffs ? kFrameGetHandoffs : kFrameGetChunk;
  if (!transport_->send(*peer, type, body)) {
    forget(*peer);
    clock_.post([this] { request_next(); });
    return;
  }
  asked_ = *peer;
  request_timer_.arm_after(options_.request_timeout, [this, p = *peer] {
    if (asked_ != p) return;
    log_.info("peer-slow", Fields().add("peer", p).add("waited_ms", options_.request_timeout.count()));
    forget(p);
    request_next();
  });
}

void StateSync::forget(std::uint64_t peer) {
  passed_over_.insert(peer);
  if (target_)
    if (auto it = offers_.find(*target_); it != offers_.end()) it->second.peers.erase(peer);
}

void StateSync::ban(std::uint64_t peer, const std::string& reason) {
  if (auto it = connected_.find(peer); it != connected_.end()) banned_.insert(it->second.node_key);
  for (auto& [key, offer] : offers_) offer.peers.erase(peer);
  ++dropped_;
  log_.warn("peer-lied", Fields().add("peer", peer).add("reason", reason));
  transport_->disconnect(peer, reason);  // may report on_disconnected: asked_ is already handled by the caller
}

void StateSync::on_base(std::uint64_t peer, ByteView body) {
  request_timer_.cancel();
  asked_.reset();
  auto items = decode_blocks(body);
  if (!items) {
    ban(peer, "malformed-blocks");
    request_next();
    return;
  }
  if (items->empty()) {  // it no longer keeps that block
    forget(peer);
    request_next();
    return;
  }
  auto message = consensus::decode_message((*items)[0]);
  const consensus::Decision* d = message ? std::get_if<consensus::Decision>(&*message) : nullptr;
  const auto& m = target();
  if (!d || d->block.header.height != m.height || d->block.hash() != m.block_hash ||
      d->block.header.state_root != m.state_root || d->certificate.height != m.height ||
      d->certificate.block_hash != m.block_hash) {
    ban(peer, "snapshot-bad-base");
    request_next();
    return;
  }
  base_ = *d;
  progress_verify(peer);
}

void StateSync::on_handoffs(std::uint64_t peer, ByteView body) {
  request_timer_.cancel();
  asked_.reset();
  auto page = decode_handoffs(body);
  if (!page) {
    ban(peer, "malformed-handoffs");
    request_next();
    return;
  }
  if (page->empty()) {  // it lacks them (a data directory from before hand-offs)
    forget(peer);
    request_next();
    return;
  }
  const std::uint64_t epoch_of_target = certifying_epoch(target().height, genesis_.params.epoch_blocks);
  for (auto& h : *page) {
    if (light_->height() >= last_handoff_needed()) break;
    if (light_->height() == epoch_of_target && !header_checked_) break;  // the header first
    if (auto s = light_->advance(h); !s) {
      ban(peer, s.error().reason);
      request_next();
      return;
    }
    handoffs_.push_back(std::move(h));
  }
  progress_verify(peer);
}

void StateSync::progress_verify(std::uint64_t peer) {
  const auto& m = target();
  const std::uint64_t epoch_of_target = certifying_epoch(m.height, genesis_.params.epoch_blocks);
  if (!header_checked_ && light_->height() == epoch_of_target) {
    if (auto s = light_->verify_header(base_->block.header, base_->certificate); !s) {
      ban(peer, s.error().reason);
      base_.reset();
      request_next();
      return;
    }
    header_checked_ = true;
  }
  if (!header_checked_ || light_->height() < last_handoff_needed()) {
    request_next();  // more hand-offs
    return;
  }
  if (m.height % genesis_.params.epoch_blocks == 0 && handoffs_.back().header != base_->block.header) {
    ban(peer, "handoff-wrong-chain");
    handoffs_.pop_back();
    base_.reset();
    choose();
    return;
  }
  log_.info("snapshot-verified", Fields()
                                     .add("height", m.height)
                                     .add("handoffs", handoffs_.size())
                                     .add("validators", light_->validators().size()));
  phase_ = Phase::restore;
  restore_ = std::make_unique<state::SnapshotRestore>(m, store_);
  request_next();
}

void StateSync::on_chunk(std::uint64_t peer, ByteView body) {
  auto reply = decode_chunk(body);
  const auto& m = target();
  if (!reply) {
    request_timer_.cancel();
    asked_.reset();
    ban(peer, "malformed-chunk");
    request_next();
    return;
  }
  if (reply->height != m.height || reply->index != restore_->next_chunk()) return;  // a stale answer
  request_timer_.cancel();
  asked_.reset();
  if (!reply->chunk) {
    forget(peer);
    request_next();
    return;
  }
  if (auto s = restore_->feed(*reply->chunk); !s) {
    if (s.error().reason != "snapshot-bad-chunk") {
      finish(s.error());
      return;
    }
    ban(peer, "snapshot-bad-chunk");
    request_next();  // the same chunk, from another peer
    return;
  }
  if ((restore_->next_chunk() % 16) == 0 || restore_->complete())
    log_.info("chunks", Fields().add("restored", restore_->next_chunk()).add("of", m.chunks.size()));
  if (restore_->complete())
    finish_restore();
  else
    request_next();
}

void StateSync::finish_restore() {
  auto root = restore_->finish();
  if (!root) {
    // Every chunk was the one named, yet the whole is not the certified
    // state: the manifest is forged, and so is every offer of it.
    log_.warn("snapshot-forged", Fields().add("height", target().height).add("error", root.error().to_string()));
    auto offer = offers_.at(*target_);
    for (auto p : offer.peers) ban(p, "snapshot-wrong-root");
    forged_.insert(*target_);
    offers_.erase(*target_);
    if (auto s = discard_restore(); !s) {
      finish(s.error());
      return;
    }
    choose();
    return;
  }
  const auto& m = target();
  if (auto s = state::Chain::adopt_snapshot(store_, genesis_, base_->block, base_->certificate, handoffs_); !s) {
    finish(s.error());
    return;
  }
  StateSyncReport report{m.height, m.block_hash, m.state_root, m.entries, m.chunks.size(), handoffs_.size(), dropped_};
  finish(report);
}

Status StateSync::discard_restore() {
  restore_.reset();
  waiting_since_.reset();
  return erase_all(store_);
}

void StateSync::finish(Result<StateSyncReport> r) {
  if (phase_ == Phase::done) return;
  phase_ = Phase::done;
  discovery_timer_.cancel();
  ask_timer_.cancel();
  request_timer_.cancel();
  if (done_) done_(std::move(r));
}

// ---------------------------------------------------------------- verityd start

bool needs_state_sync(const Config& config) {
  return config.state_sync.enable && !fs::exists(config.path_of(config.data_dir) / "chain" / "CURRENT");
}

Result<StateSyncReport> run_state_sync(const Config& config, Logger& logger, const Genesis& genesis,
                                       const SecretKey& node_key, StateSyncOptions options) {
  const fs::path data = config.path_of(config.data_dir);
  const fs::path tmp = data / "chain.state-sync";
  std::error_code ec;
  fs::create_directories(data, ec);
  if (ec) return local_error("io-error", data.string() + ": " + ec.message());
  Result<StateSyncReport> result = local_error("state-sync-stopped", "the state sync did not finish");
  {
    // Opened (and so locked against a second verityd on this home) before
    // a former attempt's entries are thrown away.
    auto store = state::open_leveldb_store(tmp.string());
    if (!store) {
      if (store.error().reason == "store-locked")
        return make_error("store-locked", tmp.string() + ": another verityd is syncing this home");
      return store.error();
    }
    if (auto s = erase_all(**store); !s) return s.error();
    boost::asio::io_context io;
    AsioClock clock(io);
    StateSync sync(genesis, **store, clock, logger, options);
    auto pc = p2p_config(config, genesis.chain_id, node_key, std::nullopt);
    if (!pc) return pc.error();
    pc->listen_port = 0;  // it serves nothing; the node listens once it runs
    pc->max_inbound_peers = 0;
    if (pc->persistent_peers.empty())
      return make_error("bad-config", "state sync needs peers: set [p2p] persistent_peers");
    P2P transport(io, std::move(*pc), sync, logger);
    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& e, int) {
      if (e) return;
      result = local_error("state-sync-stopped", "stopped by a signal before the state sync finished");
      transport.stop();
      io.stop();
    });
    sync.start(transport, [&](Result<StateSyncReport> r) {
      result = std::move(r);
      signals.cancel();
      transport.stop();
      io.stop();
    });
    io.run();
    // The restore's entries go from LevelDB's log into its tables now, not
    // in a replay of the log when the node opens the store.
    if (result)
      if (auto s = (*store)->settle(); !s) return s.error();
  }
  if (!result) return result;  // the next start throws what it restored away
  fs::rename(tmp, data / "chain", ec);
  if (ec) return local_error("io-error", (data / "chain").string() + ": " + ec.message());
  return result;
}

}  // namespace verity::node
