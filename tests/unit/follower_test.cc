// Read-only followers (issue #20 item 5; docs/store.md §Read-only
// followers): a Store opened with StoreOptions::follow beside the store's
// writer (a real RocksDB, written by a real Filesystem in this process),
// and a Filesystem over it. The mount test (ArchiveMountTest) runs the same
// with two daemons.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "engine/format.h"
#include "fs/filesystem.h"
#include "store/store.h"
#include "tests/unit/test_util.h"

namespace pmklc {
namespace {

using testing::TempDir;

std::unique_ptr<Store> OpenStore(const std::string& path, bool follow) {
  StoreOptions o;
  o.follow = follow;
  o.block_size = format::kMinBlockSize;  // small blocks: many of them
  auto s = Store::Open(path, o);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(s).value() : nullptr;
}

// A writer's Filesystem and a follower's, on one store.
struct Pair {
  TempDir dir;
  std::unique_ptr<Store> wstore, fstore;
  std::unique_ptr<Filesystem> writer, follower;
  Caller caller;
  Pair() {
    wstore = OpenStore(dir.sub("store"), false);
    writer = std::make_unique<Filesystem>(wstore.get(), FsOptions{});
    EXPECT_TRUE(writer->Recover().ok());
    fstore = OpenStore(dir.sub("store"), true);
    follower = std::make_unique<Filesystem>(fstore.get(), FsOptions{});
    EXPECT_TRUE(follower->Recover().ok());
  }
  // Writes name in the root with these bytes, stored and synced.
  uint64_t Put(const std::string& name, const std::string& bytes) {
    InodeAttr a;
    Status s = writer->Lookup(format::kRootIno, name, &a);
    if (s.IsNotFound()) s = writer->Mknod(caller, format::kRootIno, name, S_IFREG | 0644, 0, &a);
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_TRUE(writer->Open(a.ino, O_RDWR).ok());
    SetAttrRequest t;
    t.valid = SetAttrRequest::kSize;
    t.size = 0;
    InodeAttr out;
    EXPECT_TRUE(writer->SetAttr(caller, a.ino, t, &out).ok());
    auto w = writer->Write(a.ino, 0, bytes.data(), bytes.size());
    EXPECT_TRUE(w.ok());
    EXPECT_TRUE(writer->Flush(a.ino, true).ok());
    EXPECT_TRUE(writer->Release(a.ino, O_RDWR).ok());
    return a.ino;
  }
  // The follower's bytes of name (after a lookup), or the error's code.
  Result<std::string> Get(const std::string& name) {
    InodeAttr a;
    PMKLC_RETURN_IF_ERROR(follower->Lookup(format::kRootIno, name, &a));
    std::string out(a.size, '\0');
    auto r = follower->Read(a.ino, 0, out.size(), out.data());
    follower->Forget(a.ino, 1);
    if (!r.ok()) return r.status();
    out.resize(*r);
    return out;
  }
};

std::string Bytes(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (char& c : s) {
    x = x * 1103515245u + 12345u;
    c = "ACGT\n"[(x >> 16) % 5];
  }
  return s;
}

TEST(Follower, SeesTheWritersSyncedWritesOnlyAfterACatchUp) {
  Pair p;
  ASSERT_TRUE(p.Get("a").status().IsNotFound());
  const std::string one = Bytes(100000, 1);
  p.Put("a", one);
  EXPECT_TRUE(p.Get("a").status().IsNotFound());  // still the view of the open
  auto f = p.follower->Follow();
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_TRUE(*f);
  auto got = p.Get("a");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, one);
  // Nothing changed: no new view.
  f = p.follower->Follow();
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(*f);
  EXPECT_EQ(p.fstore->catch_ups(), 1u);
}

TEST(Follower, EveryChangeIsRefusedAsReadOnly) {
  Pair p;
  const uint64_t ino = p.Put("a", Bytes(5000, 2));
  ASSERT_TRUE(p.follower->Follow().ok());
  InodeAttr a;
  ASSERT_TRUE(p.follower->Lookup(format::kRootIno, "a", &a).ok());
  ASSERT_EQ(a.ino, ino);
  auto ro = [](const Status& s) { return s.code() == Status::Code::kReadOnly; };
  InodeAttr out;
  EXPECT_TRUE(ro(p.follower->Mknod(p.caller, format::kRootIno, "b", S_IFREG | 0644, 0, &out)));
  EXPECT_TRUE(ro(p.follower->Mkdir(p.caller, format::kRootIno, "d", 0755, &out)));
  EXPECT_TRUE(ro(p.follower->Symlink(p.caller, format::kRootIno, "l", "a", &out)));
  EXPECT_TRUE(ro(p.follower->Link(ino, format::kRootIno, "h", &out)));
  EXPECT_TRUE(ro(p.follower->Unlink(format::kRootIno, "a")));
  EXPECT_TRUE(ro(p.follower->Rename(format::kRootIno, "a", format::kRootIno, "z", 0)));
  EXPECT_TRUE(ro(p.follower->Open(ino, O_WRONLY)));
  EXPECT_TRUE(ro(p.follower->Open(ino, O_RDONLY | O_TRUNC)));
  EXPECT_TRUE(p.follower->Open(ino, O_RDONLY).ok());
  EXPECT_TRUE(ro(p.follower->Write(ino, 0, "x", 1).status()));
  EXPECT_TRUE(ro(p.follower->Fallocate(ino, 0, 0, 1 << 20)));
  SetAttrRequest t;
  t.valid = SetAttrRequest::kMode;
  t.mode = 0600;
  EXPECT_TRUE(ro(p.follower->SetAttr(p.caller, ino, t, &out)));
  EXPECT_TRUE(ro(p.follower->SetXattr(ino, "user.x", "y", 0)));
  EXPECT_TRUE(ro(p.follower->RemoveXattr(ino, "user.x")));
  EXPECT_TRUE(p.follower->Release(ino, O_RDONLY).ok());
  Store::Batch b;
  b.PutMeta("k", "v");
  EXPECT_TRUE(ro(p.fstore->Write(b, false)));
  // The store is unchanged; a read neither writes an atime nor fails.
  std::string buf(5000, '\0');
  EXPECT_TRUE(p.follower->Read(ino, 0, buf.size(), buf.data()).ok());
  EXPECT_TRUE(p.follower->Shutdown().ok());
}

TEST(Follower, ChangedFilesDropWhatWasCachedAndDeletedOnesAreStale) {
  Pair p;
  const std::string one = Bytes(300000, 3), two = Bytes(200000, 4);
  const uint64_t ino = p.Put("a", one);
  ASSERT_TRUE(p.follower->Follow().ok());
  InodeAttr a;
  ASSERT_TRUE(p.follower->LookupIno(ino, &a).ok());  // the kernel holds it
  std::string buf(one.size(), '\0');
  ASSERT_TRUE(p.follower->Read(ino, 0, buf.size(), buf.data()).ok());
  EXPECT_EQ(buf, one);  // (cached now)
  p.Put("a", two);  // the same inode, shorter, other bytes
  ASSERT_TRUE(p.follower->Follow().ok());
  const std::vector<uint64_t> changed = p.follower->TakeFollowChanges();
  EXPECT_NE(std::find(changed.begin(), changed.end(), ino), changed.end());
  ASSERT_TRUE(p.follower->GetAttr(ino, &a).ok());
  EXPECT_EQ(a.size, two.size());
  buf.assign(two.size(), '\0');
  auto r = p.follower->Read(ino, 0, buf.size(), buf.data());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(buf, two);  // never the cached blocks of the old bytes
  ASSERT_TRUE(p.writer->Unlink(format::kRootIno, "a").ok());
  p.writer->Forget(ino, 100);  // the writer's kernel lets go: the inode is purged
  ASSERT_TRUE(p.wstore->SyncWAL().ok());
  ASSERT_TRUE(p.follower->Follow().ok());
  EXPECT_EQ(p.follower->GetAttr(ino, &a).code(), Status::Code::kStale);
  EXPECT_EQ(p.follower->Read(ino, 0, 10, buf.data()).status().code(), Status::Code::kStale);
  EXPECT_TRUE(p.Get("a").status().IsNotFound());
  p.follower->Forget(ino, 1);
}

// A follower's node reads its data through the view its size came from:
// after a catch-up, a view pinned before it still reads the old bytes.
TEST(Follower, APinnedViewReadsAsOfItsOpen) {
  Pair p;
  const std::string one = Bytes(50000, 5), two = Bytes(90000, 6);
  const uint64_t ino = p.Put("a", one);
  ASSERT_TRUE(p.follower->Follow().ok());
  const Store::ViewRef old = p.fstore->CurrentView();
  p.Put("a", two);
  ASSERT_TRUE(p.follower->Follow().ok());
  {
    Store::Pin pin(p.fstore.get(), old);
    auto a = p.fstore->GetInode(ino);
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(a->size, one.size());
  }
  auto a = p.fstore->GetInode(ino);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->size, two.size());
}

