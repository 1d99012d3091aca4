// The daemon's integration with its callers: systemd readiness (sd_notify),
// the fstab mount helper name, and one-line errors from the CLI.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>

namespace {

namespace fs = std::filesystem;

struct Tmp {
  std::string path;
  Tmp() {
    std::string t = (fs::temp_directory_path() / "pmklc-cli-XXXXXX").string();
    path = mkdtemp(t.data());
  }
  ~Tmp() {
    std::string cmd = "fusermount3 -u -z " + path + "/mnt 2>/dev/null";
    (void)!system(cmd.c_str());
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

bool CanMount() { return getuid() == 0 && access("/dev/fuse", R_OK | W_OK) == 0; }

bool IsMounted(const std::string& mnt) {
  struct stat a, b;
  if (stat(mnt.c_str(), &a) != 0 || stat((mnt + "/..").c_str(), &b) != 0) return false;
  return a.st_dev != b.st_dev;
}

bool WaitFor(const std::function<bool()>& f, int ms) {
  for (int i = 0; i < ms / 20; ++i) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return f();
}

// Runs a shell command, returns {exit status, combined output}.
std::pair<int, std::string> Sh(const std::string& cmd) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

int Lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

// n pseudo-random bases from an LCG: bits [shift, shift+2) of each state.
std::string RandomBases(uint32_t seed, int n, int shift = 20) {
  std::string s;
  for (int i = 0; i < n; ++i) {
    seed = seed * 1103515245u + 12345u;
    s.push_back("ACGT"[(seed >> shift) & 3]);
  }
  return s;
}

std::string Slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  EXPECT_TRUE(f.good()) << path;
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A one-record FASTA file of seq in lines of `width`.
void WriteFasta(const std::string& path, const std::string& name, const std::string& seq, size_t width) {
  std::ofstream f(path);
  f << ">" << name << "\n";
  for (size_t i = 0; i < seq.size(); i += width) f << seq.substr(i, width) << "\n";
}

// The command failed and said `msg`.
void ExpectFails(const std::pair<int, std::string>& r, const std::string& msg) {
  EXPECT_NE(r.first, 0) << r.second;
  EXPECT_NE(r.second.find(msg), std::string::npos) << r.second;
}

TEST(Cli, SendsReadyOnlyOnceTheMountIsLive) {
  if (!CanMount()) GTEST_SKIP() << "needs root and /dev/fuse";
  Tmp t;
  fs::create_directories(t.path + "/mnt");
  std::string sock = t.path + "/notify.sock";
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock.c_str());
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  timeval tv{20, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    setenv("NOTIFY_SOCKET", sock.c_str(), 1);
    std::string store = t.path + "/store", mnt = t.path + "/mnt", log = t.path + "/log";
    freopen(log.c_str(), "w", stderr);
    execl(PMKLC_BIN, "pmklc", "mount", "-f", store.c_str(), mnt.c_str(), nullptr);
    _exit(127);
  }
  char buf[512];
  ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
  ASSERT_GT(n, 0) << "no sd_notify message within 20 s";
  buf[n] = '\0';
  EXPECT_NE(std::string(buf).find("READY=1"), std::string::npos) << buf;
  // READY is sent after the mount is live.
  EXPECT_TRUE(IsMounted(t.path + "/mnt"));
  std::ofstream(t.path + "/mnt/f") << "data";
  EXPECT_EQ(Sh("fusermount3 -u " + t.path + "/mnt").first, 0);
  int st = 0;
  ASSERT_TRUE(WaitFor([&] { return waitpid(pid, &st, WNOHANG) == pid; }, 20000));
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
  if (n > 0) {
    buf[n] = '\0';
    EXPECT_NE(std::string(buf).find("STOPPING=1"), std::string::npos);
  }
  close(fd);
}

TEST(Cli, FstabHelperNameMountsWithMountOptions) {
  if (!CanMount()) GTEST_SKIP() << "needs root and /dev/fuse";
  Tmp t;
  fs::create_directories(t.path + "/mnt");
  std::string helper = t.path + "/mount.fuse.pmklcfs";
  fs::create_symlink(PMKLC_BIN, helper);
  // mount(8) runs: /sbin/mount.fuse.pmklcfs SOURCE TARGET -o OPTIONS
  auto [rc, out] = Sh(helper + " " + t.path + "/store " + t.path + "/mnt -o rw,nosuid,nodev,allow_other,_netdev");
  ASSERT_EQ(rc, 0) << out;
  EXPECT_TRUE(IsMounted(t.path + "/mnt"));
  auto m = Sh("grep ' " + t.path + "/mnt ' /proc/self/mounts");
  EXPECT_NE(m.second.find("fuse.pmklcfs"), std::string::npos) << m.second;
  EXPECT_NE(m.second.find("allow_other"), std::string::npos) << m.second;
  EXPECT_EQ(Sh("fusermount3 -u " + t.path + "/mnt").first, 0);
}

TEST(Cli, ErrorsAreOneLineAndNonZero) {
  Tmp t;
  fs::create_directories(t.path + "/notastore");
  std::ofstream(t.path + "/notastore/x") << "user data";
  fs::create_directories(t.path + "/mnt");
  auto r = Sh(std::string(PMKLC_BIN) + " mount " + t.path + "/notastore " + t.path + "/mnt");
  EXPECT_NE(r.first, 0);
  EXPECT_EQ(Lines(r.second), 1) << r.second;
  EXPECT_NE(r.second.find("not a pmklcfs store"), std::string::npos) << r.second;
  EXPECT_TRUE(fs::exists(t.path + "/notastore/x"));  // nothing touched

  r = Sh(std::string(PMKLC_BIN) + " stat " + t.path + "/missing");
  EXPECT_EQ(r.first, 1);
  EXPECT_EQ(Lines(r.second), 1) << r.second;
  r = Sh(std::string(PMKLC_BIN) + " fsck " + t.path + "/missing");
  EXPECT_EQ(r.first, 2);
  EXPECT_EQ(Lines(r.second), 1) << r.second;
  r = Sh(std::string(PMKLC_BIN) + " mount " + t.path + "/s " + t.path + "/nodir");
  EXPECT_NE(r.first, 0);
  EXPECT_EQ(Lines(r.second), 1) << r.second;
  r = Sh(std::string(PMKLC_BIN) + " mount -o zstd_level=99 " + t.path + "/s " + t.path + "/mnt");
  EXPECT_NE(r.first, 0);
  EXPECT_NE(r.second.find("zstd_level"), std::string::npos) << r.second;
  r = Sh(std::string(PMKLC_BIN) + " --version");
  EXPECT_EQ(r.first, 0);
  EXPECT_NE(r.second.find("pmklc "), std::string::npos);
  r = Sh(std::string(PMKLC_BIN) + " --help");
  EXPECT_EQ(r.first, 0);
  EXPECT_NE(r.second.find("Examples:"), std::string::npos);
}

// compress --ref (issue #6): a mutated copy codes against its original far
// smaller than alone, decodes byte-exact with the same reference, and says
// what is wrong without it or with another file.
TEST(Cli, CompressAgainstAReferenceFile) {
  Tmp t;
  const std::string bin = PMKLC_BIN;
  const std::string ref = t.path + "/ref.fa", mut = t.path + "/mut.fa";
  const std::string seq = RandomBases(777, 400000);
  std::string var = seq;
  for (size_t i = 100; i < var.size(); i += 250) var[i] = var[i] == 'A' ? 'G' : 'A';  // point mutations
  var.insert(200000, "ACGTTTGACCA");
  WriteFasta(ref, "strain A", seq, 70);
  WriteFasta(mut, "strain B", var, 70);
  auto r = Sh(bin + " compress -p max -B 256K -o " + t.path + "/alone.pmklc " + mut + " && " + bin +
              " compress -p max -B 256K --ref " + ref + " -o " + t.path + "/ref.pmklc " + mut);
  ASSERT_EQ(r.first, 0) << r.second;
  const auto alone = fs::file_size(t.path + "/alone.pmklc"), dep = fs::file_size(t.path + "/ref.pmklc");
  EXPECT_LT(dep * 5, alone) << dep << " vs " << alone;
  r = Sh(bin + " decompress --ref " + ref + " -c " + t.path + "/ref.pmklc | cmp - " + mut);
  EXPECT_EQ(r.first, 0) << r.second;
  ExpectFails(Sh(bin + " decompress -f -o " + t.path + "/x.out " + t.path + "/ref.pmklc"), "give it with --ref");
  ExpectFails(Sh(bin + " decompress -f --ref " + mut + " -o " + t.path + "/x.out " + t.path + "/ref.pmklc"),
              "not the one");
  ExpectFails(Sh(bin + " compress -p neural --ref " + ref + " -o " + t.path + "/n.pmklc " + mut),
              "--ref works with");
}

// compress --collection OUT FILES (issue #6): a collection container; related members
// code against each other, every member comes back byte-exact, one member
// decodes on its own, and misuse gets a clear error.
TEST(Cli, CollectionContainer) {
  Tmp t;
  const std::string bin = PMKLC_BIN;
  const std::string a = RandomBases(4242, 300000), c = RandomBases(4242, 300000, 8);
  std::string b = a;
  for (size_t i = 50; i < b.size(); i += 300) b[i] = b[i] == 'C' ? 'T' : 'C';
  WriteFasta(t.path + "/a.fa", "a.fa", a, 60);
  WriteFasta(t.path + "/b.fa", "b.fa", b, 60);
  WriteFasta(t.path + "/c.fa", "c.fa", c, 60);  // unrelated to a and b
  {
    std::ofstream e(t.path + "/empty.txt");
  }
  auto r = Sh("cd " + t.path + " && " + bin + " compress -p max -B 128K -v --collection all.pmklc a.fa b.fa c.fa empty.txt");
  ASSERT_EQ(r.first, 0) << r.second;
  EXPECT_NE(r.second.find("4 members (1 coded against others)"), std::string::npos) << r.second;
  r = Sh("cd " + t.path + " && for f in a b c; do " + bin + " compress -p max -B 128K $f.fa || exit 1; done");
  ASSERT_EQ(r.first, 0) << r.second;
  const auto all = fs::file_size(t.path + "/all.pmklc");
  const auto alone = fs::file_size(t.path + "/a.fa.pmklc") + fs::file_size(t.path + "/b.fa.pmklc") +
                     fs::file_size(t.path + "/c.fa.pmklc");
  EXPECT_LT(all * 3, alone * 2) << all << " vs " << alone;  // b costs little next to a
  r = Sh("cd " + t.path + " && " + bin + " decompress all.pmklc && cmp all/a.fa a.fa && cmp all/b.fa b.fa && "
         "cmp all/c.fa c.fa && cmp all/empty.txt empty.txt");
  EXPECT_EQ(r.first, 0) << r.second;
  r = Sh("cd " + t.path + " && " + bin + " decompress -m b.fa -c all.pmklc | cmp - b.fa");
  EXPECT_EQ(r.first, 0) << r.second;
  const std::string in_dir = "cd " + t.path + " && " + bin;
  ExpectFails(Sh(in_dir + " decompress -m nope.fa -c all.pmklc"), "members: a.fa, b.fa, c.fa, empty.txt");
  ExpectFails(Sh(in_dir + " decompress -c - < all.pmklc"), "not a pipe");
  ExpectFails(Sh(in_dir + " compress --collection x.pmklc a.fa a.fa"), "two members would be named a.fa");
  ExpectFails(Sh(in_dir + " compress -o x.pmklc a.fa b.fa"), "-o names the output of one input");
  // A damaged block of the referenced member: the dependent member fails
  // cleanly, never with wrong bytes.
  r = Sh("cd " + t.path + " && cp all.pmklc bad.pmklc && printf 'X' | dd of=bad.pmklc bs=1 seek=4000 conv=notrunc "
         "status=none && " + bin + " decompress -m b.fa -f -o out.fa bad.pmklc");
  EXPECT_NE(r.first, 0) << r.second;
  EXPECT_FALSE(fs::exists(t.path + "/out.fa"));
}

// pmklc compress/decompress: files, pipes, and honest errors.
TEST(Cli, CompressDecompressFilesAndPipes) {
  Tmp t;
  std::string in = t.path + "/g.fa";
  {
    std::ofstream f(in);
    for (int r = 0; r < 300; ++r) {
      f << ">seq=" << r << " len=500\n";
      for (int i = 0; i < 500; ++i) f << "ACGTNacgtRY"[(r * 7 + i * 13) % 11];
      f << "\n";
    }
  }
  std::string bin = PMKLC_BIN;
  auto r = Sh(bin + " compress " + in);
  ASSERT_EQ(r.first, 0) << r.second;
  ASSERT_TRUE(fs::exists(in + ".pmklc"));
  r = Sh(bin + " compress " + in);  // exists: refuse without -f
  EXPECT_NE(r.first, 0);
  EXPECT_NE(r.second.find("exists"), std::string::npos) << r.second;
  r = Sh(bin + " decompress -c " + in + ".pmklc | cmp - " + in);
  EXPECT_EQ(r.first, 0) << r.second;
  r = Sh("cat " + in + " | " + bin + " compress - | " + bin + " decompress - | cmp - " + in);
  EXPECT_EQ(r.first, 0) << r.second;
  fs::rename(in, in + ".orig");
  r = Sh(bin + " decompress " + in + ".pmklc && cmp " + in + " " + in + ".orig");
  EXPECT_EQ(r.first, 0) << r.second;
  // Truncated container: one-line error, non-zero exit, no output file left.
  auto size = fs::file_size(in + ".pmklc");
  fs::resize_file(in + ".pmklc", size - 7);
  r = Sh(bin + " decompress -f -o " + t.path + "/out.fa " + in + ".pmklc");
  EXPECT_NE(r.first, 0);
  EXPECT_EQ(Lines(r.second), 1) << r.second;
  EXPECT_NE(r.second.find("truncated"), std::string::npos) << r.second;
  EXPECT_FALSE(fs::exists(t.path + "/out.fa"));
  r = Sh(bin + " compress -p neural --private " + t.path + "/missing.pmkm -o " + t.path + "/x " + in + ".orig");
  EXPECT_NE(r.first, 0);
  EXPECT_EQ(Lines(r.second), 1) << r.second;
  EXPECT_NE(r.second.find("missing.pmkm"), std::string::npos) << r.second;
  r = Sh(bin + " compress -p max --private " + in + ".orig -o " + t.path + "/x " + in + ".orig");
  EXPECT_NE(r.first, 0);
  EXPECT_NE(r.second.find("--private needs -p neural"), std::string::npos) << r.second;
  r = Sh(bin + " compress -p neural -j 0 -o " + t.path + "/x " + in + ".orig");
  EXPECT_NE(r.first, 0);
  for (const char* p : {"balanced", "max", "neural"}) {
    r = Sh(bin + " compress -f -p " + std::string(p) + " -o " + t.path + "/z.pmklc " + in + ".orig && " + bin +
           " decompress -c " + t.path + "/z.pmklc | cmp - " + in + ".orig");
    EXPECT_EQ(r.first, 0) << p << ": " << r.second;
  }
  // Nucleotide FASTA (the input above goes to the generic codecs): the
  // neural profile's options, byte-exact, and the same bytes for every -j.
  std::string dna = t.path + "/dna.fa";
  {
    std::ofstream f(dna);
    f << ">chr1 test\n";
    uint32_t x = 12345;
    std::string seq;
    for (int i = 0; i < 300000; ++i) {
      x = x * 1103515245u + 12345u;
      seq.push_back(i > 2000 && (x >> 16) % 4 == 0 ? seq[i - 1500] : "ACGT"[(x >> 20) & 3]);
    }
    for (size_t i = 0; i < seq.size(); i += 60) f << seq.substr(i, 60) << "\n";
  }
  for (const char* p : {"neural -B 128K", "neural -B 128K -j 3", "neural -B 128K --no-smp --models dm --no-select"}) {
    r = Sh(bin + " compress -f -p " + std::string(p) + " -o " + t.path + "/d.pmklc " + dna + " && " + bin +
           " decompress -j 2 -c " + t.path + "/d.pmklc | cmp - " + dna);
    EXPECT_EQ(r.first, 0) << p << ": " << r.second;
  }
  r = Sh(bin + " compress -f -p neural -B 128K -o " + t.path + "/d1.pmklc " + dna + " && " + bin +
         " compress -f -p neural -B 128K -j 3 -o " + t.path + "/d3.pmklc " + dna + " && cmp " + t.path + "/d1.pmklc " +
         t.path + "/d3.pmklc");
  EXPECT_EQ(r.first, 0) << "-j must not change the container: " << r.second;
  // max keeps the context of earlier blocks unless --independent-blocks;
  // both decode byte-exact with -j 2, and neither depends on -j.
  r = Sh(bin + " compress -f -p max -B 128K -o " + t.path + "/w.pmklc " + dna + " && " + bin +
         " compress -f -p max -B 128K --independent-blocks -o " + t.path + "/i1.pmklc " + dna + " && " + bin +
         " compress -f -p max -B 128K --independent-blocks -j 3 -o " + t.path + "/i3.pmklc " + dna + " && cmp " +
         t.path + "/i1.pmklc " + t.path + "/i3.pmklc && " + bin + " decompress -j 2 -c " + t.path +
         "/w.pmklc | cmp - " + dna + " && " + bin + " decompress -j 2 -c " + t.path + "/i1.pmklc | cmp - " + dna);
  EXPECT_EQ(r.first, 0) << r.second;
  r = Sh("cmp -s " + t.path + "/w.pmklc " + t.path + "/i1.pmklc");
  EXPECT_NE(r.first, 0) << "--independent-blocks must change how max codes a multi-block file";
  // (the container flags, bytes 10-11: bit 3 says blocks code against earlier ones)
  r = Sh("od -An -tu1 -j10 -N1 " + t.path + "/w.pmklc; od -An -tu1 -j10 -N1 " + t.path + "/i1.pmklc");
  ASSERT_EQ(r.first, 0);
  {
    std::istringstream fl(r.second);
    int wf = -1, inf = -1;
    fl >> wf >> inf;
    EXPECT_TRUE(wf & 8) << r.second;
    EXPECT_FALSE(inf & 8) << r.second;
  }
  r = Sh(bin + " compress -p neural --models dm,gpt -o " + t.path + "/bad.pmklc " + dna);
  EXPECT_NE(r.first, 0);
  EXPECT_NE(r.second.find("unknown network"), std::string::npos) << r.second;
  r = Sh(bin + " decompress -o " + t.path + "/y " + in + ".orig");
  EXPECT_NE(r.first, 0);
  EXPECT_NE(r.second.find("not a pmklc container"), std::string::npos) << r.second;
}

// Memory stays bounded whatever the input: a 1 GiB line with no newline
// goes through compress and decompress in a few MiB.
TEST(Cli, OneGiBLineWithoutNewlineInBoundedMemory) {
  Tmp t;
  std::string bin = PMKLC_BIN;
  std::string c = t.path + "/line.pmklc";
  // 1 GiB of ACGT, no newline at all, generated on the fly.
  const std::string gen = "yes ACGTTGCAACGTTGCAACGTTGCAACGTTGCAACGTTGCAACGTTGCAACGTTGCAACGTTGC | tr -d '\\n' | head -c 1073741824";
  // Runs pmklc with args (paths; FIFOs allowed) under peak_rss, which
  // measures pmklc's own peak RSS (a child forked from this test process
  // would also count this process's memory: it grows as the binary runs its
  // other tests).
  const std::string rss_file = t.path + "/peak_rss";
  auto run_pmklc = [&](std::vector<std::string> args, long* maxrss_kb) {
    pid_t pid = fork();
    if (pid == 0) {
      std::vector<std::string> all{"peak_rss", rss_file, PMKLC_BIN};
      all.insert(all.end(), args.begin(), args.end());
      std::vector<char*> argv;
      for (auto& a : all) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(PEAK_RSS_BIN, argv.data());
      _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    *maxrss_kb = -1;
    std::ifstream(rss_file) >> *maxrss_kb;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  };
  std::string fifo = t.path + "/in.fifo", back = t.path + "/out.fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  ASSERT_EQ(mkfifo(back.c_str(), 0600), 0);
  pid_t gpid = fork();
  if (gpid == 0) {
    execl("/bin/sh", "sh", "-c", (gen + " > " + fifo).c_str(), nullptr);
    _exit(127);
  }
  long rss_c = 0;
  ASSERT_EQ(run_pmklc({"compress", "-o", c, fifo}, &rss_c), 0);
  waitpid(gpid, nullptr, 0);
  EXPECT_GT(rss_c, 0) << "no peak RSS from peak_rss";
  EXPECT_LT(rss_c, 64 * 1024) << "compress peak RSS " << rss_c << " KiB";
  EXPECT_LT(fs::file_size(c), (1u << 30) / 4 + (1u << 20));  // 2 bits per base
  // Decompress into a FIFO that a checker compares with the generator.
  pid_t cpid = fork();
  if (cpid == 0) {
    execl("/bin/bash", "bash", "-c", ("cmp " + back + " <(" + gen + ")").c_str(), nullptr);
    _exit(127);
  }
  long rss_d = 0;
  ASSERT_EQ(run_pmklc({"decompress", "-f", "-o", back, c}, &rss_d), 0);
  int st = 0;
  waitpid(cpid, &st, 0);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "decompressed bytes differ";
  EXPECT_GT(rss_d, 0) << "no peak RSS from peak_rss";
  EXPECT_LT(rss_d, 64 * 1024) << "decompress peak RSS " << rss_d << " KiB";
}

TEST(Cli, DevicesReportsNoGpuCleanly) {
  auto r = Sh(std::string(PMKLC_BIN) + " devices");
  EXPECT_EQ(r.first, 0) << r.second;
  EXPECT_TRUE(r.second.find("GPU") != std::string::npos) << r.second;
}

// --device (issue #18): the same container bytes on every device; without a
// GPU, auto and cpu code on the CPU and cuda is refused with one line,
// before any output exists; a bad name is refused the same way.
TEST(Cli, CompressDeviceChoice) {
  Tmp t;
  std::string fa;
  for (int i = 0; i < 6; ++i) fa += ">chr" + std::to_string(i) + "\n" + RandomBases(40 + i, 120000) + "\n";
  std::ofstream(t.path + "/g.fa") << fa;
  const std::string bin(PMKLC_BIN);
  auto r = Sh(bin + " compress -p balanced -B 128K -j 3 -c " + t.path + "/g.fa > " + t.path + "/plain.pmklc");
  ASSERT_EQ(r.first, 0) << r.second;
  for (const char* dev : {"cpu", "auto"}) {
    r = Sh(bin + " compress -p balanced -B 128K --device " + dev + " -c " + t.path + "/g.fa > " + t.path + "/d.pmklc");
    ASSERT_EQ(r.first, 0) << dev << ": " << r.second;
    EXPECT_EQ(Slurp(t.path + "/d.pmklc"), Slurp(t.path + "/plain.pmklc")) << dev;
    r = Sh(bin + " decompress --device " + std::string(dev) + " -c " + t.path + "/d.pmklc > " + t.path + "/back.fa");
    ASSERT_EQ(r.first, 0) << r.second;
    EXPECT_EQ(Slurp(t.path + "/back.fa"), fa);
  }
  // neural: auto without a GPU is the CPU (its chained blocks, the same bytes)
  r = Sh(bin + " compress -p neural -B 256K -j 3 -c " + t.path + "/g.fa > " + t.path + "/n.pmklc");
  ASSERT_EQ(r.first, 0) << r.second;
  const bool gpu = Sh(bin + " devices").second.find("no GPU") == std::string::npos;
  if (!gpu) {
    r = Sh(bin + " compress -p neural -B 256K -j 3 --device auto -c " + t.path + "/g.fa > " + t.path + "/nd.pmklc");
    ASSERT_EQ(r.first, 0) << r.second;
    EXPECT_EQ(Slurp(t.path + "/nd.pmklc"), Slurp(t.path + "/n.pmklc"));
  }
  for (const char* bad : {"--device gpu", "--device cuda:x", gpu ? "--device cuda:99" : "--device cuda"}) {
    r = Sh(bin + " compress -p balanced " + bad + " -o " + t.path + "/bad.pmklc " + t.path + "/g.fa");
    EXPECT_NE(r.first, 0) << bad;
    EXPECT_EQ(Lines(r.second), 1) << bad << ": " << r.second;
    EXPECT_NE(r.second.find("device"), std::string::npos) << r.second;
    EXPECT_FALSE(fs::exists(t.path + "/bad.pmklc")) << bad << " left an output";
    r = Sh(bin + " decompress " + bad + " -o " + t.path + "/bad.fa " + t.path + "/plain.pmklc");
    EXPECT_NE(r.first, 0) << bad;
    EXPECT_EQ(Lines(r.second), 1) << r.second;
    EXPECT_FALSE(fs::exists(t.path + "/bad.fa"));
  }
  if (!gpu) return;
  // With a GPU: the GPU codes balanced's streams, with the CPU's bytes.
  r = Sh(bin + " compress -v -p balanced -B 128K --device cuda -c " + t.path + "/g.fa 2>" + t.path + "/err > " +
         t.path + "/g.pmklc");
  ASSERT_EQ(r.first, 0) << Slurp(t.path + "/err");
  EXPECT_EQ(Slurp(t.path + "/g.pmklc"), Slurp(t.path + "/plain.pmklc"));
  EXPECT_NE(Slurp(t.path + "/err").find("on the GPU"), std::string::npos) << Slurp(t.path + "/err");
  // and neural's sub-blocks (the neural batch driver), decoded on the CPU
  r = Sh(bin + " compress -v -p neural -B 256K -j 3 --device cuda -c " + t.path + "/g.fa 2>" + t.path + "/err > " +
         t.path + "/ng.pmklc");
  ASSERT_EQ(r.first, 0) << Slurp(t.path + "/err");
  EXPECT_EQ(Slurp(t.path + "/ng.pmklc"), Slurp(t.path + "/n.pmklc"));
  EXPECT_NE(Slurp(t.path + "/err").find("neural sub-blocks"), std::string::npos) << Slurp(t.path + "/err");
  r = Sh(bin + " decompress --device cpu -c " + t.path + "/ng.pmklc > " + t.path + "/back.fa");
  ASSERT_EQ(r.first, 0) << r.second;
  EXPECT_EQ(Slurp(t.path + "/back.fa"), fa);
}


// gzip's rules: every argument is an input, each goes to FILE.pmklc, and
// nothing is ever overwritten by its own output or another input's (issue
// #16: `compress -f a.fa b.fa` used to overwrite the FASTA b.fa).
TEST(Cli, EveryArgumentIsAnInputAndNoInputIsOverwritten) {
  Tmp t;
  const std::string bin = PMKLC_BIN;
  WriteFasta(t.path + "/a.fa", "a", RandomBases(7, 50000), 60);
  WriteFasta(t.path + "/b.fa", "b", RandomBases(8, 50000), 60);
  const std::string b_before = Slurp(t.path + "/b.fa");
  const std::string in_dir = "cd " + t.path + " && " + bin;
  auto r = Sh(in_dir + " compress -f a.fa b.fa");
  ASSERT_EQ(r.first, 0) << r.second;
  EXPECT_EQ(Slurp(t.path + "/b.fa"), b_before) << "b.fa must stay the FASTA file it was";
  EXPECT_TRUE(fs::exists(t.path + "/a.fa.pmklc"));
  EXPECT_TRUE(fs::exists(t.path + "/b.fa.pmklc"));
  // An output that is an input is refused before anything is written, -f or not.
  r = Sh(in_dir + " compress -f -o b.fa b.fa");
  EXPECT_EQ(r.first, 1) << r.second;
  EXPECT_NE(r.second.find("would overwrite the input"), std::string::npos) << r.second;
  EXPECT_EQ(Slurp(t.path + "/b.fa"), b_before);
  r = Sh(in_dir + " decompress -f -o b.fa b.fa b.fa.pmklc");  // two inputs, -o: usage
  EXPECT_EQ(r.first, 2) << r.second;
  EXPECT_EQ(Slurp(t.path + "/b.fa"), b_before);
  // The same file under another name (a symlink) is still the input.
  r = Sh("cd " + t.path + " && ln -s b.fa bl.fa && " + bin + " compress -f -o bl.fa b.fa");
  EXPECT_EQ(r.first, 1) << r.second;
  EXPECT_EQ(Slurp(t.path + "/b.fa"), b_before);
  // Several inputs with -o or -c: usage errors (2).
  r = Sh(in_dir + " compress -o x.pmklc a.fa b.fa");
  EXPECT_EQ(r.first, 2) << r.second;
  r = Sh(in_dir + " compress -c a.fa b.fa");
  EXPECT_EQ(r.first, 2) << r.second;
  r = Sh(in_dir + " compress --no-such-flag a.fa");
  EXPECT_EQ(r.first, 2) << r.second;
  // An input that is already a container, and a missing input: errors (1).
  r = Sh(in_dir + " compress a.fa.pmklc");
  EXPECT_EQ(r.first, 1) << r.second;
  EXPECT_NE(r.second.find("--collection"), std::string::npos) << r.second;
  r = Sh(in_dir + " compress missing.fa");
  EXPECT_EQ(r.first, 1) << r.second;
  // decompress: each beside its container; without -f nothing is replaced.
  r = Sh(in_dir + " decompress a.fa.pmklc b.fa.pmklc");
  EXPECT_EQ(r.first, 1) << r.second;
  EXPECT_NE(r.second.find("exists"), std::string::npos) << r.second;
  fs::rename(t.path + "/b.fa", t.path + "/b.orig");
  r = Sh(in_dir + " decompress -f a.fa.pmklc b.fa.pmklc && cmp b.fa b.orig");
  EXPECT_EQ(r.first, 0) << r.second;
  // -l lists members.
  r = Sh(in_dir + " compress --collection ab.pmklc a.fa b.fa && " + bin + " decompress -l ab.pmklc");
  ASSERT_EQ(r.first, 0) << r.second;
  EXPECT_NE(r.second.find("\ta.fa"), std::string::npos) << r.second;
  EXPECT_NE(r.second.find("\tb.fa"), std::string::npos) << r.second;
}

// Every example in `pmklc compress --help` and `pmklc decompress --help`
// runs as written (in a folder holding genome.fa, a.fa and b.fa).
TEST(Cli, HelpExamplesWorkAsWritten) {
  Tmp t;
  const std::string bin = PMKLC_BIN;
  WriteFasta(t.path + "/genome.fa", "g", RandomBases(9, 40000), 60);
  WriteFasta(t.path + "/a.fa", "a", RandomBases(10, 40000), 60);
  WriteFasta(t.path + "/b.fa", "b", RandomBases(10, 40000, 3), 60);
  const std::string path = "PATH=" + fs::path(bin).parent_path().string() + ":$PATH";
  int ran = 0;
  for (const char* cmd : {"compress", "decompress"}) {
    auto h = Sh(bin + " " + cmd + " --help");
    ASSERT_EQ(h.first, 0) << h.second;
    std::istringstream lines(h.second);
    bool in_examples = false;
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("Examples:", 0) == 0) { in_examples = true; continue; }
      if (!in_examples || line.rfind("  pmklc ", 0) != 0 && line.rfind("  cat ", 0) != 0) continue;
      std::string ex = line.substr(2, line.find("  #") == std::string::npos ? std::string::npos : line.find("  #") - 2);
      auto r = Sh("cd " + t.path + " && " + path + " && " + ex);
      EXPECT_EQ(r.first, 0) << "example failed: " << ex << "\n" << r.second;
      ++ran;
    }
  }
  EXPECT_GE(ran, 10);
  EXPECT_TRUE(fs::exists(t.path + "/ab/b.fa"));
  auto r = Sh("cd " + t.path + " && cmp b2.fa b.fa && cmp ab/a.fa a.fa");
  EXPECT_EQ(r.first, 0) << r.second;
}

}  // namespace
