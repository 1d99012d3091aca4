// CUDA variant of the slim coder (kernels/cm_slim_batch.h): one stream a
// thread, running the step of kernels/cm_slim.h.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <type_traits>
#include <vector>

#include "kernels/cm_slim_batch.h"

namespace pmklc::kernels::cmslim {

namespace {

// One stream on the device: where its pieces are (device pointers).
struct DevJob {
  Shape shape;
  size_t n;
  unsigned char* state;   // State<K>
  unsigned char* arena;   // LayoutFor(shape, n).bytes, zeroed
  uint8_t* codes;         // n bases (encode: input; decode: output)
  unsigned char* buf;     // encode: output (cap); decode: input (cap bytes)
  size_t cap;
  size_t len;             // encode: bytes written (> cap: overflow); decode: 1 if ok
};

template <bool kFast, int K>
__global__ void EncodeKernel(DevJob* jobs, size_t count, const Tables* t) {
  const size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= count) return;
  DevJob& j = jobs[i];
  auto* s = reinterpret_cast<State<K>*>(j.state);
  Step<kFast, K>::Init(s, j.shape, j.arena, LayoutFor(j.shape, j.n), t);
  Encoder e;
  EncoderInit(&e, j.buf, j.cap);
  EncodeStream<kFast, K>(s, j.codes, j.n, &e, t);
  j.len = e.len;
}

template <bool kFast, int K>
__global__ void DecodeKernel(DevJob* jobs, size_t count, const Tables* t) {
  const size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= count) return;
  DevJob& j = jobs[i];
  auto* s = reinterpret_cast<State<K>*>(j.state);
  Step<kFast, K>::Init(s, j.shape, j.arena, LayoutFor(j.shape, j.n), t);
  Decoder d;
  DecoderInit(&d, j.buf, j.cap);
  j.len = DecodeStream<kFast, K>(s, &d, j.n, j.codes, t) ? 1 : 0;
}

Status CudaError(const char* what, cudaError_t e) {
  (void)cudaGetLastError();
  return Status::IOError(std::string("slim coder on the GPU: ") + what + ": " + cudaGetErrorString(e));
}

// The host's run of one stream (an encode whose output outgrew the device
// buffer): the same step, on the CPU.
template <bool kFast, int K>
void EncodeOnHost(const EncodeJob& j, const Tables& t) {
  const Layout l = LayoutFor(j.shape, j.n);
  std::unique_ptr<State<K>> s(new State<K>);
  unsigned char* arena = static_cast<unsigned char*>(std::calloc(1, l.bytes ? l.bytes : 1));
  const size_t cap = 4 * j.n + 64;
  j.out->assign(cap, '\0');
  Step<kFast, K>::Init(s.get(), j.shape, arena, l, &t);
  Encoder e;
  EncoderInit(&e, reinterpret_cast<unsigned char*>(j.out->data()), cap);
  EncodeStream<kFast, K>(s.get(), j.codes, j.n, &e, &t);
  j.out->resize(e.len);
  std::free(arena);
}

void EncodeOnHostFor(const EncodeJob& j, const Tables& t) {
  switch (j.shape.k) {
    case 1: return j.shape.fast ? EncodeOnHost<true, 1>(j, t) : EncodeOnHost<false, 1>(j, t);
    case 2: return j.shape.fast ? EncodeOnHost<true, 2>(j, t) : EncodeOnHost<false, 2>(j, t);
    default: return j.shape.fast ? EncodeOnHost<true, 3>(j, t) : EncodeOnHost<false, 3>(j, t);
  }
}

template <bool kFast, int K>
void Launch(bool encode, DevJob* d_jobs, size_t count, const Tables* d_t) {
  const unsigned threads = 32;
  const unsigned blocks = static_cast<unsigned>((count + threads - 1) / threads);
  if (encode) EncodeKernel<kFast, K><<<blocks, threads>>>(d_jobs, count, d_t);
  else DecodeKernel<kFast, K><<<blocks, threads>>>(d_jobs, count, d_t);
}

void LaunchFor(bool fast, int k, bool encode, DevJob* d_jobs, size_t count, const Tables* d_t) {
  switch (k) {
    case 1: return fast ? Launch<true, 1>(encode, d_jobs, count, d_t) : Launch<false, 1>(encode, d_jobs, count, d_t);
    case 2: return fast ? Launch<true, 2>(encode, d_jobs, count, d_t) : Launch<false, 2>(encode, d_jobs, count, d_t);
    default: return fast ? Launch<true, 3>(encode, d_jobs, count, d_t) : Launch<false, 3>(encode, d_jobs, count, d_t);
  }
}

// Device allocations released at scope exit.
struct DevMem {
  std::vector<void*> p;
  ~DevMem() {
    for (void* q : p) cudaFree(q);
  }
  cudaError_t Alloc(void** out, size_t bytes) {
    cudaError_t e = cudaMalloc(out, bytes ? bytes : 1);
    if (e == cudaSuccess) p.push_back(*out);
    return e;
  }
};

// Device bytes of one job: BatchBytes, with a decode's input as long as it is.
size_t JobBytes(const EncodeJob& j) { return BatchBytes(j.shape, j.n); }
size_t JobBytes(const DecodeJob& j) {
  return BatchBytes(j.shape, j.n) - Align64(j.n / 2 + 1024) + Align64(j.in_len);
}

