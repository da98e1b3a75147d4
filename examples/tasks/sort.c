/* Sorts the whitespace-separated integers on stdin and prints them, one per
 * line, in ascending order. The sort is written out here (a bottom-up merge
 * sort) rather than libc's qsort, so the native and the WebAssembly builds
 * run the same algorithm: glibc's qsort and wasi-libc's (musl's smoothsort)
 * differ, which made the benchmark compare two libcs, not two engines. */
#include "common.h"

static void merge_sort(int64_t* v, size_t n) {
  int64_t* tmp = malloc((n ? n : 1) * sizeof *tmp);
  if (!tmp) die("out of memory");
  int64_t *from = v, *to = tmp;
  for (size_t width = 1; width < n; width *= 2) {
    for (size_t lo = 0; lo < n; lo += 2 * width) {
      size_t mid = lo + width < n ? lo + width : n;
      size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
      size_t i = lo, j = mid, k = lo;
      while (i < mid && j < hi) to[k++] = from[j] < from[i] ? from[j++] : from[i++];
      while (i < mid) to[k++] = from[i++];
      while (j < hi) to[k++] = from[j++];
    }
    int64_t* t = from;
    from = to;
    to = t;
  }
  if (from != v) memcpy(v, from, n * sizeof *v);
  free(tmp);
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
  merge_sort(v, n);
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
