#include "store/store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <sys/stat.h>

#include <rocksdb/db.h>

#include <fstream>

#include "engine/codec/codec.h"
#include "engine/format.h"
#include "tests/unit/test_util.h"

namespace pmklc {
namespace {

using testing::TempDir;

TEST(Store, CreatesRootAndPersistsMeta) {
  TempDir d;
  {
    StoreOptions o;
    o.block_size = 64 << 10;
    auto s = Store::Open(d.sub("s"), o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    auto root = (*s)->GetInode(format::kRootIno);
    ASSERT_TRUE(root.ok());
    EXPECT_TRUE(S_ISDIR(root->mode));
    EXPECT_EQ(root->nlink, 2u);
  }
  auto s = Store::Open(d.sub("s"), StoreOptions{});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ((*s)->block_size(), 64u << 10);  // the stored size wins over the default
  EXPECT_EQ((*s)->format_version(), format::kStoreVersion);
}

TEST(Store, RefusesForeignDirectoriesAndMissingStores) {
  TempDir d;
  std::filesystem::create_directories(d.sub("x"));
  std::ofstream(d.sub("x/file")) << "hello";
  auto s = Store::Open(d.sub("x"), StoreOptions{});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("not a pmklcfs store"), std::string::npos);
  StoreOptions ro;
  ro.create_if_missing = false;
  EXPECT_TRUE(Store::Open(d.sub("none"), ro).status().IsNotFound());
}

TEST(Store, SecondWriterIsRefusedWithClearError) {
  TempDir d;
  auto a = Store::Open(d.sub("s"), StoreOptions{});
  ASSERT_TRUE(a.ok());
  auto b = Store::Open(d.sub("s"), StoreOptions{});
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), Status::Code::kBusy);
}

TEST(Store, BatchIsAtomicAndTyped) {
  TempDir d;
  auto s = Store::Open(d.sub("s"), StoreOptions{});
  ASSERT_TRUE(s.ok());
  Store& st = **s;
  InodeAttr a;
  a.ino = 5;
  a.mode = S_IFLNK | 0777;
  a.symlink = "target/path";
  a.size = a.symlink.size();
  a.mtime = Time{-5, 999999999};  // before the epoch, with nanoseconds
  a.atime = Time{int64_t{1} << 40, 1};  // far beyond 2262
  Store::Batch b;
  b.PutInode(a);
  b.PutDirent(1, "link", 5, S_IFLNK);
  b.PutXattr(5, "user.a", "1");
  b.PutXattr(5, "user.b", "2");
  for (uint64_t i = 0; i < 4; ++i) b.PutBlock(5, i, "v" + std::to_string(i));
  ASSERT_TRUE(st.Write(b, true).ok());
  auto g = st.GetInode(5);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->symlink, "target/path");
  EXPECT_EQ(g->mtime, (Time{-5, 999999999}));
  EXPECT_EQ(g->atime, (Time{int64_t{1} << 40, 1}));
  auto e = st.Lookup(1, "link");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->ino, 5u);
  EXPECT_EQ(e->type, static_cast<uint32_t>(S_IFLNK));
  std::vector<std::string> names;
  ASSERT_TRUE(st.ListXattrs(5, &names).ok());
  EXPECT_EQ(names, (std::vector<std::string>{"user.a", "user.b"}));

  Store::Batch t;
  t.DeleteBlocksFrom(5, 2);
  t.DeleteAllXattrs(5);
  ASSERT_TRUE(st.Write(t, false).ok());
  std::string v;
  EXPECT_TRUE(st.GetBlock(5, 1, &v).ok());
  EXPECT_TRUE(st.GetBlock(5, 2, &v).IsNotFound());
  EXPECT_TRUE(st.GetBlock(5, 3, &v).IsNotFound());
  EXPECT_EQ(st.GetXattr(5, "user.a", &v).code(), Status::Code::kNoData);
  EXPECT_EQ(st.MaxIno(), 5u);
}

