;; Uses memory.fill (bulk memory), whose cost grows with its operand.
(module
  (memory (export "memory") 1)
  (func (export "_start") (memory.fill (i32.const 0) (i32.const 0) (i32.const 65536))))
