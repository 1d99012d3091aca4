// Runs the libFuzzer entry points on deterministic mutations of valid inputs,
// so CI exercises them without clang's fuzzer runtime.
#include <gtest/gtest.h>

#include <random>

#include "engine/codec/codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace pmklc {
namespace {

TEST(FuzzSmoke, BlockDecoderSurvivesMutations) {
  std::mt19937 g(12345);
  std::vector<std::string> seeds;
  for (CodecId c : {CodecId::kRaw, CodecId::kZstd}) {
    std::string raw(3000, '\0');
    for (size_t i = 0; i < raw.size(); ++i) raw[i] = "ACGTN\n>"[g() % 7];
    EncodeOptions o;
    o.codec = c;
    std::string v;
    ASSERT_TRUE(EncodeBlock(raw, o, &v).ok());
    seeds.push_back(v);
  }
  for (int iter = 0; iter < 20000; ++iter) {
    std::string v = seeds[iter % seeds.size()];
    int edits = 1 + g() % 4;
    for (int e = 0; e < edits; ++e) {
      switch (g() % 4) {
        case 0: v[g() % v.size()] ^= static_cast<char>(1 << (g() % 8)); break;
        case 1: v.resize(g() % (v.size() + 1)); break;
        case 2: v.insert(g() % (v.size() + 1), 1, static_cast<char>(g())); break;
        case 3: if (!v.empty()) v[g() % v.size()] = static_cast<char>(g()); break;
      }
      if (v.empty()) break;
    }
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(v.data()), v.size());
  }
}

// A `max` fasta-cm block (params variant 4: the repeat pool and the 4-symbol
// network of issue #17):
// each decode builds the models, so fewer mutations.
TEST(FuzzSmoke, BlockDecoderSurvivesMutationsOfMaxBlocks) {
  std::mt19937 g(777);
  std::string raw = ">chr1 test\n";
  std::string unit;
  for (int i = 0; i < 120; ++i) unit.push_back("ACGT"[g() % 4]);
  for (int line = 0; line < 60; ++line) {
    for (int i = 0; i < 60; ++i) raw.push_back(g() % 9 ? unit[(line * 60 + i) % unit.size()] : "ACGTN"[g() % 5]);
    raw.push_back('\n');
  }
  auto o = ProfileOptions("max");
  ASSERT_TRUE(o.ok());
  std::string seed;
  ASSERT_TRUE(EncodeBlock(raw, *o, &seed).ok());
  ASSERT_EQ(static_cast<CodecId>(seed[1]), CodecId::kFastaCm);
  std::string back;
  ASSERT_TRUE(DecodeBlock(seed, &back).ok());
  ASSERT_EQ(back, raw);
  for (int iter = 0; iter < 1500; ++iter) {
    std::string v = seed;
    int edits = 1 + g() % 3;
    for (int e = 0; e < edits && !v.empty(); ++e) {
      switch (g() % 3) {
        case 0: v[g() % v.size()] ^= static_cast<char>(1 << (g() % 8)); break;
        case 1: v.resize(g() % (v.size() + 1)); break;
        case 2: v[g() % v.size()] = static_cast<char>(g()); break;
      }
    }
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(v.data()), v.size());
  }
}

}  // namespace
}  // namespace pmklc
