// The repeat pool (engine/models/repeat_pool.h) and `max` with it (codec
// fasta-cm, params variant 3): exact round trips at small sizes,
// determinism, the gain on diverged interspersed repeats, forward and
// reverse-complement following, priming, and the params' bad inputs.
#include "engine/models/repeat_pool.h"

#include <gtest/gtest.h>

#include <random>
#include <span>
#include <vector>

#include "engine/codec/codec.h"
#include "engine/models/nucleotide_cm.h"
#include "tests/unit/test_util.h"

namespace pmklc {
namespace {

using testing::Fnv;
using testing::Interspersed;


CmParams SmallMax() {
  CmParams p = CmParams::Max();
  p.pool_capacity = 16;
  return p;
}

// (max: the pool and, since params variant 4, the 4-symbol network)
TEST(RepeatPool, MaxRoundTripsAndIsDeterministic) {
  for (size_t n : {0ul, 1ul, 11ul, 12ul, 13ul, 500ul, 20000ul, 200000ul}) {
    auto v = Interspersed(n, static_cast<uint32_t>(n + 1));
    for (const CmParams& base : {CmParams::Max(), SmallMax()}) {
      const CmParams p = base.FitTo(n);
      std::string a, b;
      ASSERT_TRUE(CmEncode(p, v.data(), v.size(), &a).ok());
      ASSERT_TRUE(CmEncode(p, v.data(), v.size(), &b).ok());
      ASSERT_EQ(a, b) << "encoding is not deterministic, n=" << n;
      std::vector<uint8_t> back(n);
      ASSERT_TRUE(CmDecode(p, a, n, back.data()).ok()) << n;
      ASSERT_EQ(back, v) << n;
    }
  }
}

TEST(RepeatPool, EveryPoolShapeRoundTrips) {
  auto v = Interspersed(60000, 3);
  for (uint16_t cap : {1, 2, 64, 1024})
    for (uint8_t k : {11, 16})
      for (uint8_t flags : {0, 1, 2, 3}) {
        CmParams p = CmParams::Max().FitTo(v.size());
        p.pool_capacity = cap;
        p.pool_k = k;
        p.pool_flags = flags;
        p.pool_tolerance = cap == 1 ? 1 : 16;  // never stops by misses: weights alone
        p.pool_gamma = cap == 2 ? 1 : 255;
        std::string out;
        ASSERT_TRUE(CmEncode(p, v.data(), v.size(), &out).ok());
        std::vector<uint8_t> back(v.size());
        ASSERT_TRUE(CmDecode(p, out, v.size(), back.data()).ok());
        ASSERT_EQ(back, v) << cap << " " << int{k} << " " << int{flags};
      }
}

// Groups and containers written before probation (pool_flags 1, commit
// a3f22e3, which CI landed) must decode as they were written: the bytes of
// that coder, pinned.
TEST(RepeatPool, PoolWithoutProbationCodesAsFirstShipped) {
  auto v = Interspersed(120000, 21);
  CmParams p = CmParams::Max().FitTo(v.size());
  p.pool_flags = 1;
  p.nn_hidden = 0;  // (variant 3: before the 4-symbol network)
  std::string a;
  ASSERT_TRUE(CmEncode(p, v.data(), v.size(), &a).ok());
  EXPECT_EQ(a.size(), 18095u);
  EXPECT_EQ(Fnv(a), 0x0a850f85d743a651ull);
  std::vector<uint8_t> back(v.size());
  ASSERT_TRUE(CmDecode(p, a, v.size(), back.data()).ok());
  EXPECT_EQ(back, v);
}

// Probation ends chance seeds early; on diverged repeats it keeps the gain
// (its bytes differ from the old pool's, and they round-trip).
TEST(RepeatPool, ProbationKeepsTheGainOnRepeats) {
  auto v = Interspersed(200000, 22);
  CmParams with = CmParams::Max().FitTo(v.size());
  ASSERT_EQ(with.pool_flags, 3);
  CmParams old = with;
  old.pool_flags = 1;
  std::string a, b;
  ASSERT_TRUE(CmEncode(with, v.data(), v.size(), &a).ok());
  ASSERT_TRUE(CmEncode(old, v.data(), v.size(), &b).ok());
  EXPECT_NE(a, b);
  EXPECT_LT(a.size(), b.size() * 1002 / 1000) << a.size() << " vs " << b.size();
  std::vector<uint8_t> back(v.size());
  ASSERT_TRUE(CmDecode(with, a, v.size(), back.data()).ok());
  EXPECT_EQ(back, v);
}

TEST(RepeatPool, PaysOnDivergedInterspersedRepeats) {
  auto v = Interspersed(400000, 9);
  CmParams with = CmParams::Max().FitTo(v.size());
  CmParams without = with;
  without.pool_capacity = 0;
  std::string a, b;
  ASSERT_TRUE(CmEncode(with, v.data(), v.size(), &a).ok());
  ASSERT_TRUE(CmEncode(without, v.data(), v.size(), &b).ok());
  // Each element has hundreds of copies 12% apart from it (about 21% apart
  // from each other): one followed copy predicts poorly, many together
  // predict the element. Measured: 9% smaller.
  EXPECT_LT(a.size(), b.size() * 95 / 100) << a.size() << " vs " << b.size();
}

// Drives a pool alone as the coder does (Predict, Learn, append, Record)
// and returns how often its most probable base was right over [from, to).
double PoolAccuracy(const std::vector<uint8_t>& x, size_t from, size_t to, bool inverted) {
  models::RepeatPoolParams p;
  p.capacity = 16;
  p.k = 11;
  p.index_bits = 16;
  p.inverted = inverted;
  models::RepeatPool pool;
  EXPECT_TRUE(pool.Init(p));
  std::vector<uint8_t> seq;
  size_t hits = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    pool.Predict(seq.data());
    if (i >= from && i < to && pool.Bucket()) {
      const int hi = pool.NodeP(0) > 32768;
      const int lo = pool.NodeP(1 + hi) > 32768;
      hits += (hi * 2 + lo) == x[i];
    }
    pool.Learn(x[i]);
    seq.push_back(x[i]);
    pool.Record(seq.data(), seq.size(), x[i], true);
  }
  return static_cast<double>(hits) / static_cast<double>(to - from);
}

TEST(RepeatPool, FollowsForwardAndReverseComplementCopies) {
  std::mt19937 g(1);
  std::vector<uint8_t> src(5000);
  for (auto& b : src) b = g() % 4;
  std::vector<uint8_t> x(src);
  x.insert(x.end(), src.begin(), src.end());                    // [5000, 10000): a copy
  for (size_t i = src.size(); i-- > 0;) x.push_back(3 - src[i]);  // [10000, 15000): its reverse complement
  EXPECT_GT(PoolAccuracy(x, 5100, 10000, true), 0.99);
  EXPECT_GT(PoolAccuracy(x, 10100, 15000, true), 0.99);
  EXPECT_LT(PoolAccuracy(x, 10100, 15000, false), 0.05);  // forward only: nothing to follow
}

TEST(RepeatPool, PrimedBlocksFindRepeatsInThePrime) {
  // A short block after a long prime: alone, the block must learn the
  // elements from scratch; primed, its pool follows their copies in the
  // prime. (A 100 000-base block, as this test first used, learns them
  // itself and gains only 5% from the prime.)
  auto all = Interspersed(300000, 4, 8);
  std::span<const uint8_t> prime(all.data(), 270000);
  std::vector<uint8_t> block(all.begin() + 270000, all.end());
  const CmParams p = CmParams::Max().FitTo(all.size());
  CmParams no_pool = p;
  no_pool.pool_capacity = 0;
  std::string primed, alone, primed_no_pool;
  ASSERT_TRUE(CmEncodePrimed(p, prime, block.data(), block.size(), &primed).ok());
  ASSERT_TRUE(CmEncode(p, block.data(), block.size(), &alone).ok());
  ASSERT_TRUE(CmEncodePrimed(no_pool, prime, block.data(), block.size(), &primed_no_pool).ok());
  // Measured: 3987 bytes primed, 4574 alone, 4282 primed without the pool.
  EXPECT_LT(primed.size(), alone.size() * 90 / 100);
  EXPECT_LT(primed.size(), primed_no_pool.size() * 95 / 100);
  std::vector<uint8_t> back(block.size());
  ASSERT_TRUE(CmDecodePrimed(p, prime, primed, block.size(), back.data()).ok());
  EXPECT_EQ(back, block);
}

TEST(RepeatPool, ParamsVariant3RoundTripsAndRejectsBadPools) {
  CmParams m = CmParams::Max();
  m.nn_hidden = 0;  // (Max() writes variant 4: nn_test.cc)
  ASSERT_GT(m.pool_capacity, 0);
  const std::string s = m.Serialize();
  EXPECT_EQ(static_cast<uint8_t>(s[0]), CmParams::kVariantPool);
  size_t used = 0;
  auto q = CmParams::Parse(s, &used);
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ(used, s.size());
  EXPECT_EQ(q->Serialize(), s);
  EXPECT_EQ(q->pool_capacity, m.pool_capacity);
  EXPECT_EQ(q->pool_k, m.pool_k);
  EXPECT_EQ(q->pool_tolerance, m.pool_tolerance);
  // Without a pool the bytes are variant 1 or 2, as before.
  CmParams old = m;
  old.pool_capacity = 0;
  EXPECT_NE(static_cast<uint8_t>(old.Serialize()[0]), CmParams::kVariantPool);
  // A pool and no frame: variant 3 carries frame 0.
  CmParams nf = m;
  nf.frame = 0;
  q = CmParams::Parse(nf.Serialize(), &used);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->frame, 0);
  EXPECT_EQ(q->pool_capacity, m.pool_capacity);
  for (size_t i = 0; i < s.size(); ++i) EXPECT_FALSE(CmParams::Parse(s.substr(0, i), &used).ok()) << i;
  // The pool's 7 bytes end the params: capacity (LE16), k, index bits,
  // tolerance, gamma, flags. Each out-of-range value is rejected.
  auto rejects = [&](size_t from_end, uint8_t v) {
    std::string b = s;
    b[b.size() - from_end] = static_cast<char>(v);
    return !CmParams::Parse(b, &used).ok();
  };
  EXPECT_TRUE(rejects(7, 0));                   // capacity 0 (variant 3 always has a pool)
  EXPECT_TRUE(rejects(6, 0x04));                // capacity 1024 + 64 > kMaxCapacity
  EXPECT_TRUE(rejects(5, 10) && rejects(5, 17));
  EXPECT_TRUE(rejects(4, 15) && rejects(4, 25));
  EXPECT_TRUE(rejects(3, 0) && rejects(3, 17));
  EXPECT_TRUE(rejects(2, 0));
  EXPECT_TRUE(rejects(1, 4));
  EXPECT_FALSE(rejects(5, 16));  // the edges that are valid
  EXPECT_FALSE(rejects(4, 24));
  EXPECT_FALSE(rejects(1, 0));
  EXPECT_FALSE(rejects(1, 2));  // probation without reverse candidates
  // Variant 4 needs one more byte (the network's size).
  std::string v4 = s;
  v4[0] = 4;
  EXPECT_FALSE(CmParams::Parse(v4, &used).ok());
  std::string v5 = s;
  v5[0] = 5;
  v5.push_back(16);
  EXPECT_FALSE(CmParams::Parse(v5, &used).ok());
  // The pool's index counts against the 1 GiB model bound.
  EXPECT_GT(CmModelBytes(m), CmModelBytes(old));
}

}  // namespace
}  // namespace pmklc

