;; proc_exit(3) from inside a nested call: the run ends there, ok with code 3.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (func $inner (call $proc_exit (i32.const 3)) unreachable)
  (func (export "_start") (call $inner) unreachable))
