// A generator of valid WebAssembly modules from a stream of choices
// (tests/fuzz/wasm_gen.h). The binary is written here directly (LEB128,
// sections); every module must pass worker::check_module, which the fuzz
// target asserts: a module it refuses is a bug of this file.
//
// The body generator is typed: expr(t) emits code that leaves exactly one
// value of type t on the stack (or makes the stack polymorphic: br, return,
// br_table, unreachable), stmt() code that leaves the stack as it found it.
// Choice 0 is always the smallest thing (a constant, no statement, a
// bounded loop, a guarded function), so exhausted input ends the tree.

#include "tests/fuzz/wasm_gen.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>
#include <vector>

namespace verity::fuzz {
namespace {

enum class VT : std::uint8_t { i32 = 0x7f, i64 = 0x7e, f32 = 0x7d, f64 = 0x7c };
constexpr std::array<VT, 4> kTypes = {VT::i32, VT::i64, VT::f32, VT::f64};
int slot(VT t) {
  switch (t) {
    case VT::i32: return 0;
    case VT::i64: return 1;
    case VT::f32: return 2;
    default: return 3;
  }
}
std::uint32_t width(VT t) { return t == VT::i32 || t == VT::f32 ? 4 : 8; }

class Choices {
 public:
  explicit Choices(ByteView in) : in_(in) {}
  // A number in [0, n); 0 once the input is used up.
  std::uint32_t below(std::uint32_t n) {
    if (n <= 1 || pos_ >= in_.size()) return 0;
    std::uint32_t v = in_[pos_++];
    if (n > 256 && pos_ < in_.size()) v = v << 8 | in_[pos_++];
    return v % n;
  }
  // True one time in n; false once the input is used up.
  bool rare(std::uint32_t n) { return n > 1 && below(n) == n - 1; }
  // Raw bytes (little endian); missing ones are 0.
  std::uint64_t raw(int bytes) {
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= std::uint64_t(pos_ < in_.size() ? in_[pos_++] : 0) << (8 * i);
    return v;
  }

