// Filesystem semantics without FUSE, on a real RocksDB store.
#include "fs/filesystem.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fcntl.h>

#include <atomic>
#include <chrono>
#include <future>
#include <random>
#include <stdexcept>
#include <thread>

#include "engine/format.h"
#include "tests/unit/fs_fixture.h"

namespace pmklc {
namespace {

constexpr uint64_t kRoot = format::kRootIno;

class FsTest : public testing::FsFixture {
 protected:
  StoreOptions StoreOpts() const override {
    StoreOptions so;
    so.block_size = 4096;  // small blocks exercise boundaries
    return so;
  }
  FsOptions FsOpts() const override {
    FsOptions fo;
    fo.dirty_file_bytes = 64 << 10;
    return fo;
  }
  uint64_t Create(const std::string& name, uint64_t parent = kRoot) {
    InodeAttr a;
    EXPECT_TRUE(fs_->Mknod(caller_, parent, name, S_IFREG | 0644, 0, &a).ok());
    return a.ino;
  }
};

TEST_F(FsTest, WriteReadAcrossBlocksAndPersist) {
  uint64_t ino = Create("f");
  std::string data(10000, '\0');
  std::mt19937 g(1);
  for (auto& c : data) c = "ACGT"[g() % 4];
  ASSERT_TRUE(fs_->Write(ino, 0, data.data(), data.size()).ok());
  EXPECT_EQ(ReadAll(ino), data);
  Reopen();
  EXPECT_EQ(ReadAll(ino), data);
}

TEST_F(FsTest, OverwriteIsReadModifyWrite) {
  uint64_t ino = Create("f");
  std::string data(9000, 'a');
  ASSERT_TRUE(fs_->Write(ino, 0, data.data(), data.size()).ok());
  ASSERT_TRUE(fs_->Flush(ino, false).ok());
  ASSERT_TRUE(fs_->Write(ino, 4090, "XYZXYZXYZXYZ", 12).ok());
  data.replace(4090, 12, "XYZXYZXYZXYZ");
  EXPECT_EQ(ReadAll(ino), data);
  Reopen();
  EXPECT_EQ(ReadAll(ino), data);
}

TEST_F(FsTest, HolesReadAsZerosAndAreNotStored) {
  uint64_t ino = Create("f");
  ASSERT_TRUE(fs_->Write(ino, 100000, "end", 3).ok());
  ASSERT_TRUE(fs_->Flush(ino, false).ok());
  std::string want(100003, '\0');
  want.replace(100000, 3, "end");
  EXPECT_EQ(ReadAll(ino), want);
  int blocks = 0;
  ASSERT_TRUE(store_->ForEachBlockOf(ino, [&](uint64_t, std::string_view) { blocks++; return true; }).ok());
  EXPECT_EQ(blocks, 1);
}

TEST_F(FsTest, TruncateShrinksThenGrowsWithZeros) {
  uint64_t ino = Create("f");
  std::string data(12000, 'q');
  ASSERT_TRUE(fs_->Write(ino, 0, data.data(), data.size()).ok());
  ASSERT_TRUE(fs_->Flush(ino, false).ok());
  SetAttrRequest r;
  r.valid = SetAttrRequest::kSize;
  r.size = 5000;
  InodeAttr a;
  ASSERT_TRUE(fs_->SetAttr(caller_, ino, r, &a).ok());
  r.size = 9000;
  ASSERT_TRUE(fs_->SetAttr(caller_, ino, r, &a).ok());
  std::string want = std::string(5000, 'q') + std::string(4000, '\0');
  EXPECT_EQ(ReadAll(ino), want);
  Reopen();
  EXPECT_EQ(ReadAll(ino), want);
}

TEST_F(FsTest, UnlinkWhileOpenKeepsDataUntilRelease) {
  uint64_t ino = Create("f");
  ASSERT_TRUE(fs_->Open(ino, 0).ok());
  ASSERT_TRUE(fs_->Write(ino, 0, "hello", 5).ok());
  ASSERT_TRUE(fs_->Unlink(kRoot, "f").ok());
  InodeAttr a;
  EXPECT_TRUE(fs_->Lookup(kRoot, "f", &a).IsNotFound());
  EXPECT_EQ(ReadAll(ino), "hello");
  std::vector<uint64_t> orphans;
  ASSERT_TRUE(store_->ListOrphans(&orphans).ok());
  EXPECT_EQ(orphans, std::vector<uint64_t>{ino});
  ASSERT_TRUE(fs_->Release(ino).ok());
  fs_->Forget(ino, 1);
  EXPECT_TRUE(store_->GetInode(ino).status().IsNotFound());
  ASSERT_TRUE(store_->ListOrphans(&orphans).ok());
  EXPECT_TRUE(orphans.empty());
}

TEST_F(FsTest, OrphansArePurgedAfterACrash) {
  uint64_t ino = Create("f");
  ASSERT_TRUE(fs_->Open(ino, 0).ok());
  ASSERT_TRUE(fs_->Write(ino, 0, "data", 4).ok());
  ASSERT_TRUE(fs_->Flush(ino, false).ok());
  ASSERT_TRUE(fs_->Unlink(kRoot, "f").ok());
  // Simulated crash: drop everything without Shutdown.
  fs_.reset();
  store_.reset();
  Open();
  EXPECT_TRUE(store_->GetInode(ino).status().IsNotFound());
  std::string v;
  EXPECT_TRUE(store_->GetBlock(ino, 0, &v).IsNotFound());
}

TEST_F(FsTest, RenameSemantics) {
  InodeAttr d1, d2, a;
  ASSERT_TRUE(fs_->Mkdir(caller_, kRoot, "d1", 0755, &d1).ok());
  ASSERT_TRUE(fs_->Mkdir(caller_, kRoot, "d2", 0755, &d2).ok());
  uint64_t f = Create("f", d1.ino);
  uint64_t g = Create("g", d2.ino);
  EXPECT_EQ(fs_->Rename(d1.ino, "f", d2.ino, "g", kRenameNoReplace).code(), Status::Code::kExists);
  ASSERT_TRUE(fs_->Rename(d1.ino, "f", d2.ino, "g", kRenameExchange).ok());
  ASSERT_TRUE(fs_->Lookup(d2.ino, "g", &a).ok());
  EXPECT_EQ(a.ino, f);
  ASSERT_TRUE(fs_->Lookup(d1.ino, "f", &a).ok());
  EXPECT_EQ(a.ino, g);
  // Directory moves keep nlink right.
  ASSERT_TRUE(fs_->Rename(kRoot, "d1", d2.ino, "d1", 0).ok());
  ASSERT_TRUE(fs_->GetAttr(kRoot, &a).ok());
  EXPECT_EQ(a.nlink, 3u);
  ASSERT_TRUE(fs_->GetAttr(d2.ino, &a).ok());
  EXPECT_EQ(a.nlink, 3u);
  // Into its own subtree: EINVAL.
  EXPECT_EQ(fs_->Rename(kRoot, "d2", d1.ino, "x", 0).code(), Status::Code::kInvalidArgument);
  // Over a non-empty directory.
  InodeAttr d3;
  ASSERT_TRUE(fs_->Mkdir(caller_, kRoot, "d3", 0755, &d3).ok());
  EXPECT_EQ(fs_->Rename(kRoot, "d3", kRoot, "d2", 0).code(), Status::Code::kNotEmpty);
  // Replace a file: old target's link dropped.
  ASSERT_TRUE(fs_->Rename(d1.ino, "f", d2.ino, "g", 0).ok());
  EXPECT_TRUE(fs_->Lookup(d1.ino, "f", &a).IsNotFound());
}

TEST_F(FsTest, LinksAndNlink) {
  uint64_t f = Create("f");
  InodeAttr a;
  ASSERT_TRUE(fs_->Link(f, kRoot, "g", &a).ok());
  EXPECT_EQ(a.nlink, 2u);
  ASSERT_TRUE(fs_->Unlink(kRoot, "f").ok());
  ASSERT_TRUE(fs_->GetAttr(f, &a).ok());
  EXPECT_EQ(a.nlink, 1u);
  EXPECT_EQ(fs_->Link(kRoot, kRoot, "rootlink", &a).code(), Status::Code::kPermission);
}

TEST_F(FsTest, SetgidDirectoryPassesGroupOn) {
  InodeAttr d, a;
  ASSERT_TRUE(fs_->Mkdir(caller_, kRoot, "d", 02775, &d).ok());
  SetAttrRequest r;
  r.valid = SetAttrRequest::kGid | SetAttrRequest::kMode;
  r.gid = 1234;
  r.mode = 02775;
  ASSERT_TRUE(fs_->SetAttr(caller_, d.ino, r, &a).ok());
  Caller other;
  other.uid = 1000;
  other.gid = 1000;
  ASSERT_TRUE(fs_->Mkdir(other, d.ino, "sub", 0755, &a).ok());
  EXPECT_EQ(a.gid, 1234u);
  EXPECT_TRUE(a.mode & S_ISGID);
  ASSERT_TRUE(fs_->Mknod(other, d.ino, "file", S_IFREG | 0644, 0, &a).ok());
  EXPECT_EQ(a.gid, 1234u);
  EXPECT_EQ(a.uid, 1000u);
}

TEST_F(FsTest, NamesAndXattrs) {
  InodeAttr a;
  EXPECT_EQ(fs_->Mknod(caller_, kRoot, std::string(256, 'x'), S_IFREG | 0644, 0, &a).code(),
            Status::Code::kNameTooLong);
  uint64_t f = Create(std::string(255, 'y'));
  ASSERT_TRUE(fs_->SetXattr(f, "user.k", "v", 0).ok());
  EXPECT_EQ(fs_->SetXattr(f, "user.k", "v", 1 /*XATTR_CREATE*/).code(), Status::Code::kExists);
  EXPECT_EQ(fs_->SetXattr(f, "user.n", "v", 2 /*XATTR_REPLACE*/).code(), Status::Code::kNoData);
  std::string v;
  ASSERT_TRUE(fs_->GetXattr(f, "user.k", &v).ok());
  EXPECT_EQ(v, "v");
  ASSERT_TRUE(fs_->RemoveXattr(f, "user.k").ok());
  EXPECT_EQ(fs_->GetXattr(f, "user.k", &v).code(), Status::Code::kNoData);
}

// Read-ahead must never cache a block image that a write has replaced.
TEST_F(FsTest, PrefetchNeverServesStaleBlocks) {
  uint64_t ino = Create("f");
  const size_t bs = fs_->block_size(), nblocks = 64;
  std::string data(bs * nblocks, 'a');
  ASSERT_TRUE(fs_->Write(ino, 0, data.data(), data.size()).ok());
  ASSERT_TRUE(fs_->Flush(ino, false).ok());
  std::mt19937 g(3);
  std::string buf(bs, '\0');
  for (int round = 0; round < 200; ++round) {
    // Sequential reads start read-ahead of the following blocks...
    uint64_t start = g() % (nblocks - 12);
    for (uint64_t b = start; b < start + 3; ++b) {
      ASSERT_TRUE(fs_->Read(ino, b * bs, bs, buf.data()).ok());
    }
    // ...while writes replace some of them, sometimes storing at once.
    uint64_t victim = start + 3 + g() % 8;
    char c = static_cast<char>('b' + round % 20);
    std::string patch(bs / 2, c);
    ASSERT_TRUE(fs_->Write(ino, victim * bs + bs / 4, patch.data(), patch.size()).ok());
    data.replace(victim * bs + bs / 4, patch.size(), patch);
    if (round % 2) {
      ASSERT_TRUE(fs_->Flush(ino, false).ok());
    }
    for (uint64_t b = start + 3; b < start + 12; ++b) {
      ASSERT_TRUE(fs_->Read(ino, b * bs, bs, buf.data()).ok());
      ASSERT_EQ(buf, data.substr(b * bs, bs)) << "round " << round << " block " << b;
    }
  }
  Reopen();
  EXPECT_EQ(ReadAll(ino), data);
}

TEST_F(FsTest, CorruptBlockGivesCorruptionNeverBytes) {
  uint64_t ino = Create("f");
  std::string data(8192, 'G');
  ASSERT_TRUE(fs_->Write(ino, 0, data.data(), data.size()).ok());
  ASSERT_TRUE(fs_->Flush(ino, false).ok());
  Reopen();  // empty caches
  std::string v;
  ASSERT_TRUE(store_->GetBlock(ino, 1, &v).ok());
  v[v.size() - 1] ^= 0x40;
  Store::Batch b;
  b.PutBlock(ino, 1, v);
  ASSERT_TRUE(store_->Write(b, false).ok());
  std::string out(8192, '\0');
  EXPECT_TRUE(fs_->Read(ino, 0, 4096, out.data()).ok());
  auto r = fs_->Read(ino, 4096, 4096, out.data());
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsCorruption());
  EXPECT_NE(r.status().message().find("block 1"), std::string::npos);
}


// SEEK_DATA / SEEK_HOLE at block granularity, stored and unstored blocks.
TEST_F(FsTest, SeekDataAndHoleFollowTheStoredBlocks) {
  const uint64_t bs = fs_->block_size();
  uint64_t ino = Create("sparse");
  std::string a(bs, 'a');
  ASSERT_TRUE(fs_->Write(ino, 0, a.data(), a.size()).ok());           // block 0
  ASSERT_TRUE(fs_->Write(ino, 5 * bs, a.data(), a.size()).ok());      // block 5
  ASSERT_TRUE(fs_->Write(ino, 9 * bs + 10, a.data(), 100).ok());       // block 9, partial, last
  ASSERT_TRUE(fs_->Flush(ino, false).ok());
  const uint64_t size = 9 * bs + 110;
  auto at = [&](uint64_t off, int whence) { return fs_->SeekDataOrHole(ino, off, whence); };
  EXPECT_EQ(*at(0, SEEK_DATA), 0u);
  EXPECT_EQ(*at(10, SEEK_DATA), 10u);
  EXPECT_EQ(*at(0, SEEK_HOLE), bs);
  EXPECT_EQ(*at(bs + 7, SEEK_DATA), 5 * bs);
  EXPECT_EQ(*at(bs + 7, SEEK_HOLE), bs + 7);
  EXPECT_EQ(*at(5 * bs, SEEK_HOLE), 6 * bs);
  EXPECT_EQ(*at(6 * bs, SEEK_DATA), 9 * bs);
  EXPECT_EQ(*at(9 * bs, SEEK_HOLE), size);  // the end is a hole
  auto past = at(size, SEEK_DATA);
  ASSERT_FALSE(past.ok());
  EXPECT_EQ(past.status().code(), Status::Code::kNoSuchAddress);
  EXPECT_EQ(at(size + 5, SEEK_HOLE).status().code(), Status::Code::kNoSuchAddress);
  // An all-zero block is stored as a hole.
  std::string z(bs, '\0');
  ASSERT_TRUE(fs_->Write(ino, 5 * bs, z.data(), z.size()).ok());
  // Unstored data counts as data already.
  ASSERT_TRUE(fs_->Write(ino, 2 * bs, a.data(), 10).ok());
  EXPECT_EQ(*at(bs, SEEK_DATA), 2 * bs);
  ASSERT_TRUE(fs_->Flush(ino, false).ok());
  EXPECT_EQ(*at(3 * bs, SEEK_DATA), 9 * bs);  // block 5 is a hole now
  Reopen();
  EXPECT_EQ(*at(1, SEEK_HOLE), bs);
  EXPECT_EQ(*at(bs, SEEK_DATA), 2 * bs);
}

// st_blocks: what the file costs in the store (the sizes index), not its size.
TEST_F(FsTest, StoredBytesFollowTheStoredValues) {
  uint64_t ino = Create("g.fa");
  std::string fasta = ">chr\n";
  std::mt19937 g(5);
  while (fasta.size() < 200000) {
    for (int i = 0; i < 60; ++i) fasta.push_back("ACGT"[g() & 3]);
    fasta.push_back('\n');
  }
  ASSERT_TRUE(fs_->Write(ino, 0, fasta.data(), fasta.size()).ok());
  ASSERT_TRUE(fs_->Flush(ino, false).ok());
  InodeAttr a;
  ASSERT_TRUE(fs_->GetAttr(ino, &a).ok());
  ASSERT_NE(a.stored_bytes, InodeAttr::kUnknown);
  uint64_t values = 0;
  ASSERT_TRUE(store_->ForEachBlockOf(ino, [&](uint64_t, std::string_view v) { values += v.size(); return true; }).ok());
  EXPECT_EQ(a.stored_bytes, values);
  EXPECT_LT(a.stored_bytes * 3, fasta.size());  // 2-bit coded
  // A sparse file costs nothing.
  uint64_t sp = Create("sparse");
  SetAttrRequest r;
  r.valid = SetAttrRequest::kSize;
  r.size = uint64_t{2} << 30;
  ASSERT_TRUE(fs_->SetAttr(caller_, sp, r, &a).ok());
  ASSERT_TRUE(fs_->GetAttr(sp, &a).ok());
  EXPECT_EQ(a.stored_bytes, 0u);
  EXPECT_EQ(a.size, uint64_t{2} << 30);
}

// ---- Races and failures, reproduced through FsOptions::hooks ----

class FsHookTest : public FsTest {
 protected:
  FsOptions FsOpts() const override {
    FsOptions fo = FsTest::FsOpts();
    auto* self = const_cast<FsHookTest*>(this);
    fo.hooks.before_prefetch_cache = [self](uint64_t ino, uint64_t idx) { self->OnPrefetch(ino, idx); };
    fo.hooks.before_block_encode = [self](uint64_t ino, uint64_t idx) {
      // Claim one injected failure atomically: pool threads race here, and a
      // test-then-decrement would let two jobs throw for one count.
      int n = self->throw_encodes_.load();
      while (n > 0 && !self->throw_encodes_.compare_exchange_weak(n, n - 1)) {
      }
      if (n > 0) {
        throw std::runtime_error("injected failure encoding inode " + std::to_string(ino) + " block " +
                                 std::to_string(idx));
      }
    };
    return fo;
  }
  void OnPrefetch(uint64_t ino, uint64_t idx) {
    if (ino != stall_ino_ || idx != stall_idx_ || stalled_.exchange(true)) return;
    reached_.set_value();
    go_.wait();  // the job has read the store and not yet cached what it read
  }
  void TearDown() override { Go(); }
  void Go() {
    if (!released_.exchange(true)) go_promise_.set_value();
  }

