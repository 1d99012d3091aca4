// EncoderPool: one failed job stays one failed job.
#include "fs/encoder_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

namespace pmklc {
namespace {

TEST(EncoderPool, AThrowingJobIsCountedAndTheThreadsGoOn) {
  std::atomic<int> ran{0};
  {
    EncoderPool pool(2, 16, "test job");
    ASSERT_TRUE(pool.TrySubmit([] { throw std::runtime_error("injected"); }));
    ASSERT_TRUE(pool.TrySubmit([] { throw 42; }));  // not even a std::exception
    for (int i = 0; i < 8; ++i) ASSERT_TRUE(pool.TrySubmit([&] { ran++; }));
    for (int i = 0; i < 400 && (ran.load() < 8 || pool.failed() < 2); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    EXPECT_EQ(pool.failed(), 2u);
  }  // the destructor joins both threads: they are alive
  EXPECT_EQ(ran.load(), 8);
}

}  // namespace
}  // namespace pmklc
