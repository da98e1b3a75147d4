#include "core/receipt.h"

namespace verity {

namespace {
constexpr std::size_t kMaxText = 1024;
constexpr std::size_t kMaxItems = 256;
}  // namespace

void Event::encode(Writer& w) const {
  w.string(kind);
  w.varint(attributes.size());
  for (const auto& [k, v] : attributes) {
    w.string(k);
    w.string(v);
  }
}

Event Event::decode(Reader& r) {
  Event e;
  e.kind = r.string(kMaxText);
  e.attributes.resize(r.count(kMaxItems, 2));
  for (auto& [k, v] : e.attributes) {
    k = r.string(kMaxText);
    v = r.string(kMaxText);
  }
  return e;
}

void Receipt::encode(Writer& w) const {
  w.fixed(tx_id);
  w.varint(height);
  w.varint(index);
  w.boolean(ok);
  w.string(reason);
  fee_paid.encode(w);
  w.varint(events.size());
  for (const auto& e : events) e.encode(w);
}

Receipt Receipt::decode(Reader& r) {
  Receipt x;
  x.tx_id = r.fixed<32, HashTag>();
  x.height = r.varint();
  x.index = r.varint();
  x.ok = r.boolean();
  x.reason = r.string(kMaxText);
  x.fee_paid = Amount::decode(r);
  x.events.resize(r.count(kMaxItems, 2));
  for (auto& e : x.events) e = Event::decode(r);
  return x;
}

}  // namespace verity
