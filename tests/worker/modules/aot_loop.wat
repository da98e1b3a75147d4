;; aot engine test: loops forever, paying one unit per iteration; the fuel
;; check traps the moment the counter goes below zero (out of fuel). Each
;; iteration calls sched_yield: without a call the C compiler may fold the
;; whole countdown into its final value (same result, but then no limit
;; other than fuel could be tested with it).
(module
  (import "wasi_snapshot_preview1" "sched_yield" (func $sched_yield (result i32)))
  (memory (export "memory") 1)
  (global $fuel (export "verity_fuel") (mut i64) (i64.const 0))
  (global $flags (export "verity_flags") (mut i32) (i32.const 0))
  (func (export "_start")
    (loop $l
      (global.set $fuel (i64.sub (global.get $fuel) (i64.const 1)))
      (if (i64.lt_s (global.get $fuel) (i64.const 0)) (then unreachable))
      (drop (call $sched_yield))
      (br $l))))
