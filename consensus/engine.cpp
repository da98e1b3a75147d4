#include "consensus/engine.h"

#include "consensus/proposer.h"

#include <algorithm>

namespace verity::consensus {

// --- construction ----------------------------------------------------------------------

Engine::Engine(EngineConfig config, SecretKey key, ConsensusApp& app, SafetyStore& store, SafetyState restored)
    : config_(std::move(config)), key_(std::move(key)), app_(app), store_(store) {
  height_ = app_.committed_height() + 1;
  view_ = restored.view;
  resume_view_change_ = restored.asked_view > restored.view ? restored.asked_view : 0;
  record_height_ = restored.height;
  if (restored.height == height_) {
    safety_ = std::move(restored);  // what we signed at this height still binds us
  } else {
    safety_ = SafetyState{height_, view_, restored.asked_view, {}, std::nullopt};
    if (restored.height > height_) ahead_ = std::move(restored);
  }
}

Output Engine::start() {
  out_ = {};
  // Behind the record (ahead_): no vote and no save until the chain reaches
  // its height; sync brings the blocks, certified by the others.
  if (ahead_) return std::move(out_);
  persist();
  if (resume_view_change_ != 0) {
    // We had asked for a view and never entered it: ask again rather than
    // act in the old view, where a NewView may already be forming without us.
    start_view_change(resume_view_change_);
    return std::move(out_);
  }
  maybe_propose();
  set_timer();
  return std::move(out_);
}

std::size_t Engine::log_size() const {
  return votes_.size() + future_proposals_.size() + future_decisions_.size() + view_changes_.size() + checkpoints_.size();
}

// --- helpers ---------------------------------------------------------------------------------

std::shared_ptr<const ValidatorSet> Engine::set_for(std::uint64_t height) {
  if (auto it = set_cache_.find(height); it != set_cache_.end()) return it->second;
  auto set = app_.validators_for(height);
  if (!set || set->size() == 0) return nullptr;
  if (set_cache_.size() >= 64) set_cache_.erase(set_cache_.begin());  // bounded; holders keep theirs alive
  auto shared = std::make_shared<const ValidatorSet>(std::move(*set));
  set_cache_.emplace(height, shared);
  return shared;
}

bool Engine::member(std::uint64_t height) {
  auto set = set_for(height);
  return set && set->power_of(key_.public_key()).has_value();
}

// Whether this replica may vote (propose, prepare, commit) at `height`.
// The record this replica started from covers what it signed up to its
// height; a first vote after a start at a height beyond the next one means
// the record is older than the chain (lost, or restored from a backup),
// and what this key signed meanwhile is unknown: hold. View changes and
// checkpoints are no votes (nothing slashes them), so a held replica still
// signs those: two held replicas must not stall a chain that needs them
// to move views while they watch.
bool Engine::can_sign(std::uint64_t height) {
  if (held_ || !member(height)) return false;
  if (ahead_ && height < ahead_->height) return false;  // what it signed here is no longer on record
  if (config_.guard_stale_record && !signed_since_start_ && height > record_height_ + 1) {
    held_ = true;
    return false;
  }
  return true;
}

PublicKey Engine::primary(const ValidatorSet& set, std::uint64_t height, std::uint64_t view) const {
  // Sets change only at epoch boundaries: one schedule serves many heights.
  if (!schedule_ || !(schedule_->set() == set)) schedule_ = std::make_shared<const ProposerSchedule>(set);
  return schedule_->proposer(height, view);
}

std::uint64_t Engine::high_watermark() const { return std::max(stable_, height_ - 1) + config_.watermark_window; }

std::uint64_t Engine::timeout() const {
  return config_.base_timeout << std::min(consecutive_timeouts_, config_.max_timeout_doublings);
}

void Engine::persist() {
  if (ahead_) return;  // the record holds a later height: keep it whole
  safety_.height = height_;
  safety_.view = std::max(safety_.view, view_);
  safety_.asked_view = std::max(safety_.asked_view, vc_target_);
  if (auto s = store_.save(safety_); !s) out_.local_errors.push_back(s.error());
}

// Signs a vote unless it conflicts with one already signed at this height
// (same phase and view, another block): that is the double sign a restart
// must never produce. Persists before returning the vote.
std::optional<Vote> Engine::sign_vote(VotePhase phase, std::uint64_t view, const Hash256& hash) {
  if (!can_sign(height_)) return std::nullopt;  // an observer (a full node, or held) never votes
  for (const auto& v : safety_.signed_votes)
    if (v.phase == phase && v.view == view && v.height == height_) {
      if (v.block_hash != hash) return std::nullopt;
      return v;  // the same vote again
    }
  Vote v;
  v.phase = phase;
  v.height = height_;
  v.view = view;
  v.block_hash = hash;
  v.sign(config_.chain_id, key_);
  signed_since_start_ = true;
  safety_.signed_votes.push_back(v);
  persist();
  if (!out_.local_errors.empty()) return std::nullopt;  // never send what was not saved
  return v;
}

void Engine::send(std::optional<PublicKey> to, const Message& m) { out_.messages.push_back({to, encode_message(m)}); }

// Every vote whose signature checked is watched for equivocation, if its
// height is inside the window (which bounds the detector's memory).
void Engine::observe(const Vote& v) {
  if (!observable(v.height, v.view)) return;
  if (auto e = detector_.observe(v)) out_.evidence.push_back(*e);
}

bool Engine::valid_vote(const Vote& v, const ValidatorSet& set) {
  if (!set.power_of(v.validator)) {
    drops_.not_validator++;
    return false;
  }
  if (!v.verify(config_.chain_id)) {
    drops_.bad_signature++;
    return false;
  }
  observe(v);
  if (v.validator == key_.public_key() && v.height >= height_) {
    bool ours = false;
    for (const auto& s : safety_.signed_votes)
      ours = ours || (s.phase == v.phase && s.height == v.height && s.view == v.view && s.block_hash == v.block_hash);
    if (!ours) out_.foreign_own_votes.push_back(v);
  }
  return true;
}

// A proposal signed by its view's primary and a quorum of distinct valid
// prepares for it, all in a view below `below_view`.
bool Engine::valid_prepared(const PreparedCertificate& c, std::uint64_t below_view) {
  const Proposal& p = c.proposal;
  if (!p.consistent() || p.vote.view >= below_view) return false;
  auto set = set_for(p.vote.height);
  if (!set || p.vote.validator != primary(*set, p.vote.height, p.vote.view) || !valid_vote(p.vote, *set)) return false;
  std::uint64_t power = 0;
  std::set<PublicKey> seen;
  for (const auto& v : c.prepares) {
    if (v.phase != VotePhase::prepare || v.height != p.vote.height || v.view != p.vote.view ||
        v.block_hash != p.vote.block_hash || !seen.insert(v.validator).second || !valid_vote(v, *set))
      return false;
    power += *set->power_of(v.validator);
  }
  return set->is_quorum(power);
}

bool Engine::valid_view_change(const ViewChange& m) {
  if (m.committed_height == 0) {
    if (!m.committed.empty()) return false;
  } else {
    auto cset = set_for(m.committed_height);
    if (!cset || m.committed.height != m.committed_height || !m.committed.verify(config_.chain_id, *cset).ok())
      return false;
  }
  if (m.prepared && (m.prepared->proposal.vote.height != m.committed_height + 1 || !valid_prepared(*m.prepared, m.new_view)))
    return false;
  return true;
}

// The block a new view must re-propose at `height`: that of the
// highest-view prepared certificate among the view changes, if any.
std::optional<Hash256> Engine::forced_hash(const std::vector<ViewChange>& vcs, std::uint64_t height) const {
  std::optional<std::pair<std::uint64_t, Hash256>> best;
  for (const auto& vc : vcs)
    if (vc.prepared && vc.prepared->proposal.vote.height == height) {
      std::uint64_t v = vc.prepared->proposal.vote.view;
      if (!best || v > best->first) best = std::pair{v, vc.prepared->proposal.vote.block_hash};
    }
  if (!best) return std::nullopt;
  return best->second;
}

// --- inputs -------------------------------------------------------------------------------------

Output Engine::on_message(const PublicKey& from, ByteView bytes) {
  out_ = {};
  auto m = decode_message(bytes);
  if (!m) {
    drops_.malformed++;
    return std::move(out_);
  }
  handle(from, std::move(*m));
  return std::move(out_);
}

Output Engine::on_message(const PublicKey& from, Message message) {
  out_ = {};
  handle(from, std::move(message));
  return std::move(out_);
}

Output Engine::on_timer(const TimerRequest& t) {
  out_ = {};
  if (t.id != timer_id_) return std::move(out_);  // superseded
  caught_up_.clear();  // let catch-up be sent again: earlier ones may have been lost
  new_view_sent_.clear();
  if (t.height == height_) {
    if (vc_target_ != 0 && t.view == vc_target_) {
      if (vc_quorum_) {
        start_view_change(vc_target_ + 1);  // a quorum asked, yet no NewView came: its primary failed
      } else {
        // No quorum has asked for this view yet: say it again (it may have
        // been lost) and wait, rather than run ahead of the others.
        if (auto own = view_changes_.find({vc_target_, key_.public_key()}); own != view_changes_.end())
          send(std::nullopt, own->second);
        set_timer();
      }
    } else if (vc_target_ == 0 && t.view == view_) {
      start_view_change(view_ + 1);
    }
    if (own_checkpoint_) send(std::nullopt, *own_checkpoint_);  // in case it was lost
  }
  return std::move(out_);
}

void Engine::handle(const PublicKey& from, Message m) {
  std::visit(
      [&](auto& body) {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, Proposal>) on_proposal(from, std::move(body));
        if constexpr (std::is_same_v<T, Vote>) on_vote(from, body);
        if constexpr (std::is_same_v<T, ViewChange>) on_view_change(body);
        if constexpr (std::is_same_v<T, NewView>) on_new_view(body);
        if constexpr (std::is_same_v<T, Checkpoint>) on_checkpoint(body);
        if constexpr (std::is_same_v<T, Decision>) on_decision(std::move(body));
      },
      m);
}

