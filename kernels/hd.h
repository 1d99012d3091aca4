// hd.h — PMKLC_HD marks a function compiled for the CPU and, under nvcc,
// for CUDA devices too (one definition for both variants of a kernel), and
// the few helpers such code needs that differ between the two.
#pragma once

#include <cstddef>
#include <cstdint>

#if defined(__CUDACC__)
#define PMKLC_HD __host__ __device__ __forceinline__
#else
#define PMKLC_HD inline
#endif

// A cache hint (no effect on results): none on a device.
#if defined(__CUDA_ARCH__)
#define PMKLC_PREFETCH(a) ((void)(a))
#else
#define PMKLC_PREFETCH(a) __builtin_prefetch((a), 1, 3)
#endif

namespace pmklc::kernels {

PMKLC_HD int Popcount32(uint32_t x) {
#if defined(__CUDA_ARCH__)
  return __popc(x);
#else
  return __builtin_popcount(x);
#endif
}

PMKLC_HD int Popcount64(uint64_t x) {
#if defined(__CUDA_ARCH__)
  return __popcll(x);
#else
  return __builtin_popcountll(x);
#endif
}

// x rounded up to a multiple of 64 (arena offsets).
PMKLC_HD size_t Align64(size_t x) { return (x + 63) & ~size_t{63}; }

// The coders' 64-bit mixing hash of x, salted by k (context tables, k-mer
// indexes); its values are part of the formats.
PMKLC_HD uint64_t Hash64(uint64_t x, uint64_t k) {
  x = (x + k) * 0x9E3779B97F4A7C15ull;
  x ^= x >> 29;
  x *= 0xBF58476D1CE4E5B9ull;
  return x ^ (x >> 32);
}

// Leading zero bits of x != 0.
PMKLC_HD int Clz64(uint64_t x) {
#if defined(__CUDA_ARCH__)
  return __clzll(static_cast<long long>(x));
#else
  return __builtin_clzll(x);
#endif
}

}  // namespace pmklc::kernels
