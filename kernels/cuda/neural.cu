// CUDA variant of kernels/neural_slices.h: every stream's state, arena,
// bases and coded bytes in one device allocation; a slice of every listed
// stream is one launch, one stream a thread, running the step of
// kernels/neural_step.h (the CPU variant runs the same code).
#include <cuda_runtime.h>

#include <cstring>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "kernels/neural_slices.h"

namespace pmklc::kernels::neuralk {

namespace {

struct DevStream {
  NeuralStream* st;
  uint8_t* codes;
  size_t n;
  bool encode;
};

struct DevProgress {
  size_t i, len;
  bool ok, published;
};

__global__ void InitKernel(NeuralStream* st, unsigned char* arena, NeuralShape shape, NeuralLayout l,
                           const cmmax::MaxTables* t, const float* const* static_w, bool encode, unsigned char* buf,
                           size_t cap) {
  NeuralStream* s = new (st) NeuralStream;
  s->Init(shape, arena, l, t, static_w);
  if (encode) cmslim::EncoderInit(&s->e, buf, cap);
  else cmslim::DecoderInit(&s->d, buf, cap);
}

__global__ void AdvanceKernel(const DevStream* list, size_t count, size_t budget, DevProgress* prog) {
  const size_t k = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k >= count) return;
  const DevStream& d = list[k];
  NeuralStream* s = d.st;
  if (d.encode) s->EncodeSome(d.codes, d.n, budget);
  else s->DecodeSome(d.codes, d.n, budget);
  prog[k].i = s->i;
  prog[k].len = s->e.len;
  prog[k].ok = s->ok;
  prog[k].published = s->published;
}

Status Err(const char* what, cudaError_t e) {
  (void)cudaGetLastError();
  return Status::IOError(std::string("neural coder on the GPU: ") + what + ": " + cudaGetErrorString(e));
}

struct Stream {
  NeuralShape shape;
  NeuralLayout layout;
  size_t n = 0, cap = 0;
  bool encode = true;
  unsigned char* base = nullptr;  // the device allocation
  NeuralStream* st = nullptr;
  unsigned char* arena = nullptr;
  uint8_t* codes = nullptr;
  unsigned char* buf = nullptr;
  const float** static_w = nullptr;  // device array of device pointers
  DevProgress prog{};
};

class CudaSlices final : public Slices {
 public:
  explicit CudaSlices(int device) : device_(device) {}
  ~CudaSlices() override {
    cudaSetDevice(device_);
    for (auto& s : streams_)
      if (s) cudaFree(s->base);
    for (auto& [h, d] : weights_) cudaFree(d);
    cudaFree(d_tables_);
    cudaFree(d_coder_);
    cudaFree(d_pool_);
  }

  Status Open(const cmmax::MaxTables& t) {
    cudaError_t e = cudaSetDevice(device_);
    if (e == cudaSuccess) e = cudaMalloc(reinterpret_cast<void**>(&d_coder_), sizeof(cmslim::Tables));
    if (e == cudaSuccess) e = cudaMalloc(reinterpret_cast<void**>(&d_pool_), sizeof(pool::PoolTables));
    if (e == cudaSuccess) e = cudaMalloc(reinterpret_cast<void**>(&d_tables_), sizeof(cmmax::MaxTables));
    auto host = std::make_unique<cmmax::MaxTables>(t);
    host->coder = d_coder_;
    host->pool = d_pool_;
    if (e == cudaSuccess) e = cudaMemcpy(d_coder_, t.coder, sizeof(cmslim::Tables), cudaMemcpyHostToDevice);
    if (e == cudaSuccess) e = cudaMemcpy(d_pool_, t.pool, sizeof(pool::PoolTables), cudaMemcpyHostToDevice);
    if (e == cudaSuccess) e = cudaMemcpy(d_tables_, host.get(), sizeof(cmmax::MaxTables), cudaMemcpyHostToDevice);
    return e == cudaSuccess ? Status::OK() : Err("copy the tables", e);
  }

