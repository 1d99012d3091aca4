// toknet.h — the kernels of the (s,k)-mer token network shared by the
// static public (SPuM), static private (SPrM) and dynamic (DM) models:
// the (s,k)-mer tokenizer and one network step (forward; backward + SGD
// update). Declared once; a CPU variant and a CUDA variant that produce
// bit-identical results (kernels/cpu/toknet.cc, kernels/cuda/toknet.cu).
//
// Tokens. With window k and step s (1 <= s <= k <= 8), token j of a stream of
// n base codes (0..3) is the k bases starting at j*s packed high base first:
// sum_i b[j*s + i] << 2(k-1-i); positions >= n read as 0. A stream of n > 0
// bases has TokenCount(n, s, k) = ceil((n - k) / s) + 1 tokens (1 if n <= k),
// and since s <= k every base lies in some token, so Detokenize restores the
// n bases exactly (lossless for every s <= k; s > k is refused by callers).
//
// Network (shape: k, s, ctx, hidden). Inputs: the ctx newest complete tokens
// before a step (newest first; kPadToken where the stream has none yet).
// Weights, one float array in this order:
//   E   [ctx][vocab + 1][hidden]  per-position embedding folded into layer 1
//   b1  [hidden]
//   W2T [hidden][outputs]         output layer, transposed
//   b2  [outputs]
// vocab = 4^k, outputs = 4^s (the s bases the step predicts).
//   h_pre = b1 + sum_c E[c][tok_c]     (c ascending)
//   h     = max(h_pre, 0)
//   z     = b2 + sum_{i: h_i > 0} h_i W2T[i]   (i ascending)
//   p     = Softmax(z)                          (kernels/nn_math.h)
// Update(target y, rate lr): g = p - onehot(y);
//   for i with h_pre_i > 0: d_i = Dot8(W2T[i], g); W2T[i] -= (lr h_i) g
//   b2 -= lr g; u = lr d; E[c][tok_c] -= u for each c; b1 -= u.
// Dot8 sums products into 8 lanes (lane o mod 8, o ascending) and adds the
// lanes as ((l0+l1)+(l2+l3))+((l4+l5)+(l6+l7)). Every operation is a single
// IEEE binary32 add or multiply in this order (no FMA), hence the same bits on
// every CPU, build and GPU.
// Thread safety: the functions are reentrant; callers own the buffers.
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/common/status.h"
#include "kernels/hd.h"

namespace pmklc::kernels {

struct TokNetShape {
  int k = 3;         // token window (bases)
  int s = 3;         // token step (bases); 1 <= s <= k
  int ctx = 16;      // input tokens
  int hidden = 128;  // hidden units, a multiple of 8

  PMKLC_HD int vocab() const { return 1 << (2 * k); }
  PMKLC_HD int outputs() const { return 1 << (2 * s); }
  PMKLC_HD int pad_token() const { return vocab(); }
  PMKLC_HD size_t embed_floats() const { return size_t(ctx) * (vocab() + 1) * hidden; }
  PMKLC_HD size_t weight_count() const {
    return embed_floats() + hidden + size_t(hidden) * outputs() + outputs();
  }
  // Offsets into the weight array.
  PMKLC_HD size_t b1_at() const { return embed_floats(); }
  PMKLC_HD size_t w2_at() const { return b1_at() + hidden; }
  PMKLC_HD size_t b2_at() const { return w2_at() + size_t(hidden) * outputs(); }
  PMKLC_HD bool Valid() const {
    return k >= 1 && k <= 8 && s >= 1 && s <= k && s <= 4 && ctx >= 1 && ctx <= 256 &&
           hidden >= 8 && hidden <= 4096 && hidden % 8 == 0;
  }
};

size_t TokenCount(size_t n, int s, int k);
void TokenizeCpu(const uint8_t* codes, size_t n, int s, int k, uint32_t* tokens);
// Restores n codes from TokenCount(n, s, k) tokens.
void DetokenizeCpu(const uint32_t* tokens, size_t n, int s, int k, uint8_t* codes);
// CUDA variant; NotSupported without CUDA or without a GPU.
Status TokenizeCuda(const uint8_t* codes, size_t n, int s, int k, uint32_t* tokens);

// One forward step. tokens: ctx values in [0, vocab] (vocab = pad). Writes
// h_pre[hidden], probs[outputs]; z is scratch [outputs].
void TokNetForwardCpu(const TokNetShape& sh, const float* w, const uint32_t* tokens, float* h_pre,
                      float* z, float* probs);
// Backward + SGD update of w for the step whose forward gave h_pre and probs,
// whose true outcome was `target` (0 .. outputs-1). scratch: [hidden].
void TokNetUpdateCpu(const TokNetShape& sh, float* w, const uint32_t* tokens, const float* h_pre,
                     const float* probs, int target, float lr, float* scratch);

// CUDA variant for `batch` independent streams, each with its own weights
// (w: batch * weight_count floats, updated in place), run for `steps` steps:
// stream b's step t reads tokens[(b * steps + t) * ctx ...], predicts, writes
// probs[(b * steps + t) * outputs ...], then updates with targets[b * steps + t]
// (when lr > 0). Host pointers; NotSupported without CUDA or without a GPU.
Status TokNetRunCuda(const TokNetShape& sh, float* w, int batch, int steps, const uint32_t* tokens,
                     const int32_t* targets, float lr, float* probs);

}  // namespace pmklc::kernels
