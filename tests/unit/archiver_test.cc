// The archiver (store/services/archiver.h) on a real RocksDB store and a live Filesystem:
// groups replace fast-tier blocks atomically, reads decode groups, writes and
// truncates move a group back to the fast tier first, busy files are skipped,
// and a swap is refused when the file changed after it was recoded.
#include "store/services/archiver.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <functional>
#include <future>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <random>

#include "engine/codec/codec.h"
#include "engine/format.h"
#include "engine/ref/ref_select.h"
#include "fs/filesystem.h"
#include "kernels/device.h"
#include "store/services/store_refs.h"
#include "tests/unit/fs_fixture.h"

namespace pmklc {
namespace {

constexpr uint64_t kRoot = format::kRootIno;

// FASTA with repeats (so the archive profile beats the fast tier), 60-column lines.
std::string Genome(size_t bases, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string seq;
  seq.reserve(bases);
  static const char kAcgt[] = "ACGT";
  while (seq.size() < bases) {
    if (seq.size() > 5000 && rng() % 4 == 0) {  // copy an earlier stretch with a few mutations
      size_t from = rng() % (seq.size() - 2000), len = 200 + rng() % 1500;
      for (size_t i = 0; i < len && seq.size() < bases; ++i)
        seq.push_back(rng() % 50 ? seq[from + i] : kAcgt[rng() % 4]);
    } else {
      for (int i = 0; i < 300 && seq.size() < bases; ++i) seq.push_back(kAcgt[rng() % 4]);
    }
  }
  std::string out = ">chr" + std::to_string(seed) + " test genome\n";
  for (size_t i = 0; i < seq.size(); i += 60) out += seq.substr(i, 60) + "\n";
  return out;
}

class ArchiverTest : public testing::FsFixture {
 protected:
  StoreOptions StoreOpts() const override {
    StoreOptions so;
    so.block_size = 16 << 10;   // 16 KiB blocks
    so.group_bytes = 64 << 10;  // 4 blocks per group: boundaries are exercised
    return so;
  }
  FsOptions FsOpts() const override {
    FsOptions fo;
    fo.encode.fasta = true;
    return fo;
  }
  uint64_t WriteNew(const std::string& name, const std::string& data) {
    InodeAttr a;
    EXPECT_TRUE(fs_->Mknod(caller_, kRoot, name, S_IFREG | 0644, 0, &a).ok());
    EXPECT_TRUE(fs_->Open(a.ino, O_WRONLY).ok());
    auto w = fs_->Write(a.ino, 0, data.data(), data.size());
    EXPECT_TRUE(w.ok() && *w == data.size());
    EXPECT_TRUE(fs_->Release(a.ino, O_WRONLY).ok());
    return a.ino;
  }
  size_t Blocks(uint64_t ino) {
    size_t n = 0;
    EXPECT_TRUE(store_->ForEachBlockOf(ino, [&](uint64_t, std::string_view) { ++n; return true; }).ok());
    return n;
  }
  size_t Groups(uint64_t ino) {
    size_t n = 0;
    EXPECT_TRUE(store_->ForEachGroupOf(ino, [&](uint64_t, std::string_view) { ++n; return true; }).ok());
    return n;
  }
  std::vector<uint64_t> Pending() {
    std::vector<uint64_t> v;
    EXPECT_TRUE(store_->ListPending(&v).ok());
    return v;
  }
  // One pass that ignores the delay; returns the busy count.
  uint64_t Pass(ArchiveHost* host, unsigned threads = 2) {
    ArchiveOptions o;
    o.threads = threads;
    o.idle_priority = false;
    Archiver ar(store_.get(), host, o);
    EXPECT_TRUE(ar.Init().ok());
    uint64_t busy = 0;
    EXPECT_TRUE(ar.RunPass(true, &busy).ok());
    return busy;
  }

};

TEST_F(ArchiverTest, GroupsReplaceBlocksAndReadBackAcrossReopen) {
  const std::string g = Genome(300000, 1);  // ~5 groups, last one partial
  const uint64_t ino = WriteNew("g.fa", g);
  ASSERT_GT(Blocks(ino), 0u);
  EXPECT_EQ(Pending(), std::vector<uint64_t>{ino});
  EXPECT_EQ(Pass(fs_->archive_host()), 0u);
  EXPECT_EQ(Blocks(ino), 0u);
  EXPECT_EQ(Groups(ino), (g.size() + (64 << 10) - 1) / (64 << 10));
  EXPECT_TRUE(Pending().empty());
  EXPECT_EQ(ReadAll(ino), g);
  // Random reads at group and block boundaries.
  for (uint64_t off : {uint64_t{0}, uint64_t{16383}, uint64_t{65535}, uint64_t{65536}, uint64_t{131070},
                       uint64_t{g.size() - 10}}) {
    char buf[20];
    auto r = fs_->Read(ino, off, sizeof buf, buf);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(std::string(buf, *r), g.substr(off, sizeof buf)) << off;
  }
  Reopen();
  EXPECT_EQ(ReadAll(ino), g);
  // Archived groups are smaller than the fast tier they replaced.
  ArchiveOptions o;
  Archiver ar(store_.get(), fs_->archive_host(), o);
  ArchiveStats st = ar.stats();
  EXPECT_EQ(st.groups, Groups(ino));
  EXPECT_LT(st.after_bytes, st.before_bytes);
  EXPECT_EQ(st.raw_bytes, g.size());
}

// device= (issue #18): balanced groups archived by 4 workers through the
// batcher write exactly the groups of the CPU path (no GPU here: auto and
// cpu are the same path, and cuda is refused by Init, nothing archived).
TEST_F(ArchiverTest, DeviceChoice) {
  const std::string g = Genome(400000, 3);
  const uint64_t ino = WriteNew("g.fa", g);
  ArchiveOptions o;
  o.profile = "balanced";
  o.threads = 4;
  o.idle_priority = false;
  o.device = *ParseDevice("cuda");
  if (!kernels::ListGpus().ok()) {
    Archiver ar(store_.get(), fs_->archive_host(), o);
    Status s = ar.Init();
    EXPECT_EQ(s.code(), Status::Code::kNotSupported) << s.ToString();
    EXPECT_NE(s.message().find("device cuda"), std::string::npos) << s.ToString();
    EXPECT_EQ(Pending(), std::vector<uint64_t>{ino});
  }
  o.device = *ParseDevice("auto");
  Archiver ar(store_.get(), fs_->archive_host(), o);
  ASSERT_TRUE(ar.Init().ok());
  uint64_t busy = 0;
  ASSERT_TRUE(ar.RunPass(true, &busy).ok());
  EXPECT_TRUE(Pending().empty());
  EXPECT_EQ(ReadAll(ino), g);
  // Each group is what EncodeBlock writes for its bytes with the profile.
  auto enc = ArchiveEncodeOptions("balanced");
  ASSERT_TRUE(enc.ok());
  size_t checked = 0;
  ASSERT_TRUE(store_->ForEachGroupOf(ino, [&](uint64_t idx, std::string_view v) {
    std::string raw, again;
    EXPECT_TRUE(DecodeBlock(v, &raw).ok());
    EXPECT_TRUE(EncodeBlock(raw, *enc, &again).ok());
    EXPECT_EQ(again, v) << "group " << idx;
    ++checked;
    return true;
  }).ok());
  // (a group that balanced does not shrink stays in the fast tier: the
  // first, random, one here)
  EXPECT_EQ(checked, Groups(ino));
  EXPECT_GE(checked, (g.size() + (64 << 10) - 1) / (64 << 10) - 1);
}

TEST_F(ArchiverTest, WritesAndTruncatesMoveAGroupBackFirst) {
  std::string g = Genome(200000, 2);
  const uint64_t ino = WriteNew("g.fa", g);
  ASSERT_EQ(Pass(fs_->archive_host()), 0u);
  // The short last group (one 6.8 KiB block) is not smaller recoded: it stays.
  ASSERT_EQ(Blocks(ino), 1u);
  const size_t groups = Groups(ino);
  ASSERT_EQ(groups, 3u);
  // A write in group 1 explodes only that group.
  ASSERT_TRUE(fs_->Open(ino, O_RDWR).ok());
  const std::string patch = "NNNNNNNNNNacgtacgt";
  ASSERT_TRUE(fs_->Write(ino, 70000, patch.data(), patch.size()).ok());
  g.replace(70000, patch.size(), patch);
  ASSERT_TRUE(fs_->Release(ino, O_RDWR).ok());
  EXPECT_EQ(Groups(ino), groups - 1);
  EXPECT_EQ(ReadAll(ino), g);
  EXPECT_EQ(Pending(), std::vector<uint64_t>{ino});
  ASSERT_EQ(Pass(fs_->archive_host()), 0u);
  EXPECT_EQ(Groups(ino), groups);
  EXPECT_EQ(ReadAll(ino), g);
  // Truncate into the middle of group 2, then extend: the tail reads as zeros.
  SetAttrRequest t;
  t.valid = SetAttrRequest::kSize;
  t.size = 150000;
  InodeAttr a;
  ASSERT_TRUE(fs_->SetAttr(caller_, ino, t, &a).ok());
  g.resize(150000);
  EXPECT_EQ(ReadAll(ino), g);
  t.size = 190000;
  ASSERT_TRUE(fs_->SetAttr(caller_, ino, t, &a).ok());
  g.resize(190000, '\0');
  EXPECT_EQ(ReadAll(ino), g);
  Reopen();
  EXPECT_EQ(ReadAll(ino), g);
  ASSERT_EQ(Pass(fs_->archive_host()), 0u);
  EXPECT_EQ(ReadAll(ino), g);
  // Unlinking removes the groups too.
  ASSERT_TRUE(fs_->Unlink(kRoot, "g.fa").ok());
  fs_->Forget(ino, 1);
  Reopen();
  EXPECT_EQ(Groups(ino), 0u);
  EXPECT_EQ(Blocks(ino), 0u);
  EXPECT_TRUE(Pending().empty());
}

TEST_F(ArchiverTest, FilesOpenForWritingOrRecentlyChangedWait) {
  const std::string g = Genome(100000, 3);
  const uint64_t ino = WriteNew("g.fa", g);
  ASSERT_TRUE(fs_->Open(ino, O_WRONLY).ok());
  EXPECT_EQ(Pass(fs_->archive_host()), 1u);
  EXPECT_EQ(Groups(ino), 0u);
  ASSERT_TRUE(fs_->Release(ino, O_WRONLY).ok());
  // Closed, but changed less than archive_delay ago.
  ArchiveOptions o;
  o.delay_s = 3600;
  o.idle_priority = false;
  Archiver ar(store_.get(), fs_->archive_host(), o);
  ASSERT_TRUE(ar.Init().ok());
  uint64_t busy = 0;
  ASSERT_TRUE(ar.RunPass(false, &busy).ok());
  EXPECT_EQ(busy, 1u);
  EXPECT_EQ(Groups(ino), 0u);
  // Read-only opens do not hold it back.
  ASSERT_TRUE(fs_->Open(ino, O_RDONLY).ok());
  EXPECT_EQ(Pass(fs_->archive_host()), 0u);
  EXPECT_GT(Groups(ino), 0u);
  EXPECT_EQ(ReadAll(ino), g);
  ASSERT_TRUE(fs_->Release(ino, O_RDONLY).ok());
}

// A host that lets the file change between recoding and the swap.
class RacingHost : public ArchiveHost {
 public:
  RacingHost(ArchiveHost* inner, std::function<void()> change) : inner_(inner), change_(std::move(change)) {}
  Status CheckIdle(uint64_t ino, const Time* t) override { return inner_->CheckIdle(ino, t); }
  Status Commit(uint64_t ino, const std::function<Status(const InodeAttr&, Store::Batch*)>& fn) override {
    if (change_) {
      auto c = std::move(change_);
      change_ = nullptr;
      c();
    }
    return inner_->Commit(ino, fn);
  }

