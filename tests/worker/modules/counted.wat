;; A fixed, short straight-line program, to pin down what a unit of fuel is.
(module
  (memory (export "memory") 1)
  (func (export "_start")
    (drop (i32.add (i32.const 1) (i32.const 2)))))
