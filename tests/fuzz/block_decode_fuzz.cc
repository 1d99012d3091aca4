// libFuzzer target for the block decoder: any input must either decode to
// bytes whose checksum matches the header, or fail cleanly. Build with
//   cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DPMKLC_FUZZ=ON
//   ninja -C build-fuzz block_decode_fuzz && build-fuzz/tests/block_decode_fuzz -max_total_time=60
// tests/unit/fuzz_smoke_test.cc runs the same entry point on mutated inputs in CI.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "engine/codec/codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string out;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const auto h = pmklc::ParseBlockHeader(in);
#ifdef PMKLC_LIBFUZZER
  // Under libFuzzer, blocks that claim more than 256 KiB are skipped: the
  // model coders size their tables from that claim (up to hundreds of MiB,
  // zeroed), which made each run take a tenth of a second under ASan (9
  // runs a second). Small claims reach the same decoder code. The CI smoke
  // test (FuzzSmoke.*, built without PMKLC_LIBFUZZER) keeps large claims.
  if (h.ok() && h->raw_len > (256u << 10)) return 0;
#endif
  pmklc::Status s = pmklc::DecodeBlock(in, &out);
  if (s.ok()) {
    if (!h.ok() || out.size() != h->raw_len || pmklc::BlockChecksum(out) != h->checksum) std::abort();
  } else if (!out.empty()) {
    std::abort();  // failed decodes must not leave bytes behind
  }
  return 0;
}
