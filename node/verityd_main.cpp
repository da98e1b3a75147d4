#include <malloc.h>

#include "node/verityd_commands.h"

int main(int argc, char** argv) {
  // verityd is linked with tcmalloc (meson_options.txt: allocator;
  // docs/state.md, "Memory"), where mallopt does nothing. The two settings
  // below are for glibc's malloc (-Dallocator=system, and the sanitizer
  // builds).
  //
  // Each RPC call allocates and frees RapidJSON pools of 64 KiB. With
  // glibc's default (dynamic) trim threshold the heap top is returned to the
  // kernel after nearly every call and grown again on the next, which
  // halved the RPC's throughput under load (bench/rpc_bench.sh, perf:
  // systrim/brk). A fixed threshold keeps at most this much free memory.
  mallopt(M_TRIM_THRESHOLD, 8 << 20);
  // Setting any threshold turns off glibc's dynamic mmap threshold too, and
  // leaves it at 128 KiB: every larger buffer (a batch of transactions, a
  // block's encoding, LevelDB's write batch) was then mmapped, page-faulted
  // in and munmapped each time. At saturation that cost a quarter of the
  // node's CPU (bench/node_load.py, perf: page faults under memcpy, munmap
  // in free); 32 MiB is the ceiling the dynamic threshold would reach.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  return verity::cli::run_cli(verity::node::verityd_program(), argc, argv);
}
