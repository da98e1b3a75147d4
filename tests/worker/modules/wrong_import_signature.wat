;; Imports fd_write with the wrong signature (no parameters, no result):
;; refused at admission, as binding it would fail in every run.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write))
  (memory (export "memory") 1)
  (func (export "_start")
    (call $fd_write)))
