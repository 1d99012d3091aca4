// References (issue #6): nucleotide codes, MinHash sketches, segment choice,
// and the fasta-ref / ref-link codecs on real strains of one species.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>

#include "engine/codec/codec.h"
#include "engine/ref/ref_select.h"
#include "tests/unit/corpus_util.h"

namespace pmklc {
namespace {

std::string Corpus(const std::string& name) {
  std::string why;
  auto files = testing::CorpusFiles(&why);
  for (auto& f : files)
    if (f.ends_with("/" + name)) return testing::ReadFile(f);
  return {};
}

// Serves segments from memory, counting requests.
class MapSource : public RefSource {
 public:
  std::map<std::pair<uint64_t, uint32_t>, std::shared_ptr<RefSegment>> segs;
  int gets = 0;
  RefSegmentKey Add(uint64_t object, uint32_t seg, std::string raw) {
    auto s = std::make_shared<RefSegment>();
    s->raw = std::move(raw);
    s->codes = NucleotideCodes(s->raw);
    segs[{object, seg}] = s;
    return {object, seg, BlockChecksum(s->raw)};
  }
  Result<std::shared_ptr<const RefSegment>> Get(const RefSegmentKey& k) override {
    ++gets;
    auto it = segs.find({k.object, k.segment});
    if (it == segs.end()) return Status::NotFound("no such segment");
    return std::shared_ptr<const RefSegment>(it->second);
  }
};

TEST(Reference, NucleotideCodesSkipHeadersAndOtherBytes) {
  // "AcgT", then "acg" (N, R, Y, '-' and '\r' skipped), then "t".
  EXPECT_EQ(NucleotideCodes(">chr ACGT\nAcgT\r\nNNRY-acg\n;comment GG\nt"), std::string("\0\1\2\3\0\1\2\3", 8));
  EXPECT_EQ(NucleotideCodes(""), "");
  EXPECT_EQ(NucleotideCodes("ACGT"), std::string("\0\1\2\3", 4));  // no header at all
}

TEST(Reference, SketchTellsStrainsFromOtherSpecies) {
  const std::string a = Corpus("kpn_hs11286.fa"), b = Corpus("kpn_kp1084.fa"), e = Corpus("ecoli_536.fa");
  if (a.empty() || b.empty() || e.empty()) GTEST_SKIP() << "corpus not available";
  auto sketch = [](const std::string& f) {
    ref::SketchBuilder sb;
    sb.Add(NucleotideCodes(f));
    return sb.Finish();
  };
  const ref::Sketch sa = sketch(a), sb = sketch(b), se = sketch(e);
  EXPECT_EQ(sa.mins.size(), ref::kSketchSize);
  EXPECT_GT(ref::Jaccard(sa, sb), 0.3);   // strains of K. pneumoniae
  EXPECT_LT(ref::Jaccard(sa, se), 0.05);  // E. coli: another genus
  EXPECT_DOUBLE_EQ(ref::Jaccard(sa, sa), 1.0);
  // Chunked input gives the same sketch; the record round-trips.
  const std::string codes = NucleotideCodes(a);
  ref::SketchBuilder chunked;
  for (size_t o = 0; o < codes.size(); o += 777) chunked.Add(std::string_view(codes).substr(o, 777));
  EXPECT_EQ(chunked.Finish().mins, sa.mins);
  auto back = ref::Sketch::Parse(sa.Serialize());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->mins, sa.mins);
  EXPECT_EQ(back->bases, sa.bases);
  std::string bad = sa.Serialize();
  bad.pop_back();
  EXPECT_FALSE(ref::Sketch::Parse(bad).ok());
}

// Record v2 (Rice-coded deltas) is about a third of v1, and v1 records that
// older stores hold still parse to the same sketch.
TEST(Reference, SketchRecordIsCompactAndReadsVersion1) {
  const std::string a = Corpus("kpn_hs11286.fa");
  if (a.empty()) GTEST_SKIP() << "corpus not available";
  ref::SketchBuilder builder;
  builder.Add(NucleotideCodes(a));
  const ref::Sketch sk = builder.Finish();
  const std::string v2 = sk.Serialize();
  EXPECT_EQ(static_cast<uint8_t>(v2[0]), 2);
  EXPECT_LT(v2.size(), 1600u);  // v1: 13 + 4 * 1024 = 4109 bytes
  std::string v1(13 + 4 * sk.mins.size(), '\0');
  v1[0] = 1;
  for (int i = 0; i < 8; ++i) v1[1 + i] = static_cast<char>(sk.bases >> (8 * i));
  for (int i = 0; i < 4; ++i) v1[9 + i] = static_cast<char>(sk.mins.size() >> (8 * i));
  for (size_t j = 0; j < sk.mins.size(); ++j)
    for (int i = 0; i < 4; ++i) v1[13 + 4 * j + i] = static_cast<char>(sk.mins[j] >> (8 * i));
  auto old = ref::Sketch::Parse(v1);
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  EXPECT_EQ(old->mins, sk.mins);
  EXPECT_EQ(old->bases, sk.bases);
  EXPECT_EQ(old->Serialize(), v2);
  // Small and degenerate sketches round-trip too.
  for (const std::vector<uint64_t>& mins :
       {std::vector<uint64_t>{}, std::vector<uint64_t>{0}, std::vector<uint64_t>{0xffffffff},
        std::vector<uint64_t>{0, 1, 2, 3, 0xfffffffe, 0xffffffff}}) {
    ref::Sketch t;
    t.bases = 77;
    t.mins = mins;
    auto back = ref::Sketch::Parse(t.Serialize());
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(back->mins, mins);
    EXPECT_EQ(back->bases, 77u);
  }
  // Damaged records fail: unknown version, a trailing byte, a missing byte,
  // a padding bit set, hashes out of order (v1), the empty record.
  std::string bad = v2;
  bad[0] = 3;
  EXPECT_FALSE(ref::Sketch::Parse(bad).ok());
  EXPECT_FALSE(ref::Sketch::Parse(v2 + '\0').ok());
  EXPECT_FALSE(ref::Sketch::Parse(v2.substr(0, v2.size() - 1)).ok());
  ref::Sketch one;
  one.mins = {5};  // k = 2: "10" "01", then four padding bits
  std::string pad = one.Serialize();
  ASSERT_TRUE(ref::Sketch::Parse(pad).ok());
  pad.back() = static_cast<char>(pad.back() | 1);
  EXPECT_FALSE(ref::Sketch::Parse(pad).ok());
  std::swap_ranges(v1.begin() + 13, v1.begin() + 17, v1.begin() + 17);  // hashes 0 and 1
  EXPECT_FALSE(ref::Sketch::Parse(v1).ok());
  EXPECT_FALSE(ref::Sketch::Parse("").ok());
}

// The sketch fuzz target's property (tests/fuzz/sketch_fuzz.cc) on
// deterministic mutations of a real record: every input parses or fails,
// and what parses is ascending and re-serialises to the same sketch.
TEST(Reference, SketchParseSurvivesMutations) {
  ref::Sketch sk;
  sk.bases = 5000000;
  std::mt19937 g(7);
  for (uint64_t h = 0; sk.mins.size() < 300;) sk.mins.push_back(h += 1 + g() % 1600);
  const std::string seed = sk.Serialize();
  int parsed = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::string v = seed;
    for (int e = 1 + g() % 3; e > 0 && !v.empty(); --e) {
      switch (g() % 3) {
        case 0: v[g() % v.size()] ^= static_cast<char>(1 << (g() % 8)); break;
        case 1: v.resize(g() % (v.size() + 1)); break;
        case 2: v.insert(g() % (v.size() + 1), 1, static_cast<char>(g())); break;
      }
    }
    auto s = ref::Sketch::Parse(v);
    if (!s.ok()) continue;
    ++parsed;
    ASSERT_LE(s->mins.size(), ref::kSketchSize);
    for (size_t i = 1; i < s->mins.size(); ++i) ASSERT_LT(s->mins[i - 1], s->mins[i]);
    if (!s->mins.empty()) ASSERT_LE(s->mins.back(), 0xffffffffu);
    auto again = ref::Sketch::Parse(s->Serialize());
    ASSERT_TRUE(again.ok());
    ASSERT_EQ(again->mins, s->mins);
    ASSERT_EQ(again->bases, s->bases);
  }
  EXPECT_GT(parsed, 0);  // some mutations (e.g. of a low bit) still parse
}

