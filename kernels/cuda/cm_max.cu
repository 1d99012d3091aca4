// CUDA variant of the general model (kernels/cm_max_batch.h): one stream a
// thread, running the step of kernels/cm_max.h.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <new>
#include <type_traits>
#include <vector>

#include "kernels/cm_max_batch.h"

namespace pmklc::kernels::cmmax {

namespace {

struct DevJob {
  MaxShape shape;
  size_t n;
  unsigned char* state;  // MaxModel
  unsigned char* arena;  // MaxLayoutFor(shape, n).bytes, zeroed
  uint8_t* codes;        // encode: input; decode: output
  unsigned char* buf;    // encode: output (cap); decode: input (cap)
  size_t cap;
  size_t len;            // encode: bytes written (> cap: overflow); decode: 1 if ok
};

__global__ void EncodeKernel(DevJob* jobs, size_t count, const MaxTables* t) {
  const size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= count) return;
  DevJob& j = jobs[i];
  MaxModel* m = new (j.state) MaxModel;
  m->Init(j.shape, j.arena, MaxLayoutFor(j.shape, j.n), t);
  cmslim::Encoder e;
  cmslim::EncoderInit(&e, j.buf, j.cap);
  EncodeStream(m, j.codes, j.n, &e);
  j.len = e.len;
}

__global__ void DecodeKernel(DevJob* jobs, size_t count, const MaxTables* t) {
  const size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= count) return;
  DevJob& j = jobs[i];
  MaxModel* m = new (j.state) MaxModel;
  m->Init(j.shape, j.arena, MaxLayoutFor(j.shape, j.n), t);
  cmslim::Decoder d;
  cmslim::DecoderInit(&d, j.buf, j.cap);
  j.len = DecodeStream(m, &d, j.n, j.codes) ? 1 : 0;
}

Status CudaError(const char* what, cudaError_t e) {
  (void)cudaGetLastError();
  return Status::IOError(std::string("max coder on the GPU: ") + what + ": " + cudaGetErrorString(e));
}

// The host's run of one stream whose output outgrew the device buffer.
void EncodeOnHost(const EncodeJob& j, const MaxTables& t) {
  const MaxLayout l = MaxLayoutFor(j.shape, j.n);
  std::unique_ptr<MaxModel> m(new MaxModel);
  unsigned char* arena = static_cast<unsigned char*>(std::calloc(1, l.bytes ? l.bytes : 1));
  const size_t cap = 4 * j.n + 64;
  j.out->assign(cap, '\0');
  m->Init(j.shape, arena, l, &t);
  cmslim::Encoder e;
  cmslim::EncoderInit(&e, reinterpret_cast<unsigned char*>(j.out->data()), cap);
  EncodeStream(m.get(), j.codes, j.n, &e);
  j.out->resize(e.len);
  std::free(arena);
}

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

size_t JobBytes(const EncodeJob& j) { return MaxBatchBytes(j.shape, j.n); }
size_t JobBytes(const DecodeJob& j) {
  return MaxBatchBytes(j.shape, j.n) - Align64(j.n / 2 + 1024) + Align64(j.in_len);
}

