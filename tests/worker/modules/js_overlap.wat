;; Node engine test: an fd_read whose first iovec (8, 8) covers the second
;; iovec (300, 5) itself. The host copies the iovecs when it checks them
;; (as readv does, and worker/wasi_host.cpp), so input bytes that rewrite the
;; second iovec do not redirect the rest of the read. stdout: nread (u32), then memory
;; [200, 205) and [300, 305). Fuel: (nread + 16) + (13 + 24).
(module
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $fuel (export "verity_fuel") (mut i64) (i64.const 0))
  (global $flags (export "verity_flags") (mut i32) (i32.const 0))
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 8))
    (i32.store (i32.const 4) (i32.const 8))
    (i32.store (i32.const 8) (i32.const 300))
    (i32.store (i32.const 12) (i32.const 5))
    (if (call $read (i32.const 0) (i32.const 0) (i32.const 2) (i32.const 100)) (then unreachable))
    (i32.store (i32.const 32) (i32.const 100))
    (i32.store (i32.const 36) (i32.const 4))
    (i32.store (i32.const 40) (i32.const 200))
    (i32.store (i32.const 44) (i32.const 5))
    (i32.store (i32.const 48) (i32.const 300))
    (i32.store (i32.const 52) (i32.const 5))
    (drop (call $write (i32.const 1) (i32.const 32) (i32.const 3) (i32.const 104)))))
