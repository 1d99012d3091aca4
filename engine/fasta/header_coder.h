// header_coder.h — lossless coding of a block's text lines (FASTA headers,
// ';' comments and other non-sequence lines) before zstd (internal to engine/).
//
// Each line is split into digit runs and other text. A digit run of 1–18
// digits without a leading zero is a number; the rest, with every number
// replaced by byte 0x01, is the line's template. A line whose template
// equals the previous line's (and has numbers) is coded as "same template"
// plus the zigzag deltas of its numbers against the previous line's numbers
// (">seq=7 len=989" after ">seq=6 len=759": +1, +230); any other line is kept
// verbatim, numbers inline where zstd sees their context. Layout:
// docs/format.md §fasta2bit.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "engine/common/status.h"

namespace pmklc {

// Appends the coded form of lines to *out (self-delimiting).
void EncodeTextLines(const std::vector<std::string_view>& lines, std::string* out);
// Decodes exactly `count` lines from *in (advancing it). Corruption on any
// malformed input.
Status DecodeTextLines(std::string_view* in, size_t count, std::vector<std::string>* lines);

}  // namespace pmklc