namespace pmklc {
namespace {

// The pool's PMKLC_HD steps on a GPU against the CPU, bit for bit (every
// base's node probability and confidence), over 64 pools of repeat-rich
// bases; the CPU half always runs (it is the coder's own pool).
TEST(RepeatPool, CudaMatchesCpuBitForBit) {
  kernels::pool::PoolParams p;
  p.capacity = 64;
  p.index_bits = 16;
  p.probation = true;
  const size_t streams = 64, n = 20000;
  std::vector<uint8_t> codes;
  for (size_t i = 0; i < streams; ++i) {
    auto v = testing::Interspersed(n, static_cast<uint32_t>(500 + i));
    codes.insert(codes.end(), v.begin(), v.end());
  }
  std::vector<uint32_t> cpu(streams * n), again(streams * n), gpu(streams * n, 0xffffffffu);
  kernels::pool::RunCpu(p, codes.data(), streams, n, cpu.data());
  kernels::pool::RunCpu(p, codes.data(), streams, n, again.data());
  ASSERT_EQ(cpu, again);
  size_t predicted = 0;
  for (uint32_t v : cpu) predicted += (v >> 16) != 0;
  EXPECT_GT(predicted, streams * n / 4) << "the pool should predict in the repeats";
  Status s = kernels::pool::RunCuda(p, codes.data(), streams, n, gpu.data());
  if (s.code() == Status::Code::kNotSupported) GTEST_SKIP() << s.message();
  ASSERT_TRUE(s.ok()) << s.ToString();
  for (size_t i = 0; i < cpu.size(); ++i) ASSERT_EQ(gpu[i], cpu[i]) << "stream " << i / n << " base " << i % n;
}

}  // namespace
}  // namespace pmklc
