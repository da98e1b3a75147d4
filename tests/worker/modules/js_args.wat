;; Node engine test: args. stdout: [0,4) argc, [4,8) argv buffer size (both
;; from args_sizes_get), [8,12) errno of args_get with its buffer at 65530
;; (EFAULT, not charged), [12,16) errno of args_sizes_get(65534, 0) (EFAULT),
;; then the argv pointers args_get wrote at 1024 and the strings at 2048.
;; Fuel: args_get size + 4*argc, then fd_write 16 + 4*argc + size + 3*8.
(module
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $fuel (export "verity_fuel") (mut i64) (i64.const 0))
  (global $flags (export "verity_flags") (mut i32) (i32.const 0))
  (func (export "_start")
    (if (call $sizes (i32.const 0) (i32.const 4)) (then unreachable))
    (i32.store (i32.const 8) (call $args_get (i32.const 1024) (i32.const 65530)))
    (i32.store (i32.const 12) (call $sizes (i32.const 65534) (i32.const 0)))
    (if (call $args_get (i32.const 1024) (i32.const 2048)) (then unreachable))
    ;; iovecs at 100: (0, 16), (1024, 4*argc), (2048, size)
    (i32.store (i32.const 100) (i32.const 0))
    (i32.store (i32.const 104) (i32.const 16))
    (i32.store (i32.const 108) (i32.const 1024))
    (i32.store (i32.const 112) (i32.mul (i32.load (i32.const 0)) (i32.const 4)))
    (i32.store (i32.const 116) (i32.const 2048))
    (i32.store (i32.const 120) (i32.load (i32.const 4)))
    (drop (call $fd_write (i32.const 1) (i32.const 100) (i32.const 3) (i32.const 200)))))
