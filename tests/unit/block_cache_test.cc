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


TEST(BlockCache, FillTakenBeforeAChangeIsRefused) {
  BlockCache c(1 << 20);
  auto old_bytes = std::make_shared<const std::string>(10, 'o');
  BlockCache::Ticket t = c.TakeTicket();  // a reader is about to read the store
  c.Invalidate(5);                        // a writer stored new data for ino 5
  EXPECT_FALSE(c.Fill(5, 0, old_bytes, t));
  EXPECT_FALSE(c.Get(5, 0));
  EXPECT_FALSE(c.Valid(5, t));
  // Another inode is unaffected; a fresh ticket fills.
  EXPECT_TRUE(c.Fill(6, 0, old_bytes, t));
  EXPECT_TRUE(c.Fill(5, 0, old_bytes, c.TakeTicket()));
  EXPECT_TRUE(c.Get(5, 0));
}

TEST(BlockCache, PutEraseAndEraseFromInvalidate) {
  BlockCache c(1 << 20);
  auto b = std::make_shared<const std::string>(10, 'x');
  for (int kind = 0; kind < 3; ++kind) {
    BlockCache::Ticket t = c.TakeTicket();
    if (kind == 0) c.Put(9, 1, b);
    if (kind == 1) c.Erase(9, 1);
    if (kind == 2) c.EraseFrom(9, 0);
    EXPECT_FALSE(c.Fill(9, 2, b, t)) << kind;
  }
}

TEST(BlockCache, ForgettingInvalidationsRefusesEveryOlderTicket) {
  BlockCache c(1 << 20);
  auto b = std::make_shared<const std::string>(10, 'x');
  BlockCache::Ticket t = c.TakeTicket();
  c.Invalidate(1);
  // Fill the record past its bound: the record of ino 1 is forgotten, and
  // with it every ticket taken before.
  for (uint64_t ino = 100; ino < 100 + BlockCache::kMaxTracked + 1; ++ino) c.Invalidate(ino);
  EXPECT_FALSE(c.Fill(1, 0, b, t));
  EXPECT_FALSE(c.Fill(2, 0, b, t));
  EXPECT_TRUE(c.Fill(2, 0, b, c.TakeTicket()));
}

}  // namespace
}  // namespace pmklc
