#include "contracts/task_records.h"

#include <algorithm>
#include <array>

#include "core/enum_names.h"

namespace verity::contracts {

namespace {

// --- keys -----------------------------------------------------------------------------

const Bytes kWorkerListKey = prefixed_key("wrks", {});
const Bytes kNextTaskKey = prefixed_key("sys/task_next", {});
const Bytes kWaitingKey = prefixed_key("sys/tasks_waiting", {});
const Bytes kRunningKey = prefixed_key("sys/tasks_running", {});
const Bytes kBlockEventsKey = prefixed_key("sys/task_events", {});
Bytes worker_key(const PublicKey& w) { return prefixed_key("wrk/", w.view()); }
const Bytes kWorkerKeyPrefix = prefixed_key("wrk/", {});
Bytes module_key(const Hash256& h) { return prefixed_key("mod/", h.view()); }
Bytes task_key(std::uint64_t id) { return prefixed_key("task/", be64(id)); }
const Bytes& index_key(TaskIndex index) { return index == TaskIndex::waiting ? kWaitingKey : kRunningKey; }

// The events of the last block whose hooks had any.
struct BlockEvents {
  std::uint64_t height = 0;
  std::vector<Event> events;
  template <class Self, class F>
  static void fields(Self& s, F&& f) {
    f("height", s.height);
    f("events", s.events, Max{1'000'000, 2});
  }
};

void store_ids(state::StateOverlay& s, const Bytes& key, const std::vector<std::uint64_t>& ids) {
  if (ids.empty()) {
    s.erase(key);
    return;
  }
  RecordList<U64Record> l;
  for (auto i : ids) l.items.push_back({i});
  store_record(s, key, l);
}

}  // namespace

// --- names and encodings ---------------------------------------------------------------------

namespace {
constexpr std::array<const char*, 3> kRoundKinds = {"first", "retry", "audit"};
constexpr std::array<const char*, 3> kTaskStatuses = {"open", "settled", "failed"};
}  // namespace

const char* round_kind_name(RoundKind k) { return enum_name(kRoundKinds, k); }

const char* task_status_name(TaskStatus s) { return enum_name(kTaskStatuses, s); }

void check_field(Reader& r, RoundKind k) {
  if (static_cast<std::size_t>(k) >= kRoundKinds.size()) r.fail("decode-bad-round", "unknown round kind");
}

void check_field(Reader& r, TaskStatus s) {
  if (static_cast<std::size_t>(s) >= kTaskStatuses.size()) r.fail("decode-bad-task", "unknown task status");
}

// --- queries ---------------------------------------------------------------------------------

Result<std::optional<WorkerRecord>> load_worker(const state::StateReader& s, const PublicKey& worker) {
  return load_optional<WorkerRecord>(s, worker_key(worker));
}

Result<std::vector<PublicKey>> worker_keys(const state::StateReader& s) {
  auto l = load_record<RecordList<KeyRecord>>(s, kWorkerListKey);
  if (!l) return l.error();
  std::vector<PublicKey> out;
  for (const auto& k : l->items) out.push_back(k.key);
  return out;
}

std::optional<PublicKey> worker_of_key(ByteView key) {
  if (key.size() != kWorkerKeyPrefix.size() + 32 ||
      !std::equal(kWorkerKeyPrefix.begin(), kWorkerKeyPrefix.end(), key.begin()))
    return std::nullopt;
  return PublicKey::from_view(key.subspan(kWorkerKeyPrefix.size()));
}

Result<std::optional<TaskRecord>> load_task(const state::StateReader& s, std::uint64_t id) {
  return load_optional<TaskRecord>(s, task_key(id));
}

Result<std::uint64_t> next_task_id(const state::StateReader& s) {
  auto n = load_record<U64Record>(s, kNextTaskKey, U64Record{1});
  if (!n) return n.error();
  return n->value;
}

Result<std::vector<TaskRecord>> list_tasks(const state::StateReader& s, std::uint64_t before, std::size_t limit,
                                           bool in_progress) {
  auto next = next_task_id(s);
  if (!next) return next.error();
  std::uint64_t id = (before == 0 || before > *next) ? *next : before;
  limit = std::min(limit, kMaxTaskList);
  std::vector<TaskRecord> out;
  if (in_progress) {
    std::vector<std::uint64_t> ids;
    for (TaskIndex index : {TaskIndex::waiting, TaskIndex::running}) {
      auto l = load_index(s, index);
      if (!l) return l.error();
      for (auto i : *l)
        if (i < id) ids.push_back(i);
    }
    std::sort(ids.begin(), ids.end(), std::greater<>());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());  // a round is in one list; never list it twice
    if (ids.size() > limit) ids.resize(limit);
    for (auto i : ids) {
      auto t = require_task(s, i);
      if (!t) return t.error();
      out.push_back(std::move(*t));
    }
    return out;
  }
  while (id > 1 && out.size() < limit) {
    --id;
    auto t = load_task(s, id);
    if (!t) return t.error();
    if (t->has_value()) out.push_back(std::move(**t));
  }
  return out;
}

