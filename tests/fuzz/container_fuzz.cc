// libFuzzer target for the container reader: any input must be read to the
// end or fail cleanly, and every block it returns must match its checksum
// (the reader verifies it; a block is never returned on failure).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "engine/container/container.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  size_t pos = 0;
  pmklc::ContainerReader r([&](char* buf, size_t n) -> pmklc::Result<size_t> {
    size_t k = std::min(n, size - pos);
    if (k) std::memcpy(buf, data + pos, k);
    pos += k;
    return k;
  });
  std::string block;
  bool eof = false;
  for (int i = 0; i < 100000 && !eof; ++i)
    if (!r.Next(&block, &eof).ok()) break;
  return 0;
}
