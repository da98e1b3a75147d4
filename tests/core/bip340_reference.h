#pragma once
// An independent, slow, test-only implementation of BIP-340 written from
// the specification on Crypto++'s big integers and curve arithmetic. It
// cross-checks libsecp256k1.

#include <cryptopp/ecp.h>
#include <cryptopp/integer.h>
#include <cryptopp/nbtheory.h>

#include <array>
#include <optional>

#include "core/hash.h"

namespace verity::testing {

class Bip340Reference {
 public:
  using Int = CryptoPP::Integer;
  using Point = CryptoPP::ECP::Point;

  Bip340Reference()
      : p_("0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F"),
        n_("0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141"),
        curve_(p_, Int::Zero(), Int(7)),
        g_(Int("0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798"),
           Int("0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8")) {}

  static Int to_int(ByteView b) { return Int(b.data(), b.size()); }
  static std::array<std::uint8_t, 32> bytes32(const Int& x) {
    std::array<std::uint8_t, 32> out{};
    x.Encode(out.data(), 32);
    return out;
  }

  static Hash256 hash(const char* tag, ByteView m) {
    Hash256 t = sha256(as_bytes(tag));
    Bytes pre(t.data.begin(), t.data.end());
    pre.insert(pre.end(), t.data.begin(), t.data.end());
    pre.insert(pre.end(), m.begin(), m.end());
    return sha256(pre);
  }

  // The point with x coordinate x and even y, if any.
  std::optional<Point> lift_x(const Int& x) const {
    if (x >= p_) return std::nullopt;
    Int c = (a_exp_b_mod_c(x, 3, p_) + 7) % p_;
    Int y = a_exp_b_mod_c(c, (p_ + 1) / 4, p_);
    if (a_exp_b_mod_c(y, 2, p_) != c) return std::nullopt;
    return Point(x, y.IsEven() ? y : p_ - y);
  }

  Int challenge(const Int& rx, ByteView pk, ByteView msg) const {
    Bytes buf;
    auto r = bytes32(rx);
    buf.insert(buf.end(), r.begin(), r.end());
    buf.insert(buf.end(), pk.begin(), pk.end());
    buf.insert(buf.end(), msg.begin(), msg.end());
    return to_int(hash("BIP0340/challenge", buf).view()) % n_;
  }

  bool verify(ByteView pk, ByteView msg, ByteView sig) const {
    auto p = lift_x(to_int(pk));
    if (!p) return false;
    Int r = to_int(sig.subspan(0, 32));
    Int s = to_int(sig.subspan(32, 32));
    if (r >= p_ || s >= n_) return false;
    Int e = challenge(r, pk, msg);
    Point big_r = curve_.Add(curve_.ScalarMultiply(g_, s), curve_.Inverse(curve_.ScalarMultiply(*p, e)));
    if (big_r.identity) return false;
    return big_r.y.IsEven() && big_r.x == r;
  }

  // Final-rules signing, step by step as the BIP writes it.
  std::array<std::uint8_t, 64> sign(ByteView sk, ByteView msg, ByteView aux) const {
    Int d0 = to_int(sk);
    Point p = curve_.ScalarMultiply(g_, d0);
    Int d = p.y.IsEven() ? d0 : n_ - d0;
    auto pk = bytes32(p.x);
    Hash256 aux_hash = hash("BIP0340/aux", aux);
    auto db = bytes32(d);
    Bytes t(32);
    for (int i = 0; i < 32; ++i) t[i] = db[i] ^ aux_hash.data[i];
    Bytes nonce_in = t;
    nonce_in.insert(nonce_in.end(), pk.begin(), pk.end());
    nonce_in.insert(nonce_in.end(), msg.begin(), msg.end());
    Int k0 = to_int(hash("BIP0340/nonce", nonce_in).view()) % n_;
    Point r = curve_.ScalarMultiply(g_, k0);
    Int k = r.y.IsEven() ? k0 : n_ - k0;
    Int e = challenge(r.x, pk, msg);
    std::array<std::uint8_t, 64> sig{};
    auto rb = bytes32(r.x);
    auto sb = bytes32((k + e * d) % n_);
    std::copy(rb.begin(), rb.end(), sig.begin());
    std::copy(sb.begin(), sb.end(), sig.begin() + 32);
    return sig;
  }

 private:
  Int p_, n_;
  CryptoPP::ECP curve_;
  Point g_;
};

}  // namespace verity::testing
