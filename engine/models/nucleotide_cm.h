// nucleotide_cm.h — context-mixing coder for a nucleotide stream
// (engine/models; issue #4, first cut).
//
// Each base (code 0..3) is coded as two binary decisions. Order-k context
// models (direct tables for 2k <= 24 bits, hashed beyond) give a probability
// per decision from adaptive 16-bit counters; two repeat models follow the
// latest earlier occurrence of the last 20 bases, forward and as a reverse
// complement (inverted repeat), each with a confidence learned per match
// length; a logistic mixer with integer
// weights (one weight set per decision node and previous base) combines them
// in the stretch domain; an APM stage refines the result. Everything is
// integer arithmetic in a fixed order: the same input gives the same bytes on
// every machine and build, and the decoder mirrors the encoder exactly.
// Thread safety: one coder per thread. Memory: ~6 bytes per table slot.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/status.h"

namespace pmklc {

struct CmParams {
  std::vector<uint8_t> orders{1, 2, 3, 4, 6, 8, 11, 12, 14, 16, 20};  // Default: 11 models
  uint8_t hash_bits = 22;  // slots per hashed model = 2^hash_bits. Default: 22
  // Serialised form (stored with the coded data so the decoder rebuilds the same models).
  std::string Serialize() const;
  // Corruption for malformed params or models over 1 GiB.
  static Result<CmParams> Parse(std::string_view in, size_t* used);
};

// Codes n bases (values 0..3) into *out (appends).
void CmEncode(const CmParams& p, const uint8_t* codes, size_t n, std::string* out);
// Decodes exactly n bases; Corruption if the input is too short.
Status CmDecode(const CmParams& p, std::string_view in, size_t n, uint8_t* codes);

}  // namespace pmklc
