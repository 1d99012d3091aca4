// Container layout constants (internal to engine/container; documented in
// docs/format.md §Container).
#pragma once
#include <cstdint>

namespace pmklc::container {
inline constexpr char kMagic[8] = {'\x89', 'P', 'M', 'K', 'L', 'C', '\r', '\n'};
inline constexpr char kTrailerMagic[8] = {'P', 'M', 'K', 'L', 'C', 'E', 'N', 'D'};
inline constexpr uint8_t kVersion = 1;
inline constexpr uint32_t kIndexMarker = 0xffffffffu;
// Header flags (u16 at byte 10).
inline constexpr uint16_t kFlagPrivateModel = 1;  // u32 length + a model file follow the header
inline constexpr uint16_t kFlagReference = 2;     // u64 reference id + u64 its size follow (after the model)
inline constexpr uint16_t kFlagMembers = 4;       // a member table follows (after the reference)
inline constexpr uint32_t kMaxMembers = 1u << 20;
inline constexpr uint32_t kMaxValue = (64u << 20) + 4096;  // a block value's upper bound
}  // namespace pmklc::container
