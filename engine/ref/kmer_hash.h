// kmer_hash.h — the k-mer hash of engine/ref (internal).
#pragma once

#include <cstdint>

namespace pmklc::ref {

// A 64-bit mix of a 2-bit-packed k-mer (splitmix64 finaliser).
inline uint64_t KmerHash(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace pmklc::ref
