;; Float results whose NaN bits would differ between CPUs (and engines) unless
;; canonicalized: 0/0 stored, reinterpreted, used as copysign's sign, kept in
;; a global. Prints the 4 + 4 + 8 + 4 + 4 bytes it got.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $g (mut f32) (f32.const 0))
  (func $zero (result f32) (f32.const 0))
  (func (export "_start")
    ;; 0/0 and -(0/0): NaNs of either sign, payload up to the CPU
    (f32.store (i32.const 100) (f32.div (call $zero) (call $zero)))
    (i32.store (i32.const 104) (i32.reinterpret_f32 (f32.neg (f32.div (call $zero) (call $zero)))))
    (f64.store (i32.const 108) (f64.sqrt (f64.const -1)))
    (f32.store (i32.const 116) (f32.copysign (f32.const 1) (f32.neg (f32.div (call $zero) (call $zero)))))
    (global.set $g (f32.neg (f32.div (call $zero) (call $zero))))
    (i32.store (i32.const 120) (i32.reinterpret_f32 (global.get $g)))
    ;; iovec at 0: 24 bytes from 100
    (i32.store (i32.const 0) (i32.const 100))
    (i32.store (i32.const 4) (i32.const 24))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