// --- normal case --------------------------------------------------------------------------------

void Engine::on_proposal(const PublicKey& from, Proposal p) {
  const std::uint64_t h = p.vote.height, v = p.vote.view;
  if (!p.consistent()) {
    drops_.invalid++;
    return;
  }
  auto set = set_for(h);
  if (!set) {
    drops_.beyond_watermark++;
    return;
  }
  if (p.vote.validator != primary(*set, h, v)) {
    drops_.invalid++;
    return;
  }
  if (!valid_vote(p.vote, *set)) return;  // verified and watched for equivocation first
  if (h < height_) {
    drops_.stale_height++;
    if (h + 1 < height_) catch_up(from, h);  // one behind: it is about to commit, or will ask
    return;
  }
  if (h > high_watermark() || v > view_base() + config_.max_views_ahead) {
    drops_.beyond_watermark++;
    return;
  }
  if (v < view_) {
    drops_.stale_view++;
    return;
  }
  if (v == view_ && h <= new_view_floor_) {
    // Up to the NewView's height, only its own proposal counts: a byzantine
    // primary must not slip another block under a prepared one.
    drops_.invalid++;
    return;
  }
  if (h > height_ || v > view_ || vc_target_ != 0) {
    // Proposals for a later view enter only through a NewView; keep those
    // for later heights of this view.
    if (v != view_)
      drops_.stale_view++;
    else if (!future_proposals_.emplace(std::pair{h, v}, std::move(p)).second)
      drops_.duplicate++;
    return;
  }
  accept_proposal(std::move(p));
}

