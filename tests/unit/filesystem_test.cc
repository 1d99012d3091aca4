// Filesystem semantics without FUSE, on a real RocksDB store.
#include "fs/filesystem.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <random>

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

}  // namespace
}  // namespace pmklc
