// Container layout constants (internal to engine/container; documented in
// docs/format.md §Container).
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>

#include "engine/codec/codec.h"
#include "engine/common/status.h"

namespace pmklc::container {
inline constexpr char kMagic[8] = {'\x89', 'P', 'M', 'K', 'L', 'C', '\r', '\n'};
inline constexpr char kTrailerMagic[8] = {'P', 'M', 'K', 'L', 'C', 'E', 'N', 'D'};
inline constexpr uint8_t kVersion = 1;
inline constexpr uint32_t kIndexMarker = 0xffffffffu;
// Header flags (u16 at byte 10).
inline constexpr uint16_t kFlagPrivateModel = 1;  // u32 length + a model file follow the header
inline constexpr uint16_t kFlagReference = 2;     // u64 reference id + u64 its size follow (after the model)
inline constexpr uint16_t kFlagMembers = 4;       // a member table follows (after the reference)
// Blocks may be coded against the container's own earlier blocks (object
// kCollectionObject, segment = block number), at most kSelfRefWindow back:
// whole-file context (`compress -p max`); they then decode in order.
inline constexpr uint16_t kFlagSelfRefs = 8;
inline constexpr uint64_t kSelfRefWindow = 4;
inline constexpr uint16_t kKnownFlags = kFlagPrivateModel | kFlagReference | kFlagMembers | kFlagSelfRefs;
inline constexpr uint32_t kMaxMembers = 1u << 20;
inline constexpr uint32_t kMaxValue = (64u << 20) + 4096;  // a block value's upper bound

// Reads the sections that follow the 16-byte file header for `flags`: the
// private model (registered, bit 0) and the reference id (bit 1; checked
// against ref_id, and refs must be given). read(buf, n, what) reads the
// next n bytes or fails naming `what`. The member table (bit 2) is left to
// the caller. Used by ContainerReader and ContainerFile.
using ReadFn = std::function<Status(char* buf, size_t n, const char* what)>;
Status ReadHeaderSections(uint16_t flags, const ReadFn& read, const RefSource* refs, uint64_t ref_id);
}  // namespace pmklc::container
