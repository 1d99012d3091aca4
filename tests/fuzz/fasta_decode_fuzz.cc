// libFuzzer target for the FASTA decoders (fasta2bit and fasta-protein): any
// payload must decode to exactly raw_len bytes or fail cleanly. The first two
// input bytes choose the codec and the claimed raw length.
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/fasta/fasta_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const bool protein = data[0] & 1;
  const size_t raw_len = (static_cast<size_t>(data[1]) << 8 | data[2]) * 4;
  std::string_view payload(reinterpret_cast<const char*>(data + 3), size - 3);
  std::string out(raw_len, '\0');
  if (protein) (void)pmklc::DecodeFastaProtein(payload, raw_len, out.data());
  else (void)pmklc::DecodeFasta2Bit(payload, raw_len, out.data());
  return 0;
}