// The writer's compactions delete files the follower's view names (the
// blob files of overwritten blocks): a read then catches up and reads the
// writer's current bytes, never an error or old ones.
TEST(Follower, ReadsSurviveTheWriterCompactingAwayItsViewsFiles) {
  Pair p;
  const std::string one = Bytes(400000, 7), two = Bytes(400000, 8);
  const uint64_t ino = p.Put("a", one);
  p.wstore->ScheduleReclaimAll();  // flush and compact: blocks in blob files
  p.wstore->WaitForReclaim();
  ASSERT_TRUE(p.follower->Follow().ok());
  InodeAttr a;
  ASSERT_TRUE(p.follower->LookupIno(ino, &a).ok());
  // Overwritten and compacted twice: the first blob files are gone.
  p.Put("a", two);
  for (int i = 0; i < 2; ++i) {
    p.wstore->ScheduleReclaimAll();
    p.wstore->WaitForReclaim();
  }
  // Unpinned store reads catch up by themselves; the Filesystem's read
  // (pinned to the node's view) catches up and reads again.
  std::string buf(one.size(), '\0');
  auto r = p.follower->Read(ino, 0, buf.size(), buf.data());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  buf.resize(*r);
  EXPECT_TRUE(buf == one || buf == two);  // as of the view it read
  ASSERT_TRUE(p.follower->Follow().ok());
  ASSERT_TRUE(p.follower->GetAttr(ino, &a).ok());
  buf.assign(a.size, '\0');
  r = p.follower->Read(ino, 0, buf.size(), buf.data());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(buf, two);
  p.follower->Forget(ino, 1);
}

