// References in a real mount (issue #6): strains of one species copied in
// are archived against each other, an unrelated genome is coded alone, and
// every file stays byte-exact through deletes, renames and overwrites of the
// others, with fsck checking the holds (reference counts) after each step
// and the archiver deleting objects nothing holds any more.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/mount/mount_fixture.h"

namespace pmklc::mt {
namespace {

class ReferenceMountTest : public MountTest {
 protected:
  std::vector<std::string> ExtraMountOptions() const override { return {"archive_delay=3600", "archive_threads=2"}; }
  std::string StatJson() {
    std::string json;
    EXPECT_EQ(Sh(PmklcBin() + " stat --json " + store_dir(), &json), 0) << json;
    return json;
  }
  void ArchiveNow() {
    std::string out;
    ASSERT_EQ(Sh(PmklcBin() + " archive --wait " + store_dir(), &out), 0) << out;
  }
  // Every name in `files` reads back as its copy in T(); then fsck (mounted:
  // read-only check of the live store is not possible, so after a remount
  // cycle) is clean.
  void ExpectIntact(const std::vector<std::string>& files, const char* when) {
    for (const std::string& f : files)
      EXPECT_EQ(Sh("cmp " + T(f) + " " + M(f)), 0) << f << " " << when << "\n" << DaemonLog();
  }
  void FsckClean(const char* when) {
    ASSERT_TRUE(Unmount());
    std::string out;
    EXPECT_EQ(Fsck(&out), 0) << when << "\n" << out;
    ASSERT_TRUE(Mount());
  }
};

TEST_F(ReferenceMountTest, StrainsCodeAgainstEachOtherAndSurviveChangesToTheOthers) {
  std::vector<CorpusFile> corpus;
  if (!RequireCorpus(&corpus)) return;
  std::vector<std::string> names;
  for (const char* n : {"kpn_hs11286", "kpn_kp1084", "kpn_mgh78578", "ecoli_536"}) {
    const CorpusFile* f = FindCorpus(corpus, n);
    ASSERT_NE(f, nullptr) << n;
    names.push_back(std::string(n) + ".fa");
    ASSERT_EQ(Sh("cp " + f->path + " " + T(names.back()) + " && cp " + f->path + " " + M(names.back())), 0);
  }
  ArchiveNow();
  std::string st = StatJson();
  // The pass plans the strains farthest first, starting with the most
  // central (hs11286 here, Jaccard 0.66 and 0.68 to the others): the other
  // two code against it (one object), the last may also use the second
  // (then a second object). E. coli is alone.
  EXPECT_GE(JsonField(st, "objects", "references"), 1u) << st;
  const uint64_t dep = JsonField(st, "dependent_raw_bytes", "references");
  const uint64_t dep_stored = JsonField(st, "dependent_stored_bytes", "references");
  // The third strain codes against the first two (the second became an
  // object, its groups links); all four files, 22 MB, fit in well under
  // what coding them alone takes (about 5 MB).
  EXPECT_GE(dep, 5u << 20) << st;
  EXPECT_LT(dep_stored * 20, dep) << "strains should cost < 0.4 bits/base against each other: " << st;
  EXPECT_LT(JsonField(st, "stored_bytes") * 6, JsonField(st, "logical_bytes")) << st;
  EXPECT_GE(JsonField(st, "blocks", "fasta-cm"), 2u) << "ecoli_536 (5 MB) should be coded alone: " << st;
  // The savings `pmklc stat` shows: what was coded against references
  // (dependent groups and the segments of objects coded against others),
  // priced at the store's own alone ratio (~0.23 bytes per byte here), less
  // what it costs: at least 0.15 bytes per byte of it.
  const uint64_t against = dep + JsonField(st, "dependent_segment_raw_bytes", "references");
  EXPECT_GT(JsonField(st, "saved_bytes_estimate", "references") * 100, against * 15) << st;
  {  // Per file (through the daemon): the third strain costs its own groups only.
    std::string files;
    ASSERT_EQ(Sh(PmklcBin() + " stat --files " + store_dir(), &files), 0) << files;
    auto stored_of = [&](const std::string& name) -> uint64_t {
      auto p = files.find("\t" + name + "\n");
      if (p == std::string::npos) return 0;
      auto line = files.rfind('\n', p);
      line = line == std::string::npos ? 0 : line + 1;
      return std::stoull(files.substr(line));
    };
    EXPECT_GT(stored_of(names[0]), 1000000u) << files;  // the most central strain: coded alone (an object now)
    EXPECT_GT(stored_of(names[2]), 0u) << files;
    EXPECT_LT(stored_of(names[2]) * 20, uint64_t{5} << 20) << files;  // < 0.4 bits/base
  }
  ExpectIntact(names, "archived");
  FsckClean("archived");
  ExpectIntact(names, "remounted");

  // 1. Delete the first strain (the reference of the others).
  ASSERT_EQ(Sh("rm " + M(names[0])), 0);
  FsckClean("after deleting the reference's file");
  ExpectIntact({names[1], names[2], names[3]}, "after deleting the reference's file");
  // 2. Rename a dependent file; overwrite 4 KiB in the middle of another.
  ASSERT_EQ(Sh("mv " + M(names[1]) + " " + M("renamed.fa") + " && mv " + T(names[1]) + " " + T("renamed.fa")), 0);
  ASSERT_EQ(Sh("head -c 4096 /dev/urandom > " + T("patch") + " && dd if=" + T("patch") + " of=" + T(names[2]) +
               " bs=4096 seek=300 conv=notrunc status=none && dd if=" + T("patch") + " of=" + M(names[2]) +
               " bs=4096 seek=300 conv=notrunc status=none"),
            0);
  ExpectIntact({"renamed.fa", names[2], names[3]}, "after rename and overwrite");
  FsckClean("after rename and overwrite");
  // 3. Archive again (the patched file is recoded), then replace the renamed
  //    file with unrelated content: whatever depended on it stays readable.
  ArchiveNow();
  ExpectIntact({"renamed.fa", names[2], names[3]}, "re-archived");
  ASSERT_EQ(Sh("cp " + T(names[3]) + " " + M("renamed.fa") + " && cp " + T(names[3]) + " " + T("renamed.fa")), 0);
  ExpectIntact({"renamed.fa", names[2], names[3]}, "after overwriting a reference");
  FsckClean("after overwriting a reference");
  ExpectIntact({"renamed.fa", names[2], names[3]}, "after overwriting a reference, remounted");
  // 4. Delete everything: the next pass deletes every object.
  ASSERT_EQ(Sh("rm " + M("renamed.fa") + " " + M(names[2]) + " " + M(names[3])), 0);
  ArchiveNow();
  st = StatJson();
  EXPECT_EQ(JsonField(st, "objects", "references"), 0u) << st;
  FsckClean("after deleting everything");
}

}  // namespace
}  // namespace pmklc::mt