 private:
  ByteView in_;
  std::size_t pos_ = 0;
};

// --- the binary writer ---

void u32(Bytes& out, std::uint64_t v) {
  do {
    std::uint8_t b = v & 0x7f;
    v >>= 7;
    if (v) b |= 0x80;
    out.push_back(b);
  } while (v);
}
void s64(Bytes& out, std::int64_t v) {
  for (;;) {
    std::uint8_t b = std::uint8_t(v & 0x7f);
    v >>= 7;  // arithmetic
    const bool done = (v == 0 && !(b & 0x40)) || (v == -1 && (b & 0x40));
    if (!done) b |= 0x80;
    out.push_back(b);
    if (done) return;
  }
}
void name(Bytes& out, std::string_view s) {
  u32(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}
void section(Bytes& module, std::uint8_t id, const Bytes& body) {
  module.push_back(id);
  u32(module, body.size());
  module.insert(module.end(), body.begin(), body.end());
}

struct FuncType {
  std::vector<VT> params, results;
  bool operator==(const FuncType&) const = default;
};

// --- the instruction tables ---

struct Op {
  std::uint8_t code;
  bool prefixed = false;  // 0xFC prefix (saturating truncation)
};
struct Conversion {
  VT from, to;
  Op op;
};
const std::vector<Conversion> kConversions = {
    {VT::i64, VT::i32, {0xA7}},       {VT::f32, VT::i32, {0xA8}},       {VT::f32, VT::i32, {0xA9}},
    {VT::f32, VT::i32, {0xBC}},       {VT::f32, VT::i32, {0x00, true}}, {VT::f32, VT::i32, {0x01, true}},
    {VT::f64, VT::i32, {0xAA}},       {VT::f64, VT::i32, {0xAB}},       {VT::f64, VT::i32, {0x02, true}},
    {VT::f64, VT::i32, {0x03, true}}, {VT::i32, VT::i64, {0xAC}},       {VT::i32, VT::i64, {0xAD}},
    {VT::f32, VT::i64, {0xAE}},       {VT::f32, VT::i64, {0xAF}},       {VT::f32, VT::i64, {0x04, true}},
    {VT::f32, VT::i64, {0x05, true}}, {VT::f64, VT::i64, {0xB0}},       {VT::f64, VT::i64, {0xB1}},
    {VT::f64, VT::i64, {0xBD}},       {VT::f64, VT::i64, {0x06, true}}, {VT::f64, VT::i64, {0x07, true}},
    {VT::i32, VT::f32, {0xB2}},       {VT::i32, VT::f32, {0xB3}},       {VT::i32, VT::f32, {0xBE}},
    {VT::i64, VT::f32, {0xB4}},       {VT::i64, VT::f32, {0xB5}},       {VT::f64, VT::f32, {0xB6}},
    {VT::i32, VT::f64, {0xB7}},       {VT::i32, VT::f64, {0xB8}},       {VT::i64, VT::f64, {0xB9}},
    {VT::i64, VT::f64, {0xBA}},       {VT::i64, VT::f64, {0xBF}},       {VT::f32, VT::f64, {0xBB}},
};
// Unary t -> t (clz, ctz, popcnt, eqz, sign extension; abs, neg, ceil, floor, trunc, nearest, sqrt).
const std::array<std::vector<std::uint8_t>, 4> kUnary = {{
    {0x67, 0x68, 0x69, 0x45, 0xC0, 0xC1},
    {0x79, 0x7A, 0x7B, 0xC2, 0xC3, 0xC4},
    {0x8B, 0x8C, 0x8D, 0x8E, 0x8F, 0x90, 0x91},
    {0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F},
}};
// Binary t t -> t: [first, last].
constexpr std::array<std::pair<std::uint8_t, std::uint8_t>, 4> kBinary = {{
    {0x6A, 0x78}, {0x7C, 0x8A}, {0x92, 0x98}, {0xA0, 0xA6}}};
// Comparisons t t -> i32: [first, last].
constexpr std::array<std::pair<std::uint8_t, std::uint8_t>, 4> kCompare = {{
    {0x46, 0x4F}, {0x51, 0x5A}, {0x5B, 0x60}, {0x61, 0x66}}};
struct MemOp {
  std::uint8_t code;
  std::uint32_t align;  // log2 of the natural alignment
  std::uint32_t bytes;
};
const std::array<std::vector<MemOp>, 4> kLoads = {{
    {{0x28, 2, 4}, {0x2C, 0, 1}, {0x2D, 0, 1}, {0x2E, 1, 2}, {0x2F, 1, 2}},
    {{0x29, 3, 8}, {0x30, 0, 1}, {0x31, 0, 1}, {0x32, 1, 2}, {0x33, 1, 2}, {0x34, 2, 4}, {0x35, 2, 4}},
    {{0x2A, 2, 4}},
    {{0x2B, 3, 8}},
}};
const std::array<std::vector<MemOp>, 4> kStores = {{
    {{0x36, 2, 4}, {0x3A, 0, 1}, {0x3B, 1, 2}},
    {{0x37, 3, 8}, {0x3C, 0, 1}, {0x3D, 1, 2}, {0x3E, 2, 4}},
    {{0x38, 2, 4}},
    {{0x39, 3, 8}},
}};
const std::vector<std::uint32_t> kI32Specials = {0, 1, 0xffffffff, 0x80000000, 0x7fffffff, 31, 32, 33, 0xff,
                                                 0xffff, 0x10000, 0xfffe, 0x7fff0000, 0xfffffff0, 2, 7};
const std::vector<std::uint64_t> kI64Specials = {0, 1, ~0ull, 1ull << 63, ~0ull >> 1, 63, 64, 65, 0xffffffffull,
                                                 0x100000000ull, 0x80000000ull, 0xffffffff80000000ull, 2, 7};
const std::vector<std::uint32_t> kF32Specials = {
    0x00000000, 0x80000000, 0x3f800000, 0xbf800000, 0x7f800000, 0xff800000, 0x7fc00000, 0x7fa00000,
    0xffc00001, 0x00000001, 0x4f000000, 0xcf000000, 0x5f000000, 0xdf000000, 0x3f000000, 0x3fc00000,
    0x40200000, 0xbf000000, 0x4f800000, 0x7f7fffff, 0xcf000001, 0x4effffff};
const std::vector<std::uint64_t> kF64Specials = {
    0, 1ull << 63, 0x3ff0000000000000, 0xbff0000000000000, 0x7ff0000000000000, 0xfff0000000000000,
    0x7ff8000000000000, 0x7ff4000000000000, 0xfff8000000000001, 1, 0x41e0000000000000, 0xc1e0000000200000,
    0x41efffffffe00000, 0x41f0000000000000, 0x43e0000000000000, 0xc3e0000000000000, 0x43f0000000000000,
    0x3fe0000000000000, 0x3ff8000000000000, 0x4004000000000000, 0xbfe0000000000000, 0x7fefffffffffffff,
    0xc1e0000000000000, 0x41dfffffffc00000};

constexpr std::uint32_t kFdWrite = 0, kProcExit = 1, kImports = 2;
constexpr std::uint32_t kBudgetGlobal = 0;  // i32: calls left; a guarded function returns at 0
constexpr int kMaxDepth = 6;
constexpr std::uint32_t kOutBytes = 128;  // _start writes memory [0, 128) to stdout
constexpr std::uint32_t kIovec = 1024;    // where the write helpers put their iovec

struct Label {
  std::vector<VT> branch;  // what a branch to it carries
  bool loop = false;
};

struct Fn {
  std::vector<VT> locals;  // params first
  std::size_t params = 0;
  std::vector<bool> reserved;  // loop counters: never set by random code
  std::vector<VT> results;
  std::vector<Label> labels;
  std::array<int, 4> scratch = {-1, -1, -1, -1};
  Bytes code;
  int budget = 0;
};

class Gen {
 public:
  explicit Gen(ByteView in) : c_(in) {}

  GeneratedModule run() {
    const std::uint32_t nfuncs = 1 + c_.below(6);
    for (std::uint32_t i = 0; i < nfuncs; ++i) {
      FuncType t;
      const std::uint32_t np = c_.below(5), nr = c_.below(3);
      for (std::uint32_t k = 0; k < np; ++k) t.params.push_back(any_type());
      for (std::uint32_t k = 0; k < nr; ++k) t.results.push_back(any_type());
      sigs_.push_back(t);
      sig_index_.push_back(intern(t));
    }
    fd_write_type_ = intern({{VT::i32, VT::i32, VT::i32, VT::i32}, {VT::i32}});
    proc_exit_type_ = intern({{VT::i32}, {}});
    start_type_ = intern({{}, {}});

    mem_min_ = 1 + c_.below(4);
    has_max_ = !c_.rare(4);
    mem_max_ = mem_min_ + c_.below(9 - mem_min_);
    stats_.memory_pages = mem_min_;

    global_types_.push_back(VT::i32);  // the call budget
    Bytes budget_init{0x41};
    s64(budget_init, c_.rare(8) ? 100000 : 16 + c_.below(64));
    global_inits_.push_back(budget_init);
    for (VT t : kTypes) {
      const std::uint32_t n = 1 + c_.below(2);
      for (std::uint32_t k = 0; k < n; ++k) {
        user_globals_[slot(t)].push_back(std::uint32_t(global_types_.size()));
        global_types_.push_back(t);
        Fn scratch;
        constant(scratch, t);
        global_inits_.push_back(scratch.code);
      }
    }

    table_size_ = nfuncs + c_.below(3);
    const std::uint32_t rot = c_.below(nfuncs);
    for (std::uint32_t i = 0; i < nfuncs; ++i) table_.push_back((i + rot) % nfuncs);

    for (std::uint32_t i = 0; i < nfuncs; ++i) bodies_.push_back(function(i));
    bodies_.push_back(start());
    stats_.functions = int(nfuncs);

    // Read last, so that they change nothing before them: the imports in
    // table slots past the functions (call_indirect of a host function),
    // and a data segment, low in memory or ending exactly at its end
    // (admission refuses one that does not fit).
    if (c_.rare(4)) {
      const std::uint32_t n = 1 + c_.below(2);
      for (std::uint32_t i = 0; i < n; ++i) table_imports_.push_back(c_.below(2) ? kProcExit : kFdWrite);
    }
    if (c_.rare(3)) {
      data_.resize(1 + c_.below(16));
      data_offset_ = c_.rare(4) ? mem_min_ * 65536 - std::uint32_t(data_.size()) : c_.below(256);
      for (auto& b : data_) b = std::uint8_t(c_.raw(1));
    }
    return {encode(), stats_};
  }

 private:
  VT any_type() { return kTypes[c_.below(4)]; }

  std::uint32_t intern(const FuncType& t) {
    for (std::size_t i = 0; i < types_.size(); ++i)
      if (types_[i] == t) return std::uint32_t(i);
    types_.push_back(t);
    return std::uint32_t(types_.size() - 1);
  }

  std::uint32_t new_local(Fn& f, VT t, bool reserved) {
    f.locals.push_back(t);
    f.reserved.push_back(reserved);
    return std::uint32_t(f.locals.size() - 1);
  }
  std::uint32_t scratch(Fn& f, VT t) {
    int& s = f.scratch[slot(t)];
    if (s < 0) s = int(new_local(f, t, false));
    return std::uint32_t(s);
  }
  // A local of type t random code may set, or -1.
  int pick_local(Fn& f, VT t, bool settable) {
    std::vector<std::uint32_t> ok;
    for (std::size_t i = 0; i < f.locals.size(); ++i)
      if (f.locals[i] == t && !(settable && f.reserved[i])) ok.push_back(std::uint32_t(i));
    if (ok.empty()) return -1;
    return int(ok[c_.below(std::uint32_t(ok.size()))]);
  }

  void op(Fn& f, std::uint8_t b) { f.code.push_back(b); }
  void op(Fn& f, Op o) {
    if (o.prefixed) {
      f.code.push_back(0xFC);
      u32(f.code, o.code);
    } else {
      f.code.push_back(o.code);
    }
  }
  void i32c(Fn& f, std::int64_t v) {
    op(f, 0x41);
    s64(f.code, std::int32_t(std::uint32_t(v)));
  }
  // Subtracts 1 from local or global `index`: `get` it, i32.const 1,
  // i32.sub, `set` it (local.tee leaves the new value on the stack). Loop
  // counters and the call budget count down this way.
  void decrement(Fn& f, std::uint8_t get, std::uint8_t set, std::uint32_t index) {
    op(f, get);
    u32(f.code, index);
    i32c(f, 1);
    op(f, 0x6B);
    op(f, set);
    u32(f.code, index);
  }
  void blocktype(Fn& f, const std::vector<VT>& r) { f.code.push_back(r.empty() ? 0x40 : std::uint8_t(r[0])); }

  void constant(Fn& f, VT t) {
    const std::uint32_t kind = c_.below(4);
    switch (t) {
      case VT::i32: {
        std::uint32_t v = kind == 0 ? c_.below(16) : kind == 1 ? kI32Specials[c_.below(kI32Specials.size())]
                                                : kind == 2 ? std::uint32_t(c_.raw(4))
                                                            : std::uint32_t(-std::int32_t(c_.below(256)));
        i32c(f, v);
        break;
      }
      case VT::i64: {
        std::uint64_t v = kind == 0 ? c_.below(16) : kind == 1 ? kI64Specials[c_.below(kI64Specials.size())]
                                                : kind == 2 ? c_.raw(8)
                                                            : std::uint64_t(-std::int64_t(c_.below(256)));
        op(f, 0x42);
        s64(f.code, std::int64_t(v));
        break;
      }
      case VT::f32:
        op(f, 0x43);
        little_endian(f.code, float_bits<float>(kind, kF32Specials));
        break;
      case VT::f64:
        op(f, 0x44);
        little_endian(f.code, float_bits<double>(kind, kF64Specials));
        break;
    }
  }

  // A float constant's bits (Bits is as wide as F): a small half-integer,
  // a special value (NaNs, infinities, zeros, extremes), or any bits.
  template <class F, class Bits>
  Bits float_bits(int kind, const std::vector<Bits>& specials) {
    Bits bits;
    if (kind == 0) {
      const F x = F(c_.below(16)) / 2;
      std::memcpy(&bits, &x, sizeof bits);
    } else if (kind == 1) {
      bits = specials[c_.below(specials.size())];
    } else {
      bits = Bits(c_.raw(sizeof bits));
    }
    return bits;
  }
  template <class Bits>
  static void little_endian(std::vector<std::uint8_t>& out, Bits bits) {
    for (std::size_t i = 0; i < sizeof bits; ++i) out.push_back(std::uint8_t(bits >> (8 * i)));
  }

  void leaf(Fn& f, VT t) {
    switch (c_.below(3)) {
      case 1:
        if (int l = pick_local(f, t, false); l >= 0) {
          op(f, 0x20);
          u32(f.code, std::uint32_t(l));
          return;
        }
        break;
      case 2: {
        const auto& g = user_globals_[slot(t)];
        op(f, 0x23);
        u32(f.code, g[c_.below(std::uint32_t(g.size()))]);
        return;
      }
      default:
        break;
    }
    constant(f, t);
  }

  // Converts the value on top from `from` to `to`.
  void coerce(Fn& f, VT from, VT to) {
    if (from == to) return;
    std::vector<const Conversion*> ok;
    for (const auto& cv : kConversions)
      if (cv.from == from && cv.to == to) ok.push_back(&cv);
    op(f, ok[c_.below(std::uint32_t(ok.size()))]->op);
  }

  // Values on the stack of types `have` become one value of type t, or
  // nothing if t is absent (a statement).
  void keep_top(Fn& f, const std::vector<VT>& have, const VT* t) {
    if (have.empty()) {
      if (t) expr(f, *t, kMaxDepth);
      return;
    }
    if (!t) {
      for (std::size_t i = 0; i < have.size(); ++i) op(f, 0x1A);
      return;
    }
    const VT top = have.back();
    if (have.size() > 1) {
      const std::uint32_t s = scratch(f, top);
      op(f, 0x21);
      u32(f.code, s);
      for (std::size_t i = 1; i < have.size(); ++i) op(f, 0x1A);
      op(f, 0x20);
      u32(f.code, s);
    }
    coerce(f, top, *t);
  }

  // An address for a load or store of `bytes`, and its offset immediate.
  // Mostly in [0, 128) (what _start prints), sometimes at the end of the
  // memory (as declared, or after a grow), past it or anywhere.
  std::uint32_t address(Fn& f, int depth) {
    switch (c_.below(12)) {
      case 5:
        i32c(f, 128 + c_.below(1024));
        break;
      case 6:
      case 7:
        expr(f, VT::i32, depth + 1);
        i32c(f, 0xff);
        op(f, 0x71);
        break;
      case 8:
        i32c(f, mem_min_ * 65536 - c_.below(16));
        break;
      case 9:
        i32c(f, (mem_min_ + c_.below(4)) * 65536 - c_.below(8));
        break;
      case 10:
        i32c(f, c_.raw(4));
        break;
      case 11:
        expr(f, VT::i32, depth + 1);
        break;
      default:
        i32c(f, c_.below(kOutBytes));
        break;
    }
    switch (c_.below(10)) {
      case 1:
      case 2: return c_.below(64);
      case 3: return 65536 * c_.below(9);
      case 4: return 0xfffffff0u + c_.below(16);
      default: return 0;
    }
  }
  void memarg(Fn& f, const MemOp& m, std::uint32_t offset) {
    u32(f.code, c_.below(m.align + 1));
    u32(f.code, offset);
  }

  void store(Fn& f, VT t, int depth) {
    const MemOp& m = kStores[slot(t)][c_.below(std::uint32_t(kStores[slot(t)].size()))];
    const std::uint32_t offset = address(f, depth);
    expr(f, t, depth + 1);
    op(f, m.code);
    memarg(f, m, offset);
    if (t == VT::f32 || t == VT::f64) ++stats_.float_stores;
  }

  // Labels a branch may target with the given payload; loops only rarely
  // (a branch back to a loop from random code may never end: fuel ends it).
  std::vector<std::size_t> targets(Fn& f, const std::vector<VT>* payload) {
    const bool loops = c_.rare(8);
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < f.labels.size(); ++i) {
      const Label& l = f.labels[i];
      if (l.loop && !loops) continue;
      if (payload && l.branch != *payload) continue;
      out.push_back(i);
    }
    if (loops) ++stats_.unbounded_loops;
    return out;
  }
  std::uint32_t depth_of(const Fn& f, std::size_t label) { return std::uint32_t(f.labels.size() - 1 - label); }
  void values(Fn& f, const std::vector<VT>& ts, int depth) {
    for (VT t : ts) expr(f, t, depth + 1);
  }

  // br, br_table, return or unreachable: the stack becomes polymorphic.
  void escape(Fn& f, int depth) {
    switch (c_.below(4)) {
      case 1: {  // br_table
        auto all = targets(f, nullptr);
        const std::size_t def = all[c_.below(std::uint32_t(all.size()))];
        const std::vector<VT> payload = f.labels[def].branch;
        auto same = targets(f, &payload);
        same.push_back(def);
        values(f, payload, depth);
        expr(f, VT::i32, depth + 1);
        op(f, 0x0E);
        const std::uint32_t n = c_.below(5);
        u32(f.code, n);
        for (std::uint32_t i = 0; i < n; ++i) u32(f.code, depth_of(f, same[c_.below(std::uint32_t(same.size()))]));
        u32(f.code, depth_of(f, def));
        break;
      }
      case 2:
        values(f, f.results, depth);
        op(f, 0x0F);
        break;
      case 3:
        op(f, 0x00);
        break;
      default: {  // br
        auto all = targets(f, nullptr);
        const std::size_t l = all[c_.below(std::uint32_t(all.size()))];
        values(f, f.labels[l].branch, depth);
        op(f, 0x0C);
        u32(f.code, depth_of(f, l));
        break;
      }
    }
  }

  // A call of one of the generated functions, direct or through the table;
  // leaves its results.
  std::vector<VT> call(Fn& f, int depth) {
    if (c_.below(3) != 2) {
      const std::uint32_t g = c_.below(std::uint32_t(sigs_.size()));
      values(f, sigs_[g].params, depth);
      op(f, 0x10);
      u32(f.code, kImports + g);
      return sigs_[g].results;
    }
    // call_indirect: usually a type some function has, sometimes any type
    std::uint32_t type;
    FuncType sig;
    if (c_.rare(6)) {
      sig.params.resize(c_.below(3));
      for (auto& p : sig.params) p = any_type();
      sig.results.resize(c_.below(2));
      for (auto& r : sig.results) r = any_type();
      type = intern(sig);
    } else {
      const std::uint32_t g = c_.below(std::uint32_t(sigs_.size()));
      sig = sigs_[g];
      type = sig_index_[g];
    }
    values(f, sig.params, depth);
    switch (c_.below(8)) {
      case 5:
        i32c(f, c_.below(table_size_ + 2));  // maybe empty or past the end
        break;
      case 6:
        expr(f, VT::i32, depth + 1);
        break;
      case 7:
        i32c(f, c_.raw(4));
        break;
      default: {  // a slot holding a function of that type, if any
        std::uint32_t s = 0;
        for (std::uint32_t i = 0; i < table_.size(); ++i)
          if (sig_index_[table_[i]] == type) s = i;
        i32c(f, s);
        break;
      }
    }
    op(f, 0x11);
    u32(f.code, type);
    f.code.push_back(0x00);
    return sig.results;
  }

  // fd_write of one iovec (built at kIovec) from a small buffer, usually to
  // stdout; sometimes a bad fd, buffer or length (EBADF, EFAULT, a long
  // output). Leaves the errno.
  void write(Fn& f, int depth) {
    i32c(f, kIovec);
    if (c_.rare(4)) expr(f, VT::i32, depth + 1); else i32c(f, c_.below(256));
    op(f, 0x36);
    u32(f.code, 2);
    u32(f.code, 0);
    i32c(f, kIovec + 4);
    switch (c_.below(6)) {
      case 4: i32c(f, 60000 + c_.below(6000)); break;  // past max_stdout in 1 page
      case 5: expr(f, VT::i32, depth + 1); break;
      default: i32c(f, c_.below(64)); break;
    }
    op(f, 0x36);
    u32(f.code, 2);
    u32(f.code, 0);
    const std::uint32_t fd = c_.below(8);
    i32c(f, fd < 5 ? 1 : fd - 5 == 0 ? 2 : fd - 5 == 1 ? 0 : 7);
    i32c(f, kIovec);
    i32c(f, c_.rare(8) ? 2 : 1);
    i32c(f, kIovec + 8);
    op(f, 0x10);
    u32(f.code, kFdWrite);
  }

  // memory.grow by a few pages, by more than the maximum, by a "negative"
  // delta (2^32 - k pages: refused, and pages + delta may wrap to 0) or by
  // anything.
  void grow(Fn& f, int depth) {
    switch (c_.below(5)) {
      case 2: i32c(f, 4 + c_.below(300)); break;
      case 3: i32c(f, -1 - std::int64_t(c_.below(8))); break;
      case 4: expr(f, VT::i32, depth + 1); break;
      default: i32c(f, c_.below(3)); break;
    }
    op(f, 0x40);
    f.code.push_back(0x00);
    ++stats_.memory_grows;
  }

  // A loop, bounded by a counter local unless a rare choice says otherwise.
  void loop(Fn& f, const std::vector<VT>& result, int depth) {
    const bool bounded = !c_.rare(10);
    std::uint32_t counter = 0;
    if (bounded) {
      counter = new_local(f, VT::i32, true);
      i32c(f, 1 + c_.below(8));
      op(f, 0x21);
      u32(f.code, counter);
    } else {
      ++stats_.unbounded_loops;
    }
    op(f, 0x03);
    blocktype(f, result);
    f.labels.push_back({{}, true});
    stmts(f, depth + 1);
    if (bounded) {
      decrement(f, 0x20, 0x22, counter);  // local.get, local.tee: the new count is br_if's condition
    } else {
      expr(f, VT::i32, depth + 1);
    }
    op(f, 0x0D);
    u32(f.code, 0);
    if (!result.empty()) expr(f, result[0], depth + 1);
    f.labels.pop_back();
    op(f, 0x0B);
  }

  void block(Fn& f, const std::vector<VT>& result, int depth) {
    op(f, 0x02);
    blocktype(f, result);
    f.labels.push_back({result, false});
    stmts(f, depth + 1);
    if (!result.empty()) expr(f, result[0], depth + 1);
    f.labels.pop_back();
    op(f, 0x0B);
  }

  void if_else(Fn& f, const std::vector<VT>& result, int depth) {
    expr(f, VT::i32, depth + 1);
    op(f, 0x04);
    blocktype(f, result);
    f.labels.push_back({result, false});
    stmts(f, depth + 1);
    if (!result.empty()) expr(f, result[0], depth + 1);
    if (!result.empty() || c_.below(2)) {
      op(f, 0x05);
      stmts(f, depth + 1);
      if (!result.empty()) expr(f, result[0], depth + 1);
    }
    f.labels.pop_back();
    op(f, 0x0B);
  }

  // br_if to a label carrying `payload`; leaves the payload.
  bool br_if(Fn& f, const std::vector<VT>& payload, int depth) {
    auto ls = targets(f, &payload);
    if (ls.empty()) return false;
    const std::size_t l = ls[c_.below(std::uint32_t(ls.size()))];
    values(f, payload, depth);
    expr(f, VT::i32, depth + 1);
    op(f, 0x0D);
    u32(f.code, depth_of(f, l));
    return true;
  }

  void expr(Fn& f, VT t, int depth) {
    ++stats_.instructions;
    --f.budget;
    if (depth >= kMaxDepth || f.budget <= 0) return leaf(f, t);
    const int s = slot(t);
    switch (c_.below(20)) {
      case 0:
        return leaf(f, t);
      case 1:
        return constant(f, t);
      case 2: {
        int l = pick_local(f, t, false);
        if (l < 0) return constant(f, t);
        op(f, 0x20);
        u32(f.code, std::uint32_t(l));
        return;
      }
      case 3: {
        const auto& g = user_globals_[s];
        op(f, 0x23);
        u32(f.code, g[c_.below(std::uint32_t(g.size()))]);
        return;
      }
      case 4:
        expr(f, t, depth + 1);
        op(f, kUnary[s][c_.below(std::uint32_t(kUnary[s].size()))]);
        return;
      case 5:
        expr(f, t, depth + 1);
        expr(f, t, depth + 1);
        op(f, std::uint8_t(kBinary[s].first + c_.below(kBinary[s].second - kBinary[s].first + 1)));
        return;
      case 6: {
        if (t != VT::i32) break;
        const VT u = any_type();
        const int su = slot(u);
        if (u == VT::i64 && c_.below(4) == 0) {
          expr(f, u, depth + 1);
          op(f, 0x50);  // i64.eqz
          return;
        }
        expr(f, u, depth + 1);
        expr(f, u, depth + 1);
        op(f, std::uint8_t(kCompare[su].first + c_.below(kCompare[su].second - kCompare[su].first + 1)));
        return;
      }
      case 7: {
        std::vector<const Conversion*> ok;
        for (const auto& cv : kConversions)
          if (cv.to == t) ok.push_back(&cv);
        const Conversion* cv = ok[c_.below(std::uint32_t(ok.size()))];
        expr(f, cv->from, depth + 1);
        op(f, cv->op);
        return;
      }
      case 8: {
        const MemOp& m = kLoads[s][c_.below(std::uint32_t(kLoads[s].size()))];
        const std::uint32_t offset = address(f, depth);
        op(f, m.code);
        memarg(f, m, offset);
        return;
      }
      case 9: {
        int l = pick_local(f, t, true);
        if (l < 0) break;
        expr(f, t, depth + 1);
        op(f, 0x22);
        u32(f.code, std::uint32_t(l));
        return;
      }
      case 10:
        expr(f, t, depth + 1);
        expr(f, t, depth + 1);
        expr(f, VT::i32, depth + 1);
        op(f, 0x1B);
        return;
      case 11:
        return block(f, {t}, depth);
      case 12:
        return if_else(f, {t}, depth);
      case 13:
        return loop(f, {t}, depth);
      case 14: {
        const auto results = call(f, depth);
        return keep_top(f, results, &t);
      }
      case 15:
        if (br_if(f, {t}, depth)) return;
        break;
      case 16:
        if (t != VT::i32) break;
        if (c_.below(2)) {
          op(f, 0x3F);
          f.code.push_back(0x00);
        } else {
          grow(f, depth);
        }
        return;
      case 17:
        if (t != VT::i32) break;
        return write(f, depth);
      case 18:
        if (!c_.rare(4)) break;
        return escape(f, depth);
      default:
        break;
    }
    // The fallback: a binary operation on two leaves.
    leaf(f, t);
    leaf(f, t);
    op(f, std::uint8_t(kBinary[s].first + c_.below(kBinary[s].second - kBinary[s].first + 1)));
  }

  void stmt(Fn& f, int depth) {
    ++stats_.instructions;
    --f.budget;
    switch (c_.below(15)) {
      case 1: {
        const VT t = any_type();
        const auto& g = user_globals_[slot(t)];
        expr(f, t, depth + 1);
        op(f, 0x24);
        u32(f.code, g[c_.below(std::uint32_t(g.size()))]);
        return;
      }
      case 2:
        return store(f, any_type(), depth);
      case 3:
        expr(f, any_type(), depth + 1);
        op(f, 0x1A);
        return;
      case 4: {
        const auto results = call(f, depth);
        return keep_top(f, results, nullptr);
      }
      case 5:
        return block(f, {}, depth);
      case 6:
        return if_else(f, {}, depth);
      case 7:
        return loop(f, {}, depth);
      case 8:
        br_if(f, {}, depth);
        return;
      case 9:
        grow(f, depth);
        op(f, 0x1A);
        return;
      case 10:
        write(f, depth);
        op(f, 0x1A);
        return;
      case 11:
        if (!c_.rare(6)) return;
        expr(f, VT::i32, depth + 1);
        op(f, 0x10);
        u32(f.code, kProcExit);
        ++stats_.proc_exits;
        return;
      case 12:
        if (!c_.rare(3)) return;
        return escape(f, depth);
      default: {  // local.set
        const VT t = any_type();
        int l = pick_local(f, t, true);
        if (l < 0) l = int(new_local(f, t, false));
        expr(f, t, depth + 1);
        op(f, 0x21);
        u32(f.code, std::uint32_t(l));
        return;
      }
    }
  }

  void stmts(Fn& f, int depth) {
    if (depth >= kMaxDepth) return;
    const std::uint32_t n = c_.below(4);
    for (std::uint32_t i = 0; i < n && f.budget > 0; ++i) stmt(f, depth);
  }

  Fn function(std::uint32_t index) {
    Fn f;
    const FuncType& sig = sigs_[index];
    f.locals = sig.params;
    f.params = sig.params.size();
    f.reserved.assign(f.locals.size(), false);
    f.results = sig.results;
    f.labels.push_back({sig.results, false});
    f.budget = 20 + int(c_.below(120));
    const std::uint32_t nlocals = c_.below(5);
    for (std::uint32_t i = 0; i < nlocals; ++i) new_local(f, any_type(), false);
    if (!c_.rare(6)) {
      // The call budget: at 0 return constants; else take one.
      op(f, 0x23);
      u32(f.code, kBudgetGlobal);
      op(f, 0x45);
      op(f, 0x04);
      f.code.push_back(0x40);
      for (VT t : sig.results) constant(f, t);
      op(f, 0x0F);
      op(f, 0x0B);
      decrement(f, 0x23, 0x24, kBudgetGlobal);  // global.get, global.set
    } else {
      ++stats_.unguarded_functions;
    }
    stmts(f, 0);
    stmts(f, 0);
    for (VT t : sig.results) expr(f, t, 0);
    op(f, 0x0B);
    return f;
  }

  // Stores local or global `index` of type t (read with `get`) at address
  // `at`, with t's plain store and offset 0: how _start writes out what
  // the functions returned and the globals' final values.
  void store_at(Fn& f, std::uint32_t at, std::uint8_t get, std::uint32_t index, VT t) {
    i32c(f, at);
    op(f, get);
    u32(f.code, index);
    op(f, kStores[slot(t)][0].code);
    u32(f.code, kStores[slot(t)][0].align);
    u32(f.code, 0);
  }

  // _start: a few statements, a call of each function with its results
  // stored at [64, 128), the globals stored at [0, 64), fd_write of
  // [0, 128) to stdout, and sometimes proc_exit.
  Fn start() {
    Fn f;
    f.labels.push_back({{}, false});
    f.budget = 10 + int(c_.below(30));
    stmts(f, 0);
    std::uint32_t cursor = 64;
    for (std::uint32_t g = 0; g < sigs_.size(); ++g) {
      f.budget = 8;
      values(f, sigs_[g].params, 0);
      op(f, 0x10);
      u32(f.code, kImports + g);
      const auto& rs = sigs_[g].results;
      for (std::size_t k = rs.size(); k-- > 0;) {
        const VT t = rs[k];
        const std::uint32_t s = scratch(f, t);
        op(f, 0x21);
        u32(f.code, s);
        if (cursor + width(t) > kOutBytes) cursor = 64;
        store_at(f, cursor, 0x20, s, t);  // local.get
        cursor += width(t);
      }
    }
    std::uint32_t at = 0;
    for (VT t : kTypes) {
      for (std::uint32_t g : user_globals_[slot(t)]) {
        store_at(f, at, 0x23, g, t);  // global.get
        at += width(t);
        if (t == VT::f32 || t == VT::f64) ++stats_.float_stores;
      }
    }
    // iovec {0, 128} at kIovec, nwritten after it
    i32c(f, kIovec);
    i32c(f, 0);
    op(f, 0x36);
    u32(f.code, 2);
    u32(f.code, 0);
    i32c(f, kIovec + 4);
    i32c(f, kOutBytes);
    op(f, 0x36);
    u32(f.code, 2);
    u32(f.code, 0);
    i32c(f, 1);
    i32c(f, kIovec);
    i32c(f, 1);
    i32c(f, kIovec + 8);
    op(f, 0x10);
    u32(f.code, kFdWrite);
    op(f, 0x1A);
    if (c_.rare(3)) {
      // exit with a code computed from what ran: a global, or memory
      f.budget = 6;
      if (c_.below(2)) {
        op(f, 0x23);
        u32(f.code, user_globals_[0][0]);
      } else {
        expr(f, VT::i32, 2);
      }
      i32c(f, 0xff);
      op(f, 0x71);
      op(f, 0x10);
      u32(f.code, kProcExit);
      ++stats_.proc_exits;
    }
    op(f, 0x0B);
    return f;
  }

  Bytes encode() {
    Bytes m = {0x00, 0x61, 0x73, 0x6D, 0x01, 0x00, 0x00, 0x00};
    Bytes s;
    u32(s, types_.size());
    for (const auto& t : types_) {
      s.push_back(0x60);
      u32(s, t.params.size());
      for (VT v : t.params) s.push_back(std::uint8_t(v));
      u32(s, t.results.size());
      for (VT v : t.results) s.push_back(std::uint8_t(v));
    }
    section(m, 1, s);

    s.clear();
    u32(s, 2);
    name(s, "wasi_snapshot_preview1");
    name(s, "fd_write");
    s.push_back(0x00);
    u32(s, fd_write_type_);
    name(s, "wasi_snapshot_preview1");
    name(s, "proc_exit");
    s.push_back(0x00);
    u32(s, proc_exit_type_);
    section(m, 2, s);

    s.clear();
    u32(s, sigs_.size() + 1);
    for (std::uint32_t t : sig_index_) u32(s, t);
    u32(s, start_type_);
    section(m, 3, s);

    const std::size_t table_size = table_size_ + table_imports_.size();
    s.clear();
    u32(s, 1);
    s.push_back(0x70);
    s.push_back(0x01);
    u32(s, table_size);
    u32(s, table_size);
    section(m, 4, s);

    s.clear();
    u32(s, 1);
    s.push_back(has_max_ ? 0x01 : 0x00);
    u32(s, mem_min_);
    if (has_max_) u32(s, mem_max_);
    section(m, 5, s);

    s.clear();
    u32(s, global_types_.size());
    for (std::size_t i = 0; i < global_types_.size(); ++i) {
      s.push_back(std::uint8_t(global_types_[i]));
      s.push_back(0x01);
      s.insert(s.end(), global_inits_[i].begin(), global_inits_[i].end());
      s.push_back(0x0B);
    }
    section(m, 6, s);

    s.clear();
    u32(s, 2);
    name(s, "memory");
    s.push_back(0x02);
    u32(s, 0);
    name(s, "_start");
    s.push_back(0x00);
    u32(s, kImports + sigs_.size());
    section(m, 7, s);

    s.clear();
    u32(s, table_imports_.empty() ? 1 : 2);
    u32(s, 0);  // an active segment of table 0: the functions from slot 0
    s.push_back(0x41);
    s64(s, 0);
    s.push_back(0x0B);
    u32(s, table_.size());
    for (std::uint32_t g : table_) u32(s, kImports + g);
    if (!table_imports_.empty()) {  // the imports after the empty slots
      u32(s, 0);
      s.push_back(0x41);
      s64(s, table_size_);
      s.push_back(0x0B);
      u32(s, table_imports_.size());
      for (std::uint32_t g : table_imports_) u32(s, g);
    }
    section(m, 9, s);

    s.clear();
    u32(s, bodies_.size());
    for (const Fn& f : bodies_) {
      Bytes body;
      std::vector<std::pair<std::uint32_t, VT>> groups;
      for (std::size_t i = f.params; i < f.locals.size(); ++i) {
        if (!groups.empty() && groups.back().second == f.locals[i]) ++groups.back().first;
        else groups.push_back({1, f.locals[i]});
      }
      u32(body, groups.size());
      for (auto [n, t] : groups) {
        u32(body, n);
        body.push_back(std::uint8_t(t));
      }
      body.insert(body.end(), f.code.begin(), f.code.end());
      u32(s, body.size());
      s.insert(s.end(), body.begin(), body.end());
    }
    section(m, 10, s);

    if (!data_.empty()) {
      s.clear();
      u32(s, 1);
      u32(s, 0);  // an active segment of memory 0
      s.push_back(0x41);
      s64(s, std::int32_t(data_offset_));
      s.push_back(0x0B);
      u32(s, data_.size());
      s.insert(s.end(), data_.begin(), data_.end());
      section(m, 11, s);
    }
    return m;
  }

  Choices c_;
  std::vector<FuncType> types_;
  std::vector<FuncType> sigs_;
  std::vector<std::uint32_t> sig_index_;
  std::uint32_t fd_write_type_ = 0, proc_exit_type_ = 0, start_type_ = 0;
  std::uint32_t mem_min_ = 1, mem_max_ = 1;
  bool has_max_ = true;
  std::vector<VT> global_types_;
  std::vector<Bytes> global_inits_;
  std::array<std::vector<std::uint32_t>, 4> user_globals_;
  std::uint32_t table_size_ = 0;
  std::vector<std::uint32_t> table_;  // slot -> generated function
  std::vector<std::uint32_t> table_imports_;  // imported functions in the slots after table_size_
  std::uint32_t data_offset_ = 0;
  Bytes data_;
  std::vector<Fn> bodies_;
  WasmGenStats stats_;
};

}  // namespace

GeneratedModule generate_module(ByteView choices) { return Gen(choices).run(); }

}  // namespace verity::fuzz
