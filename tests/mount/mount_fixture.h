// mount_fixture.h — GoogleTest fixture that runs a real pmklcfs FUSE mount.
//
// Every test gets a fresh temporary directory (on the same disk as /tmp) with
//   store/   the RocksDB store (created by the daemon on first mount)
//   mnt/     the mountpoint
//   native/  a plain directory on the host filesystem, for differential tests
// The daemon is `PMKLC_BIN mount -f STORE MNT -o allow_other[,...]`, started
// with fork+exec; its stderr goes to TMP/daemon.log, which TearDown prints when
// the test failed. TearDown always unmounts (or kills and lazily unmounts) and
// removes the temporary directory.
//
// Tests are skipped (not failed) when the process is not root or /dev/fuse or
// fusermount3 is missing. Tests that need real genomes use RequireCorpus(),
// which runs shared/data/corpus into a cache folder and skips with a clear
// message when that fails (no network, no apt).
//
// Environment:
//   PMKLC_TEST_BIN      the pmklc binary to test (default: PMKLC_BIN from the build)
//   PMKLC_TEST_TMPDIR   where the per-test temporary directories go (default /tmp)
//   PMKLC_TEST_CORPUS   corpus cache folder (default /tmp/pmklc-test-corpus)
//   PMKLC_TEST_KEEP=1   keep the temporary directory of a failed test
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace pmklc::mt {

// Return value and errno of one syscall (err is 0 when ret >= 0).
struct SysR {
  long ret = 0;
  int err = 0;
  bool operator==(const SysR& o) const { return ret == o.ret && err == o.err; }
};
std::string ToString(const SysR& r);
inline void PrintTo(const SysR& r, std::ostream* os) { *os << ToString(r); }

// ---- small helpers -----------------------------------------------------------

// The pmklc binary under test.
const std::string& PmklcBin();

// Runs `sh -c cmd`; returns its exit status (-1 if it could not run or was
// killed). stdout and stderr go to *out when out is non-null.
int Sh(const std::string& cmd, std::string* out = nullptr);

// Value of "key": in flat JSON such as `pmklc stat --json` prints (the first
// occurrence after "after", when given); 0 when absent.
uint64_t JsonField(const std::string& json, const std::string& key, const std::string& after = "");
// Single-quotes s for the shell.
std::string Quote(const std::string& s);

// Whole-file read/write through the syscalls. Return 0 or an errno value.
int ReadFile(const std::string& path, std::string* out);
int WriteFile(const std::string& path, const std::string& data, int mode = 0644);
// pread/pwrite loops (handle short transfers). Return bytes moved or -errno.
ssize_t PreadAll(int fd, char* buf, size_t n, off_t off);
ssize_t PwriteAll(int fd, const char* buf, size_t n, off_t off);

// Deterministic pseudo-random bytes (seeded), fast.
std::string PatternBytes(size_t n, uint64_t seed);
// Hex MD5 of a file, via md5sum(1). Empty on error.
std::string Md5OfFile(const std::string& path);

// st_dev of path differs from the one of its parent directory.
bool IsMountpoint(const std::string& path);

// Index of the first differing byte (or the shorter length); npos when equal.
size_t FirstDiff(const std::string& a, const std::string& b);

// ---- real genomes ------------------------------------------------------------

struct CorpusFile {
  std::string name;   // e.g. "hsap_chrx70m" or "AeCa"
  std::string role;   // train, eval, collection, robust, dnacorpus
  std::string path;   // absolute path in the cache folder
  uint64_t bytes = 0;
};

// Lays out every corpus file (all roles) in the cache folder (once per process;
// files already there with the right md5 are reused). Returns false and sets
// *why when the corpus script is missing or fails.
bool EnsureCorpus(std::vector<CorpusFile>* files, std::string* why);
// The corpus file with that name, or nullptr.
const CorpusFile* FindCorpus(const std::vector<CorpusFile>& files, const std::string& name);

// ---- the fixture -------------------------------------------------------------

class MountTest : public ::testing::Test {
 public:
  // Root, /dev/fuse and fusermount3 are available.
  static bool Usable(std::string* why);

 protected:
  void SetUp() override;
  void TearDown() override;

  // Extra -o options for the daemon (appended after allow_other).
  virtual std::vector<std::string> ExtraMountOptions() const { return {}; }

  // Starts the daemon and waits (20 s at most) until the mount is live.
  ::testing::AssertionResult Mount();
  // fusermount3 -u, then waits for the daemon to store its data and exit 0.
  ::testing::AssertionResult Unmount(int timeout_s = 120);
  ::testing::AssertionResult Remount() {
    auto u = Unmount();
    if (!u) return u;
    return Mount();
  }
  // kill -9 the daemon, then `fusermount3 -u -z` the dead mount.
  void KillDaemon();
  // Lazily detaches the mount (fusermount3 -u -z) without waiting for the daemon.
  ::testing::AssertionResult LazyUnmount();
  // Waits for the daemon to exit (after a lazy unmount); true if it exited 0.
  ::testing::AssertionResult WaitDaemon(int timeout_s);
  bool daemon_running() const { return pid_ > 0; }

  // `pmklc fsck STORE`: exit status, output in *out.
  int Fsck(std::string* out = nullptr);
  // check("mounted"), remount, check("after remount"), unmount, and expect
  // a clean fsck.
  void CheckAcrossRemount(const std::function<void(const char* when)>& check) {
    check("mounted");
    ASSERT_TRUE(Remount());
    check("after remount");
    ASSERT_TRUE(Unmount());
    std::string out;
    EXPECT_EQ(Fsck(&out), 0) << out;
  }
  // The daemon log so far.
  std::string DaemonLog() const;

  std::string M(const std::string& rel = "") const { return rel.empty() ? mnt_ : mnt_ + "/" + rel; }
  std::string N(const std::string& rel = "") const { return rel.empty() ? native_ : native_ + "/" + rel; }
  std::string T(const std::string& rel = "") const { return rel.empty() ? tmp_ : tmp_ + "/" + rel; }
  const std::string& store_dir() const { return store_; }

  // Skips the test (from the test body) when the corpus is unavailable.
  // Usage: std::vector<CorpusFile> c; if (!RequireCorpus(&c)) return;
  bool RequireCorpus(std::vector<CorpusFile>* files);

  std::string tmp_, store_, mnt_, native_, log_;
  pid_t pid_ = -1;
  bool skipped_ = false;
};

}  // namespace pmklc::mt

// Evaluates a syscall expression once and records (return value, errno).
#define PMKLC_SYS(expr)                                  \
  ([&]() -> ::pmklc::mt::SysR {                          \
    errno = 0;                                           \
    long _r = static_cast<long>(expr);                   \
    return ::pmklc::mt::SysR{_r, _r < 0 ? errno : 0};    \
  }())
