// References (issue #6): nucleotide codes, MinHash sketches, segment choice,
// and the fasta-ref / ref-link codecs on real strains of one species.
#include <gtest/gtest.h>

#include <map>
#include <memory>

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

TEST(Reference, IndexPicksTheSegmentsAGroupCameFrom) {
  const std::string a = Corpus("kpn_hs11286.fa"), b = Corpus("kpn_kp1084.fa"), e = Corpus("ecoli_536.fa");
  if (a.empty() || b.empty() || e.empty()) GTEST_SKIP() << "corpus not available";
  ref::RefIndex idx;
  const size_t seg = 1u << 20;
  for (uint32_t s = 0; s * seg < a.size() && s < 4; ++s)
    idx.Add(s, NucleotideCodes(std::string_view(a).substr(s * seg, seg)));
  idx.Build();
  // A slice of segment 2 itself.
  auto own = idx.Choose(NucleotideCodes(std::string_view(a).substr(2 * seg + 1000, 200000)), 4, 0.02);
  ASSERT_FALSE(own.empty());
  EXPECT_EQ(own[0], 2u);
  // Another genus shares too little.
  EXPECT_TRUE(idx.Choose(NucleotideCodes(std::string_view(e).substr(0, 1u << 20)), 4, 0.02).empty());
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