TEST(Store, ListDirIsScopedToOneDirectory) {
  TempDir d;
  auto s = Store::Open(d.sub("s"), StoreOptions{});
  ASSERT_TRUE(s.ok());
  Store::Batch b;
  b.PutDirent(1, "a", 10, S_IFREG);
  b.PutDirent(2, "b", 11, S_IFREG);
  b.PutDirent(256, "c", 12, S_IFREG);  // 256 = 0x100: shares no prefix bytes
  ASSERT_TRUE((*s)->Write(b, false).ok());
  std::vector<DirEntry> v;
  ASSERT_TRUE((*s)->ListDir(1, &v).ok());
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].name, "a");
  EXPECT_FALSE(*(*s)->DirEmpty(2));
  EXPECT_TRUE(*(*s)->DirEmpty(3));
}

TEST(Store, OrphansAreListed) {
  TempDir d;
  auto s = Store::Open(d.sub("s"), StoreOptions{});
  ASSERT_TRUE(s.ok());
  Store::Batch b;
  b.PutOrphan(42);
  b.PutOrphan(7);
  ASSERT_TRUE((*s)->Write(b, false).ok());
  std::vector<uint64_t> o;
  ASSERT_TRUE((*s)->ListOrphans(&o).ok());
  EXPECT_EQ(o, (std::vector<uint64_t>{7, 42}));
}

}  // namespace
}  // namespace pmklc

namespace pmklc {
namespace {

// Turns a store into what an older format wrote: drops the CFs `drop`,
// records `version`, and (format 1) removes meta group_blocks.
void Downgrade(const std::string& path, const std::vector<std::string>& drop, char version, bool drop_group_blocks) {
  rocksdb::DBOptions o;
  std::vector<std::string> names;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(o, path, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> cfds;
  for (auto& n : names) cfds.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> hs;
  rocksdb::DB* db = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(o, path, cfds, &hs, &db).ok());
  rocksdb::ColumnFamilyHandle* meta = nullptr;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == "meta") meta = hs[i];
    if (std::find(drop.begin(), drop.end(), names[i]) != drop.end()) ASSERT_TRUE(db->DropColumnFamily(hs[i]).ok());
  }
  ASSERT_NE(meta, nullptr);
  std::string v(4, '\0');
  v[0] = version;
  ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), meta, "format_version", v).ok());
  if (drop_group_blocks) ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), meta, "group_blocks").ok());
  for (auto* h : hs) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
  ASSERT_TRUE(db->Close().ok());
  delete db;
}

// A store written by format 1 (no "cold" or "refs" CF, no group_blocks) is upgraded in
// place when opened read-write, keeping its data; read-only tools refuse it
// with a message that says what to do.
TEST(Store, UpgradesFormat1InPlace) {
  TempDir d;
  const std::string path = d.sub("s");
  {
    auto s = Store::Open(path, StoreOptions{});
    ASSERT_TRUE(s.ok());
    Store::Batch b;
    b.PutBlock(7, 0, "value-of-block");
    ASSERT_TRUE((*s)->Write(b, true).ok());
  }
  Downgrade(path, {"cold", "refs", "sizes"}, 1, /*drop_group_blocks=*/true);  // what format 1 wrote
  StoreOptions ro;
  ro.read_only = true;
  auto r = Store::Open(path, ro);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("format 1"), std::string::npos) << r.status().ToString();
  auto s = Store::Open(path, StoreOptions{});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ((*s)->format_version(), format::kStoreVersion);
  EXPECT_EQ((*s)->group_blocks(), format::kGroupBytes / format::kDefaultBlockSize);
  std::string v;
  ASSERT_TRUE((*s)->GetBlock(7, 0, &v).ok());
  EXPECT_EQ(v, "value-of-block");
  EXPECT_TRUE((*s)->GetGroup(7, 0, &v).IsNotFound());
  s->reset();
  auto again = Store::Open(path, ro);  // upgraded: read-only opens work now
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ((*again)->format_version(), format::kStoreVersion);
}

// Format 2 (no "refs" CF) is upgraded the same way, keeping its archived
// groups; the new CF starts empty.
TEST(Store, UpgradesFormat2InPlace) {
  TempDir d;
  const std::string path = d.sub("s");
  {
    auto s = Store::Open(path, StoreOptions{});
    ASSERT_TRUE(s.ok());
    Store::Batch b;
    b.PutGroup(7, 0, "value-of-group");
    ASSERT_TRUE((*s)->Write(b, true).ok());
  }
  Downgrade(path, {"refs", "sizes"}, 2, /*drop_group_blocks=*/false);  // what format 2 wrote
  StoreOptions ro;
  ro.read_only = true;
  auto r = Store::Open(path, ro);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("format 2"), std::string::npos) << r.status().ToString();
  auto s = Store::Open(path, StoreOptions{});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ((*s)->format_version(), format::kStoreVersion);
  std::string v;
  ASSERT_TRUE((*s)->GetGroup(7, 0, &v).ok());
  EXPECT_EQ(v, "value-of-group");
  size_t objects = 0;
  ASSERT_TRUE((*s)->ForEachRefObject([&](uint64_t, std::string_view) { ++objects; return true; }).ok());
  EXPECT_EQ(objects, 0u);
}

