// nn4.h — the 4-symbol network mixer of the nucleotide coder (`max`,
// CmParams::nn_hidden, params variant 4; issue #17), one definition compiled
// for the CPU and (under nvcc) for CUDA devices.
//
// Once per base, a network reads nx input features (built by the caller into
// Net::x, see engine/models/nucleotide_cm.cc) and predicts the four bases:
//   a_j = sum_i x_i W1[i][j]          (i ascending, from 0.0f)
//   h_j = Sig(a_j)                    (j < kHidden)
//   z_s = sum_j h_j W2[j][s]          (j ascending, from 0.0f), then + W2[kHidden][s]
//   y_s = Sig(z_s)
// and is trained once the base b is known, on the squared error, by SGD at
// rate lr (JARVIS3's form):
//   d1_s = (y_s (1 - y_s)) ((s == b) - y_s)
//   for j ascending: e_j = sum_s W2[j][s] d1_s (s ascending, from 0.0f);
//                    W2[j][s] += (lr h_j) d1_s;  d2_j = (e_j h_j) (1 - h_j)
//   W2[kHidden][s] += lr d1_s
//   W1[i][j] += (lr x_i) d2_j
// Sig(v) = squash(trunc(clamp(v * 256, +-2047))) / 65536 with the coder's
// integer squash table (16-bit probabilities of a logit in 1/256 units; NaN
// reads as 0). Every float operation is one IEEE binary32 add, multiply or
// divide in the order written (the tree builds with -ffp-contract=off, nvcc
// with --fmad=false): the same bits on every CPU, build and GPU. The CPU
// build computes the 16 hidden lanes with vector extensions, lane-wise, which
// is the same arithmetic in the same order per lane.
//
// Init: W1 and W2 from a 64-bit LCG (seed 12345): u = (z >> 40) & 0xffffff,
// w = (u / 2^24 * 2 - 1) * scale, scale 0.25 for W1, 0.5 for W2, W1 first
// (row-major), then W2.
// Thread safety: a Net belongs to one coder; the functions are reentrant.
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/common/status.h"
#include "kernels/hd.h"

