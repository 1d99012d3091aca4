// logistic.h — integer stretch/squash for mixing (engine/models).
//
// squash(x) = 65536 / (1 + e^(-x/256)) for x in [-2047, 2047] (x in 1/256
// units of the logit), and stretch = its inverse, both from integer tables
// built once from an integer-only recurrence, so every machine and build
// computes identical values (no libm, no floating point).
#pragma once
#include <cstdint>

namespace pmklc::models {

// P(1) in 1/65536 units -> logit in 1/256 units, in [-2047, 2047].
int Stretch(uint32_t p16);
// logit in 1/256 units -> P(1) in 1/65536 units, in [1, 65535].
uint32_t Squash(int x);

}  // namespace pmklc::models
