;; No exported memory: not a WASI command.
(module
  (func (export "_start")))
