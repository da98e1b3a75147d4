;; Node engine test: a WASI command without the instrumentation's globals:
;; the node engine refuses it (invalid_module).
(module
  (memory (export "memory") 1)
  (func (export "_start")))
