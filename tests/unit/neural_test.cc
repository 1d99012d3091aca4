// The neural nucleotide stream (engine/models/neural_stream.h) and the
// neural profile end to end (codec fasta-neural).
#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "engine/codec/codec.h"
#include "engine/container/container.h"
#include "tests/unit/container_util.h"
#include "engine/models/neural_stream.h"
#include "tests/unit/neural_util.h"
#include "tests/unit/test_util.h"
#include "engine/models/toknet_predictor.h"

namespace pmklc {
namespace {

// DNA-like codes: random stretches and mutated copies of earlier stretches.
std::vector<uint8_t> Genome(size_t n, uint64_t seed) { return testing::CopiedStretches(n, seed); }

NeuralOptions Small(int workers, uint8_t smp = 5) { return testing::SmallNeural(workers, smp); }

std::string Encode(const NeuralOptions& o, const std::vector<uint8_t>& c) {
  std::string out;
  Status s = NeuralEncode(o, c.data(), c.size(), &out);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

std::vector<uint8_t> Decode(const std::string& in, size_t n, int threads) {
  std::vector<uint8_t> back(n, 9);
  Status s = NeuralDecode(in, n, back.data(), threads);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return back;
}

TEST(NeuralStream, RoundTripsAtEveryW) {
  auto c = Genome(120000, 1);
  for (int w : {1, 2, 3, 5}) {
    auto o = Small(w);
    std::string enc = Encode(o, c);
    auto info = InspectNeuralStream(enc);
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->sub_blocks, static_cast<uint32_t>(w));
    EXPECT_EQ(info->models, kUseDm);
    for (int t : {1, 2, 0}) EXPECT_EQ(Decode(enc, c.size(), t), c) << "W=" << w << " threads=" << t;
  }
}

TEST(NeuralStream, OutputDoesNotDependOnThreads) {
  auto c = Genome(90000, 2);
  auto o = Small(3);
  o.threads = 1;
  const std::string one = Encode(o, c);
  o.threads = 2;
  EXPECT_EQ(Encode(o, c), one);
  o.threads = 3;
  EXPECT_EQ(Encode(o, c), one);
}

TEST(NeuralStream, SmpPassesTheDynamicModel) {
  // Sub-blocks of the same source: with SMP the later ones start from a DM
  // that has learnt, so the stream is smaller than with cold DMs.
  auto c = Genome(200000, 3);
  auto on = Encode(Small(4, 5), c), off = Encode(Small(4, 0), c);
  EXPECT_LT(on.size(), off.size());
  EXPECT_EQ(Decode(on, c.size(), 0), c);
  EXPECT_EQ(Decode(off, c.size(), 1), c);
  auto i = InspectNeuralStream(off);
  ASSERT_TRUE(i.ok());
  EXPECT_EQ(i->smp_percent, 0);
}

TEST(NeuralStream, EdgeSizes) {
  for (size_t n : {0ul, 1ul, 2ul, 3ul, 4ul, 47ul, 10001ul}) {
    auto c = Genome(n, n + 10);
    auto o = Small(2);
    std::string enc = Encode(o, c);
    EXPECT_EQ(Decode(enc, n, 0), c) << n;
  }
}

TEST(NeuralStream, StaticModelsAreNamedByIdAndMustBeAvailable) {
  auto c = Genome(50000, 4);
  auto m = std::make_shared<TokNetModel>();
  m->name = "private-test";
  m->shape = kernels::TokNetShape{3, 3, 6, 16};
  m->weights = TokNetInitialWeights(m->shape, 99);
  (void)SerializeModel(m.get());
  auto o = Small(1);
  o.sprm = m;
  std::string enc = Encode(o, c);
  auto info = InspectNeuralStream(enc);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->models, kUseDm | kUseSprm);
  EXPECT_EQ(info->sprm_id, m->id);
  std::vector<uint8_t> back(c.size());
  Status s = NeuralDecode(enc, c.size(), back.data());
  EXPECT_EQ(s.code(), Status::Code::kNotFound) << s.ToString();  // not registered yet
  RegisterModel(m);
  EXPECT_EQ(Decode(enc, c.size(), 0), c);
}

TEST(NeuralStream, SelectionRecordsItsChoice) {
  // Candidates: the DMs (which learn this data) and a private model with
  // random weights (knows nothing). The selector must keep the first, drop
  // the second, and record exactly that.
  auto junk = std::make_shared<TokNetModel>();
  junk->name = "junk";
  junk->shape = kernels::TokNetShape{3, 3, 6, 16};
  junk->weights = TokNetInitialWeights(junk->shape, 1234, 0.5f, 0.5f);
  (void)SerializeModel(junk.get());
  RegisterModel(junk);
  auto o = Small(1);
  o.select = true;
  o.sprm = junk;
  auto d = Genome(300000, 6);
  std::string enc = Encode(o, d);
  auto info = InspectNeuralStream(enc);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->models, kUseDm);
  EXPECT_EQ(Decode(enc, d.size(), 0), d);
  // Without selection every candidate is mixed and recorded.
  o.select = false;
  enc = Encode(o, d);
  info = InspectNeuralStream(enc);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->models, kUseDm | kUseSprm);
  EXPECT_EQ(Decode(enc, d.size(), 0), d);
}