namespace pmklc::kernels::nn4 {

inline constexpr int kHidden = 16;
inline constexpr int kMaxInputs = 240;

struct Net {
  int nx = 0;              // inputs in use (<= kMaxInputs)
  float lr = 0.03f;        // SGD rate
  alignas(64) float w1[kMaxInputs * kHidden];  // W1[i][j] at i * kHidden + j
  alignas(64) float w2[(kHidden + 1) * 4];     // W2[j][s] at j * 4 + s; row kHidden: output bias
  alignas(64) float x[kMaxInputs];             // this base's inputs (the caller fills x[0..nx))
  alignas(64) float h[kHidden];
  float y[4];
};

// The sigmoid through the squash table sq (4095 entries, logit -2047..2047).
PMKLC_HD float Sig(float v, const uint32_t* sq) {
  v = v * 256.0f;
  if (!(v == v)) v = 0.0f;
  v = v > 2047.0f ? 2047.0f : (v < -2047.0f ? -2047.0f : v);
  return static_cast<float>(sq[static_cast<int>(v) + 2047]) * (1.0f / 65536.0f);
}

// The next value in [-1, 1) of the initial weights' LCG.
PMKLC_HD float InitRandom(uint64_t* z) {
  *z = *z * 6364136223846793005ull + 1442695040888963407ull;
  return static_cast<float>((*z >> 40) & 0xffffff) * (1.0f / 16777216.0f) * 2.0f - 1.0f;
}

PMKLC_HD void Init(Net* n, int nx) {
  n->nx = nx;
  uint64_t z = 12345;
  for (int i = 0; i < kMaxInputs * kHidden; ++i) n->w1[i] = i < nx * kHidden ? InitRandom(&z) * 0.25f : 0.0f;
  for (int i = 0; i < (kHidden + 1) * 4; ++i) n->w2[i] = InitRandom(&z) * 0.5f;
  for (int i = 0; i < kMaxInputs; ++i) n->x[i] = 0.0f;
  for (int j = 0; j < kHidden; ++j) n->h[j] = 0.0f;
  for (int s = 0; s < 4; ++s) n->y[s] = 0.25f;
}

// The reference definition of one step: scalar, in the order stated above.
// CUDA runs these; the CPU runs ForwardCpu and TrainCpu (kernels/cpu/nn4.cc),
// the same operations lane-wise in vector registers, which a test checks bit
// for bit against these.
PMKLC_HD void ForwardRef(Net* n, const uint32_t* sq) {
  const int nx = n->nx;
  for (int j = 0; j < kHidden; ++j) n->h[j] = 0.0f;
  for (int i = 0; i < nx; ++i) {
    const float xi = n->x[i];
    for (int j = 0; j < kHidden; ++j) n->h[j] = n->h[j] + n->w1[i * kHidden + j] * xi;
  }
  float z[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  for (int j = 0; j < kHidden; ++j) {
    const float hj = Sig(n->h[j], sq);
    n->h[j] = hj;
    for (int s = 0; s < 4; ++s) z[s] = z[s] + n->w2[j * 4 + s] * hj;
  }
  for (int s = 0; s < 4; ++s) n->y[s] = Sig(z[s] + n->w2[kHidden * 4 + s], sq);
}

PMKLC_HD void TrainRef(Net* n, int base) {
  const float lr = n->lr;
  float d1[4];
  for (int s = 0; s < 4; ++s) {
    const float y = n->y[s];
    d1[s] = (y * (1.0f - y)) * ((s == base ? 1.0f : 0.0f) - y);
  }
  float d2[kHidden];
  for (int j = 0; j < kHidden; ++j) {
    float e = 0.0f;
    const float hj = n->h[j];
    const float a = lr * hj;
    for (int s = 0; s < 4; ++s) {
      e = e + n->w2[j * 4 + s] * d1[s];
      n->w2[j * 4 + s] = n->w2[j * 4 + s] + a * d1[s];
    }
    d2[j] = (e * hj) * (1.0f - hj);
  }
  for (int s = 0; s < 4; ++s) n->w2[kHidden * 4 + s] = n->w2[kHidden * 4 + s] + lr * d1[s];
  for (int i = 0; i < n->nx; ++i) {
    const float a = lr * n->x[i];
    for (int j = 0; j < kHidden; ++j) n->w1[i * kHidden + j] = n->w1[i * kHidden + j] + d2[j] * a;
  }
}

#if !defined(__CUDACC__)
void ForwardCpu(Net* n, const uint32_t* sq);
void TrainCpu(Net* n, int base);
#endif

// One step: the network's prediction y from x (and h for Train).
PMKLC_HD void Forward(Net* n, const uint32_t* sq) {
#if defined(__CUDACC__)
  ForwardRef(n, sq);
#else
  ForwardCpu(n, sq);
#endif
}

// The SGD step once the base (0..3) is known; after Forward on the same x.
PMKLC_HD void Train(Net* n, int base) {
#if defined(__CUDACC__)
  TrainRef(n, base);
#else
  TrainCpu(n, base);
#endif
}

#if !defined(__CUDACC__)
// One step of n independent networks on the GPU (kernels/cuda/nn4.cu; one
// CUDA thread a network): Forward on each net's x, then Train with
// bases[i]. sq: the squash table (4095 entries). The nets are copied to the
// device and back. NotSupported without a CUDA build or a GPU; the bits are
// those of the CPU's Forward and Train (Nn4.CudaMatchesCpuBitForBit).
[[nodiscard]] Status StepCuda(Net* nets, size_t n, const uint32_t* sq, const uint8_t* bases);
#endif

}  // namespace pmklc::kernels::nn4