Result<std::optional<Bytes>> load_module(const state::StateReader& s, const Hash256& module_hash) {
  return s.get(module_key(module_hash));
}

Result<std::vector<Event>> task_block_events(const state::StateReader& s, std::uint64_t height) {
  auto b = load_optional<BlockEvents>(s, kBlockEventsKey);
  if (!b) return b.error();
  if (!b->has_value() || (*b)->height != height) return std::vector<Event>{};
  return (*b)->events;
}

Result<Amount> tasks_held(const state::StateReader& s) {
  Amount total;
  auto keys = worker_keys(s);
  if (!keys) return keys.error();
  for (const auto& k : *keys) {
    auto w = require_worker(s, k);
    if (!w) return w.error();
    if (auto st = add_to(total, w->stake); !st) return st.error();
    if (auto st = add_to(total, w->unbonding); !st) return st.error();
  }
  for (TaskIndex index : {TaskIndex::waiting, TaskIndex::running}) {
    auto ids = load_index(s, index);
    if (!ids) return ids.error();
    for (auto id : *ids) {
      auto t = require_task(s, id);
      if (!t) return t.error();
      if (t->round)
        if (auto st = add_to(total, t->round->escrow); !st) return st.error();
    }
  }
  return total;
}

// --- the contract's own access ---------------------------------------------------------------

Result<WorkerRecord> require_worker(const state::StateReader& s, const PublicKey& key) {
  auto w = load_worker(s, key);
  if (!w) return w.error();
  if (!w->has_value()) return make_error("not-a-worker", "no worker with key " + key.hex());
  return **w;
}

void store_worker(state::StateOverlay& s, const WorkerRecord& w) { store_record(s, worker_key(w.key), w); }

Status add_worker_key(state::StateOverlay& s, const PublicKey& key) {
  auto l = load_record<RecordList<KeyRecord>>(s, kWorkerListKey);
  if (!l) return l.error();
  auto it = std::lower_bound(l->items.begin(), l->items.end(), KeyRecord{key});
  if (it != l->items.end() && it->key == key) return {};
  l->items.insert(it, KeyRecord{key});
  store_record(s, kWorkerListKey, *l);
  return {};
}

Result<TaskRecord> require_task(const state::StateReader& s, std::uint64_t id) {
  auto t = load_task(s, id);
  if (!t) return t.error();
  if (!t->has_value()) return make_error("unknown-task", "no task " + std::to_string(id));
  return **t;
}

void store_task(state::StateOverlay& s, const TaskRecord& t) { store_record(s, task_key(t.id), t); }

Result<std::uint64_t> take_task_id(state::StateOverlay& s) {
  auto id = next_task_id(s);
  if (!id) return id.error();
  store_record(s, kNextTaskKey, U64Record{*id + 1});
  return *id;
}

Result<Hash256> store_module(state::StateOverlay& s, ByteView module) {
  // Content-addressed: the same module is stored once.
  const Hash256 hash = sha256(module);
  auto stored = s.get(module_key(hash));
  if (!stored) return stored.error();
  if (!stored->has_value()) s.put(module_key(hash), module);
  return hash;
}

Result<std::vector<std::uint64_t>> load_index(const state::StateReader& s, TaskIndex index) {
  auto l = load_record<RecordList<U64Record>>(s, index_key(index));
  if (!l) return l.error();
  std::vector<std::uint64_t> out;
  for (const auto& i : l->items) out.push_back(i.value);
  return out;
}

Status add_to_index(state::StateOverlay& s, TaskIndex index, std::uint64_t id) {
  auto ids = load_index(s, index);
  if (!ids) return ids.error();
  auto it = std::lower_bound(ids->begin(), ids->end(), id);
  if (it == ids->end() || *it != id) ids->insert(it, id);
  store_ids(s, index_key(index), *ids);
  return {};
}

Status remove_from_index(state::StateOverlay& s, TaskIndex index, std::uint64_t id) {
  auto ids = load_index(s, index);
  if (!ids) return ids.error();
  ids->erase(std::remove(ids->begin(), ids->end(), id), ids->end());
  store_ids(s, index_key(index), *ids);
  return {};
}

Status keep_block_events(state::StateOverlay& s, std::uint64_t height, std::vector<Event>& events) {
  auto stored = load_optional<BlockEvents>(s, kBlockEventsKey);
  if (!stored) return stored.error();
  BlockEvents b;
  if (stored->has_value() && (*stored)->height == height) b = std::move(**stored);
  b.height = height;
  for (auto& e : events) b.events.push_back(std::move(e));
  events.clear();
  if (b.events.empty()) {
    if (stored->has_value()) s.erase(kBlockEventsKey);
    return {};
  }
  store_record(s, kBlockEventsKey, b);
  return {};
}

}  // namespace verity::contracts