 private:
  ArchiveHost* inner_;
  std::function<void()> change_;
};

TEST_F(ArchiverTest, SwapIsRefusedWhenTheFileChangedMeanwhile) {
  std::string g = Genome(60000, 4);  // one group
  const uint64_t ino = WriteNew("g.fa", g);
  const std::string patch = "TTTTTTTTTTTTTTTTTTTT";
  RacingHost host(fs_->archive_host(), [&] {
    ASSERT_TRUE(fs_->Open(ino, O_WRONLY).ok());
    ASSERT_TRUE(fs_->Write(ino, 1000, patch.data(), patch.size()).ok());
    ASSERT_TRUE(fs_->Release(ino, O_WRONLY).ok());
  });
  g.replace(1000, patch.size(), patch);
  EXPECT_EQ(Pass(&host, 1), 1u);
  EXPECT_EQ(Groups(ino), 0u);  // the stale recoding was not swapped in
  EXPECT_EQ(ReadAll(ino), g);
  EXPECT_EQ(Pending(), std::vector<uint64_t>{ino});
  EXPECT_EQ(Pass(fs_->archive_host()), 0u);  // the next pass archives the new content
  EXPECT_EQ(Groups(ino), 1u);
  EXPECT_EQ(ReadAll(ino), g);
}

TEST_F(ArchiverTest, CorruptGroupIsAnErrorNotData) {
  const std::string g = Genome(60000, 5);
  const uint64_t ino = WriteNew("g.fa", g);
  ASSERT_EQ(Pass(fs_->archive_host()), 0u);
  std::string v;
  ASSERT_TRUE(store_->GetGroup(ino, 0, &v).ok());
  v[v.size() / 2] ^= 0x10;
  Store::Batch b;
  b.PutGroup(ino, 0, v);
  ASSERT_TRUE(store_->Write(b, true).ok());
  Reopen();  // empty caches
  char buf[100];
  auto r = fs_->Read(ino, 100, sizeof buf, buf);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsCorruption()) << r.status().ToString();
}

TEST_F(ArchiverTest, OfflineHostArchivesAnUnmountedStore) {
  const std::string g = Genome(150000, 6);
  const uint64_t ino = WriteNew("g.fa", g);
  ASSERT_TRUE(fs_->Shutdown().ok());
  fs_.reset();
  StoreArchiveHost host(store_.get());
  EXPECT_EQ(Pass(&host), 0u);
  EXPECT_EQ(Blocks(ino), 0u);
  EXPECT_TRUE(Pending().empty());
  FsOptions fo;
  fs_ = std::make_unique<Filesystem>(store_.get(), fo);
  EXPECT_EQ(ReadAll(ino), g);
}

TEST_F(ArchiverTest, BackgroundLoopArchivesAfterTheDelayAndWaitPassReports) {
  const std::string g = Genome(80000, 7);
  const uint64_t ino = WriteNew("g.fa", g);
  ArchiveOptions o;
  o.delay_s = 3600;
  o.idle_priority = false;
  Archiver ar(store_.get(), fs_->archive_host(), o);
  ASSERT_TRUE(ar.Init().ok());
  ar.Start();
  uint64_t busy = 7;
  ASSERT_TRUE(ar.WaitPass(&busy).ok());  // a requested pass ignores the delay
  EXPECT_EQ(busy, 0u);
  EXPECT_GT(Groups(ino), 0u);
  ar.Stop();
  EXPECT_EQ(ReadAll(ino), g);
}

// Readers and a writer race the archiver's passes: every read returns the
// current content, whatever tier each group is in at that moment.
TEST_F(ArchiverTest, ReadsAndWritesStayExactWhileArchiving) {
  std::string g = Genome(400000, 8);
  const uint64_t ino = WriteNew("g.fa", g);
  std::mutex mu;  // guards g (the model of the file)
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&, t] {
      std::mt19937 rng(t);
      std::string buf(20000, '\0');
      while (!stop) {
        std::lock_guard<std::mutex> l(mu);  // no write between read and check
        uint64_t off = rng() % (g.size() - buf.size());
        auto r = fs_->Read(ino, off, buf.size(), buf.data());
        if (!r.ok() || *r != buf.size() || buf != g.substr(off, buf.size())) ++bad;
      }
    });
  }
  std::atomic<uint64_t> archived{0};
  std::thread archiver([&] {
    ArchiveOptions o;
    o.idle_priority = false;
    Archiver ar(store_.get(), fs_->archive_host(), o);
    ASSERT_TRUE(ar.Init().ok());
    while (!stop) {
      uint64_t busy = 0;
      ASSERT_TRUE(ar.RunPass(true, &busy).ok());
      archived = ar.stats().groups;
    }
  });
  std::mt19937 rng(99);
  for (int i = 0; i < 30; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    std::lock_guard<std::mutex> l(mu);
    std::string patch(1 + rng() % 3000, "ACGT"[rng() % 4]);
    uint64_t off = rng() % (g.size() - patch.size());
    ASSERT_TRUE(fs_->Open(ino, O_WRONLY).ok());
    ASSERT_TRUE(fs_->Write(ino, off, patch.data(), patch.size()).ok());
    ASSERT_TRUE(fs_->Release(ino, O_WRONLY).ok());
    g.replace(off, patch.size(), patch);
  }
  stop = true;
  for (auto& t : readers) t.join();
  archiver.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(archived.load(), 0u);  // groups really were swapped in meanwhile
  EXPECT_EQ(ReadAll(ino), g);
  Reopen();
  EXPECT_EQ(ReadAll(ino), g);
}