  std::atomic<uint64_t> stall_ino_{~uint64_t{0}}, stall_idx_{~uint64_t{0}};
  std::atomic<bool> stalled_{false}, released_{false};
  std::promise<void> reached_, go_promise_;
  std::shared_future<void> go_ = go_promise_.get_future().share();
  std::atomic<int> throw_encodes_{0};
};

// A read-ahead job of a node that the kernel forgets, which is then loaded
// again and rewritten, must not put the bytes it read before into the cache
// (cache hits skip the checksum). The hook holds the job between its store
// read and its cache fill while all that happens.
TEST_F(FsHookTest, LateReadAheadOfAForgottenNodeNeverCachesOldBytes) {
  const size_t bs = fs_->block_size();
  uint64_t ino = Create("f");
  std::string data(bs * 5 + bs / 2, 'a');  // block 5 is the short last one
  ASSERT_TRUE(fs_->Write(ino, 0, data.data(), data.size()).ok());
  ASSERT_TRUE(fs_->Flush(ino, false).ok());
  Reopen();  // empty caches: read-ahead must read the store
  InodeAttr a;
  ASSERT_TRUE(fs_->Lookup(kRoot, "f", &a).ok());
  ASSERT_EQ(a.ino, ino);
  stall_ino_ = ino;
  stall_idx_ = 5;
  ASSERT_TRUE(fs_->Open(ino, O_RDONLY).ok());
  std::string buf(bs, '\0');
  ASSERT_TRUE(fs_->Read(ino, 0, bs, buf.data()).ok());
  ASSERT_TRUE(fs_->Read(ino, bs, bs, buf.data()).ok());  // sequential: blocks 2..5 read ahead
  ASSERT_EQ(reached_.get_future().wait_for(std::chrono::seconds(20)), std::future_status::ready)
      << "read-ahead never reached block 5";
  // The kernel forgets the inode: it is evicted while the job still runs.
  ASSERT_TRUE(fs_->Release(ino, O_RDONLY).ok());
  fs_->Forget(ino, 1);
  // Loaded again, and block 5 rewritten and stored.
  ASSERT_TRUE(fs_->Lookup(kRoot, "f", &a).ok());
  ASSERT_TRUE(fs_->Open(ino, O_RDWR).ok());
  std::string patch(bs / 2, 'b');
  ASSERT_TRUE(fs_->Write(ino, 5 * bs, patch.data(), patch.size()).ok());
  ASSERT_TRUE(fs_->Flush(ino, false).ok());
  data.replace(5 * bs, patch.size(), patch);
  Go();  // the old job now tries to cache the old block 5
  // Let it finish: the pool runs its queue in order, and a read of another
  // block after it is enough to be sure; wait for the job's end by polling.
  for (int i = 0; i < 200; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::string got(bs / 2, '\0');
  auto r = fs_->Read(ino, 5 * bs, bs / 2, got.data());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(got, patch) << "a late read-ahead job cached bytes from before the rewrite";
  ASSERT_TRUE(fs_->Release(ino, O_RDWR).ok());
  Reopen();
  EXPECT_EQ(ReadAll(ino), data);
}

// An encoder job that throws fails that block's store only: the daemon
// lives, the bytes stay in memory, the next flush reports the failure once,
// and the one after stores them.
TEST_F(FsHookTest, AThrowingEncoderJobFailsOnlyItsOwnStore) {
  const size_t bs = fs_->block_size();
  uint64_t ino = Create("f");
  ASSERT_TRUE(fs_->Open(ino, O_RDWR).ok());
  std::string data(bs * 3, 'x');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>('a' + i % 23);
  throw_encodes_ = 1;
  ASSERT_TRUE(fs_->Write(ino, 0, data.data(), data.size()).ok());  // three complete blocks: pool jobs
  Status f1 = fs_->Flush(ino, false);
  EXPECT_FALSE(f1.ok()) << "the failed background store must be reported";
  EXPECT_NE(f1.message().find("injected failure"), std::string::npos) << f1.ToString();
  EXPECT_EQ(throw_encodes_.load(), 0);
  EXPECT_TRUE(fs_->Flush(ino, false).ok());  // the kept bytes are stored now
  std::string out(data.size(), '\0');
  auto r = fs_->Read(ino, 0, out.size(), out.data());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(out, data);
  // The pool still runs jobs.
  std::string more(bs * 2, 'm');
  ASSERT_TRUE(fs_->Write(ino, data.size(), more.data(), more.size()).ok());
  ASSERT_TRUE(fs_->Flush(ino, false).ok());
  ASSERT_TRUE(fs_->Release(ino, O_RDWR).ok());
  Reopen();
  EXPECT_EQ(ReadAll(ino), data + more);
}

}  // namespace
}  // namespace pmklc
