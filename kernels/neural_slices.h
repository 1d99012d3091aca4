// neural_slices.h — many neural sub-block streams (kernels/neural_step.h)
// advanced a slice at a time, on CPU threads or on one GPU (issue #18).
// engine/models/neural_batch.h schedules them: between slices it reads
// which streams took their snapshot, hands it on, and starts the streams
// that were waiting for it.
//
// Both variants run the same step, so a stream's bytes and snapshot are
// the same on either; the CPU variant is what CI tests the schedule with.
// Ownership: a Slices object owns its streams' state and copies of their
// inputs; Take hands a stream's output over and frees it.
// Thread safety: one caller at a time (the scheduler's thread); Advance
// uses its own threads (CPU) or the device (CUDA).
// Errors: Add: NoMemory when a stream does not fit now (the scheduler
// retries after others finish), InvalidArgument for a bad shape;
// CUDA: IOError for a device failure (nothing it holds is valid then).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "engine/common/status.h"
#include "kernels/neural_step.h"

namespace pmklc::kernels::neuralk {

struct SliceStream {
  NeuralShape shape;
  size_t n = 0;
  bool encode = true;
  const uint8_t* codes = nullptr;     // encode: n bases (copied by Add)
  const unsigned char* in = nullptr;  // decode: the coded sub-block (copied by Add)
  size_t in_len = 0;
  const float* dm_start[kMaxNets] = {};  // each DM's start weights (copied by Add)
  const float* static_w[kMaxNets] = {};  // network k >= dms: its weights (must outlive the Slices)
};

struct SliceProgress {
  size_t done = 0;         // bases coded
  bool finished = false;   // all n coded, or a decode whose input ran out
  bool published = false;  // the DMs' snapshot is taken
  bool ok = true;          // decode: the input has not run out
};

class Slices {
 public:
  virtual ~Slices() = default;
  [[nodiscard]] virtual Result<size_t> Add(const SliceStream& s) = 0;
  // Codes up to `budget` more bases of each listed stream.
  [[nodiscard]] virtual Status Advance(const size_t* handles, size_t count, size_t budget) = 0;
  // As of the last Advance (or Add).
  virtual SliceProgress Progress(size_t h) = 0;
  // DM d's snapshot: weight_count floats into out (after `published`).
  [[nodiscard]] virtual Status Snapshot(size_t h, int d, float* out) = 0;
  // A finished stream's result: encode: the coded bytes (replacing *bytes);
  // decode: its n bases into codes. Frees the stream.
  [[nodiscard]] virtual Status Take(size_t h, std::string* bytes, uint8_t* codes) = 0;
  // Drops a stream (after a failure elsewhere).
  virtual void Drop(size_t h) = 0;
};

// On up to `threads` CPU threads. `t` must outlive it.
std::unique_ptr<Slices> NewCpuSlices(const cmmax::MaxTables* t, int threads);
// On GPU `device`; NotSupported without CUDA or without that GPU.
Result<std::unique_ptr<Slices>> NewCudaSlices(const cmmax::MaxTables& t, int device);

// Bytes a stream takes on a device (state, arena, bases, coded bytes).
size_t SliceBytes(const NeuralShape& s, size_t n);

}  // namespace pmklc::kernels::neuralk
