// The sandbox's executor on wabt's interpreter (wabt 1.0.32, Debian 12).
// Compiled as C++17: see wabt_sandbox.h.
//
// How a run goes:
//   1. Read and validate the module with the sandbox's feature set (the MVP
//      plus the proposals whose every instruction does O(1) work; bulk memory
//      and reference types are refused: memory.fill, memory.copy, table.grow
//      and friends do work proportional to an operand, which one unit of
//      fuel cannot pay for).
//   2. Check its shape (an exported `memory`, `_start: [] -> []`, no start
//      section, locals and declared sizes under the caps) and rewrite it:
//      memory and table maxima are lowered to the caps, and every memory.grow
//      becomes a call to an appended function that does the grow and records
//      in an appended global whether it was refused. Then encode it again
//      and load it into the interpreter.
//   3. Bind the WASI imports to host functions, instantiate, and step `_start`
//      one interpreter instruction at a time, counting fuel.
//
// Stepping: wabt's public API can only run a function to completion
// (Func::Call) or continue a thread that is already inside one
// (Thread::Run(n), Thread::Step). Entering `_start` without running it
// (Thread::PushCall) and stepping without the GC-root bookkeeping Step()
// does on every instruction (Thread::StepInternal) are private, as are the
// frame and value stacks whose sizes we cap. We reach them through the
// standard explicit-instantiation rule (access checks do not apply to the
// template arguments of an explicit instantiation); the symbols are exported
// by libwabt.a. This ties the file to wabt 1.0.32's Thread layout, which the
// build pins through Debian 12; the unit tests exercise every path.

#include "worker/wabt_sandbox.h"

#include <wabt/binary-reader-ir.h>
#include <wabt/binary-reader.h>
#include <wabt/binary-writer.h>
#include <wabt/cast.h>
#include <wabt/feature.h>
#include <wabt/interp/binary-reader-interp.h>
#include <wabt/interp/interp.h>
#include <wabt/ir.h>
#include <wabt/stream.h>
#include <wabt/validator.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <utility>