// A strain of `fasta`: the same genome with point mutations at `rate`.
std::string Strain(const std::string& fasta, double rate, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string out = fasta;
  static const char kAcgt[] = "ACGT";
  for (size_t i = out.find('\n') + 1; i < out.size(); ++i)
    if (out[i] != '\n' && std::uniform_real_distribution<double>(0, 1)(rng) < rate) out[i] = kAcgt[rng() % 4];
  return out;
}

// Every object's record claims more depth than every object its segments
// depend on (the reader rejects anything else as a damaged store).
void ExpectObjectDepthsConsistent(Store* store) {
  std::map<uint64_t, uint8_t> depth;
  ASSERT_TRUE(store->ForEachRefObject([&](uint64_t id, std::string_view v) {
    auto r = RefObjectRecord::Parse(v);
    EXPECT_TRUE(r.ok());
    if (r.ok()) depth[id] = r->depth;
    return true;
  }).ok());
  ASSERT_TRUE(store->ForEachRefSegment([&](uint64_t id, uint32_t seg, std::string_view v) {
    std::vector<RefSegmentKey> deps;
    EXPECT_TRUE(BlockRefs(v, &deps).ok());
    for (const RefSegmentKey& d : deps) {
      EXPECT_TRUE(depth.count(d.object)) << "segment " << seg << " of " << id << " names a missing object";
      if (depth.count(d.object)) {
        EXPECT_GT(int{depth[id]}, int{depth[d.object]}) << "object " << id << " segment " << seg;
      }
    }
    return true;
  }).ok());
}