void Engine::accept_proposal(Proposal p) {
  if (const Proposal* accepted = proposal()) {
    if (accepted->vote.block_hash != p.vote.block_hash) drops_.invalid++;  // equivocation: the detector has it
    else drops_.duplicate++;
    return;
  }
  // The header names the primary of the view the block was first proposed
  // in (a prepared block keeps it when proposed again): the proposer's
  // reward goes there, so a primary must not name another.
  auto set = set_for(height_);
  if (!set || p.block.header.proposer != primary(*set, height_, p.block.header.view)) {
    drops_.invalid++;
    return;
  }
  if (auto s = app_.check(p.block); !s) {
    drops_.invalid++;
    return;
  }
  if (!can_sign(height_)) {  // an observer: follows the votes, casts none
    proposal_ = std::move(p);
    progress();
    return;
  }
  auto prepare = sign_vote(VotePhase::prepare, view_, p.vote.block_hash);
  if (!prepare) return;
  proposal_ = std::move(p);
  votes_[{height_, view_, static_cast<std::uint8_t>(VotePhase::prepare), key_.public_key()}] = *prepare;
  send(std::nullopt, *prepare);
  progress();
}

void Engine::on_vote(const PublicKey& from, const Vote& v) {
  if (v.phase == VotePhase::propose) {
    drops_.invalid++;  // a proposal travels with its block
    return;
  }
  auto set = set_for(v.height);
  if (!set) {
    drops_.beyond_watermark++;
    return;
  }
  if (!valid_vote(v, *set)) return;  // verified and watched for equivocation first
  if (v.height < height_) {
    drops_.stale_height++;
    if (v.height + 1 < height_) catch_up(from, v.height);  // one behind: it is about to commit, or will ask
    return;
  }
  if (v.height > high_watermark() || v.view > view_base() + config_.max_views_ahead) {
    drops_.beyond_watermark++;
    return;
  }
  if (v.view < view_) {
    drops_.stale_view++;
    return;
  }
  auto [it, inserted] = votes_.emplace(VoteKey{v.height, v.view, static_cast<std::uint8_t>(v.phase), v.validator}, v);
  if (!inserted) {
    drops_.duplicate++;
    return;
  }
  if (v.height == height_ && v.view == view_ && vc_target_ == 0) progress();
}