namespace verity::worker::wabt_glue {

namespace ip = wabt::interp;

namespace {

// ---- Private members of wabt::interp::Thread (see the header comment) ----

template <typename Tag, typename Tag::type Member>
struct Expose {
  friend typename Tag::type get(Tag) { return Member; }
};

struct ThreadFrames {
  using type = std::vector<ip::Frame> ip::Thread::*;
  friend type get(ThreadFrames);
};
struct ThreadValues {
  using type = std::vector<ip::Value> ip::Thread::*;
  friend type get(ThreadValues);
};
struct ThreadPushCall {
  using type = ip::RunResult (ip::Thread::*)(const ip::DefinedFunc&, ip::Trap::Ptr*);
  friend type get(ThreadPushCall);
};
struct ThreadStepInternal {
  using type = ip::RunResult (ip::Thread::*)(ip::Trap::Ptr*);
  friend type get(ThreadStepInternal);
};

template struct Expose<ThreadFrames, &ip::Thread::frames_>;
template struct Expose<ThreadValues, &ip::Thread::values_>;
template struct Expose<ThreadPushCall, &ip::Thread::PushCall>;
template struct Expose<ThreadStepInternal, &ip::Thread::StepInternal>;

// ---- The feature set ----

wabt::Features sandbox_features() {
  wabt::Features f;  // wabt 1.0.32's defaults, then:
  f.disable_bulk_memory();
  f.disable_reference_types();
  f.disable_exceptions();
  f.disable_threads();
  f.disable_tail_call();
  f.disable_memory64();
  f.disable_multi_memory();
  f.disable_function_references();
  f.disable_gc();
  f.disable_relaxed_simd();
  f.disable_extended_const();
  return f;
}

// V8's limit; keeps one frame's locals (pushed by one internal instruction)
// well inside the value-stack cap's slack.
constexpr std::uint64_t kMaxLocalsPerFunction = 50000;
constexpr std::uint32_t kMaxPages32 = 65536;

// ---- WASI ----

// errno values of wasi_snapshot_preview1.
constexpr std::uint32_t kSuccess = 0;
constexpr std::uint32_t kBadf = 8;
constexpr std::uint32_t kFault = 21;
constexpr std::uint32_t kInval = 28;
constexpr std::uint32_t kNosys = 52;
constexpr std::uint32_t kSpipe = 70;

constexpr std::uint64_t kRightFdRead = 1u << 1;
constexpr std::uint64_t kRightFdWrite = 1u << 6;
constexpr std::uint8_t kFiletypeUnknown = 0;  // what pipes are in WASI: not a terminal

enum class Fn {
  args_get, args_sizes_get, environ_get, environ_sizes_get, clock_res_get, clock_time_get,
  fd_close, fd_fdstat_get, fd_prestat_get, fd_read, fd_seek, fd_write, proc_exit, random_get,
  sched_yield, nosys,
};

struct FnEntry {
  WasiFunction pub;
  Fn fn;
};

const std::vector<FnEntry>& table() {
  static const std::vector<FnEntry> t = {
      {{"args_get", "ii", "i", true}, Fn::args_get},
      {{"args_sizes_get", "ii", "i", true}, Fn::args_sizes_get},
      {{"environ_get", "ii", "i", true}, Fn::environ_get},
      {{"environ_sizes_get", "ii", "i", true}, Fn::environ_sizes_get},
      {{"clock_res_get", "ii", "i", true}, Fn::clock_res_get},
      {{"clock_time_get", "iIi", "i", true}, Fn::clock_time_get},
      {{"fd_close", "i", "i", true}, Fn::fd_close},
      {{"fd_fdstat_get", "ii", "i", true}, Fn::fd_fdstat_get},
      {{"fd_prestat_get", "ii", "i", true}, Fn::fd_prestat_get},
      {{"fd_read", "iiii", "i", true}, Fn::fd_read},
      {{"fd_seek", "iIii", "i", true}, Fn::fd_seek},
      {{"fd_write", "iiii", "i", true}, Fn::fd_write},
      {{"proc_exit", "i", "", true}, Fn::proc_exit},
      {{"random_get", "ii", "i", true}, Fn::random_get},
      {{"sched_yield", "", "i", true}, Fn::sched_yield},
      // Harmless names a libc may import; they answer ENOSYS.
      {{"fd_advise", "iIIi", "i", false}, Fn::nosys},
      {{"fd_allocate", "iII", "i", false}, Fn::nosys},
      {{"fd_datasync", "i", "i", false}, Fn::nosys},
      {{"fd_fdstat_set_flags", "ii", "i", false}, Fn::nosys},
      {{"fd_fdstat_set_rights", "iII", "i", false}, Fn::nosys},
      {{"fd_filestat_get", "ii", "i", false}, Fn::nosys},
      {{"fd_filestat_set_size", "iI", "i", false}, Fn::nosys},
      {{"fd_filestat_set_times", "iIIi", "i", false}, Fn::nosys},
      {{"fd_pread", "iiiIi", "i", false}, Fn::nosys},
      {{"fd_prestat_dir_name", "iii", "i", false}, Fn::nosys},
      {{"fd_pwrite", "iiiIi", "i", false}, Fn::nosys},
      {{"fd_renumber", "ii", "i", false}, Fn::nosys},
      {{"fd_sync", "i", "i", false}, Fn::nosys},
      {{"fd_tell", "ii", "i", false}, Fn::nosys},
      {{"poll_oneoff", "iiii", "i", false}, Fn::nosys},
      {{"proc_raise", "i", "i", false}, Fn::nosys},
  };
  return t;
}

ip::ValueTypes value_types(const char* letters) {
  ip::ValueTypes out;
  for (const char* c = letters; *c; ++c) out.push_back(*c == 'I' ? wabt::Type::I64 : wabt::Type::I32);
  return out;
}

// Everything a run's host functions share.
struct Host {
  const ExecRequest* req = nullptr;
  Execution* ex = nullptr;
  ip::Memory* memory = nullptr;  // set after instantiation; owned by the store
  std::size_t input_pos = 0;
  bool closed[3] = {false, false, false};
  std::uint64_t random_index = 0;
  std::uint8_t random_block[32] = {};
  std::size_t random_left = 0;
  // How the run ended, when a host function ended it.
  bool exited = false;
  bool out_of_fuel = false;
  bool output_too_large = false;

