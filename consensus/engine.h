#pragma once
// PBFT (Castro and Liskov) as a pure, deterministic state machine, after
// libhotstuff's HotStuffCore: inputs are a message received and a timer
// fired; outputs are messages to send, timers to set, blocks committed
// with their commit certificates, and evidence of double signing. No
// sockets, threads, clock or disk: the node (or the test simulator) moves
// bytes and time, and implements ConsensusApp and SafetyStore.
//
// Heights are PBFT's sequence numbers, decided one at a time. The primary
// of a height and view comes from a rotation weighted by voting power
// (consensus/proposer.h); views count over the whole chain (a height
// starts in the view its predecessor committed in). Normal case: the
// primary sends a Proposal; replicas check the block
// (the application executes it: the header carries the state root) and send
// Prepare; a quorum (more than 2/3 of the voting power) of prepares makes
// the block prepared and the replica sends Commit; a quorum of commits
// commits it, and those commit signatures are its commit certificate.
//
// View change: when a height does not commit in time, a replica asks for
// view v+1 with a ViewChange carrying its last commit certificate and its
// prepared certificate. The primary of v+1 gathers a quorum, catches up to
// the highest committed height among them, and sends a NewView whose
// proposal must be the block of the highest-view prepared certificate in
// the quorum, if there is one: replicas check that themselves. Timeouts
// double with each consecutive view change. A replica that sees view
// changes from more than 1/3 of the power for higher views joins the lowest.
//
// Checkpoints: every K heights a replica signs (height, block hash); a
// quorum makes it stable, and the message log at or below it is dropped.
// Messages above max(stable checkpoint, committed height) + the watermark
// window, for stale views or heights, from non-validators, with a bad
// signature or malformed are dropped and counted, never stored: memory is
// bounded by (window x views ahead x validators).
//
// Catch-up: a replica that shows it is behind (a message for a height this
// replica committed) is sent the missing Decisions (block + commit
// certificate), which verify on their own.
//
// Safety across crashes: the engine saves what it signed at the current
// height and its prepared certificate (SafetyState) through SafetyStore
// before it puts a signed message in its Output, and after a restart it
// refuses to sign anything that conflicts with it.

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "consensus/evidence.h"
#include "consensus/messages.h"
#include "consensus/proposer.h"

namespace verity::consensus {

struct EngineConfig {
  std::string chain_id;
  std::uint64_t checkpoint_interval = 10;  // K
  std::uint64_t watermark_window = 20;     // heights accepted above max(stable, committed)
  std::uint64_t max_views_ahead = 16;
  std::uint64_t base_timeout = 200;        // in the caller's ticks
  std::uint64_t max_timeout_doublings = 6;
  std::uint64_t max_catch_up = 20;         // decisions sent per catch-up
  // The double-sign guard (docs/operators.md, "Restoring a validator"): a
  // replica whose first vote since it started would be for a height more
  // than one above its restored SafetyState's holds every vote (propose,
  // prepare, commit: it follows as an observer, but still asks for view
  // changes) until the caller calls release_signing().
  bool guard_stale_record = false;
};

class ConsensusApp {
 public:
  virtual ~ConsensusApp() = default;
  virtual std::uint64_t committed_height() const = 0;
  // The set that certifies `height`; nullopt when not yet known.
  virtual std::optional<ValidatorSet> validators_for(std::uint64_t height) const = 0;
  // A new block for committed_height() + 1.
  virtual Block propose(std::uint64_t height, std::uint64_t view) = 0;
  // Whether the primary should propose a new block now (the node waits for
  // transactions, or for its empty-block interval). When it says no, the
  // caller calls Engine::on_ready() later. A block this replica prepared
  // before a restart, and a NewView's proposal, never wait.
  virtual bool ready_to_propose(std::uint64_t /*height*/) { return true; }
  // Executes a proposed block for committed_height() + 1 without
  // committing; an error means the block is invalid.
  virtual Status check(const Block& block) = 0;
  virtual Status commit(const Block& block, const CommitCertificate& certificate) = 0;
  virtual std::optional<Decision> decision(std::uint64_t height) const = 0;
};

// What a validator must remember across a crash.
struct SafetyState {
  std::uint64_t height = 0;      // the height the fields below are about
  std::uint64_t view = 0;        // the highest view entered
  std::uint64_t asked_view = 0;  // the highest view asked for in a ViewChange
  std::vector<Vote> signed_votes;
  std::optional<PreparedCertificate> prepared;

  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("height", s.height);
    f("view", s.view);
    f("asked_view", s.asked_view);
    f("signed_votes", s.signed_votes, Max{100'000, 100});
    f("prepared", s.prepared);
  }
  friend bool operator==(const SafetyState&, const SafetyState&) = default;
};

class SafetyStore {
 public:
  virtual ~SafetyStore() = default;
  // Must be durable before any message of the step that saved it leaves
  // the node: durable when it returns, or made durable by the engine's
  // caller before it acts on that step's Output (the node's store syncs
  // once per step, node/safety_file.h).
  virtual Status save(const SafetyState& state) = 0;
};

struct Outbound {
  std::optional<PublicKey> to;  // nullopt: every other validator
  Bytes bytes;
};

// Only the latest timer counts: each new one supersedes the ones before
// (the caller may still deliver them; the engine ignores them by id).
struct TimerRequest {
  std::uint64_t id = 0;
  std::uint64_t height = 0;
  std::uint64_t view = 0;
  std::uint64_t delay = 0;
  bool operator==(const TimerRequest&) const = default;
};

struct Committed {
  Block block;
  CommitCertificate certificate;
  // Decided from the votes this replica received as they were cast, not
  // from a Decision sent to catch it up.
  bool live = false;
};

struct Output {
  std::vector<Outbound> messages;
  std::vector<TimerRequest> timers;
  std::vector<Committed> committed;
  std::vector<DoubleSignEvidence> evidence;
  // Valid votes under this replica's own key, for its current height or
  // later, that it did not sign: another instance runs with the key.
  std::vector<Vote> foreign_own_votes;
  std::vector<Error> local_errors;  // the app or the store failed: the node should stop
};

struct DropCounters {
  std::uint64_t malformed = 0, bad_signature = 0, not_validator = 0, beyond_watermark = 0, stale_height = 0,
                stale_view = 0, duplicate = 0, invalid = 0;
  std::uint64_t total() const {
    return malformed + bad_signature + not_validator + beyond_watermark + stale_height + stale_view + duplicate + invalid;
  }
};

class Engine {
 public:
  Engine(EngineConfig config, SecretKey key, ConsensusApp& app, SafetyStore& store, SafetyState restored = {});

