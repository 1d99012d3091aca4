// libFuzzer target for the FASTA stream parser and encoders: any input must
// encode (fasta2bit, fasta-protein, or the fallback) and decode to the same
// bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "engine/codec/codec.h"
#include "engine/fasta/fasta_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view raw(reinterpret_cast<const char*>(data), size);
  std::string payload, out;
  pmklc::FastaKind kind;
  if (pmklc::EncodeFasta2Bit(raw, 1, &payload, &kind).ok()) {
    out.assign(size, '\0');
    if (!pmklc::DecodeFasta2Bit(payload, size, out.data()).ok() || out != raw) std::abort();
  }
  if (pmklc::EncodeFastaProtein(raw, 1, 1, &payload).ok()) {
    out.assign(size, '\0');
    if (!pmklc::DecodeFastaProtein(payload, size, out.data()).ok() || out != raw) std::abort();
  }
  std::string value;
  if (!pmklc::EncodeBlock(raw, pmklc::EncodeOptions{}, &value).ok()) std::abort();
  if (!pmklc::DecodeBlock(value, &out).ok() || out != raw) std::abort();
  return 0;
}
