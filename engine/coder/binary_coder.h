// binary_coder.h — exact integer binary arithmetic coder (engine/coder).
//
// Carry-less 32-bit coder: the interval [x1, x2] is split at
// xmid = x1 + (x2 - x1) * p1 / 2^16, computed in integers without overflow;
// bit 1 keeps [x1, xmid], bit 0 keeps [xmid + 1, x2]. Bytes are shifted out
// while x1 and x2 share their top byte. Probabilities are 16-bit, P(bit = 1)
// clamped to [kMinP, 65536 - kMinP], so no bit ever has probability 0.
// The encoder and decoder perform the same integer operations, so coding is
// bit-exact on every machine and build.
//
// A nucleotide is coded as two binary decisions (high bit, then low bit).
// Thread safety: one coder per thread. Ownership: the encoder appends to a
// caller-owned string; the decoder reads a caller-owned buffer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace pmklc {

inline constexpr uint32_t kProbBits = 16;
inline constexpr uint32_t kMinP = 1;  // floor: P >= 1/65536

inline uint32_t ClampP(uint32_t p1) {
  return p1 < kMinP ? kMinP : (p1 > (1u << kProbBits) - kMinP ? (1u << kProbBits) - kMinP : p1);
}

class BinaryEncoder {
 public:
  explicit BinaryEncoder(std::string* out) : out_(out) {}
  // Codes bit with P(bit = 1) = p1 / 65536.
  void Encode(int bit, uint32_t p1) {
    p1 = ClampP(p1);
    const uint32_t r = x2_ - x1_;
    const uint32_t xmid = x1_ + (r >> kProbBits) * p1 + (((r & 0xffff) * p1) >> kProbBits);
    if (bit) x2_ = xmid;
    else x1_ = xmid + 1;
    while (((x1_ ^ x2_) & 0xff000000u) == 0) {
      out_->push_back(static_cast<char>(x2_ >> 24));
      x1_ <<= 8;
      x2_ = (x2_ << 8) | 255;
    }
  }
  // Flushes enough bytes to disambiguate the final interval.
  void Finish() {
    for (int i = 0; i < 4; ++i) {
      out_->push_back(static_cast<char>(x1_ >> 24));
      x1_ <<= 8;
    }
  }

 private:
  std::string* out_;
  uint32_t x1_ = 0, x2_ = 0xffffffffu;
};

class BinaryDecoder {
 public:
  explicit BinaryDecoder(std::string_view in) : p_(in.data()), end_(in.data() + in.size()) {
    for (int i = 0; i < 4; ++i) x_ = (x_ << 8) | Next();
  }
  int Decode(uint32_t p1) {
    p1 = ClampP(p1);
    const uint32_t r = x2_ - x1_;
    const uint32_t xmid = x1_ + (r >> kProbBits) * p1 + (((r & 0xffff) * p1) >> kProbBits);
    int bit = x_ <= xmid;
    if (bit) x2_ = xmid;
    else x1_ = xmid + 1;
    while (((x1_ ^ x2_) & 0xff000000u) == 0) {
      x1_ <<= 8;
      x2_ = (x2_ << 8) | 255;
      x_ = (x_ << 8) | Next();
    }
    return bit;
  }
  // False if the decoder had to read past the end of its input (corruption).
  bool ok() const { return overrun_ <= 4; }

 private:
  uint32_t Next() {
    if (p_ < end_) return static_cast<uint8_t>(*p_++);
    ++overrun_;
    return 0;
  }
  const char* p_;
  const char* end_;
  uint32_t x1_ = 0, x2_ = 0xffffffffu, x_ = 0;
  int overrun_ = 0;
};

}  // namespace pmklc
