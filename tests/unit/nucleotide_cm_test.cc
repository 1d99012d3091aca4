// The context-mixing nucleotide coder (profile max, codec fasta-cm): exact
// round trips, determinism, compression on repetitive input, and errors.
#include "engine/models/nucleotide_cm.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "engine/codec/codec.h"
#include "engine/models/logistic.h"
#include "tests/unit/test_util.h"

namespace pmklc {
namespace {

using testing::Fnv;
using testing::Interspersed;

std::vector<uint8_t> Genome(size_t n, uint32_t seed) {
  // Random sequence with repeats and mutated copies, like a real genome.
  std::mt19937 g(seed);
  std::vector<uint8_t> v;
  while (v.size() < n) {
    if (v.size() > 1000 && g() % 4 == 0) {
      size_t from = g() % (v.size() - 500), len = 50 + g() % 400;
      for (size_t i = 0; i < len && v.size() < n; ++i) v.push_back(g() % 50 ? v[from + i] : g() % 4);
    } else {
      for (int i = 0; i < 200 && v.size() < n; ++i) v.push_back(g() % 4);
    }
  }
  return v;
}

CmParams Small() {
  CmParams p;
  p.orders = {1, 2, 3, 6, 11, 16, 0x80 | 4, 0x80 | 14};  // direct and hashed phased models
  p.ir_mask = 0x3f;
  p.hash_bits = 16;
  return p;
}

TEST(NucleotideCm, RoundTripAndDeterminism) {
  for (size_t n : {0ul, 1ul, 7ul, 1000ul, 300000ul}) {
    auto v = Genome(n, static_cast<uint32_t>(n));
    std::string a, b;
    ASSERT_TRUE(CmEncode(Small(), v.data(), v.size(), &a).ok());
    ASSERT_TRUE(CmEncode(Small(), v.data(), v.size(), &b).ok());
    ASSERT_EQ(a, b) << "encoding is not deterministic";
    std::vector<uint8_t> back(n);
    ASSERT_TRUE(CmDecode(Small(), a, n, back.data()).ok());
    ASSERT_EQ(back, v) << n;
  }
}

TEST(NucleotideCm, ProfilesRoundTrip) {
  auto v = Genome(200000, 5);
  for (const CmParams& p : {CmParams::Balanced(), CmParams::Max()}) {
    size_t used = 0;
    auto q = CmParams::Parse(p.Serialize(), &used);
    ASSERT_TRUE(q.ok());
    std::string out;
    ASSERT_TRUE(CmEncode(*q, v.data(), v.size(), &out).ok());
    std::vector<uint8_t> back(v.size());
    ASSERT_TRUE(CmDecode(p, out, v.size(), back.data()).ok());
    ASSERT_EQ(back, v);
    EXPECT_LT(8.0 * out.size() / v.size(), 1.9);
  }
}

TEST(NucleotideCm, BalancedShapesRoundTrip) {
  // The balanced shape has a dedicated path: exact (flags 0/16) and fast (bit 5).
  auto v = Genome(150000, 9);
  const std::vector<std::vector<uint8_t>> shapes = {{11}, {11, 0x80 | 6}, {4, 11, 0x80 | 5}};
  for (uint8_t f : {0, 16, 32, 48})
  for (const auto& orders : shapes) {
    CmParams p = CmParams::Balanced();
    p.flags = f;
    p.orders = orders;
    size_t used = 0;
    auto q = CmParams::Parse(p.Serialize(), &used);
    ASSERT_TRUE(q.ok()) << int{f};
    std::string out;
    ASSERT_TRUE(CmEncode(*q, v.data(), v.size(), &out).ok());
    std::vector<uint8_t> back(v.size());
    ASSERT_TRUE(CmDecode(*q, out, v.size(), back.data()).ok());
    ASSERT_EQ(back, v) << int{f};
  }
  // The fast-path flag is only valid for the balanced shape.
  CmParams m = CmParams::Max();
  m.flags |= 32;
  size_t used = 0;
  EXPECT_FALSE(CmParams::Parse(m.Serialize(), &used).ok());
}

// The slim path exists only because it codes exactly the bytes of the
// general model, faster: checked for every shape it takes (flags 0 and 16;
// bit 5 is a format of its own).
TEST(NucleotideCm, SlimPathWritesTheGeneralModelsBytes) {
  auto v = Genome(120000, 21);
  const std::vector<std::vector<uint8_t>> shapes = {{11}, {12}, {11, 0x80 | 6}, {4, 11, 0x80 | 5}, {2, 8, 12}};
  int checked = 0;
  for (uint8_t f : {0, 16})
    for (const auto& orders : shapes) {
      CmParams p = CmParams::Balanced();
      p.flags = f;
      p.orders = orders;
      ASSERT_TRUE(CmUsesSlimPath(p)) << int{f};
      std::string slim, general;
      ASSERT_TRUE(CmEncode(p, v.data(), v.size(), &slim).ok());
      ASSERT_TRUE(CmEncodeGeneralForTest(p, v.data(), v.size(), &general).ok());
      EXPECT_EQ(slim, general) << "flags " << int{f} << ", " << orders.size() << " orders";
      ++checked;
    }
  EXPECT_EQ(checked, 10);
}

// The bytes of every shape the slim path codes (the balanced profile and
// its variants), pinned: the path runs the flat-state step of
// kernels/cm_slim.h, the code a GPU batch runs too (issue #18), and must
// keep writing what it wrote when it was a class of its own.
TEST(NucleotideCm, SlimShapesCodeAsPinned) {
  auto v = Interspersed(100000, 33);
  const std::vector<std::vector<uint8_t>> shapes = {{11}, {12}, {11, 0x80 | 6}, {4, 11, 0x80 | 5}, {2, 8, 12}};
  std::string all;
  size_t n = 0;
  for (uint8_t f : {0, 16, 32, 48})
    for (const auto& orders : shapes) {
      CmParams p = CmParams::Balanced();
      p.flags = f;
      p.orders = orders;
      p = p.FitTo(v.size());
      ASSERT_TRUE(CmUsesSlimPath(p));
      std::string out;
      ASSERT_TRUE(CmEncode(p, v.data(), v.size(), &out).ok());
      std::vector<uint8_t> back(v.size());
      ASSERT_TRUE(CmDecode(p, out, v.size(), back.data()).ok());
      ASSERT_EQ(back, v) << int{f} << " " << orders.size();
      all += out;
      ++n;
    }
  EXPECT_EQ(n, 20u);
  EXPECT_EQ(all.size(), 365346u);
  EXPECT_EQ(Fnv(all), 0xefa177ec0eb8a67full);
}

TEST(NucleotideCm, LearnsRepeats) {
  auto v = Genome(400000, 1);
  std::string out;
  ASSERT_TRUE(CmEncode(Small(), v.data(), v.size(), &out).ok());
  EXPECT_LT(8.0 * out.size() / v.size(), 1.9);  // random bases cost 2 bits; repeats much less
}

TEST(NucleotideCm, ParamsRoundTripAndBadInput) {
  CmParams p;
  size_t used = 0;
  auto q = CmParams::Parse(p.Serialize(), &used);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->orders, p.orders);
  EXPECT_EQ(q->hash_bits, p.hash_bits);
  EXPECT_EQ(used, p.Serialize().size());
  EXPECT_EQ(q->ir_mask, p.ir_mask);
  EXPECT_EQ(q->match_flags, p.match_flags);
  EXPECT_EQ(q->flags, p.flags);
  EXPECT_EQ(q->Serialize(), p.Serialize());
  EXPECT_FALSE(CmParams::Parse("", &used).ok());
  // Unknown variant byte.
  std::string bad = p.Serialize();
  bad[0] = static_cast<char>(CmParams::kVariantPool + 1);
  EXPECT_FALSE(CmParams::Parse(bad, &used).ok());
  // Every truncation is rejected.
  for (size_t i = 0; i < p.Serialize().size(); ++i) EXPECT_FALSE(CmParams::Parse(p.Serialize().substr(0, i), &used).ok()) << i;
  CmParams z = Small();
  z.orders = {0};
  EXPECT_FALSE(CmParams::Parse(z.Serialize(), &used).ok());  // order 0
  z.orders = {16};
  z.hash_bits = 48;
  EXPECT_FALSE(CmParams::Parse(z.Serialize(), &used).ok());  // 2^48 slots
  z = Small();
  z.ir_mask = 1u << 20;  // flag for a model that does not exist
  EXPECT_FALSE(CmParams::Parse(z.Serialize(), &used).ok());
  z = Small();
  z.orders = {2, 0x80 | 3};  // phased model with inverted repeats
  z.ir_mask = 3;
  EXPECT_FALSE(CmParams::Parse(z.Serialize(), &used).ok());
  z.ir_mask = 1;
  EXPECT_TRUE(CmParams::Parse(z.Serialize(), &used).ok());
  z.orders = {2, 0x80};  // phased order 0
  EXPECT_FALSE(CmParams::Parse(z.Serialize(), &used).ok());
  z = Small();
  z.match_flags = 0x55;
  EXPECT_FALSE(CmParams::Parse(z.Serialize(), &used).ok());
  // Random bytes never crash and never pass an oversized model.
  std::mt19937 g(7);
  for (int t = 0; t < 2000; ++t) {
    std::string r = p.Serialize();
    r[1 + g() % (r.size() - 1)] = static_cast<char>(g());
    (void)CmParams::Parse(r, &used);
  }
  auto v = Genome(50000, 2);
  std::string out;
  ASSERT_TRUE(CmEncode(Small(), v.data(), v.size(), &out).ok());
  std::vector<uint8_t> back(v.size());
  EXPECT_FALSE(CmDecode(Small(), std::string_view(out).substr(0, out.size() / 2), v.size(), back.data()).ok());
}

TEST(NucleotideCm, LogisticTablesAreMonotoneInverses) {
  uint32_t prev = 0;
  for (int x = -2047; x <= 2047; ++x) {
    uint32_t p = models::Squash(x);
    ASSERT_GE(p, prev);
    ASSERT_GE(p, 1u);
    ASSERT_LE(p, 65535u);
    prev = p;
    ASSERT_LE(std::abs(models::Stretch(p) - x), 40) << x;
  }
  EXPECT_EQ(models::Squash(0), 32768u);
}

TEST(NucleotideCm, FastaCmBlocksRoundTripThroughTheCodec) {
  std::string fa = ">chr test\nacgtNNNNRY\n";
  auto v = Genome(200000, 3);
  for (size_t i = 0; i < v.size(); ++i) {
    fa.push_back("ACGT"[v[i]]);
    if (i % 60 == 59) fa.push_back('\n');
  }
  EncodeOptions o;
  o.use_cm = true;
  o.cm = Small();
  std::string value, out;
  ASSERT_TRUE(EncodeBlock(fa, o, &value).ok());
  EXPECT_EQ(ParseBlockHeader(value)->codec, CodecId::kFastaCm);
  ASSERT_TRUE(DecodeBlock(value, &out).ok());
  EXPECT_EQ(out, fa);
  // The codec id and the payload flag must agree.
  std::string bad = value;
  bad[1] = static_cast<char>(CodecId::kFasta2Bit);
  EXPECT_FALSE(DecodeBlock(bad, &out).ok());
}

// An order-2 frequency predictor on the BasePredictor interface: integer,
// deterministic, learns from the bases it is told.
class Order2Predictor : public BasePredictor {
 public:
  void Predict(uint32_t p[4]) override {
    const uint32_t* c = counts_[ctx_];
    uint32_t tot = c[0] + c[1] + c[2] + c[3] + 4;
    uint32_t sum = 0;
    for (int b = 0; b < 3; ++b) sum += p[b] = std::max<uint32_t>(1, ((c[b] + 1) << 16) / tot);
    p[3] = kPredictorOne - sum;
  }
  void Update(int base) override {
    counts_[ctx_][base] += 2;
    ctx_ = ((ctx_ << 2) | static_cast<uint32_t>(base)) & 15;
  }