// Format 3 (no "sizes" CF) is upgraded by filling the sizes index from
// every block, group and reference segment already stored.
TEST(Store, UpgradesFormat3ByFillingTheSizesIndex) {
  TempDir d;
  const std::string path = d.sub("s");
  std::string blockv(100, 'b'), groupv(300, 'g'), segv(50, 's');
  {
    auto s = Store::Open(path, StoreOptions{});
    ASSERT_TRUE(s.ok());
    Store::Batch b;
    b.PutBlock(7, 0, blockv);
    b.PutBlock(7, 3, blockv);
    b.PutGroup(8, 1, groupv);
    b.PutRefObject(9, "rec");
    b.PutRefSegment(9, 2, segv);
    ASSERT_TRUE((*s)->Write(b, true).ok());
  }
  Downgrade(path, {"sizes"}, 3, /*drop_group_blocks=*/false);
  StoreOptions ro;
  ro.read_only = true;
  auto r = Store::Open(path, ro);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("format 3"), std::string::npos) << r.status().ToString();
  auto s = Store::Open(path, StoreOptions{});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ((*s)->format_version(), format::kStoreVersion);
  EXPECT_EQ(*(*s)->StoredBytesOf(7), 200u);
  EXPECT_EQ(*(*s)->StoredBytesOf(8), 300u);
  std::vector<std::string> seen;
  ASSERT_TRUE((*s)->ForEachSize([&](char tag, uint64_t a, uint64_t b, uint32_t st, uint32_t, uint8_t) {
    seen.push_back(std::string(1, tag) + std::to_string(a) + "/" + std::to_string(b) + ":" + std::to_string(st));
    return true;
  }).ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"b7/0:100", "b7/3:100", "g8/1:300", "s9/2:50"}));
}

TEST(Store, UpgradesFormat4ByAddingTheRecallCf) {
  TempDir d;
  const std::string path = d.sub("s");
  {
    auto s = Store::Open(path, StoreOptions{});
    ASSERT_TRUE(s.ok());
    Store::Batch b;
    b.PutBlock(7, 0, std::string(100, 'b'));
    ASSERT_TRUE((*s)->Write(b, true).ok());
  }
  Downgrade(path, {"recall"}, 4, /*drop_group_blocks=*/false);
  StoreOptions ro;
  ro.read_only = true;
  auto r = Store::Open(path, ro);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("format 4"), std::string::npos) << r.status().ToString();
  auto s = Store::Open(path, StoreOptions{});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ((*s)->format_version(), format::kStoreVersion);
  EXPECT_EQ(*(*s)->StoredBytesOf(7), 100u);
}

