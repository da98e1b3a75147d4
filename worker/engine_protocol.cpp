#include "worker/engine_protocol.h"

#include <cstring>

namespace verity::worker {

namespace {

struct Out {
  std::vector<std::uint8_t> b;
  void raw(const void* p, std::size_t n) {
    const auto* c = static_cast<const std::uint8_t*>(p);
    b.insert(b.end(), c, c + n);
  }
  void u8(std::uint8_t v) { b.push_back(v); }
  void u32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) b.push_back(std::uint8_t(v >> (8 * i)));
  }
  void u64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) b.push_back(std::uint8_t(v >> (8 * i)));
  }
  void bytes(const void* p, std::size_t n) {
    u32(std::uint32_t(n));
    raw(p, n);
  }
};

struct In {
  const std::uint8_t* p;
  std::size_t left;
  bool ok = true;
  bool take(void* out, std::size_t n) {
    if (!ok || n > left) return ok = false;
    if (n) std::memcpy(out, p, n);
    p += n;
    left -= n;
    return true;
  }
  std::uint8_t u8() {
    std::uint8_t v = 0;
    take(&v, 1);
    return v;
  }
  std::uint32_t u32() {
    std::uint8_t b[4] = {};
    take(b, 4);
    return std::uint32_t(b[0]) | std::uint32_t(b[1]) << 8 | std::uint32_t(b[2]) << 16 | std::uint32_t(b[3]) << 24;
  }
  std::uint64_t u64() {
    std::uint64_t lo = u32();
    std::uint64_t hi = u32();
    return lo | hi << 32;
  }
  template <class C>
  void bytes(C& out) {
    std::uint32_t n = u32();
    if (!ok || n > left) {
      ok = false;
      return;
    }
    out.assign(p, p + n);
    p += n;
    left -= n;
  }
};

}  // namespace

std::vector<std::uint8_t> encode_request(const EngineRequest& r) {
  Out o;
  o.raw("VRQ1", 4);
  o.u64(r.fuel);
  o.u64(r.max_stdout);
  o.u64(r.max_stderr);
  o.raw(r.seed, 32);
  o.u32(std::uint32_t(r.argv.size()));
  for (const auto& a : r.argv) o.bytes(a.data(), a.size());
  o.bytes(r.input.data(), r.input.size());
  o.bytes(r.module.data(), r.module.size());
  return std::move(o.b);
}

std::optional<EngineRequest> decode_request(const std::uint8_t* data, std::size_t size) {
  In in{data, size};
  char magic[4] = {};
  in.take(magic, 4);
  if (!in.ok || std::memcmp(magic, "VRQ1", 4) != 0) return std::nullopt;
  EngineRequest r;
  r.fuel = in.u64();
  r.max_stdout = in.u64();
  r.max_stderr = in.u64();
  in.take(r.seed, 32);
  std::uint32_t argc = in.u32();
  if (argc > in.left / 4) return std::nullopt;
  r.argv.resize(argc);
  for (auto& a : r.argv) in.bytes(a);
  in.bytes(r.input);
  in.bytes(r.module);
  if (!in.ok || in.left != 0) return std::nullopt;
  return r;
}

std::vector<std::uint8_t> encode_response(const EngineResponse& r) {
  Out o;
  o.raw("VRS1", 4);
  o.u8(static_cast<std::uint8_t>(r.ending));
  o.u32(r.exit_code);
  o.u64(static_cast<std::uint64_t>(r.fuel_left));
  o.u32(r.flags);
  o.u32(r.memory_pages);
  o.bytes(r.detail.data(), r.detail.size());
  o.bytes(r.out.data(), r.out.size());
  o.bytes(r.err.data(), r.err.size());
  return std::move(o.b);
}

std::optional<EngineResponse> decode_response(const std::uint8_t* data, std::size_t size) {
  In in{data, size};
  char magic[4] = {};
  in.take(magic, 4);
  if (!in.ok || std::memcmp(magic, "VRS1", 4) != 0) return std::nullopt;
  EngineResponse r;
  std::uint8_t ending = in.u8();
  if (ending > static_cast<std::uint8_t>(Ending::invalid_module)) return std::nullopt;
  r.ending = static_cast<Ending>(ending);
  r.exit_code = in.u32();
  r.fuel_left = static_cast<std::int64_t>(in.u64());
  r.flags = in.u32();
  r.memory_pages = in.u32();
  in.bytes(r.detail);
  in.bytes(r.out);
  in.bytes(r.err);
  if (!in.ok || in.left != 0) return std::nullopt;
  return r;
}

}  // namespace verity::worker
