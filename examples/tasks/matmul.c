/* Reads N from stdin, builds two deterministic N x N integer matrices,
 * multiplies them (64-bit integers, wrapping) and prints the trace and a
 * position-weighted checksum of the product. N <= 1000. */
#include "common.h"

int main(void) {
  size_t len;
  char* text = read_all(&len);
  const char* p = text;
  int64_t n64;
  if (!next_int(&p, &n64) || n64 < 1 || n64 > 1000) die("expected N in 1..1000");
  size_t n = (size_t)n64;
  int64_t* a = malloc(n * n * sizeof *a);
  int64_t* b = malloc(n * n * sizeof *b);
  int64_t* c = calloc(n * n, sizeof *c);
  if (!a || !b || !c) die("out of memory");
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j) {
      a[i * n + j] = (int64_t)((i * 31 + j * 17 + 7) % 101) - 50;
      b[i * n + j] = (int64_t)((i * 13 + j * 29 + 3) % 97) - 48;
    }
  /* i-k-j order: the inner loop walks rows of b and c. */
  for (size_t i = 0; i < n; ++i)
    for (size_t k = 0; k < n; ++k) {
      int64_t aik = a[i * n + k];
      for (size_t j = 0; j < n; ++j) c[i * n + j] += aik * b[k * n + j];
    }
  uint64_t trace = 0, checksum = 0;
  for (size_t i = 0; i < n; ++i) {
    trace += (uint64_t)c[i * n + i];
    for (size_t j = 0; j < n; ++j) checksum += (uint64_t)c[i * n + j] * ((i * n + j) % 1009 + 1);
  }
  struct out o = {0};
  out_str(&o, "n=");
  out_u64(&o, n);
  out_str(&o, " trace=");
  out_i64(&o, (int64_t)trace);
  out_str(&o, " checksum=");
  out_u64(&o, checksum);
  out_str(&o, "\n");
  out_flush(&o);
  free(a);
  free(b);
  free(c);
  free(text);
  return 0;
}
