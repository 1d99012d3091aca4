// cm_gpu — the batch driver (engine/models/cm_batch.h) on a GPU against the
// CPU, for the balanced profile's streams (issue #18): the A/C/G/T of the
// input files are cut into blocks of B bases, dealt round-robin into N
// streams (the files repeat when N blocks outnumber them), and coded
//   cpu1  one CPU thread (the first 4 streams: the per-core speed);
//   cpuW  every CPU thread;
//   gpu   the GPU batch;
// then the GPU's bytes are compared with the CPU's stream by stream, the
// CPU's bytes decoded on the GPU and the GPU's on the CPU.
//
// Usage: pmklc_cm_gpu [-b BASES] [-n STREAMS] [-p balanced|max] FILE...
//   Default: -b 1048576 -n 256 -p balanced
// Prints a table. Exit: 0 when everything matched (or no GPU: CPU rows
// only), 1 on any mismatch or error.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "engine/models/cm_batch.h"
#include "bench/bench_util.h"
#include "kernels/device.h"

using namespace pmklc;

namespace {

using bench::Bases;
using bench::Now;

}  // namespace

int main(int argc, char** argv) {
  size_t block = size_t{1} << 20, n = 256;
  CmParams profile = CmParams::Balanced();
  bool max = false;
  std::vector<const char*> files;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "-p") && i + 1 < argc) {
      max = !std::strcmp(argv[++i], "max");
      profile = max ? CmParams::Max() : CmParams::Balanced();
    } else if (!std::strcmp(argv[i], "-b") && i + 1 < argc) block = std::strtoull(argv[++i], nullptr, 0);
    else if (!std::strcmp(argv[i], "-n") && i + 1 < argc) n = std::strtoull(argv[++i], nullptr, 0);
    else files.push_back(argv[i]);
  }
  if (files.empty() || block == 0 || n == 0) {
    std::fprintf(stderr, "usage: pmklc_cm_gpu [-b BASES] [-n STREAMS] FILE...\n");
    return 2;
  }
  // The blocks of every file, then N streams dealt from them.
  std::vector<std::vector<uint8_t>> blocks;
  for (const char* f : files) {
    const auto c = Bases(f);
    for (size_t at = 0; at < c.size(); at += block)
      blocks.emplace_back(c.begin() + at, c.begin() + std::min(c.size(), at + block));
  }
  if (blocks.empty()) {
    std::fprintf(stderr, "pmklc_cm_gpu: no bases in the inputs\n");
    return 2;
  }
  std::vector<const std::vector<uint8_t>*> s(n);
  size_t bases = 0;
  for (size_t i = 0; i < n; ++i) bases += (s[i] = &blocks[i % blocks.size()])->size();
  auto items = [&](std::vector<std::string>* out, size_t count) {
    out->assign(count, std::string());
    std::vector<CmEncodeItem> v(count);
    for (size_t i = 0; i < count; ++i)
      v[i] = {profile.FitTo(s[i]->size()), s[i]->data(), s[i]->size(), &(*out)[i]};
    return v;
  };
  const int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  CmBatchOptions cpu;
  cpu.device.kind = DeviceChoice::kCpu;
  bool bad = false;
  std::printf("streams %zu of up to %zu bases (%zu blocks from %zu files), %.1f MB of bases\n", n, block,
              blocks.size(), files.size(), bases / 1e6);
  std::printf("%-28s %10s %12s %10s\n", "run", "seconds", "MB/s", "bits/base");
  // One CPU thread, a few streams: the per-core speed.
  const size_t few = std::min<size_t>(n, 4);
  size_t few_bases = 0;
  for (size_t i = 0; i < few; ++i) few_bases += s[i]->size();
  std::vector<std::string> one;
  auto it1 = items(&one, few);
  cpu.threads = 1;
  double t = Now();
  if (!CmEncodeBatch(it1, cpu).ok()) bad = true;
  const double cpu1 = few_bases / (Now() - t) / 1e6;
  std::printf("%-28s %10.2f %12.2f %10s\n", "encode cpu, 1 thread", Now() - t, cpu1, "");
  // Every CPU thread.
  std::vector<std::string> by_cpu;
  auto itc = items(&by_cpu, n);
  cpu.threads = threads;
  t = Now();
  Status st = CmEncodeBatch(itc, cpu);
  const double tc = Now() - t;
  size_t bytes = 0;
  for (auto& o : by_cpu) bytes += o.size();
  std::printf("%-28s %10.2f %12.2f %10.4f\n", ("encode cpu, " + std::to_string(threads) + " threads").c_str(), tc,
              bases / tc / 1e6, 8.0 * bytes / bases);
  if (!st.ok()) {
    std::printf("cpu encode failed: %s\n", st.ToString().c_str());
    return 1;
  }
  std::printf("cpu %d threads / 1 thread: %.2fx\n", threads, (bases / tc / 1e6) / cpu1);
  auto g = kernels::ListGpus();
  if (!g.ok()) {
    std::printf("no GPU: %s (CPU rows only)\n", g.status().message().c_str());
    return bad ? 1 : 0;
  }
  std::printf("GPU %d: %s, %zu MiB\n", (*g)[0].index, (*g)[0].name.c_str(), (*g)[0].memory_bytes >> 20);
  CmBatchOptions gpu;
  gpu.device.kind = DeviceChoice::kCuda;
  gpu.device.gpu = (*g)[0].index;
  gpu.threads = threads;
  // Warm-up: module load and the first allocation stay out of the timing.
  {
    std::vector<std::string> w;
    auto iw = items(&w, 1);
    (void)CmEncodeBatch(iw, gpu);
  }
  std::vector<std::string> by_gpu;
  auto itg = items(&by_gpu, n);
  CmBatchReport rep;
  t = Now();
  st = CmEncodeBatch(itg, gpu, &rep);
  const double tg = Now() - t;
  std::printf("%-28s %10.2f %12.2f %10s\n", "encode gpu", tg, bases / tg / 1e6, "");
  if (!st.ok() || rep.on_gpu != n) {
    std::printf("gpu encode: %s, %zu of %zu streams on the GPU %s\n", st.ToString().c_str(), rep.on_gpu, n,
                rep.gpu_error.c_str());
    bad = true;
  }
  size_t differ = 0;
  for (size_t i = 0; i < n; ++i) differ += by_gpu[i] != by_cpu[i];
  // The CPU's bytes decoded on the GPU, the GPU's on the CPU.
  std::vector<std::vector<uint8_t>> back(n);
  auto dec = [&](const std::vector<std::string>& coded, const CmBatchOptions& o, const char* name) {
    std::vector<CmDecodeItem> d(n);
    for (size_t i = 0; i < n; ++i) {
      back[i].assign(s[i]->size(), 0xff);
      d[i] = {profile.FitTo(s[i]->size()), coded[i], s[i]->size(), back[i].data()};
    }
    const double t0 = Now();
    Status ds = CmDecodeBatch(d, o);
    const double td = Now() - t0;
    size_t wrong = 0;
    for (size_t i = 0; i < n; ++i) wrong += back[i] != *s[i];
    std::printf("%-28s %10.2f %12.2f %10s\n", name, td, bases / td / 1e6, ds.ok() && !wrong ? "exact" : "WRONG");
    if (!ds.ok() || wrong) bad = true;
  };
  dec(by_cpu, gpu, "decode gpu (cpu-coded)");
  dec(by_gpu, cpu, "decode cpu (gpu-coded)");
  std::printf("\n| streams | block | cpu 1 thread MB/s | cpu %d threads MB/s | gpu MB/s | gpu / 1 core | bytes equal |\n",
              threads);
  std::printf("|---|---|---|---|---|---|---|\n");
  std::printf("| %zu | %zu | %.2f | %.2f | %.2f | %.1fx | %s |\n", n, block, cpu1, bases / tc / 1e6, bases / tg / 1e6,
              (bases / tg / 1e6) / cpu1, differ ? "NO" : "yes");
  if (differ) {
    std::printf("%zu of %zu streams differ between the GPU and the CPU\n", differ, n);
    bad = true;
  }
  return bad ? 1 : 0;
}
