;; aot engine test: reads a depth N (u32, little-endian) from stdin and
;; recurses N calls deep, then returns and writes "ok". Like the metering
;; rewriter's injected stack limit, $depth counts live frames and more than
;; 1,000,000 sets flag 2 and traps, so the module never relies on the native
;; stack running out. Each frame keeps a few values live across the call so
;; it has a real native frame.
(module
  (import "wasi_snapshot_preview1" "fd_read"
    (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $fuel (export "verity_fuel") (mut i64) (i64.const 0))
  (global $flags (export "verity_flags") (mut i32) (i32.const 0))
  (global $depth (mut i32) (i32.const 0))
  (data (i32.const 32) "ok")
  (func $down (param $n i32) (result i64)
    (local $a i64) (local $b i64) (local $c i64) (local $r i64)
    (global.set $fuel (i64.sub (global.get $fuel) (i64.const 1)))
    (if (i64.lt_s (global.get $fuel) (i64.const 0)) (then unreachable))
    (global.set $depth (i32.add (global.get $depth) (i32.const 1)))
    (if (i32.gt_u (global.get $depth) (i32.const 1000000))
      (then (global.set $flags (i32.or (global.get $flags) (i32.const 2))) unreachable))
    (local.set $a (i64.extend_i32_u (local.get $n)))
    (local.set $b (i64.mul (local.get $a) (i64.const 3)))
    (local.set $c (i64.xor (local.get $b) (i64.const 12345)))
    (local.set $r
      (if (result i64) (i32.eqz (local.get $n))
        (then (i64.const 0))
        (else (call $down (i32.sub (local.get $n) (i32.const 1))))))
    (global.set $depth (i32.sub (global.get $depth) (i32.const 1)))
    (i64.add (local.get $r) (i64.add (local.get $a) (i64.sub (local.get $c) (local.get $b)))))
  (func (export "_start")
    ;; iovec at 0 -> 4 bytes at 16; nread at 8
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 4))
    (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
    (drop (call $down (i32.load (i32.const 16))))
    (i32.store (i32.const 0) (i32.const 32))
    (i32.store (i32.const 4) (i32.const 2))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
