// neural_util.h — what the neural tests share: small, quick neural options.
#pragma once

#include <cstdint>

#include "engine/models/neural_stream.h"

namespace pmklc::testing {

// Two small DMs over balanced's context models (the mixing path is max's),
// no selection, no static model; W sub-blocks of at least 10 000 bases.
inline NeuralOptions SmallNeural(int workers, uint8_t smp = 5) {
  NeuralOptions o;
  o.cm = CmParams::Balanced();
  o.dms = {{{3, 3, 8, 32}, 0.02f, true}, {{2, 2, 6, 16}, 0.02f, false}};
  o.workers = workers;
  o.min_sub_bases = 10000;
  o.smp_percent = smp;
  o.select = false;
  o.spum = nullptr;
  return o;
}

}  // namespace pmklc::testing
