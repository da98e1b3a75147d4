/* Shared by the example tasks: read all of stdin, parse integers, write
 * output through one buffer. Plain C99 on the standard library only, so the
 * same source builds for wasm32-wasi (wasi-libc) and natively (glibc), and
 * both builds must print the same bytes. */
#ifndef VERITY_EXAMPLE_COMMON_H
#define VERITY_EXAMPLE_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline void die(const char* what) {
  fprintf(stderr, "%s\n", what);
  exit(2);
}

/* All of stdin, NUL-terminated; *len gets its length. */
static inline char* read_all(size_t* len) {
  size_t cap = 1 << 16, n = 0;
  char* buf = malloc(cap + 1);
  if (!buf) die("out of memory");
  for (;;) {
    size_t got = fread(buf + n, 1, cap - n, stdin);
    n += got;
    if (n < cap) {
      if (ferror(stdin)) die("cannot read stdin");
      if (feof(stdin)) break;
      continue;
    }
    cap *= 2;
    char* bigger = realloc(buf, cap + 1);
    if (!bigger) die("out of memory");
    buf = bigger;
  }
  buf[n] = 0;
  *len = n;
  return buf;
}

/* The C locale's whitespace, without the locale. */
static inline int is_space(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* Parses the next whitespace-separated token of s as a decimal int64
 * ([+-]?[0-9]+). Returns 0 at the end of s, 1 with *out set, or exits with
 * status 2 on anything else (a stray word, an overflow). */
static inline int next_int(const char** s, int64_t* out) {
  const char* p = *s;
  while (is_space((unsigned char)*p)) ++p;
  if (!*p) {
    *s = p;
    return 0;
  }
  int negative = 0;
  if (*p == '+' || *p == '-') negative = *p++ == '-';
  if (*p < '0' || *p > '9') die("not an integer");
  uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  uint64_t v = 0;
  for (; *p >= '0' && *p <= '9'; ++p) {
    unsigned d = (unsigned)(*p - '0');
    if (v > (limit - d) / 10) die("integer out of range");
    v = v * 10 + d;
  }
  if (*p && !is_space((unsigned char)*p)) die("not an integer");
  *out = negative ? (int64_t)(0 - v) : (int64_t)v;
  *s = p;
  return 1;
}

/* Output through one growing buffer, written once at the end. */
struct out {
  char* buf;
  size_t len, cap;
};

static inline void out_bytes(struct out* o, const char* s, size_t n) {
  if (o->len + n > o->cap) {
    size_t cap = o->cap ? o->cap : 4096;
    while (cap < o->len + n) cap *= 2;
    char* bigger = realloc(o->buf, cap);
    if (!bigger) die("out of memory");
    o->buf = bigger;
    o->cap = cap;
  }
  memcpy(o->buf + o->len, s, n);
  o->len += n;
}

static inline void out_str(struct out* o, const char* s) { out_bytes(o, s, strlen(s)); }

static inline void out_u64(struct out* o, uint64_t v) {
  char tmp[24];
  int i = sizeof tmp;
  do {
    tmp[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  out_bytes(o, tmp + i, sizeof tmp - (size_t)i);
}

static inline void out_i64(struct out* o, int64_t v) {
  if (v < 0) {
    out_bytes(o, "-", 1);
    out_u64(o, 0 - (uint64_t)v);
  } else {
    out_u64(o, (uint64_t)v);
  }
}

static inline void out_flush(struct out* o) {
  if (o->len && fwrite(o->buf, 1, o->len, stdout) != o->len) die("cannot write stdout");
  if (fflush(stdout) != 0) die("cannot write stdout");
  free(o->buf);
  o->buf = NULL;
  o->len = o->cap = 0;
}

#endif