  Output start();
  Output on_message(const PublicKey& from, ByteView bytes);
  // The same for a message its caller decoded already (decode_message).
  Output on_message(const PublicKey& from, Message message);
  Output on_timer(const TimerRequest& timer);
  // The application became ready to propose (see ConsensusApp::ready_to_propose).
  Output on_ready();
  // Whether this replica is the primary of the current height and view and
  // has not proposed yet: the node polls ready_to_propose() only then.
  bool awaiting_own_proposal() const;
  // The double-sign guard holds this replica's votes (see
  // EngineConfig::guard_stale_record); release_signing() lifts it for good.
  bool signing_held() const { return held_; }
  // The guard may still hold: it is on and this replica has signed
  // nothing since it started, nor been released.
  bool guard_pending() const { return config_.guard_stale_record && !signed_since_start_; }
  void release_signing() {
    held_ = false;
    signed_since_start_ = true;
  }
  // The height of the SafetyState this replica started from (0: none).
  std::uint64_t record_height() const { return record_height_; }

  std::uint64_t height() const { return height_; }
  std::uint64_t view() const { return view_; }
  // The highest view this replica is in or asking for: the windows of
  // views it accepts are counted from here.
  std::uint64_t view_base() const { return std::max(view_, vc_target_); }
  bool in_view_change() const { return vc_target_ != 0; }
  std::uint64_t stable_checkpoint() const { return stable_; }
  // Messages for heights above this are dropped.
  std::uint64_t high_watermark() const;
  const DropCounters& drops() const { return drops_; }
  std::size_t log_size() const;
  const PublicKey& key() const { return key_.public_key(); }

 private:
  using VoteKey = std::tuple<std::uint64_t, std::uint64_t, std::uint8_t, PublicKey>;  // height, view, phase, validator

  // helpers
  // Shared so that a set a caller holds stays valid when others are looked
  // up meanwhile (sets differ across epochs).
  std::shared_ptr<const ValidatorSet> set_for(std::uint64_t height);
  PublicKey primary(const ValidatorSet& set, std::uint64_t height, std::uint64_t view) const;
  // Whether this replica's key is in the set of `height`: a replica that is
  // not (a full node) follows the protocol as an observer and signs nothing.
  bool member(std::uint64_t height);
  // member(), and the double-sign guard does not hold votes at `height`.
  bool can_sign(std::uint64_t height);
  bool observable(std::uint64_t height, std::uint64_t view) const {
    return height > stable_ && height <= high_watermark() && view + config_.max_views_ahead >= view_ &&
           view <= view_base() + config_.max_views_ahead;
  }
  std::uint64_t timeout() const;
  std::optional<Vote> sign_vote(VotePhase phase, std::uint64_t view, const Hash256& hash);
  void send(std::optional<PublicKey> to, const Message& m);
  void persist();
  void observe(const Vote& v);
  bool valid_vote(const Vote& v, const ValidatorSet& set);
  bool valid_prepared(const PreparedCertificate& c, std::uint64_t below_view);
  bool valid_view_change(const ViewChange& m);
  std::optional<Hash256> forced_hash(const std::vector<ViewChange>& vcs, std::uint64_t height) const;

