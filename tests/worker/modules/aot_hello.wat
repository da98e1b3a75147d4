;; aot engine test: "hello\n" on stdout, then returns. Carries the
;; instrumentation ABI by hand (exports verity_fuel and verity_flags and pays
;; for itself): 10 units on entry, and fd_write charges the 6 bytes written
;; plus 8 for the iovec, so fuel_left = fuel - 24.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $fuel (export "verity_fuel") (mut i64) (i64.const 0))
  (global $flags (export "verity_flags") (mut i32) (i32.const 0))
  (data (i32.const 16) "hello\n")
  (func $charge (param $n i64)
    (global.set $fuel (i64.sub (global.get $fuel) (local.get $n)))
    (if (i64.lt_s (global.get $fuel) (i64.const 0)) (then unreachable)))
  (func (export "_start")
    (call $charge (i64.const 10))
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 6))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
