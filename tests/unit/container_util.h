// In-memory container helpers for tests.
#pragma once
#include <algorithm>
#include <cstring>
#include <string>

#include "engine/container/container.h"

namespace pmklc::testing {

// Reads a whole container held in memory (threads: blocks decoded at once);
// *out gets the bytes of every block returned before any error.
inline Status ReadContainer(const std::string& c, std::string* out, int threads = 1) {
  size_t pos = 0;
  ContainerReader r(
      [&](char* buf, size_t n) -> Result<size_t> {
        size_t k = std::min(n, c.size() - pos);
        if (k) std::memcpy(buf, c.data() + pos, k);
        pos += k;
        return k;
      },
      threads);
  out->clear();
  std::string block;
  bool eof = false;
  while (!eof) {
    Status s = r.Next(&block, &eof);
    if (!s.ok()) return s;
    out->append(block);
  }
  return Status::OK();
}

}  // namespace pmklc::testing
