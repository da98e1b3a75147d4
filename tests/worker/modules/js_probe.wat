;; Node engine test: the small WASI calls. Appends each result to an output
;; buffer at 32768 (u32 errno values; u64 where noted) and writes the buffer
;; to stdout at the end; node_engine_test.mjs lists the expected values in
;; the same order. Scratch memory: 0..1024. Memory is one page (65536).
(module
  (import "wasi_snapshot_preview1" "clock_time_get" (func $time (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_res_get" (func $res (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $env_sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $env_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_fdstat_get" (func $fdstat (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_get" (func $prestat (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_seek" (func $seek (param i32 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sched_yield" (func $yield (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $fuel (export "verity_fuel") (mut i64) (i64.const 0))
  (global $flags (export "verity_flags") (mut i32) (i32.const 0))
  (global $out (mut i32) (i32.const 32768))
  (func $put32 (param $v i32)
    (i32.store (global.get $out) (local.get $v))
    (global.set $out (i32.add (global.get $out) (i32.const 4))))
  (func $put64 (param $v i64)
    (i64.store (global.get $out) (local.get $v))
    (global.set $out (i32.add (global.get $out) (i32.const 8))))
  ;; clock_time_get(id) into 0 (preset to -1): errno, then the u64 there
  (func $t (param $id i32)
    (i64.store (i32.const 0) (i64.const -1))
    (call $put32 (call $time (local.get $id) (i64.const 1000) (i32.const 0)))
    (call $put64 (i64.load (i32.const 0))))
  (func $r (param $id i32)
    (i64.store (i32.const 0) (i64.const -1))
    (call $put32 (call $res (local.get $id) (i32.const 0)))
    (call $put64 (i64.load (i32.const 0))))
  ;; fd_fdstat_get(fd) into 64 (24 bytes preset to -1): errno, then 3 u64
  (func $st (param $fd i32)
    (i64.store (i32.const 64) (i64.const -1))
    (i64.store (i32.const 72) (i64.const -1))
    (i64.store (i32.const 80) (i64.const -1))
    (call $put32 (call $fdstat (local.get $fd) (i32.const 64)))
    (call $put64 (i64.load (i32.const 64)))
    (call $put64 (i64.load (i32.const 72)))
    (call $put64 (i64.load (i32.const 80))))
  (func (export "_start")
    (call $t (i32.const 0))                                                    ;; 0, 0
    (call $t (i32.const 1))                                                    ;; 0, 0
    (call $t (i32.const 2))                                                    ;; 0, 0
    (call $t (i32.const 3))                                                    ;; 0, 0
    (call $t (i32.const 4))                                                    ;; 28, -1
    (call $t (i32.const -1))                                                   ;; 28, -1
    (call $put32 (call $time (i32.const 9) (i64.const 0) (i32.const 65536)))   ;; 28: EINVAL first
    (call $put32 (call $time (i32.const 0) (i64.const 0) (i32.const 65529)))   ;; 21
    (call $put32 (call $time (i32.const 0) (i64.const 0) (i32.const 65528)))   ;; 0: the last 8 bytes
    (call $put32 (call $time (i32.const 0) (i64.const 0) (i32.const -8)))      ;; 21
    (call $r (i32.const 0))                                                    ;; 0, 1
    (call $r (i32.const 3))                                                    ;; 0, 1
    (call $r (i32.const 4))                                                    ;; 28, -1
    (call $put32 (call $res (i32.const 1) (i32.const 65533)))                  ;; 21
    ;; environ
    (i64.store (i32.const 8) (i64.const -1))
    (call $put32 (call $env_sizes (i32.const 8) (i32.const 12)))               ;; 0
    (call $put64 (i64.load (i32.const 8)))                                     ;; 0 (two u32 zeros)
    (call $put32 (call $env_sizes (i32.const 65534) (i32.const 8)))            ;; 21
    (call $put32 (call $env_sizes (i32.const 8) (i32.const 65533)))            ;; 21
    (call $put32 (call $env_get (i32.const 65535) (i32.const 65535)))          ;; 0: nothing to write
    ;; fdstat
    (call $st (i32.const 0))                                                   ;; 0, 0, 2, 0
    (call $st (i32.const 1))                                                   ;; 0, 0, 64, 0
    (call $st (i32.const 2))                                                   ;; 0, 0, 64, 0
    (call $st (i32.const 3))                                                   ;; 8, -1, -1, -1
    (call $put32 (call $fdstat (i32.const 1) (i32.const 65513)))               ;; 21
    (call $put32 (call $fdstat (i32.const 1) (i32.const 65512)))               ;; 0
    (call $put32 (call $fdstat (i32.const 7) (i32.const 65530)))               ;; 8: EBADF first
    ;; prestat, seek, yield
    (call $put32 (call $prestat (i32.const 0) (i32.const 0)))                  ;; 8
    (call $put32 (call $prestat (i32.const 3) (i32.const 65535)))              ;; 8
    (call $put32 (call $seek (i32.const 0) (i64.const 0) (i32.const 0) (i32.const 0)))   ;; 70
    (call $put32 (call $seek (i32.const 1) (i64.const 5) (i32.const 1) (i32.const 0)))   ;; 70
    (call $put32 (call $seek (i32.const 2) (i64.const -1) (i32.const 2) (i32.const 65535))) ;; 70
    (call $put32 (call $seek (i32.const 3) (i64.const 0) (i32.const 0) (i32.const 0)))   ;; 8
    (call $put32 (call $yield))                                                ;; 0
    ;; read/write on the wrong descriptors (iovec at 16: (0, 1)), checked before the iovecs
    (i32.store (i32.const 16) (i32.const 0))
    (i32.store (i32.const 20) (i32.const 1))
    (call $put32 (call $write (i32.const 0) (i32.const 16) (i32.const 1) (i32.const 24)))      ;; 8
    (call $put32 (call $write (i32.const 3) (i32.const 65535) (i32.const 9) (i32.const 24)))   ;; 8
    (call $put32 (call $write (i32.const -1) (i32.const 16) (i32.const 1) (i32.const 24)))     ;; 8
    (call $put32 (call $read (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24)))       ;; 8
    (call $put32 (call $read (i32.const 2) (i32.const 16) (i32.const 1) (i32.const 24)))       ;; 8
    ;; the output
    (i32.store (i32.const 16) (i32.const 32768))
    (i32.store (i32.const 20) (i32.sub (global.get $out) (i32.const 32768)))
    (drop (call $write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24)))))
