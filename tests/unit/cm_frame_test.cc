// Codon frame of the context-mixing coder (CmParams::frame, variant 2):
// round trips, the params' two serialised variants, variant-1 bytes that
// stay as they were, and what the frame state buys on genes.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "engine/models/codon_frame.h"
#include "engine/models/nucleotide_cm.h"
#include "tests/unit/corpus_util.h"
#include "tests/unit/test_util.h"

namespace pmklc {
namespace {

using testing::Fnv;

// Repeats and a skewed order-1 walk (the same generator the golden hashes
// below were taken with).
std::vector<uint8_t> Walk(size_t n, uint64_t seed) {
  std::vector<uint8_t> v;
  uint64_t z = seed;
  auto next = [&] {
    z = z * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<uint32_t>(z >> 33);
  };
  while (v.size() < n) {
    if (v.size() > 1000 && next() % 4 == 0) {
      size_t from = next() % (v.size() - 500), len = 100 + next() % 400;
      for (size_t i = 0; i < len && v.size() < n; ++i) v.push_back(next() % 50 ? v[from + i] : next() % 4);
    } else {
      for (int i = 0; i < 300 && v.size() < n; ++i)
        v.push_back(static_cast<uint8_t>(next() % 4 == 0 ? next() % 4 : (v.empty() ? 0 : (v.back() * 3 + 1) % 4)));
    }
  }
  return v;
}

// Genes: open reading frames of 100..600 codons drawn from a skewed codon
// usage (no stop inside, a stop at the end), half of them on the reverse
// strand, at every offset, between random spacers of 20..200 bases.
class GeneMaker {
 public:
  explicit GeneMaker(uint32_t seed) : g_(seed) {
    std::vector<uint32_t> weight(64);
    for (auto& w : weight) w = 1 + g_() % 40;
    for (int stop : {48, 50, 56}) weight[stop] = 0;  // TAA TAG TGA (A0 C1 G2 T3)
    codon_ = std::discrete_distribution<int>(weight.begin(), weight.end());
  }
  void Spacer(std::vector<uint8_t>* v) {
    for (int i = 20 + static_cast<int>(g_() % 180); i > 0; --i) v->push_back(static_cast<uint8_t>(g_() % 4));
  }
  void Gene(int codons, bool reverse, std::vector<uint8_t>* v) {
    std::vector<uint8_t> gene;
    for (int c = codons; c > 0; --c) {
      const int x = codon_(g_);
      for (int s : {4, 2, 0}) gene.push_back(static_cast<uint8_t>((x >> s) & 3));
    }
    for (uint8_t b : {3, 0, 0}) gene.push_back(b);
    if (reverse) {
      std::reverse(gene.begin(), gene.end());
      for (auto& b : gene) b = static_cast<uint8_t>(3 - b);
    }
    v->insert(v->end(), gene.begin(), gene.end());
  }
  bool Coin() { return g_() % 2; }
  int Codons() { return 100 + static_cast<int>(g_() % 500); }

