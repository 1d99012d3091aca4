// mount_fixture.cc — see mount_fixture.h.
#include "tests/mount/mount_fixture.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#ifndef PMKLC_BIN
#error "PMKLC_BIN must be defined (path of the pmklc binary)"
#endif
#ifndef PMKLC_SOURCE_DIR
#error "PMKLC_SOURCE_DIR must be defined"
#endif

namespace pmklc::mt {

namespace {

using Clock = std::chrono::steady_clock;

std::string Env(const char* name, const std::string& def) {
  const char* v = std::getenv(name);
  return (v && *v) ? std::string(v) : def;
}

// fork+exec argv with stdout/stderr appended to log (or /dev/null); returns pid.
pid_t Spawn(const std::vector<std::string>& argv, const std::string& log) {
  std::vector<char*> av;
  for (auto& a : argv) av.push_back(const_cast<char*>(a.c_str()));
  av.push_back(nullptr);
  pid_t pid = fork();
  if (pid != 0) return pid;
  int fd = open(log.empty() ? "/dev/null" : log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (nul >= 0) dup2(nul, 0);
  if (fd >= 0) {
    dup2(fd, 1);
    dup2(fd, 2);
  }
  for (int i = 3; i < 1024; ++i) close(i);
  execv(av[0], av.data());
  _exit(127);
}

// Waits for pid up to timeout; returns true and the status when it exited.
bool WaitPid(pid_t pid, double timeout_s, int* status) {
  auto end = Clock::now() + std::chrono::duration<double>(timeout_s);
  while (true) {
    pid_t r = waitpid(pid, status, WNOHANG);
    if (r == pid) return true;
    if (r < 0 && errno != EINTR) { *status = -1; return true; }
    if (Clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

int RunArgv(const std::vector<std::string>& argv, const std::string& log, double timeout_s = 60) {
  pid_t pid = Spawn(argv, log);
  if (pid < 0) return -1;
  int st = 0;
  if (!WaitPid(pid, timeout_s, &st)) {
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

std::string DescribeStatus(int st) {
  if (WIFEXITED(st)) return "exit " + std::to_string(WEXITSTATUS(st));
  if (WIFSIGNALED(st)) return std::string("signal ") + strsignal(WTERMSIG(st));
  return "status " + std::to_string(st);
}

std::string Tail(const std::string& s, size_t max_lines) {
  size_t pos = s.size(), lines = 0;
  while (pos > 0) {
    size_t nl = s.rfind('\n', pos - 1);
    if (nl == std::string::npos) { pos = 0; break; }
    if (++lines > max_lines) { pos = nl + 1; break; }
    pos = nl;
  }
  return s.substr(pos);
}

// Processes with a descriptor, cwd or root inside dir (why an unmount is busy).
std::string Holders(const std::string& dir) {
  namespace fs = std::filesystem;
  std::string out;
  std::error_code ec;
  for (auto& p : fs::directory_iterator("/proc", ec)) {
    std::string pid = p.path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    auto inside = [&](const fs::path& link) {
      std::error_code e2;
      std::string t = fs::read_symlink(link, e2).string();
      if (!e2 && (t == dir || t.rfind(dir + "/", 0) == 0)) {
        std::string comm;
        ReadFile(p.path().string() + "/comm", &comm);
        if (!comm.empty() && comm.back() == '\n') comm.pop_back();
        out += "  pid " + pid + " (" + comm + ") " + link.filename().string() + " -> " + t + "\n";
      }
    };
    inside(p.path() / "cwd");
    inside(p.path() / "root");
    for (auto& fd : fs::directory_iterator(p.path() / "fd", ec)) inside(fd.path());
  }
  return out.empty() ? "  (no process holds a file there)\n" : out;
}

}  // namespace

const std::string& PmklcBin() {
  static const std::string bin = Env("PMKLC_TEST_BIN", PMKLC_BIN);
  return bin;
}

// ---- helpers -------------------------------------------------------------------

std::string ToString(const SysR& r) {
  if (r.ret >= 0) return "ret " + std::to_string(r.ret);
  return "ret " + std::to_string(r.ret) + " errno " + std::to_string(r.err) + " (" + strerrorname_np(r.err) + ")";
}

uint64_t JsonField(const std::string& json, const std::string& key, const std::string& after) {
  size_t from = after.empty() ? 0 : json.find("\"" + after + "\"");
  if (from == std::string::npos) return 0;
  auto p = json.find("\"" + key + "\":", from);
  if (p == std::string::npos) return 0;
  return std::stoull(json.substr(p + key.size() + 3));
}

int Sh(const std::string& cmd, std::string* out) {
  std::string full = cmd + " 2>&1";
  FILE* p = popen(full.c_str(), "r");
  if (!p) return -1;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0)
    if (out) out->append(buf, n);
  int st = pclose(p);
  if (st == -1 || !WIFEXITED(st)) return -1;
  return WEXITSTATUS(st);
}

std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') q += "'\\''";
    else q += c;
  }
  return q + "'";
}

int ReadFile(const std::string& path, std::string* out) {
  out->clear();
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  struct stat st;
  if (fstat(fd, &st) == 0 && st.st_size > 0) out->reserve(static_cast<size_t>(st.st_size));
  std::vector<char> buf(1 << 20);
  while (true) {
    ssize_t n = read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      close(fd);
      return e;
    }
    if (n == 0) break;
    out->append(buf.data(), static_cast<size_t>(n));
  }
  return close(fd) == 0 ? 0 : errno;
}

int WriteFile(const std::string& path, const std::string& data, int mode) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return errno;
  ssize_t n = PwriteAll(fd, data.data(), data.size(), 0);
  if (n < 0) {
    close(fd);
    return static_cast<int>(-n);
  }
  return close(fd) == 0 ? 0 : errno;
}

ssize_t PreadAll(int fd, char* buf, size_t n, off_t off) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = pread(fd, buf + done, n - done, off + static_cast<off_t>(done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  return static_cast<ssize_t>(done);
}

ssize_t PwriteAll(int fd, const char* buf, size_t n, off_t off) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = pwrite(fd, buf + done, n - done, off + static_cast<off_t>(done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (r == 0) return -EIO;
    done += static_cast<size_t>(r);
  }
  return static_cast<ssize_t>(done);
}

std::string PatternBytes(size_t n, uint64_t seed) {
  std::string s(n, '\0');
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    std::memcpy(&s[i], &x, 8);
  }
  for (; i < n; ++i) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    s[i] = static_cast<char>(x);
  }
  return s;
}

std::string Md5OfFile(const std::string& path) {
  std::string out;
  if (Sh("md5sum < " + Quote(path), &out) != 0 || out.size() < 32) return "";
  return out.substr(0, 32);
}

bool IsMountpoint(const std::string& path) {
  struct stat a, b;
  std::string parent = std::filesystem::path(path).parent_path().string();
  if (lstat(path.c_str(), &a) != 0) return errno == ENOTCONN;  // a dead FUSE mount
  if (stat(parent.c_str(), &b) != 0) return false;
  return a.st_dev != b.st_dev;
}

size_t FirstDiff(const std::string& a, const std::string& b) {
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i)
    if (a[i] != b[i]) return i;
  return a.size() == b.size() ? std::string::npos : n;
}

