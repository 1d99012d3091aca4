// cm_slim_batch.h — many slim streams (kernels/cm_slim.h) coded at once on a
// GPU, one stream a thread (kernels/cuda/cm_slim.cu; issue #18).
//
// Every stream of one call has the same K (context models) and fast flag;
// its Shape may differ otherwise (FitTo sizes the repeat table per stream).
// The device runs the step of cm_slim.h, so a stream's bytes are those the
// CPU coder writes (CmEncode), and a GPU-coded stream decodes on the CPU and
// the reverse.
// Memory: the streams are cut into batches that fit the device's free
// memory (BatchBytes each), coded one batch after the other.
// Thread safety: reentrant; calls on one device run one after the other.
// Errors: NotSupported without CUDA or a GPU (the caller then codes on the
// CPU); IOError for a CUDA failure (nothing in the outputs is valid then).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/common/status.h"
#include "kernels/cm_slim.h"
#include "kernels/stream_jobs.h"

namespace pmklc::kernels::cmslim {

using EncodeJob = StreamEncodeJob<Shape>;
using DecodeJob = StreamDecodeJob<Shape>;

// Device memory one stream of n bases takes (state, arena, input, output).
size_t BatchBytes(const Shape& s, size_t n);
// (CUDA 17 code: pointer and count, no std::span.)
// Codes the jobs on GPU `device` (cudaSetDevice numbering). A stream whose
// output outgrows its buffer (more than 4 bits a base: not DNA) is coded
// on the CPU instead. `tables`: built as the CPU coder's.
[[nodiscard]] Status EncodeBatchCuda(EncodeJob* jobs, size_t count, const Tables& tables, int device);
[[nodiscard]] Status DecodeBatchCuda(DecodeJob* jobs, size_t count, const Tables& tables, int device);

}  // namespace pmklc::kernels::cmslim
