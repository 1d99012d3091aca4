// The arithmetic coder: exact round trips on adversarial probability
// sequences, and coding cost within 0.1% of the entropy on synthetic sources.
#include "engine/coder/binary_coder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace pmklc {
namespace {

struct Case {
  std::vector<int> bits;
  std::vector<uint32_t> p1;
};

void RoundTrip(const Case& c) {
  std::string out;
  BinaryEncoder e(&out);
  for (size_t i = 0; i < c.bits.size(); ++i) e.Encode(c.bits[i], c.p1[i]);
  e.Finish();
  BinaryDecoder d(out);
  for (size_t i = 0; i < c.bits.size(); ++i) ASSERT_EQ(d.Decode(c.p1[i]), c.bits[i]) << "bit " << i;
  EXPECT_TRUE(d.ok());
}

TEST(BinaryCoder, AdversarialRoundTrips) {
  std::mt19937_64 g(1);
  const size_t n = 200000;
  // 1. Extreme probabilities, often wrong (the most expensive, smallest ranges).
  Case a;
  for (size_t i = 0; i < n; ++i) {
    a.p1.push_back(g() % 2 ? 0u : 65536u);  // clamped to the floor / ceiling
    a.bits.push_back(static_cast<int>(g() % 2));
  }
  RoundTrip(a);
  // 2. Probabilities that always point the wrong way.
  Case b;
  for (size_t i = 0; i < n; ++i) {
    int bit = static_cast<int>(g() % 2);
    b.bits.push_back(bit);
    b.p1.push_back(bit ? 1u + g() % 8 : 65535u - g() % 8);
  }
  RoundTrip(b);
  // 3. Random probabilities and bits; long runs of certain bits.
  Case c;
  for (size_t i = 0; i < n; ++i) {
    uint32_t p = static_cast<uint32_t>(g() % 65537);
    c.p1.push_back(p);
    c.bits.push_back(i % 1000 < 500 ? 1 : static_cast<int>(g() % 2));
  }
  RoundTrip(c);
  // 4. Empty and single-bit messages.
  RoundTrip(Case{});
  RoundTrip(Case{{1}, {30000}});
  RoundTrip(Case{{0}, {65535}});
}

TEST(BinaryCoder, CostWithinPointOnePercentOfEntropy) {
  std::mt19937_64 g(2);
  for (double p : {0.5, 0.3, 0.1, 0.01, 0.999}) {
    const size_t n = 2000000;
    const uint32_t p1 = static_cast<uint32_t>(std::lround(p * 65536));
    const double q = p1 / 65536.0;  // the probability the coder is told
    std::bernoulli_distribution bern(p);
    std::string out;
    BinaryEncoder e(&out);
    double ideal = 0;
    for (size_t i = 0; i < n; ++i) {
      int bit = bern(g);
      ideal += bit ? -std::log2(q) : -std::log2(1 - q);
      e.Encode(bit, p1);
    }
    e.Finish();
    const double cost = 8.0 * out.size();
    EXPECT_LT(cost, ideal * 1.001 + 64) << "p=" << p << " cost " << cost << " ideal " << ideal;
    EXPECT_GT(cost, ideal * 0.99) << "p=" << p;
  }
}

TEST(BinaryCoder, TruncatedInputIsDetected) {
  std::mt19937_64 g(3);
  std::string out;
  BinaryEncoder e(&out);
  std::vector<int> bits;
  for (int i = 0; i < 10000; ++i) {
    bits.push_back(static_cast<int>(g() % 2));
    e.Encode(bits.back(), 32768);
  }
  e.Finish();
  BinaryDecoder d(std::string_view(out).substr(0, out.size() / 2));
  for (int b : bits) (void)b, d.Decode(32768);
  EXPECT_FALSE(d.ok());
}

}  // namespace
}  // namespace pmklc