// Recall entries (docs/store.md §Recall): written only while their group
// still has the version they name; every change of the group drops them in
// its own batch; they are counted in the sizes index as 'r', never in a
// file's stored bytes.
TEST(Store, RecallEntriesFollowTheirGroups) {
  TempDir d;
  auto s = Store::Open(d.sub("s"), StoreOptions{});
  ASSERT_TRUE(s.ok());
  Store& st = **s;
  const uint64_t gb = st.group_blocks();
  // A group value: a real block value, so its header names a checksum.
  std::string gv;
  ASSERT_TRUE(EncodeBlock(std::string(1000, 'x'), EncodeOptions{}, &gv).ok());
  auto hdr = ParseBlockHeader(gv);
  ASSERT_TRUE(hdr.ok());
  Store::Batch b;
  b.PutGroup(5, 1, gv);
  ASSERT_TRUE(st.Write(b, true).ok());
  EXPECT_EQ(*st.GetRecallVersion(5, 1), hdr->checksum);
  auto entries = [&](uint64_t sum) {
    Store::Batch e;
    e.PutRecall(5, gb, "entry-a");
    e.PutRecall(5, gb + 1, "entry-b");
    return st.WriteRecall(5, 1, sum, e);
  };
  EXPECT_TRUE(entries(hdr->checksum + 1).IsBusy());  // another version: refused
  ASSERT_TRUE(entries(hdr->checksum).ok());
  std::string v;
  ASSERT_TRUE(st.GetRecall(5, gb + 1, &v).ok());
  EXPECT_EQ(v, "entry-b");
  size_t r = 0;
  ASSERT_TRUE(st.ForEachSize([&](char tag, uint64_t, uint64_t, uint32_t, uint32_t, uint8_t) {
    r += tag == 'r';
    return true;
  }).ok());
  EXPECT_EQ(r, 2u);
  EXPECT_EQ(*st.StoredBytesOf(5), gv.size());
  // The group is archived again: its entries go in that batch.
  Store::Batch b2;
  b2.PutGroup(5, 1, gv);
  ASSERT_TRUE(st.Write(b2, true).ok());
  EXPECT_TRUE(st.GetRecall(5, gb, &v).IsNotFound());
  ASSERT_TRUE(entries(hdr->checksum).ok());
  // Deleted (explode): entries and version go.
  Store::Batch b3;
  b3.DeleteGroup(5, 1);
  ASSERT_TRUE(st.Write(b3, true).ok());
  EXPECT_TRUE(st.GetRecall(5, gb, &v).IsNotFound());
  EXPECT_TRUE(st.GetRecallVersion(5, 1).status().IsNotFound());
  EXPECT_TRUE(entries(hdr->checksum).IsBusy());  // the group is gone
  // Truncation / unlink: DeleteBlocksFrom drops the entries of the groups it drops.
  Store::Batch b4;
  b4.PutGroup(5, 1, gv);
  b4.PutGroup(5, 2, gv);
  ASSERT_TRUE(st.Write(b4, true).ok());
  ASSERT_TRUE(entries(hdr->checksum).ok());
  Store::Batch e2;
  e2.PutRecall(5, 2 * gb, "entry-c");
  ASSERT_TRUE(st.WriteRecall(5, 2, hdr->checksum, e2).ok());
  Store::Batch b5;
  b5.DeleteBlocksFrom(5, 2 * gb);  // group 2 on
  ASSERT_TRUE(st.Write(b5, true).ok());
  EXPECT_TRUE(st.GetRecall(5, 2 * gb, &v).IsNotFound());
  EXPECT_TRUE(st.GetRecall(5, gb, &v).ok());  // group 1 stays
  Store::Batch b6;
  b6.DeleteBlocksFrom(5, 0);
  ASSERT_TRUE(st.Write(b6, true).ok());
  size_t left = 0;
  ASSERT_TRUE(st.ForEachRecall([&](uint64_t, uint64_t, std::string_view) { ++left; return true; }).ok());
  EXPECT_EQ(left, 0u);
}

// The sizes index follows every put and delete of blocks, groups and
// segments, range deletions included, in the same batch.
TEST(Store, SizesIndexFollowsEveryWrite) {
  TempDir d;
  auto st = Store::Open(d.sub("s"), StoreOptions{});
  ASSERT_TRUE(st.ok());
  Store& s = **st;
  // A real block value: its header's raw length and codec are recorded.
  std::string v;
  EncodeOptions zstd;
  zstd.fasta = false;
  ASSERT_TRUE(EncodeBlock(std::string(5000, 'x'), zstd, &v).ok());
  Store::Batch b;
  for (uint64_t i = 0; i < 40; ++i) b.PutBlock(5, i, v);
  b.PutGroup(6, 0, v);
  b.PutRefObject(3, "rec");
  b.PutRefSegment(3, 0, v);
  ASSERT_TRUE(s.Write(b, false).ok());
  EXPECT_EQ(*s.StoredBytesOf(5), 40 * v.size());
  EXPECT_EQ(*s.StoredBytesOf(6), v.size());
  uint32_t raw = 0;
  uint8_t codec = 0;
  ASSERT_TRUE(s.ForEachSize([&](char tag, uint64_t, uint64_t, uint32_t, uint32_t r, uint8_t c) {
    if (tag == 'g') raw = r, codec = c;
    return true;
  }).ok());
  EXPECT_EQ(raw, 5000u);
  EXPECT_EQ(codec, static_cast<uint8_t>(CodecId::kZstd));
  EXPECT_EQ(*s.NextStoredBlock(5, 0), 0u);
  EXPECT_EQ(*s.NextUnstoredBlock(5, 0), 40u);
  Store::Batch d1;
  d1.DeleteBlock(5, 0);
  d1.DeleteBlocksFrom(5, 30);  // range delete
  ASSERT_TRUE(s.Write(d1, false).ok());
  EXPECT_EQ(*s.StoredBytesOf(5), 29 * v.size());
  EXPECT_EQ(*s.NextStoredBlock(5, 0), 1u);
  EXPECT_EQ(*s.NextUnstoredBlock(5, 1), 30u);
  EXPECT_TRUE(s.NextStoredBlock(5, 30).status().IsNotFound());
  Store::Batch d2;
  d2.DeleteBlocksFrom(6, 0);  // the group goes too
  d2.DeleteRefObject(3);      // and the segments
  ASSERT_TRUE(s.Write(d2, false).ok());
  EXPECT_EQ(*s.StoredBytesOf(6), 0u);
  size_t n = 0;
  ASSERT_TRUE(s.ForEachSize([&](char tag, uint64_t, uint64_t, uint32_t, uint32_t, uint8_t) {
    n += tag != 'b';
    return true;
  }).ok());
  EXPECT_EQ(n, 0u);
}