 private:
  uint32_t counts_[16][4] = {};
  uint32_t ctx_ = 0;
};

// Knows the sequence: puts almost all the mass on the true next base.
class OraclePredictor : public BasePredictor {
 public:
  explicit OraclePredictor(const std::vector<uint8_t>* v) : v_(v) {}
  void Predict(uint32_t p[4]) override {
    for (int b = 0; b < 4; ++b) p[b] = 1;
    p[(*v_)[i_]] = kPredictorOne - 3;
  }
  void Update(int) override { ++i_; }

 private:
  const std::vector<uint8_t>* v_;
  size_t i_ = 0;
};

TEST(NucleotideCm, ExtraPredictorsAreMixedInAndDecodeWithTheSamePredictors) {
  const auto v = Genome(200000, 9);
  for (const CmParams& p : {Small(), CmParams::Balanced()}) {
    std::string plain, mixed, mixed2;
    ASSERT_TRUE(CmEncode(p, v.data(), v.size(), &plain).ok());
    Order2Predictor a, b;
    BasePredictor* ea[] = {&a};
    ASSERT_TRUE(CmEncode(p, v.data(), v.size(), &mixed, ea).ok());
    EXPECT_NE(mixed, plain);  // the input is really used
    Order2Predictor c;
    BasePredictor* ec[] = {&c};
    ASSERT_TRUE(CmEncode(p, v.data(), v.size(), &mixed2, ec).ok());
    EXPECT_EQ(mixed, mixed2);  // deterministic
    std::vector<uint8_t> back(v.size());
    BasePredictor* eb[] = {&b};
    ASSERT_TRUE(CmDecode(p, mixed, v.size(), back.data(), eb).ok());
    EXPECT_EQ(back, v);
  }
  // The mixers learn to trust a predictor that is right: near zero cost.
  OraclePredictor o(&v), o2(&v);
  BasePredictor* eo[] = {&o};
  std::string out;
  ASSERT_TRUE(CmEncode(CmParams::Balanced(), v.data(), v.size(), &out, eo).ok());
  EXPECT_LT(8.0 * out.size() / v.size(), 0.1);
  std::vector<uint8_t> back(v.size());
  BasePredictor* eo2[] = {&o2};
  ASSERT_TRUE(CmDecode(CmParams::Balanced(), out, v.size(), back.data(), eo2).ok());
  EXPECT_EQ(back, v);
  // Too many predictors is an error, not a crash.
  std::vector<Order2Predictor> many(kMaxExtraPredictors + 1);
  std::vector<BasePredictor*> ptrs;
  for (auto& m : many) ptrs.push_back(&m);
  EXPECT_FALSE(CmEncode(Small(), v.data(), 100, &out, ptrs).ok());
}

TEST(NucleotideCm, FitToShrinksTablesToTheInput) {
  const CmParams m = CmParams::Max();
  EXPECT_EQ(m.FitTo(0).hash_bits, 16);
  EXPECT_EQ(m.FitTo(1000).match_bits, 16);
  EXPECT_EQ(m.FitTo(1667825).hash_bits, 20);  // HePy: 2^21 > n > 2^20
  EXPECT_EQ(m.FitTo(1667825).match_bits, 20);
  EXPECT_EQ(m.FitTo(size_t{1} << 22).hash_bits, 21);
  EXPECT_EQ(m.FitTo(size_t{64} << 20).hash_bits, m.hash_bits);  // never grows
  EXPECT_EQ(m.FitTo(5).orders, m.orders);
  size_t used = 0;
  EXPECT_TRUE(CmParams::Parse(m.FitTo(5).Serialize(), &used).ok());
}

TEST(NucleotideCm, NodeProbabilityFollowsTheDistribution) {
  uint32_t p[4] = {16384, 16384, 16384, 16384};
  EXPECT_EQ(NodeProbability(p, 0), 32768u);
  uint32_t q[4] = {1, 1, 1, kPredictorOne - 3};
  EXPECT_GT(NodeProbability(q, 0), 65000u);  // G or T
  EXPECT_GT(NodeProbability(q, 2), 65000u);  // T given G or T
  EXPECT_LE(NodeProbability(q, 1), 32768u);
  uint32_t z[4] = {kPredictorOne, 0, 0, 0};
  EXPECT_GE(NodeProbability(z, 0), 1u);  // never 0
}

}  // namespace
}  // namespace pmklc
