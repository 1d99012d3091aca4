// CPU variant of kernels/neural_slices.h: each stream's state and zeroed
// arena on the heap, a slice of every listed stream run on up to `threads`
// threads (one stream a thread at a time).
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <thread>
#include <vector>

#include "kernels/cpu/run_threads.h"
#include "kernels/neural_slices.h"

namespace pmklc::kernels::neuralk {

size_t SliceBytes(const NeuralShape& s, size_t n) {
  return Align64(sizeof(NeuralStream)) + NeuralLayoutFor(s, n).bytes + Align64(n) + Align64(n / 2 + 1024);
}

namespace {

struct HostStream {
  NeuralShape shape;
  size_t n = 0;
  bool encode = true;
  NeuralStream* st = nullptr;
  unsigned char* arena = nullptr;
  std::string io;             // encode: the output buffer; decode: the input
  std::vector<uint8_t> data;  // encode: the bases; decode: the output
  ~HostStream() {
    delete st;
    std::free(arena);
  }
};

class CpuSlices final : public Slices {
 public:
  CpuSlices(const cmmax::MaxTables* t, int threads) : t_(t), threads_(threads < 1 ? 1 : threads) {}

  Result<size_t> Add(const SliceStream& s) override {
    if (s.shape.nets > kMaxNets || s.shape.dms > s.shape.nets) return Status::InvalidArgument("neural slices: bad shape");
    auto h = std::make_unique<HostStream>();
    h->shape = s.shape;
    h->n = s.n;
    h->encode = s.encode;
    const NeuralLayout l = NeuralLayoutFor(s.shape, s.n);
    h->st = new (std::nothrow) NeuralStream;
    h->arena = static_cast<unsigned char*>(std::calloc(1, l.bytes ? l.bytes : 1));
    if (!h->st || !h->arena) return Status::NoMemory("neural slices: stream state");
    try {
      if (s.encode) {
        h->data.assign(s.codes, s.codes + s.n);
        h->io.assign(4 * s.n + 1024, '\0');  // (at most 16 bits a decision, ClampP: 4 bytes a base)
      } else {
        h->data.assign(s.n, 0);
        h->io.assign(reinterpret_cast<const char*>(s.in), s.in_len);
      }
    } catch (const std::bad_alloc&) {
      return Status::NoMemory("neural slices: stream buffers");
    }
    for (int d = 0; d < s.shape.dms; ++d)
      std::memcpy(TokNet::OwnWeights(h->arena + l.net[d]), s.dm_start[d], s.shape.net[d].weight_count() * 4);
    h->st->Init(s.shape, h->arena, l, t_, s.static_w);
    if (s.encode)
      cmslim::EncoderInit(&h->st->e, reinterpret_cast<unsigned char*>(h->io.data()), h->io.size());
    else
      cmslim::DecoderInit(&h->st->d, reinterpret_cast<const unsigned char*>(h->io.data()), h->io.size());
    streams_.push_back(std::move(h));
    return streams_.size() - 1;
  }

  Status Advance(const size_t* handles, size_t count, size_t budget) override {
    std::atomic<size_t> next{0};
    RunOnThreads(count, threads_, [&] {
      for (size_t k; (k = next.fetch_add(1)) < count;) {
        HostStream* h = streams_[handles[k]].get();
        if (!h) continue;
        if (h->encode) h->st->EncodeSome(h->data.data(), h->n, budget);
        else h->st->DecodeSome(h->data.data(), h->n, budget);
      }
    });
    return Status::OK();
  }

  SliceProgress Progress(size_t hd) override {
    SliceProgress p;
    const HostStream* h = streams_[hd].get();
    if (!h) return p;
    p.done = h->st->i;
    p.ok = h->st->ok;
    p.finished = p.done == h->n || !p.ok;
    p.published = h->st->published;
    return p;
  }

  Status Snapshot(size_t hd, int d, float* out) override {
    const HostStream* h = streams_[hd].get();
    if (!h || d >= h->st->dms || !h->st->published) return Status::InvalidArgument("neural slices: no snapshot");
    std::memcpy(out, h->st->snap[d], h->shape.net[d].weight_count() * 4);
    return Status::OK();
  }

  Status Take(size_t hd, std::string* bytes, uint8_t* codes) override {
    std::unique_ptr<HostStream> h = std::move(streams_[hd]);
    if (!h) return Status::InvalidArgument("neural slices: no such stream");
    if (h->encode) {
      if (h->st->e.len > h->io.size()) return Status::NoMemory("neural slices: output outgrew its buffer");
      h->io.resize(h->st->e.len);
      *bytes = std::move(h->io);
      return Status::OK();
    }
    if (!h->st->ok) return Status::Corruption("fasta-neural: input too short");
    std::memcpy(codes, h->data.data(), h->n);
    return Status::OK();
  }

  void Drop(size_t hd) override { streams_[hd].reset(); }

 private:
  const cmmax::MaxTables* t_;
  int threads_;
  std::vector<std::unique_ptr<HostStream>> streams_;
};

}  // namespace

std::unique_ptr<Slices> NewCpuSlices(const cmmax::MaxTables* t, int threads) {
  return std::make_unique<CpuSlices>(t, threads);
}

}  // namespace pmklc::kernels::neuralk
