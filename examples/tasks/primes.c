/* Reads N from stdin and sieves the primes up to N (Eratosthenes, one byte
 * per number): prints how many there are and the largest. N <= 10^8. */
#include "common.h"

int main(void) {
  size_t len;
  char* text = read_all(&len);
  const char* p = text;
  int64_t n;
  if (!next_int(&p, &n) || n < 0 || n > 100000000) die("expected N in 0..100000000");
  unsigned char* composite = calloc((size_t)n + 1, 1);
  if (!composite) die("out of memory");
  uint64_t count = 0, largest = 0;
  for (int64_t i = 2; i <= n; ++i) {
    if (composite[i]) continue;
    ++count;
    largest = (uint64_t)i;
    for (int64_t j = i * i; j <= n; j += i) composite[j] = 1;
  }
  struct out o = {0};
  out_str(&o, "primes up to ");
  out_i64(&o, n);
  out_str(&o, ": ");
  out_u64(&o, count);
  out_str(&o, "\nlargest: ");
  if (count) {
    out_u64(&o, largest);
  } else {
    out_str(&o, "none");
  }
  out_str(&o, "\n");
  out_flush(&o);
  free(composite);
  free(text);
  return 0;
}