void Engine::progress() {
  if (!proposal() || vc_target_ != 0) return;
  auto set = set_for(height_);
  if (!set) return;
  const Hash256 hash = proposal()->vote.block_hash;
  auto collect = [&](VotePhase phase, std::vector<Vote>* out) {
    std::uint64_t power = 0;
    auto lo = votes_.lower_bound(VoteKey{height_, view_, static_cast<std::uint8_t>(phase), PublicKey{}});
    for (auto it = lo; it != votes_.end() && std::get<0>(it->first) == height_ && std::get<1>(it->first) == view_ &&
                       std::get<2>(it->first) == static_cast<std::uint8_t>(phase);
         ++it) {
      if (it->second.block_hash != hash) continue;
      power += set->power_of(it->second.validator).value_or(0);
      if (out) out->push_back(it->second);
    }
    return power;
  };

  if (!sent_commit_) {
    std::vector<Vote> prepares;
    if (!set->is_quorum(collect(VotePhase::prepare, &prepares))) return;
    if (!safety_.prepared || safety_.prepared->proposal.vote.view <= view_) {
      if (proposal_prepared_) {
        // Again, after our commit vote could not be signed: the same
        // proposal, with the prepares as of now.
        safety_.prepared->prepares = std::move(prepares);
      } else {
        safety_.prepared = PreparedCertificate{std::move(*proposal_), std::move(prepares)};
        proposal_.reset();
        proposal_prepared_ = true;
      }
    }
    if (can_sign(height_)) {
      auto commit = sign_vote(VotePhase::commit, view_, hash);  // persists the prepared certificate too
      if (!commit) return;
      votes_[{height_, view_, static_cast<std::uint8_t>(VotePhase::commit), key_.public_key()}] = *commit;
      send(std::nullopt, *commit);
    }
    sent_commit_ = true;
  }
  std::vector<Vote> commits;
  if (!set->is_quorum(collect(VotePhase::commit, &commits))) return;
  CommitCertificate cert{height_, view_, hash, {}};
  for (const auto& c : commits) cert.signatures.push_back({c.validator, c.signature});  // votes_ is ordered by key
  decide(std::move(proposal()->block), cert, /*live=*/true);  // the proposal is reset with the height
}

