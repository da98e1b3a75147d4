;; Node engine test: "hello, world\n" to stdout in two iovecs, then the errno
;; and nwritten of that call (8 bytes) to stderr. Fuel: burn 10, fd_write
;; 13 + 2*8, burn 5, fd_write 8 + 8: 60 in all.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; The instrumentation ABI (docs/sandbox.md, "Metering"), written by hand.
  (global $fuel (export "verity_fuel") (mut i64) (i64.const 0))
  (global $flags (export "verity_flags") (mut i32) (i32.const 0))
  (func $burn (param $n i64)
    (global.set $fuel (i64.sub (global.get $fuel) (local.get $n)))
    (if (i64.lt_s (global.get $fuel) (i64.const 0)) (then unreachable)))
  (data (i32.const 100) "hello, world\n")
  (func (export "_start")
    (call $burn (i64.const 10))
    (i32.store (i32.const 0) (i32.const 100))
    (i32.store (i32.const 4) (i32.const 7))
    (i32.store (i32.const 8) (i32.const 107))
    (i32.store (i32.const 12) (i32.const 6))
    (i32.store (i32.const 200) (call $fd_write (i32.const 1) (i32.const 0) (i32.const 2) (i32.const 204)))
    (call $burn (i64.const 5))
    (i32.store (i32.const 16) (i32.const 200))
    (i32.store (i32.const 20) (i32.const 8))
    (drop (call $fd_write (i32.const 2) (i32.const 16) (i32.const 1) (i32.const 24)))))
