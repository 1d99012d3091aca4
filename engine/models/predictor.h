// predictor.h — the interface of a base predictor that the context-mixing
// coder mixes in (engine/models).
//
// A predictor sees the nucleotide stream of one block in coding order. Before
// each base the coder asks for its distribution over A, C, G, T; after the
// base is coded (or decoded) it is told the base. The coder turns the
// distribution into the probabilities of its two binary decisions (high bit,
// then low bit given the high bit) and feeds their stretched values to its
// mixers as one input per decision, next to its own context and repeat
// models; the mixers learn how far to trust each predictor.
//
// The neural models of issue #5 (SPuM, SPrM, DM) implement this interface;
// k-mer token predictors convert their token distribution to per-base
// conditionals before answering Predict.
//
// Contract:
//  * Determinism: Predict and Update must depend only on the bases seen so
//    far in this block (and on fixed weights), with integer or fixed-order
//    arithmetic, so encoder and decoder get bit-identical distributions on
//    every machine and build.
//  * Predict fills p[0..3] (A, C, G, T) with values >= 1 that sum to
//    kPredictorOne exactly.
// Ownership: the caller owns predictors; the coder borrows them for one call.
// Thread safety: one predictor instance per coding thread.
#pragma once

#include <cstdint>

#include "kernels/node_prob.h"

namespace pmklc {

inline constexpr uint32_t kPredictorOne = 1u << 16;

class BasePredictor {
 public:
  virtual ~BasePredictor() = default;
  // Distribution of the next base.
  virtual void Predict(uint32_t p[4]) = 0;
  // The base (0..3) that followed; the predictor learns from it.
  virtual void Update(int base) = 0;
};

// P(bit = 1) of decision node (0: high bit; 1 + high: low bit given the high
// bit) as a 16-bit probability in [1, 65535], from a distribution p[4].
inline uint32_t NodeProbability(const uint32_t p[4], int node) { return kernels::NodeProbability4(p, node); }

}  // namespace pmklc
