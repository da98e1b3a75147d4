// The metering rewriter on wabt 1.0.32's module representation. Compiled as
// C++17: see wabt_metering.h. docs/sandbox.md ("Metering") is the
// specification of what is inserted where; this file must match it.

#include "worker/wabt_metering.h"

#include <wabt/binary-reader-ir.h>
#include <wabt/binary-reader.h>
#include <wabt/binary-writer.h>
#include <wabt/cast.h>
#include <wabt/feature.h>
#include <wabt/ir.h>
#include <wabt/stream.h>
#include <wabt/validator.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <utility>

#include "worker/engine_protocol.h"
#include "worker/wasi_host.h"

namespace verity::worker::wabt_glue {

namespace {

using wabt::Expr;
using wabt::ExprList;
using wabt::ExprType;
using wabt::Index;
using wabt::Opcode;
using wabt::Type;
using wabt::Var;

Var V(Index i) { return Var(i, wabt::Location()); }

wabt::Features sandbox_features() {
  wabt::Features f;  // wabt 1.0.32's defaults, then:
  f.disable_simd();  // 128-bit SIMD: its NaNs are not canonicalized (yet)
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
  f.disable_annotations();
  f.disable_code_metadata();
  return f;
}

constexpr std::uint32_t kMaxPages32 = 65536;
constexpr std::uint32_t kCanonicalNan32 = 0x7fc00000u;
constexpr std::uint64_t kCanonicalNan64 = 0x7ff8000000000000ull;

std::string first_error(const wabt::Errors& errors) {
  return errors.empty() ? std::string("unknown error") : errors.front().message;
}

wabt::TypeVector value_types(const char* letters) {
  wabt::TypeVector out;
  for (const char* c = letters; *c; ++c) out.push_back(*c == 'I' ? Type::I64 : Type::I32);
  return out;
}

template <class E, class... Args>
void emit(ExprList& list, Args&&... args) {
  list.push_back(std::make_unique<E>(std::forward<Args>(args)...));
}

// ---- The operand-stack height of a function body (for its frame's slots) ----

struct Heights {
  const wabt::Module& m;
  std::int64_t max = 0;

  std::pair<std::int64_t, std::int64_t> arity(const wabt::FuncDeclaration& decl) const {
    const wabt::FuncSignature* sig = &decl.sig;
    if (decl.has_func_type)
      if (const wabt::FuncType* t = m.GetFuncType(decl.type_var)) sig = &t->sig;
    return {std::int64_t(sig->param_types.size()), std::int64_t(sig->result_types.size())};
  }

