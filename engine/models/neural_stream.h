// neural_stream.h — the nucleotide stream of the `neural` profile
// (codec fasta-neural; docs/format.md §fasta-neural): the context models of
// `max` mixed with the token networks of PMKLC (Sun et al., KDD 2025):
//  * DM   a dynamic token network that learns online while coding;
//  * SPuM a static public network shipped with pmklc (models/);
//  * SPrM a static private network trained on the user's data.
// Step-wise model passing (SMP) works at two levels:
//  * across container blocks (NeuralChain, what `pmklc compress -j W` uses):
//    block b's DMs start from block b-1's as they were after smp_percent % of
//    it, so W consecutive blocks are coded at once and no block starts cold;
//    the bytes do not depend on W;
//  * inside a stream (NeuralOptions::workers, an API option): S sub-blocks
//    coded by S threads, sub-block j's DMs passed from j-1 the same way; each
//    sub-block's context models start empty, which costs ratio.
// The decoder runs the same schedule, so its output never depends on its
// thread count.
// Which networks a stream mixes is decided per stream by trial encodes of a
// sample (select) and recorded in it, with the ids of the static models.
// Thread safety: reentrant; NeuralEncode/Decode start and join their own
// threads. Memory: S coders at once, each ~= one `max` coder of n/S bases
// plus its networks (docs/BENCHMARKS.md).
#pragma once

#include <cstdint>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/status.h"
#include "engine/models/nucleotide_cm.h"
#include "engine/models/toknet_model.h"

namespace pmklc {

namespace neural {
class SubCoder;
}

inline constexpr uint8_t kNeuralStreamVersion = 1;
// Most sub-blocks a stream may have (bounds the decoder's threads).
inline constexpr uint32_t kMaxSubBlocks = 64;

// Model bits recorded in a stream.
enum NeuralModelBits : uint8_t { kUseDm = 1, kUseSpum = 2, kUseSprm = 4 };

inline constexpr size_t kMaxDms = 2;
// Bounds a stream's DMs (what a decoder will allocate from a header): at most
// 4 Mi weights each (16 MiB), and lr <= 0.5.
inline constexpr size_t kMaxDmWeights = size_t{4} << 20;
inline constexpr float kMaxDmLr = 0.5f;

struct DmSpec {
  kernels::TokNetShape shape;
  float lr = 0.01f;
  bool learn_reverse = true;
};

// The dynamic networks' weights handed from one sub-block or block to the
// next (SMP): one slot per DM, each published once; Wait returns when every
// slot is. A publisher that fails publishes ok = false so the waiter stops.
// An empty slot means "start from the initial weights".
// Thread safety: Publish and Wait may be called from different threads.
class DmLink {
 public:
  // Not started: Wait blocks until Reset (by the publisher) and every slot.
  DmLink() = default;
  void Reset(size_t dms);
  void Publish(size_t d, std::vector<float> w, bool ok);
  // Publishes every slot not yet published (empty = initial weights).
  void PublishRest(bool ok);
  // Blocks until every slot is published; false if a publisher failed.
  bool Wait(std::vector<std::vector<float>>* w);
  // Waits at most ms milliseconds for every slot; true if they are.
  bool WaitFor(int ms);
  bool complete();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::vector<float>> w_;
  std::vector<bool> done_;
  size_t left_ = 0;
  bool ok_ = true;
  bool started_ = false;
};

// Step-wise model passing between consecutive blocks of a container: block
// b's DMs start from block b-1's as they were at smp_percent of it (`in`),
// and hand theirs on (`out`); `pos` is the block's place in its chain (0: it
// starts from the initial weights and needs no `in`). Recorded in the stream.
struct NeuralChain {
  uint32_t pos = 0;
  DmLink* in = nullptr;
  DmLink* out = nullptr;
};

// After a block was coded or decoded: if it did not publish to chain.out
// (it is not a fasta-neural block), hands on what it was given (chain.in's
// weights when pos > 0, else the initial weights). Writer and reader both
// call it, so they agree.
void ForwardChain(const NeuralChain& chain);

struct NeuralOptions {
  // Context models mixed with the networks (FitTo each sub-block). Default: CmParams::Max()
  CmParams cm = CmParams::Max();
  // Candidate networks; the selector keeps those that pay. Default: DM on,
  // no SPuM, no SPrM (ProfileOptions("neural") offers the shipped public
  // model, ShippedPublicModel(), when this build has one).
  bool dm = true;
  std::shared_ptr<const TokNetModel> spum;
  std::shared_ptr<const TokNetModel> sprm;
  // The dynamic networks (1 or 2, kMaxDms; together they are the "DM"
  // candidate): shape, SGD rate, and whether each step is also learnt on the
  // reverse-complement strand (TokNetPredictor). Default: k = s = 3, ctx 32,
  // hidden 64 and k = s = 2, ctx 24, hidden 32, both lr 0.01, reverse on
  // (docs/BENCHMARKS.md §Neural tier: DMs alone 1.4% below max).
  std::vector<DmSpec> dms{{{3, 3, 32, 64}, 0.01f, true}, {{2, 2, 24, 32}, 0.01f, true}};
  // How the networks are mixed (CmEncode's extra_mix bits). Default:
  // kExtraMixFinal | kExtraMixNeural
  uint32_t extra_mix = kExtraMixFinal | kExtraMixNeural;
  // Trial-encode a sample to choose the networks; false: use every candidate.
  // Default: true
  bool select = true;
  // W: sub-blocks coded in parallel (S = min(W, n / min_sub_bases), >= 1). Default: 1
  int workers = 1;
  // Threads coding the sub-blocks (the output does not depend on it);
  // 0 = workers. Default: 0
  int threads = 0;
  // Smallest sub-block when splitting. Default: 1 Mi bases
  size_t min_sub_bases = size_t{1} << 20;
  // SMP: where in sub-block j-1 its DM is passed to sub-block j (and in
  // block b-1 to block b); 0 = off (every DM starts from the initial
  // weights). Default: 5
  uint8_t smp_percent = 5;
  // Cross-block SMP, set per block by the container writer. Default: none
  NeuralChain chain;
  // Codes the sub-blocks (and the selection's trials) as jobs, e.g. on a
  // GPU (engine/models/neural_batch.h); the bytes are the same. Default:
  // none (threads here, as `threads` says)
  neural::SubCoder* coder = nullptr;
};

// Codes n bases (0..3) and appends the stream to *out. NoMemory when model
// tables cannot be allocated; InvalidArgument for bad options.
[[nodiscard]] Status NeuralEncode(const NeuralOptions& opts, const uint8_t* codes, size_t n,
                                  std::string* out);
// Decodes exactly n bases with at most max_threads threads (0: one per
// sub-block). Corruption for a malformed stream; NotFound when a static model
// it names is not available in this process (FindModel).
// A stream with chain position > 0 needs chain.in (the previous block's
// link; NotSupported without it); chain.out, if given, receives this block's.
// coder: as NeuralOptions::coder (Default: none).
[[nodiscard]] Status NeuralDecode(std::string_view in, size_t n, uint8_t* codes, int max_threads = 0,
                                  const NeuralChain* chain = nullptr, neural::SubCoder* coder = nullptr);

// What a stream uses (for stat and tests): model bits, sub-block count, SMP %.
struct NeuralStreamInfo {
  uint8_t models = 0;
  uint32_t sub_blocks = 0;
  uint8_t smp_percent = 0;
  uint64_t spum_id = 0, sprm_id = 0;
  uint32_t chain_pos = 0;
};
Result<NeuralStreamInfo> InspectNeuralStream(std::string_view in);

}  // namespace pmklc