 private:
  std::mt19937 g_;
  std::discrete_distribution<int> codon_;
};

// Appends genes and spacers to *v until it holds at least n bases.
void AddGenes(GeneMaker* m, size_t n, std::vector<uint8_t>* v) {
  while (v->size() < n) {
    m->Spacer(v);
    const int codons = m->Codons();
    m->Gene(codons, m->Coin(), v);
  }
}

std::vector<uint8_t> Genes(size_t n, uint32_t seed) {
  GeneMaker m(seed);
  std::vector<uint8_t> v;
  AddGenes(&m, n, &v);
  v.resize(n);
  return v;
}

size_t RoundTrip(const CmParams& p, const std::vector<uint8_t>& v) {
  std::string out;
  EXPECT_TRUE(CmEncode(p, v.data(), v.size(), &out).ok());
  std::vector<uint8_t> back(v.size());
  EXPECT_TRUE(CmDecode(p, out, v.size(), back.data()).ok());
  EXPECT_EQ(back, v);
  return out.size();
}

// Coded bytes of v at max with its frame (framed) and with frame 0 (mod3).
void MaxWithAndWithoutFrame(const std::vector<uint8_t>& v, size_t* framed, size_t* mod3) {
  CmParams p = CmParams::Max().FitTo(v.size());
  *framed = RoundTrip(p, v);
  p.frame = 0;
  *mod3 = RoundTrip(p, v);
}

TEST(CmFrame, IntegerLog2) {
  using models::CodonFrame;
  EXPECT_EQ(CodonFrame::Log2Q8(0), 0);
  for (int k = 0; k < 64; ++k) EXPECT_EQ(CodonFrame::Log2Q8(uint64_t{1} << k), k * 256) << k;
  EXPECT_EQ(CodonFrame::Log2Q8(3), 405);  // log2(3) = 1.58496: 405.75
  EXPECT_EQ(CodonFrame::Log2Q8(1000), 2551);  // 9.96578 * 256 = 2551.2
  int last = 0;
  for (uint64_t x = 1; x < 100000; x += 7) {
    const int v = CodonFrame::Log2Q8(x);
    EXPECT_GE(v, last);
    last = v;
  }
}

TEST(CmFrame, TrackerFindsTheStrandAndCodonPositionOfGenes) {
  // After a stretch of genes it has learnt from, the tracker names the
  // frame of a new gene of the same codon usage, on either strand, at any
  // offset, from 200 bases into it.
  for (int strand = 0; strand < 2; ++strand) {
    for (int offset = 0; offset < 3; ++offset) {
      GeneMaker m(5);
      std::vector<uint8_t> s;
      AddGenes(&m, 300000, &s);
      m.Spacer(&s);
      for (int i = 0; i < offset; ++i) s.push_back(0);
      const size_t start = s.size();
      m.Gene(1000, strand == 1, &s);
      s.resize(s.size() - 3);  // not its stop codon
      models::CodonFrame f;
      unsigned last3 = 0;
      size_t right = 0, named = 0;
      for (size_t n = 0; n < s.size(); ++n) {
        if (n >= start + 200) {
          ++named;
          // Codon position in reading order of the forward strand.
          const size_t want = static_cast<size_t>(strand * 3) + (n - start) % 3;
          right += f.State(n) == want;
        }
        last3 = ((last3 << 2) | s[n]) & 63;
        f.Push(static_cast<uint32_t>(n + 1), last3);
      }
      EXPECT_GT(right, named * 95 / 100) << "strand " << strand << " offset " << offset << ": " << right << " of "
                                         << named;
    }
  }
}

TEST(CmFrame, Variant1ParamsCodeExactlyAsBeforeTheFrame) {
  // Hashes of the bytes the coder wrote before `frame` existed (commit
  // e4f55c0, max and the old reference params): stores and containers
  // written then must decode, and their params now mean frame == 0.
  auto v = Walk(120000, 11);
  // (CmParams{}: max's params before the repeat pool of issue #17)
  CmParams m;
  m.frame = 0;
  std::string a;
  ASSERT_TRUE(CmEncode(m.FitTo(v.size()), v.data(), v.size(), &a).ok());
  EXPECT_EQ(a.size(), 13643u);
  EXPECT_EQ(Fnv(a), 0x7c22b1930c7f0422ull);
  CmParams r;
  r.orders = {2, 6, 12, 20};
  r.ir_mask = 0;
  r.flags = 1;
  r.frame = 0;
  auto prime = Walk(60000, 12);
  std::string b;
  ASSERT_TRUE(CmEncodePrimed(r.FitTo(v.size() + prime.size()), prime, v.data(), v.size(), &b).ok());
  EXPECT_EQ(b.size(), 13336u);
  EXPECT_EQ(Fnv(b), 0xb02401783fc98576ull);
  std::vector<uint8_t> back(v.size());
  ASSERT_TRUE(CmDecodePrimed(r.FitTo(v.size() + prime.size()), prime, b, v.size(), back.data()).ok());
  EXPECT_EQ(back, v);
  // Such params serialise as variant 1, byte for byte.
  EXPECT_EQ(m.Serialize()[0], static_cast<char>(CmParams::kVariantNoFrame));
  EXPECT_EQ(m.Serialize().size(), 2 + m.orders.size() + 4 + 10);
}

TEST(CmFrame, ParamsCarryTheFrameInVariant2) {
  size_t used = 0;
  const CmParams m;  // max's params before the repeat pool (variant 3)
  ASSERT_GT(m.frame, 0);
  const std::string s = m.Serialize();
  EXPECT_EQ(s[0], static_cast<char>(CmParams::kVariant));
  auto q = CmParams::Parse(s, &used);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->frame, m.frame);
  EXPECT_EQ(used, s.size());
  EXPECT_EQ(q->Serialize(), s);
  // Trailing bytes are the caller's (the coded bases follow the params).
  ASSERT_TRUE(CmParams::Parse(s + "xyz", &used).ok());
  EXPECT_EQ(used, s.size());
  for (size_t i = 0; i < s.size(); ++i) EXPECT_FALSE(CmParams::Parse(s.substr(0, i), &used).ok()) << i;
  // Variant 2 never carries frame 0; read as variant 3 these bytes lack the
  // pool's.
  std::string zero = s;
  zero.back() = 0;
  EXPECT_FALSE(CmParams::Parse(zero, &used).ok());
  std::string v3 = s;
  v3[0] = 3;
  EXPECT_FALSE(CmParams::Parse(v3, &used).ok());
  // The fast balanced path has no frame.
  CmParams b = CmParams::Balanced();
  EXPECT_EQ(b.frame, 0);
  b.frame = 66;
  EXPECT_FALSE(CmParams::Parse(b.Serialize(), &used).ok());
  // Variant 1 parses as frame 0.
  CmParams o;  // no pool: variant 1 when frame is 0
  o.frame = 0;
  auto p1 = CmParams::Parse(o.Serialize(), &used);
  ASSERT_TRUE(p1.ok());
  EXPECT_EQ(p1->frame, 0);
  EXPECT_EQ(CmParams::Reference().frame, m.frame);
}

TEST(CmFrame, RoundTripAndDeterminismWithAndWithoutFrame) {
  for (uint8_t frame : {0, 1, 66, 255}) {
    for (size_t n : {0ul, 1ul, 5ul, 1000ul, 200000ul}) {
      auto v = Genes(n, static_cast<uint32_t>(n + frame));
      CmParams p = CmParams::Max().FitTo(n);
      p.frame = frame;
      std::string a, b;
      ASSERT_TRUE(CmEncode(p, v.data(), v.size(), &a).ok());
      ASSERT_TRUE(CmEncode(p, v.data(), v.size(), &b).ok());
      ASSERT_EQ(a, b);
      std::vector<uint8_t> back(n);
      ASSERT_TRUE(CmDecode(p, a, n, back.data()).ok());
      ASSERT_EQ(back, v) << int{frame} << " " << n;
    }
    // Primed (fasta-ref), which carries the frame state over from the prime.
    auto prime = Genes(50000, 3);
    auto v = Genes(40000, 4);
    CmParams r = CmParams::Reference().FitTo(90000);
    r.frame = frame;
    std::string out;
    ASSERT_TRUE(CmEncodePrimed(r, prime, v.data(), v.size(), &out).ok());
    std::vector<uint8_t> back(v.size());
    ASSERT_TRUE(CmDecodePrimed(r, prime, out, v.size(), back.data()).ok());
    ASSERT_EQ(back, v);
  }
}

TEST(CmFrame, FrameStateCodesGenesOfEveryOffsetSmaller) {
  // Position mod 3 splits genes of different offsets apart; the frame
  // inferred from open reading frames lets them share their statistics.
  size_t framed = 0, mod3 = 0;
  MaxWithAndWithoutFrame(Genes(600000, 7), &framed, &mod3);
  EXPECT_LT(framed, mod3 * 0.98) << framed << " vs " << mod3;
}

TEST(CmFrame, FrameStateCodesABacterialGenomeSmaller) {
  std::string why;
  std::string path;
  for (const auto& f : testing::CorpusFiles(&why))
    if (f.find("ecoli_536") != std::string::npos) path = f;
  if (path.empty()) GTEST_SKIP() << "no ecoli_536 in the corpus: " << why;
  const std::string text = testing::ReadFile(path);
  std::vector<uint8_t> v;
  bool header = false;
  for (char c : text) {
    if (c == '>') header = true;
    if (c == '\n') header = false;
    if (header) continue;
    const char* acgt = "ACGT";
    for (int i = 0; i < 4; ++i)
      if (c == acgt[i]) v.push_back(static_cast<uint8_t>(i));
    if (v.size() == 1500000) break;
  }
  ASSERT_EQ(v.size(), 1500000u);
  size_t framed = 0, mod3 = 0;
  MaxWithAndWithoutFrame(v, &framed, &mod3);
  // Measured: 2.4% smaller (349,264 vs 357,719 bytes; the synthetic genes
  // above 3.5%: 142,965 vs 148,197).
  EXPECT_LT(framed, mod3 * 0.99) << framed << " vs " << mod3;
}

}  // namespace
}  // namespace pmklc
