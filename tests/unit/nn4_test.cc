// The 4-symbol network mixer (kernels/nn4.h) and `max` with it (codec
// fasta-cm, params variant 4; issue #17): the CPU kernel against the scalar
// reference that CUDA runs, bit for bit; exact round trips and determinism
// at small sizes; the pinned bytes; the params' variant 4 and its bad inputs.
#include "kernels/nn4.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "engine/models/logistic.h"
#include "engine/models/nucleotide_cm.h"
#include "tests/unit/test_util.h"

namespace pmklc {
namespace {

using kernels::nn4::Net;
using testing::Fnv;
using testing::Interspersed;

std::vector<uint32_t> SquashTable() {
  std::vector<uint32_t> sq(4095);
  for (int x = -2047; x <= 2047; ++x) sq[x + 2047] = models::Squash(x);
  return sq;
}

bool SameBits(const Net& a, const Net& b) { return std::memcmp(&a, &b, sizeof(Net)) == 0; }

// ForwardCpu/TrainCpu (vector lanes, an AVX2 clone where the CPU has one)
// give the bits of ForwardRef/TrainRef, the scalar definition a GPU runs,
// step after step: inputs of every scale, exact zeros and large values that
// saturate the sigmoid.
TEST(Nn4, CpuKernelMatchesTheScalarReferenceBitForBit) {
  const std::vector<uint32_t> sq = SquashTable();
  for (int nx : {1, 7, 79, kernels::nn4::kMaxInputs}) {
    auto a = std::make_unique<Net>(), b = std::make_unique<Net>();
    kernels::nn4::Init(a.get(), nx);
    kernels::nn4::Init(b.get(), nx);
    ASSERT_TRUE(SameBits(*a, *b));
    std::mt19937 g(static_cast<uint32_t>(nx));
    std::uniform_real_distribution<float> u(-3.0f, 3.0f);
    for (int step = 0; step < 4000; ++step) {
      for (int i = 0; i < nx; ++i) {
        float v = u(g);
        if (g() % 7 == 0) v = 0.0f;
        if (g() % 97 == 0) v *= 40.0f;
        a->x[i] = b->x[i] = v;
      }
      if (step % 500 == 499) a->lr = b->lr = 0.03f * static_cast<float>(step % 3 + 1);
      kernels::nn4::Forward(a.get(), sq.data());
      kernels::nn4::ForwardRef(b.get(), sq.data());
      ASSERT_TRUE(SameBits(*a, *b)) << "forward differs, nx " << nx << " step " << step;
      const int base = static_cast<int>(g() % 4);
      kernels::nn4::Train(a.get(), base);
      kernels::nn4::TrainRef(b.get(), base);
      ASSERT_TRUE(SameBits(*a, *b)) << "training differs, nx " << nx << " step " << step;
    }
    for (int s = 0; s < 4; ++s) EXPECT_TRUE(a->y[s] > 0.0f && a->y[s] < 1.0f);
  }
}

// A GPU computes the CPU's bits (the scalar reference, one thread a net);
// skipped without one.
TEST(Nn4, CudaMatchesCpuBitForBit) {
  const std::vector<uint32_t> sq = SquashTable();
  constexpr size_t kNets = 96;
  std::vector<Net> gpu(kNets), cpu(kNets);
  std::mt19937 g(7);
  std::uniform_real_distribution<float> u(-3.0f, 3.0f);
  for (size_t k = 0; k < kNets; ++k) kernels::nn4::Init(&gpu[k], 1 + static_cast<int>(k % 80));
  for (int step = 0; step < 20; ++step) {
    std::vector<uint8_t> bases(kNets);
    for (size_t k = 0; k < kNets; ++k) {
      for (int i = 0; i < gpu[k].nx; ++i) gpu[k].x[i] = g() % 5 == 0 ? 0.0f : u(g);
      bases[k] = static_cast<uint8_t>(g() % 4);
    }
    cpu = gpu;
    const Status st = kernels::nn4::StepCuda(gpu.data(), kNets, sq.data(), bases.data());
    if (!st.ok()) GTEST_SKIP() << st.message();
    for (size_t k = 0; k < kNets; ++k) {
      kernels::nn4::Forward(&cpu[k], sq.data());
      kernels::nn4::Train(&cpu[k], bases[k]);
      ASSERT_TRUE(SameBits(cpu[k], gpu[k])) << "net " << k << " step " << step;
    }
  }
}

// The network learns: on a stream where base i+1 follows base i, it ends
// up confident.
TEST(Nn4, LearnsAPattern) {
  const std::vector<uint32_t> sq = SquashTable();
  auto n = std::make_unique<Net>();
  kernels::nn4::Init(n.get(), 5);
  int prev = 0;
  for (int step = 0; step < 20000; ++step) {
    for (int i = 0; i < 4; ++i) n->x[i] = i == prev ? 1.0f : 0.0f;
    n->x[4] = 1.0f;
    kernels::nn4::Forward(n.get(), sq.data());
    const int base = (prev + 1) & 3;
    if (step == 19999) EXPECT_GT(n->y[base], 0.9f) << "prev " << prev;
    kernels::nn4::Train(n.get(), base);
    prev = base;
  }
}

// (Round trips and determinism of max, network included, at sizes from 0
// to 200000 bases: RepeatPool.MaxRoundTripsAndIsDeterministic.)

// The bytes of max with the network, pinned: a change to the network, its
// inputs or its arithmetic must come with a new params variant.
TEST(Nn4, MaxCodesAsPinned) {
  ASSERT_EQ(CmParams::Max().nn_hidden, kernels::nn4::kHidden);
  auto v = Interspersed(120000, 21);
  const CmParams p = CmParams::Max().FitTo(v.size());
  std::string a;
  ASSERT_TRUE(CmEncode(p, v.data(), v.size(), &a).ok());
  EXPECT_EQ(a.size(), 18041u);
  EXPECT_EQ(Fnv(a), 0xadc3c02208cc3622ull);
  std::vector<uint8_t> back(v.size());
  ASSERT_TRUE(CmDecode(p, a, v.size(), back.data()).ok());
  EXPECT_EQ(back, v);
}

// On diverged interspersed repeats the network codes smaller than the same
// models without it; and primed coding (fasta-ref, whole-file context)
// carries it too.
TEST(Nn4, GainsOnRepeatsAndPrimedCodingRoundTrips) {
  auto v = Interspersed(200000, 23);
  const CmParams with = CmParams::Max().FitTo(v.size());
  CmParams without = with;
  without.nn_hidden = 0;
  std::string a, b;
  ASSERT_TRUE(CmEncode(with, v.data(), v.size(), &a).ok());
  ASSERT_TRUE(CmEncode(without, v.data(), v.size(), &b).ok());
  EXPECT_LT(a.size(), b.size()) << a.size() << " vs " << b.size();
  const std::vector<uint8_t> prime(v.begin(), v.begin() + 100000), block(v.begin() + 100000, v.end());
  std::string primed;
  ASSERT_TRUE(CmEncodePrimed(with, prime, block.data(), block.size(), &primed).ok());
  std::vector<uint8_t> back(block.size());
  ASSERT_TRUE(CmDecodePrimed(with, prime, primed, block.size(), back.data()).ok());
  EXPECT_EQ(back, block);
}

TEST(Nn4, ParamsVariant4RoundTripsAndRejectsBadInput) {
  const CmParams m = CmParams::Max();
  const std::string s = m.Serialize();
  ASSERT_EQ(static_cast<uint8_t>(s[0]), CmParams::kVariantNn);
  EXPECT_EQ(static_cast<uint8_t>(s.back()), 16);
  size_t used = 0;
  auto q = CmParams::Parse(s, &used);
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ(used, s.size());
  EXPECT_EQ(q->nn_hidden, 16);
  EXPECT_EQ(q->pool_capacity, m.pool_capacity);
  EXPECT_EQ(q->Serialize(), s);
  // Without the network, variant 3 as before: variant 4 is one byte longer.
  CmParams old = m;
  old.nn_hidden = 0;
  EXPECT_EQ(static_cast<uint8_t>(old.Serialize()[0]), CmParams::kVariantPool);
  EXPECT_EQ(old.Serialize().size() + 1, s.size());
  for (size_t i = 0; i < s.size(); ++i) EXPECT_FALSE(CmParams::Parse(s.substr(0, i), &used).ok()) << i;
  // Only 16 hidden units exist.
  for (uint8_t h : {0, 8, 15, 17, 32, 255}) {
    std::string b = s;
    b.back() = static_cast<char>(h);
    EXPECT_FALSE(CmParams::Parse(b, &used).ok()) << int{h};
  }
  // The network without a pool: the pool's bytes are the defaults, and it
  // codes and decodes.
  CmParams np = m;
  np.pool_capacity = 0;
  np.pool_k = CmParams().pool_k;
  np.pool_bits = CmParams().pool_bits;
  np.pool_tolerance = CmParams().pool_tolerance;
  np.pool_gamma = CmParams().pool_gamma;
  np.pool_flags = CmParams().pool_flags;
  const std::string ns = np.Serialize();
  ASSERT_EQ(static_cast<uint8_t>(ns[0]), CmParams::kVariantNn);
  q = CmParams::Parse(ns, &used);
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ(q->pool_capacity, 0);
  EXPECT_EQ(q->Serialize(), ns);
  std::string bad = ns;
  bad[bad.size() - 6] = 13;  // pool_k != default with no pool: a second encoding
  EXPECT_FALSE(CmParams::Parse(bad, &used).ok());
  auto v = Interspersed(30000, 9);
  const CmParams fit = np.FitTo(v.size());
  std::string out;
  ASSERT_TRUE(CmEncode(fit, v.data(), v.size(), &out).ok());
  std::vector<uint8_t> back(v.size());
  ASSERT_TRUE(CmDecode(fit, out, v.size(), back.data()).ok());
  EXPECT_EQ(back, v);
}

}  // namespace
}  // namespace pmklc