TEST(NeuralStream, CorruptStreamsFailCleanly) {
  auto c = Genome(30000, 7);
  std::string enc = Encode(Small(2), c);
  std::mt19937 g(8);
  for (int i = 0; i < 60; ++i) {
    std::string bad = enc;
    const size_t at = g() % std::min<size_t>(bad.size(), 64);
    bad[at] = static_cast<char>(bad[at] ^ (1 + g() % 255));
    std::vector<uint8_t> back(c.size());
    (void)NeuralDecode(bad, c.size(), back.data());  // must not crash or hang
  }
  std::vector<uint8_t> back(c.size());
  EXPECT_FALSE(NeuralDecode(enc.substr(0, 10), c.size(), back.data()).ok());
  EXPECT_FALSE(NeuralDecode(enc, c.size() + 1, back.data()).ok());
  // Through the block format: a damaged fasta-neural block either fails or
  // gives back exactly what was written, never other bytes.
  std::string fa = ">g\n";
  for (size_t i = 0; i < c.size(); ++i) fa.push_back("ACGT"[c[i]]);
  fa += "\n";
  auto opts = ProfileOptions("neural");
  ASSERT_TRUE(opts.ok());
  opts->neural = Small(2);
  opts->neural.min_sub_bases = 10000;
  std::string value, out;
  ASSERT_TRUE(EncodeBlock(fa, *opts, &value).ok());
  int failed = 0;
  for (int i = 0; i < 60; ++i) {
    std::string bad = value;
    const size_t at = 16 + g() % (bad.size() - 16);
    bad[at] = static_cast<char>(bad[at] ^ (1 + g() % 255));
    Status s = DecodeBlock(bad, &out);
    if (s.ok()) EXPECT_EQ(out, fa) << "byte " << at;
    else ++failed;
  }
  EXPECT_GT(failed, 50) << "nearly every damaged byte must be caught";
}

TEST(NeuralProfile, FastaRoundTripKeepsEveryDetail) {
  std::mt19937_64 g(9);
  std::string fa = ">chr1 test genome\r\n";
  auto c = Genome(150000, 10);
  for (size_t i = 0; i < c.size(); ++i) {
    char ch = "ACGT"[c[i]];
    if (i % 5000 < 300) ch = static_cast<char>(ch | 0x20);
    if (i % 9000 == 17) ch = 'N';
    if (i % 7777 == 5) ch = "RYKMSWBDHV"[g() % 10];
    fa.push_back(ch);
    if (i % 60 == 59) fa += "\r\n";
  }
  fa += "\r\n>chr2\nNNNNNNNNNNacgt\n";
  auto opts = ProfileOptions("neural");
  ASSERT_TRUE(opts.ok());
  opts->neural.workers = 2;
  opts->neural.min_sub_bases = 20000;
  std::string value, back;
  ASSERT_TRUE(EncodeBlock(fa, *opts, &value).ok());
  auto h = ParseBlockHeader(value);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->codec, CodecId::kFastaNeural);
  ASSERT_TRUE(DecodeBlock(value, &back).ok());
  EXPECT_EQ(back, fa);
  // Non-DNA blocks take the generic codecs as in max.
  std::string bin(5000, '\0');
  for (auto& x : bin) x = static_cast<char>(g());
  ASSERT_TRUE(EncodeBlock(bin, *opts, &value).ok());
  ASSERT_TRUE(DecodeBlock(value, &back).ok());
  EXPECT_EQ(back, bin);
}

}  // namespace
}  // namespace pmklc

