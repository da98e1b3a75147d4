;; aot engine test: memory 1 page, maximum 4 (the cap, as the rewriter
;; lowers it). Grows one page at a time until memory.grow returns -1 (then
;; sets flag 1, as the rewriter's grow wrapper does), stores into the last
;; byte of the memory and writes the number of successful grows as a digit.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1 4)
  (global $fuel (export "verity_fuel") (mut i64) (i64.const 0))
  (global $flags (export "verity_flags") (mut i32) (i32.const 0))
  (func (export "_start")
    (local $n i32)
    (block $done
      (loop $l
        (global.set $fuel (i64.sub (global.get $fuel) (i64.const 1)))
        (if (i64.lt_s (global.get $fuel) (i64.const 0)) (then unreachable))
        (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1))
          (then (global.set $flags (i32.or (global.get $flags) (i32.const 1))) (br $done)))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $l)))
    (i32.store8 (i32.sub (i32.mul (memory.size) (i32.const 65536)) (i32.const 1)) (i32.const 7))
    (i32.store8 (i32.const 16) (i32.add (i32.const 48) (local.get $n)))
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 1))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