template <class Job>
Status RunBatch(Job* jobs, size_t count, bool encode, const MaxTables* d_t, const MaxTables& host_t) {
  if (count == 0) return Status::OK();
  size_t total = 0;
  std::vector<DevJob> dj(count);
  for (size_t i = 0; i < count; ++i) {
    dj[i].shape = jobs[i].shape;
    dj[i].n = jobs[i].n;
    total += JobBytes(jobs[i]);
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
    at += Align64(sizeof(MaxModel));
    d.arena = base + at;
    at += MaxLayoutFor(j.shape, j.n).bytes;
    d.codes = base + at;
    at += Align64(j.n);
    d.buf = base + at;
    if constexpr (std::is_same_v<Job, EncodeJob>) {
      d.cap = j.n / 2 + 1024;
      at += Align64(d.cap);
      e = cudaMemcpy(d.codes, j.codes, j.n, cudaMemcpyHostToDevice);
    } else {
      d.cap = j.in_len;
      at += Align64(j.in_len);
      e = cudaMemcpy(d.buf, j.in, j.in_len, cudaMemcpyHostToDevice);
    }
  }
  if (e == cudaSuccess) e = cudaMemcpy(d_jobs, dj.data(), dj.size() * sizeof(DevJob), cudaMemcpyHostToDevice);
  if (e != cudaSuccess) return CudaError("copy in", e);
  const unsigned threads = 32;
  const unsigned blocks = static_cast<unsigned>((count + threads - 1) / threads);
  if (encode) EncodeKernel<<<blocks, threads>>>(d_jobs, count, d_t);
  else DecodeKernel<<<blocks, threads>>>(d_jobs, count, d_t);
  e = cudaGetLastError();
  if (e == cudaSuccess) e = cudaDeviceSynchronize();
  if (e == cudaSuccess) e = cudaMemcpy(dj.data(), d_jobs, dj.size() * sizeof(DevJob), cudaMemcpyDeviceToHost);
  if (e != cudaSuccess) return CudaError("run", e);
  for (size_t i = 0; i < count && e == cudaSuccess; ++i) {
    Job& j = jobs[i];
    const DevJob& d = dj[i];
    if constexpr (std::is_same_v<Job, EncodeJob>) {
      if (d.len > d.cap) {
        EncodeOnHost(j, host_t);
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

template <class Job>
Status Run(Job* jobs, size_t count, const MaxTables& tables, int device, bool encode) {
  int n_dev = 0;
  if (cudaGetDeviceCount(&n_dev) != cudaSuccess || n_dev == 0) {
    (void)cudaGetLastError();
    return Status::NotSupported("no CUDA device");
  }
  if (device < 0 || device >= n_dev) return Status::InvalidArgument("no CUDA device " + std::to_string(device));
  for (size_t i = 0; i < count; ++i)
    if (jobs[i].shape.extra) return Status::InvalidArgument("max batch: a stream with extra predictors");
  cudaError_t e = cudaSetDevice(device);
  if (e != cudaSuccess) return CudaError("select the device", e);
  // The tables on the device, their pointers rewritten to the device copies.
  DevMem mem;
  cmslim::Tables* d_coder = nullptr;
  pool::PoolTables* d_pool = nullptr;
  MaxTables* d_t = nullptr;
  e = mem.Alloc(reinterpret_cast<void**>(&d_coder), sizeof(cmslim::Tables));
  if (e == cudaSuccess) e = mem.Alloc(reinterpret_cast<void**>(&d_pool), sizeof(pool::PoolTables));
  if (e == cudaSuccess) e = mem.Alloc(reinterpret_cast<void**>(&d_t), sizeof(MaxTables));
  auto dev_tables = std::make_unique<MaxTables>(tables);
  dev_tables->coder = d_coder;
  dev_tables->pool = d_pool;
  if (e == cudaSuccess) e = cudaMemcpy(d_coder, tables.coder, sizeof(cmslim::Tables), cudaMemcpyHostToDevice);
  if (e == cudaSuccess) e = cudaMemcpy(d_pool, tables.pool, sizeof(pool::PoolTables), cudaMemcpyHostToDevice);
  if (e == cudaSuccess) e = cudaMemcpy(d_t, dev_tables.get(), sizeof(MaxTables), cudaMemcpyHostToDevice);
  if (e != cudaSuccess) return CudaError("copy the tables", e);
  size_t at = 0;
  while (at < count) {
    size_t free_b = 0, total_b = 0;
    e = cudaMemGetInfo(&free_b, &total_b);
    if (e != cudaSuccess) return CudaError("memory info", e);
    size_t used = 0, end = at;
    while (end < count && (end == at || used + JobBytes(jobs[end]) <= free_b / 10 * 9))
      used += JobBytes(jobs[end]), ++end;
    Status s = RunBatch(jobs + at, end - at, encode, d_t, tables);
    if (!s.ok()) return s;
    at = end;
  }
  return Status::OK();
}

}  // namespace

Status EncodeBatchCuda(EncodeJob* jobs, size_t count, const MaxTables& tables, int device) {
  return Run(jobs, count, tables, device, true);
}

Status DecodeBatchCuda(DecodeJob* jobs, size_t count, const MaxTables& tables, int device) {
  return Run(jobs, count, tables, device, false);
}

}  // namespace pmklc::kernels::cmmax