  // protocol steps
  // Messages are taken by value (moved in by on_message): a proposal's
  // block is moved, never copied, into where the engine keeps it.
  void handle(const PublicKey& from, Message m);
  void on_proposal(const PublicKey& from, Proposal p);
  void on_vote(const PublicKey& from, const Vote& v);
  void on_view_change(const ViewChange& m);
  void on_new_view(const NewView& m);
  void on_checkpoint(const Checkpoint& c);
  void on_decision(Decision d);
  void accept_proposal(Proposal p);
  void progress();
  // Moves the block into out_.committed once the app committed it (left
  // untouched when the commit fails).
  void decide(Block&& block, const CommitCertificate& cert, bool live);
  void after_height_change();
  void maybe_propose();
  ViewChange own_view_change(std::uint64_t new_view);
  void start_view_change(std::uint64_t new_view);
  void check_view_change_quorum();
  void try_new_view(std::uint64_t new_view);
  void enter_view(std::uint64_t view);
  void catch_up(const PublicKey& peer, std::uint64_t from_height);
  void set_timer();

  EngineConfig config_;
  SecretKey key_;
  ConsensusApp& app_;
  SafetyStore& store_;
  SafetyState safety_;
  Output out_;  // collects the outputs of the step being run

  std::uint64_t height_ = 1;
  std::uint64_t view_ = 0;
  std::uint64_t vc_target_ = 0;  // the view being asked for; 0 when not changing views
  bool vc_quorum_ = false;       // a quorum has asked for vc_target_ too
  std::uint64_t consecutive_timeouts_ = 0;
  std::uint64_t timer_id_ = 0;
  std::uint64_t resume_view_change_ = 0;  // after a restart: the view asked for
  // The restored record, when it speaks of a height above the block store's
  // (the store was wiped or lost commits, the record kept): below its
  // height the replica signs no vote and saves no state (the record must
  // keep what it holds), and at its height what it signed there binds, as
  // after any restart. The replica follows the chain meanwhile.
  std::optional<SafetyState> ahead_;
  std::uint64_t record_height_ = 0;  // of the restored SafetyState
  bool signed_since_start_ = false;
  bool held_ = false;  // the double-sign guard holds signatures
  // Heights up to this one in view_ are filled only by the NewView's own
  // proposal or by decisions, never by an ordinary proposal.
  std::uint64_t new_view_floor_ = 0;
  // The proposal accepted for (height_, view_). Once it is prepared it
  // moves into safety_.prepared (which must hold it anyway) rather than
  // being copied there: proposal() finds it in either place.
  std::optional<Proposal> proposal_;
  bool proposal_prepared_ = false;  // it is safety_.prepared->proposal
  const Proposal* proposal() const {
    if (proposal_prepared_) return &safety_.prepared->proposal;
    return proposal_ ? &*proposal_ : nullptr;
  }
  Proposal* proposal() { return const_cast<Proposal*>(std::as_const(*this).proposal()); }
  void reset_proposal() {
    proposal_.reset();
    proposal_prepared_ = false;
  }
  bool sent_commit_ = false;
  std::uint64_t stable_ = 0;
  std::map<std::uint64_t, std::shared_ptr<const ValidatorSet>> set_cache_;
  mutable std::shared_ptr<const ProposerSchedule> schedule_;  // of the set last asked about

  std::map<VoteKey, Vote> votes_;
  std::map<std::pair<std::uint64_t, std::uint64_t>, Proposal> future_proposals_;  // (height, view)
  std::map<std::uint64_t, Decision> future_decisions_;
  std::map<std::pair<std::uint64_t, PublicKey>, ViewChange> view_changes_;  // (new view, validator)
  std::map<std::pair<std::uint64_t, PublicKey>, Checkpoint> checkpoints_;   // (height, validator)
  std::optional<Checkpoint> own_checkpoint_;
  std::map<PublicKey, std::uint64_t> caught_up_;
  std::optional<NewView> last_new_view_;  // the one that brought us into view_
  std::set<PublicKey> new_view_sent_;     // peers sent last_new_view_ since the last timer  // highest height sent to each peer since the last timer
  EquivocationDetector detector_;
  DropCounters drops_;
};

}  // namespace verity::consensus
