// exerciser_test.cc — an fsx-style randomized exerciser, written for pmklcfs.
//
// A few files get a long random mix of pwrite (random offsets and lengths,
// across block boundaries, far past EOF, runs of zeros that make whole blocks
// holes), pread, ftruncate up and down, fstat, close/reopen, fsync and
// page-cache drops (so reads reach the daemon). An in-memory model of every
// file is checked after every read and stat. Halfway through, the filesystem
// is remounted and every file compared in full; at the end again, then fsck.
//
// The run is deterministic for a seed. Environment:
//   PMKLC_FSX_SEED  seed (default 20261127); printed on failure
//   PMKLC_FSX_OPS   operations per configuration (default 100000)
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <random>
#include <sstream>

#include "tests/mount/mount_fixture.h"

namespace pmklc::mt {
namespace {

uint64_t EnvU64(const char* name, uint64_t def) {
  const char* v = std::getenv(name);
  if (!v || !*v) return def;
  return std::strtoull(v, nullptr, 0);
}

struct FsxConfig {
  const char* name;
  std::vector<std::string> mount_options;
  uint64_t block;        // the store's block size
  uint64_t max_size;     // files stay below this
  uint64_t max_io;       // longest single read/write
  uint64_t ops_divisor;  // ops = PMKLC_FSX_OPS / ops_divisor
};

class FsxTest : public MountTest, public ::testing::WithParamInterface<FsxConfig> {
 protected:
  std::vector<std::string> ExtraMountOptions() const override { return GetParam().mount_options; }
};

class Fsx {
 public:
  static constexpr int kFiles = 4;

  Fsx(const FsxConfig& cfg, uint64_t seed, std::string dir)
      : cfg_(cfg), seed_(seed), rng_(seed), dir_(std::move(dir)) {
    model_.resize(kFiles);
    fds_.assign(kFiles, -1);
  }
  ~Fsx() { CloseAll(); }

  std::string Path(int f) const { return dir_ + "/fsx" + std::to_string(f); }

  bool OpenAll(bool create) {
    for (int f = 0; f < kFiles; ++f)
      if (!Reopen(f, create)) return false;
    return true;
  }
  void CloseAll() {
    for (int& fd : fds_)
      if (fd >= 0) { close(fd); fd = -1; }
  }

  // Runs n operations; false (with failure_ set) on the first mismatch.
  bool Run(uint64_t n) {
    for (uint64_t i = 0; i < n; ++i, ++op_no_) {
      if (!Step()) return false;
    }
    return true;
  }

  // Reads every file in full (after dropping the page cache) and compares.
  bool CompareAll(const char* when) {
    for (int f = 0; f < kFiles; ++f) {
      std::string got;
      int e = ReadFile(Path(f), &got);
      if (e != 0) return Fail(std::string(when) + ": reading " + Path(f) + ": " + strerror(e));
      size_t d = FirstDiff(got, model_[f]);
      if (d != std::string::npos) {
        std::ostringstream m;
        m << when << ": file " << f << " differs from the model at byte " << d << " (block "
          << d / cfg_.block << "); size " << got.size() << ", model size " << model_[f].size();
        if (d < got.size() && d < model_[f].size())
          m << "; got byte 0x" << std::hex << (static_cast<unsigned>(got[d]) & 0xff) << ", want 0x"
            << (static_cast<unsigned>(model_[f][d]) & 0xff);
        return Fail(m.str());
      }
    }
    return true;
  }

  const std::string& failure() const { return failure_; }
  std::string History() const {
    std::string h;
    for (auto& s : log_) h += "  " + s + "\n";
    return h;
  }
  uint64_t op_no() const { return op_no_; }
  std::map<std::string, uint64_t> counts;

 private:
  uint64_t Rand(uint64_t n) { return n ? rng_() % n : 0; }  // [0, n)
  bool Chance(unsigned pct) { return Rand(100) < pct; }

  void Log(const std::string& s) {
    log_.push_back("#" + std::to_string(op_no_) + " " + s);
    if (log_.size() > 40) log_.pop_front();
  }
  bool Fail(const std::string& m) {
    failure_ = m;
    return false;
  }

  bool Reopen(int f, bool create) {
    if (fds_[f] >= 0) close(fds_[f]);
    fds_[f] = open(Path(f).c_str(), O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0644);
    if (fds_[f] < 0) return Fail("open " + Path(f) + ": " + strerror(errno));
    return true;
  }

