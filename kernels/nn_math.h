// nn_math.h — our own exp, log and softmax for the neural models, one
// definition compiled for the CPU and (under nvcc) for CUDA devices.
//
// Decode anywhere: the results depend only on IEEE-754 binary32 additions,
// multiplications and exact bit operations, in the order written here. The
// tree is built with -ffp-contract=off (no FMA contraction) and nvcc builds
// these with contraction off as well (--fmad=false), so a GPU computes the
// same bits as any x86 CPU at any -march level. No libm call is made.
//
// Accuracy: Exp within 2 ulp on [-87, 88]; Log within 2 ulp for normal
// positive inputs. Exp(x) for x < -87 or NaN returns 0, for x > 88 returns
// e^88.
// Log(x) for x <= 0 returns -1e30 (callers clamp probabilities first).
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <cstring>

#include "kernels/hd.h"

namespace pmklc::kernels::nn {

PMKLC_HD float BitsToFloat(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, 4);
  return f;
#endif
}

PMKLC_HD uint32_t FloatToBits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
#endif
}

// Rounds to the nearest integer (ties away from zero) with float ops only.
PMKLC_HD int RoundToInt(float x) { return static_cast<int>(x < 0.0f ? x - 0.5f : x + 0.5f); }

// e^x: x = n ln2 + r, |r| <= ln2/2, e^r by a degree-6 Taylor polynomial in
// Horner form, 2^n by building the exponent bits.
PMKLC_HD float Exp(float x) {
  if (!(x >= -87.0f)) return 0.0f;  // also NaN: a defined result everywhere
  if (x > 88.0f) x = 88.0f;
  const int n = RoundToInt(x * 1.44269504f);
  const float fn = static_cast<float>(n);
  // Cody-Waite: ln2 split into a high part exact in float and a small rest.
  float r = x - fn * 0.693145751953125f;
  r = r - fn * 1.428606765330187e-06f;
  float q = 1.0f / 720.0f;
  q = q * r + 1.0f / 120.0f;
  q = q * r + 1.0f / 24.0f;
  q = q * r + 1.0f / 6.0f;
  q = q * r + 0.5f;
  q = q * r + 1.0f;
  q = q * r + 1.0f;
  // 2^n, n in [-126, 127]; below that the result underflows towards 0.
  if (n < -126) return q * BitsToFloat(static_cast<uint32_t>(n + 126 + 127) << 23) * 1.17549435e-38f;
  return q * BitsToFloat(static_cast<uint32_t>(n + 127) << 23);
}

// ln x: x = m 2^e with m in [sqrt(1/2), sqrt(2)), ln m = 2 atanh(t),
// t = (m-1)/(m+1), by its odd series to t^11.
PMKLC_HD float Log(float x) {
  if (!(x > 0.0f)) return -1e30f;
  uint32_t u = FloatToBits(x);
  int e = static_cast<int>((u >> 23) & 0xff);
  if (e == 0) {  // subnormal: scale up by 2^23
    u = FloatToBits(x * 8388608.0f);
    e = static_cast<int>((u >> 23) & 0xff) - 23;
  }
  e -= 127;
  float m = BitsToFloat((u & 0x007fffffu) | 0x3f800000u);  // [1, 2)
  if (m > 1.41421356f) {
    m = m * 0.5f;
    e += 1;
  }
  const float t = (m - 1.0f) / (m + 1.0f);
  const float t2 = t * t;
  float s = 1.0f / 11.0f;
  s = s * t2 + 1.0f / 9.0f;
  s = s * t2 + 1.0f / 7.0f;
  s = s * t2 + 1.0f / 5.0f;
  s = s * t2 + 1.0f / 3.0f;
  s = s * t2 + 1.0f;
  const float lnm = 2.0f * t * s;
  const float fe = static_cast<float>(e);
  return fe * 0.693145751953125f + (fe * 1.428606765330187e-06f + lnm);
}

// p = softmax(x) over n values: max first, then e^(x - max) in index order,
// their sum in index order, then one division each.
PMKLC_HD void Softmax(const float* x, int n, float* p) {
  float mx = x[0];
  for (int i = 1; i < n; ++i) mx = x[i] > mx ? x[i] : mx;
  float sum = 0.0f;
  for (int i = 0; i < n; ++i) {
    p[i] = Exp(x[i] - mx);
    sum = sum + p[i];
  }
  const float inv = 1.0f / sum;
  for (int i = 0; i < n; ++i) p[i] = p[i] * inv;
}

}  // namespace pmklc::kernels::nn
