#include "engine/models/toknet_predictor.h"

namespace pmklc {

TokNetPredictor::TokNetPredictor(const kernels::TokNetShape& shape, const float* weights, float lr,
                                 bool learn_reverse) {
  const bool reverse = learn_reverse && lr > 0.0f;
  arena_.resize(kernels::TokNetArenaBytes(shape, lr > 0.0f, reverse) / sizeof(float) + 1);
  net_.Init(shape, weights, lr, reverse, reinterpret_cast<unsigned char*>(arena_.data()));
}

}  // namespace pmklc

namespace pmklc {

std::vector<float> TokNetInitialWeights(const kernels::TokNetShape& sh, uint64_t seed,
                                        float embed_scale, float out_scale) {
  std::vector<float> w(sh.weight_count(), 0.0f);
  uint64_t x = seed;
  auto next = [&x]() {
    x += 0x9e3779b97f4a7c15ull;
    uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    // [-1, 1) from the top 24 bits, exactly representable.
    return static_cast<float>(static_cast<int32_t>(z >> 40) - (1 << 23)) * (1.0f / 8388608.0f);
  };
  for (size_t i = 0; i < sh.embed_floats(); ++i) w[i] = next() * embed_scale;
  const size_t w2 = sh.w2_at(), n2 = size_t(sh.hidden) * sh.outputs();
  for (size_t i = 0; i < n2; ++i) w[w2 + i] = next() * out_scale;
  return w;
}

}  // namespace pmklc
