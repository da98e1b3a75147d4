;; An fd_read whose first iovec (8, 8) covers the second iovec (300, 5)
;; itself. The host uses the iovecs as they were at the call (as readv
;; does), so input that rewrites the second one does not steer the rest of
;; the read, even to an address outside the memory. stdout: nread (u32),
;; then memory [200, 205) and [300, 305).
(module
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
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
