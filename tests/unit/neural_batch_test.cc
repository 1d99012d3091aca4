// The neural batch driver (engine/models/neural_batch.h; issue #18): the
// sub-blocks of fasta-neural streams coded as slices of flat-state streams
// (the GPU's code, run here by the CPU slices) write exactly the CPU
// coder's bytes, with step-wise model passing inside a stream and across
// the chained blocks of concurrent callers, and decode either way.
#include "engine/models/neural_batch.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <random>
#include <thread>

#include "engine/container/container.h"
#include "engine/models/neural_stream.h"
#include "tests/unit/neural_util.h"
#include "tests/unit/test_util.h"
#include "engine/models/toknet_model.h"
#include "kernels/device.h"

namespace pmklc {
namespace {

std::vector<uint8_t> Genome(size_t n, uint64_t seed) { return testing::CopiedStretches(n, seed); }

NeuralOptions Small(int workers, uint8_t smp = 5) { return testing::SmallNeural(workers, smp); }

DeviceChoice Cpu() {
  DeviceChoice d;
  d.kind = DeviceChoice::kCpu;
  return d;
}

// Encodes with and without the batcher; both bytes must agree, and each
// decodes the other's.
void ExpectSameBytes(NeuralOptions o, const std::vector<uint8_t>& c, NeuralBatcher* b, const char* what) {
  std::string cpu, sliced;
  ASSERT_TRUE(NeuralEncode(o, c.data(), c.size(), &cpu).ok()) << what;
  o.coder = b;
  Status s = NeuralEncode(o, c.data(), c.size(), &sliced);
  ASSERT_TRUE(s.ok()) << what << ": " << s.ToString();
  ASSERT_EQ(sliced, cpu) << what;
  std::vector<uint8_t> back(c.size(), 9);
  s = NeuralDecode(cpu, c.size(), back.data(), 2, nullptr, b);
  ASSERT_TRUE(s.ok()) << what << ": " << s.ToString();
  EXPECT_EQ(back, c) << what;
}

TEST(NeuralBatch, SlicesWriteTheCpuCodersBytes) {
  NeuralBatcher b(Cpu(), 1, 2, 0, 3001);  // an odd slice: snapshots fall inside slices
  const auto c = Genome(60000, 7);
  ExpectSameBytes(Small(1, 5), c, &b, "one sub-block");
  ExpectSameBytes(Small(4, 5), c, &b, "4 sub-blocks, SMP 5%");
  ExpectSameBytes(Small(4, 0), c, &b, "4 sub-blocks, SMP off");
  ExpectSameBytes(Small(3, 100), c, &b, "3 sub-blocks, SMP 100%");
  NeuralOptions max = Small(2, 5);
  max.cm = CmParams::Max();  // the neural profile's context models
  ExpectSameBytes(max, Genome(30000, 8), &b, "max with DMs");
  NeuralOptions tiny = Small(1, 5);
  ExpectSameBytes(tiny, Genome(10, 9), &b, "10 bases");
  ExpectSameBytes(tiny, {}, &b, "empty");
  EXPECT_GT(b.stats().on_cpu, 0u);
}

TEST(NeuralBatch, StaticModelsAndSelection) {
  // a static network (as SPuM) with fixed weights, and selection by trial
  // encodes (the trials are jobs too)
  auto m = std::make_shared<TokNetModel>();
  m->shape = {3, 3, 8, 32};
  m->name = "batch-test";
  m->weights = TokNetInitialWeights(m->shape, 42, 0.2f, 0.2f);
  (void)SerializeModel(m.get());  // (sets its id)
  RegisterModel(m);
  NeuralBatcher b(Cpu(), 1, 2, 0, 4096);
  NeuralOptions o = Small(2, 5);
  o.spum = m;
  o.select = false;
  const auto c = Genome(80000, 11);
  ExpectSameBytes(o, c, &b, "DMs and a static model");
  o.dm = false;
  ExpectSameBytes(o, c, &b, "a static model alone");
  o.dm = true;
  o.select = true;
  ExpectSameBytes(o, Genome(300000, 12), &b, "selection");
}

// A container's chain: block k's DMs start from block k-1's snapshot; the
// blocks are coded by concurrent callers that share one batcher.
std::vector<std::string> CodeChain(const std::vector<std::vector<uint8_t>>& blocks, NeuralBatcher* b) {
  const size_t K = blocks.size();
  std::vector<std::shared_ptr<DmLink>> link(K + 1);
  for (auto& l : link) l = std::make_shared<DmLink>();
  std::vector<std::string> out(K);
  std::vector<Status> st(K);
  std::vector<std::thread> th;
  for (size_t k = 0; k < K; ++k)
    th.emplace_back([&, k] {
      NeuralOptions o = Small(2, 5);
      o.chain.pos = static_cast<uint32_t>(k);
      o.chain.in = k ? link[k].get() : nullptr;
      o.chain.out = link[k + 1].get();
      o.coder = b;
      st[k] = NeuralEncode(o, blocks[k].data(), blocks[k].size(), &out[k]);
      if (st[k].ok()) ForwardChain(o.chain);
      else o.chain.out->PublishRest(false);
    });
  for (auto& t : th) t.join();
  for (size_t k = 0; k < K; ++k) EXPECT_TRUE(st[k].ok()) << k << ": " << st[k].ToString();
  return out;
}

TEST(NeuralBatch, ChainedBlocksOfConcurrentCallers) {
  std::vector<std::vector<uint8_t>> blocks;
  for (size_t k = 0; k < 5; ++k) blocks.push_back(Genome(25000 + 3000 * k, 20 + k));
  NeuralBatcher plain(Cpu(), 1, 1, 0, 1 << 20);
  // the reference: one block at a time, each its own batch
  std::vector<std::string> ref;
  {
    std::vector<std::shared_ptr<DmLink>> link(blocks.size() + 1);
    for (auto& l : link) l = std::make_shared<DmLink>();
    for (size_t k = 0; k < blocks.size(); ++k) {
      NeuralOptions o = Small(2, 5);
      o.chain.pos = static_cast<uint32_t>(k);
      o.chain.in = k ? link[k].get() : nullptr;
      o.chain.out = link[k + 1].get();
      std::string out;
      ASSERT_TRUE(NeuralEncode(o, blocks[k].data(), blocks[k].size(), &out).ok());
      ForwardChain(o.chain);
      ref.push_back(out);
    }
  }
  for (size_t width : {1, 3, 5}) {
    NeuralBatcher b(Cpu(), width, 2, 20, 2048);
    EXPECT_EQ(CodeChain(blocks, &b), ref) << "width " << width;
  }
  // and decoding the chain through a batcher, concurrently
  NeuralBatcher b(Cpu(), 5, 2, 20, 5000);
  const size_t K = blocks.size();
  std::vector<std::shared_ptr<DmLink>> link(K + 1);
  for (auto& l : link) l = std::make_shared<DmLink>();
  std::vector<std::vector<uint8_t>> back(K);
  std::vector<Status> st(K);
  std::vector<std::thread> th;
  for (size_t k = 0; k < K; ++k)
    th.emplace_back([&, k] {
      NeuralChain c;
      c.pos = static_cast<uint32_t>(k);
      c.in = k ? link[k].get() : nullptr;
      c.out = link[k + 1].get();
      back[k].assign(blocks[k].size(), 9);
      st[k] = NeuralDecode(ref[k], back[k].size(), back[k].data(), 1, &c, &b);
      if (st[k].ok()) ForwardChain(c);
      else c.out->PublishRest(false);
    });
  for (auto& t : th) t.join();
  for (size_t k = 0; k < K; ++k) {
    EXPECT_TRUE(st[k].ok()) << st[k].ToString();
    EXPECT_EQ(back[k], blocks[k]) << k;
  }
}

TEST(NeuralBatch, CorruptStreamsFailCleanly) {
  NeuralBatcher b(Cpu(), 1, 2, 0, 4096);
  const auto c = Genome(50000, 31);
  std::string s;
  ASSERT_TRUE(NeuralEncode(Small(3, 5), c.data(), c.size(), &s).ok());
  // cut short: the last sub-block runs out of input, the others decode
  std::vector<uint8_t> back(c.size());
  EXPECT_FALSE(NeuralDecode(std::string_view(s).substr(0, s.size() - 200), c.size(), back.data(), 1, nullptr, &b).ok());
  // a sub-block's bytes flipped: decoded wrong or runs out, never a hang or a crash
  std::string bad = s;
  bad[bad.size() / 2] ^= 0x55;
  (void)NeuralDecode(bad, c.size(), back.data(), 1, nullptr, &b);
  // a chained block without its link says what it needs
  NeuralOptions o = Small(1, 5);
  DmLink in, out;
  in.PublishRest(false);  // the previous block failed
  o.chain = {1, &in, &out};
  o.coder = &b;
  std::string e;
  Status st = NeuralEncode(o, c.data(), c.size(), &e);
  EXPECT_TRUE(st.IsCorruption()) << st.ToString();
  EXPECT_TRUE(out.complete());
}

// The codec's hook (CmStreamCoder::Neural, what a CmBatcher with a GPU
// gives): here a CPU NeuralBatcher, which codes the same slices a GPU does.
class SlicedCoder final : public CmStreamCoder {
 public:
  explicit SlicedCoder(size_t width) : nb_(Cpu(), width, 2, 30, 7000) {}
  Status Encode(const CmParams& p, const uint8_t* codes, size_t n, std::string* out) override {
    return CmEncode(p, codes, n, out);
  }
  Status Decode(const CmParams& p, std::string_view in, size_t n, uint8_t* codes) override {
    return CmDecode(p, in, n, codes);
  }
  neural::SubCoder* Neural() override { return &nb_; }
  NeuralBatcher nb_;
};

std::string FastaOf(const std::vector<uint8_t>& c) {
  std::string fa = ">g\n";
  for (size_t i = 0; i < c.size(); ++i) {
    fa.push_back("ACGT"[c[i]]);
    if (i % 80 == 79) fa.push_back('\n');
  }
  return fa + "\n";
}

std::string WriteContainer(const std::string& in, int workers, CmStreamCoder* coder) {
  auto co = ContainerOptionsFor("neural");
  EXPECT_TRUE(co.ok());
  co->block_size = 64 << 10;
  co->workers = workers;
  co->encode.neural = Small(1, 5);
  co->encode.cm_coder = coder;
  std::string c;
  ContainerWriter w([&](std::string_view b) { c.append(b); return Status::OK(); }, *co);
  EXPECT_TRUE(w.Append(in).ok());
  EXPECT_TRUE(w.Finish().ok());
  return c;
}

TEST(NeuralBatch, ContainersThroughTheCodecHook) {
  const std::string in = FastaOf(Genome(400000, 51));  // 6 chained blocks of 64 KiB
  const std::string ref = WriteContainer(in, 1, nullptr);
  SlicedCoder coder(4);
  EXPECT_EQ(WriteContainer(in, 4, &coder), ref);
  EXPECT_GT(coder.nb_.stats().batches, 0u);
  size_t pos = 0;
  ContainerReader r(
      [&](char* buf, size_t n) -> Result<size_t> {
        const size_t k = std::min(n, ref.size() - pos);
        if (k) std::memcpy(buf, ref.data() + pos, k);
        pos += k;
        return k;
      },
      4, nullptr, 0, &coder);
  std::string out, block;
  for (bool eof = false; !eof;) {
    Status s = r.Next(&block, &eof);
    ASSERT_TRUE(s.ok()) << s.ToString();
    out += block;
  }
  EXPECT_EQ(out, in);
}

TEST(NeuralBatch, CudaMatchesCpuBitForBit) {
  if (!kernels::ListGpus().ok()) GTEST_SKIP() << "no GPU: " << kernels::ListGpus().status().ToString();
  DeviceChoice cuda;
  cuda.kind = DeviceChoice::kCuda;
  NeuralBatcher b(cuda, 1, 2, 0);
  NeuralOptions o = Small(4, 5);
  o.cm = CmParams::Max();
  ExpectSameBytes(o, Genome(200000, 41), &b, "on the GPU");
  EXPECT_GT(b.stats().on_gpu, 0u) << b.stats().gpu_error;
}

}  // namespace
}  // namespace pmklc
