// toknet_step.h — one token network (kernels/toknet.h) as a base predictor
// in flat state (issue #18): the schedule of engine/models/toknet_predictor.h
// (which wraps it on the CPU) as PMKLC_HD code that a GPU stream runs too.
//
// Forward and Update are the network step of kernels/toknet.h written once
// here; kernels/cpu/toknet.cc builds them for the CPU (dispatched AVX2 or
// baseline, the same bits) and a device compiles them as they are (nvcc
// --fmad=false). TokNet holds pointers into one arena laid out by
// TokNetArenaBytes: the input ring, the step's buffers, the reverse-strand
// ring, and a dynamic network's own weights (first, 64-byte aligned); a
// static network borrows its weights.
// Thread safety: one TokNet per stream; the functions are reentrant.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/hd.h"
#include "kernels/nn_math.h"
#include "kernels/toknet.h"

namespace pmklc::kernels {

// The network step (contract in kernels/toknet.h).
PMKLC_HD float TokDot8(const float* a, const float* b, int n) {
  float l[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int o = 0;
  for (; o + 8 <= n; o += 8)
    for (int j = 0; j < 8; ++j) l[j] = l[j] + a[o + j] * b[o + j];
  for (; o < n; ++o) l[o & 7] = l[o & 7] + a[o] * b[o];
  return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}

PMKLC_HD void TokForward(const TokNetShape& sh, const float* w, const uint32_t* tokens, float* h_pre, float* z,
                         float* probs) {
  const int H = sh.hidden, O = sh.outputs();
  const size_t rows = static_cast<size_t>(sh.vocab()) + 1;
  const float* b1 = w + sh.b1_at();
  for (int i = 0; i < H; ++i) h_pre[i] = b1[i];
  for (int c = 0; c < sh.ctx; ++c) {
    const float* e = w + (c * rows + tokens[c]) * H;
    for (int i = 0; i < H; ++i) h_pre[i] = h_pre[i] + e[i];
  }
  const float* b2 = w + sh.b2_at();
  for (int o = 0; o < O; ++o) z[o] = b2[o];
  const float* w2 = w + sh.w2_at();
  for (int i = 0; i < H; ++i) {
    const float hi = h_pre[i];
    if (!(hi > 0.0f)) continue;
    const float* r = w2 + static_cast<size_t>(i) * O;
    for (int o = 0; o < O; ++o) z[o] = z[o] + hi * r[o];
  }
  nn::Softmax(z, O, probs);
}

PMKLC_HD void TokUpdate(const TokNetShape& sh, float* w, const uint32_t* tokens, const float* h_pre,
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
    u[i] = lr * TokDot8(r, g, O);
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

// A base predictor's total: kPredictorOne of engine/models/predictor.h.
inline constexpr uint32_t kTokOne = 1u << 16;

// Bases one reverse-strand example reads (ctx*s + k), and the ring that
// holds them (a power of two).
PMKLC_HD size_t TokSpan(const TokNetShape& sh) { return static_cast<size_t>(sh.ctx) * sh.s + sh.k; }
PMKLC_HD size_t TokRing(const TokNetShape& sh) {
  size_t cap = 1;
  while (cap < TokSpan(sh)) cap <<= 1;
  return cap;
}

// Arena bytes of one network: own weights (dynamic), then the buffers.
PMKLC_HD size_t TokNetArenaBytes(const TokNetShape& sh, bool dynamic, bool reverse) {
  const size_t H = static_cast<size_t>(sh.hidden), O = static_cast<size_t>(sh.outputs()),
               C = static_cast<size_t>(sh.ctx);
  size_t b = dynamic ? Align64(sh.weight_count() * 4) : 0;
  b += Align64(C * 4) * 2;         // ring, in
  b += Align64(H * 4) * 2;         // h_pre, scratch
  b += Align64(O * 4) * 2;         // z, probs
  if (dynamic && reverse) b += Align64(TokRing(sh)) + Align64(C * 4) + Align64(O * 4);  // bases, rin, rprobs
  return b;
}

struct TokNet {
  TokNetShape sh;
  float lr;
  bool reverse;
  float* w;  // the arena's own weights (dynamic) or borrowed ones (static)
  uint64_t pos;
  uint32_t hist, prefix;
  int r;
  bool stepped;
  uint32_t *ring, *in;
  size_t head, filled;
  float *h_pre, *z, *probs, *scratch;
  uint8_t* bases;
  size_t bmask, span;
  uint32_t* rin;
  float* rprobs;

  // The arena's own weights (dynamic networks), where Init expects them
  // when `weights` is null (a device batch copies them in first).
  static PMKLC_HD float* OwnWeights(unsigned char* arena) { return reinterpret_cast<float*>(arena); }

  // lr > 0: dynamic, starting from `weights` (copied into the arena; null:
  // already there); lr == 0: static, `weights` borrowed.
  // The arena: TokNetArenaBytes(sh, lr > 0, reverse) bytes (need not be zeroed).
  PMKLC_HD void Init(const TokNetShape& shape, const float* weights, float rate, bool learn_reverse,
                     unsigned char* arena) {
    sh = shape;
    lr = rate;
    reverse = learn_reverse && rate > 0.0f;
    const size_t H = static_cast<size_t>(sh.hidden), O = static_cast<size_t>(sh.outputs()),
                 C = static_cast<size_t>(sh.ctx);
    unsigned char* p = arena;
    if (rate > 0.0f) {
      w = OwnWeights(arena);
      if (weights && weights != w)
        for (size_t i = 0; i < sh.weight_count(); ++i) w[i] = weights[i];
      p += Align64(sh.weight_count() * 4);
    } else {
      w = const_cast<float*>(weights);
    }
    ring = reinterpret_cast<uint32_t*>(p), p += Align64(C * 4);
    in = reinterpret_cast<uint32_t*>(p), p += Align64(C * 4);
    h_pre = reinterpret_cast<float*>(p), p += Align64(H * 4);
    scratch = reinterpret_cast<float*>(p), p += Align64(H * 4);
    z = reinterpret_cast<float*>(p), p += Align64(O * 4);
    probs = reinterpret_cast<float*>(p), p += Align64(O * 4);
    for (size_t c = 0; c < C; ++c) ring[c] = in[c] = static_cast<uint32_t>(sh.pad_token());
    bases = nullptr;
    rin = nullptr;
    rprobs = nullptr;
    bmask = span = 0;
    if (reverse) {
      span = TokSpan(sh);
      const size_t cap = TokRing(sh);
      bases = p, p += Align64(cap);
      for (size_t i = 0; i < cap; ++i) bases[i] = 0;
      bmask = cap - 1;
      rin = reinterpret_cast<uint32_t*>(p), p += Align64(C * 4);
      rprobs = reinterpret_cast<float*>(p), p += Align64(O * 4);
    }
    pos = 0;
    hist = prefix = 0;
    r = 0;
    stepped = false;
    head = filled = 0;
  }

  PMKLC_HD void Forward(const float* weights, const uint32_t* tokens, float* out_probs) {
#if defined(__CUDA_ARCH__)
    TokForward(sh, weights, tokens, h_pre, z, out_probs);
#else
    TokNetForwardCpu(sh, weights, tokens, h_pre, z, out_probs);
#endif
  }
  PMKLC_HD void Learn(const uint32_t* tokens, const float* p, int target) {
#if defined(__CUDA_ARCH__)
    TokUpdate(sh, w, tokens, h_pre, p, target, lr, scratch);
#else
    TokNetUpdateCpu(sh, w, tokens, h_pre, p, target, lr, scratch);
#endif
  }

  PMKLC_HD void StartStep() {
    const size_t n = static_cast<size_t>(sh.ctx);
    for (size_t c = 0; c < n; ++c) in[c] = c < filled ? ring[(head + n - c) % n] : static_cast<uint32_t>(sh.pad_token());
    Forward(w, in, probs);
    stepped = true;
  }

  PMKLC_HD void LearnReverse() {
    const int s = sh.s, k = sh.k;
    const size_t T = span - static_cast<size_t>(s);
    for (int c = 0; c < sh.ctx; ++c) {
      const size_t start = T - static_cast<size_t>(c) * s - k;
      uint32_t v = 0;
      for (int i = 0; i < k; ++i) v = (v << 2) | (3u - bases[(pos - 1 - (start + i)) & bmask]);
      rin[c] = v;
    }
    uint32_t y = 0;
    for (int i = 0; i < s; ++i) y = (y << 2) | (3u - bases[(pos - 1 - (T + i)) & bmask]);
    Forward(w, rin, rprobs);
    Learn(rin, rprobs, static_cast<int>(y));
  }

  // The distribution of the next base (values >= 1 summing to kTokOne).
  PMKLC_HD void Predict(uint32_t p[4]) {
    if (!stepped) StartStep();
    const int rest = sh.s - r - 1;  // bases of the step after this one
    const int sp = 1 << (2 * rest);
    float q[4];
    for (int x = 0; x < 4; ++x) {
      const float* src = probs + static_cast<size_t>(((prefix << 2) | static_cast<uint32_t>(x))) * sp;
      float sum = 0.0f;
      for (int j = 0; j < sp; ++j) sum = sum + src[j];
      q[x] = sum;
    }
    const float total = ((q[0] + q[1]) + (q[2] + q[3]));
    constexpr uint32_t kFree = kTokOne - 4;
    // A vanishing (or NaN) mass gives the uniform distribution: every float
    // to integer conversion below is of a value in [0, kFree] everywhere.
    if (!(total > 1e-30f) || !(total < 1e30f)) {
      p[0] = p[1] = p[2] = p[3] = kTokOne / 4;
      return;
    }
    const float scale = static_cast<float>(kFree) / total;
    uint32_t sum = 0;
    int best = 0;
    for (int x = 0; x < 4; ++x) {
      const float v = q[x] * scale;
      uint32_t u = v > 0.0f ? (v < static_cast<float>(kFree) ? static_cast<uint32_t>(v) : kFree) : 0u;
      if (u > kFree) u = kFree;
      p[x] = 1 + u;
      sum += p[x];
      if (q[x] > q[best]) best = x;
    }
    if (sum > kTokOne) p[best] -= sum - kTokOne;  // float rounding pushed the floors over
    else p[best] += kTokOne - sum;
  }

  PMKLC_HD void Update(int base) {
    if (!stepped) StartStep();  // the coder may skip Predict; keep the schedule
    const uint32_t b = static_cast<uint32_t>(base) & 3u;
    prefix = (prefix << 2) | b;
    ++r;
    if (reverse) bases[pos & bmask] = static_cast<uint8_t>(b);
    ++pos;
    const int k = sh.k;
    hist = ((hist << 2) | b) & ((1u << (2 * k)) - 1u);  // k <= 8 (TokNetShape::Valid)
    const size_t n = static_cast<size_t>(sh.ctx);
    if (pos >= static_cast<uint64_t>(k) && (pos - static_cast<uint64_t>(k)) % static_cast<uint64_t>(sh.s) == 0) {
      head = (head + 1) % n;
      ring[head] = hist;
      if (filled < n) ++filled;
    }
    if (r == sh.s) {
      if (lr > 0.0f) Learn(in, probs, static_cast<int>(prefix));
      if (reverse && pos >= span) LearnReverse();
      r = 0;
      prefix = 0;
      stepped = false;
    }
  }
};

}  // namespace pmklc::kernels