  // Guest memory. Pointers are u32; lengths are checked in 64 bits.
  bool in_bounds(std::uint64_t ptr, std::uint64_t len) const { return ptr + len <= memory->ByteSize(); }
  std::uint8_t* at(std::uint64_t ptr) const { return memory->UnsafeData() + ptr; }
  std::uint32_t load32(std::uint64_t p) const {
    const std::uint8_t* b = at(p);
    return std::uint32_t(b[0]) | std::uint32_t(b[1]) << 8 | std::uint32_t(b[2]) << 16 |
           std::uint32_t(b[3]) << 24;
  }
  void store32(std::uint64_t p, std::uint32_t v) const {
    std::uint8_t* b = at(p);
    for (int i = 0; i < 4; ++i) b[i] = std::uint8_t(v >> (8 * i));
  }
  void store64(std::uint64_t p, std::uint64_t v) const {
    std::uint8_t* b = at(p);
    for (int i = 0; i < 8; ++i) b[i] = std::uint8_t(v >> (8 * i));
  }

  // WASI calls pay one unit of fuel per byte they move between the host and
  // the module's memory (buffers and iovec arrays), so no call does
  // unbounded work for the one instruction that made it.
  bool charge(std::uint64_t bytes) {
    std::uint64_t& used = ex->fuel_used;
    if (bytes > req->limits.fuel - used) {
      used = req->limits.fuel;
      out_of_fuel = true;
      return false;
    }
    used += bytes;
    return true;
  }