  // Walks `list` starting at height h; pops never go below `base` (code after
  // an unconditional branch is stack-polymorphic). Returns the height at its end.
  std::int64_t walk(const ExprList& list, std::int64_t h, std::int64_t base) {
    auto pop = [&](std::int64_t n) { h = std::max(base, h - n); };
    auto push = [&](std::int64_t n) {
      h += n;
      max = std::max(max, h);
    };
    for (const Expr& e : list) {
      switch (e.type()) {
        case ExprType::Binary:
        case ExprType::Compare: pop(2); push(1); break;
        case ExprType::Unary:
        case ExprType::Convert:
        case ExprType::Load:
        case ExprType::MemoryGrow: pop(1); push(1); break;
        case ExprType::Store: pop(2); break;
        case ExprType::Const:
        case ExprType::LocalGet:
        case ExprType::GlobalGet:
        case ExprType::MemorySize: push(1); break;
        case ExprType::LocalSet:
        case ExprType::GlobalSet:
        case ExprType::Drop:
        case ExprType::BrIf: pop(1); break;
        case ExprType::LocalTee: pop(1); push(1); break;
        case ExprType::Select: pop(3); push(1); break;
        case ExprType::Call: {
          const wabt::Func* f = m.GetFunc(wabt::cast<wabt::CallExpr>(&e)->var);
          auto [p, r] = arity(f->decl);
          pop(p);
          push(r);
          break;
        }
        case ExprType::CallIndirect: {
          auto [p, r] = arity(wabt::cast<wabt::CallIndirectExpr>(&e)->decl);
          pop(p + 1);
          push(r);
          break;
        }
        case ExprType::Block:
        case ExprType::Loop: {
          const wabt::Block& b = e.type() == ExprType::Block ? wabt::cast<wabt::BlockExpr>(&e)->block
                                                             : wabt::cast<wabt::LoopExpr>(&e)->block;
          auto [p, r] = arity(b.decl);
          walk(b.exprs, h, std::max(base, h - p));
          pop(p);
          push(r);
          break;
        }
        case ExprType::If: {
          const auto* if_ = wabt::cast<wabt::IfExpr>(&e);
          pop(1);
          auto [p, r] = arity(if_->true_.decl);
          walk(if_->true_.exprs, h, std::max(base, h - p));
          walk(if_->false_, h, std::max(base, h - p));
          pop(p);
          push(r);
          break;
        }
        case ExprType::Br:
        case ExprType::BrTable:
        case ExprType::Return:
        case ExprType::Unreachable:
          if (e.type() == ExprType::BrTable) pop(1);
          h = base;  // what follows is unreachable
          break;
        default: break;  // nop
      }
    }
    return h;
  }
};

// ---- Instrumentation ----

struct Globals {
  Index fuel, flags, stack;
};

// The charge of one straight-line run, on the function's copy of the fuel
// (a local, so the compiled code keeps it in a register):
//   $f -= cost; if $f < 0 { fuel = $f; trap }
void emit_charge(ExprList& out, Index fuel_global, Index f, std::uint64_t cost) {
  emit<wabt::LocalGetExpr>(out, V(f));
  emit<wabt::ConstExpr>(out, wabt::Const::I64(cost));
  emit<wabt::BinaryExpr>(out, Opcode::I64Sub);
  emit<wabt::LocalTeeExpr>(out, V(f));
  emit<wabt::ConstExpr>(out, wabt::Const::I64(0));
  emit<wabt::CompareExpr>(out, Opcode::I64LtS);
  auto if_ = std::make_unique<wabt::IfExpr>();
  emit<wabt::LocalGetExpr>(if_->true_.exprs, V(f));
  emit<wabt::GlobalSetExpr>(if_->true_.exprs, V(fuel_global));
  emit<wabt::UnreachableExpr>(if_->true_.exprs);
  out.push_back(std::move(if_));
}

// The local copy and the global: stored before anything that may read or
// change the global (a call: the callee, the grow hook, a WASI call) and at
// the function's end; loaded at its start and after each call.
void emit_store_fuel(ExprList& out, Index fuel_global, Index f) {
  emit<wabt::LocalGetExpr>(out, V(f));
  emit<wabt::GlobalSetExpr>(out, V(fuel_global));
}
void emit_load_fuel(ExprList& out, Index fuel_global, Index f) {
  emit<wabt::GlobalGetExpr>(out, V(fuel_global));
  emit<wabt::LocalSetExpr>(out, V(f));
}

// flags |= bit: how the code tells the runner why it trapped (or that a
// grow was refused).
void emit_set_flag(ExprList& out, Index flags_global, std::uint32_t bit) {
  emit<wabt::GlobalGetExpr>(out, V(flags_global));
  emit<wabt::ConstExpr>(out, wabt::Const::I32(bit));
  emit<wabt::BinaryExpr>(out, Opcode::I32Or);
  emit<wabt::GlobalSetExpr>(out, V(flags_global));
}

struct FunctionRewriter {
  wabt::Module& m;
  wabt::Func& fn;
  Globals g;
  Index grow_hook;
  Index temp32 = wabt::kInvalidIndex, temp64 = wabt::kInvalidIndex;
  Index fuel_local = wabt::kInvalidIndex;

  Index temp(Type t) {
    Index& slot = t == Type::F32 ? temp32 : temp64;
    if (slot == wabt::kInvalidIndex) {
      slot = fn.GetNumParamsAndLocals();
      fn.local_types.AppendDecl(t, 1);
    }
    return slot;
  }

  // [.. x] -> [.. canonical(x)]: a NaN becomes the canonical quiet NaN,
  // anything else stays as it is.
  void emit_canonicalize(ExprList& out, Type t) {
    Index tmp = temp(t);
    emit<wabt::LocalSetExpr>(out, V(tmp));
    if (t == Type::F32)
      emit<wabt::ConstExpr>(out, wabt::Const::F32(kCanonicalNan32));
    else
      emit<wabt::ConstExpr>(out, wabt::Const::F64(kCanonicalNan64));
    emit<wabt::LocalGetExpr>(out, V(tmp));
    emit<wabt::LocalGetExpr>(out, V(tmp));
    emit<wabt::LocalGetExpr>(out, V(tmp));
    emit<wabt::CompareExpr>(out, t == Type::F32 ? Opcode::F32Ne : Opcode::F64Ne);
    emit<wabt::SelectExpr>(out, wabt::TypeVector{});
  }

