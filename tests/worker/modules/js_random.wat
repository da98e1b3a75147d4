;; Node engine test: random_get of 10, 40, 0 and 30 bytes into [100, 180),
;; written to stdout; then the errno of a random_get past memory (EFAULT,
;; not charged) to stderr. Fuel: 80 + (80 + 8) + (4 + 8) = 180.
(module
  (import "wasi_snapshot_preview1" "random_get" (func $random_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $fuel (export "verity_fuel") (mut i64) (i64.const 0))
  (global $flags (export "verity_flags") (mut i32) (i32.const 0))
  (func (export "_start")
    (if (call $random_get (i32.const 100) (i32.const 10)) (then unreachable))
    (if (call $random_get (i32.const 110) (i32.const 40)) (then unreachable))
    (if (call $random_get (i32.const 150) (i32.const 0)) (then unreachable))
    (if (call $random_get (i32.const 150) (i32.const 30)) (then unreachable))
    (i32.store (i32.const 0) (i32.const 100))
    (i32.store (i32.const 4) (i32.const 80))
    (if (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)) (then unreachable))
    (i32.store (i32.const 300) (call $random_get (i32.const 65000) (i32.const 1000)))
    (i32.store (i32.const 16) (i32.const 300))
    (i32.store (i32.const 20) (i32.const 4))
    (drop (call $fd_write (i32.const 2) (i32.const 16) (i32.const 1) (i32.const 24)))))
