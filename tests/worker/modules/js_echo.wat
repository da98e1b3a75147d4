;; Node engine test: copies stdin to stdout, reading into two iovecs of 3
;; and 4 bytes (contiguous at 1024). Fuel: burn 1 per loop turn, fd_read
;; n + 16, fd_write n + 8.
(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $fuel (export "verity_fuel") (mut i64) (i64.const 0))
  (global $flags (export "verity_flags") (mut i32) (i32.const 0))
  (func $burn (param $n i64)
    (global.set $fuel (i64.sub (global.get $fuel) (local.get $n)))
    (if (i64.lt_s (global.get $fuel) (i64.const 0)) (then unreachable)))
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 1024))
    (i32.store (i32.const 4) (i32.const 3))
    (i32.store (i32.const 8) (i32.const 1027))
    (i32.store (i32.const 12) (i32.const 4))
    (i32.store (i32.const 32) (i32.const 1024))
    (block $done
      (loop $next
        (call $burn (i64.const 1))
        (if (call $fd_read (i32.const 0) (i32.const 0) (i32.const 2) (i32.const 16)) (then unreachable))
        (br_if $done (i32.eqz (i32.load (i32.const 16))))
        (i32.store (i32.const 36) (i32.load (i32.const 16)))
        (if (call $fd_write (i32.const 1) (i32.const 32) (i32.const 1) (i32.const 40)) (then unreachable))
        (br $next)))))
