// node_prob.h — P(bit = 1) of a base's binary decision node from a
// distribution over the four bases (16-bit), one PMKLC_HD definition for
// the extra predictors' interface (engine/models/predictor.h) and the
// coder's step (kernels/cm_max.h).
#pragma once

#include <cstdint>

#include "kernels/hd.h"

namespace pmklc::kernels {

// node 0: the high bit (G or T); node 1 + hi: the low bit given hi.
// 1..65535; 32768 when the distribution gives the node nothing.
PMKLC_HD uint32_t NodeProbability4(const uint32_t p[4], int node) {
  uint64_t num, den;
  if (node == 0) {
    num = uint64_t{p[2]} + p[3];
    den = uint64_t{p[0]} + p[1] + p[2] + p[3];
  } else {
    const int hi = node - 1;
    num = p[2 * hi + 1];
    den = uint64_t{p[2 * hi]} + p[2 * hi + 1];
  }
  if (den == 0) return 32768;
  const uint64_t q = (num << 16) / den;
  return q < 1 ? 1 : (q > 65535 ? 65535 : static_cast<uint32_t>(q));
}

}  // namespace pmklc::kernels
