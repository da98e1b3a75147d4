;; aot engine test: reads one byte from stdin. 'l': i32.load at 65535 (one
;; page of memory: three of the four bytes are out of bounds); 's': i32.store
;; at 0xfffffff0 with offset 0x100; 'h': i64.load at 8 GiB-ish address via a
;; large offset; anything else: a load at 65532, in bounds; then writes "in".
(module
  (import "wasi_snapshot_preview1" "fd_read"
    (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $fuel (export "verity_fuel") (mut i64) (i64.const 0))
  (global $flags (export "verity_flags") (mut i32) (i32.const 0))
  (data (i32.const 32) "in")
  (func (export "_start")
    (local $c i32)
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 1))
    (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
    (local.set $c (i32.load8_u (i32.const 16)))
    (if (i32.eq (local.get $c) (i32.const 108))  ;; 'l'
      (then (drop (i32.load (i32.const 65535)))))
    (if (i32.eq (local.get $c) (i32.const 115))  ;; 's'
      (then (i32.store offset=0x100 (i32.const 0xfffffff0) (i32.const 1))))
    (if (i32.eq (local.get $c) (i32.const 104))  ;; 'h'
      (then (drop (i64.load offset=0xfffffff0 (i32.const 0xfffffff0)))))
    (drop (i32.load (i32.const 65532)))
    (i32.store (i32.const 0) (i32.const 32))
    (i32.store (i32.const 4) (i32.const 2))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