void Engine::decide(Block&& block, const CommitCertificate& cert, bool live) {
  if (auto s = app_.commit(block, cert); !s) {
    out_.local_errors.push_back(s.error());
    return;
  }
  const Hash256 block_hash = block.hash();
  out_.committed.push_back({std::move(block), cert, live});
  const std::uint64_t decided = height_;
  if (decided % config_.checkpoint_interval == 0 && member(decided)) {
    Checkpoint c;
    c.height = decided;
    c.block_hash = block_hash;
    c.sign(config_.chain_id, key_);
    own_checkpoint_ = c;
    checkpoints_[{decided, key_.public_key()}] = c;
    send(std::nullopt, c);
    on_checkpoint(c);
  }
  height_ = decided + 1;
  consecutive_timeouts_ = 0;
  after_height_change();
}

// Resets the round for the new height_, then uses what was buffered for it.
void Engine::after_height_change() {
  reset_proposal();
  sent_commit_ = false;
  safety_ = SafetyState{height_, std::max(safety_.view, view_), safety_.asked_view, {}, std::nullopt};
  if (ahead_ && height_ >= ahead_->height) {
    // The chain reached the record: what it signed at that height binds again.
    if (height_ == ahead_->height) {
      ahead_->view = std::max(ahead_->view, safety_.view);
      ahead_->asked_view = std::max(ahead_->asked_view, safety_.asked_view);
      safety_ = std::move(*ahead_);
    }
    ahead_.reset();
  }
  persist();
  votes_.erase(votes_.begin(), votes_.lower_bound(VoteKey{height_, 0, 0, PublicKey{}}));
  future_proposals_.erase(future_proposals_.begin(), future_proposals_.lower_bound({height_, 0}));
  future_decisions_.erase(future_decisions_.begin(), future_decisions_.lower_bound(height_));

  if (auto d = future_decisions_.find(height_); d != future_decisions_.end()) {
    Decision next = std::move(d->second);
    future_decisions_.erase(d);
    const std::uint64_t before = height_;
    on_decision(std::move(next));
    if (height_ != before) return;  // decided: that step set everything up
  }
  if (vc_target_ != 0) {
    // A pending view change: its new view may now be formable here.
    try_new_view(vc_target_);
  } else {
    if (auto p = future_proposals_.find({height_, view_}); p != future_proposals_.end()) {
      Proposal next = std::move(p->second);
      future_proposals_.erase(p);
      accept_proposal(std::move(next));
    }
    progress();
    maybe_propose();
  }
  set_timer();
}

void Engine::maybe_propose() {
  if (vc_target_ != 0 || proposal()) return;
  auto set = set_for(height_);
  if (!set || primary(*set, height_, view_) != key_.public_key()) return;
  Block block;
  // A block we already prepared at this height (before a restart) is
  // proposed again: we may have signed for it.
  if (safety_.prepared && safety_.prepared->proposal.vote.height == height_)
    block = safety_.prepared->proposal.block;
  else if (!app_.ready_to_propose(height_))
    return;  // the caller calls on_ready() when it is
  else
    block = app_.propose(height_, view_);
  auto vote = sign_vote(VotePhase::propose, view_, block.hash());
  if (!vote) return;  // we proposed another block in this view before a restart
  Proposal p{*vote, std::move(block)};
  send(std::nullopt, p);
  accept_proposal(std::move(p));
}

Output Engine::on_ready() {
  out_ = {};
  if (!ahead_) maybe_propose();
  return std::move(out_);
}

bool Engine::awaiting_own_proposal() const {
  if (ahead_ || vc_target_ != 0 || proposal()) return false;
  // A replica the double-sign guard holds (or will hold at its first vote,
  // see can_sign) proposes nothing: there is nothing to wait for. (Its node
  // polled ready_to_propose in a loop, at once each time, found by
  // tests/node/node_simulation.cpp.)
  if (held_ || (guard_pending() && height_ > record_height_ + 1)) return false;
  auto it = set_cache_.find(height_);
  if (it == set_cache_.end()) return false;
  return primary(*it->second, height_, view_) == key_.public_key();
}

