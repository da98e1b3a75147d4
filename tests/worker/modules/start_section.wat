;; Has a start section, which would run before _start and outside the fuel.
(module
  (memory (export "memory") 1)
  (func $init)
  (start $init)
  (func (export "_start")))
