// neural_gpu — the neural batch driver (engine/models/neural_batch.h) on a
// GPU against the CPU (issue #18): the A/C/G/T of the input files are cut
// into blocks of B bases, dealt round-robin into N sub-block streams of the
// neural profile (the default DMs, and the shipped SPuM when this build has
// one), chained in runs of C as a container's blocks are (each starts
// from the previous one's DMs at 5%), and coded
//   cpu1  one CPU thread (2 unchained streams: the per-core speed);
//   cpuW  every CPU thread (CPU slices);
//   gpu   the GPU (CUDA slices);
// then the GPU's bytes are compared with the CPU's stream by stream, and
// each side's bytes are decoded on the other.
//
// Usage: pmklc_neural_gpu [-b BASES] [-n STREAMS] [-c CHAIN] FILE...
//   Default: -b 262144 -n 256 -c 8
// Prints a table. Exit: 0 when everything matched (or no GPU: CPU rows
// only), 1 on any mismatch or error.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "engine/models/neural_batch.h"
#include "engine/models/toknet_model.h"
#include "bench/bench_util.h"
#include "kernels/device.h"

using namespace pmklc;
namespace kn = pmklc::kernels::neuralk;

namespace {

using bench::Bases;
using bench::Now;

// N streams' jobs with their chain links (fresh each run).
struct Run {
  std::vector<neural::Header> h;
  std::vector<std::unique_ptr<DmLink>> link;
  std::vector<neural::SubJob> job;
  std::vector<neural::SubJob*> ptr;
  std::vector<std::string> bytes;
  std::vector<std::vector<uint8_t>> back;
};

}  // namespace

