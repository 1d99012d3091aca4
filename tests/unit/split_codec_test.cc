// Split blocks (codec split, docs/format.md §split; issue #19): parts that
// decode alone, on real genomes.
#include <gtest/gtest.h>

#include <random>

#include "engine/codec/codec.h"
#include "engine/codec/endian.h"
#include "engine/fasta/varint.h"
#include "tests/unit/corpus_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace pmklc {
namespace {

// The first n bytes of a corpus genome (FASTA, with its header and lines).
std::string Genome(const std::string& name, size_t n) {
  std::string why;
  for (const std::string& f : testing::CorpusFiles(&why))
    if (f.size() >= name.size() + 3 && f.compare(f.size() - name.size() - 3, std::string::npos, name + ".fa") == 0)
      return testing::ReadFile(f).substr(0, n);
  return {};
}

EncodeOptions Balanced(uint32_t split) {
  auto o = ProfileOptions("balanced");
  EXPECT_TRUE(o.ok());
  o->split_bytes = split;
  return *o;
}

TEST(SplitCodec, PartsDecodeAloneAndTheWholeRoundTrips) {
  if (!testing::CorpusPresent()) GTEST_SKIP() << "no ../shared/data/corpus in this checkout";
  const std::string raw = Genome("ecoli_536", 600000);
  ASSERT_EQ(raw.size(), 600000u) << "no corpus";
  std::string v, again, out;
  ASSERT_TRUE(EncodeBlock(raw, Balanced(131072), &v).ok());
  ASSERT_EQ(static_cast<CodecId>(v[1]), CodecId::kSplit);
  ASSERT_TRUE(EncodeBlock(raw, Balanced(131072), &again).ok());
  EXPECT_EQ(v, again) << "deterministic";
  ASSERT_TRUE(DecodeBlock(v, &out).ok());
  EXPECT_EQ(out, raw);
  std::vector<BlockPart> parts;
  ASSERT_TRUE(BlockParts(v, &parts).ok());
  ASSERT_EQ(parts.size(), 5u);  // 4 x 128 KiB + the rest
  for (size_t i = 0; i < parts.size(); ++i) {
    EXPECT_EQ(parts[i].offset, i * 131072);
    EXPECT_EQ(parts[i].raw_len, std::min<size_t>(131072, raw.size() - i * 131072));
    std::string p;
    ASSERT_TRUE(DecodeBlock(parts[i].value, &p).ok()) << i;
    EXPECT_EQ(p, raw.substr(parts[i].offset, parts[i].raw_len));
    EXPECT_EQ(parts[i].checksum, BlockChecksum(p));
    // Each part is exactly what coding its bytes alone gives.
    std::string alone;
    ASSERT_TRUE(EncodeBlock(raw.substr(parts[i].offset, parts[i].raw_len), Balanced(0), &alone).ok());
    EXPECT_EQ(alone, std::string(parts[i].value));
  }
  // A block no longer than the part size is not split; an unsplit value is
  // its own one part.
  std::string small;
  ASSERT_TRUE(EncodeBlock(raw.substr(0, 131072), Balanced(131072), &small).ok());
  EXPECT_EQ(static_cast<CodecId>(small[1]), CodecId::kFastaCm);
  ASSERT_TRUE(BlockParts(small, &parts).ok());
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_EQ(parts[0].value.size(), small.size());
  EXPECT_EQ(std::string(CodecName(CodecId::kSplit)), "split");
  EXPECT_EQ(*CodecFromName("split"), CodecId::kSplit);
}

TEST(SplitCodec, ADamagedPartFailsAndNeverYieldsWrongBytes) {
  if (!testing::CorpusPresent()) GTEST_SKIP() << "no ../shared/data/corpus in this checkout";
  const std::string raw = Genome("ecoli_536", 300000);
  ASSERT_FALSE(raw.empty()) << "no corpus";
  std::string v, out;
  ASSERT_TRUE(EncodeBlock(raw, Balanced(65536), &v).ok());
  std::vector<BlockPart> parts;
  ASSERT_TRUE(BlockParts(v, &parts).ok());
  // Flip a byte in the middle of the third part's payload.
  const size_t at = static_cast<size_t>(parts[2].value.data() - v.data()) + parts[2].value.size() / 2;
  std::string bad = v;
  bad[at] ^= 0x20;
  Status s = DecodeBlock(bad, &out);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_TRUE(out.empty());
  // The other parts still decode alone; the damaged one does not.
  ASSERT_TRUE(BlockParts(bad, &parts).ok());
  std::string p;
  EXPECT_TRUE(DecodeBlock(parts[0].value, &p).ok());
  EXPECT_FALSE(DecodeBlock(parts[2].value, &p).ok());
  // Truncations anywhere, and malformed tables.
  for (size_t cut = format::kBlockHeaderSize; cut < v.size(); cut += 1009)
    EXPECT_FALSE(DecodeBlock(v.substr(0, cut), &out).ok()) << cut;
  std::string wrong_version = v;
  wrong_version[format::kBlockHeaderSize] = 9;
  EXPECT_TRUE(DecodeBlock(wrong_version, &out).IsCorruption());
  EXPECT_FALSE(BlockParts(wrong_version, &parts).ok());
  // A part that is itself split is refused.
  std::string inner;
  ASSERT_TRUE(EncodeBlock(raw.substr(0, 200000), Balanced(65536), &inner).ok());
  std::string payload(1, static_cast<char>(format::kSplitVersion));
  PutVarint(&payload, 2);
  PutVarint(&payload, inner.size());
  PutVarint(&payload, inner.size());
  payload += inner + inner;
  std::string nested = inner.substr(0, format::kBlockHeaderSize) + payload;
  const std::string twice = raw.substr(0, 200000) + raw.substr(0, 200000);
  StoreLE32(nested.data() + 4, static_cast<uint32_t>(twice.size()));
  StoreLE64(nested.data() + 8, BlockChecksum(twice));
  Status ns = DecodeBlock(nested, &out);
  EXPECT_TRUE(ns.IsCorruption());
  EXPECT_NE(ns.message().find("itself split"), std::string::npos) << ns.ToString();
}

TEST(SplitCodec, PartsCodedAgainstReferencesListThemOnce) {
  if (!testing::CorpusPresent()) GTEST_SKIP() << "no ../shared/data/corpus in this checkout";
  const std::string genome = Genome("ecoli_536", 500000);
  ASSERT_FALSE(genome.empty()) << "no corpus";
  const std::string ref_raw = genome.substr(0, 200000);
  const std::string raw = genome.substr(200000, 300000);
  const std::string codes = NucleotideCodes(ref_raw);
  EncodeOptions o = Balanced(100000);
  const RefSegmentKey key{42, 0, BlockChecksum(ref_raw)};
  o.refs = {key};
  o.ref_codes = codes;
  std::string v, out;
  ASSERT_TRUE(EncodeBlock(raw, o, &v).ok());
  ASSERT_EQ(static_cast<CodecId>(v[1]), CodecId::kSplit);
  std::vector<RefSegmentKey> deps;
  ASSERT_TRUE(BlockRefs(v, &deps).ok());
  ASSERT_EQ(deps.size(), 1u);
  EXPECT_EQ(deps[0], key);
  struct Src : RefSource {
    std::shared_ptr<RefSegment> seg;
    Result<std::shared_ptr<const RefSegment>> Get(const RefSegmentKey&) override { return std::shared_ptr<const RefSegment>(seg); }
  } src;
  src.seg = std::make_shared<RefSegment>(RefSegment{ref_raw, codes});
  EXPECT_EQ(DecodeBlock(v, &out).code(), Status::Code::kNotSupported);
  ASSERT_TRUE(DecodeBlock(v, &out, nullptr, &src).ok());
  EXPECT_EQ(out, raw);
}

TEST(SplitCodec, DecoderSurvivesMutationsOfSplitValues) {
  std::mt19937 g(4242);
  std::string raw = ">s\n";
  for (int i = 0; i < 9000; ++i) raw.push_back(i % 61 == 60 ? '\n' : "ACGTN"[g() % (i % 7 ? 4 : 5)]);
  std::vector<std::string> seeds;
  for (const char* profile : {"fast", "balanced"}) {
    auto o = ProfileOptions(profile);
    ASSERT_TRUE(o.ok());
    o->split_bytes = 2048;
    std::string v;
    ASSERT_TRUE(EncodeBlock(raw, *o, &v).ok());
    ASSERT_EQ(static_cast<CodecId>(v[1]), CodecId::kSplit);
    seeds.push_back(v);
  }
  for (int iter = 0; iter < 3000; ++iter) {
    std::string v = seeds[iter % seeds.size()];
    for (int e = 1 + g() % 3; e > 0 && !v.empty(); --e) {
      switch (g() % 3) {
        case 0: v[g() % v.size()] ^= static_cast<char>(1 << (g() % 8)); break;
        case 1: v.resize(g() % (v.size() + 1)); break;
        case 2: v[std::min(v.size() - 1, format::kBlockHeaderSize + g() % 24)] = static_cast<char>(g()); break;  // the tables
      }
    }
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(v.data()), v.size());
  }
}

}  // namespace
}  // namespace pmklc
