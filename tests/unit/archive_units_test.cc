// Distributed archiving (store/services/archive_units.h, issue #20) on real
// RocksDB stores and real genomes: export -> work (per shard) -> ingest
// holds exactly the group values of a local pass, refuses groups whose
// files changed, and every step can be run again.
#include "store/services/archive_units.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include <rocksdb/sst_file_reader.h>

#include "engine/format.h"
#include "store/services/archiver.h"
#include "tests/unit/corpus_util.h"
#include "tests/unit/fs_fixture.h"

namespace pmklc {
namespace {

namespace fs = std::filesystem;
constexpr uint64_t kRoot = format::kRootIno;

std::string Genome(const std::string& name, size_t n) {
  std::string why;
  for (const std::string& f : testing::CorpusFiles(&why))
    if (fs::path(f).filename() == name + ".fa") return testing::ReadFile(f).substr(0, n);
  return {};
}

using Groups = std::map<std::pair<uint64_t, uint64_t>, std::string>;

class ArchiveUnitsTest : public testing::FsFixture {
 protected:
  StoreOptions StoreOpts() const override {
    StoreOptions so;
    so.block_size = 16 << 10;
    so.group_bytes = 64 << 10;  // many groups from small genomes
    return so;
  }
  FsOptions FsOpts() const override {
    FsOptions fo;
    fo.encode.fasta = true;
    return fo;
  }
  void SetUp() override {
    if (!testing::CorpusPresent()) GTEST_SKIP() << "no ../shared/data/corpus in this checkout";
    FsFixture::SetUp();
    files_ = {{"e.fa", Genome("ecoli_536", 400000)}, {"l.fa", Genome("lambda", 1 << 20)},
              {"m.fa", Genome("mlep_tn", 300000)}};
    for (auto& [name, data] : files_) {
      ASSERT_FALSE(data.empty()) << "no corpus";
      InodeAttr a;
      ASSERT_TRUE(fs_->Mknod(caller_, kRoot, name, S_IFREG | 0644, 0, &a).ok());
      ASSERT_TRUE(fs_->Open(a.ino, O_WRONLY).ok());
      auto w = fs_->Write(a.ino, 0, data.data(), data.size());
      ASSERT_TRUE(w.ok() && *w == data.size());
      ASSERT_TRUE(fs_->Release(a.ino, O_WRONLY).ok());
      inos_[name] = a.ino;
    }
    ASSERT_TRUE(fs_->Shutdown().ok());
    fs_.reset();
    store_.reset();
  }
  static std::unique_ptr<Store> OpenAt(const std::string& dir) {
    StoreOptions so;
    so.create_if_missing = false;
    auto s = Store::Open(dir, so);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }
  std::string CopyStore(const std::string& name) {
    const std::string to = dir_.sub(name);
    fs::copy(dir_.sub("store"), to, fs::copy_options::recursive);
    return to;
  }
  static Groups AllGroups(Store* s, const std::vector<uint64_t>& inos) {
    Groups g;
    for (uint64_t ino : inos)
      EXPECT_TRUE(s->ForEachGroupOf(ino, [&](uint64_t i, std::string_view v) {
        g[{ino, i}] = std::string(v);
        return true;
      }).ok());
    return g;
  }
  std::vector<uint64_t> Inos() const {
    std::vector<uint64_t> v;
    for (auto& [n, i] : inos_) v.push_back(i);
    return v;
  }
  // A local pass with references off, the profile the export uses.
  Groups LocalPass(const std::string& dir) {
    auto s = OpenAt(dir);
    StoreArchiveHost host(s.get());
    ArchiveOptions o;
    o.profile = "balanced";
    o.references = false;
    o.threads = 2;
    o.idle_priority = false;
    Archiver ar(s.get(), &host, o);
    EXPECT_TRUE(ar.Init().ok());
    uint64_t busy = 0;
    EXPECT_TRUE(ar.RunPass(true, &busy).ok());
    return AllGroups(s.get(), Inos());
  }
  void WorkAll(const std::string& job, uint32_t shards) {
    for (uint32_t i = 0; i < shards; ++i) {
      WorkOptions w;
      w.shard = i;
      w.shards = shards;
      w.threads = 2;
      auto r = WorkShard(job, w);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
    }
  }
  std::map<std::string, std::string> files_;
  std::map<std::string, uint64_t> inos_;
};

TEST_F(ArchiveUnitsTest, ExportWorkIngestHoldsTheGroupsOfALocalPass) {
  const std::string a = CopyStore("a"), b = CopyStore("b");
  const Groups local = LocalPass(a);
  ASSERT_GE(local.size(), 10u);
  const std::string job = dir_.sub("job");
  {
    auto s = OpenAt(b);
    ExportOptions eo;
    eo.shards = 4;
    eo.profile = "balanced";
    auto r = ExportUnits(s.get(), job, eo);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->files, 3u);
    auto again = ExportUnits(s.get(), job, eo);
    EXPECT_FALSE(again.ok()) << "a second export into one directory";
  }
  WorkAll(job, 4);
  {
    auto s = OpenAt(b);
    StoreArchiveHost host(s.get());
    auto r = IngestResults(s.get(), &host, job);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->groups + r->no_gain, local.size() + r->no_gain);
    EXPECT_EQ(r->stale, 0u);
    EXPECT_EQ(r->files_done, 3u);
    EXPECT_EQ(AllGroups(s.get(), Inos()), local) << "not the local pass's group values";
    std::vector<uint64_t> pending;
    ASSERT_TRUE(s->ListPending(&pending).ok());
    EXPECT_TRUE(pending.empty());
    // Ingesting again changes nothing.
    auto r2 = IngestResults(s.get(), &host, job);
    ASSERT_TRUE(r2.ok()) << r2.status().ToString();
    EXPECT_EQ(r2->groups, 0u);
    EXPECT_EQ(r2->already, r->groups);
    EXPECT_EQ(AllGroups(s.get(), Inos()), local);
  }
  // And it reads back.
  store_ = OpenAt(b);
  fs_ = std::make_unique<Filesystem>(store_.get(), FsOpts());
  ASSERT_TRUE(fs_->Recover().ok());
  for (auto& [name, data] : files_) EXPECT_EQ(ReadAll(inos_[name]), data) << name;
}