void Engine::set_timer() {
  out_.timers.push_back({++timer_id_, height_, vc_target_ != 0 ? vc_target_ : view_, timeout()});
}

// --- catch-up ----------------------------------------------------------------------------------------

void Engine::catch_up(const PublicKey& peer, std::uint64_t from_height) {
  if (peer == key_.public_key()) return;
  const std::uint64_t committed = height_ - 1;
  std::uint64_t start = std::max(from_height, caught_up_.count(peer) ? caught_up_[peer] + 1 : from_height);
  if (start == 0) start = 1;
  for (std::uint64_t h = start; h <= committed && h < start + config_.max_catch_up; ++h) {
    auto d = app_.decision(h);
    if (!d) break;
    send(peer, *d);
    caught_up_[peer] = h;
  }
}

void Engine::on_decision(Decision d) {
  const std::uint64_t h = d.block.header.height;
  if (h < height_) {
    drops_.stale_height++;
    return;
  }
  if (h > high_watermark()) {
    drops_.beyond_watermark++;
    return;
  }
  auto set = set_for(h);
  if (!set || d.certificate.height != h || d.certificate.block_hash != d.block.hash() ||
      !d.certificate.verify(config_.chain_id, *set).ok()) {
    drops_.invalid++;
    return;
  }
  if (h > height_) {
    if (!future_decisions_.emplace(h, std::move(d)).second) drops_.duplicate++;
    return;
  }
  if (auto s = app_.check(d.block); !s) {
    drops_.invalid++;
    return;
  }
  // A quorum committed in a later view: join it. A replica that asked for
  // a view change keeps waiting for its NewView instead: a view change it
  // sent may already count towards one, and voting in an older view after
  // it could hide a prepared block from that NewView.
  if (vc_target_ == 0 && d.certificate.view > view_) {
    view_ = d.certificate.view;
    new_view_floor_ = 0;  // the view's NewView height is at most this decided one
  }
  decide(std::move(d.block), d.certificate, /*live=*/false);
}

// --- view change ---------------------------------------------------------------------------------------

// Our ViewChange for `new_view` as of now: our last commit certificate and
// our prepared certificate for the next height, signed.
ViewChange Engine::own_view_change(std::uint64_t new_view) {
  ViewChange m;
  m.new_view = new_view;
  m.committed_height = height_ - 1;
  if (m.committed_height > 0)
    if (auto d = app_.decision(m.committed_height)) m.committed = d->certificate;
  if (safety_.prepared && safety_.prepared->proposal.vote.height == height_) m.prepared = safety_.prepared;
  m.sign(config_.chain_id, key_);
  return m;
}

void Engine::start_view_change(std::uint64_t new_view) {
  if (new_view <= view_ || (vc_target_ != 0 && new_view <= vc_target_)) return;
  resume_view_change_ = 0;
  vc_target_ = new_view;
  vc_quorum_ = false;
  consecutive_timeouts_++;
  persist();
  if (member(height_)) {  // an observer follows view changes without asking (a held replica asks: not a vote)
    ViewChange m = own_view_change(new_view);
    view_changes_[{new_view, key_.public_key()}] = m;
    send(std::nullopt, m);
  }
  set_timer();
  check_view_change_quorum();
  try_new_view(new_view);
}

// PBFT's liveness rule: the timer that moves a replica on to the next view
// runs only once a quorum has asked for the view it waits for (or a later
// one), so replicas that started their view changes at different times
// converge on one view instead of stepping past each other.
void Engine::check_view_change_quorum() {
  if (vc_target_ == 0 || vc_quorum_) return;
  auto set = set_for(height_);
  if (!set) return;
  std::set<PublicKey> asked;
  for (auto it = view_changes_.lower_bound({vc_target_, PublicKey{}}); it != view_changes_.end(); ++it)
    asked.insert(it->second.validator);
  std::uint64_t power = 0;
  for (const auto& v : asked) power += set->power_of(v).value_or(0);
  if (!set->is_quorum(power)) return;
  vc_quorum_ = true;
  set_timer();
}

