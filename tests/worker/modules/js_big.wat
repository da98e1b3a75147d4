;; Node engine test: one fd_write of 16 iovecs of 65536 bytes each (the whole
;; of memory, bytes i mod 251 as written by a loop): 1 MiB to stdout.
;; Fuel: the loop costs nothing (not instrumented); 1048576 + 16 * 8.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $fuel (export "verity_fuel") (mut i64) (i64.const 0))
  (global $flags (export "verity_flags") (mut i32) (i32.const 0))
  (func (export "_start")
    (local $i i32)
    (loop $fill
      (i32.store8 (local.get $i) (i32.rem_u (local.get $i) (i32.const 251)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $fill (i32.lt_u (local.get $i) (i32.const 65536))))
    ;; the iovecs overwrite bytes [0, 128) with 16 copies of (0, 65536)
    (local.set $i (i32.const 0))
    (loop $iov
      (i32.store (local.get $i) (i32.const 0))
      (i32.store (i32.add (local.get $i) (i32.const 4)) (i32.const 65536))
      (local.set $i (i32.add (local.get $i) (i32.const 8)))
      (br_if $iov (i32.lt_u (local.get $i) (i32.const 128))))
    (if (call $write (i32.const 1) (i32.const 0) (i32.const 16) (i32.const 128)) (then unreachable))))
