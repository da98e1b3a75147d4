;; Imports its memory and a function from outside the WASI subset.
(module
  (import "env" "memory" (memory 1))
  (import "env" "leak" (func $leak))
  (import "wasi_snapshot_preview1" "sock_send" (func $sock_send (param i32 i32 i32 i32 i32) (result i32)))
  (func (export "_start")))
