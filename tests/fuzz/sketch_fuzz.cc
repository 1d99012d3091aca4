// libFuzzer target for the sketch record (ref::Sketch::Parse, read from a
// store's `k` keys and object records): any input parses or fails cleanly;
// what parses is ascending, at most kSketchSize hashes of 32 bits, and its
// re-serialisation parses back to the same sketch.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "engine/ref/ref_select.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto s = pmklc::ref::Sketch::Parse(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!s.ok()) return 0;
  if (s->mins.size() > pmklc::ref::kSketchSize) std::abort();
  for (size_t i = 0; i < s->mins.size(); ++i)
    if (s->mins[i] > 0xffffffffu || (i && s->mins[i] <= s->mins[i - 1])) std::abort();
  auto again = pmklc::ref::Sketch::Parse(s->Serialize());
  if (!again.ok() || again->mins != s->mins || again->bases != s->bases) std::abort();
  return 0;
}
