// CUDA variant of the general model (kernels/cm_max_batch.h): one stream a
// thread, running the step of kernels/cm_max.h; the batching is
// kernels/cuda/stream_batch.cuh's.
#include <cuda_runtime.h>

#include <cstdlib>
#include <memory>
#include <new>

#include "kernels/cm_max_batch.h"
#include "kernels/cuda/stream_batch.cuh"

namespace pmklc::kernels::cmmax {

namespace {

using Dev = batch::DevJob<MaxShape>;

__global__ void EncodeKernel(Dev* jobs, size_t count, const MaxTables* t) {
  const size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= count) return;
  Dev& j = jobs[i];
  MaxModel* m = new (j.state) MaxModel;
  m->Init(j.shape, j.arena, MaxLayoutFor(j.shape, j.n), t);
  cmslim::Encoder e;
  cmslim::EncoderInit(&e, j.buf, j.cap);
  EncodeStream(m, j.codes, j.n, &e);
  j.len = e.len;
}

__global__ void DecodeKernel(Dev* jobs, size_t count, const MaxTables* t) {
  const size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= count) return;
  Dev& j = jobs[i];
  MaxModel* m = new (j.state) MaxModel;
  m->Init(j.shape, j.arena, MaxLayoutFor(j.shape, j.n), t);
  cmslim::Decoder d;
  cmslim::DecoderInit(&d, j.buf, j.cap);
  j.len = DecodeStream(m, &d, j.n, j.codes) ? 1 : 0;
}

struct Traits {
  using Shape = MaxShape;
  using Tables = MaxTables;
  static size_t StateBytes() { return sizeof(MaxModel); }
  static size_t ArenaBytes(const Shape& s, size_t n) { return MaxLayoutFor(s, n).bytes; }
  static const char* Name() { return "max coder"; }
  static void Launch(bool encode, const Shape&, Dev* jobs, size_t count, const Tables* t) {
    const unsigned threads = 32;
    const unsigned blocks = static_cast<unsigned>((count + threads - 1) / threads);
    if (encode) EncodeKernel<<<blocks, threads>>>(jobs, count, t);
    else DecodeKernel<<<blocks, threads>>>(jobs, count, t);
  }
  static bool EncodeOnHost(const EncodeJob& j, const Tables& t) {
    const MaxLayout l = MaxLayoutFor(j.shape, j.n);
    std::unique_ptr<MaxModel> m(new (std::nothrow) MaxModel);
    unsigned char* arena = static_cast<unsigned char*>(std::calloc(1, l.bytes ? l.bytes : 1));
    if (!m || !arena) {
      std::free(arena);
      return false;
    }
    const size_t cap = 4 * j.n + 64;
    j.out->assign(cap, '\0');
    m->Init(j.shape, arena, l, &t);
    cmslim::Encoder e;
    cmslim::EncoderInit(&e, reinterpret_cast<unsigned char*>(j.out->data()), cap);
    EncodeStream(m.get(), j.codes, j.n, &e);
    j.out->resize(e.len);
    std::free(arena);
    return true;
  }
};

template <class Job>
Status Run(Job* jobs, size_t count, const MaxTables& tables, int device) {
  for (size_t i = 0; i < count; ++i)
    if (jobs[i].shape.extra) return Status::InvalidArgument("max batch: a stream with extra predictors");
  // The tables on the device, their pointers rewritten to the device copies.
  return batch::Run<Traits>(jobs, count, tables, device, [&](batch::DevMem* mem, const MaxTables** d_t) {
    cmslim::Tables* d_coder = nullptr;
    pool::PoolTables* d_pool = nullptr;
    MaxTables* d = nullptr;
    cudaError_t e = mem->Alloc(reinterpret_cast<void**>(&d_coder), sizeof(cmslim::Tables));
    if (e == cudaSuccess) e = mem->Alloc(reinterpret_cast<void**>(&d_pool), sizeof(pool::PoolTables));
    if (e == cudaSuccess) e = mem->Alloc(reinterpret_cast<void**>(&d), sizeof(MaxTables));
    auto host = std::make_unique<MaxTables>(tables);
    host->coder = d_coder;
    host->pool = d_pool;
    if (e == cudaSuccess) e = cudaMemcpy(d_coder, tables.coder, sizeof(cmslim::Tables), cudaMemcpyHostToDevice);
    if (e == cudaSuccess) e = cudaMemcpy(d_pool, tables.pool, sizeof(pool::PoolTables), cudaMemcpyHostToDevice);
    if (e == cudaSuccess) e = cudaMemcpy(d, host.get(), sizeof(MaxTables), cudaMemcpyHostToDevice);
    *d_t = d;
    return e;
  });
}

}  // namespace

Status EncodeBatchCuda(EncodeJob* jobs, size_t count, const MaxTables& tables, int device) {
  return Run(jobs, count, tables, device);
}

Status DecodeBatchCuda(DecodeJob* jobs, size_t count, const MaxTables& tables, int device) {
  return Run(jobs, count, tables, device);
}

}  // namespace pmklc::kernels::cmmax
