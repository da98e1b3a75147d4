;; Valid, but its data segment ends past the memory's one page: instantiation
;; would trap. The sandbox refuses it at admission (docs/sandbox.md).
(module
  (memory (export "memory") 1)
  (data (i32.const 65535) "ab")
  (func (export "_start")))
