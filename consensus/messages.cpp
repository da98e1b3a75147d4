#include "consensus/messages.h"

namespace verity::consensus {

namespace {

template <class T>
Hash256 signed_digest(Domain d, std::string_view chain_id, const T& body_writer) {
  Writer w;
  w.string(chain_id);
  body_writer(w);
  return tagged_hash(d, w.data());
}
}  // namespace

void Proposal::encode(Writer& w) const {
  vote.encode(w);
  block.encode(w);
}
Proposal Proposal::decode(Reader& r) {
  Proposal p;
  p.vote = Vote::decode(r);
  p.block = Block::decode(r);
  return p;
}

void PreparedCertificate::encode(Writer& w) const {
  proposal.encode(w);
  w.varint(prepares.size());
  for (const auto& v : prepares) v.encode(w);
}
PreparedCertificate PreparedCertificate::decode(Reader& r) {
  PreparedCertificate c;
  c.proposal = Proposal::decode(r);
  c.prepares.resize(r.count(kMaxValidators, 100));
  for (auto& v : c.prepares) v = Vote::decode(r);
  return c;
}

// --- view change -----------------------------------------------------------------

namespace {
void encode_view_change_body(Writer& w, const ViewChange& m) {
  w.varint(m.new_view);
  w.varint(m.committed_height);
  m.committed.encode(w);
  w.boolean(m.prepared.has_value());
  if (m.prepared) m.prepared->encode(w);
  w.fixed(m.validator);
}
}  // namespace

Hash256 ViewChange::digest(std::string_view chain_id) const {
  return signed_digest(Domain::consensus_message, chain_id, [&](Writer& w) {
    w.u8(kViewChangeTag);
    encode_view_change_body(w, *this);
  });
}
void ViewChange::sign(std::string_view chain_id, const SecretKey& key) {
  validator = key.public_key();
  signature = key.sign(digest(chain_id));
}
bool ViewChange::verify(std::string_view chain_id) const { return verify_signature(validator, digest(chain_id), signature); }
void ViewChange::encode(Writer& w) const {
  encode_view_change_body(w, *this);
  w.fixed(signature);
}
ViewChange ViewChange::decode(Reader& r) {
  ViewChange m;
  m.new_view = r.varint();
  m.committed_height = r.varint();
  m.committed = CommitCertificate::decode(r);
  if (r.boolean()) m.prepared = PreparedCertificate::decode(r);
  m.validator = r.fixed<32, PublicKeyTag>();
  m.signature = r.fixed<64, SignatureTag>();
  return m;
}

// --- new view ----------------------------------------------------------------------

namespace {
void encode_new_view_body(Writer& w, const NewView& m) {
  w.varint(m.view);
  w.varint(m.view_changes.size());
  for (const auto& vc : m.view_changes) vc.encode(w);
  m.proposal.encode(w);
  w.fixed(m.validator);
}
}  // namespace

Hash256 NewView::digest(std::string_view chain_id) const {
  return signed_digest(Domain::consensus_message, chain_id, [&](Writer& w) {
    w.u8(kNewViewTag);
    encode_new_view_body(w, *this);
  });
}
void NewView::sign(std::string_view chain_id, const SecretKey& key) {
  validator = key.public_key();
  signature = key.sign(digest(chain_id));
}
bool NewView::verify(std::string_view chain_id) const { return verify_signature(validator, digest(chain_id), signature); }
void NewView::encode(Writer& w) const {
  encode_new_view_body(w, *this);
  w.fixed(signature);
}
NewView NewView::decode(Reader& r) {
  NewView m;
  m.view = r.varint();
  m.view_changes.resize(r.count(kMaxValidators, 100));
  for (auto& vc : m.view_changes) vc = ViewChange::decode(r);
  m.proposal = Proposal::decode(r);
  m.validator = r.fixed<32, PublicKeyTag>();
  m.signature = r.fixed<64, SignatureTag>();
  return m;
}

// --- checkpoint ----------------------------------------------------------------------

Hash256 Checkpoint::digest(std::string_view chain_id) const {
  return signed_digest(Domain::checkpoint, chain_id, [&](Writer& w) {
    w.varint(height);
    w.fixed(block_hash);
    w.fixed(validator);
  });
}
void Checkpoint::sign(std::string_view chain_id, const SecretKey& key) {
  validator = key.public_key();
  signature = key.sign(digest(chain_id));
}
bool Checkpoint::verify(std::string_view chain_id) const { return verify_signature(validator, digest(chain_id), signature); }
void Checkpoint::encode(Writer& w) const {
  w.varint(height);
  w.fixed(block_hash);
  w.fixed(validator);
  w.fixed(signature);
}
Checkpoint Checkpoint::decode(Reader& r) {
  Checkpoint c;
  c.height = r.varint();
  c.block_hash = r.fixed<32, HashTag>();
  c.validator = r.fixed<32, PublicKeyTag>();
  c.signature = r.fixed<64, SignatureTag>();
  return c;
}

void Decision::encode(Writer& w) const {
  block.encode(w);
  certificate.encode(w);
}
Decision Decision::decode(Reader& r) {
  Decision d;
  d.block = Block::decode(r);
  d.certificate = CommitCertificate::decode(r);
  return d;
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
        body.encode(w);
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
    case kProposalTag: m = Proposal::decode(r); break;
    case kVoteTag: m = Vote::decode(r); break;
    case kViewChangeTag: m = ViewChange::decode(r); break;
    case kNewViewTag: m = NewView::decode(r); break;
    case kCheckpointTag: m = Checkpoint::decode(r); break;
    case kDecisionTag: m = Decision::decode(r); break;
    default:
      if (r.ok()) r.fail("decode-unknown-message", "unknown message tag " + std::to_string(tag));
  }
  if (auto s = r.finish(); !s) return s.error();
  return m;
}

}  // namespace verity::consensus
