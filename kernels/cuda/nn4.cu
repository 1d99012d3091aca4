// CUDA variant of the 4-symbol network's step (kernels/nn4.h): the scalar
// reference, one thread a network.
#include <cuda_runtime.h>

#include "kernels/nn4.h"

namespace pmklc::kernels::nn4 {

namespace {
__global__ void StepKernel(Net* nets, size_t n, const uint32_t* sq, const uint8_t* bases) {
  const size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  Forward(&nets[i], sq);
  Train(&nets[i], bases[i]);
}

Status CudaError(const char* what, cudaError_t e) {
  (void)cudaGetLastError();
  return Status::IOError(std::string("nn4 on the GPU: ") + what + ": " + cudaGetErrorString(e));
}
}  // namespace

Status StepCuda(Net* nets, size_t n, const uint32_t* sq, const uint8_t* bases) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    (void)cudaGetLastError();
    return Status::NotSupported("no CUDA device");
  }
  if (n == 0) return Status::OK();
  Net* d_nets = nullptr;
  uint32_t* d_sq = nullptr;
  uint8_t* d_bases = nullptr;
  cudaError_t e = cudaMalloc(&d_nets, n * sizeof(Net));
  if (e == cudaSuccess) e = cudaMalloc(&d_sq, 4095 * sizeof(uint32_t));
  if (e == cudaSuccess) e = cudaMalloc(&d_bases, n);
  if (e == cudaSuccess) e = cudaMemcpy(d_nets, nets, n * sizeof(Net), cudaMemcpyHostToDevice);
  if (e == cudaSuccess) e = cudaMemcpy(d_sq, sq, 4095 * sizeof(uint32_t), cudaMemcpyHostToDevice);
  if (e == cudaSuccess) e = cudaMemcpy(d_bases, bases, n, cudaMemcpyHostToDevice);
  if (e == cudaSuccess) {
    const unsigned threads = 64;
    StepKernel<<<static_cast<unsigned>((n + threads - 1) / threads), threads>>>(d_nets, n, d_sq, d_bases);
    e = cudaGetLastError();
  }
  if (e == cudaSuccess) e = cudaMemcpy(nets, d_nets, n * sizeof(Net), cudaMemcpyDeviceToHost);
  const cudaError_t first = e;
  cudaFree(d_nets);
  cudaFree(d_sq);
  cudaFree(d_bases);
  return first == cudaSuccess ? Status::OK() : CudaError("step", first);
}

}  // namespace pmklc::kernels::nn4
