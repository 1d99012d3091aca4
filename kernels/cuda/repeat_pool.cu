// CUDA variant of the repeat pool's steps (kernels/repeat_pool.h): one pool a
// thread, for the bit-for-bit comparison with the CPU (Pool.CudaMatchesCpu).
#include <cuda_runtime.h>

#include <memory>
#include <vector>

#include "kernels/repeat_pool.h"

namespace pmklc::kernels::pool {

namespace {

__global__ void RunKernel(PoolParams p, PoolState* states, const PoolTables* t, const uint8_t* codes, size_t n,
                          size_t streams, unsigned char* arena, size_t per_stream, uint32_t* trace) {
  const size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= streams) return;
  const PoolLayout l = PoolLayoutFor(p);
  unsigned char* a = arena + i * per_stream;
  auto* index = reinterpret_cast<uint32_t*>(a);
  auto* cand = reinterpret_cast<Cand*>(a + l.index_bytes);
  auto* set = reinterpret_cast<uint64_t*>(a + l.index_bytes + l.cand_bytes);
  auto* seq = a + l.index_bytes + l.cand_bytes + l.set_bytes;
  PoolInit(&states[i], p, index, cand, set);
  RunOne(&states[i], t, codes + i * n, n, seq, trace + i * n);
}

Status CudaError(const char* what, cudaError_t e) {
  (void)cudaGetLastError();
  return Status::IOError(std::string("repeat pool on the GPU: ") + what + ": " + cudaGetErrorString(e));
}

}  // namespace

Status RunCuda(const PoolParams& p, const uint8_t* codes, size_t streams, size_t n, uint32_t* trace) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    (void)cudaGetLastError();
    return Status::NotSupported("no CUDA device");
  }
  if (streams == 0 || n == 0) return Status::OK();
  auto t = std::make_unique<PoolTables>();
  BuildPoolTables(t.get());
  const PoolLayout l = PoolLayoutFor(p);
  const size_t per = (l.index_bytes + l.cand_bytes + l.set_bytes + n + 63) & ~size_t{63};
  PoolTables* d_t = nullptr;
  PoolState* d_s = nullptr;
  uint8_t* d_codes = nullptr;
  unsigned char* d_arena = nullptr;
  uint32_t* d_trace = nullptr;
  cudaError_t e = cudaMalloc(&d_t, sizeof(PoolTables));
  if (e == cudaSuccess) e = cudaMalloc(&d_s, streams * sizeof(PoolState));
  if (e == cudaSuccess) e = cudaMalloc(&d_codes, streams * n);
  if (e == cudaSuccess) e = cudaMalloc(&d_arena, streams * per);
  if (e == cudaSuccess) e = cudaMalloc(&d_trace, streams * n * sizeof(uint32_t));
  if (e == cudaSuccess) e = cudaMemset(d_arena, 0, streams * per);
  if (e == cudaSuccess) e = cudaMemcpy(d_t, t.get(), sizeof(PoolTables), cudaMemcpyHostToDevice);
  if (e == cudaSuccess) e = cudaMemcpy(d_codes, codes, streams * n, cudaMemcpyHostToDevice);
  if (e == cudaSuccess) {
    const unsigned threads = 32;
    RunKernel<<<static_cast<unsigned>((streams + threads - 1) / threads), threads>>>(p, d_s, d_t, d_codes, n, streams,
                                                                                     d_arena, per, d_trace);
    e = cudaGetLastError();
  }
  if (e == cudaSuccess) e = cudaDeviceSynchronize();
  if (e == cudaSuccess) e = cudaMemcpy(trace, d_trace, streams * n * sizeof(uint32_t), cudaMemcpyDeviceToHost);
  const cudaError_t first = e;
  cudaFree(d_t);
  cudaFree(d_s);
  cudaFree(d_codes);
  cudaFree(d_arena);
  cudaFree(d_trace);
  return first == cudaSuccess ? Status::OK() : CudaError("run", first);
}

}  // namespace pmklc::kernels::pool
