// The batch driver (engine/models/cm_batch.h; issue #18): many streams at
// once write exactly the single-stream coder's bytes, for every N, W and
// device; device choice and errors.
#include "engine/models/cm_batch.h"

#include <gtest/gtest.h>

#include <thread>

#include "kernels/device.h"
#include "tests/unit/test_util.h"

namespace pmklc {
namespace {

using testing::Interspersed;

struct Streams {
  std::vector<std::vector<uint8_t>> codes;
  std::vector<CmParams> params;
};

// n streams of the profile, of different lengths (0 included), each FitTo its size.
Streams Make(const CmParams& profile, size_t n, size_t base_len) {
  Streams s;
  for (size_t i = 0; i < n; ++i) {
    const size_t len = i == 3 ? 0 : base_len + (i * 7919) % base_len;
    s.codes.push_back(Interspersed(len, static_cast<uint32_t>(100 + i)));
    s.params.push_back(profile.FitTo(len));
  }
  return s;
}

void ExpectBatchIsSingleStream(const CmParams& profile, size_t n, size_t len, int threads, DeviceChoice dev) {
  Streams s = Make(profile, n, len);
  std::vector<std::string> out(n, "prefix");  // (appended to, as CmEncode does)
  std::vector<CmEncodeItem> items(n);
  for (size_t i = 0; i < n; ++i) items[i] = {s.params[i], s.codes[i].data(), s.codes[i].size(), &out[i]};
  CmBatchOptions o;
  o.threads = threads;
  o.device = dev;
  CmBatchReport rep;
  ASSERT_TRUE(CmEncodeBatch(items, o, &rep).ok());
  EXPECT_EQ(rep.on_cpu + rep.on_gpu, n);
  std::vector<std::vector<uint8_t>> back(n);
  std::vector<CmDecodeItem> ditems(n);
  for (size_t i = 0; i < n; ++i) {
    std::string single = "prefix";
    ASSERT_TRUE(CmEncode(s.params[i], s.codes[i].data(), s.codes[i].size(), &single).ok());
    ASSERT_EQ(out[i], single) << "stream " << i << " of " << n << ", W " << threads;
    back[i].resize(s.codes[i].size());
    ditems[i] = {s.params[i], std::string_view(out[i]).substr(6), s.codes[i].size(), back[i].data()};
  }
  ASSERT_TRUE(CmDecodeBatch(ditems, o).ok());
  for (size_t i = 0; i < n; ++i) EXPECT_EQ(back[i], s.codes[i]) << "stream " << i;
}

TEST(CmBatch, BalancedBatchWritesTheSingleStreamBytes) {
  for (size_t n : {1, 7, 64})
    for (int w : {1, 3}) ExpectBatchIsSingleStream(CmParams::Balanced(), n, 20000, w, DeviceChoice{});
}

TEST(CmBatch, MaxBatchWritesTheSingleStreamBytes) {
  for (size_t n : {1, 7}) ExpectBatchIsSingleStream(CmParams::Max(), n, 6000, 2, DeviceChoice{});
  ExpectBatchIsSingleStream(CmParams::Max(), 64, 1500, 2, DeviceChoice{});
}

TEST(CmBatch, CpuDeviceAndMixedShapes) {
  DeviceChoice cpu;
  cpu.kind = DeviceChoice::kCpu;
  ExpectBatchIsSingleStream(CmParams::Balanced(), 7, 5000, 2, cpu);
  // streams of several slim shapes and the general model in one batch
  std::vector<CmParams> ps = {CmParams::Balanced(), CmParams::Max()};
  CmParams two = CmParams::Balanced();
  two.orders = {4, 11};
  ps.push_back(two);
  CmParams slow = CmParams::Balanced();
  slow.flags = 16;
  ps.push_back(slow);
  std::vector<std::vector<uint8_t>> codes;
  std::vector<std::string> out(ps.size());
  std::vector<CmEncodeItem> items;
  for (size_t i = 0; i < ps.size(); ++i) {
    codes.push_back(Interspersed(9000, static_cast<uint32_t>(i)));
    ps[i] = ps[i].FitTo(9000);
  }
  for (size_t i = 0; i < ps.size(); ++i) items.push_back({ps[i], codes[i].data(), codes[i].size(), &out[i]});
  CmBatchOptions o;
  o.threads = 2;
  ASSERT_TRUE(CmEncodeBatch(items, o).ok());
  for (size_t i = 0; i < ps.size(); ++i) {
    std::string single;
    ASSERT_TRUE(CmEncode(ps[i], codes[i].data(), codes[i].size(), &single).ok());
    EXPECT_EQ(out[i], single) << i;
  }
}

TEST(CmBatch, CorruptStreamIsAnErrorNotWrongBases) {
  auto v = Interspersed(30000, 5);
  const CmParams p = CmParams::Balanced().FitTo(v.size());
  std::string out;
  ASSERT_TRUE(CmEncode(p, v.data(), v.size(), &out).ok());
  std::vector<uint8_t> back(v.size());
  std::vector<CmDecodeItem> items = {{p, std::string_view(out).substr(0, out.size() / 2), v.size(), back.data()}};
  Status s = CmDecodeBatch(items, CmBatchOptions{});
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
}

TEST(CmBatch, DeviceNamesAndChoice) {
  for (const char* ok : {"auto", "cpu", "cuda", "cuda:0", "cuda:12"}) {
    auto d = ParseDevice(ok);
    ASSERT_TRUE(d.ok()) << ok;
    EXPECT_EQ(d->Name(), ok);
  }
  for (const char* bad : {"", "gpu", "cuda:", "cuda:x", "cuda:-1", "CPU", "cuda:123456"}) {
    auto d = ParseDevice(bad);
    EXPECT_FALSE(d.ok()) << bad;
    if (!d.ok()) EXPECT_NE(d.status().message().find("auto, cpu, cuda or cuda:N"), std::string::npos);
  }
  auto cpu = ResolveDevice(*ParseDevice("cpu"));
  ASSERT_TRUE(cpu.ok());
  EXPECT_TRUE(cpu->empty());
  if (kernels::ListGpus().ok()) GTEST_SKIP() << "a GPU is present: the no-GPU answers are not checked";
  auto a = ResolveDevice(*ParseDevice("auto"));
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->empty()) << "auto without a GPU uses the CPU";
  auto c = ResolveDevice(*ParseDevice("cuda"));
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(c.status().code() == Status::Code::kNotSupported);
  EXPECT_EQ(c.status().message().find('\n'), std::string::npos) << "one line";
  EXPECT_NE(c.status().message().find("device cuda: no usable GPU"), std::string::npos) << c.status().ToString();
  // and a batch asked for cuda codes nothing
  auto v = Interspersed(1000, 1);
  std::string out;
  std::vector<CmEncodeItem> items = {{CmParams::Balanced().FitTo(v.size()), v.data(), v.size(), &out}};
  CmBatchOptions o;
  o.device = *ParseDevice("cuda");
  EXPECT_TRUE(CmEncodeBatch(items, o).code() == Status::Code::kNotSupported);
  EXPECT_TRUE(out.empty());
}

// The batcher gathers concurrent callers' streams (as a container's block
// threads call it) and each gets exactly CmEncode's bytes back; general
// model streams are coded by their caller.
TEST(CmBatch, BatcherGathersConcurrentCallers) {
  for (size_t width : {1, 4, 9}) {
    CmBatcher b(DeviceChoice{}, width, 20);
    const size_t n = 9;
    Streams s = Make(CmParams::Balanced(), n, 8000);
    s.params[5] = CmParams::Max().FitTo(s.codes[5].size());
    std::vector<std::string> out(n);
    std::vector<std::vector<uint8_t>> back(n);
    std::vector<Status> st(n), dst(n);
    std::vector<std::thread> th;
    for (size_t i = 0; i < n; ++i)
      th.emplace_back([&, i] {
        st[i] = b.Encode(s.params[i], s.codes[i].data(), s.codes[i].size(), &out[i]);
        back[i].resize(s.codes[i].size());
        if (st[i].ok()) dst[i] = b.Decode(s.params[i], out[i], back[i].size(), back[i].data());
      });
    for (auto& t : th) t.join();
    for (size_t i = 0; i < n; ++i) {
      ASSERT_TRUE(st[i].ok()) << st[i].ToString();
      ASSERT_TRUE(dst[i].ok()) << dst[i].ToString();
      std::string single;
      ASSERT_TRUE(CmEncode(s.params[i], s.codes[i].data(), s.codes[i].size(), &single).ok());
      EXPECT_EQ(out[i], single) << "stream " << i << ", width " << width;
      EXPECT_EQ(back[i], s.codes[i]);
    }
    const auto stats = b.stats();
    EXPECT_GE(stats.batches, 2u);  // (encodes and decodes: at least one batch each)
    EXPECT_EQ(stats.on_cpu + stats.on_gpu, 2 * n);
  }
  // A corrupt stream fails its own caller only.
  CmBatcher b(DeviceChoice{}, 2, 20);
  auto v = Interspersed(20000, 8);
  const CmParams p = CmParams::Balanced().FitTo(v.size());
  std::string good;
  ASSERT_TRUE(CmEncode(p, v.data(), v.size(), &good).ok());
  std::vector<uint8_t> b1(v.size()), b2(v.size());
  Status s1, s2;
  std::thread t1([&] { s1 = b.Decode(p, std::string_view(good).substr(0, 100), v.size(), b1.data()); });
  std::thread t2([&] { s2 = b.Decode(p, good, v.size(), b2.data()); });
  t1.join();
  t2.join();
  EXPECT_TRUE(s1.IsCorruption()) << s1.ToString();
  EXPECT_TRUE(s2.ok()) << s2.ToString();
  EXPECT_EQ(b2, v);
}

// GPU and CPU bit for bit, both ways (skips without a GPU).
TEST(CmBatch, CudaMatchesCpuBitForBit) {
  auto g = kernels::ListGpus();
  if (!g.ok()) GTEST_SKIP() << g.status().message();
  DeviceChoice cuda = *ParseDevice("cuda");
  for (size_t n : {1, 7, 64}) ExpectBatchIsSingleStream(CmParams::Balanced(), n, 50000, 2, cuda);
  for (size_t n : {1, 7}) ExpectBatchIsSingleStream(CmParams::Max(), n, 30000, 2, cuda);
  ExpectBatchIsSingleStream(CmParams::Max(), 64, 5000, 2, cuda);
  // GPU-coded streams decode on the CPU (above: CPU-coded ones on the GPU,
  // since the batch decode ran with device cuda).
  Streams s = Make(CmParams::Balanced(), 16, 40000);
  for (size_t i = 0; i < 16; i += 2) s.params[i] = CmParams::Max().FitTo(s.codes[i].size());  // (both steps)
  std::vector<std::string> out(16);
  std::vector<CmEncodeItem> items;
  for (size_t i = 0; i < 16; ++i) items.push_back({s.params[i], s.codes[i].data(), s.codes[i].size(), &out[i]});
  CmBatchOptions o;
  o.device = cuda;
  CmBatchReport rep;
  ASSERT_TRUE(CmEncodeBatch(items, o, &rep).ok());
  EXPECT_EQ(rep.on_gpu, 16u) << rep.gpu_error;
  for (size_t i = 0; i < 16; ++i) {
    std::vector<uint8_t> back(s.codes[i].size());
    ASSERT_TRUE(CmDecode(s.params[i], out[i], back.size(), back.data()).ok());
    EXPECT_EQ(back, s.codes[i]);
  }
}

}  // namespace
}  // namespace pmklc