// A file's sketch record is rewritten only when a pass codes the whole file,
// so its depth can be stale (after an overwrite and a partial recode). A
// stale record must not make a file coded against a depth-1 object into a
// depth-0 object: its segments would then depend on an object no shallower
// than itself, and every read through it would fail.
TEST_F(ArchiverTest, StaleSketchDepthNeverMakesAnObjectTooShallow) {
  const std::string base = Genome(150000, 11);
  const std::string a = Strain(base, 0.01, 1), b = Strain(base, 0.01, 2), c = Strain(base, 0.01, 3);
  const std::string d = Strain(c, 0.002, 4);  // closest to c
  const uint64_t ia = WriteNew("a.fa", a);
  EXPECT_EQ(Pass(fs_->archive_host()), 0u);
  const uint64_t ib = WriteNew("b.fa", b);
  EXPECT_EQ(Pass(fs_->archive_host()), 0u);
  const uint64_t ic = WriteNew("c.fa", c);
  EXPECT_EQ(Pass(fs_->archive_host()), 0u);
  // c was coded against a and b, one of them an object of depth 1 (b coded
  // against a), so c is 2 deep: it keeps no sketch and can never be a reference.
  std::map<uint64_t, uint8_t> depth;
  ASSERT_TRUE(store_->ForEachRefObject([&](uint64_t id, std::string_view v) {
    auto r = RefObjectRecord::Parse(v);
    if (r.ok()) depth[id] = r->depth;
    return true;
  }).ok());
  uint8_t c_depth = 0;
  ASSERT_TRUE(store_->ForEachGroupOf(ic, [&](uint64_t, std::string_view v) {
    std::vector<RefSegmentKey> deps;
    EXPECT_TRUE(BlockRefs(v, &deps).ok());
    for (auto& k : deps) c_depth = std::max<uint8_t>(c_depth, static_cast<uint8_t>(depth[k.object] + 1));
    return true;
  }).ok());
  ASSERT_EQ(c_depth, 2) << "the setup needs c two deep";
  std::string rec;
  EXPECT_TRUE(store_->GetSketch(ic, &rec).IsNotFound());
  // Plant the stale record: c's sketch, claiming depth 0.
  ref::SketchBuilder sb;
  sb.Add(NucleotideCodes(c));
  std::string stale("\x01\x00", 2);
  stale += sb.Finish().Serialize();
  {
    Store::Batch wb;
    wb.PutSketch(ic, stale);
    ASSERT_TRUE(store_->Write(wb, true).ok());
  }
  const uint64_t id = WriteNew("d.fa", d);
  EXPECT_EQ(Pass(fs_->archive_host()), 0u);
  ExpectObjectDepthsConsistent(store_.get());
  Reopen();  // empty caches: every segment is decoded (and checked) again
  EXPECT_EQ(ReadAll(ia), a);
  EXPECT_EQ(ReadAll(ib), b);
  EXPECT_EQ(ReadAll(ic), c);
  EXPECT_EQ(ReadAll(id), d);
}

// Bytes the store keeps for archived data: groups and reference segments.
uint64_t ArchivedBytes(Store* store) {
  uint64_t n = 0;
  EXPECT_TRUE(store->ForEachGroup([&](uint64_t, uint64_t, std::string_view v) { n += v.size(); return true; }).ok());
  EXPECT_TRUE(store->ForEachRefSegment([&](uint64_t, uint32_t, std::string_view v) { n += v.size(); return true; }).ok());
  return n;
}

// The bases of a one-record FASTA text, without header and line breaks.
std::string BasesOf(const std::string& fasta) {
  std::string out;
  for (size_t i = fasta.find('\n') + 1; i < fasta.size(); ++i)
    if (fasta[i] != '\n') out.push_back(fasta[i]);
  return out;
}

std::string Bases(size_t bases, uint64_t seed) { return BasesOf(Genome(bases, seed)); }

std::string Fasta(const std::string& name, const std::string& bases) {
  std::string out = ">" + name + "\n";
  for (size_t i = 0; i < bases.size(); i += 60) out += bases.substr(i, 60) + "\n";
  return out;
}

// Bases with point mutations at `rate`.
std::string Mutate(const std::string& bases, double rate, uint64_t seed) {
  return BasesOf(Strain(Fasta("x", bases), rate, seed));
}

// Two lineages of close strains (0.3% apart; the lineages 2% apart), with
// 30 kb islands of sequence some strains share: p1 has A, the others B.
struct Lineages {
  std::string p1, p2, q1, q2;
};
Lineages TwoLineages(uint64_t seed) {
  const std::string base = Bases(120000, seed), island_a = Bases(30000, seed + 1), island_b = Bases(30000, seed + 2);
  const std::string p = Mutate(base, 0.01, 1), q = Mutate(base, 0.01, 2);
  return {Fasta("p1", Mutate(p, 0.0015, 3) + island_a), Fasta("p2", Mutate(p, 0.0015, 4) + island_b),
          Fasta("q1", Mutate(q, 0.0015, 5) + island_b), Fasta("q2", Mutate(q, 0.0015, 6) + island_b)};
}

// TwoLineages written lineage by lineage and planned in that order: q1
// would use p1 (alone) and p2 (for island B), so it would be as deep as a
// chain may go, and q2, its near twin, could not use it. The pass plans them farthest first instead,
// so the store costs the same whatever order they were written in.
TEST_F(ArchiverTest, PassPlansRelatedFilesInTheSameOrderWhateverTheyCameIn) {
  const auto [p1, p2, q1, q2] = TwoLineages(21);
  using Files = std::vector<std::pair<std::string, const std::string*>>;
  std::vector<uint64_t> bytes;
  for (const Files& files : {Files{{"p1", &p1}, {"p2", &p2}, {"q1", &q1}, {"q2", &q2}},
                             Files{{"q2", &q2}, {"p1", &p1}, {"q1", &q1}, {"p2", &p2}}}) {
    std::vector<std::pair<uint64_t, const std::string*>> inos;
    for (auto& [name, data] : files) inos.emplace_back(WriteNew(name + ".fa", *data), data);
    EXPECT_EQ(Pass(fs_->archive_host()), 0u);
    for (auto& [ino, data] : inos) EXPECT_EQ(ReadAll(ino), *data);
    bytes.push_back(ArchivedBytes(store_.get()));
    ExpectObjectDepthsConsistent(store_.get());
    // Next round on an empty store: delete them all; the pass collects the objects.
    for (auto& [name, data] : files) ASSERT_TRUE(fs_->Unlink(kRoot, name + ".fa").ok());
    for (auto& [ino, data] : inos) fs_->Forget(ino, 1);  // the kernel's lookup from Mknod
    EXPECT_EQ(Pass(fs_->archive_host()), 0u);
    EXPECT_EQ(ArchivedBytes(store_.get()), 0u);
  }
  EXPECT_EQ(bytes[0], bytes[1]);
}

