#include "consensus/messages.h"

namespace verity::consensus {

namespace {

// tagged_hash(d, chain id || [tag] || the message's body_fields()).
template <class T>
Hash256 signed_digest(Domain d, std::string_view chain_id, std::optional<std::uint8_t> tag, const T& m) {
  Writer w;
  w.string(chain_id);
  if (tag) w.u8(*tag);
  T::body_fields(m, field_encoder(w));
  return tagged_hash(d, w.data());
}
}  // namespace

// --- view change -----------------------------------------------------------------

Hash256 ViewChange::digest(std::string_view chain_id) const {
  return signed_digest(Domain::consensus_message, chain_id, kViewChangeTag, *this);
}

// --- new view ----------------------------------------------------------------------

Hash256 NewView::digest(std::string_view chain_id) const {
  return signed_digest(Domain::consensus_message, chain_id, kNewViewTag, *this);
}

// --- checkpoint ----------------------------------------------------------------------

Hash256 Checkpoint::digest(std::string_view chain_id) const {
  return signed_digest(Domain::checkpoint, chain_id, std::nullopt, *this);
}

// --- envelope ---------------------------------------------------------------------------

Bytes encode_message(const Message& m) {
  Writer w;
  std::visit(
      [&](const auto& body) {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, Proposal>) w.u8(kProposalTag);
        if constexpr (std::is_same_v<T, Vote>) w.u8(kVoteTag);
        if constexpr (std::is_same_v<T, ViewChange>) w.u8(kViewChangeTag);
        if constexpr (std::is_same_v<T, NewView>) w.u8(kNewViewTag);
        if constexpr (std::is_same_v<T, Checkpoint>) w.u8(kCheckpointTag);
        if constexpr (std::is_same_v<T, Decision>) w.u8(kDecisionTag);
        encode_field(w, body);
      },
      m);
  return w.take();
}

Result<Message> decode_message(ByteView bytes) {
  if (bytes.size() > kMaxMessageBytes) return make_error("message-too-large", std::to_string(bytes.size()) + " bytes");
  Reader r(bytes);
  std::uint8_t tag = r.u8();
  Message m;
  switch (tag) {
    case kProposalTag: m = decode_value<Proposal>(r); break;
    case kVoteTag: m = decode_value<Vote>(r); break;
    case kViewChangeTag: m = decode_value<ViewChange>(r); break;
    case kNewViewTag: m = decode_value<NewView>(r); break;
    case kCheckpointTag: m = decode_value<Checkpoint>(r); break;
    case kDecisionTag: m = decode_value<Decision>(r); break;
    default:
      if (r.ok()) r.fail("decode-unknown-message", "unknown message tag " + std::to_string(tag));
  }
  if (auto s = r.finish(); !s) return s.error();
  return m;
}

}  // namespace verity::consensus
