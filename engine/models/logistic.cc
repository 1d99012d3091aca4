#include "engine/models/logistic.h"

#include <array>
#include <cstddef>

namespace pmklc::models {

namespace {

// 1/(1+e^-x) sampled at x = i/8 (i = 0..128, x up to 16) in 1/2^30 units,
// from e^(-1/8) computed with integer Taylor terms in 2^-60 fixed point.
struct Tables {
  std::array<uint32_t, 4096> squash;   // index x + 2048
  std::array<int16_t, 65536> stretch;  // index p16
  Tables() {
    // e^(-1/8) in Q60 via its Taylor series (all integer arithmetic).
    using u128 = unsigned __int128;
    const u128 one = u128{1} << 60;
    u128 term = one, sum = one;
    for (int k = 1; k < 30; ++k) {
      term = term / 8 / static_cast<unsigned>(k);
      if (k % 2) sum -= term;
      else sum += term;
    }
    const u128 e8 = sum;  // e^(-1/8)
    // e^(-i/8) for i = 0..128
    std::array<u128, 129> ex{};
    ex[0] = one;
    for (int i = 1; i <= 128; ++i) ex[i] = (ex[i - 1] * e8) >> 60;
    // squash at x/256 for x in [-2047, 2047]: interpolate 1/(1+e^-t) between
    // t = i/8 knots (x/256 = t  =>  i = x/32).
    auto sig = [&](int i) -> u128 {  // 1/(1+e^(-i/8)) for i >= 0, Q60
      return (one * one) / (one + ex[i]);
    };
    for (int x = -2047; x <= 2047; ++x) {
      int ax = x < 0 ? -x : x;
      int i = ax / 32, f = ax % 32;
      u128 a = sig(i), b = sig(i + 1 > 128 ? 128 : i + 1);
      u128 v = (a * static_cast<unsigned>(32 - f) + b * static_cast<unsigned>(f)) / 32;  // Q60
      uint64_t p = static_cast<uint64_t>((v * 65536) >> 60);
      if (x < 0) p = 65536 - p;
      if (p < 1) p = 1;
      if (p > 65535) p = 65535;
      squash[static_cast<size_t>(x + 2048)] = static_cast<uint32_t>(p);
    }
    squash[0] = squash[1];
    // stretch = inverse of squash (monotone): the x whose squash is nearest.
    int x = -2047;
    for (uint32_t p = 0; p < 65536; ++p) {
      while (x < 2047 && squash[static_cast<size_t>(x + 2048)] < p) ++x;
      stretch[p] = static_cast<int16_t>(x);
    }
  }
};

const Tables& T() {
  static const Tables t;
  return t;
}

}  // namespace

int Stretch(uint32_t p16) { return T().stretch[p16 > 65535 ? 65535 : p16]; }

uint32_t Squash(int x) {
  if (x > 2047) x = 2047;
  if (x < -2047) x = -2047;
  return T().squash[static_cast<size_t>(x + 2048)];
}

}  // namespace pmklc::models