  // The float value on top of the stack before `e`, if its NaN bits would
  // escape through `e`: stores, reinterpretations, the sign operand of
  // copysign, and global.set (WASI calls take no floats).
  Type escaping_float(const Expr& e) const {
    // F32 or F64 when `op` is the f32 or the f64 form of the instruction.
    auto float_form = [](Opcode op, Opcode f32, Opcode f64) -> Type {
      if (op == f32) return Type::F32;
      if (op == f64) return Type::F64;
      return Type::Void;
    };
    switch (e.type()) {
      case ExprType::Store:
        return float_form(wabt::cast<wabt::StoreExpr>(&e)->opcode, Opcode::F32Store, Opcode::F64Store);
      case ExprType::Convert:
        return float_form(wabt::cast<wabt::ConvertExpr>(&e)->opcode, Opcode::I32ReinterpretF32,
                          Opcode::I64ReinterpretF64);
      case ExprType::Binary:
        return float_form(wabt::cast<wabt::BinaryExpr>(&e)->opcode, Opcode::F32Copysign, Opcode::F64Copysign);
      case ExprType::GlobalSet: {
        const wabt::Global* glob = m.GetGlobal(wabt::cast<wabt::GlobalSetExpr>(&e)->var);
        return glob && (glob->type == Type::F32 || glob->type == Type::F64) ? Type(glob->type) : Type(Type::Void);
      }
      default: return Type::Void;
    }
  }

  static std::uint64_t cost(const Expr& e) {
    switch (e.type()) {
      case ExprType::Nop:
      case ExprType::Block:
      case ExprType::Loop: return kFuelStructural;
      default: return kFuelPerInstruction;
    }
  }

  // Instruments `list` at `depth` constructs inside the function's wrapper
  // block. Each straight-line run is charged where it starts; a run starts
  // at the head of the list, after any block, loop or if, and after any
  // branch. With charge_head false the head run's cost is returned instead
  // of charged, for the caller to add to its own run (a block's head is
  // reached only by falling into the block).
  std::uint64_t rewrite(ExprList& list, Index depth, bool charge_head) {
    ExprList out, run;
    std::uint64_t run_cost = 0, head_cost = 0;
    bool head = true;
    auto flush = [&] {
      if (head && !charge_head)
        head_cost = run_cost;
      else if (run_cost > 0)
        emit_charge(out, g.fuel, fuel_local, run_cost);
      out.splice(out.end(), run);
      run_cost = 0;
      head = false;
    };
    while (!list.empty()) {
      std::unique_ptr<Expr> e = list.extract_front();
      run_cost += cost(*e);
      switch (e->type()) {
        case ExprType::Block: {
          auto* b = wabt::cast<wabt::BlockExpr>(e.get());
          run_cost += rewrite(b->block.exprs, depth + 1, false);
          run.push_back(std::move(e));
          flush();
          break;
        }
        case ExprType::Loop: {
          rewrite(wabt::cast<wabt::LoopExpr>(e.get())->block.exprs, depth + 1, true);
          run.push_back(std::move(e));
          flush();
          break;
        }
        case ExprType::If: {
          auto* if_ = wabt::cast<wabt::IfExpr>(e.get());
          rewrite(if_->true_.exprs, depth + 1, true);
          rewrite(if_->false_, depth + 1, true);
          run.push_back(std::move(e));
          flush();
          break;
        }
        case ExprType::Return:
          // Through the wrapper block, so the epilogue runs.
          run.push_back(std::make_unique<wabt::BrExpr>(V(depth)));
          flush();
          break;
        case ExprType::Br:
        case ExprType::BrIf:
        case ExprType::BrTable:
        case ExprType::Unreachable:
          run.push_back(std::move(e));
          flush();
          break;
        case ExprType::MemoryGrow:
          emit_store_fuel(run, g.fuel, fuel_local);
          run.push_back(std::make_unique<wabt::CallExpr>(V(grow_hook)));
          emit_load_fuel(run, g.fuel, fuel_local);
          break;
        case ExprType::Call:
        case ExprType::CallIndirect:
          emit_store_fuel(run, g.fuel, fuel_local);
          run.push_back(std::move(e));
          emit_load_fuel(run, g.fuel, fuel_local);
          break;
        default: {
          Type t = escaping_float(*e);
          if (t != Type::Void) emit_canonicalize(run, t);
          run.push_back(std::move(e));
          break;
        }
      }
    }
    if (head || !run.empty() || run_cost > 0) flush();
    list = std::move(out);
    return head_cost;
  }