  Result<size_t> Add(const SliceStream& s) override {
    if (s.shape.nets > kMaxNets || s.shape.dms > s.shape.nets) return Status::InvalidArgument("neural slices: bad shape");
    cudaError_t e = cudaSetDevice(device_);
    if (e != cudaSuccess) return Err("select the device", e);
    auto st = std::make_unique<Stream>();
    st->shape = s.shape;
    st->layout = NeuralLayoutFor(s.shape, s.n);
    st->n = s.n;
    st->encode = s.encode;
    st->cap = s.encode ? s.n / 2 + 1024 : s.in_len;
    const size_t bytes = SliceBytes(s.shape, s.n) + Align64(s.in_len) + Align64(kMaxNets * sizeof(float*));
    size_t free_b = 0, total_b = 0;
    e = cudaMemGetInfo(&free_b, &total_b);
    if (e != cudaSuccess) return Err("memory info", e);
    if (bytes > free_b / 10 * 9) return Status::NoMemory("neural coder on the GPU: no room for another stream now");
    e = cudaMalloc(reinterpret_cast<void**>(&st->base), bytes);
    if (e != cudaSuccess) {
      (void)cudaGetLastError();
      return Status::NoMemory("neural coder on the GPU: no room for another stream now");
    }
    size_t at = 0;
    st->st = reinterpret_cast<NeuralStream*>(st->base);
    at += Align64(sizeof(NeuralStream));
    st->arena = st->base + at;
    at += st->layout.bytes;
    st->codes = st->base + at;
    at += Align64(s.n);
    st->buf = st->base + at;
    at += Align64(st->cap);
    st->static_w = reinterpret_cast<const float**>(st->base + at);
    e = cudaMemset(st->base, 0, bytes);
    if (e == cudaSuccess && s.encode) e = cudaMemcpy(st->codes, s.codes, s.n, cudaMemcpyHostToDevice);
    if (e == cudaSuccess && !s.encode) e = cudaMemcpy(st->buf, s.in, s.in_len, cudaMemcpyHostToDevice);
    for (int d = 0; d < s.shape.dms && e == cudaSuccess; ++d)
      e = cudaMemcpy(TokNet::OwnWeights(st->arena + st->layout.net[d]), s.dm_start[d],
                     s.shape.net[d].weight_count() * 4, cudaMemcpyHostToDevice);
    const float* dw[kMaxNets] = {};
    for (int k = s.shape.dms; k < s.shape.nets && e == cudaSuccess; ++k) e = DeviceWeights(s.shape.net[k], s.static_w[k], &dw[k]);
    if (e == cudaSuccess) e = cudaMemcpy(st->static_w, dw, sizeof dw, cudaMemcpyHostToDevice);
    if (e == cudaSuccess) {
      InitKernel<<<1, 1>>>(st->st, st->arena, st->shape, st->layout, d_tables_, st->static_w, s.encode, st->buf, st->cap);
      e = cudaGetLastError();
    }
    if (e == cudaSuccess) e = cudaDeviceSynchronize();
    if (e != cudaSuccess) {
      cudaFree(st->base);
      return Err("start a stream", e);
    }
    // (a snapshot at base 0 is taken by Init)
    st->prog.ok = true;
    st->prog.published = s.shape.dms > 0 && s.shape.snap_at == 0;
    streams_.push_back(std::move(st));
    return streams_.size() - 1;
  }

  Status Advance(const size_t* handles, size_t count, size_t budget) override {
    if (count == 0) return Status::OK();
    cudaError_t e = cudaSetDevice(device_);
    std::vector<DevStream> list(count);
    for (size_t k = 0; k < count; ++k) {
      const Stream& s = *streams_[handles[k]];
      list[k] = {s.st, s.codes, s.n, s.encode};
    }
    DevStream* d_list = nullptr;
    DevProgress* d_prog = nullptr;
    if (e == cudaSuccess) e = cudaMalloc(reinterpret_cast<void**>(&d_list), count * sizeof(DevStream));
    if (e == cudaSuccess) e = cudaMalloc(reinterpret_cast<void**>(&d_prog), count * sizeof(DevProgress));
    if (e == cudaSuccess) e = cudaMemcpy(d_list, list.data(), count * sizeof(DevStream), cudaMemcpyHostToDevice);
    if (e == cudaSuccess) {
      const unsigned threads = 32;
      AdvanceKernel<<<static_cast<unsigned>((count + threads - 1) / threads), threads>>>(d_list, count, budget, d_prog);
      e = cudaGetLastError();
    }
    if (e == cudaSuccess) e = cudaDeviceSynchronize();
    std::vector<DevProgress> prog(count);
    if (e == cudaSuccess) e = cudaMemcpy(prog.data(), d_prog, count * sizeof(DevProgress), cudaMemcpyDeviceToHost);
    cudaFree(d_list);
    cudaFree(d_prog);
    if (e != cudaSuccess) return Err("run a slice", e);
    for (size_t k = 0; k < count; ++k) streams_[handles[k]]->prog = prog[k];
    return Status::OK();
  }

