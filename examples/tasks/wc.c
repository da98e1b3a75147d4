/* Counts lines, words and bytes of stdin, as `wc` does in the C locale:
 * prints "LINES WORDS BYTES". A word is a maximal run of non-whitespace. */
#include "common.h"

int main(void) {
  static unsigned char buf[1 << 16];
  uint64_t lines = 0, words = 0, bytes = 0;
  int in_word = 0;
  size_t got;
  while ((got = fread(buf, 1, sizeof buf, stdin)) > 0) {
    bytes += got;
    for (size_t i = 0; i < got; ++i) {
      unsigned char c = buf[i];
      if (c == '\n') ++lines;
      if (is_space(c)) {
        in_word = 0;
      } else if (!in_word) {
        in_word = 1;
        ++words;
      }
    }
  }
  if (ferror(stdin)) die("cannot read stdin");
  struct out o = {0};
  out_u64(&o, lines);
  out_str(&o, " ");
  out_u64(&o, words);
  out_str(&o, " ");
  out_u64(&o, bytes);
  out_str(&o, "\n");
  out_flush(&o);
  return 0;
}
