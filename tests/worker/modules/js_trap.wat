;; Node engine test: writes "before\n", reads one byte from stdin and traps:
;; 'u' unreachable, 'd' integer divide by zero, 'm' out-of-bounds load.
;; Any other byte: returns. Fuel: (7 + 8) + (1 + 8) = 24.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $fuel (export "verity_fuel") (mut i64) (i64.const 0))
  (global $flags (export "verity_flags") (mut i32) (i32.const 0))
  (data (i32.const 100) "before\n")
  (func (export "_start")
    (local $c i32)
    (i32.store (i32.const 0) (i32.const 100))
    (i32.store (i32.const 4) (i32.const 7))
    (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)))
    (i32.store (i32.const 0) (i32.const 200))
    (i32.store (i32.const 4) (i32.const 1))
    (drop (call $read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 16)))
    (local.set $c (i32.load8_u (i32.const 200)))
    (if (i32.eq (local.get $c) (i32.const 117)) (then unreachable))
    (if (i32.eq (local.get $c) (i32.const 100))
      (then (drop (i32.div_u (i32.const 1) (i32.load (i32.const 300))))))
    (if (i32.eq (local.get $c) (i32.const 109))
      (then (drop (i32.load (i32.const 65534)))))))
