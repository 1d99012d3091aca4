// cm_max_batch.h — many streams of the general model (kernels/cm_max.h:
// `max`) coded at once on a GPU, one stream a thread
// (kernels/cuda/cm_max.cu; issue #18).
//
// The device runs the step of cm_max.h, so a stream's bytes are those of
// CmEncode on the CPU, and either decodes the other's. Streams without extra
// predictors and without a prime only (the `max` profile's fasta-cm
// streams). Memory: the streams are cut into batches that fit the device's
// free memory (MaxBatchBytes each: about 75 MiB for a 1 MiB stream of max).
// Thread safety: reentrant; calls on one device run one after the other.
// Errors: NotSupported without CUDA or a GPU;
// InvalidArgument for a stream with extra predictors; IOError for a CUDA
// failure (nothing in the outputs is valid then).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/common/status.h"
#include "kernels/cm_max.h"
#include "kernels/stream_jobs.h"

namespace pmklc::kernels::cmmax {

using EncodeJob = StreamEncodeJob<MaxShape>;
using DecodeJob = StreamDecodeJob<MaxShape>;

// A whole stream through the step (the GPU's loop; the CPU's is the same
// calls around BinaryEncoder, engine/models/nucleotide_cm.cc).
PMKLC_HD void EncodeStream(MaxModel* m, const uint8_t* codes, size_t n, cmslim::Encoder* e) {
  for (size_t i = 0; i < n; ++i) {
    const int b = codes[i] & 3, hi = b >> 1, lo = b & 1;
    m->Begin();
    cmslim::Encode(e, hi, m->P(0));
    m->Learn(0, hi);
    cmslim::Encode(e, lo, m->P(1 + hi));
    m->Learn(1 + hi, lo);
    m->End(b);
  }
  cmslim::Finish(e);
}
PMKLC_HD bool DecodeStream(MaxModel* m, cmslim::Decoder* d, size_t n, uint8_t* codes) {
  for (size_t i = 0; i < n; ++i) {
    m->Begin();
    const int hi = cmslim::Decode(d, m->P(0));
    m->Learn(0, hi);
    const int lo = cmslim::Decode(d, m->P(1 + hi));
    m->Learn(1 + hi, lo);
    const int b = hi * 2 + lo;
    m->End(b);
    codes[i] = static_cast<uint8_t>(b);
    if ((i & 0xffff) == 0 && !cmslim::DecoderOk(d)) return false;
  }
  return cmslim::DecoderOk(d);
}

// Device memory one stream of n bases takes (state, arena, bases, output).
size_t MaxBatchBytes(const MaxShape& s, size_t n);

// `tables`: the CPU coder's (their pointed-to tables are copied too).
[[nodiscard]] Status EncodeBatchCuda(EncodeJob* jobs, size_t count, const MaxTables& tables, int device);
[[nodiscard]] Status DecodeBatchCuda(DecodeJob* jobs, size_t count, const MaxTables& tables, int device);

}  // namespace pmklc::kernels::cmmax
