// CUDA variant of the token-network kernels (contract in kernels/toknet.h).
// Built with --fmad=false: every a * b + c below is a rounded multiply then a
// rounded add, in the order of the CPU variant, so the bits match.
// One thread block per stream; threads over hidden units / outputs; each
// thread's sums run in the CPU's order.
#include <cuda_runtime.h>

#include <vector>

#include "kernels/device.h"
#include "kernels/nn_math.h"
#include "kernels/toknet.h"

namespace pmklc::kernels {

namespace {

__global__ void TokenizeKernel(const uint8_t* codes, size_t n, int s, int k, size_t t,
                               uint32_t* tokens) {
  size_t j = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (j >= t) return;
  uint32_t v = 0;
  for (int i = 0; i < k; ++i) {
    size_t p = j * s + i;
    v = (v << 2) | (p < n ? (codes[p] & 3u) : 0u);
  }
  tokens[j] = v;
}

__device__ float Dot8Dev(const float* a, const float* b, int n) {
  float l[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int o = 0;
  for (; o + 8 <= n; o += 8)
    for (int j = 0; j < 8; ++j) l[j] = __fadd_rn(l[j], __fmul_rn(a[o + j], b[o + j]));
  for (; o < n; ++o) l[o & 7] = __fadd_rn(l[o & 7], __fmul_rn(a[o], b[o]));
  return __fadd_rn(__fadd_rn(__fadd_rn(l[0], l[1]), __fadd_rn(l[2], l[3])),
                   __fadd_rn(__fadd_rn(l[4], l[5]), __fadd_rn(l[6], l[7])));
}

// Shared memory: h_pre[H], u[H], z[O], p[O], g[O].
__global__ void TokNetKernel(TokNetShape sh, float* weights, int steps, const uint32_t* tokens,
                             const int32_t* targets, float lr, float* probs_out) {
  extern __shared__ float sm[];
  const int H = sh.hidden, O = sh.outputs();
  float* h_pre = sm;
  float* u = h_pre + H;
  float* z = u + H;
  float* p = z + O;
  float* g = p + O;
  const int b = blockIdx.x;
  float* w = weights + static_cast<size_t>(b) * sh.weight_count();
  const size_t rows = static_cast<size_t>(sh.vocab()) + 1;
  for (int t = 0; t < steps; ++t) {
    const uint32_t* tok = tokens + (static_cast<size_t>(b) * steps + t) * sh.ctx;
    for (int i = threadIdx.x; i < H; i += blockDim.x) {
      float acc = w[sh.b1_at() + i];
      for (int c = 0; c < sh.ctx; ++c) acc = __fadd_rn(acc, w[(c * rows + tok[c]) * H + i]);
      h_pre[i] = acc;
    }
    __syncthreads();
    const float* w2 = w + sh.w2_at();
    for (int o = threadIdx.x; o < O; o += blockDim.x) {
      float acc = w[sh.b2_at() + o];
      for (int i = 0; i < H; ++i) {
        const float hi = h_pre[i];
        if (!(hi > 0.0f)) continue;
        acc = __fadd_rn(acc, __fmul_rn(hi, w2[static_cast<size_t>(i) * O + o]));
      }
      z[o] = acc;
    }
    __syncthreads();
    if (threadIdx.x == 0) nn::Softmax(z, O, p);
    __syncthreads();
    float* out = probs_out + (static_cast<size_t>(b) * steps + t) * O;
    for (int o = threadIdx.x; o < O; o += blockDim.x) out[o] = p[o];
    if (!(lr > 0.0f)) {
      __syncthreads();
      continue;
    }
    const int target = targets[static_cast<size_t>(b) * steps + t];
    for (int o = threadIdx.x; o < O; o += blockDim.x) g[o] = o == target ? __fsub_rn(p[o], 1.0f) : p[o];
    __syncthreads();
    float* w2m = w + sh.w2_at();
    for (int i = threadIdx.x; i < H; i += blockDim.x) {
      const float hi = h_pre[i];
      if (!(hi > 0.0f)) {
        u[i] = 0.0f;
        continue;
      }
      float* r = w2m + static_cast<size_t>(i) * O;
      u[i] = __fmul_rn(lr, Dot8Dev(r, g, O));
      const float a = __fmul_rn(lr, hi);
      for (int o = 0; o < O; ++o) r[o] = __fsub_rn(r[o], __fmul_rn(a, g[o]));
    }
    for (int o = threadIdx.x; o < O; o += blockDim.x)
      w[sh.b2_at() + o] = __fsub_rn(w[sh.b2_at() + o], __fmul_rn(lr, g[o]));
    __syncthreads();
    for (int i = threadIdx.x; i < H; i += blockDim.x) {
      for (int c = 0; c < sh.ctx; ++c) {
        float* e = w + (c * rows + tok[c]) * H;
        e[i] = __fsub_rn(e[i], u[i]);
      }
      w[sh.b1_at() + i] = __fsub_rn(w[sh.b1_at() + i], u[i]);
    }
    __syncthreads();
  }
}

Status Check(cudaError_t e) {
  if (e == cudaSuccess) return Status::OK();
  return Status::IOError(std::string("CUDA: ") + cudaGetErrorString(e));
}

}  // namespace

Status TokenizeCuda(const uint8_t* codes, size_t n, int s, int k, uint32_t* tokens) {
  auto gpus = ListGpus();
  if (!gpus.ok()) return gpus.status();
  const size_t t = TokenCount(n, s, k);
  if (t == 0) return Status::OK();
  uint8_t* dc = nullptr;
  uint32_t* dt = nullptr;
  Status st = Check(cudaMalloc(&dc, n));
  if (st.ok()) st = Check(cudaMalloc(&dt, t * 4));
  if (st.ok()) st = Check(cudaMemcpy(dc, codes, n, cudaMemcpyHostToDevice));
  if (st.ok()) {
    const unsigned threads = 256;
    TokenizeKernel<<<static_cast<unsigned>((t + threads - 1) / threads), threads>>>(dc, n, s, k, t, dt);
    st = Check(cudaMemcpy(tokens, dt, t * 4, cudaMemcpyDeviceToHost));
  }
  (void)cudaFree(dc);
  (void)cudaFree(dt);
  return st;
}

Status TokNetRunCuda(const TokNetShape& sh, float* w, int batch, int steps, const uint32_t* tokens,
                     const int32_t* targets, float lr, float* probs) {
  auto gpus = ListGpus();
  if (!gpus.ok()) return gpus.status();
  if (!sh.Valid() || batch <= 0 || steps <= 0) return Status::InvalidArgument("toknet: bad shape");
  const size_t nw = sh.weight_count() * batch, nt = size_t(batch) * steps * sh.ctx,
               ny = size_t(batch) * steps, np = size_t(batch) * steps * sh.outputs();
  float *dw = nullptr, *dp = nullptr;
  uint32_t* dt = nullptr;
  int32_t* dy = nullptr;
  Status st = Check(cudaMalloc(&dw, nw * 4));
  if (st.ok()) st = Check(cudaMalloc(&dt, nt * 4));
  if (st.ok()) st = Check(cudaMalloc(&dy, ny * 4));
  if (st.ok()) st = Check(cudaMalloc(&dp, np * 4));
  if (st.ok()) st = Check(cudaMemcpy(dw, w, nw * 4, cudaMemcpyHostToDevice));
  if (st.ok()) st = Check(cudaMemcpy(dt, tokens, nt * 4, cudaMemcpyHostToDevice));
  if (st.ok() && targets) st = Check(cudaMemcpy(dy, targets, ny * 4, cudaMemcpyHostToDevice));
  if (st.ok()) {
    const size_t shmem = (2 * size_t(sh.hidden) + 3 * size_t(sh.outputs())) * 4;
    TokNetKernel<<<batch, 128, shmem>>>(sh, dw, steps, dt, dy, targets ? lr : 0.0f, dp);
    st = Check(cudaGetLastError());
  }
  if (st.ok()) st = Check(cudaMemcpy(probs, dp, np * 4, cudaMemcpyDeviceToHost));
  if (st.ok()) st = Check(cudaMemcpy(w, dw, nw * 4, cudaMemcpyDeviceToHost));
  (void)cudaFree(dw);
  (void)cudaFree(dt);
  (void)cudaFree(dy);
  (void)cudaFree(dp);
  return st;
}

}  // namespace pmklc::kernels
