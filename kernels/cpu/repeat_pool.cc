// The repeat pool's integer tables (kernels/repeat_pool.h), built on the host.
#include <bit>

#include "kernels/repeat_pool.h"

namespace pmklc::kernels::pool {

namespace {

using u128 = unsigned __int128;

// 256 * log2(x) for 1 <= x < 2^62, by repeated squaring (integer only).
int32_t Log2Q8(uint64_t x) {
  const int e = 63 - std::countl_zero(x);
  u128 m = static_cast<u128>(x) << (62 - e);  // [1, 2) in Q62
  int32_t r = e * 256;
  for (int b = 128; b >= 1; b >>= 1) {
    m = (m * m) >> 62;
    if (m >= (u128{1} << 63)) {
      r += b;
      m >>= 1;
    }
  }
  return r;
}

}  // namespace

void BuildPoolTables(PoolTables* t) {
  for (int n = 0; n < 256; ++n) t->recip[n] = 131072 / (2 * n + 3);
  for (uint32_t i = 0; i < 4096; ++i) t->log2p[i] = static_cast<int16_t>(Log2Q8(16 * i + 8) - 16 * 256);
  for (int f = 0; f < 256; ++f) {
    // Meant as the largest y (Q32) with y^256 <= 2^-f, by bisection (8
    // squarings each). The values are part of the format (they weight the
    // candidates), and they are not that: y^256 underflows Q32 beyond
    // f = 32 (exp2[f] stays 60096 from there), and the first shipped code
    // shifted by f itself, which C++ leaves undefined from 128 on and
    // which x86 compilers computed as a shift by f mod 128 (exp2[128] =
    // 65535 again). The shift is written mod 128 so that every compiler
    // and flag set computes exactly those shipped values. (A true 2^-f/256
    // table codes human chrX and E. coli within 0.03% of this one.)
    uint64_t lo = 0, hi = uint64_t{1} << 32;
    while (hi - lo > 1) {
      const uint64_t mid = (lo + hi) / 2;
      u128 y = mid;
      for (int s = 0; s < 8; ++s) y = (y * y) >> 32;
      if (y <= (u128{1} << 32) >> (f & 127)) lo = mid;
      else hi = mid;
    }
    t->exp2[f] = static_cast<uint32_t>(lo >> 16);
  }
}

}  // namespace pmklc::kernels::pool

#include <cstring>
#include <memory>
#include <vector>

namespace pmklc::kernels::pool {

void RunCpu(const PoolParams& p, const uint8_t* codes, size_t streams, size_t n, uint32_t* trace) {
  auto t = std::make_unique<PoolTables>();
  BuildPoolTables(t.get());
  const PoolLayout l = PoolLayoutFor(p);
  for (size_t i = 0; i < streams; ++i) {
    std::vector<uint32_t> index(l.index_bytes / 4, 0);
    std::vector<Cand> cand(p.capacity);
    std::vector<uint64_t> set(l.set_mask + 1, 0);
    std::vector<uint8_t> seq(n);
    auto s = std::make_unique<PoolState>();
    PoolInit(s.get(), p, index.data(), cand.data(), set.data());
    RunOne(s.get(), t.get(), codes + i * n, n, seq.data(), trace + i * n);
  }
}

}  // namespace pmklc::kernels::pool
