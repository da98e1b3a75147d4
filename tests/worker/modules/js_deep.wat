;; Node engine test: recursion as deep as the u32 read from stdin, one unit
;; of fuel per call, with a WASI call (fd_write of "!") at the bottom.
;; Fuel: depth + 1 calls, plus 1 + 8. Returns normally.
(module
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $fuel (export "verity_fuel") (mut i64) (i64.const 0))
  (global $flags (export "verity_flags") (mut i32) (i32.const 0))
  (data (i32.const 100) "!")
  (func $down (param $n i32) (param $a i64) (result i32)
    (local $x i32) (local $y i64) (local $z f64)
    (global.set $fuel (i64.sub (global.get $fuel) (i64.const 1)))
    (if (i64.lt_s (global.get $fuel) (i64.const 0)) (then unreachable))
    (if (result i32) (i32.eqz (local.get $n))
      (then
        (i32.store (i32.const 0) (i32.const 100))
        (i32.store (i32.const 4) (i32.const 1))
        (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)))
      (else
        (i32.add (call $down (i32.sub (local.get $n) (i32.const 1)) (i64.add (local.get $a) (i64.const 1)))
                 (i32.const 1)))))
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 200))
    (i32.store (i32.const 4) (i32.const 4))
    (drop (call $read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 16)))
    (if (i32.ne (call $down (i32.load (i32.const 200)) (i64.const 0)) (i32.load (i32.const 200)))
      (then unreachable))))
