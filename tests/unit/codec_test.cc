#include <gtest/gtest.h>

#include <random>

#include "engine/codec/codec.h"

namespace pmklc {
namespace {

std::string Random(size_t n, uint32_t seed, int alphabet = 256) {
  std::mt19937 g(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(g() % alphabet);
  return s;
}

std::string Dna(size_t n, uint32_t seed) {
  static const char b[] = "ACGT";
  std::mt19937 g(seed);
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = (i % 61 == 60) ? '\n' : b[g() % 4];
  return s;
}

TEST(Codec, RoundTripAllCodecsAndSizes) {
  for (CodecId c : {CodecId::kRaw, CodecId::kZstd, CodecId::kFasta2Bit, CodecId::kFastaProtein}) {
    for (size_t n : {0ul, 1ul, 2ul, 100ul, 4096ul, 131072ul, 1000003ul}) {
      for (const std::string& in : {Random(n, 1), Dna(n, 2), std::string(n, 'A')}) {
        EncodeOptions o;
        o.codec = c;
        std::string v, out;
        ASSERT_TRUE(EncodeBlock(in, o, &v).ok());
        Status ds = DecodeBlock(v, &out);
        ASSERT_TRUE(ds.ok()) << n << " codec " << int(c) << " " << ds.ToString() << " in=" << testing::PrintToString(in.substr(0, 40));
        ASSERT_EQ(in, out);
      }
    }
  }
}

TEST(Codec, IncompressibleFallsBackToRaw) {
  std::string in = Random(65536, 7);
  std::string v;
  ASSERT_TRUE(EncodeBlock(in, EncodeOptions{}, &v).ok());
  auto h = ParseBlockHeader(v);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->codec, CodecId::kRaw);
  EXPECT_EQ(v.size(), in.size() + format::kBlockHeaderSize);
}

TEST(Codec, DnaUsesFasta2BitByDefault) {
  std::string in = ">chr1 test\n" + Dna(131072, 3);
  std::string v, out;
  ASSERT_TRUE(EncodeBlock(in, EncodeOptions{}, &v).ok());
  auto h = ParseBlockHeader(v);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->codec, CodecId::kFasta2Bit);
  EXPECT_LT(v.size(), in.size() / 4 + 200);  // 2 bits per base plus small streams
  ASSERT_TRUE(DecodeBlock(v, &out).ok());
  EXPECT_EQ(out, in);
}

TEST(Codec, DnaUsesZstdWhenFastaDetectionIsOff) {
  std::string in = Dna(131072, 3);
  EncodeOptions o;
  o.fasta = false;
  std::string v;
  ASSERT_TRUE(EncodeBlock(in, o, &v).ok());
  auto h = ParseBlockHeader(v);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->codec, CodecId::kZstd);
  EXPECT_LT(v.size(), in.size() * 0.35);
}

TEST(Codec, Deterministic) {
  std::string in = Dna(300000, 9), a, b;
  ASSERT_TRUE(EncodeBlock(in, EncodeOptions{}, &a).ok());
  ASSERT_TRUE(EncodeBlock(in, EncodeOptions{}, &b).ok());
  EXPECT_EQ(a, b);
}

// A flipped bit either fails the decode or (for bits the zstd frame does not
// use, such as unused header bits) still yields exactly the original bytes:
// never different bytes.
TEST(Codec, EveryFlippedBitNeverYieldsWrongBytes) {
  std::string in = Dna(5000, 4), v, out;
  ASSERT_TRUE(EncodeBlock(in, EncodeOptions{}, &v).ok());
  size_t detected = 0, tried = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    for (int bit = 0; bit < 8; bit += 3) {
      tried++;
      std::string bad = v;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      Status s = DecodeBlock(bad, &out);
      if (s.ok()) {
        ASSERT_EQ(out, in) << "byte " << i << " bit " << bit;
        ASSERT_GE(i, format::kBlockHeaderSize) << "header bits are all significant";
      } else {
        ASSERT_TRUE(out.empty());
        detected++;
      }
    }
  }
  EXPECT_GT(detected, tried * 9 / 10);
}

TEST(Codec, UnknownCodecIsAnErrorNotAFallback) {
  std::string in = "ACGT", v, out;
  EncodeOptions o;
  o.codec = CodecId::kRaw;
  ASSERT_TRUE(EncodeBlock(in, o, &v).ok());
  v[1] = 77;
  Status s = DecodeBlock(v, &out);
  EXPECT_TRUE(s.IsCorruption());
  EXPECT_NE(s.message().find("unknown codec"), std::string::npos);
}

TEST(Codec, TruncatedAndEmptyValues) {
  std::string out;
  EXPECT_FALSE(DecodeBlock("", &out).ok());
  EXPECT_FALSE(DecodeBlock(std::string(15, '\1'), &out).ok());
  std::string v;
  ASSERT_TRUE(EncodeBlock(Dna(10000, 5), EncodeOptions{}, &v).ok());
  for (size_t cut = 0; cut < v.size(); cut += 97) EXPECT_FALSE(DecodeBlock(v.substr(0, cut), &out).ok());
}

TEST(Codec, Names) {
  EXPECT_STREQ(CodecName(CodecId::kZstd), "zstd");
  EXPECT_EQ(*CodecFromName("raw"), CodecId::kRaw);
  EXPECT_FALSE(CodecFromName("nope").ok());
}

}  // namespace
}  // namespace pmklc