// A FileBatch (SST files ingested at once) leaves the store exactly as a
// WriteBatch of the same ops does: groups, blocks, the sizes index and
// recall versions; stale recall entries of its groups go too. Keys out of
// order are refused and nothing goes in.
TEST(Store, FileBatchEqualsAWriteBatchOfTheSameOps) {
  TempDir d;
  std::string v, g;
  EncodeOptions zstd;
  zstd.fasta = false;
  ASSERT_TRUE(EncodeBlock(std::string(5000, 'x'), zstd, &v).ok());
  ASSERT_TRUE(EncodeBlock(std::string(9000, 'y'), zstd, &g).ok());
  auto fill = [&](Store& s) {
    Store::Batch b;
    for (uint64_t ino : {5, 6})
      for (uint64_t i = 0; i < 70; ++i) b.PutBlock(ino, i, v);
    ASSERT_TRUE(s.Write(b, false).ok());
    Store::Batch raw;
    raw.PutRecall(5, 3, "stale entry");  // (as one left from an earlier group of block 3)
    ASSERT_TRUE(s.Write(raw, false).ok());
  };
  // What both apply: group 0 of inodes 5 and 6, its blocks deleted.
  auto dump = [&](Store& s) {
    std::string out;
    EXPECT_TRUE(s.ForEachBlock([&](uint64_t ino, uint64_t i, std::string_view) {
      out += "b" + std::to_string(ino) + "/" + std::to_string(i) + " ";
      return true;
    }).ok());
    EXPECT_TRUE(s.ForEachGroup([&](uint64_t ino, uint64_t i, std::string_view val) {
      out += "g" + std::to_string(ino) + "/" + std::to_string(i) + ":" + std::to_string(val.size()) + " ";
      return true;
    }).ok());
    EXPECT_TRUE(s.ForEachSize([&](char tag, uint64_t a, uint64_t b, uint32_t st, uint32_t raw, uint8_t c) {
      out += std::string(1, tag) + std::to_string(a) + "/" + std::to_string(b) + ":" + std::to_string(st) + "," +
             std::to_string(raw) + "," + std::to_string(c) + " ";
      return true;
    }).ok());
    EXPECT_TRUE(s.ForEachRecall([&](uint64_t ino, uint64_t i, std::string_view) {
      out += "r" + std::to_string(ino) + "/" + std::to_string(i) + " ";
      return true;
    }).ok());
    auto ver = s.GetRecallVersion(5, 0);
    out += "v" + (ver.ok() ? std::to_string(*ver) : ver.status().ToString());
    return out;
  };
  auto a = Store::Open(d.sub("a"), StoreOptions{});
  auto b = Store::Open(d.sub("b"), StoreOptions{});
  ASSERT_TRUE(a.ok() && b.ok());
  fill(**a);
  fill(**b);
  const uint64_t gb = (*a)->group_blocks();
  ASSERT_LE(gb, 64u);
  Store::Batch wb;
  auto fb = (*b)->NewFileBatch(d.sub("b/ingest.tmp"));
  ASSERT_TRUE(fb.ok()) << fb.status().ToString();
  for (uint64_t ino : {5, 6}) {
    wb.PutGroup(ino, 0, g);
    ASSERT_TRUE((*fb)->PutGroup(ino, 0, g).ok());
    for (uint64_t i = 0; i < gb; ++i) {
      wb.DeleteBlock(ino, i);
      ASSERT_TRUE((*fb)->DeleteBlock(ino, i).ok());
    }
  }
  ASSERT_TRUE((*a)->Write(wb, false).ok());
  EXPECT_EQ((*fb)->groups(), 2u);
  ASSERT_TRUE((*fb)->Commit().ok());
  fb->reset();
  EXPECT_FALSE(std::filesystem::exists(d.sub("b/ingest.tmp")));
  const std::string da = dump(**a), db = dump(**b);
  EXPECT_EQ(da, db);
  EXPECT_EQ(da.find("r5/3"), std::string::npos) << da;  // the stale entry went
  // Out of order: refused at the op, and nothing of the batch goes in.
  auto bad = (*b)->NewFileBatch(d.sub("b/ingest.tmp"));
  ASSERT_TRUE(bad.ok());
  ASSERT_TRUE((*bad)->PutGroup(6, 1, g).ok());
  EXPECT_FALSE((*bad)->PutGroup(5, 1, g).ok());
  bad->reset();
  EXPECT_EQ(dump(**b), db);
}

