// LEB128 varints and zigzag coding (internal to engine/).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace pmklc {

inline void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

inline uint64_t ZigZag(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }
inline int64_t UnZigZag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

// A bounds-checked reader over a byte range. Every Get returns false on
// truncated or over-long input and never reads past the end.
class Reader {
 public:
  explicit Reader(std::string_view s) : p_(s.data()), end_(s.data() + s.size()) {}
  bool GetVarint(uint64_t* v) {
    uint64_t r = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ >= end_) return false;
      uint8_t b = static_cast<uint8_t>(*p_++);
      r |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) {
        *v = r;
        return true;
      }
    }
    return false;
  }
  bool GetByte(uint8_t* b) {
    if (p_ >= end_) return false;
    *b = static_cast<uint8_t>(*p_++);
    return true;
  }
  bool GetBytes(size_t n, std::string_view* out) {
    if (static_cast<size_t>(end_ - p_) < n) return false;
    *out = std::string_view(p_, n);
    p_ += n;
    return true;
  }
  // A varint length followed by that many bytes.
  bool GetSection(std::string_view* out) {
    uint64_t n;
    return GetVarint(&n) && n <= static_cast<uint64_t>(end_ - p_) && GetBytes(static_cast<size_t>(n), out);
  }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  std::string_view rest() const { return std::string_view(p_, remaining()); }

 private:
  const char* p_;
  const char* end_;
};

inline void PutSection(std::string* out, std::string_view s) {
  PutVarint(out, s.size());
  out->append(s);
}

}  // namespace pmklc
