// CPU variant of the token-network kernels (contract in kernels/toknet.h).
// The loops over hidden units and outputs are element-wise (vectorisable
// without reordering any sum); the one reduction, Dot8, keeps 8 explicit
// lanes so its order is fixed whatever the compiler does.
#include "kernels/toknet.h"

#include <algorithm>

#include "kernels/nn_math.h"

namespace pmklc::kernels {

size_t TokenCount(size_t n, int s, int k) {
  if (n == 0) return 0;
  if (n <= static_cast<size_t>(k)) return 1;
  return (n - k + s - 1) / s + 1;
}

void TokenizeCpu(const uint8_t* codes, size_t n, int s, int k, uint32_t* tokens) {
  const size_t t = TokenCount(n, s, k);
  for (size_t j = 0; j < t; ++j) {
    uint32_t v = 0;
    for (int i = 0; i < k; ++i) {
      const size_t p = j * s + i;
      v = (v << 2) | (p < n ? (codes[p] & 3u) : 0u);
    }
    tokens[j] = v;
  }
}

void DetokenizeCpu(const uint32_t* tokens, size_t n, int s, int k, uint8_t* codes) {
  const size_t t = TokenCount(n, s, k);
  for (size_t j = 0; j < t; ++j)
    for (int i = 0; i < k; ++i) {
      const size_t p = j * s + i;
      if (p < n) codes[p] = static_cast<uint8_t>((tokens[j] >> (2 * (k - 1 - i))) & 3);
    }
}

namespace {

// The step kernels are built twice, for AVX2 and the baseline, and picked at
// run time. Both compute the same bits: no FMA (-ffp-contract=off, and the
// avx2 target does not enable fma), and every sum runs in source order (the
// vectorised loops are element-wise; Dot8 has explicit lanes). The
// determinism test builds the baseline alone (PMKLC_NO_MULTIVERSION) and
// compares it with the dispatched build.
#if defined(__x86_64__) && !defined(PMKLC_NO_MULTIVERSION)
#define PMKLC_MULTIVERSION __attribute__((target_clones("avx2", "default")))
#else
#define PMKLC_MULTIVERSION
#endif

inline float Dot8(const float* a, const float* b, int n) {
  float l[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int o = 0;
  for (; o + 8 <= n; o += 8)
    for (int j = 0; j < 8; ++j) l[j] = l[j] + a[o + j] * b[o + j];
  for (; o < n; ++o) l[o & 7] = l[o & 7] + a[o] * b[o];
  return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}

}  // namespace

PMKLC_MULTIVERSION void TokNetForwardCpu(const TokNetShape& sh, const float* w, const uint32_t* tokens, float* h_pre,
                      float* z, float* probs) {
  const int H = sh.hidden, O = sh.outputs();
  const size_t rows = static_cast<size_t>(sh.vocab()) + 1;
  std::copy(w + sh.b1_at(), w + sh.b1_at() + H, h_pre);
  for (int c = 0; c < sh.ctx; ++c) {
    const float* e = w + (c * rows + tokens[c]) * H;
    for (int i = 0; i < H; ++i) h_pre[i] = h_pre[i] + e[i];
  }
  std::copy(w + sh.b2_at(), w + sh.b2_at() + O, z);
  const float* w2 = w + sh.w2_at();
  for (int i = 0; i < H; ++i) {
    const float hi = h_pre[i];
    if (!(hi > 0.0f)) continue;
    const float* r = w2 + static_cast<size_t>(i) * O;
    for (int o = 0; o < O; ++o) z[o] = z[o] + hi * r[o];
  }
  nn::Softmax(z, O, probs);
}

PMKLC_MULTIVERSION void TokNetUpdateCpu(const TokNetShape& sh, float* w, const uint32_t* tokens, const float* h_pre,
                     const float* probs, int target, float lr, float* scratch) {
  const int H = sh.hidden, O = sh.outputs();
  const size_t rows = static_cast<size_t>(sh.vocab()) + 1;
  float g[256];  // outputs <= 4^4
  for (int o = 0; o < O; ++o) g[o] = probs[o];
  g[target] = g[target] - 1.0f;
  float* w2 = w + sh.w2_at();
  float* u = scratch;
  for (int i = 0; i < H; ++i) {
    const float hi = h_pre[i];
    if (!(hi > 0.0f)) {
      u[i] = 0.0f;
      continue;
    }
    float* r = w2 + static_cast<size_t>(i) * O;
    u[i] = lr * Dot8(r, g, O);
    const float a = lr * hi;
    for (int o = 0; o < O; ++o) r[o] = r[o] - a * g[o];
  }
  float* b2 = w + sh.b2_at();
  for (int o = 0; o < O; ++o) b2[o] = b2[o] - lr * g[o];
  for (int c = 0; c < sh.ctx; ++c) {
    float* e = w + (c * rows + tokens[c]) * H;
    for (int i = 0; i < H; ++i) e[i] = e[i] - u[i];
  }
  float* b1 = w + sh.b1_at();
  for (int i = 0; i < H; ++i) b1[i] = b1[i] - u[i];
}

}  // namespace pmklc::kernels
