// stream_batch.cuh — the host side every GPU stream batch shares
// (kernels/cuda/cm_slim.cu, kernels/cuda/cm_max.cu): one stream a thread,
// each with its state, zeroed arena, bases and coded bytes in one device
// allocation; batches cut to the device's free memory; a stream whose
// output outgrows its buffer is coded on the host.
//
// A coder plugs in a Traits type:
//   using Shape; using Tables (as the device reads them);
//   static size_t StateBytes();                      // its state object
//   static size_t ArenaBytes(const Shape&, size_t n);
//   static void Launch(bool encode, const Shape& first, DevJob<Shape>* jobs, size_t count, const Tables* t);
//   static bool EncodeOnHost(EncodeJob&, const HostTables&);  // into 4n + 64 bytes; false: no memory
//   static const char* Name();
// Encode jobs have shape, codes, n, out; decode jobs shape, in, in_len, n,
// codes, ok (kernels/cm_slim_batch.h, kernels/cm_max_batch.h).
#pragma once

#include <cuda_runtime.h>

#include <mutex>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "engine/common/status.h"
#include "kernels/hd.h"

namespace pmklc::kernels::batch {

// One stream on the device: where its pieces are (device pointers).
template <class Shape>
struct DevJob {
  Shape shape;
  size_t n;
  unsigned char* state;  // the coder's state object
  unsigned char* arena;  // zeroed
  uint8_t* codes;        // n bases (encode: input; decode: output)
  unsigned char* buf;    // encode: output (cap); decode: input (cap bytes)
  size_t cap;
  size_t len;            // encode: bytes written (> cap: overflow); decode: 1 if ok
};

// Output buffer of an encode of n bases: 4 bits a base (DNA needs 2).
inline size_t OutCap(size_t n) { return n / 2 + 1024; }

inline Status CudaError(const char* who, const char* what, cudaError_t e) {
  (void)cudaGetLastError();
  return Status::IOError(std::string(who) + " on the GPU: " + what + ": " + cudaGetErrorString(e));
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

// Encode jobs are the ones with an `out`.
template <class J, class = void>
struct HasOut : std::false_type {};
template <class J>
struct HasOut<J, std::void_t<decltype(std::declval<J&>().out)>> : std::true_type {};
template <class Job>
constexpr bool kEncode = HasOut<Job>::value;

// Device bytes of one job.
template <class Traits, class Job>
size_t JobBytes(const Job& j) {
  size_t io;
  if constexpr (kEncode<Job>) io = OutCap(j.n);
  else io = j.in_len;
  return Align64(Traits::StateBytes()) + Traits::ArenaBytes(j.shape, j.n) + Align64(j.n) + Align64(io);
}

// One batch of jobs on the current device.
template <class Traits, class Job, class HostTables>
Status RunBatch(Job* jobs, size_t count, const typename Traits::Tables* d_t, const HostTables& host_t) {
  using Dev = DevJob<typename Traits::Shape>;
  constexpr bool encode = kEncode<Job>;
  if (count == 0) return Status::OK();
  size_t total = 0;
  std::vector<Dev> dj(count);
  for (size_t i = 0; i < count; ++i) {
    dj[i].shape = jobs[i].shape;
    dj[i].n = jobs[i].n;
    total += JobBytes<Traits>(jobs[i]);
  }
  DevMem mem;
  unsigned char* base = nullptr;
  Dev* d_jobs = nullptr;
  cudaError_t e = mem.Alloc(reinterpret_cast<void**>(&base), total);
  if (e == cudaSuccess) e = mem.Alloc(reinterpret_cast<void**>(&d_jobs), dj.size() * sizeof(Dev));
  if (e == cudaSuccess) e = cudaMemset(base, 0, total);
  if (e != cudaSuccess) return CudaError(Traits::Name(), "allocate", e);
  size_t at = 0;
  for (size_t i = 0; i < count && e == cudaSuccess; ++i) {
    const Job& j = jobs[i];
    Dev& d = dj[i];
    d.state = base + at;
    at += Align64(Traits::StateBytes());
    d.arena = base + at;
    at += Traits::ArenaBytes(j.shape, j.n);
    d.codes = base + at;
    at += Align64(j.n);
    d.buf = base + at;
    if constexpr (encode) {
      d.cap = OutCap(j.n);
      e = cudaMemcpy(d.codes, j.codes, j.n, cudaMemcpyHostToDevice);
    } else {
      d.cap = j.in_len;
      e = cudaMemcpy(d.buf, j.in, j.in_len, cudaMemcpyHostToDevice);
    }
    at += Align64(d.cap);
  }
  if (e == cudaSuccess) e = cudaMemcpy(d_jobs, dj.data(), dj.size() * sizeof(Dev), cudaMemcpyHostToDevice);
  if (e != cudaSuccess) return CudaError(Traits::Name(), "copy in", e);
  Traits::Launch(encode, jobs[0].shape, d_jobs, count, d_t);
  e = cudaGetLastError();
  if (e == cudaSuccess) e = cudaDeviceSynchronize();
  if (e == cudaSuccess) e = cudaMemcpy(dj.data(), d_jobs, dj.size() * sizeof(Dev), cudaMemcpyDeviceToHost);
  if (e != cudaSuccess) return CudaError(Traits::Name(), "run", e);
  for (size_t i = 0; i < count && e == cudaSuccess; ++i) {
    Job& j = jobs[i];
    const Dev& d = dj[i];
    if constexpr (encode) {
      if (d.len > d.cap) {
        if (!Traits::EncodeOnHost(j, host_t)) return Status::NoMemory(std::string(Traits::Name()) + ": host fallback");
        continue;
      }
      j.out->resize(d.len);
      e = cudaMemcpy(j.out->data(), d.buf, d.len, cudaMemcpyDeviceToHost);
    } else {
      j.ok = d.len == 1;
      e = cudaMemcpy(j.codes, d.codes, j.n, cudaMemcpyDeviceToHost);
    }
  }
  if (e != cudaSuccess) return CudaError(Traits::Name(), "copy out", e);
  return Status::OK();
}

// One batch at a time on a device: concurrent callers (an archiver and a
// container, two leaders) would otherwise size their batches from the same
// free memory and the second allocation would fail.
inline std::mutex& DeviceMutex(int device) {
  static std::mutex mu[64];
  return mu[device & 63];
}

// Selects the device, then cuts the jobs into batches that fit its free
// memory (90% of it) and runs them. make_tables(&mem, &d_t) puts the
// coder's tables on the device (allocating through mem).
template <class Traits, class Job, class HostTables, class MakeTables>
Status Run(Job* jobs, size_t count, const HostTables& host_t, int device, MakeTables&& make_tables) {
  int n_dev = 0;
  if (cudaGetDeviceCount(&n_dev) != cudaSuccess || n_dev == 0) {
    (void)cudaGetLastError();
    return Status::NotSupported("no CUDA device");
  }
  if (device < 0 || device >= n_dev) return Status::InvalidArgument("no CUDA device " + std::to_string(device));
  std::lock_guard<std::mutex> device_lock(DeviceMutex(device));
  cudaError_t e = cudaSetDevice(device);
  if (e != cudaSuccess) return CudaError(Traits::Name(), "select the device", e);
  DevMem mem;
  const typename Traits::Tables* d_t = nullptr;
  e = make_tables(&mem, &d_t);
  if (e != cudaSuccess) return CudaError(Traits::Name(), "copy the tables", e);
  size_t at = 0;
  while (at < count) {
    size_t free_b = 0, total_b = 0;
    e = cudaMemGetInfo(&free_b, &total_b);
    if (e != cudaSuccess) return CudaError(Traits::Name(), "memory info", e);
    size_t used = 0, end = at;  // as many of the next jobs as fit (at least one)
    while (end < count && (end == at || used + JobBytes<Traits>(jobs[end]) <= free_b / 10 * 9))
      used += JobBytes<Traits>(jobs[end]), ++end;
    Status s = RunBatch<Traits>(jobs + at, end - at, d_t, host_t);
    if (!s.ok()) return s;
    at = end;
  }
  return Status::OK();
}

}  // namespace pmklc::kernels::batch