// Runs one batch of jobs (encode or decode) on the current device.
template <class Job>
Status RunBatch(Job* jobs, size_t count, bool encode, const Tables* d_t, const Tables& host_t) {
  if (count == 0) return Status::OK();
  const Shape& s0 = jobs[0].shape;
  size_t total = 0;
  std::vector<DevJob> dj(count);
  for (size_t i = 0; i < count; ++i) {
    const Job& j = jobs[i];
    DevJob& d = dj[i];
    d.shape = j.shape;
    d.n = j.n;
    if constexpr (std::is_same_v<Job, EncodeJob>) d.cap = j.n / 2 + 1024;
    else d.cap = j.in_len;
    total += JobBytes(j);
  }
  DevMem mem;
  unsigned char* base = nullptr;
  DevJob* d_jobs = nullptr;
  cudaError_t e = mem.Alloc(reinterpret_cast<void**>(&base), total);
  if (e == cudaSuccess) e = mem.Alloc(reinterpret_cast<void**>(&d_jobs), dj.size() * sizeof(DevJob));
  if (e == cudaSuccess) e = cudaMemset(base, 0, total);
  if (e != cudaSuccess) return CudaError("allocate", e);
  size_t at = 0;
  for (size_t i = 0; i < count && e == cudaSuccess; ++i) {
    const Job& j = jobs[i];
    DevJob& d = dj[i];
    d.state = base + at;
    at += Align64(sizeof(State<3>));
    d.arena = base + at;
    at += LayoutFor(j.shape, j.n).bytes;
    d.codes = base + at;
    at += Align64(j.n);
    d.buf = base + at;
    if constexpr (std::is_same_v<Job, EncodeJob>) {
      at += Align64(j.n / 2 + 1024);
      e = cudaMemcpy(d.codes, j.codes, j.n, cudaMemcpyHostToDevice);
    } else {
      at += Align64(j.in_len);
      e = cudaMemcpy(d.buf, j.in, j.in_len, cudaMemcpyHostToDevice);
    }
  }
  if (e == cudaSuccess) e = cudaMemcpy(d_jobs, dj.data(), dj.size() * sizeof(DevJob), cudaMemcpyHostToDevice);
  if (e != cudaSuccess) return CudaError("copy in", e);
  LaunchFor(s0.fast, s0.k, encode, d_jobs, dj.size(), d_t);
  e = cudaGetLastError();
  if (e == cudaSuccess) e = cudaDeviceSynchronize();
  if (e == cudaSuccess) e = cudaMemcpy(dj.data(), d_jobs, dj.size() * sizeof(DevJob), cudaMemcpyDeviceToHost);
  if (e != cudaSuccess) return CudaError("run", e);
  for (size_t i = 0; i < count && e == cudaSuccess; ++i) {
    Job& j = jobs[i];
    const DevJob& d = dj[i];
    if constexpr (std::is_same_v<Job, EncodeJob>) {
      if (d.len > d.cap) {
        EncodeOnHostFor(j, host_t);
        continue;
      }
      j.out->resize(d.len);
      e = cudaMemcpy(j.out->data(), d.buf, d.len, cudaMemcpyDeviceToHost);
    } else {
      j.ok = d.len == 1;
      e = cudaMemcpy(j.codes, d.codes, j.n, cudaMemcpyDeviceToHost);
    }
  }
  if (e != cudaSuccess) return CudaError("copy out", e);
  return Status::OK();
}

// Cuts jobs into batches that fit the device's free memory and runs them.
template <class Job>
Status Run(Job* jobs, size_t count_jobs, const Tables& tables, int device, bool encode) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    (void)cudaGetLastError();
    return Status::NotSupported("no CUDA device");
  }
  if (device < 0 || device >= count) return Status::InvalidArgument("no CUDA device " + std::to_string(device));
  for (size_t i = 0; i < count_jobs; ++i)
    if (jobs[i].shape.k != jobs[0].shape.k || jobs[i].shape.fast != jobs[0].shape.fast || jobs[i].shape.k < 1 ||
        jobs[i].shape.k > 3)
      return Status::InvalidArgument("slim batch: streams of different shapes");
  cudaError_t e = cudaSetDevice(device);
  if (e != cudaSuccess) return CudaError("select the device", e);
  DevMem mem;
  Tables* d_t = nullptr;
  e = mem.Alloc(reinterpret_cast<void**>(&d_t), sizeof(Tables));
  if (e == cudaSuccess) e = cudaMemcpy(d_t, &tables, sizeof(Tables), cudaMemcpyHostToDevice);
  if (e != cudaSuccess) return CudaError("copy the tables", e);
  size_t at = 0;
  while (at < count_jobs) {
    size_t free_b = 0, total_b = 0;
    e = cudaMemGetInfo(&free_b, &total_b);
    if (e != cudaSuccess) return CudaError("memory info", e);
    // as many of the next jobs as fit (at least one)
    size_t used = 0, end = at;
    while (end < count_jobs && (end == at || used + JobBytes(jobs[end]) <= free_b / 10 * 9))
      used += JobBytes(jobs[end]), ++end;
    Status s = RunBatch(jobs + at, end - at, encode, d_t, tables);
    if (!s.ok()) return s;
    at = end;
  }
  return Status::OK();
}

}  // namespace

Status EncodeBatchCuda(EncodeJob* jobs, size_t count, const Tables& tables, int device) {
  return Run(jobs, count, tables, device, true);
}

Status DecodeBatchCuda(DecodeJob* jobs, size_t count, const Tables& tables, int device) {
  return Run(jobs, count, tables, device, false);
}

}  // namespace pmklc::kernels::cmslim
