// CUDA variant of the slim coder (kernels/cm_slim_batch.h): one stream a
// thread, running the step of kernels/cm_slim.h; the batching is
// kernels/cuda/stream_batch.cuh's.
#include <cuda_runtime.h>

#include <cstdlib>
#include <memory>
#include <new>

#include "kernels/cm_slim_batch.h"
#include "kernels/cuda/stream_batch.cuh"

namespace pmklc::kernels::cmslim {

namespace {

using Dev = batch::DevJob<Shape>;

template <bool kFast, int K>
__global__ void EncodeKernel(Dev* jobs, size_t count, const Tables* t) {
  const size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= count) return;
  Dev& j = jobs[i];
  auto* s = reinterpret_cast<State<K>*>(j.state);
  Step<kFast, K>::Init(s, j.shape, j.arena, LayoutFor(j.shape, j.n), t);
  Encoder e;
  EncoderInit(&e, j.buf, j.cap);
  EncodeStream<kFast, K>(s, j.codes, j.n, &e, t);
  j.len = e.len;
}

template <bool kFast, int K>
__global__ void DecodeKernel(Dev* jobs, size_t count, const Tables* t) {
  const size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= count) return;
  Dev& j = jobs[i];
  auto* s = reinterpret_cast<State<K>*>(j.state);
  Step<kFast, K>::Init(s, j.shape, j.arena, LayoutFor(j.shape, j.n), t);
  Decoder d;
  DecoderInit(&d, j.buf, j.cap);
  j.len = DecodeStream<kFast, K>(s, &d, j.n, j.codes, t) ? 1 : 0;
}

template <bool kFast, int K>
bool EncodeOnHostK(const EncodeJob& j, const Tables& t) {
  const Layout l = LayoutFor(j.shape, j.n);
  std::unique_ptr<State<K>> s(new (std::nothrow) State<K>);
  unsigned char* arena = static_cast<unsigned char*>(std::calloc(1, l.bytes ? l.bytes : 1));
  if (!s || !arena) {
    std::free(arena);
    return false;
  }
  const size_t cap = 4 * j.n + 64;
  j.out->assign(cap, '\0');
  Step<kFast, K>::Init(s.get(), j.shape, arena, l, &t);
  Encoder e;
  EncoderInit(&e, reinterpret_cast<unsigned char*>(j.out->data()), cap);
  EncodeStream<kFast, K>(s.get(), j.codes, j.n, &e, &t);
  j.out->resize(e.len);
  std::free(arena);
  return true;
}

template <bool kFast, int K>
void LaunchK(bool encode, Dev* jobs, size_t count, const Tables* t) {
  const unsigned threads = 32;
  const unsigned blocks = static_cast<unsigned>((count + threads - 1) / threads);
  if (encode) EncodeKernel<kFast, K><<<blocks, threads>>>(jobs, count, t);
  else DecodeKernel<kFast, K><<<blocks, threads>>>(jobs, count, t);
}

struct Traits {
  using Shape = cmslim::Shape;
  using Tables = cmslim::Tables;
  static size_t StateBytes() { return sizeof(State<3>); }
  static size_t ArenaBytes(const Shape& s, size_t n) { return LayoutFor(s, n).bytes; }
  static const char* Name() { return "slim coder"; }
  static void Launch(bool encode, const Shape& s, Dev* jobs, size_t count, const Tables* t) {
    switch (s.k) {
      case 1: return s.fast ? LaunchK<true, 1>(encode, jobs, count, t) : LaunchK<false, 1>(encode, jobs, count, t);
      case 2: return s.fast ? LaunchK<true, 2>(encode, jobs, count, t) : LaunchK<false, 2>(encode, jobs, count, t);
      default: return s.fast ? LaunchK<true, 3>(encode, jobs, count, t) : LaunchK<false, 3>(encode, jobs, count, t);
    }
  }
  static bool EncodeOnHost(const EncodeJob& j, const Tables& t) {
    switch (j.shape.k) {
      case 1: return j.shape.fast ? EncodeOnHostK<true, 1>(j, t) : EncodeOnHostK<false, 1>(j, t);
      case 2: return j.shape.fast ? EncodeOnHostK<true, 2>(j, t) : EncodeOnHostK<false, 2>(j, t);
      default: return j.shape.fast ? EncodeOnHostK<true, 3>(j, t) : EncodeOnHostK<false, 3>(j, t);
    }
  }
};

template <class Job>
Status Run(Job* jobs, size_t count, const Tables& tables, int device) {
  for (size_t i = 0; i < count; ++i)
    if (jobs[i].shape.k != jobs[0].shape.k || jobs[i].shape.fast != jobs[0].shape.fast || jobs[i].shape.k < 1 ||
        jobs[i].shape.k > 3)
      return Status::InvalidArgument("slim batch: streams of different shapes");
  return batch::Run<Traits>(jobs, count, tables, device, [&](batch::DevMem* mem, const Tables** d_t) {
    Tables* d = nullptr;
    cudaError_t e = mem->Alloc(reinterpret_cast<void**>(&d), sizeof(Tables));
    if (e == cudaSuccess) e = cudaMemcpy(d, &tables, sizeof(Tables), cudaMemcpyHostToDevice);
    *d_t = d;
    return e;
  });
}

}  // namespace

Status EncodeBatchCuda(EncodeJob* jobs, size_t count, const Tables& tables, int device) {
  return Run(jobs, count, tables, device);
}

Status DecodeBatchCuda(DecodeJob* jobs, size_t count, const Tables& tables, int device) {
  return Run(jobs, count, tables, device);
}

}  // namespace pmklc::kernels::cmslim