TEST(Reference, IndexPicksTheSegmentsAGroupCameFrom) {
  const std::string a = Corpus("kpn_hs11286.fa"), b = Corpus("kpn_kp1084.fa"), e = Corpus("ecoli_536.fa");
  if (a.empty() || b.empty() || e.empty()) GTEST_SKIP() << "corpus not available";
  ref::RefIndex idx;
  const size_t seg = 1u << 20;
  for (uint32_t s = 0; s * seg < a.size() && s < 4; ++s)
    idx.Add(s, NucleotideCodes(std::string_view(a).substr(s * seg, seg)));
  idx.Build();
  // A slice of segment 2 itself.
  auto own = idx.Choose(NucleotideCodes(std::string_view(a).substr(2 * seg + 1000, 200000)), 4);
  ASSERT_FALSE(own.empty());
  EXPECT_EQ(own[0], 2u);
  // Another genus shares too little.
  EXPECT_TRUE(idx.Choose(NucleotideCodes(std::string_view(e).substr(0, 1u << 20)), 4).empty());
}

// The first segment must cover 2% of a block's sampled k-mers (it must pay
// for the lighter models of coding against segments); each further one 0.2%.
TEST(Reference, IndexNeedsMoreOfTheFirstSegmentThanOfTheOthers) {
  std::mt19937 g(11);
  auto random_codes = [&](size_t n) {
    std::string c(n, '\0');
    for (char& x : c) x = static_cast<char>(g() & 3);
    return c;
  };
  const std::string s0 = random_codes(1 << 20), s1 = random_codes(1 << 20), novel = random_codes(1 << 20);
  ref::RefIndex idx;
  idx.Add(0, s0);
  idx.Add(1, s1);
  idx.Build();
  const size_t n = 1 << 20;
  // 1% from segment 1 after 60% from segment 0: both.
  std::string block = s0.substr(0, n * 60 / 100) + s1.substr(0, n / 100) + novel.substr(0, n * 39 / 100);
  EXPECT_EQ(idx.Choose(block, 4), (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(idx.Choose(block, 1), (std::vector<uint32_t>{0}));
  // 1% from segment 0 and nothing else: not enough for a first segment.
  block = s0.substr(0, n / 100) + novel.substr(0, n * 99 / 100);
  EXPECT_TRUE(idx.Choose(block, 4).empty());
  // 3%: enough.
  block = s0.substr(0, n * 3 / 100) + novel.substr(0, n * 97 / 100);
  EXPECT_EQ(idx.Choose(block, 4), (std::vector<uint32_t>{0}));
  // 0.1% from segment 1 after segment 0: below the further segments' share.
  block = s0.substr(0, n / 2) + s1.substr(0, n / 1000) + novel.substr(0, n / 2);
  EXPECT_EQ(idx.Choose(block, 4), (std::vector<uint32_t>{0}));
}

TEST(Reference, FastaRefRoundTripIsSmallerAndPinned) {
  const std::string a = Corpus("kpn_hs11286.fa"), b = Corpus("kpn_kp1084.fa");
  if (a.empty() || b.empty()) GTEST_SKIP() << "corpus not available";
  // 256 KiB of B against all of A (two segments).
  const std::string raw = b.substr(1 << 20, 256 << 10);
  MapSource src;
  const RefSegmentKey k0 = src.Add(42, 0, a.substr(0, 4 << 20));
  const RefSegmentKey k1 = src.Add(42, 1, a.substr(4 << 20));
  auto opts = ProfileOptions("max");
  ASSERT_TRUE(opts.ok());
  std::string alone, dep, dep2;
  ASSERT_TRUE(EncodeBlock(raw, *opts, &alone).ok());
  EncodeOptions e = *opts;
  e.refs = {k0, k1};
  const std::string prime = src.segs[{42, 0}]->codes + src.segs[{42, 1}]->codes;
  e.ref_codes = prime;
  ASSERT_TRUE(EncodeBlock(raw, e, &dep).ok());
  ASSERT_TRUE(EncodeBlock(raw, e, &dep2).ok());
  EXPECT_EQ(dep, dep2);  // deterministic
  auto h = ParseBlockHeader(dep);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->codec, CodecId::kFastaRef);
  EXPECT_LT(dep.size() * 3, alone.size()) << "against its strain: " << dep.size() << " vs " << alone.size();
  std::vector<RefSegmentKey> keys;
  ASSERT_TRUE(BlockRefs(dep, &keys).ok());
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0], k0);
  EXPECT_EQ(keys[1], k1);
  ASSERT_TRUE(BlockRefs(alone, &keys).ok());
  EXPECT_TRUE(keys.empty());

  std::string out;
  ASSERT_TRUE(DecodeBlock(dep, &out, nullptr, &src).ok());
  EXPECT_EQ(out, raw);
  // Without a source, with a missing segment, or with another segment under
  // the same name: an error, never bytes.
  EXPECT_TRUE(DecodeBlock(dep, &out).code() == Status::Code::kNotSupported);
  EXPECT_TRUE(out.empty());
  MapSource empty;
  EXPECT_TRUE(DecodeBlock(dep, &out, nullptr, &empty).IsCorruption());
  MapSource other;
  other.Add(42, 0, a.substr(0, 4 << 20));
  other.Add(42, 1, a.substr(4 << 20, 1 << 20));  // same name, other bytes
  EXPECT_TRUE(DecodeBlock(dep, &out, nullptr, &other).IsCorruption());
  EXPECT_TRUE(out.empty());
  // Flipped bits anywhere (reference list included) never give wrong bytes.
  std::vector<size_t> at = {17, 20, 30, 45};  // reference count, object id, segment, checksum
  for (size_t i = 64; i < dep.size(); i += dep.size() / 6) at.push_back(i);
  for (size_t i : at) {
    std::string bad = dep;
    bad[i] = static_cast<char>(bad[i] ^ 0x10);
    Status s = DecodeBlock(bad, &out, nullptr, &src);
    if (s.ok()) EXPECT_EQ(out, raw) << "flip at " << i;
    else EXPECT_TRUE(out.empty());
  }
}

TEST(Reference, RefLinkIsTheSegment) {
  MapSource src;
  const RefSegmentKey k = src.Add(7, 3, ">x\nACGTTGCA\n");
  const std::string v = RefLinkValue(k, 12);
  std::string out;
  ASSERT_TRUE(DecodeBlock(v, &out, nullptr, &src).ok());
  EXPECT_EQ(out, ">x\nACGTTGCA\n");
  std::vector<RefSegmentKey> keys;
  ASSERT_TRUE(BlockRefs(v, &keys).ok());
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0], k);
  EXPECT_TRUE(DecodeBlock(v, &out).code() == Status::Code::kNotSupported);
  EXPECT_TRUE(DecodeBlock(RefLinkValue(k, 11), &out, nullptr, &src).IsCorruption());  // length differs
  RefSegmentKey wrong = k;
  wrong.checksum ^= 1;
  EXPECT_TRUE(DecodeBlock(RefLinkValue(wrong, 12), &out, nullptr, &src).IsCorruption());
  EXPECT_STREQ(CodecName(CodecId::kFastaRef), "fasta-ref");
  EXPECT_STREQ(CodecName(CodecId::kRefLink), "ref-link");
}

}  // namespace
}  // namespace pmklc