void Engine::on_view_change(const ViewChange& m) {
  auto set = set_for(height_);
  if (!set) return;
  if (!set->power_of(m.validator)) {
    drops_.not_validator++;
    return;
  }
  if (!m.verify(config_.chain_id)) {
    drops_.bad_signature++;
    return;
  }
  if (m.new_view <= view_) {
    drops_.stale_view++;
    if (m.committed_height + 1 < height_) catch_up(m.validator, m.committed_height + 1);
    // The sender missed the NewView we acted on: it proves itself, so pass
    // it on, once per peer between our timers.
    if (last_new_view_ && last_new_view_->view == view_ && m.new_view <= view_ && new_view_sent_.insert(m.validator).second)
      send(m.validator, *last_new_view_);
    return;
  }
  if (m.new_view > view_base() + config_.max_views_ahead) {
    drops_.beyond_watermark++;
    return;
  }
  if (!valid_view_change(m)) {
    drops_.invalid++;
    return;
  }
  if (m.committed_height + 1 < height_) catch_up(m.validator, m.committed_height + 1);
  if (!view_changes_.emplace(std::pair{m.new_view, m.validator}, m).second) {
    drops_.duplicate++;
    return;
  }
  // More than 1/3 of the power wants a later view: at least one honest
  // replica timed out, so join the lowest of those views.
  std::map<PublicKey, std::uint64_t> lowest;
  const std::uint64_t current = vc_target_ != 0 ? vc_target_ : view_;
  for (const auto& [k, vc] : view_changes_)
    if (k.first > current && !lowest.count(k.second)) lowest[k.second] = k.first;
  std::uint64_t power = 0, min_view = UINT64_MAX;
  for (const auto& [validator, v] : lowest) {
    power += set->power_of(validator).value_or(0);
    min_view = std::min(min_view, v);
  }
  if (set->exceeds_one_third(power)) start_view_change(min_view);
  check_view_change_quorum();
  try_new_view(m.new_view);
}

void Engine::try_new_view(std::uint64_t new_view) {
  // Never below a view we asked for: our ViewChange may count towards it,
  // and acting in a lower view could hide a prepared block from it.
  if (new_view <= view_ || new_view < vc_target_) return;
  auto set = set_for(height_);
  if (!set || primary(*set, height_, new_view) != key_.public_key() || !can_sign(height_)) return;
  // Our own ViewChange, as of now: the NewView's height must be exactly one
  // above the highest commit its quorum shows, and ours may be the highest.
  view_changes_[{new_view, key_.public_key()}] = own_view_change(new_view);
  std::vector<ViewChange> vcs;
  std::uint64_t power = 0, highest_committed = 0;
  for (auto it = view_changes_.lower_bound({new_view, PublicKey{}}); it != view_changes_.end() && it->first.first == new_view; ++it) {
    vcs.push_back(it->second);
    power += set->power_of(it->second.validator).value_or(0);
    highest_committed = std::max(highest_committed, it->second.committed_height);
  }
  if (!set->is_quorum(power)) return;
  if (height_ - 1 < highest_committed) return;  // catch up first: decisions are on their way

  Block block;
  if (auto forced = forced_hash(vcs, height_)) {
    for (const auto& vc : vcs)
      if (vc.prepared && vc.prepared->proposal.vote.block_hash == *forced) block = vc.prepared->proposal.block;
  } else if (safety_.prepared && safety_.prepared->proposal.vote.height == height_) {
    block = safety_.prepared->proposal.block;
  } else {
    block = app_.propose(height_, new_view);
  }
  // Sign as the new view's primary. Entering the view first makes the
  // proposal vote and the view persist together.
  enter_view(new_view);
  auto vote = sign_vote(VotePhase::propose, new_view, block.hash());
  if (!vote) return;
  NewView nv;
  nv.view = new_view;
  nv.view_changes = vcs;
  nv.proposal = Proposal{*vote, std::move(block)};
  nv.sign(config_.chain_id, key_);
  send(std::nullopt, nv);
  new_view_floor_ = height_;
  Proposal own = nv.proposal;
  last_new_view_ = std::move(nv);
  accept_proposal(std::move(own));
  set_timer();
}

