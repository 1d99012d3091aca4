// neural_batch.h — the batch driver of the neural profile (issue #18):
// many sub-blocks of fasta-neural streams (the blocks of a container, the
// selection's trial encodes) coded at once, one stream a GPU thread, with
// step-wise model passing between them.
//
// The schedule. Every stream runs a slice (Default: 64 Ki bases) at a
// time. A sub-block whose DMs start from another's snapshot (the next
// sub-block, or the next block's first: neural_stream.h) starts once that
// snapshot was taken, so a chain of S streams runs in parallel after the
// first smp_percent of each, as RunStream's threads do on the CPU. The
// bytes and snapshots are exactly those of the CPU coder
// (neural_schedule.h's RunSubBlock): the GPU runs the same flat-state
// step (kernels/neural_step.h).
// Thread safety: NeuralBatcher::Run is called from many threads at once;
// RunNeuralJobs from one.
// Errors: a job's own failure (a corrupt sub-block, a failed link it
// starts from) is its status and its out link completes with ok = false;
// a device failure (IOError) sends the jobs it had not finished to the CPU
// slices, logged in the stats, never in a job's status.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "engine/common/status.h"
#include "engine/models/batch_gather.h"
#include "engine/models/cm_batch.h"
#include "engine/models/neural_schedule.h"
#include "kernels/neural_slices.h"

namespace pmklc {

// Runs jobs on `slices`, `slice` bases a step. done[i] is set for each job
// that finished (its st and out link final); a device failure returns its
// status with the rest not done (to be run elsewhere; their out links
// untouched).
[[nodiscard]] Status RunNeuralJobs(std::span<neural::SubJob* const> jobs, kernels::neuralk::Slices* slices,
                                   size_t slice, std::vector<bool>* done);

// A SubCoder (NeuralOptions::coder) that gathers the jobs of concurrent
// callers (a container's W block threads, the archiver's workers) into one
// batch: a caller waits until `width` callers wait or `linger` has passed,
// and the caller that completes the batch runs it for all, on a GPU when
// the device choice has one, else on `threads` CPU threads.
class NeuralBatcher final : public neural::SubCoder {
 public:
  // slice: bases a stream codes per step. Default: 64 Ki
  NeuralBatcher(DeviceChoice device, size_t width, int threads, int linger_ms = 50, size_t slice = size_t{1} << 16);
  Status Run(std::span<neural::SubJob* const> jobs) override;

  struct Stats {
    size_t batches = 0, on_gpu = 0, on_cpu = 0;
    std::string gpu_error;  // the first GPU failure (its jobs ran on the CPU)
  };
  Stats stats();

 private:
  struct Req {
    std::span<neural::SubJob* const> jobs;
    bool done = false;
  };
  void RunBatch(std::vector<Req*>& batch);
  DeviceChoice device_;
  int threads_;
  size_t slice_;
  BatchGatherer<Req> gather_;
  std::mutex mu_;  // guards stats_ and next_gpu_
  Stats stats_;
  size_t next_gpu_ = 0;
};

}  // namespace pmklc