// Strains that come in a later pass than their relatives: the first pass
// makes p1 and p2 an object coded alone and one coded against it, so a q
// strain that used both (p2 has its island) would be as deep as a chain may
// go. The first q strain planned is wanted by the second
// (its near twin) more than anything else is, so it uses only the strain
// coded alone and stays usable, and the second builds on it.
TEST_F(ArchiverTest, LaterPassKeepsAFileUsableForItsNearTwin) {
  const auto [p1, p2, q1, q2] = TwoLineages(31);
  const uint64_t ip1 = WriteNew("p1.fa", p1), ip2 = WriteNew("p2.fa", p2);
  EXPECT_EQ(Pass(fs_->archive_host()), 0u);
  const uint64_t iq1 = WriteNew("q1.fa", q1), iq2 = WriteNew("q2.fa", q2);
  EXPECT_EQ(Pass(fs_->archive_host()), 0u);
  // The object a promoted file's groups link to (0: not promoted), and
  // whether a file's groups depend on an object.
  auto linked = [&](uint64_t ino) {
    uint64_t obj = 0;
    EXPECT_TRUE(store_->ForEachGroupOf(ino, [&](uint64_t, std::string_view v) {
      auto h = ParseBlockHeader(v);
      std::vector<RefSegmentKey> deps;
      if (h.ok() && h->codec == CodecId::kRefLink && BlockRefs(v, &deps).ok() && !deps.empty()) obj = deps[0].object;
      return true;
    }).ok());
    return obj;
  };
  auto depends_on = [&](uint64_t ino, uint64_t obj) {
    bool any = false;
    EXPECT_TRUE(store_->ForEachGroupOf(ino, [&](uint64_t, std::string_view v) {
      std::vector<RefSegmentKey> deps;
      EXPECT_TRUE(BlockRefs(v, &deps).ok());
      for (auto& d : deps) any = any || d.object == obj;
      return true;
    }).ok());
    return any;
  };
  const uint64_t o1 = linked(iq1), o2 = linked(iq2);
  EXPECT_TRUE((o1 != 0 && depends_on(iq2, o1)) || (o2 != 0 && depends_on(iq1, o2)))
      << "neither q strain builds on the other";
  ExpectObjectDepthsConsistent(store_.get());
  Reopen();
  EXPECT_EQ(ReadAll(ip1), p1);
  EXPECT_EQ(ReadAll(ip2), p2);
  EXPECT_EQ(ReadAll(iq1), q1);
  EXPECT_EQ(ReadAll(iq2), q2);
}

// A genome whose every group codes smaller than the fast tier (else it
// stays there and the file cannot be a reference): 30 copies of a 20 kb
// unit, 5% apart.
std::string RepeatedUnits(uint64_t unit_seed, uint64_t mutation_seed) {
  const std::string unit = Bases(20000, unit_seed);
  std::string seq;
  for (uint64_t i = 0; i < 30; ++i) seq += Mutate(unit, 0.05, mutation_seed + i);
  return Fasta("base", seq);
}

// A file archived in one pass and promoted to a reference object in a
// later one: its group values are copied into the object's segments, and
// the pass compacts its old keys so that the old copies do not stay on disk.
TEST_F(ArchiverTest, PromotionInALaterPassFreesTheOldCopies) {
  const std::string base = RepeatedUnits(41, 100);
  const std::string a = Strain(base, 0.01, 1), b = Strain(base, 0.01, 2);
  const uint64_t ia = WriteNew("a.fa", a);
  EXPECT_EQ(Pass(fs_->archive_host()), 0u);
  store_->ScheduleReclaimAll();  // flushes: a's groups are on disk, as after any real pass
  store_->WaitForReclaim();
  const uint64_t a_bytes = ArchivedBytes(store_.get());
  ASSERT_EQ(Blocks(ia), 0u) << "a is wholly archived";
  const uint64_t ib = WriteNew("b.fa", b);
  EXPECT_EQ(Pass(fs_->archive_host()), 0u);  // a becomes an object, b codes against it
  store_->ScheduleReclaimAll();  // the fast tier's garbage too (a pass this small leaves it)
  store_->WaitForReclaim();
  uint64_t objects = 0;
  ASSERT_TRUE(store_->ForEachRefObject([&](uint64_t, std::string_view) { ++objects; return true; }).ok());
  ASSERT_EQ(objects, 1u);
  const uint64_t stored = ArchivedBytes(store_.get()), disk = store_->DiskBytes();
  // Without the compaction the old copies of a's groups (a_bytes) stay.
  EXPECT_LT(disk, stored + a_bytes / 2) << "stored " << stored << ", a alone " << a_bytes;
  EXPECT_EQ(ReadAll(ia), a);
  EXPECT_EQ(ReadAll(ib), b);
}

// The same when the promoted file's groups were flushed into one blob file
// with those of a file that stays (archived in the same pass, as in any
// store holding more than one genome): the old copies must not stay because
// the blob file still holds live values.
TEST_F(ArchiverTest, PromotionFreesOldCopiesThatShareABlobFileWithLiveData) {
  const std::string base = RepeatedUnits(43, 200);
  const std::string a = Strain(base, 0.01, 3), b = Strain(base, 0.01, 4);
  const std::string u = Fasta("unrelated", Bases(300000, 44));
  const uint64_t iu = WriteNew("u.fa", u);
  const uint64_t ia = WriteNew("a.fa", a);
  EXPECT_EQ(Pass(fs_->archive_host()), 0u);
  store_->ScheduleReclaimAll();  // flushes: a's and u's groups share a blob file
  store_->WaitForReclaim();
  const uint64_t before = ArchivedBytes(store_.get());
  ASSERT_EQ(Blocks(ia), 0u);
  ASSERT_EQ(Blocks(iu), 0u);
  const uint64_t ib = WriteNew("b.fa", b);
  EXPECT_EQ(Pass(fs_->archive_host()), 0u);  // a becomes an object, b codes against it
  store_->ScheduleReclaimAll();
  store_->WaitForReclaim();
  uint64_t objects = 0;
  ASSERT_TRUE(store_->ForEachRefObject([&](uint64_t, std::string_view) { ++objects; return true; }).ok());
  ASSERT_EQ(objects, 1u);
  uint64_t a_bytes = 0;  // the object's segments: a's groups, moved unchanged
  ASSERT_TRUE(store_->ForEachRefSegment([&](uint64_t, uint32_t, std::string_view v) {
    a_bytes += v.size();
    return true;
  }).ok());
  const uint64_t stored = ArchivedBytes(store_.get()), disk = store_->DiskBytes();
  // Without the collection the old copies of a's groups (a_bytes) stay.
  EXPECT_LT(disk, stored + a_bytes / 2) << "stored " << stored << ", a " << a_bytes << ", first pass " << before;
  EXPECT_EQ(ReadAll(ia), a);
  EXPECT_EQ(ReadAll(ib), b);
  EXPECT_EQ(ReadAll(iu), u);
}

