;; Node engine test: three 10-byte writes to stderr ("0123456789"), then the
;; three nwritten values (u32) to stdout. Fuel: 3 * 18 + (12 + 8) = 74.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $fuel (export "verity_fuel") (mut i64) (i64.const 0))
  (global $flags (export "verity_flags") (mut i32) (i32.const 0))
  (data (i32.const 100) "0123456789")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 100))
    (i32.store (i32.const 4) (i32.const 10))
    (if (call $write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 200)) (then unreachable))
    (if (call $write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 204)) (then unreachable))
    (if (call $write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 208)) (then unreachable))
    (i32.store (i32.const 16) (i32.const 200))
    (i32.store (i32.const 20) (i32.const 12))
    (drop (call $write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24)))))
