#include "engine/models/toknet_predictor.h"

namespace pmklc {

TokNetPredictor::TokNetPredictor(const kernels::TokNetShape& shape, const float* weights, float lr,
                                 bool learn_reverse)
    : shape_(shape), lr_(lr), reverse_(learn_reverse && lr > 0.0f) {
  if (lr_ > 0.0f) {
    own_.assign(weights, weights + shape_.weight_count());
    w_ = own_.data();
  } else {
    w_ = weights;
  }
  ring_.assign(shape_.ctx, shape_.pad_token());
  in_.assign(shape_.ctx, shape_.pad_token());
  h_pre_.resize(shape_.hidden);
  scratch_.resize(shape_.hidden);
  z_.resize(shape_.outputs());
  probs_.resize(shape_.outputs());
  if (reverse_) {
    span_ = static_cast<size_t>(shape_.ctx) * shape_.s + shape_.k;
    size_t cap = 1;
    while (cap < span_) cap <<= 1;
    bases_.assign(cap, 0);
    rin_.assign(shape_.ctx, 0);
    rprobs_.resize(shape_.outputs());
  }
}

void TokNetPredictor::LearnReverse() {
  const size_t mask = bases_.size() - 1;
  const int s = shape_.s, k = shape_.k;
  auto r = [&](size_t j) -> uint32_t { return 3u - bases_[(pos_ - 1 - j) & mask]; };
  const size_t T = span_ - static_cast<size_t>(s);
  for (int c = 0; c < shape_.ctx; ++c) {
    const size_t start = T - static_cast<size_t>(c) * s - k;
    uint32_t v = 0;
    for (int i = 0; i < k; ++i) v = (v << 2) | r(start + i);
    rin_[c] = v;
  }
  uint32_t y = 0;
  for (int i = 0; i < s; ++i) y = (y << 2) | r(T + i);
  kernels::TokNetForwardCpu(shape_, own_.data(), rin_.data(), h_pre_.data(), z_.data(), rprobs_.data());
  kernels::TokNetUpdateCpu(shape_, own_.data(), rin_.data(), h_pre_.data(), rprobs_.data(), static_cast<int>(y), lr_,
                           scratch_.data());
}

void TokNetPredictor::StartStep() {
  const size_t n = ring_.size();
  for (size_t c = 0; c < n; ++c) in_[c] = c < filled_ ? ring_[(head_ + n - c) % n] : shape_.pad_token();
  kernels::TokNetForwardCpu(shape_, w_, in_.data(), h_pre_.data(), z_.data(), probs_.data());
  stepped_ = true;
}

void TokNetPredictor::Predict(uint32_t p[4]) {
  if (!stepped_) StartStep();
  const int rest = shape_.s - r_ - 1;  // bases of the step after this one
  const int span = 1 << (2 * rest);
  float q[4];
  for (int x = 0; x < 4; ++x) {
    const float* src = probs_.data() + static_cast<size_t>(((prefix_ << 2) | x)) * span;
    float sum = 0.0f;
    for (int j = 0; j < span; ++j) sum = sum + src[j];
    q[x] = sum;
  }
  const float total = ((q[0] + q[1]) + (q[2] + q[3]));
  constexpr uint32_t kFree = kPredictorOne - 4;
  // A vanishing (or NaN) mass gives the uniform distribution: every float to
  // integer conversion below is of a value in [0, kFree] on every machine.
  if (!(total > 1e-30f) || !(total < 1e30f)) {
    p[0] = p[1] = p[2] = p[3] = kPredictorOne / 4;
    return;
  }
  const float scale = static_cast<float>(kFree) / total;
  uint32_t sum = 0;
  int best = 0;
  for (int x = 0; x < 4; ++x) {
    float v = q[x] * scale;
    uint32_t u = v > 0.0f ? (v < static_cast<float>(kFree) ? static_cast<uint32_t>(v) : kFree) : 0u;
    if (u > kFree) u = kFree;
    p[x] = 1 + u;
    sum += p[x];
    if (q[x] > q[best]) best = x;
  }
  if (sum > kPredictorOne) {  // float rounding pushed the floors over; take from the largest
    p[best] -= sum - kPredictorOne;
  } else {
    p[best] += kPredictorOne - sum;
  }
}

void TokNetPredictor::Update(int base) {
  if (!stepped_) StartStep();  // the coder may skip Predict; keep the schedule
  const uint32_t b = static_cast<uint32_t>(base) & 3u;
  prefix_ = (prefix_ << 2) | b;
  ++r_;
  if (reverse_) bases_[pos_ & (bases_.size() - 1)] = static_cast<uint8_t>(b);
  ++pos_;
  const int k = shape_.k;
  hist_ = ((hist_ << 2) | b) & ((1u << (2 * k)) - 1u);  // k <= 8 (TokNetShape::Valid)
  if (pos_ >= static_cast<uint64_t>(k) && (pos_ - k) % shape_.s == 0) {
    head_ = (head_ + 1) % ring_.size();
    ring_[head_] = hist_;
    if (filled_ < ring_.size()) ++filled_;
  }
  if (r_ == shape_.s) {
    if (lr_ > 0.0f)
      kernels::TokNetUpdateCpu(shape_, own_.data(), in_.data(), h_pre_.data(), probs_.data(),
                               static_cast<int>(prefix_), lr_, scratch_.data());
    if (reverse_ && pos_ >= span_) LearnReverse();
    r_ = 0;
    prefix_ = 0;
    stepped_ = false;
  }
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