// A dependent file overwritten in place (no truncation) with unrelated
// content is recoded alone; the pass that recodes it drops its hold on the
// reference, so once the reference's own file is deleted, its object goes.
TEST_F(ArchiverTest, RecodedFileDropsHoldsItNoLongerNeeds) {
  const auto [p1, p2, q1, q2] = TwoLineages(51);
  const uint64_t ia = WriteNew("a.fa", p1);
  EXPECT_EQ(Pass(fs_->archive_host()), 0u);
  const uint64_t ib = WriteNew("b.fa", p2);
  EXPECT_EQ(Pass(fs_->archive_host()), 0u);  // a becomes an object, b holds it
  auto objects = [&] {
    size_t n = 0;
    EXPECT_TRUE(store_->ForEachRefObject([&](uint64_t, std::string_view) { ++n; return true; }).ok());
    return n;
  };
  auto holds_of = [&](uint64_t ino) {
    size_t n = 0;
    EXPECT_TRUE(store_->ForEachHoldBy(Store::kHoldFile, ino, [&](uint64_t) { ++n; return true; }).ok());
    return n;
  };
  ASSERT_EQ(objects(), 1u);
  ASSERT_EQ(holds_of(ib), 1u);
  // Every byte of b rewritten in place: unrelated sequence, same length.
  std::string other = Genome(p2.size(), 99);  // (TwoLineages(51) uses seeds 51..53)
  other.resize(p2.size());
  ASSERT_TRUE(fs_->Open(ib, O_WRONLY).ok());
  auto w = fs_->Write(ib, 0, other.data(), other.size());
  ASSERT_TRUE(w.ok() && *w == other.size());
  ASSERT_TRUE(fs_->Release(ib, O_WRONLY).ok());
  EXPECT_EQ(Pass(fs_->archive_host()), 0u);
  EXPECT_EQ(holds_of(ib), 0u) << "b no longer depends on a's object";

  // Delete a: nothing holds its object any more, and the next pass deletes it.
  ASSERT_TRUE(fs_->Unlink(kRoot, "a.fa").ok());
  fs_->Forget(ia, 1);
  EXPECT_EQ(Pass(fs_->archive_host()), 0u);
  EXPECT_EQ(objects(), 0u);
  Reopen();
  EXPECT_EQ(ReadAll(ib), other);
}


// A write plans its explode before the file's exclusive lock; if the
// archiver archives the group in between, the write must still move it back
// to the fast tier (never blocks beside a group: a later pass would code the
// group from the blocks alone).
class ArchiverWriteRaceTest : public ArchiverTest {
 protected:
  FsOptions FsOpts() const override {
    FsOptions fo = ArchiverTest::FsOpts();
    auto* self = const_cast<ArchiverWriteRaceTest*>(this);
    fo.hooks.before_write_lock = [self](uint64_t ino) {
      if (ino == self->race_ino_ && !self->raced_.exchange(true)) self->Pass(self->fs_->archive_host());
    };
    return fo;
  }
  std::atomic<uint64_t> race_ino_{~uint64_t{0}};
  std::atomic<bool> raced_{false};
};

TEST_F(ArchiverWriteRaceTest, AGroupArchivedBetweenPlanAndLockIsStillExploded) {
  std::string g = Genome(150000, 31);
  const uint64_t ino = WriteNew("g.fa", g);
  ASSERT_EQ(Groups(ino), 0u);
  race_ino_ = ino;
  // (no write handle: an open one would keep the archiver away, as in a mount)
  auto w = fs_->Write(ino, 70000, "NNNN", 4);  // group 1; archived by the hook meanwhile
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ASSERT_TRUE(raced_.load());
  ASSERT_TRUE(fs_->Flush(ino, false).ok());
  g.replace(70000, 4, "NNNN");
  // Group 1 is in exactly one tier.
  std::set<uint64_t> block_groups, groups;
  ASSERT_TRUE(store_->ForEachBlockOf(ino, [&](uint64_t idx, std::string_view) {
    block_groups.insert(idx / store_->group_blocks());
    return true;
  }).ok());
  ASSERT_TRUE(store_->ForEachGroupOf(ino, [&](uint64_t gi, std::string_view) { groups.insert(gi); return true; }).ok());
  EXPECT_TRUE(block_groups.count(1));
  EXPECT_FALSE(groups.count(1)) << "group 1 has both an archived group and fast-tier blocks";
  EXPECT_EQ(ReadAll(ino), g);
  // A later pass codes the whole group again, and it reads back.
  Pass(fs_->archive_host());
  Reopen();
  EXPECT_EQ(ReadAll(ino), g);
}

// A write across two archived groups decodes both before it takes the
// file's exclusive lock, none under it.
class ArchiverDecodeCountTest : public ArchiverTest {
 protected:
  FsOptions FsOpts() const override {
    FsOptions fo = ArchiverTest::FsOpts();
    auto* self = const_cast<ArchiverDecodeCountTest*>(this);
    fo.hooks.before_write_lock = [self](uint64_t) { self->locked_ = true; };
    fo.hooks.before_group_decode = [self](uint64_t, uint64_t) {
      (self->locked_ ? self->under_lock_ : self->before_lock_)++;
    };
    return fo;
  }
  std::atomic<bool> locked_{false};
  std::atomic<int> before_lock_{0}, under_lock_{0};
};

TEST_F(ArchiverDecodeCountTest, AWriteAcrossTwoArchivedGroupsDecodesThemBeforeTheLock) {
  std::string g = Genome(200000, 41);
  const uint64_t ino = WriteNew("g.fa", g);
  ASSERT_EQ(Pass(fs_->archive_host()), 0u);
  ASSERT_GE(Groups(ino), 3u);
  Reopen();
  const uint64_t off = (64 << 10) - 10;  // groups 0 and 1
  const std::string patch(20, 'N');
  locked_ = false;  // count from here: the setup wrote and archived too
  before_lock_ = 0;
  under_lock_ = 0;
  auto w = fs_->Write(ino, off, patch.data(), patch.size());
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(before_lock_.load(), 2);
  EXPECT_EQ(under_lock_.load(), 0) << "a group was decoded under the exclusive lock";
  g.replace(off, patch.size(), patch);
  EXPECT_EQ(ReadAll(ino), g);
}

// Sequential reads of an archived file (issue #19): each group is decoded
// once, and a reader starting at the beginning gets the next group decoding
// beside its first (read_threads=2).
class ArchiverReadAheadTest : public ArchiverTest {
 protected:
  FsOptions FsOpts() const override {
    FsOptions fo = ArchiverTest::FsOpts();
    fo.read_threads = 2;
    auto* self = const_cast<ArchiverReadAheadTest*>(this);
    fo.hooks.before_group_decode = [self](uint64_t ino, uint64_t g) {
      if (ino != self->ino_ || g >= 64) return;
      self->decodes_[g]++;
      if (g == 0)  // wait (at most 10 s) for group 1 to start beside it
        for (int i = 0; i < 1000 && !self->decodes_[1].load(); ++i)
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
      if (g == 0) self->overlap_ = self->decodes_[1].load() > 0;
    };
    return fo;
  }
  std::atomic<uint64_t> ino_{~uint64_t{0}};
  std::atomic<int> decodes_[64] = {};
  std::atomic<bool> overlap_{false};
};

