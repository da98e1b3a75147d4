;; Node engine test: an import the host does not provide: instantiation
;; fails (invalid_module).
(module
  (import "env" "foo" (func $foo))
  (memory (export "memory") 1)
  (global $fuel (export "verity_fuel") (mut i64) (i64.const 0))
  (global $flags (export "verity_flags") (mut i32) (i32.const 0))
  (func (export "_start") (call $foo)))