// Reference records: objects, segments and holds; deleting an object takes
// its segments and its own holds; deleting a file's data from block 0 takes
// the file's holds and sketch, a truncation keeps them.
TEST(Store, ReferenceRecords) {
  TempDir d;
  auto st = Store::Open(d.sub("s"), StoreOptions{});
  ASSERT_TRUE(st.ok());
  Store& s = **st;
  Store::Batch b;
  b.PutRefObject(10, "rec10");
  b.PutRefSegment(10, 0, "seg0");
  b.PutRefSegment(10, 1, "seg1");
  b.PutRefObject(11, "rec11");
  b.PutRefSegment(11, 0, "seg");
  b.PutHold(Store::kHoldObject, 11, 10);
  b.PutHold(Store::kHoldFile, 5, 11);
  b.PutHold(Store::kHoldFile, 6, 10);
  b.PutSketch(5, "sk5");
  b.PutSketch(6, "sk6");
  ASSERT_TRUE(s.Write(b, true).ok());
  auto holds = [&] {
    std::vector<std::tuple<int, uint64_t, uint64_t>> h;
    EXPECT_TRUE(s.ForEachHold([&](uint8_t k, uint64_t a, uint64_t o) { h.emplace_back(k, a, o); return true; }).ok());
    return h;
  };
  using H = std::vector<std::tuple<int, uint64_t, uint64_t>>;
  EXPECT_EQ(holds(), (H{{0, 5, 11}, {0, 6, 10}, {1, 11, 10}}));
  std::string v;
  ASSERT_TRUE(s.GetRefSegment(10, 1, &v).ok());
  EXPECT_EQ(v, "seg1");
  Store::Batch t;  // truncation: holds stay
  t.DeleteBlocksFrom(6, 3);
  ASSERT_TRUE(s.Write(t, true).ok());
  EXPECT_EQ(holds().size(), 3u);
  ASSERT_TRUE(s.GetSketch(6, &v).ok());
  Store::Batch del;  // all of file 6's data
  del.DeleteBlocksFrom(6, 0);
  ASSERT_TRUE(s.Write(del, true).ok());
  EXPECT_EQ(holds(), (H{{0, 5, 11}, {1, 11, 10}}));
  EXPECT_TRUE(s.GetSketch(6, &v).IsNotFound());
  ASSERT_TRUE(s.GetSketch(5, &v).ok());
  Store::Batch dobj;
  dobj.DeleteRefObject(11);
  ASSERT_TRUE(s.Write(dobj, true).ok());
  EXPECT_TRUE(s.GetRefObject(11, &v).IsNotFound());
  EXPECT_TRUE(s.GetRefSegment(11, 0, &v).IsNotFound());
  EXPECT_EQ(holds(), (H{{0, 5, 11}}));  // the file's hold is the file's business
  ASSERT_TRUE(s.GetRefSegment(10, 0, &v).ok());
}

}  // namespace
}  // namespace pmklc