TEST_F(ArchiveUnitsTest, AFileChangedAfterTheExportKeepsItsNewBytes) {
  const std::string b = CopyStore("b");
  const std::string job = dir_.sub("job");
  {
    auto s = OpenAt(b);
    ExportOptions eo;
    eo.shards = 2;
    eo.profile = "balanced";
    ASSERT_TRUE(ExportUnits(s.get(), job, eo).ok());
  }
  // e.fa changes after the export: 10 bytes in its third group.
  std::string e = files_["e.fa"];
  const uint64_t at = 2 * (64 << 10) + 1000;
  {
    store_ = OpenAt(b);
    fs_ = std::make_unique<Filesystem>(store_.get(), FsOpts());
    ASSERT_TRUE(fs_->Recover().ok());
    ASSERT_TRUE(fs_->Open(inos_["e.fa"], O_WRONLY).ok());
    auto w = fs_->Write(inos_["e.fa"], at, "NNNNNNNNNN", 10);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(fs_->Release(inos_["e.fa"], O_WRONLY).ok());
    e.replace(at, 10, "NNNNNNNNNN");
    ASSERT_TRUE(fs_->Shutdown().ok());
    fs_.reset();
    store_.reset();
  }
  WorkAll(job, 2);
  {
    auto s = OpenAt(b);
    StoreArchiveHost host(s.get());
    auto r = IngestResults(s.get(), &host, job);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->stale, 1u) << r->Explain();
    ASSERT_FALSE(r->notes.empty());
    EXPECT_NE(r->notes[0].find("group 2"), std::string::npos) << r->notes[0];
    EXPECT_EQ(r->files_done, 2u);  // l.fa and m.fa
    std::vector<uint64_t> pending;
    ASSERT_TRUE(s->ListPending(&pending).ok());
    EXPECT_EQ(pending, std::vector<uint64_t>{inos_["e.fa"]});
  }
  store_ = OpenAt(b);
  fs_ = std::make_unique<Filesystem>(store_.get(), FsOpts());
  ASSERT_TRUE(fs_->Recover().ok());
  EXPECT_EQ(ReadAll(inos_["e.fa"]), e);
  EXPECT_EQ(ReadAll(inos_["l.fa"]), files_["l.fa"]);
}

