#include "state/history.h"

#include <algorithm>
#include <map>

namespace verity::state {

namespace {

Bytes height_key(std::string_view prefix, std::uint64_t height) { return prefixed_key(prefix, be64(height)); }

// "x/" + term or "y/" + term: the prefix of one term's entries.
Bytes term_prefix(char space, ByteView term) {
  Bytes k{static_cast<std::uint8_t>(space), '/'};
  k.insert(k.end(), term.begin(), term.end());
  return k;
}

// The first key of a newest-first page: heights below `before` (0: all).
Bytes page_start(const Bytes& prefix, std::uint64_t before) {
  Bytes k = prefix;
  if (before > 0) append_be(k, ~(before - 1), 8);
  return k;
}

struct BlockEvents {
  std::vector<Event> events;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("events", s.events, Max{1'000'000, 2});
  }
};

struct HistoryTx {
  Hash256 tx_id;
  std::string type;
  std::uint64_t count = 0;  // of its receipt's events, those that concern the term
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("tx_id", s.tx_id);
    f("type", s.type, Max{64});
    f("count", s.count);
  }
};

// Which terms each event concerns (each term once per event), counted by term.
template <class OnEvent>
void terms_of_events(const Application& app, const std::vector<Event>& events, OnEvent&& on) {
  std::vector<Bytes> found;
  for (const auto& e : events) {
    found.clear();
    app.history_terms(e, found);
    std::sort(found.begin(), found.end());
    found.erase(std::unique(found.begin(), found.end()), found.end());
    for (const auto& term : found) on(term, e);
  }
}

Bytes entry_key(ByteView term, std::uint64_t height, std::uint32_t position) {
  Bytes k = term_prefix('x', term);
  append_be(k, ~height, 8);
  append_be(k, ~position & 0xFFFFFFFFu, 4);
  return k;
}

// An entry from its key (after the term's prefix: hN + be32(~p)) and value.
Result<HistoryEntry> decode_entry(ByteView key, ByteView value) {
  if (key.size() != 12) return local_error("state-corrupt", "a history key of the wrong length");
  HistoryEntry e;
  e.height = ~read_be(key.subspan(0, 8));
  e.position = static_cast<std::uint32_t>(~read_be(key.subspan(8, 4)));
  if (e.is_tx()) {
    auto tx = decode_exact<HistoryTx>(value);
    if (!tx) return local_error("state-corrupt", "a history entry does not decode: " + tx.error().to_string());
    e.tx_id = tx->tx_id;
    e.type = std::move(tx->type);
    e.count = tx->count;
  } else {
    auto events = decode_exact<BlockEvents>(value);
    if (!events) return local_error("state-corrupt", "a history entry does not decode: " + events.error().to_string());
    e.events = std::move(events->events);
    e.count = e.events.size();
  }
  return e;
}

}  // namespace

void index_block(WriteBatch& batch, const Application& app, const Block& block, const Hash256& block_hash,
                 std::size_t encoded_bytes, const CommitCertificate& cert, const std::vector<Receipt>& receipts,
                 const std::vector<Event>& block_events, const std::vector<StateUpdate>& changes) {
  const std::uint64_t height = block.header.height;
  batch.put(height_key("i/", height), encode(BlockInfo{block_hash, block.header, block.transactions.size(),
                                                       encoded_bytes, cert.signatures.size()}));
  // One entry per term and position, with how many of its events name it.
  for (std::size_t i = 0; i < receipts.size() && i < block.transactions.size(); ++i) {
    const Transaction& tx = block.transactions[i];
    std::map<Bytes, std::uint64_t> counts{{app.sender_term(tx.sender), 0}};
    terms_of_events(app, receipts[i].events, [&](const Bytes& term, const Event&) { ++counts[term]; });
    for (const auto& [term, count] : counts)
      batch.put(entry_key(term, height, static_cast<std::uint32_t>(i)),
                encode(HistoryTx{receipts[i].tx_id, payload_name(tx.payload), count}));
  }
  if (!block_events.empty()) {
    batch.put(height_key("e/", height), encode(BlockEvents{block_events}));
    // Each term's own events, so that a read decodes only what it shows.
    std::map<Bytes, BlockEvents> concern;
    terms_of_events(app, block_events, [&](const Bytes& term, const Event& e) { concern[term].events.push_back(e); });
    for (const auto& [term, events] : concern) batch.put(entry_key(term, height, kHookPosition), encode(events));
  }
  for (const auto& c : changes) {
    if (!c.value) continue;
    auto term = app.series_term(c.key);
    if (!term) continue;
    Bytes k = term_prefix('y', *term);
    append_be(k, ~height, 8);
    batch.put(k, *c.value);
  }
}

Result<std::vector<HistoryEntry>> read_history(const KvStore& store, ByteView term, std::uint64_t before,
                                               std::size_t limit, std::optional<HistoryCursor> after) {
  const Bytes prefix = term_prefix('x', term);
  limit = std::min(limit, kMaxHistoryPage);
  Bytes start = page_start(prefix, before);
  if (after) {
    start = entry_key(term, after->height, after->position);
    start.push_back(0);  // the least key after that entry's
  }
  std::vector<HistoryEntry> out;
  Status bad;
  auto scanned = store.scan_from(prefix, start, [&](ByteView key, ByteView value) {
    if (out.size() >= limit) return false;
    if (key.size() != prefix.size() + 12) {
      bad = local_error("state-corrupt", "a history key of the wrong length");
      return false;
    }
    auto e = decode_entry(key.subspan(prefix.size()), value);
    if (!e) {
      bad = e.error();
      return false;
    }
    out.push_back(std::move(*e));
    return true;
  });
  if (!scanned) return scanned.error();
  if (!bad) return bad.error();
  return out;
}

Result<std::uint64_t> count_history(const KvStore& store, ByteView term, std::uint64_t cap) {
  const Bytes prefix = term_prefix('x', term);
  std::uint64_t entries = 0, events = 0;
  Status bad;
  auto scanned = store.scan(prefix, [&](ByteView key, ByteView value) {
    auto e = decode_entry(key.subspan(prefix.size()), value);
    if (!e) {
      bad = e.error();
      return false;
    }
    events += e->count;
    return ++entries < cap;
  });
  if (!scanned) return scanned.error();
  if (!bad) return bad.error();
  return events;
}

Result<std::vector<SeriesPoint>> read_series(const KvStore& store, ByteView term, std::uint64_t before,
                                             std::size_t limit) {
  const Bytes prefix = term_prefix('y', term);
  limit = std::min(limit, kMaxHistoryPage);
  std::vector<SeriesPoint> out;
  auto scanned = store.scan_from(prefix, page_start(prefix, before), [&](ByteView key, ByteView value) {
    if (out.size() >= limit || key.size() != prefix.size() + 8) return false;
    out.push_back(SeriesPoint{~read_be(key.subspan(prefix.size())), Bytes(value.begin(), value.end())});
    return true;
  });
  if (!scanned) return scanned.error();
  return out;
}

Result<std::vector<Event>> read_block_events(const KvStore& store, std::uint64_t height) {
  auto found = decode_stored<BlockEvents>(store.get(height_key("e/", height)));
  if (!found) return found.error();
  if (!*found) return std::vector<Event>{};
  return std::move((*found)->events);
}

Result<std::optional<BlockInfo>> read_block_info(const KvStore& store, std::uint64_t height) {
  return decode_stored<BlockInfo>(store.get(height_key("i/", height)));
}

}  // namespace verity::state