// ---- corpus ----------------------------------------------------------------------

bool EnsureCorpus(std::vector<CorpusFile>* files, std::string* why) {
  static std::once_flag once;
  static bool ok = false;
  static std::string reason;
  static std::vector<CorpusFile> list;
  std::call_once(once, [] {
    namespace fs = std::filesystem;
    const std::string data = std::string(PMKLC_SOURCE_DIR) + "/../shared/data";
    const std::string script = data + "/corpus";
    const std::string dir = Env("PMKLC_TEST_CORPUS", "/tmp/pmklc-test-corpus");
    if (access(script.c_str(), X_OK) != 0) {
      reason = "corpus script " + script + " is missing";
      return;
    }
    std::error_code ec;
    fs::create_directories(dir, ec);
    std::string out;
    int rc = Sh("timeout 300 " + Quote(script) + " " + Quote(dir) +
                    " train eval collection robust dnacorpus",
                &out);
    if (rc != 0) {
      reason = "shared/data/corpus failed (exit " + std::to_string(rc) + "): " + Tail(out, 5);
      return;
    }
    std::ifstream tsv(data + "/corpus.tsv");
    std::string line;
    while (std::getline(tsv, line)) {
      if (line.empty() || line[0] == '#') continue;
      std::istringstream ls(line);
      std::string name, role, pkg, path, unpack, md5, bytes;
      std::getline(ls, name, '\t');
      std::getline(ls, role, '\t');
      std::getline(ls, pkg, '\t');
      std::getline(ls, path, '\t');
      std::getline(ls, unpack, '\t');
      std::getline(ls, md5, '\t');
      std::getline(ls, bytes, '\t');
      list.push_back({name, role, dir + "/" + name + ".fa", std::stoull(bytes)});
    }
    for (auto& e : fs::directory_iterator(data + "/dnacorpus", ec)) {
      if (!e.is_regular_file()) continue;
      std::string n = e.path().filename().string();
      list.push_back({n, "dnacorpus", dir + "/" + n, static_cast<uint64_t>(e.file_size())});
    }
    for (auto& f : list) {
      struct stat st;
      if (stat(f.path.c_str(), &st) != 0 || static_cast<uint64_t>(st.st_size) != f.bytes) {
        reason = "corpus file " + f.path + " is missing or has the wrong size";
        return;
      }
    }
    if (list.empty()) {
      reason = "corpus.tsv lists no files";
      return;
    }
    ok = true;
  });
  if (!ok) {
    *why = reason;
    return false;
  }
  *files = list;
  return true;
}