  void emit_stack(ExprList& out, std::uint64_t slots, bool enter, std::uint32_t limit) {
    emit<wabt::GlobalGetExpr>(out, V(g.stack));
    emit<wabt::ConstExpr>(out, wabt::Const::I32(std::uint32_t(slots)));
    emit<wabt::BinaryExpr>(out, enter ? Opcode::I32Add : Opcode::I32Sub);
    emit<wabt::GlobalSetExpr>(out, V(g.stack));
    if (!enter) return;
    emit<wabt::GlobalGetExpr>(out, V(g.stack));
    emit<wabt::ConstExpr>(out, wabt::Const::I32(limit));
    emit<wabt::CompareExpr>(out, Opcode::I32GtU);
    auto if_ = std::make_unique<wabt::IfExpr>();
    emit_set_flag(if_->true_.exprs, g.flags, kFlagStackExhausted);
    emit<wabt::UnreachableExpr>(if_->true_.exprs);
    out.push_back(std::move(if_));
  }

  // The function becomes:
  //   stack += slots; if stack > limit: flags |= 2, trap
  //   $f = fuel; fuel charge of (locals + the body's head run)
  //   block (result ...)  <the body, returns turned into branches here>  end
  //   fuel = $f; stack -= slots
  void run(std::uint32_t stack_limit) {
    const std::uint64_t locals = fn.local_types.size();
    Heights heights{m};
    heights.walk(fn.exprs, 0, 0);
    const std::uint64_t slots =
        std::max<std::uint64_t>(kMinFrameSlots, 1 + fn.GetNumParams() + locals + std::uint64_t(heights.max));

    fuel_local = fn.GetNumParamsAndLocals();
    fn.local_types.AppendDecl(Type::I64, 1);
    std::uint64_t head = rewrite(fn.exprs, 0, false);
    auto wrapper = std::make_unique<wabt::BlockExpr>();
    wrapper->block.decl.sig.result_types = fn.decl.sig.result_types;
    if (fn.decl.sig.result_types.size() > 1) {
      wabt::FuncSignature sig;
      sig.result_types = fn.decl.sig.result_types;
      Index type = m.GetFuncTypeIndex(sig);
      wrapper->block.decl.has_func_type = true;
      wrapper->block.decl.type_var = V(type);
    }
    wrapper->block.exprs = std::move(fn.exprs);

    ExprList body;
    emit_stack(body, slots, true, stack_limit);
    emit_load_fuel(body, g.fuel, fuel_local);
    std::uint64_t entry = kFuelPerLocal * locals + head;
    if (entry > 0) emit_charge(body, g.fuel, fuel_local, entry);
    body.push_back(std::move(wrapper));
    emit_store_fuel(body, g.fuel, fuel_local);
    emit_stack(body, slots, false, stack_limit);
    fn.exprs = std::move(body);
  }
};

// Collects the [] -> results types that multi-value wrappers need, so that
// they exist before any function is rewritten.
void add_result_types(wabt::Module& m, Index defined_end) {
  for (Index i = m.num_func_imports; i < defined_end; ++i) {
    const auto& results = m.funcs[i]->decl.sig.result_types;
    if (results.size() <= 1) continue;
    wabt::FuncSignature sig;
    sig.result_types = results;
    if (m.GetFuncTypeIndex(sig) != wabt::kInvalidIndex) continue;
    auto field = std::make_unique<wabt::TypeModuleField>();
    auto ft = std::make_unique<wabt::FuncType>();
    ft->sig = sig;
    field->type = std::move(ft);
    m.AppendField(std::move(field));
  }
}

Index add_global(wabt::Module& m, Type type, const char* export_name) {
  auto g = std::make_unique<wabt::GlobalModuleField>();
  g->global.type = type;
  g->global.mutable_ = true;
  if (type == Type::I64)
    emit<wabt::ConstExpr>(g->global.init_expr, wabt::Const::I64(0));
  else
    emit<wabt::ConstExpr>(g->global.init_expr, wabt::Const::I32(0));
  m.AppendField(std::move(g));
  Index index = Index(m.globals.size() - 1);
  if (export_name) {
    auto e = std::make_unique<wabt::ExportModuleField>();
    e->export_.name = export_name;
    e->export_.kind = wabt::ExternalKind::Global;
    e->export_.var = V(index);
    m.AppendField(std::move(e));
  }
  return index;
}

Index find_or_add_type(wabt::Module& m, const wabt::FuncSignature& sig) {
  Index index = m.GetFuncTypeIndex(sig);
  if (index != wabt::kInvalidIndex) return index;
  auto field = std::make_unique<wabt::TypeModuleField>();
  auto ft = std::make_unique<wabt::FuncType>();
  ft->sig = sig;
  field->type = std::move(ft);
  m.AppendField(std::move(field));
  return Index(m.types.size() - 1);
}

// (func $grow (param i32) (result i32) (local i32)
//   local.get 0  i32.const MAX  i32.gt_u  if  flags |= 1; i32.const -1 return  end
//   local.get 0  memory.grow  local.tee 1  i32.const -1  i32.eq
//   if    flags |= 1
//   else  fuel -= i64(local 0) * kFuelPerPage;  if fuel < 0: trap
//   end
//   local.get 1)
// The first test refuses a grow of more pages than the maximum before the
// engine sees it: it would be refused anyway, and wasm2c 1.0.32 answers 0
// (success) when the page count wraps to exactly zero (1 page + 0xffffffff),
// where the specification and wabt's interpreter answer -1 (found by the
// engines fuzz target; tests/fuzz/regressions/engines/).
void add_grow_hook(wabt::Module& m, const Globals& g, std::uint64_t max_pages) {
  wabt::FuncSignature sig;
  sig.param_types = {Type::I32};
  sig.result_types = {Type::I32};
  Index type = find_or_add_type(m, sig);
  auto f = std::make_unique<wabt::FuncModuleField>();
  wabt::Func& fn = f->func;
  fn.decl.has_func_type = true;
  fn.decl.type_var = V(type);
  fn.decl.sig = sig;
  fn.local_types.AppendDecl(Type::I32, 1);
  ExprList& b = fn.exprs;
  emit<wabt::LocalGetExpr>(b, V(0));
  emit<wabt::ConstExpr>(b, wabt::Const::I32(std::uint32_t(max_pages)));
  emit<wabt::CompareExpr>(b, Opcode::I32GtU);
  auto too_many = std::make_unique<wabt::IfExpr>();
  emit_set_flag(too_many->true_.exprs, g.flags, kFlagGrowRefused);
  emit<wabt::ConstExpr>(too_many->true_.exprs, wabt::Const::I32(0xffffffffu));
  emit<wabt::ReturnExpr>(too_many->true_.exprs);
  b.push_back(std::move(too_many));
  emit<wabt::LocalGetExpr>(b, V(0));
  emit<wabt::MemoryGrowExpr>(b, V(0));
  emit<wabt::LocalTeeExpr>(b, V(1));
  emit<wabt::ConstExpr>(b, wabt::Const::I32(0xffffffffu));
  emit<wabt::CompareExpr>(b, Opcode::I32Eq);
  auto if_ = std::make_unique<wabt::IfExpr>();
  emit_set_flag(if_->true_.exprs, g.flags, kFlagGrowRefused);
  ExprList& els = if_->false_;
  emit<wabt::GlobalGetExpr>(els, V(g.fuel));
  emit<wabt::LocalGetExpr>(els, V(0));
  emit<wabt::ConvertExpr>(els, Opcode::I64ExtendI32U);
  emit<wabt::ConstExpr>(els, wabt::Const::I64(kFuelPerPage));
  emit<wabt::BinaryExpr>(els, Opcode::I64Mul);
  emit<wabt::BinaryExpr>(els, Opcode::I64Sub);
  emit<wabt::GlobalSetExpr>(els, V(g.fuel));
  emit<wabt::GlobalGetExpr>(els, V(g.fuel));
  emit<wabt::ConstExpr>(els, wabt::Const::I64(0));
  emit<wabt::CompareExpr>(els, Opcode::I64LtS);
  auto trap = std::make_unique<wabt::IfExpr>();
  emit<wabt::UnreachableExpr>(trap->true_.exprs);
  els.push_back(std::move(trap));
  b.push_back(std::move(if_));
  emit<wabt::LocalGetExpr>(b, V(1));
  m.AppendField(std::move(f));
}

bool uses_grow(const ExprList& exprs) {
  for (const Expr& e : exprs) {
    switch (e.type()) {
      case ExprType::MemoryGrow: return true;
      case ExprType::Block:
        if (uses_grow(wabt::cast<wabt::BlockExpr>(&e)->block.exprs)) return true;
        break;
      case ExprType::Loop:
        if (uses_grow(wabt::cast<wabt::LoopExpr>(&e)->block.exprs)) return true;
        break;
      case ExprType::If: {
        const auto* if_ = wabt::cast<wabt::IfExpr>(&e);
        if (uses_grow(if_->true_.exprs) || uses_grow(if_->false_)) return true;
        break;
      }
      default: break;
    }
  }
  return false;
}

}  // namespace

std::string accepted_features() {
  return "the MVP, mutable globals, saturating float-to-int, sign extension and multi-value";
}

Metered instrument(const std::uint8_t* wasm, std::size_t size, const MeterConfig& config) {
  Metered out;
  auto refuse = [&](Refusal r, std::string why) {
    out.refusal = r;
    out.detail = std::move(why);
    out.wasm.clear();
    return out;
  };
  auto invalid = [&](std::string why) { return refuse(Refusal::invalid_module, std::move(why)); };

  wabt::Features features = sandbox_features();
  wabt::Errors errors;
  wabt::Module m;
  wabt::ReadBinaryOptions read(features, nullptr, /*read_debug_names=*/false, /*stop_on_first_error=*/true,
                               /*fail_on_custom_section_error=*/false);
  // What fails here but passes with wabt's default features uses a proposal
  // the sandbox refuses: say so, wabt's own message is cryptic.
  auto refused_or_invalid = [&](const std::string& message) {
    wabt::Features defaults;
    wabt::Errors again;
    wabt::Module probe;
    wabt::ReadBinaryOptions lenient(defaults, nullptr, false, true, false);
    bool passes = wabt::Succeeded(wabt::ReadBinaryIr("task.wasm", wasm, size, lenient, &again, &probe)) &&
                  wabt::Succeeded(wabt::ValidateModule(&probe, &again, wabt::ValidateOptions(defaults)));
    return invalid(passes ? "uses a WebAssembly feature the sandbox refuses (it accepts " + accepted_features() +
                                "): " + message
                          : message);
  };
  if (wabt::Failed(wabt::ReadBinaryIr("task.wasm", wasm, size, read, &errors, &m)))
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
  if (m.GetExport(kFuelGlobal) || m.GetExport(kFlagsGlobal))
    return invalid(std::string("the export names ") + kFuelGlobal + " and " + kFlagsGlobal +
                   " are reserved for the sandbox");
  // Names were screened by the caller; the signatures must be the host's
  // too, or binding them fails in every run.
  for (const wabt::Import* import : m.imports) {
    const auto* fi = wabt::dyn_cast<wabt::FuncImport>(import);
    const WasiFunction* host = find_wasi_function(import->field_name);
    if (!fi || import->module_name != kWasiModule || !host)
      return invalid("the host does not provide " + import->module_name + "." + import->field_name);
    if (fi->func.decl.sig.param_types != value_types(host->params) ||
        fi->func.decl.sig.result_types != value_types(host->results))
      return invalid(import->module_name + "." + import->field_name + " is imported with the wrong signature");
  }

  const Index defined_end = Index(m.funcs.size());
  for (Index i = m.num_func_imports; i < defined_end; ++i) {
    std::uint64_t locals = m.funcs[i]->local_types.size();
    if (locals > kMaxLocalsPerFunction)
      return invalid("function " + std::to_string(i) + " declares " + std::to_string(locals) +
                     " locals; the limit is " + std::to_string(kMaxLocalsPerFunction));
  }

  wabt::Limits& ml = m.memories.at(0)->page_limits;
  if (ml.initial > config.memory_pages)
    return refuse(Refusal::memory_too_large, "the module declares " + std::to_string(ml.initial) +
                                                 " pages of memory; the cap is " +
                                                 std::to_string(config.memory_pages));
  ml.max = std::min<std::uint64_t>(ml.has_max ? ml.max : kMaxPages32, config.memory_pages);
  ml.has_max = true;
  for (wabt::Table* t : m.tables) {
    wabt::Limits& tl = t->elem_limits;
    if (tl.initial > config.table_elements)
      return refuse(Refusal::memory_too_large, "the module declares a table of " + std::to_string(tl.initial) +
                                                   " elements; the cap is " + std::to_string(config.table_elements));
    // Without reference types nothing grows a table; the cap is belt and braces.
    tl.max = std::min<std::uint64_t>(tl.has_max ? tl.max : 0xffffffffu, config.table_elements);
    tl.has_max = true;
  }

  // Active segments must fit their memory or table as declared: the
  // specification makes instantiation trap otherwise, which engines report
  // in their own ways (found by the engines fuzz target). Refused here,
  // every engine only ever sees modules that instantiate. Without imported
  // globals (refused above) every offset is a constant.
  auto const_offset = [](const wabt::ExprList& e) -> std::optional<std::uint64_t> {
    if (e.size() != 1 || e.front().type() != ExprType::Const) return std::nullopt;
    const wabt::Const& c = wabt::cast<wabt::ConstExpr>(&e.front())->const_;
    if (c.type() != Type::I32) return std::nullopt;
    return std::uint64_t(c.u32());
  };
  for (std::size_t i = 0; i < m.data_segments.size(); ++i) {
    const wabt::DataSegment* d = m.data_segments[i];
    if (d->kind != wabt::SegmentKind::Active) continue;
    auto at = const_offset(d->offset);
    if (!at || *at + d->data.size() > std::uint64_t(ml.initial) * 65536)
      return invalid("data segment " + std::to_string(i) + " does not fit the memory's " +
                     std::to_string(ml.initial) + " initial pages (instantiation would trap)");
  }
  for (std::size_t i = 0; i < m.elem_segments.size(); ++i) {
    const wabt::ElemSegment* e = m.elem_segments[i];
    if (e->kind != wabt::SegmentKind::Active) continue;
    const wabt::Table* t = m.GetTable(e->table_var);
    auto at = const_offset(e->offset);
    if (!t || !at || *at + e->elem_exprs.size() > t->elem_limits.initial)
      return invalid("element segment " + std::to_string(i) + " does not fit its table's initial size "
                     "(instantiation would trap)");
  }

  // What every rewritten function refers to, added first so indices are final.
  add_result_types(m, defined_end);
  Globals g;
  g.fuel = add_global(m, Type::I64, kFuelGlobal);
  g.flags = add_global(m, Type::I32, kFlagsGlobal);
  g.stack = add_global(m, Type::I32, nullptr);
  bool grows = false;
  for (Index i = m.num_func_imports; i < defined_end && !grows; ++i) grows = uses_grow(m.funcs[i]->exprs);
  const Index grow_hook = defined_end;  // appended after the rewrite
  for (Index i = m.num_func_imports; i < defined_end; ++i) {
    FunctionRewriter rw{m, *m.funcs[i], g, grow_hook};
    rw.run(config.stack_slots);
  }
  if (grows) add_grow_hook(m, g, ml.max);

  // The rewrite must leave a valid module; anything else is a bug here.
  if (wabt::Failed(wabt::ValidateModule(&m, &errors, wabt::ValidateOptions(features))))
    return invalid("internal: the instrumented module is invalid: " + first_error(errors));
  wabt::MemoryStream stream;
  wabt::WriteBinaryOptions write(features, /*canonicalize_lebs=*/true, /*relocatable=*/false,
                                 /*write_debug_names=*/false);
  if (wabt::Failed(wabt::WriteBinaryModule(&stream, &m, write)))
    return invalid("internal: the instrumented module could not be encoded");
  out.wasm = std::move(stream.output_buffer().data);
  out.refusal = Refusal::none;
  return out;
}

}  // namespace verity::worker::wabt_glue
