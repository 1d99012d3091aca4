// kmer_hash.h — the k-mer hash of engine/ref (internal).
#pragma once

#include <cstdint>

namespace pmklc::ref {

// The canonical k-mer (the smaller of the forward and reverse-complement
// 2-bit packings) ending at each base pushed; state carries across chunks.
template <int K>
struct CanonicalKmers {
  static_assert(K >= 1 && K <= 32);
  uint64_t fw = 0, rc = 0;
  int have = 0;
  // Pushes one code (0..3); true and *canon set once K bases are in.
  bool Push(uint8_t code, uint64_t* canon) {
    constexpr uint64_t mask = K == 32 ? ~uint64_t{0} : (uint64_t{1} << (2 * K)) - 1;
    const uint64_t b = code & 3;
    fw = ((fw << 2) | b) & mask;
    rc = (rc >> 2) | ((3 - b) << (2 * (K - 1)));
    if (have < K) ++have;
    if (have < K) return false;
    *canon = fw < rc ? fw : rc;
    return true;
  }
};

// A 64-bit mix of a 2-bit-packed k-mer (splitmix64 finaliser).
inline uint64_t KmerHash(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace pmklc::ref
