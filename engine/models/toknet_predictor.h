// toknet_predictor.h — the token network (kernels/toknet.h) as a base
// predictor (engine/models/predictor.h) for the context-mixing coder: the
// static models (SPuM, SPrM: fixed weights, lr = 0) and the dynamic model
// (DM: starts from given weights and learns online, lr > 0).
//
// Schedule. The stream is cut into steps of s bases. At the start of step t
// the network reads the ctx newest tokens complete by then (those with
// j*s + k <= t*s, newest first; the pad token where there are none) and
// predicts the 4^s outcomes of the step; Predict turns that distribution into
// the conditional distribution of each base of the step given the bases of
// the step already seen. When the step's s bases are known, a dynamic model
// takes one SGD step on them (kernels::TokNetUpdateCpu). The encoder and the
// decoder run this identically; a trailing partial step is never learnt.
// With learn_reverse (dynamic models only), each completed step is followed
// by a second SGD step on the reverse strand, once ctx*s + k bases are known:
// the last L = ctx*s + k bases read as their reverse complement r
// (r_j = 3 - b[pos-1-j], j = 0..L-1) give the inputs, token c (newest first,
// c = 0..ctx-1) = the k bases r[T - c*s - k .. T - c*s - 1] with T = L - s,
// and the target, the s bases r[T .. T+s-1] (both packed high base first);
// forward (kernels::TokNetForwardCpu) then update with the same lr. DNA's
// strand symmetry makes these as good examples as the forward ones (the
// inverted-repeat idea of the context models): measured with CmParams::Max()
// it lifts the DM's gain over the CM alone by about half.
// Determinism: float arithmetic in the fixed order of kernels/toknet.h and an
// integer conversion; the same bits on every machine.
// Ownership: a static predictor borrows `weights` (they must outlive it); a
// dynamic one copies them. Thread safety: one instance per coding thread.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/models/predictor.h"
#include "kernels/toknet_step.h"

namespace pmklc {

class TokNetPredictor final : public BasePredictor {
 public:
  // lr == 0: static (weights borrowed); lr > 0: dynamic (weights copied).
  TokNetPredictor(const kernels::TokNetShape& shape, const float* weights, float lr, bool learn_reverse = false);

  void Predict(uint32_t p[4]) override { net_.Predict(p); }
  void Update(int base) override { net_.Update(base); }

  // Bases seen so far.
  uint64_t position() const { return net_.pos; }
  // The current weights (a dynamic model's learnt state; SMP snapshots it).
  const float* weights() const { return net_.w; }
  size_t weight_count() const { return net_.sh.weight_count(); }

 private:
  // The flat-state step (kernels/toknet_step.h), the code a GPU stream runs.
  kernels::TokNet net_;
  std::vector<float> arena_;  // its arena (float-aligned)
};

}  // namespace pmklc

namespace pmklc {
// Deterministic initial weights for a shape (the DM's start when no static
// model seeds it): embeddings and output weights uniform in +-scale from a
// splitmix64 stream of `seed`, biases 0. Same bits everywhere.
std::vector<float> TokNetInitialWeights(const kernels::TokNetShape& shape, uint64_t seed,
                                        float embed_scale = 0.05f, float out_scale = 0.05f);
}  // namespace pmklc
