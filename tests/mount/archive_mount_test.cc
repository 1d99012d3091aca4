// The archiver in a real mount (issue #4): genomes copied in are recoded in
// the background (or at `pmklc archive --wait`), keep reading back
// byte-exact, come within 2% of `pmklc compress -p max`, survive kill -9 of
// the daemon in the middle of archiving, and stay writable.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <sstream>
#include <thread>

#include "engine/codec/codec.h"
#include "engine/format.h"
#include "store/store.h"
#include "tests/mount/mount_fixture.h"
#include "tests/mount/slurm_cluster.h"

namespace pmklc::mt {
namespace {

namespace fs = std::filesystem;

class ArchiveMountTest : public MountTest {
 protected:
  std::vector<std::string> ExtraMountOptions() const override { return opts_; }
  std::string StatJson() {
    std::string json;
    EXPECT_EQ(Sh(PmklcBin() + " stat --json " + store_dir(), &json), 0) << json;
    return json;
  }
  // Remounts with archive_profile=neural and puts the first `bytes` of
  // ecoli_536, piped through `filter` (e.g. "cat"), in T("e.fa") and
  // M("e.fa"). False if the corpus is missing (the test is then skipped) or a
  // step failed (reported).
  bool NeuralMountWithEcoli(size_t bytes, const std::string& filter, std::vector<CorpusFile>* corpus) {
    opts_ = {"archive_delay=3600", "archive_profile=neural"};
    if (!Remount()) {
      ADD_FAILURE() << "remount with archive_profile=neural failed";
      return false;
    }
    if (!RequireCorpus(corpus)) return false;
    const CorpusFile* e = FindCorpus(*corpus, "ecoli_536");
    if (!e) {
      ADD_FAILURE() << "no ecoli_536 in the corpus";
      return false;
    }
    const int rc = Sh("head -c " + std::to_string(bytes) + " " + e->path + " | " + filter + " > " + T("e.fa") +
                      " && cp " + T("e.fa") + " " + M("e.fa"));
    EXPECT_EQ(rc, 0);
    return rc == 0;
  }
  // Remounts archiving with balanced, puts the first `bytes` of ecoli_536
  // (0: all of it) in T("e.fa") and M("e.fa") and archives it. False if the
  // corpus is missing (the test is then skipped) or a step failed.
  bool ArchivedEcoli(size_t bytes) {
    std::vector<CorpusFile> corpus;
    if (!RequireCorpus(&corpus)) return false;
    const CorpusFile* e = FindCorpus(corpus, "ecoli_536");
    if (!e) {
      ADD_FAILURE() << "no ecoli_536 in the corpus";
      return false;
    }
    opts_ = {"archive_delay=3600", "archive_profile=balanced"};
    if (!Remount()) return false;
    const std::string head = bytes ? "head -c " + std::to_string(bytes) + " " : "cat ";
    std::string out;
    if (Sh(head + e->path + " > " + T("e.fa") + " && cp " + T("e.fa") + " " + M("e.fa")) != 0 ||
        Sh(PmklcBin() + " archive --wait " + store_dir(), &out) != 0) {
      ADD_FAILURE() << "copy or archive failed: " << out;
      return false;
    }
    return true;
  }
  // For the distributed-archiving tests: remounts archiving with balanced,
  // copies the named corpus genomes into the mount (and T() for
  // comparison; *names gets "NAME.fa"), unmounts, and archives a copy of
  // the store at `copy` locally (balanced; references: related files coded
  // against each other, as a distributed pass's rounds do): the group
  // values a distributed pass must match. The store is left unmounted.
  // False if the corpus is missing (skipped) or a step failed (reported).
  bool CopyInAndArchiveACopyLocally(std::initializer_list<const char*> genomes, const std::string& copy,
                                    std::vector<std::string>* names, bool references = false) {
    std::vector<CorpusFile> corpus;
    if (!RequireCorpus(&corpus)) return false;
    opts_ = {"archive_delay=3600", "archive_profile=balanced"};
    if (!Remount()) return false;
    for (const char* name : genomes) {
      const CorpusFile* f = FindCorpus(corpus, name);
      if (!f) {
        ADD_FAILURE() << "no " << name << " in the corpus";
        return false;
      }
      if (Sh("cp " + f->path + " " + M(f->name + ".fa") + " && cp " + f->path + " " + T(f->name + ".fa")) != 0) {
        ADD_FAILURE() << "copying " << name << " in failed";
        return false;
      }
      names->push_back(f->name + ".fa");
    }
    if (!Unmount()) return false;
    std::string out;
    if (Sh("cp -a " + store_dir() + " " + copy) != 0 ||
        Sh(PmklcBin() + " archive -p balanced --references " + (references ? "on " : "off ") + copy + " 2>&1",
           &out) != 0) {
      ADD_FAILURE() << "the local pass over a copy failed: " << out;
      return false;
    }
    return true;
  }
  std::vector<std::string> opts_{"archive_delay=3600", "archive_threads=2"};
};

TEST_F(ArchiveMountTest, ArchiveWaitRecodesWithin2PercentOfCompressMaxAndReadsBack) {
  std::vector<CorpusFile> corpus;
  if (!RequireCorpus(&corpus)) return;
  std::vector<const CorpusFile*> files;
  for (const char* name : {"ecoli_536", "kpn_hs11286", "lambda"}) {
    const CorpusFile* f = FindCorpus(corpus, name);
    ASSERT_NE(f, nullptr) << name;
    files.push_back(f);
    ASSERT_EQ(Sh("cp " + f->path + " " + M(f->name + ".fa")), 0);
  }
  ASSERT_EQ(Sh("head -c 1000000 /dev/urandom > " + T("rand.bin") + " && cp " + T("rand.bin") + " " + M("rand.bin")), 0);
  ASSERT_EQ(Sh("sync"), 0);
  std::string before = StatJson();
  EXPECT_GT(JsonField(before, "pending_raw_bytes"), 0u) << before;

  std::string out;
  ASSERT_EQ(Sh(PmklcBin() + " archive --wait " + store_dir(), &out), 0) << out;
  EXPECT_NE(out.find("ok done"), std::string::npos) << out;
  std::string after = StatJson();
  EXPECT_EQ(JsonField(after, "raw_bytes", "fast"), 0u) << after;
  EXPECT_EQ(JsonField(after, "pending_raw_bytes"), 0u) << after;
  EXPECT_GT(JsonField(after, "groups", "archiver"), 0u) << after;

  // Reads while mounted (cache), and after a remount (groups decoded).
  for (const CorpusFile* f : files) EXPECT_EQ(Md5OfFile(M(f->name + ".fa")), Md5OfFile(f->path)) << f->name;
  ASSERT_TRUE(Remount());
  for (const CorpusFile* f : files) EXPECT_EQ(Md5OfFile(M(f->name + ".fa")), Md5OfFile(f->path)) << f->name;
  EXPECT_EQ(Md5OfFile(M("rand.bin")), Md5OfFile(T("rand.bin")));

  // Stored bytes of the genomes vs. the standalone max profile.
  uint64_t container = 0;
  for (const CorpusFile* f : files) {
    std::string c = T(f->name + ".pmklc");
    ASSERT_EQ(Sh(PmklcBin() + " compress -p max -f -o " + c + " " + f->path), 0);
    struct stat st;
    ASSERT_EQ(stat(c.c_str(), &st), 0);
    container += static_cast<uint64_t>(st.st_size);
  }
  std::string json = StatJson();
  const uint64_t archived = JsonField(json, "stored_bytes", "archived");
  const uint64_t rand_bytes = 1000000 + 16;  // the random file is stored raw
  ASSERT_GT(archived, rand_bytes);
  EXPECT_LE(static_cast<double>(archived - rand_bytes), 1.02 * static_cast<double>(container))
      << "archived " << archived - rand_bytes << " vs compress -p max " << container << "\n" << json;
  // du shows what an archived genome costs (st_blocks = its stored bytes,
  // as `stat --files` counts them), and --apparent-size its size.
  std::string files_out;
  ASSERT_EQ(Sh(PmklcBin() + " stat --files " + store_dir(), &files_out), 0) << files_out;
  for (const CorpusFile* f : files) {
    struct stat st;
    ASSERT_EQ(stat(M(f->name + ".fa").c_str(), &st), 0);
    const uint64_t du = static_cast<uint64_t>(st.st_blocks) * 512;
    EXPECT_LT(du * 3, static_cast<uint64_t>(st.st_size)) << f->name << ": du " << du << " of " << st.st_size;
    std::istringstream rows(files_out);
    uint64_t stored = 0;
    for (std::string row; std::getline(rows, row);)
      if (row.size() > f->name.size() + 3 && row.compare(row.size() - f->name.size() - 3, std::string::npos,
                                                         f->name + ".fa") == 0)
        stored = std::stoull(row.substr(0, row.find('\t')));
    // (stat --files adds the reference segments a file links to; du does not)
    EXPECT_GT(du * 10, static_cast<uint64_t>(st.st_size)) << f->name << ": du " << du;
    EXPECT_LT(du, stored + 512) << f->name << ": du " << du << ", stored " << stored;
  }

  // An archived file stays writable: same pwrite on a native copy.
  ASSERT_EQ(Sh("cp " + files[0]->path + " " + N("e.fa")), 0);
  for (const std::string& p : {M("ecoli_536.fa"), N("e.fa")}) {
    int fd = open(p.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0) << p;
    ASSERT_EQ(PwriteAll(fd, "acgtNNNN", 8, 3000000), 8);
    ASSERT_EQ(PwriteAll(fd, ">x\n", 3, 4500000), 3);
    ASSERT_EQ(ftruncate(fd, 4700001), 0);
    close(fd);
  }
  CheckAcrossRemount([&](const char* when) {
    EXPECT_EQ(Md5OfFile(M("ecoli_536.fa")), Md5OfFile(N("e.fa"))) << when;
    EXPECT_EQ(Md5OfFile(M("kpn_hs11286.fa")), Md5OfFile(files[1]->path)) << when;
  });
}

// The recall tier (issue #19): an archived group read after a remount is
// kept recoded with the fast codec, so the next remount reads it from
// there; a corrupt entry is never served (dropped, decoded again); a write
// to the file drops its entries in the same batch; recall_size=0 is off.
TEST_F(ArchiveMountTest, RecallTierServesGroupsReadAgainAndNeverACorruptOne) {
  if (!ArchivedEcoli(700000)) return;
  std::string out;
  const std::string md5 = Md5OfFile(T("e.fa"));
  auto recall = [&](const char* key) { return JsonField(StatJson(), key, "recall"); };
  // After a remount: a model decode (a miss), which writes the entry.
  ASSERT_TRUE(Remount());
  EXPECT_EQ(recall("entries"), 0u);
  EXPECT_EQ(Md5OfFile(M("e.fa")), md5);
  const uint64_t blocks = recall("entries");  // one a block of the group
  EXPECT_GE(blocks, 5u) << StatJson();
  EXPECT_EQ(recall("written"), blocks);
  EXPECT_GE(recall("misses"), 1u);
  // After the next remount: served from the recall tier.
  ASSERT_TRUE(Remount());
  EXPECT_EQ(Md5OfFile(M("e.fa")), md5);
  EXPECT_GE(recall("hits"), 1u) << StatJson();
  EXPECT_EQ(recall("written"), 0u);
  ASSERT_TRUE(Unmount());
  // A corrupt entry: a flipped byte in the middle of its coded bytes.
  uint64_t ino = 0, group = 0;
  {
    auto st = Store::Open(store_dir(), StoreOptions{});
    ASSERT_TRUE(st.ok()) << st.status().ToString();
    std::string v;
    ASSERT_TRUE((*st)->ForEachRecall([&](uint64_t i, uint64_t g, std::string_view value) {
      ino = i, group = g, v = std::string(value);
      return false;
    }).ok());
    ASSERT_FALSE(v.empty());
    v[v.size() / 2] ^= 0x20;
    Store::Batch b;
    b.PutRecall(ino, group, v);
    ASSERT_TRUE((*st)->Write(b, true).ok());
  }
  // fsck checks it: a damaged cache entry is a note (it is never served).
  ASSERT_EQ(Fsck(&out), 0) << out;
  EXPECT_NE(out.find(std::to_string(blocks) + " recall entries (1 damaged, 0 stale)"), std::string::npos) << out;
  ASSERT_TRUE(Mount());
  EXPECT_EQ(Md5OfFile(M("e.fa")), md5);
  EXPECT_EQ(recall("dropped"), 1u) << StatJson();
  EXPECT_EQ(recall("written"), blocks) << "decoded again and kept again";
  EXPECT_EQ(recall("entries"), blocks);
  ASSERT_EQ(Fsck(&out), 0) << out;
  // A write to the file: its group goes back to the fast tier and its entry
  // goes with it, in the same batch.
  ASSERT_EQ(Sh("printf '>x\\nACGT\\n' >> " + M("e.fa") + " && printf '>x\\nACGT\\n' >> " + T("e.fa") + " && sync"), 0);
  ASSERT_TRUE(Unmount());
  {
    auto st = Store::Open(store_dir(), StoreOptions{});
    ASSERT_TRUE(st.ok());
    size_t n = 0;
    ASSERT_TRUE((*st)->ForEachRecall([&](uint64_t i, uint64_t, std::string_view) {
      n += i == ino;
      return true;
    }).ok());
    EXPECT_EQ(n, 0u) << "a written file kept its recall entry";
  }
  // Off: nothing is written.
  opts_ = {"archive_delay=3600", "archive_profile=balanced", "recall_size=0"};
  ASSERT_TRUE(Mount());
  ASSERT_EQ(Sh(PmklcBin() + " archive --wait " + store_dir(), &out), 0) << out;
  ASSERT_TRUE(Remount());
  EXPECT_EQ(Md5OfFile(M("e.fa")), Md5OfFile(T("e.fa")));
  EXPECT_EQ(recall("entries"), 0u) << StatJson();
  EXPECT_NE(StatJson().find("\"on\":false"), std::string::npos);
}

// kill -9 of the daemon while it writes recall entries loses nothing:
// fsck is clean, the data reads back, and reads go on through the tier.
TEST_F(ArchiveMountTest, KillWhileRecallEntriesAreWrittenLosesNothing) {
  if (!ArchivedEcoli(0)) return;
  std::string out;
  ASSERT_TRUE(Remount());
  // Reads in the background; the daemon dies while they decode groups and
  // write their blocks' entries.
  ASSERT_EQ(Sh("( cat " + M("e.fa") + " > /dev/null 2>&1 & ) ; sleep 0.3"), 0);
  KillDaemon();
  ASSERT_EQ(Fsck(&out), 0) << out;
  ASSERT_TRUE(Mount());
  EXPECT_EQ(Md5OfFile(M("e.fa")), Md5OfFile(T("e.fa")));
  ASSERT_TRUE(Remount());
  EXPECT_EQ(Md5OfFile(M("e.fa")), Md5OfFile(T("e.fa")));
  std::string json;
  ASSERT_EQ(Sh(PmklcBin() + " stat --json " + store_dir(), &json), 0);
  EXPECT_GT(JsonField(json, "hits", "recall"), 0u) << json;
  EXPECT_EQ(JsonField(json, "dropped", "recall"), 0u) << json;
}

// Region reads (issue #19 item 3): with archive_split=, a group is coded as
// parts that decode alone, and an uncached read of 4 KiB decodes only the
// part that holds it (the recall tier, which keeps what was decoded, shows
// it: one part's blocks). A damaged part fails with EIO and never yields
// wrong bytes; the other parts still read; fsck finds it.
TEST_F(ArchiveMountTest, SplitGroupsDecodeOnlyThePartARegionReadNeeds) {
  std::vector<CorpusFile> corpus;
  if (!RequireCorpus(&corpus)) return;
  const CorpusFile* e = FindCorpus(corpus, "ecoli_536");
  ASSERT_NE(e, nullptr);
  opts_ = {"archive_delay=3600", "archive_profile=balanced", "archive_split=1M"};
  ASSERT_TRUE(Remount());
  std::string out;
  ASSERT_EQ(Sh("cp " + e->path + " " + T("e.fa") + " && cp " + e->path + " " + M("e.fa")), 0);
  ASSERT_EQ(Sh(PmklcBin() + " archive --wait " + store_dir(), &out), 0) << out;
  EXPECT_NE(StatJson().find("\"split\""), std::string::npos) << StatJson();
  auto recall = [&](const char* key) { return JsonField(StatJson(), key, "recall"); };
  auto dd = [&](const std::string& f, uint64_t off, std::string* got) {
    return Sh("dd if=" + f + " bs=4096 skip=" + std::to_string(off / 4096) + " count=1 status=none", got);
  };
  ASSERT_TRUE(Remount());
  std::string got, want;
  const uint64_t off = (2u << 20) + (300u << 10);  // in the third 1 MiB part of group 0
  ASSERT_EQ(dd(M("e.fa"), off, &got), 0);
  ASSERT_EQ(dd(T("e.fa"), off, &want), 0);
  EXPECT_EQ(got, want);
  EXPECT_EQ(recall("written"), 8u) << "not one part's 8 blocks were decoded: " << StatJson();
  EXPECT_EQ(Md5OfFile(M("e.fa")), Md5OfFile(T("e.fa")));
  const uint64_t blocks = recall("entries");
  EXPECT_EQ(blocks, (fs::file_size(e->path) + (128u << 10) - 1) / (128u << 10)) << StatJson();
  ASSERT_TRUE(Unmount());
  ASSERT_EQ(Fsck(&out), 0) << out;
  // Damage the last part of group 0 (a byte in the middle of its payload).
  {
    auto st = Store::Open(store_dir(), StoreOptions{});
    ASSERT_TRUE(st.ok()) << st.status().ToString();
    auto a = (*st)->Lookup(format::kRootIno, "e.fa");
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    std::string v;
    ASSERT_TRUE((*st)->GetGroup(a->ino, 0, &v).ok());
    std::vector<BlockPart> parts;
    ASSERT_TRUE(BlockParts(v, &parts).ok());
    ASSERT_EQ(parts.size(), 4u);
    const size_t at = static_cast<size_t>(parts[3].value.data() - v.data()) + parts[3].value.size() / 2;
    v[at] ^= 0x20;
    Store::Batch b;
    b.PutGroup(a->ino, 0, v);  // (drops the group's recall entries, as every group write)
    ASSERT_TRUE((*st)->Write(b, true).ok());
  }
  EXPECT_NE(Fsck(&out), 0) << out;
  opts_.push_back("recall_size=0");
  ASSERT_TRUE(Mount());
  ASSERT_EQ(dd(M("e.fa"), 4096, &got), 0);  // part 0: fine
  ASSERT_EQ(dd(T("e.fa"), 4096, &want), 0);
  EXPECT_EQ(got, want);
  EXPECT_NE(Sh("dd if=" + M("e.fa") + " of=/dev/null bs=4096 skip=" + std::to_string((3u << 20) / 4096 + 5) +
                " count=1 status=none 2>&1", &out), 0) << "a damaged part was read";
  EXPECT_NE(out.find("Input/output error"), std::string::npos) << out;
  EXPECT_NE(Sh("md5sum " + M("e.fa") + " > /dev/null 2>&1"), 0);
}

// Every archived group value of the store in dir (unmounted), by inode and group.
std::map<std::pair<uint64_t, uint64_t>, std::string> GroupsOf(const std::string& dir) {
  std::map<std::pair<uint64_t, uint64_t>, std::string> g;
  StoreOptions so;
  so.create_if_missing = false;
  auto st = Store::Open(dir, so);
  EXPECT_TRUE(st.ok()) << st.status().ToString();
  if (!st.ok()) return g;
  for (uint64_t ino = 1; ino < 64; ++ino)
    EXPECT_TRUE((*st)->ForEachGroupOf(ino, [&](uint64_t i, std::string_view v) {
      g[{ino, i}] = std::string(v);
      return true;
    }).ok());
  return g;
}

// Distributed archiving (issue #20): a mounted store exports its pending
// groups through its daemon, 4 workers code the shards as separate
// processes (one killed with -9 and run again), the daemon ingests the
// results: the store then holds exactly the group values of a local pass
// over a copy of it, every file reads back, and fsck is clean.
TEST_F(ArchiveMountTest, ExportWorkIngestThroughTheDaemonMatchesALocalPass) {
  std::vector<std::string> names;
  const std::string copy = T("local-store");
  if (!CopyInAndArchiveACopyLocally({"ecoli_536", "lambda", "mlep_tn"}, copy, &names)) return;
  std::string out;
  ASSERT_TRUE(Mount());
  const std::string job = T("job");
  ASSERT_EQ(Sh(PmklcBin() + " archive " + store_dir() + " -p balanced --export " + job + " --shards 4 2>&1", &out), 0)
      << out;
  EXPECT_NE(out.find("exported"), std::string::npos) << out;
  // Shard 0's worker is killed, then run again; the others run side by side.
  ASSERT_EQ(Sh("( " + PmklcBin() + " archive --work " + job + " --shard 0/4 >/dev/null 2>&1 & echo $! > " +
               T("w0.pid") + " ); sleep 0.3; kill -9 $(cat " + T("w0.pid") + ") 2>/dev/null; true"), 0);
  ASSERT_EQ(Sh("for i in 0 1 2 3; do " + PmklcBin() + " archive --work " + job + " --shard $i/4 & done; wait 2>&1",
               &out), 0) << out;
  ASSERT_EQ(Sh(PmklcBin() + " archive --work " + job + " --shard 2/4 2>&1", &out), 0) << out;
  EXPECT_NE(out.find("already done"), std::string::npos) << out;
  ASSERT_EQ(Sh(PmklcBin() + " archive " + store_dir() + " --ingest " + job + " 2>&1", &out), 0) << out;
  EXPECT_NE(out.find("3 file(s) done"), std::string::npos) << out;
  for (const std::string& n : names) EXPECT_EQ(Md5OfFile(M(n)), Md5OfFile(T(n))) << n;
  const std::string json = StatJson();
  EXPECT_EQ(JsonField(json, "blocks", "fast"), 0u) << json;
  EXPECT_EQ(JsonField(json, "pending_raw_bytes"), 0u) << json;
  ASSERT_TRUE(Unmount());
  ASSERT_EQ(Fsck(&out), 0) << out;
  // The same group values as the local pass.
  const auto local = GroupsOf(copy), distributed = GroupsOf(store_dir());
  EXPECT_GE(local.size(), 3u);
  EXPECT_TRUE(local == distributed) << local.size() << " local groups, " << distributed.size() << " ingested";
  ASSERT_TRUE(Mount());
}

// Every reference object record and segment of the store in dir (unmounted).
std::map<std::string, std::string> RefObjectsOf(const std::string& dir) {
  std::map<std::string, std::string> r;
  StoreOptions so;
  so.create_if_missing = false;
  so.read_only = true;
  auto st = Store::Open(dir, so);
  EXPECT_TRUE(st.ok()) << st.status().ToString();
  if (!st.ok()) return r;
  EXPECT_TRUE((*st)->ForEachRefObject([&](uint64_t id, std::string_view rec) {
    r["o" + std::to_string(id)] = std::string(rec);
    return true;
  }).ok());
  EXPECT_TRUE((*st)->ForEachRefSegment([&](uint64_t id, uint32_t seg, std::string_view v) {
    r["s" + std::to_string(id) + "/" + std::to_string(seg)] = std::string(v);
    return true;
  }).ok());
  EXPECT_TRUE((*st)->ForEachHold([&](uint8_t kind, uint64_t holder, uint64_t object) {
    r["h" + std::to_string(kind) + "/" + std::to_string(holder) + "/" + std::to_string(object)] = "";
    return true;
  }).ok());
  EXPECT_TRUE((*st)->ForEachSketch([&](uint64_t ino, std::string_view rec) {
    r["k" + std::to_string(ino)] = std::string(rec);
    return true;
  }).ok());
  return r;
}

// Reference coding through work units (issue #20 item 1 with issue #6): a
// K. pneumoniae strain archived already, three more strains and E. coli
// pending. Each export plans references against what the store holds (as
// the local archiver does) and leaves the strains related to one it
// exports for the next round; after the rounds, the store holds exactly
// the group values, reference objects, holds and sketches of a local pass
// with references over a copy, every file reads back and fsck is clean.
TEST_F(ArchiveMountTest, ReferencesThroughWorkUnitsInRoundsMatchALocalPass) {
  std::vector<CorpusFile> corpus;
  if (!RequireCorpus(&corpus)) return;
  opts_ = {"archive_delay=3600", "archive_profile=balanced"};
  ASSERT_TRUE(Remount());
  auto put = [&](const char* name) {
    const CorpusFile* f = FindCorpus(corpus, name);
    ASSERT_NE(f, nullptr) << name;
    ASSERT_EQ(Sh("cp " + f->path + " " + M(f->name + ".fa") + " && cp " + f->path + " " + T(f->name + ".fa")), 0);
  };
  put("kpn_hs11286");
  std::string out;
  ASSERT_EQ(Sh(PmklcBin() + " archive --wait " + store_dir() + " 2>&1", &out), 0) << out;
  const std::vector<std::string> names = {"kpn_hs11286", "kpn_kp1084", "kpn_mgh78578", "kpn_ntuh_k2044", "ecoli_536"};
  for (size_t i = 1; i < names.size(); ++i) put(names[i].c_str());
  ASSERT_TRUE(Unmount());
  const std::string copy = T("local-store");
  ASSERT_EQ(Sh("cp -a " + store_dir() + " " + copy), 0);
  ASSERT_EQ(Sh(PmklcBin() + " archive -p balanced " + copy + " 2>&1", &out), 0) << out;
  int rounds = 0, with_refs = 0;
  for (; rounds < 6; ++rounds) {
    const std::string job = T("job" + std::to_string(rounds));
    out.clear();
    ASSERT_EQ(Sh(PmklcBin() + " archive " + store_dir() + " -p balanced --export " + job + " --shards 2 2>&1", &out),
              0) << out;
    if (out.find("exported 0 group(s)") != std::string::npos) break;
    if (out.find("coded against") != std::string::npos) ++with_refs;
    ASSERT_EQ(Sh("for i in 0 1; do " + PmklcBin() + " archive --work " + job + " --shard $i/2 & done; wait 2>&1",
                 &out), 0) << out;
    out.clear();
    ASSERT_EQ(Sh(PmklcBin() + " archive " + store_dir() + " --ingest " + job + " 2>&1", &out), 0) << out;
    EXPECT_EQ(out.find("stale"), std::string::npos) << out;
  }
  EXPECT_GE(rounds, 2) << "related strains were not left for a later round";
  EXPECT_LE(rounds, 4);
  EXPECT_GE(with_refs, 2) << "no export coded against references";
  ASSERT_EQ(Fsck(&out), 0) << out;
  const auto local = GroupsOf(copy), distributed = GroupsOf(store_dir());
  EXPECT_GE(local.size(), 8u);
  EXPECT_TRUE(local == distributed) << local.size() << " local groups, " << distributed.size() << " distributed";
  EXPECT_TRUE(RefObjectsOf(copy) == RefObjectsOf(store_dir())) << "reference objects, holds or sketches differ";
  ASSERT_TRUE(Mount());
  for (const std::string& n : names) EXPECT_EQ(Md5OfFile(M(n + ".fa")), Md5OfFile(T(n + ".fa"))) << n;
  EXPECT_EQ(JsonField(StatJson(), "pending_raw_bytes"), 0u) << StatJson();
}

// kill -9 of `pmklc archive --ingest` at many points, in both of its ways
// of swapping groups in (SST files ingested at once, and one WriteBatch a
// group): the store never needs repair (fsck clean after every kill), and
// ingesting again ends with exactly the group values of a local pass.
TEST_F(ArchiveMountTest, KillDuringIngestLosesNothing) {
  std::vector<std::string> names;
  const std::string copy = T("local-store");
  if (!CopyInAndArchiveACopyLocally({"ecoli_536", "lambda", "mlep_tn", "kpn_hs11286", "kpn_kp1084"}, copy, &names))
    return;
  std::string out;
  const std::string job = T("job");
  ASSERT_EQ(Sh(PmklcBin() + " archive " + store_dir() + " -p balanced --references off --export " + job +
                   " --shards 4 2>&1",
               &out), 0)
      << out;
  ASSERT_EQ(Sh("for i in 0 1 2 3; do " + PmklcBin() + " archive --work " + job + " --shard $i/4 & done; wait 2>&1",
               &out), 0) << out;
  // Each try starts from the store as exported, kills one ingest after a
  // delay spread over a whole ingest's time, checks the store, then
  // ingests again to the end.
  const std::string before = T("before-ingest");
  ASSERT_EQ(Sh("cp -a " + store_dir() + " " + before), 0);
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(Sh(PmklcBin() + " archive " + store_dir() + " --ingest " + job + " --ingest-as batches >/dev/null 2>&1"), 0);
  const double whole_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  const auto local = GroupsOf(copy);
  EXPECT_GE(local.size(), 5u);
  int partial = 0;  // tries whose ingest after the kill found some groups in already, some not
  for (int k = 0; k < 12; ++k) {
    const char* how = k % 2 ? "batches" : "files";
    const double delay_s = whole_ms * (0.15 + 0.08 * k) / 1000.0;
    ASSERT_EQ(Sh("rm -rf " + store_dir() + " && cp -a " + before + " " + store_dir()), 0);
    Sh("( " + PmklcBin() + " archive " + store_dir() + " --ingest " + job + " --ingest-as " + how +
       " >/dev/null 2>&1 & echo $! > " + T("ing.pid") + " ); sleep " + std::to_string(delay_s) +
       "; kill -9 $(cat " + T("ing.pid") + ") 2>/dev/null; sleep 0.2; true");
    out.clear();
    ASSERT_EQ(Fsck(&out), 0) << "after kill -9 of an ingest (" << how << ", " << delay_s << " s):\n" << out;
    out.clear();
    ASSERT_EQ(Sh(PmklcBin() + " archive " + store_dir() + " --ingest " + job + " --ingest-as " + how + " 2>&1", &out),
              0) << out;
    if (out.find("in already") != std::string::npos && out.find("ingested 0 group") == std::string::npos) ++partial;
    out.clear();
    ASSERT_EQ(Fsck(&out), 0) << out;
    EXPECT_TRUE(GroupsOf(store_dir()) == local) << how << ", killed after " << delay_s << " s";
  }
  RecordProperty("tries_killed_mid_ingest", partial);
  RecordProperty("whole_ingest_ms", static_cast<int>(whole_ms));
  ASSERT_TRUE(Mount());
  for (const std::string& n : names) EXPECT_EQ(Md5OfFile(M(n)), Md5OfFile(T(n))) << n;
  EXPECT_EQ(JsonField(StatJson(), "pending_raw_bytes"), 0u) << StatJson();
}

// `pmklc archive --slurm` on a real one-node Slurm cluster (munged,
// slurmctld and slurmd started here): the export of a mounted store, a job
// array of 4 workers and the ingest job after them give exactly the group
// values of a local pass over a copy; every file reads back; fsck is clean.
TEST_F(ArchiveMountTest, SlurmJobArrayArchivesLikeALocalPass) {
  SlurmCluster cluster(T("slurm"));
  const std::string why = cluster.Start();
  if (!why.empty()) GTEST_SKIP() << "no one-node Slurm cluster here: " << why;
  // Two related strains: the export leaves one for a second round, which
  // the ingest job exports and submits itself.
  std::vector<std::string> names;
  const std::string copy = T("local-store");
  if (!CopyInAndArchiveACopyLocally({"ecoli_536", "lambda", "kpn_hs11286", "kpn_kp1084"}, copy, &names,
                                    /*references=*/true))
    return;
  std::string out;
  ASSERT_TRUE(Mount());
  const std::string job = T("job");
  ASSERT_EQ(Sh(cluster.Env() + PmklcBin() + " archive " + store_dir() + " -p balanced --export " + job +
                   " --shards 4 --slurm --time 10:00 2>&1",
               &out), 0) << out;
  EXPECT_NE(out.find("submitted: workers job"), std::string::npos) << out;
  EXPECT_NE(out.find("left for the next export"), std::string::npos) << out;
  ASSERT_TRUE(cluster.WaitIdle(600)) << "the jobs did not finish";
  std::string log;
  ASSERT_EQ(Sh("cat " + job + "/slurm/ingest.log " + job + "/slurm/work-*.log " + job + "/next/slurm/ingest.log " +
                   job + "/next/slurm/work-*.log 2>&1",
               &log), 0) << log;
  EXPECT_NE(log.find("3 file(s) done"), std::string::npos) << log;  // the first round
  EXPECT_NE(log.find("1 file(s) done"), std::string::npos) << log;  // the second
  for (const std::string& n : names) EXPECT_EQ(Md5OfFile(M(n)), Md5OfFile(T(n))) << n;
  EXPECT_EQ(JsonField(StatJson(), "blocks", "fast"), 0u) << StatJson();
  ASSERT_TRUE(Unmount());
  ASSERT_EQ(Fsck(&out), 0) << out;
  const auto local = GroupsOf(copy), distributed = GroupsOf(store_dir());
  EXPECT_GE(local.size(), 4u);
  EXPECT_TRUE(local == distributed) << local.size() << " local groups, " << distributed.size() << " from Slurm";
  EXPECT_TRUE(RefObjectsOf(copy) == RefObjectsOf(store_dir())) << "reference objects, holds or sketches differ";
  // --print writes the scripts and submits nothing.
  out.clear();
  ASSERT_EQ(Sh(cluster.Env() + PmklcBin() + " archive " + store_dir() + " --export " + T("job2") +
                   " --shards 2 --slurm --print --partition debug 2>&1",
               &out), 0) << out;
  EXPECT_NE(out.find("#SBATCH --array=0-1"), std::string::npos) << out;
  EXPECT_NE(out.find("#SBATCH --partition=debug"), std::string::npos) << out;
  out.clear();  // (Sh appends)
  ASSERT_EQ(Sh(cluster.Env() + "squeue -h 2>&1", &out), 0);
  EXPECT_EQ(out.find_first_not_of(" \n"), std::string::npos) << "--print submitted something: " << out;
  ASSERT_TRUE(Mount());
}

TEST_F(ArchiveMountTest, NeuralArchiveProfileRecodesAndReadsBack) {
  // A genome cut from ecoli (300 kB, with its header and lowercase g) and lambda.
  std::vector<CorpusFile> corpus;
  if (!NeuralMountWithEcoli(300000, "tr G g", &corpus)) return;
  const CorpusFile* f = FindCorpus(corpus, "lambda");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(Sh("cp " + f->path + " " + M("l.fa")), 0);
  std::string out;
  ASSERT_EQ(Sh(PmklcBin() + " archive --wait " + store_dir(), &out), 0) << out;
  std::string after = StatJson();
  EXPECT_EQ(JsonField(after, "raw_bytes", "fast"), 0u) << after;
  EXPECT_NE(after.find("fasta-neural"), std::string::npos) << after;
  EXPECT_EQ(Md5OfFile(M("l.fa")), Md5OfFile(f->path));
  EXPECT_EQ(Md5OfFile(M("e.fa")), Md5OfFile(T("e.fa")));
  ASSERT_TRUE(Remount());
  EXPECT_EQ(Md5OfFile(M("l.fa")), Md5OfFile(f->path));
  EXPECT_EQ(Md5OfFile(M("e.fa")), Md5OfFile(T("e.fa")));
}

TEST_F(ArchiveMountTest, TrainPrivateInstallsAModelTheStoreKeeps) {
  if (!fs::exists(fs::path(PmklcBin()).parent_path() / "pmklc-train")) GTEST_SKIP() << "no pmklc-train (libtorch-dev)";
  std::vector<CorpusFile> corpus;
  if (!NeuralMountWithEcoli(400000, "cat", &corpus)) return;
  ASSERT_EQ(Sh("sync"), 0);
  std::string out;
  // Mounted: trained on what the store holds, installed through the daemon.
  ASSERT_EQ(Sh(PmklcBin() + " train private " + store_dir() + " --examples 60000 --epochs 1 2>&1", &out), 0) << out;
  EXPECT_NE(out.find("ok installed"), std::string::npos) << out;
  EXPECT_NE(out.find("through the mount's daemon"), std::string::npos) << out;
  ASSERT_EQ(Sh(PmklcBin() + " archive --wait " + store_dir(), &out), 0) << out;
  EXPECT_EQ(Md5OfFile(M("e.fa")), Md5OfFile(T("e.fa")));
  // Unmounted: a second model; the first stays (groups may name it).
  ASSERT_TRUE(Unmount());
  ASSERT_EQ(Sh(PmklcBin() + " train private " + store_dir() + " --examples 60000 --epochs 1 --seed 2 2>&1", &out), 0)
      << out;
  EXPECT_NE(out.find("ok installed"), std::string::npos) << out;
  ASSERT_EQ(Sh(PmklcBin() + " fsck " + store_dir(), &out), 0) << out;
  EXPECT_NE(out.find("clean"), std::string::npos) << out;
  ASSERT_TRUE(Mount());
  EXPECT_EQ(Md5OfFile(M("e.fa")), Md5OfFile(T("e.fa")));
  // Not a store: a clear error.
  ASSERT_EQ(Sh(PmklcBin() + " train private " + T("nope") + " 2>&1", &out) != 0, true) << out;
}

TEST_F(ArchiveMountTest, BackgroundArchiverRunsAfterTheDelay) {
  opts_ = {"archive_delay=1"};
  ASSERT_TRUE(Remount());
  std::vector<CorpusFile> corpus;
  if (!RequireCorpus(&corpus)) return;
  const CorpusFile* f = FindCorpus(corpus, "lambda");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(Sh("cp " + f->path + " " + M("l.fa")), 0);
  bool archived = false;
  for (int i = 0; i < 120 && !archived; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    archived = JsonField(StatJson(), "groups", "archived") > 0;
  }
  EXPECT_TRUE(archived) << StatJson();
  EXPECT_EQ(Md5OfFile(M("l.fa")), Md5OfFile(f->path));
}

TEST_F(ArchiveMountTest, KillDuringArchivingLosesNothing) {
  std::vector<CorpusFile> corpus;
  if (!RequireCorpus(&corpus)) return;
  std::vector<const CorpusFile*> files;
  for (const auto& f : corpus)
    if (f.role == "collection" || f.name == "ecoli_536") files.push_back(&f);
  ASSERT_GE(files.size(), 4u);
  for (const CorpusFile* f : files) ASSERT_EQ(Sh("cp " + f->path + " " + M(f->name + ".fa")), 0);
  ASSERT_EQ(Sh("sync"), 0);
  std::string out;
  ASSERT_EQ(Sh(PmklcBin() + " archive " + store_dir(), &out), 0) << out;  // starts, returns at once
  // Kill once some groups are swapped in but before the pass can finish.
  bool some = false;
  for (int i = 0; i < 200 && !some; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::string json = StatJson();
    some = JsonField(json, "groups", "archived") > 0;
  }
  EXPECT_TRUE(some);
  EXPECT_GT(JsonField(StatJson(), "raw_bytes", "fast"), 0u) << "archiving finished before the kill";
  KillDaemon();
  ASSERT_EQ(Fsck(&out), 0) << "right after kill -9:\n" << out;
  opts_ = {"archive_profile=off"};
  ASSERT_TRUE(Mount());
  for (const CorpusFile* f : files) EXPECT_EQ(Md5OfFile(M(f->name + ".fa")), Md5OfFile(f->path)) << f->name;
  ASSERT_TRUE(Unmount());
  // The rest is archived offline; everything still reads back. Its stdout
  // is the one summary line, no log lines (those go to stderr).
  out.clear();
  ASSERT_EQ(Sh("{ " + PmklcBin() + " archive -j 2 " + store_dir() + " 2>/dev/null; }", &out), 0) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  EXPECT_EQ(out.find("] ["), std::string::npos) << "a log line on stdout: " << out;
  EXPECT_NE(out.find("archived "), std::string::npos) << out;
  // A second pass has nothing to do, and says why.
  out.clear();
  ASSERT_EQ(Sh("{ " + PmklcBin() + " archive " + store_dir() + " 2>/dev/null; }", &out), 0) << out;
  EXPECT_NE(out.find("nothing to archive: no file has data in the fast tier"), std::string::npos) << out;
  std::string json = StatJson();
  EXPECT_EQ(JsonField(json, "raw_bytes", "fast"), 0u) << json;
  ASSERT_TRUE(Mount());
  for (const CorpusFile* f : files) EXPECT_EQ(Md5OfFile(M(f->name + ".fa")), Md5OfFile(f->path)) << f->name;
  ASSERT_TRUE(Unmount());
  EXPECT_EQ(Fsck(&out), 0) << out;
}

// The control socket serves clients at once (issue #16): while `pmklc
// archive --wait` waits for a pass, `pmklc stat` is answered at once.
TEST_F(ArchiveMountTest, StatAnswersWhileArchiveWaitWaits) {
  std::vector<CorpusFile> corpus;
  if (!RequireCorpus(&corpus)) return;
  const CorpusFile* f = FindCorpus(corpus, "ecoli_536");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(Sh("cp " + f->path + " " + M("e.fa") + " && sync"), 0);
  const std::string done = T("wait.done");
  // (in the background, its output away from Sh's pipe, which Sh reads to EOF)
  ASSERT_EQ(Sh("(" + PmklcBin() + " archive --wait " + store_dir() + " > " + T("wait.out") + " 2>&1; touch " + done +
               ") > /dev/null 2>&1 &"),
            0);
  // The pass has begun once the archiver's groups start to appear, or soon.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_FALSE(fs::exists(done)) << "the pass ended too soon to test anything";
  const auto t0 = std::chrono::steady_clock::now();
  std::string out;
  ASSERT_EQ(Sh(PmklcBin() + " stat " + store_dir(), &out), 0) << out;
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(secs, 2.0) << "stat waited behind archive --wait";
  EXPECT_NE(out.find("mount options"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(done)) << "stat was answered only after the pass ended";
  for (int i = 0; i < 600 && !fs::exists(done); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_TRUE(fs::exists(done));
  std::string w;
  ASSERT_EQ(ReadFile(T("wait.out"), &w), 0);
  EXPECT_NE(w.find("ok done, archived "), std::string::npos) << w;
}

TEST_F(ArchiveMountTest, ClearErrorsForBadOptionsAndMissingStores) {
  std::string out;
  // One line, naming the problem.
  EXPECT_NE(Sh(PmklcBin() + " archive " + T("nope"), &out), 0);
  EXPECT_NE(out.find("no pmklcfs store"), std::string::npos) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  out.clear();
  EXPECT_NE(Sh(PmklcBin() + " mount -o archive_profile=turbo " + T("s2") + " " + T(), &out), 0);
  EXPECT_NE(out.find("option archive_profile=turbo"), std::string::npos) << out;
  EXPECT_NE(out.find("max|balanced|neural|off"), std::string::npos) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  // Refused at mount time, one line each, naming the option (issue #16).
  for (const char* bad : {"codec=fasta-cm", "ref_segments=4x", "cache_size=12Q", "zstd_level=20", "noatime=1",
                          "block_size=100K"}) {
    out.clear();
    EXPECT_NE(Sh(PmklcBin() + " mount -o " + bad + " " + T("s2") + " " + T(), &out), 0) << bad;
    EXPECT_NE(out.find(std::string("option ") + bad), std::string::npos) << bad << ": " << out;
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  }
  // A store path whose parent is missing is refused and creates nothing;
  // a mount refused by FUSE leaves no new store behind.
  EXPECT_NE(Sh(PmklcBin() + " mount " + T("no/such/parent/store") + " " + T(), &out), 0);
  EXPECT_NE(out.find("parent folder"), std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists(T("no"))) << "a refused mount created folders";
  EXPECT_NE(Sh(PmklcBin() + " mount -o no_such_fuse_option " + T("s3") + " " + T(), &out), 0);
  EXPECT_FALSE(std::filesystem::exists(T("s3"))) << "a refused mount left a new store behind: " << out;
  EXPECT_NE(Sh(PmklcBin() + " mount -o archive_delay=soon " + T("s2") + " " + T(), &out), 0);
  EXPECT_NE(out.find("archive_delay"), std::string::npos) << out;
  // archive_profile=off: the daemon says so instead of pretending.
  opts_ = {"archive_profile=off"};
  ASSERT_TRUE(Remount());
  EXPECT_NE(Sh(PmklcBin() + " archive --wait " + store_dir(), &out), 0);
  EXPECT_NE(out.find("archiving is off"), std::string::npos) << out;
  // stat of the mounted store comes from the daemon and works.
  EXPECT_EQ(Sh(PmklcBin() + " stat " + store_dir(), &out), 0) << out;
  EXPECT_NE(out.find("archived tier"), std::string::npos) << out;
}

}  // namespace
}  // namespace pmklc::mt