  // An offset that often sits near a block boundary.
  uint64_t PickOffset(uint64_t limit) {
    if (limit == 0) return 0;
    if (Chance(40)) {
      uint64_t nb = limit / cfg_.block + 1;
      uint64_t b = Rand(nb) * cfg_.block;
      int64_t delta = static_cast<int64_t>(Rand(65)) - 32;
      int64_t o = static_cast<int64_t>(b) + delta;
      return static_cast<uint64_t>(std::clamp<int64_t>(o, 0, static_cast<int64_t>(limit)));
    }
    return Rand(limit + 1);
  }
  // Log-uniform length in [1, max].
  uint64_t PickLength(uint64_t max) {
    int bits = 1 + static_cast<int>(Rand(static_cast<uint64_t>(64 - __builtin_clzll(max))));
    uint64_t len = 1 + Rand(std::min<uint64_t>(max, uint64_t{1} << bits));
    return std::min(len, max);
  }
  std::string MakeData(uint64_t len) {
    std::string d;
    switch (Rand(3)) {
      case 0:  // random bytes: incompressible, stored raw
        d = PatternBytes(len, rng_());
        break;
      case 1: {  // DNA-like text: compresses well
        static const char kAcgt[] = "ACGT";
        d.resize(len);
        uint64_t x = rng_();
        for (uint64_t i = 0; i < len; ++i) {
          if (i % 61 == 60) { d[i] = '\n'; continue; }
          x = x * 6364136223846793005ull + 1442695040888963407ull;
          d[i] = kAcgt[(x >> 33) & 3];
        }
        break;
      }
      default: {  // one repeated byte (never 0: zeros are a separate op)
        d.assign(len, static_cast<char>(1 + Rand(255)));
        break;
      }
    }
    return d;
  }

  bool DoWrite(int f, uint64_t off, const std::string& data, const char* kind) {
    Log(std::string(kind) + " f" + std::to_string(f) + " off " + std::to_string(off) + " len " +
        std::to_string(data.size()));
    counts[kind]++;
    ssize_t n = PwriteAll(fds_[f], data.data(), data.size(), static_cast<off_t>(off));
    if (n != static_cast<ssize_t>(data.size()))
      return Fail(std::string(kind) + " returned " + std::to_string(n) + (n < 0 ? std::string(" ") + strerror(-n) : ""));
    std::string& m = model_[f];
    if (m.size() < off + data.size()) m.resize(off + data.size(), '\0');
    m.replace(off, data.size(), data);
    return true;
  }

  bool DoRead(int f, uint64_t off, uint64_t len) {
    bool drop = Chance(50);
    Log("pread f" + std::to_string(f) + " off " + std::to_string(off) + " len " + std::to_string(len) +
        (drop ? " (cache dropped)" : ""));
    counts["pread"]++;
    if (drop) posix_fadvise(fds_[f], 0, 0, POSIX_FADV_DONTNEED);
    std::string buf(len, '\x77');
    ssize_t n = PreadAll(fds_[f], buf.data(), len, static_cast<off_t>(off));
    const std::string& m = model_[f];
    uint64_t want = off >= m.size() ? 0 : std::min<uint64_t>(len, m.size() - off);
    if (n < 0) return Fail("pread failed: " + std::string(strerror(static_cast<int>(-n))));
    if (static_cast<uint64_t>(n) != want)
      return Fail("pread returned " + std::to_string(n) + " bytes, model says " + std::to_string(want) +
                  " (model size " + std::to_string(m.size()) + ")");
    for (uint64_t i = 0; i < want; ++i) {
      if (buf[i] != m[off + i]) {
        std::ostringstream s;
        s << "pread mismatch at file offset " << off + i << " (block " << (off + i) / cfg_.block << ", +"
          << (off + i) % cfg_.block << "): got 0x" << std::hex << (static_cast<unsigned>(buf[i]) & 0xff)
          << ", want 0x" << (static_cast<unsigned>(m[off + i]) & 0xff);
        return Fail(s.str());
      }
    }
    return true;
  }