const CorpusFile* FindCorpus(const std::vector<CorpusFile>& files, const std::string& name) {
  for (auto& f : files)
    if (f.name == name) return &f;
  return nullptr;
}

// ---- fixture -----------------------------------------------------------------------

bool MountTest::Usable(std::string* why) {
  if (geteuid() != 0) { *why = "mount tests need root"; return false; }
  if (access("/dev/fuse", R_OK | W_OK) != 0) { *why = "/dev/fuse is not available"; return false; }
  if (Sh("command -v fusermount3 >/dev/null") != 0) { *why = "fusermount3 is not installed"; return false; }
  if (access(PmklcBin().c_str(), X_OK) != 0) { *why = "pmklc binary missing: " + PmklcBin(); return false; }
  return true;
}

void MountTest::SetUp() {
  std::string why;
  if (!Usable(&why)) {
    skipped_ = true;
    GTEST_SKIP() << why;
  }
  std::string tmpl = Env("PMKLC_TEST_TMPDIR", "/tmp") + "/pmklc-mt-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr) << strerror(errno);
  tmp_ = tmpl;
  // Other uids (permission tests) must be able to reach mnt/ and native/.
  ASSERT_EQ(chmod(tmp_.c_str(), 0755), 0);
  store_ = tmp_ + "/store";
  mnt_ = tmp_ + "/mnt";
  native_ = tmp_ + "/native";
  log_ = tmp_ + "/daemon.log";
  ASSERT_EQ(mkdir(mnt_.c_str(), 0755), 0);
  ASSERT_EQ(mkdir(native_.c_str(), 0755), 0);
  ASSERT_TRUE(Mount());
}

::testing::AssertionResult MountTest::Mount() {
  if (pid_ > 0) return ::testing::AssertionFailure() << "already mounted";
  std::string opts = "allow_other";
  for (auto& o : ExtraMountOptions()) opts += "," + o;
  {
    std::ofstream l(log_, std::ios::app);
    l << "---- pmklc mount -f " << store_ << " " << mnt_ << " -o " << opts << "\n";
  }
  pid_ = Spawn({PmklcBin(), "mount", "-f", store_, mnt_, "-o", opts}, log_);
  if (pid_ < 0) return ::testing::AssertionFailure() << "fork failed: " << strerror(errno);
  auto end = Clock::now() + std::chrono::seconds(20);
  while (Clock::now() < end) {
    int st = 0;
    pid_t r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return ::testing::AssertionFailure() << "pmklc mount exited (" << DescribeStatus(st)
                                           << ") before the mount was live; log:\n" << Tail(DaemonLog(), 40);
    }
    if (IsMountpoint(mnt_)) return ::testing::AssertionSuccess();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  KillDaemon();
  return ::testing::AssertionFailure() << "mount not live after 20 s; log:\n" << Tail(DaemonLog(), 40);
}

