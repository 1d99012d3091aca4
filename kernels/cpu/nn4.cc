// CPU variant of the 4-symbol network's step (kernels/nn4.h): ForwardRef and
// TrainRef with each hidden unit (W1) or base (W2) in a vector lane. Every
// lane does the scalar definition's IEEE operations in the same order (no
// FMA: the tree builds with -ffp-contract=off and the AVX2 clones do not
// enable FMA), so the bits are those of the reference; nn4_test checks it.
#include <cstring>

// (the vector helpers below are internal and inlined: no ABI is exposed)
#pragma GCC diagnostic ignored "-Wpsabi"

#include "kernels/nn4.h"

namespace pmklc::kernels::nn4 {

namespace {
typedef float V8 __attribute__((vector_size(32)));
typedef float V4 __attribute__((vector_size(16)));
static_assert(kHidden == 16);

template <class V>
inline V Load(const float* p) {
  V v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <class V>
inline void Store(float* p, V v) {
  std::memcpy(p, &v, sizeof v);
}
}  // namespace

__attribute__((target_clones("avx2", "default"))) void ForwardCpu(Net* n, const uint32_t* sq) {
  V8 a0 = {}, a1 = {};
  const float* w = n->w1;
  const float* x = n->x;
  for (int i = 0; i < n->nx; ++i, w += kHidden) {
    const float xi = x[i];
    a0 = a0 + Load<V8>(w) * xi;
    a1 = a1 + Load<V8>(w + 8) * xi;
  }
  float a[kHidden];
  Store(a, a0);
  Store(a + 8, a1);
  V4 z = {0.0f, 0.0f, 0.0f, 0.0f};
  for (int j = 0; j < kHidden; ++j) {
    const float hj = Sig(a[j], sq);
    n->h[j] = hj;
    z = z + Load<V4>(&n->w2[j * 4]) * hj;
  }
  z = z + Load<V4>(&n->w2[kHidden * 4]);
  for (int s = 0; s < 4; ++s) n->y[s] = Sig(z[s], sq);
}

__attribute__((target_clones("avx2", "default"))) void TrainCpu(Net* n, int base) {
  const float lr = n->lr;
  float d1[4];
  for (int s = 0; s < 4; ++s) {
    const float y = n->y[s];
    d1[s] = (y * (1.0f - y)) * ((s == base ? 1.0f : 0.0f) - y);
  }
  const V4 dv = Load<V4>(d1);
  float d2[kHidden];
  for (int j = 0; j < kHidden; ++j) {
    const float hj = n->h[j];
    const V4 wj = Load<V4>(&n->w2[j * 4]);
    const V4 prod = wj * dv;
    const float e = (((0.0f + prod[0]) + prod[1]) + prod[2]) + prod[3];
    Store(&n->w2[j * 4], wj + dv * (lr * hj));
    d2[j] = (e * hj) * (1.0f - hj);
  }
  Store(&n->w2[kHidden * 4], Load<V4>(&n->w2[kHidden * 4]) + dv * lr);
  const V8 d0 = Load<V8>(d2), d8 = Load<V8>(d2 + 8);
  float* w = n->w1;
  const float* x = n->x;
  for (int i = 0; i < n->nx; ++i, w += kHidden) {
    const float a = lr * x[i];
    Store(w, Load<V8>(w) + d0 * a);
    Store(w + 8, Load<V8>(w + 8) + d8 * a);
  }
}

}  // namespace pmklc::kernels::nn4
