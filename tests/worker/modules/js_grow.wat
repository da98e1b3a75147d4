;; Node engine test: memory.grow by 2 pages (to 3), a refused grow past the
;; declared maximum of 4, and verity_flags set to 1 as the rewriter would.
(module
  (memory (export "memory") 1 4)
  (global $fuel (export "verity_fuel") (mut i64) (i64.const 0))
  (global $flags (export "verity_flags") (mut i32) (i32.const 0))
  (func (export "_start")
    (if (i32.ne (memory.grow (i32.const 2)) (i32.const 1)) (then unreachable))
    (if (i32.eq (memory.grow (i32.const 5)) (i32.const -1))
      (then (global.set $flags (i32.or (global.get $flags) (i32.const 1)))))
    (i32.store (i32.const 196600) (i32.const 1))))