TEST_F(ArchiverReadAheadTest, ASequentialReaderDecodesEachGroupOnceWithTheNextBesideIt) {
  const std::string g = Genome(400000, 5);
  const uint64_t ino = WriteNew("g.fa", g);
  ASSERT_EQ(Pass(fs_->archive_host()), 0u);
  const uint64_t groups = Groups(ino);
  ASSERT_GE(groups, 4u);
  Reopen();  // cold
  ino_ = ino;
  EXPECT_EQ(ReadAll(ino), g);
  EXPECT_TRUE(overlap_.load()) << "group 1 did not decode beside group 0";
  for (uint64_t k = 0; k < groups; ++k) EXPECT_EQ(decodes_[k].load(), 1) << "group " << k;
}

// Nobody waits behind a slow decode (issue #16): while a cold group of an
// archived file decodes (held open here by a hook, as long as the test
// likes), a stat of that file, a readdir, a cached read of another file, a
// write to a third and a read of another group of the same file all finish.
class ArchiverLockTest : public ArchiverTest {
 protected:
  FsOptions FsOpts() const override {
    FsOptions fo = ArchiverTest::FsOpts();
    auto* self = const_cast<ArchiverLockTest*>(this);
    fo.hooks.before_group_decode = [self](uint64_t ino, uint64_t g) {
      if (ino != self->hold_ino_ || g != 0 || self->held_.exchange(true)) return;
      self->holding_.set_value();
      self->release_.wait();
    };
    return fo;
  }
  void TearDown() override { Release(); }
  void Release() {
    if (!released_.exchange(true)) release_promise_.set_value();
  }
  std::atomic<uint64_t> hold_ino_{~uint64_t{0}};
  std::atomic<bool> held_{false}, released_{false};
  std::promise<void> holding_, release_promise_;
  std::shared_future<void> release_ = release_promise_.get_future().share();
};

TEST_F(ArchiverLockTest, NothingWaitsWhileAColdGroupDecodes) {
  using Clock = std::chrono::steady_clock;
  const std::string g = Genome(200000, 11);
  const uint64_t ino = WriteNew("g.fa", g);
  const std::string other = Genome(30000, 12);
  const uint64_t ino2 = WriteNew("other.fa", other);
  ASSERT_EQ(Pass(fs_->archive_host()), 0u);
  ASSERT_GE(Groups(ino), 3u);
  Reopen();  // cold: nothing decoded in memory
  InodeAttr a;
  ASSERT_TRUE(fs_->Lookup(kRoot, "g.fa", &a).ok());
  ASSERT_TRUE(fs_->Lookup(kRoot, "other.fa", &a).ok());
  ASSERT_TRUE(fs_->Open(ino, O_RDONLY).ok());
  ASSERT_TRUE(fs_->Open(ino2, O_RDONLY).ok());
  EXPECT_EQ(ReadAll(ino2), other);  // other.fa is cached now
  hold_ino_ = ino;
  std::string first(4096, '\0');
  std::thread reader([&] {
    auto r = fs_->Read(ino, 100, first.size(), first.data());  // group 0: held in its decode
    EXPECT_TRUE(r.ok());
  });
  ASSERT_EQ(holding_.get_future().wait_for(std::chrono::seconds(30)), std::future_status::ready);
  auto within = [&](const char* what, auto&& fn, std::chrono::milliseconds limit) {
    const auto t0 = Clock::now();
    fn();
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
    EXPECT_LE(ms.count(), limit.count()) << what << " waited behind the decode";
  };
  // A finished operation is the assertion; one stuck behind the held decode
  // would never return, so each runs on its own thread with a deadline.
  auto bounded = [&](const char* what, std::function<void()> fn, std::chrono::milliseconds limit) {
    std::promise<void> done;
    auto f = done.get_future();
    std::thread t([&] { within(what, fn, limit); done.set_value(); });
    if (f.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
      ADD_FAILURE() << what << " did not finish while the decode was held";
      Release();
    }
    t.join();
  };
  const auto k50 = std::chrono::milliseconds(50);
  bounded("stat of the decoding file", [&] { InodeAttr x; EXPECT_TRUE(fs_->GetAttr(ino, &x).ok()); }, k50);
  bounded("readdir", [&] { std::vector<DirEntry> v; EXPECT_TRUE(fs_->ReadDir(kRoot, &v).ok()); }, k50);
  bounded("cached read of another file", [&] {
    char b[4096];
    auto r = fs_->Read(ino2, 0, sizeof b, b);
    EXPECT_TRUE(r.ok());
  }, k50);
  bounded("write to a third file", [&] {
    InodeAttr t;
    ASSERT_TRUE(fs_->Mknod(caller_, kRoot, "third", S_IFREG | 0644, 0, &t).ok());
    ASSERT_TRUE(fs_->Open(t.ino, O_WRONLY).ok());
    std::string d(4096, 'w');
    auto w = fs_->Write(t.ino, 0, d.data(), d.size());
    EXPECT_TRUE(w.ok());
  }, k50);
  // Another group of the same file decodes on its own (not behind group 0),
  // and the reader's atime update does not wait for group 0 either.
  bounded("read of another group of the same file", [&] {
    std::string b(4096, '\0');
    auto r = fs_->Read(ino, 70000, b.size(), b.data());
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(b, g.substr(70000, b.size()));
  }, std::chrono::milliseconds(5000));
  // A write into another archived group of the same file re-expands that
  // group first: its decode runs before the file's exclusive lock too.
  bounded("write into another group of the same file", [&] {
    auto w = fs_->Write(ino, 140000, "NNNN", 4);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
  }, std::chrono::milliseconds(5000));
  Release();
  reader.join();
  EXPECT_EQ(first, g.substr(100, first.size()));
  std::string expect = g;
  expect.replace(140000, 4, "NNNN");
  EXPECT_EQ(ReadAll(ino), expect);
}

}  // namespace
}  // namespace pmklc

