// toknet_gpu — the token network's step kernels (kernels/toknet.h) on the
// CPU and, when a GPU is present, on CUDA: B independent dynamic networks run
// T steps each (forward, then SGD update), their probabilities and final
// weights compared bit for bit, and steps per second printed for both.
//
// Usage: pmklc_toknet_gpu [B] [T]   (default 64 streams x 2000 steps)
// Exit: 0 when the GPU matched (or no GPU: CPU timing only), 1 on mismatch.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "engine/models/toknet_predictor.h"
#include "kernels/device.h"
#include "kernels/toknet.h"

using namespace pmklc;

int main(int argc, char** argv) {
  const int B = argc > 1 ? std::atoi(argv[1]) : 64, T = argc > 2 ? std::atoi(argv[2]) : 2000;
  const kernels::TokNetShape sh{3, 3, 32, 64};  // the neural profile's first DM
  const std::vector<float> w0 = TokNetInitialWeights(sh, 5);
  std::mt19937 g(1);
  std::vector<uint32_t> tok(size_t(B) * T * sh.ctx);
  std::vector<int32_t> y(size_t(B) * T);
  for (auto& t : tok) t = g() % (sh.vocab() + 1);
  for (auto& t : y) t = g() % sh.outputs();
  std::vector<float> pc(size_t(B) * T * sh.outputs()), pg(pc.size()), wc, wg;
  auto t0 = std::chrono::steady_clock::now();
  for (int b = 0; b < B; ++b) {
    std::vector<float> w = w0, h(sh.hidden), z(sh.outputs()), s(sh.hidden);
    for (int t = 0; t < T; ++t) {
      const uint32_t* in = &tok[(size_t(b) * T + t) * sh.ctx];
      float* p = &pc[(size_t(b) * T + t) * sh.outputs()];
      kernels::TokNetForwardCpu(sh, w.data(), in, h.data(), z.data(), p);
      kernels::TokNetUpdateCpu(sh, w.data(), in, h.data(), p, y[size_t(b) * T + t], 0.01f, s.data());
    }
    wc.insert(wc.end(), w.begin(), w.end());
  }
  const double cpu_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("| kernel | streams | steps each | seconds | steps/s | bases/s (3 per step) |\n|---|---|---|---|---|---|\n");
  std::printf("| CPU, one core | %d | %d | %.3f | %.0f | %.0f |\n", B, T, cpu_s, B * double(T) / cpu_s,
              3 * B * double(T) / cpu_s);
  auto gpus = kernels::ListGpus();
  if (!gpus.ok()) {
    std::printf("\nno GPU: %s\n", gpus.status().message().c_str());
    return 0;
  }
  for (int b = 0; b < B; ++b) wg.insert(wg.end(), w0.begin(), w0.end());
  t0 = std::chrono::steady_clock::now();
  Status st = kernels::TokNetRunCuda(sh, wg.data(), B, T, tok.data(), y.data(), 0.01f, pg.data());
  const double gpu_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!st.ok()) {
    std::printf("GPU run failed: %s\n", st.ToString().c_str());
    return 1;
  }
  const bool same = std::memcmp(pc.data(), pg.data(), pc.size() * 4) == 0 &&
                    std::memcmp(wc.data(), wg.data(), wc.size() * 4) == 0;
  std::printf("| GPU %s (incl. copies) | %d | %d | %.3f | %.0f | %.0f |\n", (*gpus)[0].name.c_str(), B, T, gpu_s,
              B * double(T) / gpu_s, 3 * B * double(T) / gpu_s);
  std::printf("\nGPU vs CPU: %s\n", same ? "bit-identical probabilities and weights" : "MISMATCH");
  return same ? 0 : 1;
}
