#pragma once
// Joining by state sync (docs/node.md, "State sync"): a new node fetches a
// snapshot of the state (state/snapshot.h) from its peers instead of
// replaying every block, and trusts none of them:
//
//   1. discover  ask every peer which snapshots it keeps (get_snapshots);
//                gather offers until every linked peer has answered, or
//                for `discovery` after the first one, then take the
//                highest height (ties: the most peers);
//   2. verify    fetch the block of that height with its certificate
//                (get_blocks) from a peer that offered it: the block must
//                be the manifest's (hash and state root); follow the
//                validator-set hand-offs (get_handoffs) from the genesis
//                with a light client (core/light_client.h) to the set that
//                certifies that height, and check the certificate with it
//                (and, for an epoch block, its own hand-off);
//   3. restore   fetch the chunks in order, each from the next peer that
//                offered the snapshot, checking each against the
//                manifest's id as it comes (SnapshotRestore), then the
//                rebuilt root against the certified one;
//   4. adopt     write the block, certificate, hand-offs and tip
//                (Chain::adopt_snapshot): the node then follows the chain
//                from the next height like any node.
//
// A peer that lies (a block that is not the manifest's, a hand-off or
// certificate that does not verify, a chunk that is not the one named) is
// dropped with the reason and not used again; the same request goes to
// another peer. A manifest whose chunks rebuild another root is forged:
// every peer that offered it is dropped, the restored state is thrown away
// and discovery starts again. A peer that does not answer within
// `request_timeout`, or no longer has what was asked, is just not asked
// again for this snapshot.
//
// Frames (types in node/node.h; bodies below, canonical encoding):
//   7  get_snapshots  empty
//   8  snapshots      varint n <= kMaxSnapshotsOffered, n x bytes(manifest)
//   9  get_chunk      varint height, varint index
//   10 chunk          varint height, varint index, u8 present, [bytes chunk]
//   11 get_handoffs   varint from_height, varint max (like get_blocks)
//   12 handoffs       varint n <= kMaxHandoffPage, n x bytes(hand-off)
//
// StateSync runs on one thread (its Clock's), like the Node; it is a
// P2PHandler of its own transport and answers no request of its peers.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "consensus/messages.h"
#include "core/light_client.h"
#include "node/clock.h"
#include "node/config.h"
#include "node/log.h"
#include "node/transport.h"
#include "state/chain.h"
#include "state/snapshot.h"

namespace verity::node {

inline constexpr std::size_t kMaxSnapshotsOffered = 4;

Bytes encode_snapshots(const std::vector<state::SnapshotManifest>& manifests);
std::optional<std::vector<state::SnapshotManifest>> decode_snapshots(ByteView body);
struct ChunkRequest {
  std::uint64_t height = 0, index = 0;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("height", s.height);
    f("index", s.index);
  }
};
Bytes encode_get_chunk(std::uint64_t height, std::uint64_t index);
std::optional<ChunkRequest> decode_get_chunk(ByteView body);
struct ChunkReply {
  std::uint64_t height = 0, index = 0;
  std::optional<Bytes> chunk;  // nullopt: the peer does not keep it
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("height", s.height);
    f("index", s.index);
    f("chunk", s.chunk, Max{consensus::kMaxMessageBytes});
  }
};
Bytes encode_chunk(std::uint64_t height, std::uint64_t index, const std::optional<Bytes>& chunk);
std::optional<ChunkReply> decode_chunk(ByteView body);
Bytes encode_handoffs(const std::vector<ValidatorHandoff>& handoffs);
std::optional<std::vector<ValidatorHandoff>> decode_handoffs(ByteView body);

struct StateSyncOptions {
  std::chrono::milliseconds discovery{2000};     // offers gathered after the first
  std::chrono::milliseconds ask_interval{2000};  // peers asked again while nothing usable is offered
  std::chrono::milliseconds request_timeout{20000};
};