  bool fd_open(std::uint32_t fd) const { return fd <= 2 && !closed[fd]; }
};

// The iovec array at (iovs, count): checks it and every buffer it names.
// Returns false (EFAULT) if any is out of bounds; total gets the byte count.
bool check_iovecs(const Host& h, std::uint32_t iovs, std::uint32_t count, std::uint64_t* total) {
  if (!h.in_bounds(iovs, std::uint64_t(count) * 8)) return false;
  std::uint64_t sum = 0;
  for (std::uint32_t i = 0; i < count; ++i) {
    std::uint32_t buf = h.load32(std::uint64_t(iovs) + 8 * i);
    std::uint32_t len = h.load32(std::uint64_t(iovs) + 8 * i + 4);
    if (!h.in_bounds(buf, len)) return false;
    sum += len;
  }
  *total = sum;
  return true;
}

wabt::Result end_run(ip::Thread& thread, ip::Trap::Ptr* out_trap, const char* why) {
  *out_trap = ip::Trap::New(thread.store(), why);
  return wabt::Result::Error;
}

// One WASI call. Returns the errno in *errno_out, or ends the run (false).
bool call_wasi(Fn fn, Host& h, const ip::Values& p, std::uint32_t* errno_out) {
  auto u32 = [&](std::size_t i) { return p[i].Get<std::uint32_t>(); };
  std::uint32_t& e = *errno_out;
  e = kSuccess;
  switch (fn) {
    case Fn::args_sizes_get:
    case Fn::environ_sizes_get: {
      std::uint32_t count = 0, bytes = 0;
      if (fn == Fn::args_sizes_get) {
        count = std::uint32_t(h.req->argv.size());
        for (const auto& a : h.req->argv) bytes += std::uint32_t(a.size() + 1);
      }
      if (!h.in_bounds(u32(0), 4) || !h.in_bounds(u32(1), 4)) return e = kFault, true;
      h.store32(u32(0), count);
      h.store32(u32(1), bytes);
      return true;
    }
    case Fn::args_get: {
      const auto& argv = h.req->argv;
      std::uint64_t bytes = 0;
      for (const auto& a : argv) bytes += a.size() + 1;
      if (!h.in_bounds(u32(0), 4 * std::uint64_t(argv.size())) || !h.in_bounds(u32(1), bytes))
        return e = kFault, true;
      if (!h.charge(bytes + 4 * argv.size())) return false;
      std::uint64_t ptr = u32(1);
      for (std::size_t i = 0; i < argv.size(); ++i) {
        h.store32(u32(0) + 4 * i, std::uint32_t(ptr));
        std::memcpy(h.at(ptr), argv[i].data(), argv[i].size());
        h.at(ptr)[argv[i].size()] = 0;
        ptr += argv[i].size() + 1;
      }
      return true;
    }
    case Fn::environ_get:
      return true;  // the environment is empty: nothing to write
    case Fn::clock_res_get:
    case Fn::clock_time_get: {
      std::uint32_t id = u32(0);
      std::uint32_t out = fn == Fn::clock_res_get ? u32(1) : u32(2);
      if (id > 3) return e = kInval, true;  // realtime, monotonic, process and thread CPU time
      if (!h.in_bounds(out, 8)) return e = kFault, true;
      // Every clock reads 0 (the epoch) and never advances; resolution 1 ns.
      h.store64(out, fn == Fn::clock_res_get ? 1 : 0);
      return true;
    }
    case Fn::fd_close: {
      std::uint32_t fd = u32(0);
      if (!h.fd_open(fd)) return e = kBadf, true;
      h.closed[fd] = true;
      return true;
    }
    case Fn::fd_fdstat_get: {
      std::uint32_t fd = u32(0);
      if (!h.fd_open(fd)) return e = kBadf, true;
      if (!h.in_bounds(u32(1), 24)) return e = kFault, true;
      std::uint64_t p1 = u32(1);
      std::memset(h.at(p1), 0, 24);
      h.at(p1)[0] = kFiletypeUnknown;
      h.store64(p1 + 8, fd == 0 ? kRightFdRead : kRightFdWrite);
      return true;
    }
    case Fn::fd_prestat_get:
      return e = kBadf, true;  // no preopened directories
    case Fn::fd_seek: {
      std::uint32_t fd = u32(0);
      return e = h.fd_open(fd) ? kSpipe : kBadf, true;  // streams, not files
    }
    case Fn::fd_read: {
      std::uint32_t fd = u32(0);
      if (fd != 0 || !h.fd_open(fd)) return e = kBadf, true;
      std::uint64_t total = 0;
      if (!check_iovecs(h, u32(1), u32(2), &total) || !h.in_bounds(u32(3), 4)) return e = kFault, true;
      std::uint64_t left = h.req->input_size - h.input_pos;
      std::uint64_t n = std::min(total, left);
      if (!h.charge(n + 8 * std::uint64_t(u32(2)))) return false;
      std::uint64_t done = 0;
      for (std::uint32_t i = 0; i < u32(2) && done < n; ++i) {
        std::uint32_t buf = h.load32(std::uint64_t(u32(1)) + 8 * i);
        std::uint32_t len = h.load32(std::uint64_t(u32(1)) + 8 * i + 4);
        std::uint64_t k = std::min<std::uint64_t>(len, n - done);
        std::memcpy(h.at(buf), h.req->input + h.input_pos, k);
        h.input_pos += k;
        done += k;
      }
      h.store32(u32(3), std::uint32_t(done));
      return true;
    }
    case Fn::fd_write: {
      std::uint32_t fd = u32(0);
      if (fd == 0 || !h.fd_open(fd)) return e = kBadf, true;
      std::uint64_t total = 0;
      if (!check_iovecs(h, u32(1), u32(2), &total) || !h.in_bounds(u32(3), 4)) return e = kFault, true;
      if (!h.charge(total + 8 * std::uint64_t(u32(2)))) return false;
      std::vector<std::uint8_t>& sink = fd == 1 ? h.ex->out : h.ex->err;
      std::size_t cap = fd == 1 ? h.req->limits.max_stdout : h.req->limits.max_stderr;
      for (std::uint32_t i = 0; i < u32(2); ++i) {
        std::uint32_t buf = h.load32(std::uint64_t(u32(1)) + 8 * i);
        std::uint32_t len = h.load32(std::uint64_t(u32(1)) + 8 * i + 4);
        std::size_t room = cap - sink.size();
        std::size_t k = std::min<std::size_t>(len, room);
        sink.insert(sink.end(), h.at(buf), h.at(buf) + k);
        if (k < len && fd == 1) {
          h.output_too_large = true;  // stdout keeps its first max_stdout bytes
          return false;
        }
      }
      h.store32(u32(3), std::uint32_t(total));  // stderr past its cap is dropped silently
      return true;
    }
    case Fn::proc_exit:
      h.exited = true;
      h.ex->exit_code = u32(0);
      return false;
    case Fn::random_get: {
      std::uint32_t buf = u32(0), len = u32(1);
      if (!h.in_bounds(buf, len)) return e = kFault, true;
      if (!h.charge(len)) return false;
      for (std::uint32_t i = 0; i < len; ++i) {
        if (h.random_left == 0) {
          h.req->random(h.random_index++, h.random_block);
          h.random_left = 32;
        }
        h.at(buf)[i] = h.random_block[32 - h.random_left--];
      }
      return true;
    }
    case Fn::sched_yield:
      return true;
    case Fn::nosys:
      return e = kNosys, true;
  }
  return e = kNosys, true;
}

// ---- Module rewriting ----

struct GrowRewriter {
  wabt::Index hook;
  void rewrite(wabt::ExprList& exprs) {
    for (auto it = exprs.begin(); it != exprs.end(); ++it) {
      wabt::Expr& e = *it;
      switch (e.type()) {
        case wabt::ExprType::MemoryGrow: {
          auto call = std::make_unique<wabt::CallExpr>(wabt::Var(hook, e.loc), e.loc);
          it = exprs.erase(it);
          it = exprs.insert(it, std::move(call));
          break;
        }
        case wabt::ExprType::Block:
          rewrite(wabt::cast<wabt::BlockExpr>(&e)->block.exprs);
          break;
        case wabt::ExprType::Loop:
          rewrite(wabt::cast<wabt::LoopExpr>(&e)->block.exprs);
          break;
        case wabt::ExprType::If: {
          auto* if_ = wabt::cast<wabt::IfExpr>(&e);
          rewrite(if_->true_.exprs);
          rewrite(if_->false_);
          break;
        }
        default:
          break;
      }
    }
  }
};

bool has_grow(const wabt::ExprList& exprs) {
  for (const wabt::Expr& e : exprs) {
    switch (e.type()) {
      case wabt::ExprType::MemoryGrow: return true;
      case wabt::ExprType::Block:
        if (has_grow(wabt::cast<wabt::BlockExpr>(&e)->block.exprs)) return true;
        break;
      case wabt::ExprType::Loop:
        if (has_grow(wabt::cast<wabt::LoopExpr>(&e)->block.exprs)) return true;
        break;
      case wabt::ExprType::If: {
        auto* if_ = wabt::cast<wabt::IfExpr>(&e);
        if (has_grow(if_->true_.exprs) || has_grow(if_->false_)) return true;
        break;
      }
      default: break;
    }
  }
  return false;
}

template <class E, class... Args>
void emit(wabt::ExprList& list, Args&&... args) {
  list.push_back(std::make_unique<E>(std::forward<Args>(args)...));
}

// Appends (global $refused (mut i32) 0) and
//   (func $grow (param i32) (result i32) (local i32)
//     local.get 0  memory.grow  local.tee 1  i32.const -1  i32.eq
//     if  i32.const 1  global.set $refused  end  local.get 1)
// and points every memory.grow at it. Returns the global's index.
wabt::Index add_grow_hook(wabt::Module& m) {
  wabt::Location loc;
  auto g = std::make_unique<wabt::GlobalModuleField>(loc);
  g->global.type = wabt::Type::I32;
  g->global.mutable_ = true;
  emit<wabt::ConstExpr>(g->global.init_expr, wabt::Const::I32(0));
  m.AppendField(std::move(g));
  wabt::Index global = wabt::Index(m.globals.size() - 1);

  wabt::FuncSignature sig;
  sig.param_types = {wabt::Type::I32};
  sig.result_types = {wabt::Type::I32};
  wabt::Index type_index = m.GetFuncTypeIndex(sig);
  if (type_index == wabt::kInvalidIndex) {
    auto t = std::make_unique<wabt::TypeModuleField>(loc);
    auto ft = std::make_unique<wabt::FuncType>();
    ft->sig = sig;
    t->type = std::move(ft);
    m.AppendField(std::move(t));
    type_index = wabt::Index(m.types.size() - 1);
  }

  auto f = std::make_unique<wabt::FuncModuleField>(loc);
  wabt::Func& fn = f->func;
  fn.decl.has_func_type = true;
  fn.decl.type_var = wabt::Var(type_index, loc);
  fn.decl.sig = sig;
  fn.local_types.AppendDecl(wabt::Type::I32, 1);
  emit<wabt::LocalGetExpr>(fn.exprs, wabt::Var(0, loc));
  emit<wabt::MemoryGrowExpr>(fn.exprs, wabt::Var(0, loc));
  emit<wabt::LocalTeeExpr>(fn.exprs, wabt::Var(1, loc));
  emit<wabt::ConstExpr>(fn.exprs, wabt::Const::I32(0xffffffffu));
  emit<wabt::CompareExpr>(fn.exprs, wabt::Opcode::I32Eq);
  auto if_ = std::make_unique<wabt::IfExpr>(loc);
  emit<wabt::ConstExpr>(if_->true_.exprs, wabt::Const::I32(1));
  emit<wabt::GlobalSetExpr>(if_->true_.exprs, wabt::Var(global, loc));
  fn.exprs.push_back(std::move(if_));
  emit<wabt::LocalGetExpr>(fn.exprs, wabt::Var(1, loc));

  std::size_t defined = m.funcs.size();
  m.AppendField(std::move(f));
  GrowRewriter rw{wabt::Index(defined)};
  for (std::size_t i = m.num_func_imports; i < defined; ++i) rw.rewrite(m.funcs[i]->exprs);
  return global;
}

std::string first_error(const wabt::Errors& errors) {
  return errors.empty() ? std::string("unknown error") : errors.front().message;
}

struct Prepared {
  std::vector<std::uint8_t> wasm;    // the rewritten module
  bool hooked = false;               // memory.grow goes through the hook
  wabt::Index refused_global = 0;
};

// Step 1 and 2. Sets ex.ending/detail and returns false when the module is
// not run.
bool prepare(const ExecRequest& req, Execution& ex, Prepared* out) {
  const ExecLimits& lim = req.limits;
  wabt::Features features = sandbox_features();
  wabt::Errors errors;
  wabt::Module m;
  wabt::ReadBinaryOptions read(features, nullptr, false, true, false);
  auto invalid = [&](std::string why) {
    ex.ending = Ending::invalid_module;
    ex.detail = std::move(why);
    return false;
  };
  // What fails here but passes with wabt's default features uses a
  // proposal the sandbox refuses: say so, wabt's own message is cryptic
  // ("unexpected opcode: 0xfc 0xb").
  auto refused_or_invalid = [&](const std::string& message) {
    wabt::Features defaults;
    wabt::Errors again;
    wabt::Module probe;
    wabt::ReadBinaryOptions lenient(defaults, nullptr, false, true, false);
    bool passes = wabt::Succeeded(wabt::ReadBinaryIr("task.wasm", req.wasm, req.wasm_size, lenient, &again, &probe)) &&
                  wabt::Succeeded(wabt::ValidateModule(&probe, &again, wabt::ValidateOptions(defaults)));
    return invalid(passes ? "uses a WebAssembly feature the sandbox refuses (bulk memory, reference types, "
                            "threads, exceptions, tail calls, ...): " + message
                          : message);
  };
  if (wabt::Failed(wabt::ReadBinaryIr("task.wasm", req.wasm, req.wasm_size, read, &errors, &m)))
    return refused_or_invalid(first_error(errors));
  if (wabt::Failed(wabt::ValidateModule(&m, &errors, wabt::ValidateOptions(features))))
    return refused_or_invalid(first_error(errors));

  if (!m.starts.empty()) return invalid("the module has a start section; a task starts at _start");
  const wabt::Export* start = m.GetExport("_start");
  if (!start || start->kind != wabt::ExternalKind::Func) return invalid("no exported function _start");
  if (m.GetFuncIndex(start->var) < m.num_func_imports) return invalid("_start must be defined in the module");
  const wabt::Func* start_fn = m.GetFunc(start->var);
  if (!start_fn || start_fn->GetNumParams() != 0 || start_fn->GetNumResults() != 0)
    return invalid("_start must take no parameters and return nothing");
  const wabt::Export* mem = m.GetExport("memory");
  if (!mem || mem->kind != wabt::ExternalKind::Memory) return invalid("no exported memory named 'memory'");
  if (m.num_memory_imports != 0 || m.num_table_imports != 0 || m.num_global_imports != 0)
    return invalid("only functions may be imported");
  // The names were screened; the signatures must be the host's too, or
  // binding them fails at instantiation: a module admitted at submission
  // that no worker can run.
  for (const wabt::Import* import : m.imports) {
    const auto* fi = wabt::dyn_cast<wabt::FuncImport>(import);
    if (!fi) continue;
    for (const auto& e : table())
      if (import->field_name == e.pub.name && (fi->func.decl.sig.param_types != value_types(e.pub.params) ||
                                               fi->func.decl.sig.result_types != value_types(e.pub.results)))
        return invalid(import->module_name + "." + import->field_name + " is imported with the wrong signature");
  }

  for (std::size_t i = m.num_func_imports; i < m.funcs.size(); ++i) {
    std::uint64_t locals = 0;
    for (const auto& decl : m.funcs[i]->local_types.decls()) locals += decl.second;
    if (locals > kMaxLocalsPerFunction)
      return invalid("function " + std::to_string(i) + " declares " + std::to_string(locals) +
                     " locals; the limit is " + std::to_string(kMaxLocalsPerFunction));
  }

  wabt::Memory* memory = m.memories.at(0);
  wabt::Limits& ml = memory->page_limits;
  if (ml.initial > lim.memory_pages) {
    ex.ending = Ending::memory_too_large;
    ex.detail = "the module declares " + std::to_string(ml.initial) + " pages of memory; the cap is " +
                std::to_string(lim.memory_pages);
    return false;
  }
  ml.max = std::min<std::uint64_t>(ml.has_max ? ml.max : kMaxPages32, lim.memory_pages);
  ml.has_max = true;
  for (wabt::Table* t : m.tables) {
    wabt::Limits& tl = t->elem_limits;
    if (tl.initial > lim.table_elements) {
      ex.ending = Ending::memory_too_large;
      ex.detail = "the module declares a table of " + std::to_string(tl.initial) +
                  " elements; the cap is " + std::to_string(lim.table_elements);
      return false;
    }
    // Without reference types nothing grows a table; the cap is belt and braces.
    tl.max = std::min<std::uint64_t>(tl.has_max ? tl.max : 0xffffffffu, lim.table_elements);
    tl.has_max = true;
  }

  bool grows = false;
  for (std::size_t i = m.num_func_imports; i < m.funcs.size() && !grows; ++i)
    grows = has_grow(m.funcs[i]->exprs);
  if (grows) {
    out->refused_global = add_grow_hook(m);
    out->hooked = true;
  }

  wabt::MemoryStream stream;
  wabt::WriteBinaryOptions write(features, /*canonicalize_lebs=*/true, /*relocatable=*/false,
                                 /*write_debug_names=*/false);
  if (wabt::Failed(wabt::WriteBinaryModule(&stream, &m, write)))
    return invalid("internal: the rewritten module could not be encoded");
  out->wasm = std::move(stream.output_buffer().data);
  return true;
}

}  // namespace

const std::vector<WasiFunction>& wasi_functions() {
  static const std::vector<WasiFunction> pub = [] {
    std::vector<WasiFunction> v;
    for (const auto& e : table()) v.push_back(e.pub);
    return v;
  }();
  return pub;
}

Admission admit(const std::uint8_t* wasm, std::size_t size, const ExecLimits& limits) {
  ExecRequest req;
  req.wasm = wasm;
  req.wasm_size = size;
  req.limits = limits;
  Execution ex;
  Prepared prepared;
  Admission a;
  a.ok = prepare(req, ex, &prepared);
  a.ending = ex.ending;
  a.detail = std::move(ex.detail);
  return a;
}

Execution execute(const ExecRequest& req) {
  Execution ex;
  Prepared prepared;
  if (!prepare(req, ex, &prepared)) return ex;
  const ExecLimits& lim = req.limits;

  wabt::Features features = sandbox_features();
  wabt::Errors errors;
  ip::ModuleDesc desc;
  wabt::ReadBinaryOptions read(features, nullptr, false, true, false);
  if (wabt::Failed(ip::ReadBinaryInterp("task.wasm", prepared.wasm.data(), prepared.wasm.size(), read,
                                        &errors, &desc))) {
    ex.ending = Ending::invalid_module;
    ex.detail = "internal: the rewritten module does not load: " + first_error(errors);
    return ex;
  }

  Host host;
  host.req = &req;
  host.ex = &ex;

  ip::Store store(features);
  {
    ip::Module::Ptr module = ip::Module::New(store, std::move(desc));
    ip::RefVec imports;
    std::vector<ip::HostFunc::Ptr> host_funcs;  // keeps them rooted
    for (const ip::ImportType& import : module->import_types()) {
      const FnEntry* entry = nullptr;
      if (import.module == kWasiModule && import.type->kind == wabt::ExternalKind::Func)
        for (const auto& e : table())
          if (import.name == e.pub.name) entry = &e;
      if (!entry) {
        ex.ending = Ending::invalid_module;
        ex.detail = "the host does not provide " + import.module + "." + import.name;
        return ex;
      }
      Fn fn = entry->fn;
      Host* h = &host;
      auto func = ip::HostFunc::New(
          store, ip::FuncType(value_types(entry->pub.params), value_types(entry->pub.results)),
          [fn, h](ip::Thread& thread, const ip::Values& params, ip::Values& results,
                  ip::Trap::Ptr* out_trap) -> wabt::Result {
            std::uint32_t err = 0;
            if (!call_wasi(fn, *h, params, &err)) return end_run(thread, out_trap, "wasi: the run ended");
            if (!results.empty()) results[0] = ip::Value::Make(err);
            return wabt::Result::Ok;
          });
      imports.push_back(func.ref());
      host_funcs.push_back(std::move(func));
    }

    ip::Trap::Ptr trap;
    ip::Instance::Ptr instance = ip::Instance::Instantiate(store, module.ref(), imports, &trap);
    if (!instance) {
      ex.ending = Ending::invalid_module;
      ex.detail = "instantiation failed: " + (trap ? trap->message() : std::string("unknown"));
      return ex;
    }
    ip::Memory::Ptr memory{store, instance->memories().at(0)};
    host.memory = memory.get();
    ip::DefinedFunc::Ptr start;
    for (std::size_t i = 0; i < module->export_types().size(); ++i)
      if (module->export_types()[i].name == "_start") start = {store, instance->exports()[i]};

    ip::Thread thread(store);
    // The call-depth cap is the frame stack's capacity: PushCall traps with
    // "call stack exhausted" when it is full.
    auto& frames = thread.*get(ThreadFrames{});
    std::vector<ip::Frame> capped;
    capped.reserve(std::max<std::uint32_t>(lim.call_depth, 1));
    frames.swap(capped);
    const std::vector<ip::Value>& values = thread.*get(ThreadValues{});
    const auto step = get(ThreadStepInternal{});

    std::uint64_t& used = ex.fuel_used;
    const std::uint64_t fuel = lim.fuel;
    ip::RunResult r = (thread.*get(ThreadPushCall{}))(*start, &trap);
    std::size_t height = values.size();
    while (r == ip::RunResult::Ok) {
      if (used >= fuel) {
        host.out_of_fuel = true;
        break;
      }
      ++used;
      r = (thread.*step)(&trap);
      std::size_t now = values.size();
      if (now > height) {
        // Only a function's entry pushes more than one slot at once (its
        // locals, zeroed): that work is paid for too, a unit per local.
        // Past the limit, the next turn ends the run out of fuel.
        if (now > height + 1) used += std::min<std::uint64_t>(now - height - 1, fuel - used);
        if (now > lim.value_stack && r == ip::RunResult::Ok) {
          trap = ip::Trap::New(store, "value stack exhausted");
          r = ip::RunResult::Trap;
        }
      }
      height = now;
    }

    if (prepared.hooked) {
      ip::Global::Ptr refused{store, instance->globals().at(prepared.refused_global)};
      ex.grow_refused = refused->Get().Get<std::uint32_t>() != 0;
    }
    ex.memory_pages = std::uint32_t(memory->PageSize());

    if (host.out_of_fuel) {
      ex.ending = Ending::out_of_fuel;
      ex.detail = "ran " + std::to_string(fuel) + " units of fuel";
    } else if (host.output_too_large) {
      ex.ending = Ending::output_too_large;
      ex.detail = "stdout passed " + std::to_string(lim.max_stdout) + " bytes";
    } else if (host.exited) {
      ex.ending = Ending::exited;
    } else if (r == ip::RunResult::Return) {
      ex.ending = Ending::returned;
    } else {
      ex.ending = Ending::trap;
      ex.detail = r == ip::RunResult::Exception ? std::string("uncaught exception")
                                                 : (trap ? trap->message() : std::string("trap"));
    }
  }
  return ex;
}

}  // namespace verity::worker::wabt_glue