int main(int argc, char** argv) {
  size_t block = 262144, n = 256, chain = 8;
  std::vector<const char*> files;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "-b") && i + 1 < argc) block = std::strtoull(argv[++i], nullptr, 0);
    else if (!std::strcmp(argv[i], "-n") && i + 1 < argc) n = std::strtoull(argv[++i], nullptr, 0);
    else if (!std::strcmp(argv[i], "-c") && i + 1 < argc) chain = std::strtoull(argv[++i], nullptr, 0);
    else files.push_back(argv[i]);
  }
  if (files.empty() || block == 0 || n == 0 || chain == 0) {
    std::fprintf(stderr, "usage: pmklc_neural_gpu [-b BASES] [-n STREAMS] [-c CHAIN] FILE...\n");
    return 2;
  }
  std::vector<std::vector<uint8_t>> blocks;
  for (const char* f : files) {
    const auto c = Bases(f);
    for (size_t at = 0; at + block <= c.size(); at += block) blocks.emplace_back(c.begin() + at, c.begin() + at + block);
  }
  if (blocks.empty()) {
    std::fprintf(stderr, "pmklc_neural_gpu: no block of %zu bases in the inputs\n", block);
    return 2;
  }
  const NeuralOptions o;
  auto spum = ShippedPublicModel();
  neural::Header base;
  base.models = kUseDm | (spum ? kUseSpum : 0);
  base.cm = o.cm;
  base.extra_mix = static_cast<uint8_t>(o.extra_mix);
  base.dms = o.dms;
  for (size_t d = 0; d < o.dms.size(); ++d) base.dm_seeds.push_back(0x706d6b6c63646d31ull + d);
  base.spum_id = spum ? spum->id : 0;
  base.smp_percent = o.smp_percent;

  // count streams from the first; encode (coded == null) or decode coded.
  auto make = [&](Run* r, size_t count, size_t links, const std::vector<std::string>* coded) {
    r->h.assign(count, base);
    r->link.clear();
    for (size_t i = 0; i <= count; ++i) {
      r->link.push_back(std::make_unique<DmLink>());
      r->link.back()->Reset(o.dms.size());
    }
    r->job.assign(count, {});
    r->ptr.clear();
    r->bytes.assign(count, {});
    r->back.assign(count, {});
    for (size_t i = 0; i < count; ++i) {
      const auto& b = blocks[i % blocks.size()];
      neural::Header& h = r->h[i];
      h.chain_pos = static_cast<uint32_t>(i % links);
      h.sub_n = {b.size()};
      neural::SubJob& j = r->job[i];
      j.h = &h;
      j.in = h.chain_pos ? r->link[i].get() : nullptr;
      j.out = (i + 1) % links ? r->link[i + 1].get() : nullptr;
      j.snap_at = j.out ? neural::SnapshotAt(b.size(), o.smp_percent) : 0;
      j.spum = spum.get();
      j.n = b.size();
      if (!coded) {
        j.codes = b.data();
        j.bytes = &r->bytes[i];
      } else {
        j.encode = false;
        r->back[i].assign(b.size(), 9);
        j.in_bytes = (*coded)[i];
        j.dcodes = r->back[i].data();
      }
      r->ptr.push_back(&j);
    }
  };
  auto go = [&](Run* r, kn::Slices* s) -> Status {
    std::vector<bool> done;
    Status st = RunNeuralJobs(r->ptr, s, size_t{1} << 16, &done);
    if (!st.ok()) return st;
    for (auto* j : r->ptr)
      if (!j->st.ok()) return j->st;
    return Status::OK();
  };
  const int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  bool bad = false;
  const double mb = n * block / 1e6;
  std::printf("neural: %zu streams of %zu bases in chains of %zu (%zu blocks from %zu files), %.1f MB; DMs%s\n", n,
              block, chain, blocks.size(), files.size(), mb, spum ? " + SPuM" : "");
  std::printf("%-30s %10s %12s %10s\n", "run", "seconds", "MB/s", "bits/base");
  Run one;
  make(&one, 2, 1, nullptr);
  auto c1 = kn::NewCpuSlices(&CmMaxTables(), 1);
  double t = Now();
  Status st = go(&one, c1.get());
  const double cpu1 = 2 * block / (Now() - t) / 1e6;
  std::printf("%-30s %10.2f %12.3f\n", "encode cpu, 1 thread", Now() - t, cpu1);
  if (!st.ok()) {
    std::printf("cpu encode failed: %s\n", st.ToString().c_str());
    return 1;
  }
  Run cpu;
  make(&cpu, n, chain, nullptr);
  auto cw = kn::NewCpuSlices(&CmMaxTables(), threads);
  t = Now();
  st = go(&cpu, cw.get());
  const double tc = Now() - t;
  size_t bytes = 0;
  for (auto& b : cpu.bytes) bytes += b.size();
  std::printf("%-30s %10.2f %12.3f %10.4f\n", ("encode cpu, " + std::to_string(threads) + " threads").c_str(), tc,
              mb / tc, 8.0 * bytes / (n * block));
  if (!st.ok()) {
    std::printf("cpu encode failed: %s\n", st.ToString().c_str());
    return 1;
  }
  auto g = kernels::ListGpus();
  if (!g.ok()) {
    std::printf("no GPU: %s (CPU rows only)\n", g.status().message().c_str());
    return bad ? 1 : 0;
  }
  auto gs = kn::NewCudaSlices(CmMaxTables(), (*g)[0].index);
  if (!gs.ok()) {
    std::printf("gpu: %s\n", gs.status().ToString().c_str());
    return 1;
  }
  Run gpu;
  make(&gpu, n, chain, nullptr);
  t = Now();
  st = go(&gpu, gs->get());
  const double tg = Now() - t;
  std::printf("%-30s %10.2f %12.3f\n", "encode gpu", tg, mb / tg);
  if (!st.ok()) {
    std::printf("gpu encode failed: %s\n", st.ToString().c_str());
    bad = true;
  }
  size_t differ = 0;
  for (size_t i = 0; i < n; ++i) differ += gpu.bytes[i] != cpu.bytes[i];
  auto dec = [&](const std::vector<std::string>& coded, kn::Slices* s, const char* name) {
    Run d;
    make(&d, n, chain, &coded);
    const double t0 = Now();
    Status ds = go(&d, s);
    const double td = Now() - t0;
    size_t wrong = 0;
    for (size_t i = 0; i < n; ++i) wrong += d.back[i] != blocks[i % blocks.size()];
    std::printf("%-30s %10.2f %12.3f %10s\n", name, td, mb / td, ds.ok() && !wrong ? "exact" : "WRONG");
    if (!ds.ok() || wrong) bad = true;
  };
  dec(cpu.bytes, gs->get(), "decode gpu (cpu-coded)");
  dec(gpu.bytes, cw.get(), "decode cpu (gpu-coded)");
  std::printf("\n| neural streams | block | cpu 1 thread MB/s | cpu %d threads MB/s | gpu MB/s | gpu / 1 core | bytes equal |\n",
              threads);
  std::printf("|---|---|---|---|---|---|---|\n");
  std::printf("| %zu (chains of %zu) | %zu | %.3f | %.3f | %.3f | %.1fx | %s |\n", n, chain, block, cpu1, mb / tc, mb / tg,
              (mb / tg) / cpu1, differ ? "NO" : "yes");
  if (differ) {
    std::printf("%zu of %zu streams differ between the GPU and the CPU\n", differ, n);
    bad = true;
  }
  return bad ? 1 : 0;
}
