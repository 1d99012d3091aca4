// Token-network kernels (kernels/toknet.h, kernels/nn_math.h), the predictor
// wrapper and the model file format.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "engine/models/toknet_model.h"
#include "engine/models/toknet_predictor.h"
#include "kernels/device.h"
#include "kernels/nn_math.h"
#include "kernels/toknet.h"

namespace pmklc {
namespace {

using kernels::TokNetShape;

std::vector<uint8_t> RandomCodes(size_t n, uint64_t seed) {
  std::mt19937_64 g(seed);
  std::vector<uint8_t> c(n);
  for (auto& x : c) x = g() % 4;
  return c;
}

TEST(Tokens, LosslessForEverySNotAboveK) {
  for (int k = 1; k <= 8; ++k)
    for (int s = 1; s <= k; ++s)
      for (size_t n : {0ul, 1ul, 2ul, 7ul, 8ul, 9ul, 100ul, 1001ul}) {
        auto c = RandomCodes(n, 1000 * k + s + n);
        const size_t t = kernels::TokenCount(n, s, k);
        if (n) EXPECT_GE((t - 1) * s + k, n) << "tokens must cover every base";
        std::vector<uint32_t> tok(t);
        kernels::TokenizeCpu(c.data(), n, s, k, tok.data());
        std::vector<uint8_t> back(n, 9);
        kernels::DetokenizeCpu(tok.data(), n, s, k, back.data());
        EXPECT_EQ(c, back) << "k=" << k << " s=" << s << " n=" << n;
      }
}

TEST(Tokens, CudaMatchesCpu) {
  auto g = kernels::ListGpus();
  if (!g.ok()) GTEST_SKIP() << g.status().message();
  auto c = RandomCodes((1u << 20) + 5, 3);
  for (auto [s, k] : {std::pair{3, 3}, std::pair{1, 3}, std::pair{2, 5}}) {
    std::vector<uint32_t> a(kernels::TokenCount(c.size(), s, k)), b(a.size());
    kernels::TokenizeCpu(c.data(), c.size(), s, k, a.data());
    ASSERT_TRUE(kernels::TokenizeCuda(c.data(), c.size(), s, k, b.data()).ok());
    EXPECT_EQ(a, b);
  }
}

TEST(NnMath, ExpAndLogAreAccurate) {
  for (float x = -87.0f; x <= 88.0f; x += 0.0137f) {
    const double want = std::exp(static_cast<double>(x));
    EXPECT_NEAR(kernels::nn::Exp(x) / want, 1.0, 4e-7) << x;
  }
  for (float x = 1e-30f; x < 1e30f; x *= 1.37f) {
    const double want = std::log(static_cast<double>(x));
    EXPECT_NEAR(kernels::nn::Log(x), want, 4e-7 * std::max(1.0, std::fabs(want))) << x;
  }
  float p[5], z[5] = {1.0f, -2.0f, 30.0f, 0.5f, 30.0f};
  kernels::nn::Softmax(z, 5, p);
  EXPECT_NEAR(p[2], 0.5, 1e-6);
  EXPECT_NEAR(p[0] + p[1] + p[2] + p[3] + p[4], 1.0, 1e-6);
}

// Runs a dynamic network over codes; returns a digest of every distribution.
uint64_t RunDigest(const TokNetShape& sh, const std::vector<uint8_t>& c, float lr) {
  auto w = TokNetInitialWeights(sh, 7);
  TokNetPredictor p(sh, w.data(), lr);
  uint64_t h = 1469598103934665603ull;
  for (uint8_t b : c) {
    uint32_t q[4];
    p.Predict(q);
    EXPECT_EQ(q[0] + q[1] + q[2] + q[3], kPredictorOne);
    for (int i = 0; i < 4; ++i) {
      EXPECT_GE(q[i], 1u);
      h = (h ^ q[i]) * 1099511628211ull;
    }
    p.Update(b);
  }
  return h;
}

TEST(TokNetPredictor, DistributionsAreValidAndRepeatable) {
  auto c = RandomCodes(20000, 5);
  for (auto sh : {TokNetShape{3, 3, 8, 32}, TokNetShape{4, 2, 5, 16}, TokNetShape{2, 1, 12, 24}}) {
    EXPECT_EQ(RunDigest(sh, c, 0.02f), RunDigest(sh, c, 0.02f));
    EXPECT_NE(RunDigest(sh, c, 0.02f), RunDigest(sh, c, 0.0f)) << "a dynamic model must learn";
  }
}

TEST(TokNetPredictor, LearnsARepeatedPattern) {
  // A period-7 pattern: an online network must get far below 2 bits/base.
  std::vector<uint8_t> c;
  const uint8_t pat[7] = {0, 1, 1, 3, 2, 0, 3};
  for (int i = 0; i < 30000; ++i) c.push_back(pat[i % 7]);
  TokNetShape sh{3, 3, 8, 32};
  auto w = TokNetInitialWeights(sh, 1);
  TokNetPredictor p(sh, w.data(), 0.05f);
  double bits = 0;
  for (size_t i = 0; i < c.size(); ++i) {
    uint32_t q[4];
    p.Predict(q);
    if (i >= 20000) bits += -std::log2(q[c[i]] / 65536.0);
    p.Update(c[i]);
  }
  EXPECT_LT(bits / 10000, 0.1);
}

TEST(TokNetKernels, CudaMatchesCpuBitForBit) {
  auto g = kernels::ListGpus();
  if (!g.ok()) GTEST_SKIP() << g.status().message();
  TokNetShape sh{3, 3, 16, 128};
  const int batch = 4, steps = 500;
  std::vector<float> w0 = TokNetInitialWeights(sh, 3), wc, wg;
  std::mt19937 r(9);
  std::vector<uint32_t> tok(size_t(batch) * steps * sh.ctx);
  std::vector<int32_t> y(size_t(batch) * steps);
  for (auto& t : tok) t = r() % (sh.vocab() + 1);
  for (auto& t : y) t = r() % sh.outputs();
  std::vector<float> pc(size_t(batch) * steps * sh.outputs()), pg(pc.size());
  for (int b = 0; b < batch; ++b) {
    std::vector<float> w = w0, h(sh.hidden), z(sh.outputs()), s(sh.hidden);
    for (int t = 0; t < steps; ++t) {
      const uint32_t* in = &tok[(size_t(b) * steps + t) * sh.ctx];
      float* p = &pc[(size_t(b) * steps + t) * sh.outputs()];
      kernels::TokNetForwardCpu(sh, w.data(), in, h.data(), z.data(), p);
      kernels::TokNetUpdateCpu(sh, w.data(), in, h.data(), p, y[size_t(b) * steps + t], 0.02f, s.data());
    }
    wc.insert(wc.end(), w.begin(), w.end());
  }
  for (int b = 0; b < batch; ++b) wg.insert(wg.end(), w0.begin(), w0.end());
  ASSERT_TRUE(kernels::TokNetRunCuda(sh, wg.data(), batch, steps, tok.data(), y.data(), 0.02f, pg.data()).ok());
  EXPECT_EQ(0, std::memcmp(pc.data(), pg.data(), pc.size() * 4)) << "probabilities differ";
  EXPECT_EQ(0, std::memcmp(wc.data(), wg.data(), wc.size() * 4)) << "learnt weights differ";
}

TEST(TokNetKernels, NoGpuIsReportedCleanly) {
  if (kernels::ListGpus().ok()) GTEST_SKIP() << "a GPU is present";
  TokNetShape sh{3, 3, 4, 8};
  std::vector<float> w(sh.weight_count()), p(sh.outputs());
  std::vector<uint32_t> t(sh.ctx, 0);
  std::vector<int32_t> y(1, 0);
  EXPECT_FALSE(kernels::TokNetRunCuda(sh, w.data(), 1, 1, t.data(), y.data(), 0.1f, p.data()).ok());
}

TEST(ModelFile, RoundTripAndCorruption) {
  TokNetModel m;
  m.name = "test";
  m.card = "unit test";
  m.shape = TokNetShape{3, 3, 4, 16};
  m.weights = TokNetInitialWeights(m.shape, 11);
  std::string bytes = SerializeModel(&m);
  auto back = ParseModel(bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->id, m.id);
  EXPECT_EQ(back->name, "test");
  EXPECT_EQ(back->weights, m.weights);
  for (size_t at : {0ul, 8ul, 12ul, 40ul, bytes.size() / 2, bytes.size() - 1}) {
    std::string bad = bytes;
    bad[at] ^= 0x10;
    EXPECT_FALSE(ParseModel(bad).ok()) << at;
  }
  EXPECT_FALSE(ParseModel(bytes.substr(0, bytes.size() - 9)).ok());
  EXPECT_FALSE(ParseModel("").ok());
}

TEST(ModelFile, ShippedPublicModelParses) {
  auto m = ShippedPublicModel();
  if (!m) GTEST_SKIP() << "this build has no models/spum-v1.pmkm";
  EXPECT_TRUE(m->shape.Valid());
  EXPECT_EQ(FindModel(m->id), m);
  EXPECT_LE(m->weights.size() * 4, 20u << 20) << "the shipped model must stay under 20 MB";
}

}  // namespace
}  // namespace pmklc
