#include "engine/common/single_flight.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

namespace pmklc {
namespace {

using R = Result<int>;

TEST(SingleFlight, ConcurrentCallersShareOneComputation) {
  SingleFlight<int, R> sf;
  std::atomic<int> runs{0}, entered{0};
  std::atomic<bool> release{false};
  auto fn = [&]() -> R {
    ++runs;
    ++entered;
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return 42;
  };
  std::vector<std::thread> ts;
  std::vector<int> got(8, 0);
  ts.emplace_back([&] { got[0] = **sf.Do(7, fn); });
  while (entered == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  // The computation is in flight: a caller that will not wait is told so.
  EXPECT_FALSE(sf.Do(7, fn, /*wait=*/false).has_value());
  for (int i = 1; i < 8; ++i) ts.emplace_back([&, i] { got[i] = **sf.Do(7, fn); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // let them join
  release = true;
  for (auto& t : ts) t.join();
  EXPECT_EQ(runs.load(), 1);
  for (int v : got) EXPECT_EQ(v, 42);
  // Once it has ended, the next call computes again (a cache is the caller's).
  EXPECT_EQ(**sf.Do(7, fn), 42);
  EXPECT_EQ(runs.load(), 2);
}

TEST(SingleFlight, OtherKeysRunSeparatelyAndErrorsReachEveryCaller) {
  SingleFlight<int, R> sf;
  auto a = sf.Do(1, []() -> R { return Status::Corruption("bad block"); });
  ASSERT_TRUE(a.has_value());
  EXPECT_TRUE(a->status().IsCorruption());
  EXPECT_EQ(**sf.Do(2, []() -> R { return 5; }), 5);
}

TEST(SingleFlight, AThrowingComputationBecomesAStatusAndFreesTheKey) {
  SingleFlight<int, R> sf;
  auto r = sf.Do(3, []() -> R { throw std::bad_alloc(); });
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status().code(), Status::NoMemory().code());
  r = sf.Do(3, []() -> R { throw std::runtime_error("disk gone"); });
  EXPECT_EQ(r->status().code(), Status::IOError().code());
  EXPECT_NE(r->status().message().find("disk gone"), std::string::npos);
  EXPECT_EQ(**sf.Do(3, []() -> R { return 9; }), 9);  // nobody waits forever
}

}  // namespace
}  // namespace pmklc