TEST_F(ArchiveUnitsTest, WorkersRerunSafelyAndMissingShardsWait) {
  const std::string b = CopyStore("b");
  const std::string job = dir_.sub("job");
  {
    auto s = OpenAt(b);
    ExportOptions eo;
    eo.shards = 2;
    eo.profile = "balanced";
    ASSERT_TRUE(ExportUnits(s.get(), job, eo).ok());
  }
  WorkOptions w;
  w.shard = 0;
  w.shards = 2;
  auto r = WorkShard(job, w);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->already_done);
  // (the SST file's own properties name a session: its entries are what
  // must not change)
  auto entries = [&] {
    std::vector<std::pair<std::string, std::string>> kv;
    rocksdb::Options ro;
    rocksdb::SstFileReader r(ro);
    EXPECT_TRUE(r.Open(job + "/out/0.sst").ok());
    std::unique_ptr<rocksdb::Iterator> it(r.NewIterator(rocksdb::ReadOptions()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) kv.emplace_back(it->key().ToString(), it->value().ToString());
    return kv;
  };
  const auto first_entries = entries();
  EXPECT_GT(first_entries.size(), 3u);
  std::string first;
  {
    std::ifstream f(job + "/out/0.sst", std::ios::binary);
    first.assign(std::istreambuf_iterator<char>(f), {});
  }
  auto again = WorkShard(job, w);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->already_done);
  // Killed between the SST and its .done: coded again, the same bytes.
  fs::remove(job + "/out/0.done");
  auto redo = WorkShard(job, w);
  ASSERT_TRUE(redo.ok());
  EXPECT_FALSE(redo->already_done);
  EXPECT_TRUE(entries() == first_entries) << "a worker is not deterministic";
  // A damaged result is refused, never ingested.
  {
    std::fstream f(job + "/out/0.sst", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(first.size() / 2));
    f.put(static_cast<char>(first[first.size() / 2] ^ 0x40));
  }
  {
    auto s = OpenAt(b);
    StoreArchiveHost host(s.get());
    auto bad = IngestResults(s.get(), &host, job);
    EXPECT_TRUE(!bad.ok() && bad.status().IsCorruption()) << (bad.ok() ? bad->Explain() : bad.status().ToString());
  }
  fs::remove(job + "/out/0.done");
  ASSERT_TRUE(WorkShard(job, w).ok());
  // Shard 1 not done: its groups wait, shard 0's go in.
  {
    auto s = OpenAt(b);
    StoreArchiveHost host(s.get());
    auto part = IngestResults(s.get(), &host, job);
    ASSERT_TRUE(part.ok()) << part.status().ToString();
    EXPECT_EQ(part->shards_missing, 1u);
    EXPECT_GT(part->groups, 0u);
    EXPECT_EQ(part->files_done, 0u) << "every file has groups in shard 1 (round robin)";
  }
  w.shard = 1;
  ASSERT_TRUE(WorkShard(job, w).ok());
  {
    auto s = OpenAt(b);
    StoreArchiveHost host(s.get());
    auto rest = IngestResults(s.get(), &host, job);
    ASSERT_TRUE(rest.ok()) << rest.status().ToString();
    EXPECT_EQ(rest->shards_missing, 0u);
    EXPECT_EQ(rest->files_done, 3u);
  }
  // Bad shard numbers are refused in one line.
  w.shard = 2;
  EXPECT_FALSE(WorkShard(job, w).ok());
  w.shards = 3;
  w.shard = 0;
  EXPECT_FALSE(WorkShard(job, w).ok());
}

// The files of an export come from shared storage: mutated, truncated or
// random bytes of each kind parse or fail as Corruption (the fuzz target's
// entry, tests/fuzz/export_files_fuzz.cc, run here on real files), and a
// worker given a damaged units file refuses it.
TEST_F(ArchiveUnitsTest, DamagedExportFilesAreCorruptionNeverACrash) {
  const std::string job = dir_.sub("job");
  {
    auto s = OpenAt(dir_.sub("store"));
    ExportOptions eo;
    eo.shards = 2;
    eo.profile = "balanced";
    ASSERT_TRUE(ExportUnits(s.get(), job, eo).ok());
  }
  auto slurp = [](const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  };
  // A reference codes file of two entries (what an export with references writes).
  std::string refs("PMKLCRF\0\x01", 9);
  for (uint64_t object : {7, 9}) {
    refs.push_back(static_cast<char>(object));  // varint object
    refs.push_back(1);                          // varint segment
    refs.append(8, static_cast<char>(object));  // u64 checksum
    refs.push_back(9);                          // varint bases
    refs.push_back(3);                          // section of (9 + 3) / 4 bytes
    refs.append("\x1b\xe4\x02", 3);
  }
  ASSERT_TRUE(ParseExportFile('r', refs).ok());
  const std::map<char, std::string> seeds = {
      {'x', slurp(job + "/export")}, {'u', slurp(job + "/units/0")}, {'f', slurp(job + "/files")}, {'r', refs}};
  std::mt19937 g(2020);
  for (auto& [kind, seed] : seeds) {
    ASSERT_FALSE(seed.empty()) << kind;
    ASSERT_TRUE(ParseExportFile(kind, seed).ok()) << kind;
    for (int iter = 0; iter < 3000; ++iter) {
      std::string v = seed;
      for (int e = 0, edits = 1 + static_cast<int>(g() % 3); e < edits && !v.empty(); ++e) {
        switch (g() % 4) {
          case 0: v[g() % v.size()] ^= static_cast<char>(1 << (g() % 8)); break;
          case 1: v.resize(g() % (v.size() + 1)); break;
          case 2: v[g() % v.size()] = static_cast<char>(g()); break;
          case 3: v.insert(g() % (v.size() + 1), 1, static_cast<char>(g())); break;
        }
      }
      const Status st = ParseExportFile(kind, v);
      ASSERT_TRUE(st.ok() || st.IsCorruption()) << kind << ": " << st.ToString();
    }
  }
  // A units file cut short: the worker says which file, and codes nothing.
  const std::string units = slurp(job + "/units/0");
  std::ofstream(job + "/units/0", std::ios::binary | std::ios::trunc) << units.substr(0, units.size() / 2);
  WorkOptions w;
  w.shard = 0;
  w.shards = 2;
  auto r = WorkShard(job, w);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsCorruption()) << r.status().ToString();
  EXPECT_NE(r.status().message().find("units/0"), std::string::npos) << r.status().ToString();
}

}  // namespace
}  // namespace pmklc
