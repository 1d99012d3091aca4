// device.h — GPU detection for the codec kernels.
//
// A build without CUDA, a machine without a GPU, and a driver that reports an
// error (cudaGetDeviceCount returns 35, "driver older than runtime", where no
// GPU is installed) all give a non-OK Result whose message says why; callers
// then use the CPU kernels. Never aborts.
// Thread safety: safe to call concurrently.
#pragma once

#include <string>
#include <vector>

#include "engine/common/status.h"

namespace pmklc::kernels {

struct GpuInfo {
  int index = 0;
  std::string name;
  int major = 0, minor = 0;
  size_t memory_bytes = 0;
};

// The usable GPUs, or NotSupported with the reason there are none.
Result<std::vector<GpuInfo>> ListGpus();

// True when this binary was built with the CUDA kernels.
bool BuiltWithCuda();

}  // namespace pmklc::kernels