struct StateSyncReport {
  std::uint64_t height = 0;
  Hash256 block_hash;
  Hash256 state_root;
  std::uint64_t entries = 0;
  std::uint64_t chunks = 0;
  std::uint64_t handoffs = 0;
  std::uint64_t peers_dropped = 0;
};

class StateSync final : public P2PHandler {
 public:
  using Done = std::function<void(Result<StateSyncReport>)>;
  // `target`: an empty store the state is restored into.
  StateSync(Genesis genesis, state::KvStore& target, Clock& clock, Logger& logger, StateSyncOptions options = {});
  // Starts `transport` (made with this as its handler); `done` runs once,
  // on the clock's thread, when the store holds the chain at the
  // snapshot's height, or with a local error (store, transport).
  void start(Transport& transport, Done done);
  std::uint64_t peers_dropped() const { return dropped_; }

  void on_connected(const PeerInfo& peer) override;
  void on_disconnected(const PeerInfo& peer) override;
  bool on_frame(const PeerInfo& peer, std::uint8_t type, ByteView body, std::string& reason) override;

 private:
  enum class Phase { discover, verify, restore, done };
  struct Offer {
    state::SnapshotManifest manifest;
    std::set<std::uint64_t> peers;
  };
  void choose();
  void request_next();
  void on_base(std::uint64_t peer, ByteView body);
  void on_handoffs(std::uint64_t peer, ByteView body);
  void on_chunk(std::uint64_t peer, ByteView body);
  void progress_verify(std::uint64_t peer);
  void finish_restore();
  void ban(std::uint64_t peer, const std::string& reason);
  void forget(std::uint64_t peer);  // not asked again for the target
  void finish(Result<StateSyncReport> r);
  // Throws away what a restore wrote (the target store holds nothing else).
  Status discard_restore();
  const state::SnapshotManifest& target() const { return offers_.at(*target_).manifest; }
  std::uint64_t last_handoff_needed() const;

  Genesis genesis_;
  state::KvStore& store_;
  Clock& clock_;
  Log log_;
  StateSyncOptions options_;
  Transport* transport_ = nullptr;
  Done done_;

  Phase phase_ = Phase::discover;
  std::map<std::uint64_t, PeerInfo> connected_;
  std::set<std::uint64_t> answered_;  // peers whose snapshots came
  std::set<PublicKey> banned_;
  std::map<Bytes, Offer> offers_;  // by the manifest's encoding
  std::set<Bytes> forged_;
  std::optional<Bytes> target_;
  std::set<std::uint64_t> passed_over_;  // peers not asked again for the target (it lacked something, or was slow)
  std::uint64_t last_peer_ = 0;
  // The request in flight: to whom, which frame answers it.
  std::optional<std::uint64_t> asked_;
  std::uint8_t expect_ = 0;
  std::optional<consensus::Decision> base_;
  std::optional<LightClient> light_;
  bool header_checked_ = false;
  std::vector<ValidatorHandoff> handoffs_;
  std::unique_ptr<state::SnapshotRestore> restore_;
  std::optional<Clock::TimePoint> waiting_since_;  // restoring, no peer offers the snapshot
  std::uint64_t dropped_ = 0;
  ClockTimer discovery_timer_, ask_timer_, request_timer_;
};

// What `verityd start` does before it opens the node when [state_sync]
// enable is set and the home has no chain yet (needs_state_sync): restores
// into <data>/chain.state-sync (what a former attempt left there is
// deleted first, once the store is locked: "store-locked" when another
// verityd syncs this home) through a P2P transport of its own to the
// persistent peers, then renames it to <data>/chain. Reasons: the
// store's, the transport's, the sync's.
bool needs_state_sync(const Config& config);
Result<StateSyncReport> run_state_sync(const Config& config, Logger& logger, const Genesis& genesis,
                                       const SecretKey& node_key, StateSyncOptions options = {});

}  // namespace verity::node
