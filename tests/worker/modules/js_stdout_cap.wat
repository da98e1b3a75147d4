;; Node engine test: three fd_write calls to stdout, each of two iovecs
;; ("abcde", "fghij"): 30 bytes, 26 units of fuel per call.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $fuel (export "verity_fuel") (mut i64) (i64.const 0))
  (global $flags (export "verity_flags") (mut i32) (i32.const 0))
  (data (i32.const 100) "abcdefghij")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 100))
    (i32.store (i32.const 4) (i32.const 5))
    (i32.store (i32.const 8) (i32.const 105))
    (i32.store (i32.const 12) (i32.const 5))
    (if (call $write (i32.const 1) (i32.const 0) (i32.const 2) (i32.const 16)) (then unreachable))
    (if (call $write (i32.const 1) (i32.const 0) (i32.const 2) (i32.const 16)) (then unreachable))
    (if (call $write (i32.const 1) (i32.const 0) (i32.const 2) (i32.const 16)) (then unreachable))))
