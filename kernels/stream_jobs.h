// stream_jobs.h — one stream of a GPU batch, to code or to decode (the
// jobs of kernels/cm_slim_batch.h and kernels/cm_max_batch.h, whose Shape
// says which coder's step runs it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace pmklc::kernels {

template <class Shape>
struct StreamEncodeJob {
  Shape shape;
  const uint8_t* codes = nullptr;  // n bases, 0..3 (higher bits ignored)
  size_t n = 0;
  std::string* out = nullptr;      // receives the coded stream (replaced)
};

template <class Shape>
struct StreamDecodeJob {
  Shape shape;
  const unsigned char* in = nullptr;  // the coded stream
  size_t in_len = 0;
  size_t n = 0;                        // bases to decode
  uint8_t* codes = nullptr;            // n bytes
  bool ok = false;                     // false: the input ran out (corrupt)
};

}  // namespace pmklc::kernels
