;; Node engine test: pointers and lengths outside memory give EFAULT (21),
;; change nothing and charge no fuel. stdout: 8 u32 errno values, then the
;; nwritten of a zero-length write at the very end of memory (0).
;; Fuel: fd_write(65536, 0) charges 8; the final write 36 + 8: 52 in all.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $fuel (export "verity_fuel") (mut i64) (i64.const 0))
  (global $flags (export "verity_flags") (mut i32) (i32.const 0))
  (func (export "_start")
    ;; iovec at 0: (65530, 10): its buffer leaves memory
    (i32.store (i32.const 0) (i32.const 65530))
    (i32.store (i32.const 4) (i32.const 10))
    ;; iovec at 16: (100, 2): fine
    (i32.store (i32.const 16) (i32.const 100))
    (i32.store (i32.const 20) (i32.const 2))
    (i32.store (i32.const 1000) (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (i32.store (i32.const 1004) (call $write (i32.const 1) (i32.const 65532) (i32.const 1) (i32.const 8)))
    (i32.store (i32.const 1008) (call $write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 65533)))
    (i32.store (i32.const 1012) (call $write (i32.const 1) (i32.const 16) (i32.const 0x20000000) (i32.const 8)))
    (i32.store (i32.const 1016) (call $read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
    (i32.store (i32.const 1020) (call $read (i32.const 0) (i32.const 16) (i32.const 1) (i32.const -4)))
    (i32.store (i32.const 1024) (call $random_get (i32.const 65000) (i32.const 1000)))
    (i32.store (i32.const 1028) (call $args_get (i32.const 65535) (i32.const 0)))
    ;; a zero-length buffer at the very end is in bounds: errno 0, nwritten 0
    (i32.store (i32.const 32) (i32.const 65536))
    (i32.store (i32.const 36) (i32.const 0))
    (i32.store (i32.const 1032) (i32.const -1))
    (if (call $write (i32.const 1) (i32.const 32) (i32.const 1) (i32.const 1032)) (then unreachable))
    (i32.store (i32.const 40) (i32.const 1000))
    (i32.store (i32.const 44) (i32.const 36))
    (drop (call $write (i32.const 1) (i32.const 40) (i32.const 1) (i32.const 8)))))
