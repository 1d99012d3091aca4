// Read-only follower mounts (issue #20 item 5; docs/store.md §Read-only
// followers): a writer mount (the fixture's daemon) and a `-o ro_follow`
// mount of the same store, on this machine, as a compute node would mount
// a store on shared storage.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <thread>

#include "tests/mount/mount_fixture.h"

namespace pmklc::mt {
namespace {

constexpr int kFollowS = 2;  // the follower's catch-up interval

class FollowerMountTest : public MountTest {
 protected:
  std::vector<std::string> ExtraMountOptions() const override {
    return {"archive_delay=3600", "archive_profile=balanced"};
  }
  void TearDown() override {
    if (followed_) (void)Sh("fusermount3 -u " + F() + " 2>/dev/null || fusermount3 -u -z " + F());
    MountTest::TearDown();
  }
  std::string F(const std::string& rel = "") const { return rel.empty() ? T("fol") : T("fol/" + rel); }
  // `pmklc mount STORE FOL -o ro_follow=kFollowS` (returns once it is live).
  ::testing::AssertionResult Follow() {
    std::filesystem::create_directories(F());
    std::string out;
    if (Sh(PmklcBin() + " mount " + store_dir() + " " + F() + " -o ro_follow=" + std::to_string(kFollowS) +
               ",allow_other 2>&1",
           &out) != 0)
      return ::testing::AssertionFailure() << "ro_follow mount failed: " << out;
    followed_ = true;
    return ::testing::AssertionSuccess();
  }
  // Seconds until pred holds (checked every 0.1 s), or -1 past limit_s.
  static double SecondsUntil(const std::function<bool()>& pred, double limit_s) {
    const auto t0 = std::chrono::steady_clock::now();
    for (;;) {
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (pred()) return s;
      if (s > limit_s) return -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  bool followed_ = false;
};

TEST_F(FollowerMountTest, SeesSyncedWritesWithinTheIntervalRefusesChangesAndReadsByteExact) {
  std::vector<CorpusFile> corpus;
  if (!RequireCorpus(&corpus)) return;
  const CorpusFile* ecoli = FindCorpus(corpus, "ecoli_536");
  const CorpusFile* mlep = FindCorpus(corpus, "mlep_tn");
  ASSERT_TRUE(ecoli && mlep);
  const std::string e_md5 = Md5OfFile(ecoli->path), m_md5 = Md5OfFile(mlep->path);
  ASSERT_TRUE(Follow());
  const double bound = kFollowS + 5;  // the acceptance: the interval plus 5 s

  // Written and fsync'ed on the writer: seen within the bound, byte-exact.
  ASSERT_EQ(Sh("cp " + ecoli->path + " " + M("e.fa") + " && sync " + M("e.fa")), 0);
  const double seen = SecondsUntil([&] { return Md5OfFile(F("e.fa")) == e_md5; }, bound);
  EXPECT_GE(seen, 0) << "not seen through the follower within " << bound << " s";
  RecordProperty("seen_after_s", std::to_string(seen));

  // Every change through the follower is EROFS, and nothing changes.
  auto erofs = [](int rc) { return rc < 0 && errno == EROFS; };
  EXPECT_TRUE(erofs(::open(F("new").c_str(), O_WRONLY | O_CREAT, 0644)));
  EXPECT_TRUE(erofs(::open(F("e.fa").c_str(), O_WRONLY)));
  EXPECT_TRUE(erofs(::mkdir(F("d").c_str(), 0755)));
  EXPECT_TRUE(erofs(::unlink(F("e.fa").c_str())));
  EXPECT_TRUE(erofs(::rename(F("e.fa").c_str(), F("z.fa").c_str())));
  EXPECT_TRUE(erofs(::truncate(F("e.fa").c_str(), 0)));
  EXPECT_TRUE(erofs(::chmod(F("e.fa").c_str(), 0600)));
  EXPECT_TRUE(erofs(::symlink("e.fa", F("l").c_str())));
  EXPECT_TRUE(erofs(::setxattr(F("e.fa").c_str(), "user.k", "v", 1, 0)));
  EXPECT_EQ(Md5OfFile(M("e.fa")), e_md5);

  // The writer archives it (groups replace blocks; its compactions delete
  // the files the follower's view had): still byte-exact, whole and in
  // region reads.
  std::string out;
  ASSERT_EQ(Sh(PmklcBin() + " archive --wait " + store_dir() + " 2>&1", &out), 0) << out;
  EXPECT_NE(out.find("archived"), std::string::npos) << out;
  std::this_thread::sleep_for(std::chrono::seconds(kFollowS + 1));
  EXPECT_EQ(Md5OfFile(F("e.fa")), e_md5);
  for (long off : {0L, 1000003L, 4194300L, 5009000L})
    EXPECT_EQ(Sh("bash -c " + Quote("cmp -s <(tail -c +" + std::to_string(off + 1) + " " + F("e.fa") +
                                    " | head -c 4096) <(tail -c +" + std::to_string(off + 1) + " " + ecoli->path +
                                    " | head -c 4096)")),
              0)
        << "4 KiB at " << off;

  // Rewritten in place on the writer: the follower reads the new bytes,
  // never cached old ones.
  ASSERT_EQ(Sh("cp " + mlep->path + " " + M("e.fa") + " && sync " + M("e.fa")), 0);
  EXPECT_GE(SecondsUntil([&] { return Md5OfFile(F("e.fa")) == m_md5; }, bound), 0);
  // A new directory and file, then the file removed.
  ASSERT_EQ(Sh("mkdir " + M("dir") + " && cp " + ecoli->path + " " + M("dir/x.fa") + " && sync " + M("dir/x.fa")),
            0);
  EXPECT_GE(SecondsUntil([&] { return Md5OfFile(F("dir/x.fa")) == e_md5; }, bound), 0);
  ASSERT_EQ(Sh("rm " + M("e.fa") + " && sync " + M("dir")), 0);
  EXPECT_GE(SecondsUntil([&] { return ::access(F("e.fa").c_str(), F_OK) != 0 && errno == ENOENT; }, bound), 0);

  // The follower's daemon keeps nothing of its own in the store's folder.
  ASSERT_EQ(Sh("fusermount3 -u " + F()), 0);
  followed_ = false;
  ASSERT_TRUE(Unmount());
  ASSERT_EQ(Fsck(&out), 0) << out;
  ASSERT_TRUE(Mount());
}

TEST_F(FollowerMountTest, ClearErrorsForAMissingStoreAndBadIntervals) {
  std::filesystem::create_directories(F());
  std::string out;
  EXPECT_NE(Sh(PmklcBin() + " mount " + T("nostore") + " " + F() + " -o ro_follow 2>&1", &out), 0);
  EXPECT_NE(out.find("no pmklcfs store"), std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists(T("nostore")));  // nothing created
  out.clear();
  EXPECT_NE(Sh(PmklcBin() + " mount " + store_dir() + " " + F() + " -o ro_follow=0 2>&1", &out), 0);
  EXPECT_NE(out.find("ro_follow"), std::string::npos) << out;
  // A bare ro_follow is the default interval, and it mounts.
  ASSERT_EQ(Sh(PmklcBin() + " mount " + store_dir() + " " + F() + " -o ro_follow 2>&1", &out), 0) << out;
  followed_ = true;
  EXPECT_TRUE(IsMountpoint(F()));
}

}  // namespace
}  // namespace pmklc::mt
