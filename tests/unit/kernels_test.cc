#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "kernels/device.h"
#include "kernels/pack2bit.h"

namespace pmklc::kernels {
namespace {

TEST(Pack2Bit, CpuRoundTrip) {
  std::mt19937 g(1);
  for (size_t n : {0ul, 1ul, 3ul, 4ul, 5ul, 1000ul, 65537ul}) {
    std::vector<uint8_t> c(n), back(n), p((n + 3) / 4);
    for (auto& x : c) x = g() % 4;
    Pack2BitCpu(c.data(), n, p.data());
    Unpack2BitCpu(p.data(), n, back.data());
    EXPECT_EQ(c, back);
  }
}

TEST(Devices, NoGpuIsReportedCleanly) {
  auto r = ListGpus();
  if (r.ok()) GTEST_SKIP() << "a GPU is present";
  EXPECT_FALSE(r.status().message().empty());
  std::vector<uint8_t> c{1, 2, 3}, p(1);
  EXPECT_FALSE(Pack2BitCuda(c.data(), 3, p.data()).ok());
}

TEST(Pack2Bit, CudaMatchesCpuBitForBit) {
  auto r = ListGpus();
  if (!r.ok()) GTEST_SKIP() << r.status().message();
  std::mt19937 g(2);
  size_t n = (1u << 20) + 3;
  std::vector<uint8_t> c(n), a((n + 3) / 4), b((n + 3) / 4);
  for (auto& x : c) x = g() % 4;
  Pack2BitCpu(c.data(), n, a.data());
  ASSERT_TRUE(Pack2BitCuda(c.data(), n, b.data()).ok());
  EXPECT_EQ(a, b);
}

}  // namespace
}  // namespace pmklc::kernels
