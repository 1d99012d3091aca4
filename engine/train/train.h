// train.h — training of the static token networks (SPuM, SPrM) with
// LibTorch (engine/train; the only code that includes LibTorch headers is
// train_torch.cc). Training never runs inside encode or decode: it produces
// weights that the deterministic kernels (kernels/toknet.h) then use.
//
// Examples: the nucleotide stream of every input is cut into runs of ACGT
// (any other byte ends a run); each run is a separate stream for the token
// schedule of engine/models/toknet_predictor.h (step t predicts bases
// [t*s, t*s+s) from the ctx newest tokens complete by t*s, pad before the
// run's start). Up to max_examples steps are sampled uniformly (seeded).
// Loss: cross-entropy of the 4^s outcomes, Adam, minibatches.
// Thread safety: one training per process at a time (LibTorch's thread pool
// is process-wide).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/common/status.h"
#include "engine/models/toknet_model.h"

namespace pmklc {

struct TrainOptions {
  // Network shape. Default: k = s = 3, ctx 24, hidden 256 (1.6 M parameters, 6.4 MB).
  kernels::TokNetShape shape{3, 3, 24, 256};
  int epochs = 2;                    // Default: 2
  size_t max_examples = 3u << 20;    // steps sampled per epoch. Default: 3 Mi
  int batch = 512;                   // Default: 512
  float lr = 2e-3f;                  // Adam step. Default: 2e-3
  uint64_t seed = 1;                 // sampling and init. Default: 1
  int threads = 0;                   // LibTorch intra-op threads; 0 = all cores. Default: 0
  // Progress lines (epoch, loss); may be empty. Default: none
  std::function<void(const std::string&)> log;
};

struct TrainReport {
  size_t bases = 0;        // ACGT bases in the input
  size_t examples = 0;     // steps per epoch
  size_t parameters = 0;
  int epochs = 0;
  double final_loss_bits_per_base = 0;  // training loss of the last epoch
  double seconds = 0;
};

// Appends the ACGT run structure of FASTA (or raw sequence) bytes: codes 0..3,
// and 4 where a run ends (headers, N, IUPAC, line ends do not end a run;
// headers and other bytes do).
void AppendTrainingCodes(std::string_view fasta, std::vector<uint8_t>* codes);

// Trains a network on codes (AppendTrainingCodes). InvalidArgument for a bad
// shape or too little data (fewer than 10 000 steps).
Result<TokNetModel> TrainTokNet(const std::vector<uint8_t>& codes, const TrainOptions& opts,
                                TrainReport* report);

}  // namespace pmklc