::testing::AssertionResult MountTest::Unmount(int timeout_s) {
  if (pid_ <= 0) return ::testing::AssertionFailure() << "not mounted";
  // EBUSY while the kernel still holds the last references: retry for 10 s.
  int rc = -1;
  for (int i = 0; i < 100; ++i) {
    rc = RunArgv({"/usr/bin/env", "fusermount3", "-u", mnt_}, log_);
    if (rc == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (rc != 0)
    return ::testing::AssertionFailure() << "fusermount3 -u " << mnt_ << " failed for 10 s (busy?); holders:\n"
                                         << Holders(mnt_);
  return WaitDaemon(timeout_s);
}

::testing::AssertionResult MountTest::LazyUnmount() {
  int rc = RunArgv({"/usr/bin/env", "fusermount3", "-u", "-z", mnt_}, log_);
  if (rc != 0) return ::testing::AssertionFailure() << "fusermount3 -u -z failed: exit " << rc;
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult MountTest::WaitDaemon(int timeout_s) {
  if (pid_ <= 0) return ::testing::AssertionFailure() << "no daemon";
  int st = 0;
  if (!WaitPid(pid_, timeout_s, &st)) {
    pid_t p = pid_;
    KillDaemon();
    return ::testing::AssertionFailure() << "daemon " << p << " did not exit within " << timeout_s
                                         << " s after unmount (killed); log:\n" << Tail(DaemonLog(), 40);
  }
  pid_ = -1;
  if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0))
    return ::testing::AssertionFailure() << "daemon ended with " << DescribeStatus(st) << "; log:\n"
                                         << Tail(DaemonLog(), 40);
  return ::testing::AssertionSuccess();
}

void MountTest::KillDaemon() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    int st;
    waitpid(pid_, &st, 0);
    pid_ = -1;
  }
  if (IsMountpoint(mnt_)) {
    RunArgv({"/usr/bin/env", "fusermount3", "-u", "-z", mnt_}, log_);
    if (IsMountpoint(mnt_)) umount2(mnt_.c_str(), MNT_DETACH);
  }
}

int MountTest::Fsck(std::string* out) {
  std::string o;
  int rc = Sh(Quote(PmklcBin()) + " fsck " + Quote(store_), &o);
  if (out) *out = o;
  return rc;
}

std::string MountTest::DaemonLog() const {
  std::string s;
  ReadFile(log_, &s);
  return s;
}

bool MountTest::RequireCorpus(std::vector<CorpusFile>* files) {
  std::string why;
  if (EnsureCorpus(files, &why)) return true;
  [&] { GTEST_SKIP() << "real genomes unavailable, skipping: " << why; }();
  return false;
}

void MountTest::TearDown() {
  if (skipped_ || tmp_.empty()) return;
  if (pid_ > 0) {
    auto u = Unmount(60);
    if (!u) {
      ADD_FAILURE() << "teardown unmount: " << u.message();
      KillDaemon();
    }
  } else if (IsMountpoint(mnt_)) {
    KillDaemon();
  }
  const bool failed = HasFailure();
  if (failed) {
    std::string log = DaemonLog();
    std::fprintf(stderr, "==== daemon log (%s), last lines ====\n%s==== end of daemon log ====\n",
                 log_.c_str(), Tail(log, 80).c_str());
  }
  if (failed && Env("PMKLC_TEST_KEEP", "") == "1") {
    std::fprintf(stderr, "keeping %s\n", tmp_.c_str());
    return;
  }
  if (IsMountpoint(mnt_)) {
    ADD_FAILURE() << mnt_ << " is still mounted; not removing " << tmp_;
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(tmp_, ec);
  if (ec) std::fprintf(stderr, "could not remove %s: %s\n", tmp_.c_str(), ec.message().c_str());
}

}  // namespace pmklc::mt
