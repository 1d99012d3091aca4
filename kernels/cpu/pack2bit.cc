#include "kernels/pack2bit.h"

namespace pmklc::kernels {

void Pack2BitCpu(const uint8_t* codes, size_t n, uint8_t* out) {
  size_t full = n / 4;
  for (size_t i = 0; i < full; ++i) {
    const uint8_t* c = codes + 4 * i;
    out[i] = static_cast<uint8_t>((c[0] & 3) | ((c[1] & 3) << 2) | ((c[2] & 3) << 4) | ((c[3] & 3) << 6));
  }
  if (n % 4) {
    uint8_t b = 0;
    for (size_t j = 0; j < n % 4; ++j) b |= static_cast<uint8_t>((codes[4 * full + j] & 3) << (2 * j));
    out[full] = b;
  }
}

void Unpack2BitCpu(const uint8_t* packed, size_t n, uint8_t* codes) {
  for (size_t i = 0; i < n; ++i) codes[i] = (packed[i / 4] >> (2 * (i % 4))) & 3;
}

}  // namespace pmklc::kernels