namespace pmklc {
namespace {

// Split groups (archive_split=, issue #19 item 3): a read decodes only the
// part that holds it, each part once; a write into a split group moves it
// back to the fast tier like any group; bad part sizes are refused.
class ArchiverSplitTest : public ArchiverTest {
 protected:
  FsOptions FsOpts() const override {
    FsOptions fo = ArchiverTest::FsOpts();
    auto* self = const_cast<ArchiverSplitTest*>(this);
    fo.hooks.before_group_decode = [self](uint64_t, uint64_t) { self->decodes_++; };
    return fo;
  }
  Status SplitPass(uint32_t split) {
    ArchiveOptions o;
    o.threads = 2;
    o.idle_priority = false;
    o.split_bytes = split;
    Archiver ar(store_.get(), fs_->archive_host(), o);
    PMKLC_RETURN_IF_ERROR(ar.Init());
    uint64_t busy = 0;
    return ar.RunPass(true, &busy);
  }
  std::string Read(uint64_t ino, uint64_t off, size_t n) {
    std::string out(n, '\0');
    auto r = fs_->Read(ino, off, n, out.data());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    out.resize(r.ok() ? *r : 0);
    return out;
  }
  std::atomic<int> decodes_{0};
};

TEST_F(ArchiverSplitTest, ReadsDecodeOnlyTheirPartAndWritesExplodeSplitGroups) {
  std::string g = Genome(300000, 8);  // 5 groups of 64 KiB, each 2 parts of 32 KiB
  const uint64_t ino = WriteNew("g.fa", g);
  EXPECT_EQ(SplitPass(1000).code(), Status::Code::kInvalidArgument) << "not a multiple of the block size";
  EXPECT_EQ(SplitPass(64 << 10).code(), Status::Code::kInvalidArgument) << "not smaller than a group";
  ASSERT_TRUE(SplitPass(32 << 10).ok());
  size_t split_groups = 0, parts = 0;
  ASSERT_TRUE(store_->ForEachGroupOf(ino, [&](uint64_t, std::string_view v) {
    std::vector<BlockPart> p;
    EXPECT_TRUE(BlockParts(v, &p).ok());
    split_groups += static_cast<CodecId>(v[1]) == CodecId::kSplit;
    parts += p.size();
    return true;
  }).ok());
  EXPECT_GE(split_groups, 4u);
  Reopen();
  decodes_ = 0;
  // (reads far apart: a read near the last one counts as sequential and
  // starts a read-ahead)
  const uint64_t at = 3 * (64 << 10) + (40 << 10);  // group 3, its second part
  EXPECT_EQ(Read(ino, at, 100), g.substr(at, 100));
  EXPECT_EQ(decodes_.load(), 1);
  EXPECT_EQ(Read(ino, (64 << 10) + 100, 100), g.substr((64 << 10) + 100, 100));  // group 1, its first part
  EXPECT_EQ(decodes_.load(), 2);
  EXPECT_EQ(Read(ino, at + 5, 100), g.substr(at + 5, 100));  // cached
  EXPECT_EQ(decodes_.load(), 2);
  EXPECT_EQ(ReadAll(ino), g);
  EXPECT_EQ(decodes_.load(), static_cast<int>(parts)) << "a part was decoded twice";
  // A write into group 2's second part: the group goes back to the fast tier.
  Reopen();
  const uint64_t w = 2 * (64 << 10) + (50 << 10);
  const std::string patch(37, 'N');
  ASSERT_TRUE(fs_->Open(ino, O_WRONLY).ok());
  auto wr = fs_->Write(ino, w, patch.data(), patch.size());
  ASSERT_TRUE(wr.ok()) << wr.status().ToString();
  ASSERT_TRUE(fs_->Release(ino, O_WRONLY).ok());
  g.replace(w, patch.size(), patch);
  EXPECT_EQ(ReadAll(ino), g);
  ASSERT_TRUE(SplitPass(32 << 10).ok());
  Reopen();
  EXPECT_EQ(ReadAll(ino), g);
}

}  // namespace
}  // namespace pmklc

namespace pmklc {
namespace {

// Read-ahead within the cache (issue #19 item 2): with room for 8 groups
// in the cache and read_threads=16, a sequential reader keeps at most 4
// groups decoding ahead and two readers at once 2 each, so nothing decoded
// ahead is evicted before it is read: every group is decoded once, also
// with two files read at the same time.
class ArchiverAheadBudgetTest : public ArchiverTest {
 protected:
  FsOptions FsOpts() const override {
    FsOptions fo = ArchiverTest::FsOpts();
    fo.read_threads = 16;
    fo.cache_bytes = 8 * (64 << 10);
    auto* self = const_cast<ArchiverAheadBudgetTest*>(this);
    fo.hooks.before_group_decode = [self](uint64_t ino, uint64_t g) {
      std::lock_guard<std::mutex> l(self->mu_);
      self->decodes_[{ino, g}]++;
    };
    return fo;
  }
  // Reads like cat: 32 KiB at a time, in order.
  std::string Scan(uint64_t ino, size_t size) {
    std::string out(size, '\0');
    for (size_t off = 0; off < size;) {
      auto r = fs_->Read(ino, off, std::min<size_t>(32 << 10, size - off), out.data() + off);
      if (!r.ok() || *r == 0) {
        ADD_FAILURE() << (r.ok() ? "short read" : r.status().ToString());
        break;
      }
      off += *r;
    }
    return out;
  }
  std::mutex mu_;
  std::map<std::pair<uint64_t, uint64_t>, int> decodes_;
};

TEST_F(ArchiverAheadBudgetTest, GroupsReadAheadStayInTheCacheUntilRead) {
  const std::string a = Genome(1200000, 21), b = Genome(1200000, 22);  // ~20 groups each
  const uint64_t ia = WriteNew("a.fa", a), ib = WriteNew("b.fa", b);
  ASSERT_EQ(Pass(fs_->archive_host()), 0u);
  Reopen();
  EXPECT_EQ(Scan(ia, a.size()), a);
  {
    std::lock_guard<std::mutex> l(mu_);
    EXPECT_EQ(decodes_.size(), Groups(ia));
    for (auto& [k, n] : decodes_) EXPECT_EQ(n, 1) << "group " << k.second << " decoded " << n << " times";
    decodes_.clear();
  }
  Reopen();
  std::string ra, rb;
  std::thread t([&] { ra = Scan(ia, a.size()); });
  rb = Scan(ib, b.size());
  t.join();
  EXPECT_EQ(ra, a);
  EXPECT_EQ(rb, b);
  std::lock_guard<std::mutex> l(mu_);
  EXPECT_EQ(decodes_.size(), Groups(ia) + Groups(ib));
  for (auto& [k, n] : decodes_) EXPECT_EQ(n, 1) << "inode " << k.first << " group " << k.second << " decoded " << n << " times";
}

}  // namespace
}  // namespace pmklc
