// parse.h — strict parsers for the numbers users type: sizes ("4M") and
// bounded integers. One definition for mount options (fs/mount_options.h)
// and the CLI, so "4x" is refused everywhere and "3G" accepted everywhere.
//
// Thread safety: pure functions.
// Errors: InvalidArgument with a one-line message that names `what` and
// says what is allowed; nothing is half-parsed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/common/status.h"

namespace pmklc {

// Digits, then at most one suffix K, M, G or T (either case; powers of
// 1024). Nothing else: no sign, spaces, fractions or trailing text.
// Refuses values outside [min, max] and values that overflow 64 bits.
[[nodiscard]] Result<uint64_t> ParseSize(std::string_view s, std::string_view what, uint64_t min = 0,
                                         uint64_t max = UINT64_MAX);
// Digits only, within [min, max].
[[nodiscard]] Result<uint64_t> ParseUint(std::string_view s, std::string_view what, uint64_t min = 0,
                                         uint64_t max = UINT64_MAX);
// "4M", "3G", "1536K", "100": the shortest exact spelling of a size.
std::string FormatSize(uint64_t bytes);

}  // namespace pmklc
