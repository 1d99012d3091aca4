// cm_batch.h — the batch driver of the nucleotide coder (engine/models;
// issue #18): N independent streams (the blocks of a container, archived
// groups of many files) coded at once, on W CPU threads or on GPUs.
//
// Every stream's bytes are exactly what CmEncode writes for its params and
// bases, whatever N, W or the device: the GPU runs the same flat-state step
// as the CPU (kernels/cm_slim.h, kernels/cm_max.h), so what one codes the
// other decodes.
// A GPU codes every stream: the slim shapes (the balanced profile,
// CmUsesSlimPath) with kernels/cm_slim.h's step, the others (max) with
// kernels/cm_max.h's; the report says where each stream ran. (Primed
// streams, fasta-ref and whole-file context, are not batch items: they
// run on the CPU, through CmEncodePrimed.)
// Thread safety: reentrant; a call starts and joins its own threads.
// Errors: the first failing stream's status (InvalidArgument, NoMemory);
// with device cuda and no usable GPU, NotSupported with the reason and
// nothing coded. A GPU failure mid-batch (IOError) falls back to the CPU
// for the streams it held, and is logged in the report, not returned.
#pragma once

#include <condition_variable>
#include <memory>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/status.h"
#include "engine/models/batch_gather.h"
#include "engine/models/nucleotide_cm.h"

namespace pmklc {

class NeuralBatcher;

// Where coding runs (`--device`, `-o device=`). Default: auto
struct DeviceChoice {
  enum Kind : uint8_t { kAuto, kCpu, kCuda } kind = kAuto;
  int gpu = -1;  // cuda:N; -1: every GPU of the machine (one batch each)
  std::string Name() const;  // "auto", "cpu", "cuda", "cuda:N"
};
// Parses "auto", "cpu", "cuda" or "cuda:N"; InvalidArgument otherwise.
Result<DeviceChoice> ParseDevice(std::string_view s);
// The GPUs `d` would use: empty for cpu, and for auto without a GPU;
// NotSupported with the reason for cuda without one (or without GPU N).
Result<std::vector<int>> ResolveDevice(const DeviceChoice& d);

struct CmBatchOptions {
  DeviceChoice device;  // Default: auto
  int threads = 1;      // W: CPU threads. Default: 1
};

struct CmBatchReport {
  size_t on_gpu = 0, on_cpu = 0;
  std::string gpu_error;     // a GPU failure that sent its streams to the CPU
  std::vector<Status> each;  // every item's status, in order
};

struct CmEncodeItem {
  CmParams params;                 // as CmEncode takes them (FitTo done by the caller)
  const uint8_t* codes = nullptr;  // n bases, 0..3
  size_t n = 0;
  std::string* out = nullptr;      // the coded stream is appended
};

struct CmDecodeItem {
  CmParams params;
  std::string_view in;
  size_t n = 0;
  uint8_t* codes = nullptr;  // n bytes
};

[[nodiscard]] Status CmEncodeBatch(std::span<const CmEncodeItem> items, const CmBatchOptions& opts,
                                   CmBatchReport* report = nullptr);
// Corruption for a stream that does not decode (the first such, by index).
[[nodiscard]] Status CmDecodeBatch(std::span<const CmDecodeItem> items, const CmBatchOptions& opts,
                                   CmBatchReport* report = nullptr);

// Gathers the streams that concurrent callers hand in (a container's W
// block threads, the archiver's workers) into one GPU batch: a slim stream
// waits until `width` streams wait, or `linger` has passed, and the caller
// that completes the batch (or times out first) codes it for all of them
// with CmEncodeBatch / CmDecodeBatch. With device cpu every caller codes
// its own stream at once, as CmEncode would.
// Thread safety: Encode and Decode are called from many threads at once.
class CmBatcher : public CmStreamCoder {
 public:
  // device: as CmBatchOptions (resolved by each batch). width: the callers
  // that code at once (a batch never waits for more). linger: Default 50 ms
  CmBatcher(DeviceChoice device, size_t width, int linger_ms = 50);
  ~CmBatcher() override;
  Status Encode(const CmParams& p, const uint8_t* codes, size_t n, std::string* out) override;
  Status Decode(const CmParams& p, std::string_view in, size_t n, uint8_t* codes) override;
  // The neural profile's sub-blocks go to a NeuralBatcher of the same
  // device and width (engine/models/neural_batch.h); null with device cpu.
  neural::SubCoder* Neural() override;
  NeuralBatcher* neural_batcher() { return neural_.get(); }

  struct Stats {
    size_t batches = 0, on_gpu = 0, on_cpu = 0;
    std::string gpu_error;  // the first GPU failure (its streams were coded on the CPU)
  };
  Stats stats();

 private:
  struct Req;
  Status Submit(Req* r);
  void Run(std::vector<Req*>& batch);
  DeviceChoice device_;
  size_t width_;
  BatchGatherer<Req> gather_;
  std::mutex mu_;  // guards stats_
  Stats stats_;
  std::unique_ptr<NeuralBatcher> neural_;
};

}  // namespace pmklc
