#include "fs/block_cache.h"

#include <gtest/gtest.h>

namespace pmklc {
namespace {

TEST(BlockCache, EvictsLeastRecentlyUsedWithinBudget) {
  BlockCache c(3000);
  for (uint64_t i = 0; i < 3; ++i) c.Put(1, i, std::make_shared<const std::string>(1000, 'a'));
  ASSERT_TRUE(c.Get(1, 0));  // 0 is now most recent
  c.Put(1, 3, std::make_shared<const std::string>(1000, 'b'));
  EXPECT_TRUE(c.Get(1, 0));
  EXPECT_FALSE(c.Get(1, 1));
  EXPECT_LE(c.bytes(), 3000u);
}

TEST(BlockCache, EraseFromDropsOnlyThatInodeTail) {
  BlockCache c(1 << 20);
  for (uint64_t i = 0; i < 5; ++i) {
    c.Put(7, i, std::make_shared<const std::string>(10, 'x'));
    c.Put(8, i, std::make_shared<const std::string>(10, 'y'));
  }
  c.EraseFrom(7, 2);
  EXPECT_TRUE(c.Get(7, 1));
  EXPECT_FALSE(c.Get(7, 2));
  EXPECT_FALSE(c.Get(7, 4));
  EXPECT_TRUE(c.Get(8, 4));
  EXPECT_EQ(c.bytes(), 70u);
}

}  // namespace
}  // namespace pmklc