// A file the writer replaces again and again by rename (as rsync does),
// flushing and compacting meanwhile: every lookup through the follower
// finds a file, and every read is one of the versions written whole.
TEST(Follower, RenamedReplacementsAlwaysReadWhole) {
  Pair p;
  const std::string v[2] = {Bytes(70000, 9), Bytes(120000, 10)};
  p.Put("f", v[0]);
  ASSERT_TRUE(p.follower->Follow().ok());
  std::atomic<bool> stop{false};
  std::thread w([&] {
    for (int i = 0; !stop; ++i) {
      p.Put(".t", v[i % 2]);
      ASSERT_TRUE(p.writer->Rename(format::kRootIno, ".t", format::kRootIno, "f", 0).ok());
      ASSERT_TRUE(p.wstore->SyncWAL().ok());
      // Flushes and compactions meanwhile: WAL files go, the MANIFEST grows.
      if (i % 4 == 0) p.wstore->ScheduleReclaimAll();
    }
  });
  std::thread c([&] {
    while (!stop) {
      (void)p.follower->Follow();
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  int whole = 0, stale = 0;
  for (int i = 0; i < 400; ++i) {
    auto got = p.Get("f");
    if (!got.ok()) {
      ASSERT_EQ(got.status().code(), Status::Code::kStale) << got.status().ToString();
      ++stale;  // replaced between the lookup and the read
      continue;
    }
    ASSERT_TRUE(*got == v[0] || *got == v[1]) << "size " << got->size();
    ++whole;
  }
  stop = true;
  w.join();
  c.join();
  EXPECT_GT(whole, 300);
  RecordProperty("stale", stale);
}

}  // namespace
}  // namespace pmklc