  bool Step() {
    int f = static_cast<int>(Rand(kFiles));
    const uint64_t size = model_[f].size();
    const uint64_t r = Rand(1000);
    if (r < 330) {  // pwrite inside or just past the file
      uint64_t off = PickOffset(size + std::min<uint64_t>(cfg_.block, 64 << 10));
      uint64_t len = PickLength(cfg_.max_io);
      if (off + len > cfg_.max_size) return Truncate(f, Rand(size / 2 + 1));
      return DoWrite(f, off, MakeData(len), "pwrite");
    }
    if (r < 360) {  // pwrite far past EOF: a run of hole blocks
      uint64_t gap = cfg_.block * (2 + Rand(40)) + Rand(cfg_.block);
      uint64_t off = size + gap, len = PickLength(cfg_.block * 2);
      if (off + len > cfg_.max_size) return Truncate(f, Rand(size / 4 + 1));
      return DoWrite(f, off, MakeData(len), "pwrite-far");
    }
    if (r < 430) {  // zeros: whole aligned blocks (stored as holes) or a random range
      uint64_t off, len;
      if (Chance(60) && size > cfg_.block) {
        uint64_t nb = size / cfg_.block;
        uint64_t b = Rand(nb);
        off = b * cfg_.block;
        len = cfg_.block * (1 + Rand(std::min<uint64_t>(4, nb - b)));
        if (Chance(30)) { off += 1; len -= 1; }  // all but the first byte: not a hole
      } else {
        off = PickOffset(size);
        len = PickLength(cfg_.max_io);
      }
      if (off + len > cfg_.max_size) return Truncate(f, Rand(size / 2 + 1));
      return DoWrite(f, off, std::string(len, '\0'), "zeros");
    }
    if (r < 730) {  // pread
      uint64_t off = PickOffset(size + 1000);
      uint64_t len = PickLength(cfg_.max_io);
      return DoRead(f, off, len);
    }
    if (r < 810) {  // ftruncate down or up
      uint64_t ns;
      switch (Rand(4)) {
        case 0: ns = Rand(size + 1); break;
        case 1: ns = size + Rand(cfg_.block * 3); break;
        case 2: {  // at a block boundary, or one byte either side
          ns = (Rand(size / cfg_.block + 2)) * cfg_.block;
          uint64_t d = Rand(3);
          if (d == 0 && ns > 0) ns -= 1;
          if (d == 2) ns += 1;
          break;
        }
        default: ns = size > 10 ? size - 1 - Rand(10) : size; break;
      }
      if (ns > cfg_.max_size) ns = cfg_.max_size / 2;
      return Truncate(f, ns);
    }
    if (r < 900) {  // fstat
      counts["fstat"]++;
      Log("fstat f" + std::to_string(f));
      struct stat st;
      if (fstat(fds_[f], &st) != 0) return Fail(std::string("fstat: ") + strerror(errno));
      if (static_cast<uint64_t>(st.st_size) != size)
        return Fail("fstat size " + std::to_string(st.st_size) + ", model size " + std::to_string(size));
      return true;
    }
    if (r < 935) {  // close and reopen (drops the page cache half the time)
      counts["reopen"]++;
      Log("reopen f" + std::to_string(f));
      if (Chance(50)) posix_fadvise(fds_[f], 0, 0, POSIX_FADV_DONTNEED);
      return Reopen(f, false);
    }
    if (r < 955) {  // fsync / fdatasync
      counts["fsync"]++;
      bool data = Chance(50);
      Log(std::string(data ? "fdatasync" : "fsync") + " f" + std::to_string(f));
      int rc = data ? fdatasync(fds_[f]) : fsync(fds_[f]);
      if (rc != 0) return Fail(std::string("fsync: ") + strerror(errno));
      return true;
    }
    if (r < 965) {  // a read of the whole file through a second descriptor
      counts["fullread"]++;
      Log("full read f" + std::to_string(f));
      posix_fadvise(fds_[f], 0, 0, POSIX_FADV_DONTNEED);
      std::string got;
      int e = ReadFile(Path(f), &got);
      if (e != 0) return Fail(std::string("full read: ") + strerror(e));
      size_t d = FirstDiff(got, model_[f]);
      if (d != std::string::npos)
        return Fail("full read differs at byte " + std::to_string(d) + " (size " + std::to_string(got.size()) +
                    ", model " + std::to_string(model_[f].size()) + ")");
      return true;
    }
    // Read straddling EOF.
    uint64_t off = size > 100 ? size - Rand(100) : 0;
    return DoRead(f, off, 1 + Rand(cfg_.block));
  }

  bool Truncate(int f, uint64_t ns) {
    counts["ftruncate"]++;
    Log("ftruncate f" + std::to_string(f) + " " + std::to_string(model_[f].size()) + " -> " + std::to_string(ns));
    if (ftruncate(fds_[f], static_cast<off_t>(ns)) != 0) return Fail(std::string("ftruncate: ") + strerror(errno));
    model_[f].resize(ns, '\0');
    return true;
  }