void Engine::enter_view(std::uint64_t view) {
  view_ = view;
  vc_target_ = 0;
  vc_quorum_ = false;
  new_view_floor_ = 0;
  reset_proposal();
  sent_commit_ = false;
  persist();
  for (auto it = future_proposals_.begin(); it != future_proposals_.end();)
    it = it->first.second < view_ ? future_proposals_.erase(it) : std::next(it);
  view_changes_.erase(view_changes_.begin(), view_changes_.lower_bound({view_ + 1, PublicKey{}}));
  votes_.erase(votes_.begin(), votes_.lower_bound(VoteKey{height_, view_, 0, PublicKey{}}));
}

void Engine::on_new_view(const NewView& m) {
  auto set = set_for(height_);
  if (!set) return;
  if (m.validator != primary(*set, m.proposal.vote.height, m.view)) {
    drops_.invalid++;
    return;
  }
  if (!m.verify(config_.chain_id)) {
    drops_.bad_signature++;
    return;
  }
  if (m.view <= view_ || m.view < vc_target_) {  // never back below a view we asked for
    drops_.stale_view++;
    return;
  }
  // No upper bound on the view: a NewView proves a quorum moved there, and a
  // replica that fell far behind in views must be able to rejoin. It is
  // checked here and not stored, so it costs no memory.
  std::uint64_t power = 0, highest_committed = 0;
  std::set<PublicKey> seen;
  for (const auto& vc : m.view_changes) {
    if (vc.new_view != m.view || !seen.insert(vc.validator).second || !set->power_of(vc.validator) ||
        !vc.verify(config_.chain_id) || !valid_view_change(vc)) {
      drops_.invalid++;
      return;
    }
    power += *set->power_of(vc.validator);
    highest_committed = std::max(highest_committed, vc.committed_height);
  }
  const Proposal& p = m.proposal;
  const std::uint64_t ph = p.vote.height;
  if (!set->is_quorum(power) || !p.consistent() || p.vote.view != m.view ||
      p.vote.validator != m.validator || ph != highest_committed + 1 || !p.vote.verify(config_.chain_id)) {
    drops_.invalid++;
    return;
  }
  if (auto forced = forced_hash(m.view_changes, ph); forced && *forced != p.vote.block_hash) {
    drops_.invalid++;  // the primary ignored a prepared block: a byzantine primary
    return;
  }
  observe(p.vote);
  enter_view(m.view);
  new_view_floor_ = ph;
  last_new_view_ = m;
  if (ph < height_) {
    catch_up(m.validator, ph);
  } else if (ph > height_) {
    if (ph <= high_watermark()) future_proposals_.emplace(std::pair{ph, m.view}, p);
  } else {
    accept_proposal(p);
  }
  set_timer();
}

// --- checkpoints -------------------------------------------------------------------------------------------

void Engine::on_checkpoint(const Checkpoint& c) {
  if (c.height <= stable_) {
    drops_.stale_height++;
    return;
  }
  if (c.height > high_watermark() || c.height % config_.checkpoint_interval != 0) {
    drops_.beyond_watermark++;
    return;
  }
  auto set = set_for(c.height);
  if (!set || !set->power_of(c.validator)) {
    drops_.not_validator++;
    return;
  }
  if (c.validator != key_.public_key()) {
    if (!c.verify(config_.chain_id)) {
      drops_.bad_signature++;
      return;
    }
    if (!checkpoints_.emplace(std::pair{c.height, c.validator}, c).second) {
      drops_.duplicate++;
      return;
    }
  }
  std::uint64_t power = 0;
  for (auto it = checkpoints_.lower_bound({c.height, PublicKey{}}); it != checkpoints_.end() && it->first.first == c.height; ++it)
    if (it->second.block_hash == c.block_hash) power += set->power_of(it->second.validator).value_or(0);
  if (!set->is_quorum(power)) return;
  // Stable: forget everything at or below it.
  stable_ = c.height;
  checkpoints_.erase(checkpoints_.begin(), checkpoints_.lower_bound({stable_ + 1, PublicKey{}}));
  detector_.prune_below(stable_ + 1);
}

}  // namespace verity::consensus
