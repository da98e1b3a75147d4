/* Sorts the whitespace-separated integers on stdin and prints them, one per
 * line, in ascending order. */
#include "common.h"

static int compare(const void* a, const void* b) {
  int64_t x = *(const int64_t*)a, y = *(const int64_t*)b;
  return (x > y) - (x < y);
}

int main(void) {
  size_t len;
  char* text = read_all(&len);
  size_t n = 0, cap = 1024;
  int64_t* v = malloc(cap * sizeof *v);
  if (!v) die("out of memory");
  const char* p = text;
  int64_t x;
  while (next_int(&p, &x)) {
    if (n == cap) {
      cap *= 2;
      int64_t* bigger = realloc(v, cap * sizeof *v);
      if (!bigger) die("out of memory");
      v = bigger;
    }
    v[n++] = x;
  }
  qsort(v, n, sizeof *v, compare);
  struct out o = {0};
  for (size_t i = 0; i < n; ++i) {
    out_i64(&o, v[i]);
    out_bytes(&o, "\n", 1);
  }
  out_flush(&o);
  free(v);
  free(text);
  return 0;
}
