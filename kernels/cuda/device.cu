// Device detection and the CUDA pack2bit kernel.
#include <cuda_runtime.h>

#include "kernels/device.h"
#include "kernels/pack2bit.h"

namespace pmklc::kernels {

bool BuiltWithCuda() { return true; }

Result<std::vector<GpuInfo>> ListGpus() {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    std::string msg = std::string("cudaGetDeviceCount returned error ") +
                      std::to_string(static_cast<int>(e)) + " (" + cudaGetErrorString(e) + ")";
    (void)cudaGetLastError();  // clear the sticky error
    return Status::NotSupported(msg);
  }
  if (n == 0) return Status::NotSupported("no CUDA device found");
  std::vector<GpuInfo> v;
  for (int i = 0; i < n; ++i) {
    cudaDeviceProp p;
    if (cudaGetDeviceProperties(&p, i) != cudaSuccess) continue;
    GpuInfo g;
    g.index = i;
    g.name = p.name;
    g.major = p.major;
    g.minor = p.minor;
    g.memory_bytes = p.totalGlobalMem;
    v.push_back(g);
  }
  if (v.empty()) return Status::NotSupported("no usable CUDA device");
  return v;
}

namespace {
__global__ void Pack2BitKernel(const uint8_t* codes, size_t n, uint8_t* out) {
  size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  size_t nb = (n + 3) / 4;
  if (i >= nb) return;
  uint8_t b = 0;
  for (int j = 0; j < 4; ++j) {
    size_t k = 4 * i + j;
    if (k < n) b |= static_cast<uint8_t>((codes[k] & 3) << (2 * j));
  }
  out[i] = b;
}
}  // namespace

Status Pack2BitCuda(const uint8_t* codes, size_t n, uint8_t* out) {
  auto g = ListGpus();
  if (!g.ok()) return g.status();
  size_t nb = (n + 3) / 4;
  if (n == 0) return Status::OK();
  uint8_t *dc = nullptr, *dout = nullptr;
  if (cudaMalloc(&dc, n) != cudaSuccess) return Status::IOError("cudaMalloc failed");
  if (cudaMalloc(&dout, nb) != cudaSuccess) { cudaFree(dc); return Status::IOError("cudaMalloc failed"); }
  cudaMemcpy(dc, codes, n, cudaMemcpyHostToDevice);
  unsigned threads = 256;
  unsigned blocks = static_cast<unsigned>((nb + threads - 1) / threads);
  Pack2BitKernel<<<blocks, threads>>>(dc, n, dout);
  cudaError_t e = cudaMemcpy(out, dout, nb, cudaMemcpyDeviceToHost);
  cudaFree(dc);
  cudaFree(dout);
  if (e != cudaSuccess) return Status::IOError(std::string("CUDA: ") + cudaGetErrorString(e));
  return Status::OK();
}

}  // namespace pmklc::kernels