  SliceProgress Progress(size_t h) override {
    SliceProgress p;
    const Stream* s = streams_[h].get();
    if (!s) return p;
    p.done = s->prog.i;
    p.ok = s->prog.ok;
    p.finished = p.done == s->n || !p.ok;
    p.published = s->prog.published;
    return p;
  }

  Status Snapshot(size_t h, int d, float* out) override {
    const Stream* s = streams_[h].get();
    if (!s || d >= s->shape.dms || !s->prog.published) return Status::InvalidArgument("neural slices: no snapshot");
    cudaError_t e = cudaSetDevice(device_);
    if (e == cudaSuccess)
      e = cudaMemcpy(out, s->arena + s->layout.snap[d], s->shape.net[d].weight_count() * 4, cudaMemcpyDeviceToHost);
    return e == cudaSuccess ? Status::OK() : Err("copy a snapshot", e);
  }

  Status Take(size_t h, std::string* bytes, uint8_t* codes) override {
    std::unique_ptr<Stream> s = std::move(streams_[h]);
    if (!s) return Status::InvalidArgument("neural slices: no such stream");
    cudaError_t e = cudaSetDevice(device_);
    const bool overflow = s->encode && s->prog.len > s->cap;
    const bool corrupt = !s->encode && !s->prog.ok;
    if (e == cudaSuccess && s->encode && !overflow) {
      bytes->resize(s->prog.len);
      e = cudaMemcpy(bytes->data(), s->buf, s->prog.len, cudaMemcpyDeviceToHost);
    } else if (e == cudaSuccess && !s->encode && !corrupt) {
      e = cudaMemcpy(codes, s->codes, s->n, cudaMemcpyDeviceToHost);
    }
    cudaFree(s->base);
    if (e != cudaSuccess) return Err("copy out", e);
    if (overflow) return Status::NoMemory("neural coder on the GPU: output outgrew its buffer");
    if (corrupt) return Status::Corruption("fasta-neural: input too short");
    return Status::OK();
  }

  void Drop(size_t h) override {
    if (streams_[h]) cudaFree(streams_[h]->base);
    streams_[h].reset();
  }

 private:
  // A static network's weights on the device, copied once.
  cudaError_t DeviceWeights(const TokNetShape& sh, const float* host, const float** out) {
    auto it = weights_.find(host);
    if (it != weights_.end()) {
      *out = it->second;
      return cudaSuccess;
    }
    float* d = nullptr;
    cudaError_t e = cudaMalloc(reinterpret_cast<void**>(&d), sh.weight_count() * 4);
    if (e == cudaSuccess) e = cudaMemcpy(d, host, sh.weight_count() * 4, cudaMemcpyHostToDevice);
    if (e != cudaSuccess) {
      cudaFree(d);
      return e;
    }
    weights_[host] = d;
    *out = d;
    return cudaSuccess;
  }

  int device_;
  cmslim::Tables* d_coder_ = nullptr;
  pool::PoolTables* d_pool_ = nullptr;
  cmmax::MaxTables* d_tables_ = nullptr;
  std::map<const float*, float*> weights_;
  std::vector<std::unique_ptr<Stream>> streams_;
};

}  // namespace

Result<std::unique_ptr<Slices>> NewCudaSlices(const cmmax::MaxTables& t, int device) {
  int n_dev = 0;
  if (cudaGetDeviceCount(&n_dev) != cudaSuccess || n_dev == 0) {
    (void)cudaGetLastError();
    return Status::NotSupported("no CUDA device");
  }
  if (device < 0 || device >= n_dev) return Status::NotSupported("no CUDA device " + std::to_string(device));
  auto s = std::make_unique<CudaSlices>(device);
  PMKLC_RETURN_IF_ERROR(s->Open(t));
  return std::unique_ptr<Slices>(std::move(s));
}

}  // namespace pmklc::kernels::neuralk