  FsxConfig cfg_;
  uint64_t seed_;
  std::mt19937_64 rng_;
  std::string dir_;
  std::vector<std::string> model_;
  std::vector<int> fds_;
  std::deque<std::string> log_;
  std::string failure_;
  uint64_t op_no_ = 0;
};

TEST_P(FsxTest, RandomOpsMatchModel) {
  const FsxConfig& cfg = GetParam();
  const uint64_t seed = EnvU64("PMKLC_FSX_SEED", 20261127);
  const uint64_t ops = std::max<uint64_t>(1, EnvU64("PMKLC_FSX_OPS", 100000) / cfg.ops_divisor);
  std::printf("fsx[%s]: seed %llu (PMKLC_FSX_SEED), %llu operations (PMKLC_FSX_OPS)\n", cfg.name,
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(ops));
  SCOPED_TRACE("fsx seed " + std::to_string(seed) + " (rerun with PMKLC_FSX_SEED=" + std::to_string(seed) +
               " PMKLC_FSX_OPS=" + std::to_string(ops * cfg.ops_divisor) + ")");
  auto t0 = std::chrono::steady_clock::now();
  Fsx fsx(cfg, seed, M());
  ASSERT_TRUE(fsx.OpenAll(true)) << fsx.failure();
  const uint64_t half = ops / 2;
  ASSERT_TRUE(fsx.Run(half)) << "op #" << fsx.op_no() << ": " << fsx.failure() << "\nlast operations:\n"
                             << fsx.History();
  // Remount in the middle: everything must have reached the store.
  fsx.CloseAll();
  ASSERT_TRUE(Remount());
  ASSERT_TRUE(fsx.CompareAll("after the mid-run remount")) << fsx.failure() << "\nlast operations:\n"
                                                           << fsx.History();
  ASSERT_TRUE(fsx.OpenAll(false)) << fsx.failure();
  // Bounded memory (issue #16): the daemon's RSS stays below the budget of
  // its options plus 256 MiB, and does not grow with the number of
  // operations (it grew ~35 MB/s under random writes before: a zstd context
  // leaked per helper thread).
  auto memory = [&](const char* when) -> uint64_t {
    std::string j;
    EXPECT_EQ(Sh(PmklcBin() + " stat --json " + store_dir(), &j), 0) << j;
    const uint64_t rss = JsonField(j, "rss_bytes"), budget = JsonField(j, "memory_budget_bytes");
    EXPECT_GT(budget, 0u) << j;
    EXPECT_GT(rss, 0u) << j;
    EXPECT_LT(rss, budget + (uint64_t{256} << 20)) << when << ": RSS " << rss << ", budget " << budget;
    std::printf("fsx[%s]: daemon RSS %.1f MiB %s (budget %.0f MiB)\n", cfg.name, rss / 1048576.0, when,
                budget / 1048576.0);
    return rss;
  };
  const uint64_t quarter = (ops - half) / 2;
  ASSERT_TRUE(fsx.Run(quarter)) << "op #" << fsx.op_no() << ": " << fsx.failure() << "\nlast operations:\n"
                                << fsx.History();
  const uint64_t rss_a = memory("at 3/4 of the run");
  ASSERT_TRUE(fsx.Run(ops - half - quarter)) << "op #" << fsx.op_no() << ": " << fsx.failure()
                                             << "\nlast operations:\n" << fsx.History();
  const uint64_t rss_b = memory("at the end of the run");
  // Meanwhile RocksDB's memtables and block cache may fill up to their bound
  // (160 MiB by default: README §Memory); anything past that plus 64 MiB is
  // growth with the number of operations.
  EXPECT_LT(rss_b, rss_a + (uint64_t{224} << 20)) << "the daemon's memory grows with operations: " << rss_a
                                                   << " -> " << rss_b;
  fsx.CloseAll();
  ASSERT_TRUE(fsx.CompareAll("at the end")) << fsx.failure() << "\nlast operations:\n" << fsx.History();
  ASSERT_TRUE(Remount());
  ASSERT_TRUE(fsx.CompareAll("after the final remount")) << fsx.failure() << "\nlast operations:\n"
                                                         << fsx.History();
  ASSERT_TRUE(Unmount());
  std::string out;
  EXPECT_EQ(Fsck(&out), 0) << out;
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::string summary;
  for (auto& [k, v] : fsx.counts) summary += " " + k + "=" + std::to_string(v);
  std::printf("fsx[%s]: %llu ops in %.1f s:%s\n", cfg.name, static_cast<unsigned long long>(ops), secs,
              summary.c_str());
}

INSTANTIATE_TEST_SUITE_P(
    Configs, FsxTest,
    ::testing::Values(
        // Defaults: 128 KiB blocks, background encoder pool, big caches.
        FsxConfig{"default", {}, 128 << 10, 24 << 20, 384 << 10, 1},
        // 4 KiB blocks and tiny caches and dirty limits: every write crosses
        // blocks, the dirty limits force synchronous stores, the cache evicts.
        FsxConfig{"small_blocks",
                  {"block_size=4K", "cache_size=64K", "dirty_file_limit=32K", "dirty_limit=128K"},
                  4 << 10, 2 << 20, 40 << 10, 1}),
    [](const ::testing::TestParamInfo<FsxConfig>& i) { return std::string(i.param.name); });

}  // namespace
}  // namespace pmklc::mt
