// libFuzzer target for the files of a distributed-archiving export
// (store/services/archive_units.h: the export record, units, reference
// codes and the files record, read by workers and ingest from shared
// storage): any input parses or fails with a clean status. The first byte
// picks the file kind; the rest is the file.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "store/services/archive_units.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static constexpr char kKinds[] = {'x', 'u', 'r', 'f'};
  const char kind = kKinds[data[0] % 4];
  const pmklc::Status s =
      pmklc::ParseExportFile(kind, std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
  if (!s.ok() && !s.IsCorruption()) std::abort();  // malformed input is Corruption, nothing else
  return 0;
}
