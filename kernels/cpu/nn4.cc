// CPU variant of the 4-symbol network's step (kernels/nn4.h): ForwardRef and
// TrainRef with each hidden unit (W1) or base (W2) in a vector lane. Every
// lane does the scalar definition's IEEE operations in the same order (no
// FMA: the tree builds with -ffp-contract=off and the AVX2 clones do not
// enable FMA), so the bits are those of the reference; nn4_test checks it.
#include <cstring>

#include "kernels/nn4.h"

namespace pmklc::kernels::nn4 {

namespace {
typedef float V8 __attribute__((vector_size(32)));
typedef float V4 __attribute__((vector_size(16)));
static_assert(kHidden == 16);

// (loads and stores by memcpy in the loop bodies themselves: a helper that
// returned a 32-byte vector would have a different ABI in the clones)
#define PMKLC_LOAD(v, p) std::memcpy(&(v), (p), sizeof(v))
#define PMKLC_STORE(p, v) std::memcpy((p), &(v), sizeof(v))
}  // namespace

__attribute__((target_clones("avx2", "default"))) void ForwardCpu(Net* n, const uint32_t* sq) {
  V8 a0 = {}, a1 = {};
  const float* w = n->w1;
  const float* x = n->x;
  for (int i = 0; i < n->nx; ++i, w += kHidden) {
    const float xi = x[i];
    V8 w0, w1;
    PMKLC_LOAD(w0, w);
    PMKLC_LOAD(w1, w + 8);
    a0 = a0 + w0 * xi;
    a1 = a1 + w1 * xi;
  }
  float a[kHidden];
  PMKLC_STORE(a, a0);
  PMKLC_STORE(a + 8, a1);
  V4 z = {0.0f, 0.0f, 0.0f, 0.0f};
  for (int j = 0; j < kHidden; ++j) {
    const float hj = Sig(a[j], sq);
    n->h[j] = hj;
    V4 w;
    PMKLC_LOAD(w, &n->w2[j * 4]);
    z = z + w * hj;
  }
  V4 b;
  PMKLC_LOAD(b, &n->w2[kHidden * 4]);
  z = z + b;
  for (int s = 0; s < 4; ++s) n->y[s] = Sig(z[s], sq);
}

__attribute__((target_clones("avx2", "default"))) void TrainCpu(Net* n, int base) {
  const float lr = n->lr;
  float d1[4];
  for (int s = 0; s < 4; ++s) {
    const float y = n->y[s];
    d1[s] = (y * (1.0f - y)) * ((s == base ? 1.0f : 0.0f) - y);
  }
  V4 dv;
  PMKLC_LOAD(dv, d1);
  float d2[kHidden];
  for (int j = 0; j < kHidden; ++j) {
    const float hj = n->h[j];
    V4 wj;
    PMKLC_LOAD(wj, &n->w2[j * 4]);
    const V4 prod = wj * dv;
    const float e = (((0.0f + prod[0]) + prod[1]) + prod[2]) + prod[3];
    const V4 nw = wj + dv * (lr * hj);
    PMKLC_STORE(&n->w2[j * 4], nw);
    d2[j] = (e * hj) * (1.0f - hj);
  }
  V4 b;
  PMKLC_LOAD(b, &n->w2[kHidden * 4]);
  b = b + dv * lr;
  PMKLC_STORE(&n->w2[kHidden * 4], b);
  V8 d0, d8;
  PMKLC_LOAD(d0, d2);
  PMKLC_LOAD(d8, d2 + 8);
  float* w = n->w1;
  const float* x = n->x;
  for (int i = 0; i < n->nx; ++i, w += kHidden) {
    const float a = lr * x[i];
    V8 w0, w1;
    PMKLC_LOAD(w0, w);
    PMKLC_LOAD(w1, w + 8);
    w0 = w0 + d0 * a;
    w1 = w1 + d8 * a;
    PMKLC_STORE(w, w0);
    PMKLC_STORE(w + 8, w1);
  }
}

}  // namespace pmklc::kernels::nn4