namespace pmklc {
namespace {

std::string Fasta(const std::vector<uint8_t>& c) {
  std::string fa = ">g\n";
  for (size_t i = 0; i < c.size(); ++i) {
    fa.push_back("ACGT"[c[i]]);
    if (i % 80 == 79) fa.push_back('\n');
  }
  return fa + "\n";
}

ContainerOptions ChainOptions(int workers, uint8_t smp = 5) {
  auto co = ContainerOptionsFor("neural");
  EXPECT_TRUE(co.ok());
  co->block_size = 64 << 10;
  co->workers = workers;
  co->encode.neural = Small(1, smp);
  return *co;
}

std::string Write(const ContainerOptions& co, const std::string& in) {
  std::string c;
  ContainerWriter w([&](std::string_view b) { c.append(b); return Status::OK(); }, co);
  EXPECT_TRUE(w.Append(in).ok());
  EXPECT_TRUE(w.Finish().ok());
  return c;
}

Status Read(const std::string& c, int threads, std::string* out) {
  return testing::ReadContainer(c, out, threads);
}

TEST(NeuralChain, ContainerBytesDoNotDependOnWAndDecodeAtAnyThreads) {
  // 20 blocks of 64 KiB: two chains (16 + 4), a non-DNA block in between.
  std::string in = Fasta(Genome(700000, 21));
  std::string junk(70000, '\0');
  std::mt19937 g(4);
  for (auto& x : junk) x = static_cast<char>(g());
  in.insert(in.size() / 2, junk);
  const std::string one = Write(ChainOptions(1), in);
  for (int w : {2, 3, 5}) EXPECT_EQ(Write(ChainOptions(w), in), one) << "W=" << w;
  for (int t : {1, 2, 4}) {
    std::string back;
    Status s = Read(one, t, &back);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(back, in) << "threads=" << t;
  }
}

TEST(NeuralChain, PassingTheDynamicModelsBeatsColdBlocks) {
  std::string in = Fasta(Genome(600000, 22));
  const std::string on = Write(ChainOptions(2, 5), in), off = Write(ChainOptions(2, 0), in);
  EXPECT_LT(on.size(), off.size());
  std::string back;
  ASSERT_TRUE(Read(off, 2, &back).ok());
  EXPECT_EQ(back, in);
}

TEST(NeuralChain, AChainedBlockAloneSaysWhatItNeeds) {
  std::string in = Fasta(Genome(200000, 23));
  auto opts = ProfileOptions("neural");
  ASSERT_TRUE(opts.ok());
  opts->neural = Small(1);
  DmLink prev, out;
  prev.Reset(0);  // start from the initial weights, but as block 1 of a chain
  opts->neural.chain = NeuralChain{1, &prev, &out};
  std::string value, back;
  ASSERT_TRUE(EncodeBlock(in, *opts, &value).ok());
  EXPECT_TRUE(out.complete());
  Status s = DecodeBlock(value, &back);
  EXPECT_EQ(s.code(), Status::Code::kNotSupported) << s.ToString();
  EXPECT_NE(s.message().find("in order"), std::string::npos) << s.ToString();
  DmLink prev2, out2;
  prev2.Reset(0);
  NeuralChain c{1, &prev2, &out2};
  ASSERT_TRUE(DecodeBlock(value, &back, &c).ok());
  EXPECT_EQ(back, in);
}

}  // namespace
}  // namespace pmklc

#include "engine/models/neural_schedule.h"

namespace pmklc {
namespace {

// Headers an attacker could write: sizes that wrap, a failing first
// sub-block with SMP (must not leave the next ones waiting), oversized DMs.
TEST(NeuralStream, HostileHeadersFailCleanly) {
  neural::Header h;
  h.models = kUseDm;
  h.cm = CmParams::Balanced();
  h.dms = {{{3, 3, 4, 8}, 0.01f, false}};
  h.dm_seeds = {1};
  h.smp_percent = 5;
  std::vector<uint8_t> out(10);
  {
    neural::Header w = h;
    w.sub_n = {5, ~uint64_t{0} - 2, 8};  // wraps back to 10
    w.sub_len = {0, 0, 0};
    std::string s;
    neural::PutHeader(w, &s);
    EXPECT_EQ(NeuralDecode(s, 10, out.data()).code(), Status::Code::kCorruption);
  }
  {
    // Sub-block 0 runs out of input (found at 64 Ki bases) before its
    // snapshot (100%): it fails, so sub-block 1 fails waiting for it, and
    // sub-block 2 must be told rather than wait forever.
    neural::Header w = h;
    w.smp_percent = 100;
    w.sub_n = {70000, 3, 3};
    w.sub_len = {4, 4, 4};
    std::string s;
    neural::PutHeader(w, &s);
    s += std::string(12, '\x55');
    std::vector<uint8_t> big(70006);
    for (int t : {1, 3}) EXPECT_FALSE(NeuralDecode(s, big.size(), big.data(), t).ok());
  }
  {
    neural::Header w = h;
    w.dms = {{{8, 4, 256, 4096}, 0.01f, false}};  // 4 Gi weights
    w.sub_n = {10};
    w.sub_len = {0};
    std::string s;
    neural::PutHeader(w, &s);
    EXPECT_EQ(NeuralDecode(s, 10, out.data()).code(), Status::Code::kCorruption);
  }
}

TEST(ModelFile, NonFiniteWeightsAreRefused) {
  TokNetModel m;
  m.shape = kernels::TokNetShape{2, 2, 2, 8};
  m.weights = TokNetInitialWeights(m.shape, 3);
  m.weights[5] = std::numeric_limits<float>::infinity();
  EXPECT_FALSE(ParseModel(SerializeModel(&m)).ok());
  m.weights[5] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_FALSE(ParseModel(SerializeModel(&m)).ok());
}

}  // namespace
}  // namespace pmklc
