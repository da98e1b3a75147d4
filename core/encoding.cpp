#include "core/encoding.h"

namespace verity {

void Writer::varint(std::uint64_t v) {
  while (v >= 0x80) {
    out_.push_back(static_cast<std::uint8_t>(v | 0x80));
    v >>= 7;
  }
  out_.push_back(static_cast<std::uint8_t>(v));
}

void Reader::fail(std::string reason, std::string detail) {
  if (!ok_) return;
  ok_ = false;
  error_ = make_error(std::move(reason), std::move(detail) + " at byte " + std::to_string(pos_));
}

bool Reader::take(std::size_t n) {
  if (!ok_) return false;
  if (n > in_.size() - pos_) {
    fail("decode-short-buffer", "need " + std::to_string(n) + " bytes, have " +
                                    std::to_string(in_.size() - pos_));
    return false;
  }
  pos_ += n;
  return true;
}

std::uint8_t Reader::u8() { return take(1) ? in_[pos_ - 1] : 0; }

std::uint64_t Reader::varint() {
  std::uint64_t value = 0;
  for (int shift = 0;; shift += 7) {
    if (!take(1)) return 0;
    std::uint8_t b = in_[pos_ - 1];
    if (shift == 63 && b > 1) {
      fail("decode-integer-overflow", "varint exceeds 64 bits");
      return 0;
    }
    value |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      // A last group of zero after other groups is a redundant encoding.
      if (b == 0 && shift > 0) {
        fail("decode-non-minimal-integer", "varint has redundant trailing group");
        return 0;
      }
      return value;
    }
  }
}

bool Reader::boolean() {
  std::uint8_t b = u8();
  if (b > 1) fail("decode-bad-bool", "boolean byte is " + std::to_string(b));
  return b == 1;
}

ByteView Reader::bytes_view(std::size_t max_len) {
  std::uint64_t len = varint();
  if (!ok_) return {};
  if (len > max_len) {
    fail("decode-too-long", "length " + std::to_string(len) + " exceeds " + std::to_string(max_len));
    return {};
  }
  if (!take(static_cast<std::size_t>(len))) return {};
  return in_.subspan(pos_ - static_cast<std::size_t>(len), static_cast<std::size_t>(len));
}

Bytes Reader::bytes(std::size_t max_len) {
  ByteView v = bytes_view(max_len);
  return Bytes(v.begin(), v.end());
}

bool is_utf8(ByteView s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const std::uint8_t c = s[i];
    std::size_t n;
    std::uint32_t cp, min;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      n = 1, cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2, cp = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3, cp = c & 0x07, min = 0x10000;
    } else {
      return false;  // a continuation byte first, or 0xf8-0xff
    }
    if (s.size() - i - 1 < n) return false;
    for (std::size_t k = 1; k <= n; ++k) {
      if ((s[i + k] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF.
    if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return false;
    i += n + 1;
  }
  return true;
}

std::string Reader::string(std::size_t max_len) {
  Bytes b = bytes(max_len);
  if (ok_ && !is_utf8(b)) {
    fail("decode-bad-utf8", "a string is not valid UTF-8");
    return {};
  }
  return std::string(b.begin(), b.end());
}

std::size_t Reader::count(std::size_t max_items, std::size_t min_item_bytes) {
  std::uint64_t n = varint();
  if (!ok_) return 0;
  if (n > max_items) {
    fail("decode-too-long", "count " + std::to_string(n) + " exceeds " + std::to_string(max_items));
    return 0;
  }
  if (min_item_bytes > 0 && n > remaining() / min_item_bytes) {
    fail("decode-short-buffer", "count " + std::to_string(n) + " cannot fit in " +
                                    std::to_string(remaining()) + " bytes");
    return 0;
  }
  return static_cast<std::size_t>(n);
}

Status Reader::finish() const {
  if (!ok_) return error_;
  if (pos_ != in_.size())
    return make_error("decode-trailing-bytes",
                      std::to_string(in_.size() - pos_) + " bytes after the end at byte " +
                          std::to_string(pos_));
  return {};
}

}  // namespace verity
