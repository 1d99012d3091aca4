// Little-endian and big-endian load/store helpers (internal to engine/ and store/).
#pragma once
#include <cstdint>
#include <cstring>

namespace pmklc {

inline uint16_t LoadLE16(const char* p) { uint16_t v; std::memcpy(&v, p, 2); return v; }
inline uint32_t LoadLE32(const char* p) { uint32_t v; std::memcpy(&v, p, 4); return v; }
inline uint64_t LoadLE64(const char* p) { uint64_t v; std::memcpy(&v, p, 8); return v; }
inline void StoreLE16(char* p, uint16_t v) { std::memcpy(p, &v, 2); }
inline void StoreLE32(char* p, uint32_t v) { std::memcpy(p, &v, 4); }
inline void StoreLE64(char* p, uint64_t v) { std::memcpy(p, &v, 8); }
inline void StoreBE64(char* p, uint64_t v) {
  for (int i = 7; i >= 0; --i) { p[i] = static_cast<char>(v & 0xff); v >>= 8; }
}
inline void StoreBE32(char* p, uint32_t v) {
  for (int i = 3; i >= 0; --i) { p[i] = static_cast<char>(v & 0xff); v >>= 8; }
}
inline uint32_t LoadBE32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
inline uint64_t LoadBE64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "pmklcfs assumes a little-endian host");

}  // namespace pmklc
