;; Node engine test: writes "start" and loops forever, paying 3 units of
;; fuel per turn: it ends out of fuel (from 10 after the write: -2).
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $fuel (export "verity_fuel") (mut i64) (i64.const 0))
  (global $flags (export "verity_flags") (mut i32) (i32.const 0))
  (func $burn (param $n i64)
    (global.set $fuel (i64.sub (global.get $fuel) (local.get $n)))
    (if (i64.lt_s (global.get $fuel) (i64.const 0)) (then unreachable)))
  (data (i32.const 100) "start")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 100))
    (i32.store (i32.const 4) (i32.const 5))
    (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)))
    (loop $forever
      (call $burn (i64.const 3))
      (br $forever))))
