// Device detection for builds without CUDA.
#include "kernels/device.h"
#include "kernels/pack2bit.h"

namespace pmklc::kernels {

bool BuiltWithCuda() { return false; }

Result<std::vector<GpuInfo>> ListGpus() {
  return Status::NotSupported("this build has no CUDA kernels (nvcc was not found at build time)");
}

Status Pack2BitCuda(const uint8_t*, size_t, uint8_t*) {
  return Status::NotSupported("this build has no CUDA kernels");
}

}  // namespace pmklc::kernels

#include "kernels/toknet.h"

namespace pmklc::kernels {

Status TokenizeCuda(const uint8_t*, size_t, int, int, uint32_t*) {
  return Status::NotSupported("this build has no CUDA kernels");
}

Status TokNetRunCuda(const TokNetShape&, float*, int, int, const uint32_t*, const int32_t*, float,
                     float*) {
  return Status::NotSupported("this build has no CUDA kernels");
}

}  // namespace pmklc::kernels

#include "kernels/nn4.h"

namespace pmklc::kernels::nn4 {

Status StepCuda(Net*, size_t, const uint32_t*, const uint8_t*) {
  return Status::NotSupported("this build has no CUDA kernels");
}

}  // namespace pmklc::kernels::nn4

#include "kernels/cm_slim_batch.h"

namespace pmklc::kernels::cmslim {

Status EncodeBatchCuda(EncodeJob*, size_t, const Tables&, int) {
  return Status::NotSupported("this build has no CUDA kernels");
}

Status DecodeBatchCuda(DecodeJob*, size_t, const Tables&, int) {
  return Status::NotSupported("this build has no CUDA kernels");
}

}  // namespace pmklc::kernels::cmslim

#include "kernels/repeat_pool.h"

namespace pmklc::kernels::pool {

Status RunCuda(const PoolParams&, const uint8_t*, size_t, size_t, uint32_t*) {
  return Status::NotSupported("this build has no CUDA kernels");
}

}  // namespace pmklc::kernels::pool

#include "kernels/cm_max_batch.h"

namespace pmklc::kernels::cmmax {

Status EncodeBatchCuda(EncodeJob*, size_t, const MaxTables&, int) {
  return Status::NotSupported("this build has no CUDA kernels");
}

Status DecodeBatchCuda(DecodeJob*, size_t, const MaxTables&, int) {
  return Status::NotSupported("this build has no CUDA kernels");
}

}  // namespace pmklc::kernels::cmmax

#include "kernels/neural_slices.h"

namespace pmklc::kernels::neuralk {

Result<std::unique_ptr<Slices>> NewCudaSlices(const cmmax::MaxTables&, int) {
  return Status::NotSupported("this build has no CUDA kernels");
}

}  // namespace pmklc::kernels::neuralk
