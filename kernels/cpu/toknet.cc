// CPU variant of the token-network kernels (contract in kernels/toknet.h).
// The loops over hidden units and outputs are element-wise (vectorisable
// without reordering any sum); the one reduction, Dot8, keeps 8 explicit
// lanes so its order is fixed whatever the compiler does.
#include "kernels/toknet.h"

#include <algorithm>

#include "kernels/nn_math.h"
#include "kernels/toknet_step.h"

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

}  // namespace

// (the bodies are kernels/toknet_step.h's, inlined into each clone)
PMKLC_MULTIVERSION void TokNetForwardCpu(const TokNetShape& sh, const float* w, const uint32_t* tokens, float* h_pre,
                                         float* z, float* probs) {
  TokForward(sh, w, tokens, h_pre, z, probs);
}

PMKLC_MULTIVERSION void TokNetUpdateCpu(const TokNetShape& sh, float* w, const uint32_t* tokens, const float* h_pre,
                                        const float* probs, int target, float lr, float* scratch) {
  TokUpdate(sh, w, tokens, h_pre, probs, target, lr, scratch);
}

}  // namespace pmklc::kernels
