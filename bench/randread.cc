// randread FILE [COUNT] [SEED] [REGION] — random 4 KiB pread latency: prints
// "p50_us p99_us mean_us count". Reads are 4 KiB aligned, readahead is turned
// off with POSIX_FADV_RANDOM so each read reaches the filesystem.
// REGION (bytes, Default: 0): each read in another REGION-aligned stretch of
// the file (at most size / REGION reads), so that with REGION = the archived
// group size every read of an uncached file decodes a group of its own.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: randread FILE [COUNT] [SEED]\n");
    return 2;
  }
  int count = argc > 2 ? std::atoi(argv[2]) : 2000;
  unsigned seed = argc > 3 ? static_cast<unsigned>(std::atoi(argv[3])) : 1;
  int fd = open(argv[1], O_RDONLY);
  if (fd < 0) { std::perror(argv[1]); return 1; }
  posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
  struct stat st;
  fstat(fd, &st);
  const off_t pages = st.st_size / 4096;
  if (pages < 1) { std::fprintf(stderr, "file too small\n"); return 1; }
  const long long region = argc > 4 ? std::atoll(argv[4]) : 0;
  std::mt19937_64 g(seed);
  std::vector<off_t> offs;
  if (region >= 4096) {
    std::vector<off_t> starts;
    for (off_t s = 0; s + 4096 <= st.st_size; s += region) starts.push_back(s);
    std::shuffle(starts.begin(), starts.end(), g);
    if (static_cast<size_t>(count) > starts.size()) count = static_cast<int>(starts.size());
    for (int i = 0; i < count; ++i) {
      const off_t span = std::min<off_t>(region, st.st_size - starts[i]) / 4096;
      offs.push_back(starts[i] + static_cast<off_t>(g() % static_cast<uint64_t>(span)) * 4096);
    }
  } else {
    for (int i = 0; i < count; ++i) offs.push_back(static_cast<off_t>(g() % static_cast<uint64_t>(pages)) * 4096);
  }
  std::vector<double> us;
  us.reserve(count);
  char buf[4096];
  for (int i = 0; i < count; ++i) {
    const off_t off = offs[i];
    auto t0 = std::chrono::steady_clock::now();
    ssize_t n = pread(fd, buf, sizeof buf, off);
    auto t1 = std::chrono::steady_clock::now();
    if (n != 4096) { std::fprintf(stderr, "short read at %lld\n", (long long)off); return 1; }
    us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  double mean = 0;
  for (double v : us) mean += v;
  mean /= us.size();
  std::sort(us.begin(), us.end());
  std::printf("%.1f %.1f %.1f %d\n", us[us.size() / 2], us[us.size() * 99 / 100], mean, count);
  return 0;
}
