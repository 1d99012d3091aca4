// neural_schedule.h — internals of neural_stream.* shared by the encoder and
// the decoder: the stream header, the DM's initial weights, and the SMP
// schedule (sub-block threads and DM snapshots). Not a public header.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/models/neural_stream.h"
#include "engine/models/toknet_predictor.h"

namespace pmklc::neural {

struct Header {
  uint8_t models = 0;
  CmParams cm;
  uint8_t extra_mix = 0;
  std::vector<DmSpec> dms;
  std::vector<uint64_t> dm_seeds;
  uint64_t spum_id = 0, sprm_id = 0;
  uint8_t smp_percent = 0;
  uint32_t chain_pos = 0;         // place in the cross-block chain (0: starts fresh)
  std::vector<uint64_t> sub_n;    // bases per sub-block
  std::vector<uint64_t> sub_len;  // coded bytes per sub-block (payloads follow the header)
};

void PutHeader(const Header& h, std::string* out);
// Parses the header; *used = its length. Corruption when malformed.
Status ParseHeader(std::string_view in, Header* h, size_t* used);

// Where sub-block j's DM is snapshotted for j+1.
inline uint64_t SnapshotAt(uint64_t n, uint8_t percent) { return n * percent / 100; }

// One DM of one sub-block: a TokNetPredictor that publishes its weights to
// slot d of `next` once `snap_at` bases have been learnt (at most once).
class SmpPredictor final : public BasePredictor {
 public:
  SmpPredictor(size_t d, const DmSpec& spec, const float* w, DmLink* next, uint64_t snap_at)
      : d_(d), dm_(spec.shape, w, spec.lr, spec.learn_reverse), next_(next), snap_at_(snap_at) {
    MaybePublish();
  }
  void Predict(uint32_t p[4]) override { dm_.Predict(p); }
  void Update(int base) override {
    dm_.Update(base);
    MaybePublish();
  }
  // Publishes now if it has not yet (the sub-block ended early or failed).
  void Finish(bool ok) {
    if (next_ && !published_) Send(ok);
  }

 private:
  void Send(bool ok) {
    next_->Publish(d_, std::vector<float>(dm_.weights(), dm_.weights() + dm_.weight_count()), ok);
    published_ = true;
  }
  void MaybePublish() {
    if (next_ && !published_ && dm_.position() >= snap_at_) Send(true);
  }
  size_t d_;
  TokNetPredictor dm_;
  DmLink* next_;
  uint64_t snap_at_;
  bool published_ = false;
};

// Runs fn(j) for j = 0..S-1 on min(S, threads) threads; each thread takes the
// next index in order, so a sub-block only ever waits for an earlier one that
// is already running. Returns the first error by index.
Status RunSubBlocks(size_t S, int threads, const std::function<Status(size_t)>& fn);

// Codes (encode) or decodes one sub-block j: sets up its DMs (sub-block 0
// from `start`, later ones from link[j], published by sub-block j-1 with
// SMP, else from `start` too), publishes to link[j+1] (link[S] is the
// chain's out link, or null), and runs `code` with the extra predictors in
// header order (DMs, SPuM, SPrM).
Status RunSubBlock(const Header& h, size_t j, const std::vector<std::vector<float>>& start,
                   std::vector<DmLink*>& link, const TokNetModel* spum, const TokNetModel* sprm,
                   const std::function<Status(std::span<BasePredictor* const>)>& code);

// The weights the first sub-block's DMs start from: the chain's in link
// when chain_pos > 0 (an empty slot: the initial weights), else the initial
// weights. NotSupported without a link where one is needed.
Status StartWeights(const Header& h, const NeuralChain* chain, std::vector<std::vector<float>>* start);

// Runs the S sub-blocks of a stream: links between them for SMP, the last
// one's DMs published to `out` (the next block) at smp_percent; code(j,
// extra) codes or decodes sub-block j.
Status RunStream(const Header& h, const std::vector<std::vector<float>>& start, DmLink* out, int threads,
                 const TokNetModel* spum, const TokNetModel* sprm,
                 const std::function<Status(size_t, std::span<BasePredictor* const>)>& code);

// ---- Sub-blocks as jobs (issue #18): what a SubCoder (a GPU batch,
// engine/models/neural_batch.h) codes instead of RunStream's threads.

// One sub-block: RunSubBlock's work with its links made explicit.
struct SubJob {
  const Header* h = nullptr;
  size_t j = 0;
  // The DMs start from `in`'s weights once it is complete (an empty slot:
  // the initial weights; a failed link fails the job), or from the initial
  // weights when in is null.
  DmLink* in = nullptr;
  // Receives every DM's weights once snap_at bases were coded (when set);
  // completed (PublishRest) whatever happens.
  DmLink* out = nullptr;
  uint64_t snap_at = 0;
  const TokNetModel* spum = nullptr;
  const TokNetModel* sprm = nullptr;
  bool encode = true;
  size_t n = 0;
  const uint8_t* codes = nullptr;  // encode: n bases
  std::string* bytes = nullptr;    // encode: receives the coded sub-block (replaced)
  std::string_view in_bytes;       // decode: the coded sub-block
  uint8_t* dcodes = nullptr;       // decode: n bases
  Status st;
};

// Codes or decodes jobs; returns when every one is done (its st set, its
// out link completed). Bytes and snapshots are exactly RunSubBlock's.
// Thread safety: Run may be called from many threads at once.
class SubCoder {
 public:
  virtual ~SubCoder() = default;
  [[nodiscard]] virtual Status Run(std::span<SubJob* const> jobs) = 0;
};

// RunStream through a SubCoder. The stream's jobs, one a sub-block, with
// the links between them; `chain_in`: the block's start (chain_pos > 0).
// io(job) fills each job's bases and bytes. A stream without DMs waits for
// chain_in here and hands it on to `out` (as RunStream); one with DMs
// waits for nothing here: its first job starts from chain_in.
Status RunStreamOn(SubCoder* coder, const Header& h, DmLink* chain_in, DmLink* out, const TokNetModel* spum,
                   const TokNetModel* sprm, const std::function<void(SubJob*)>& io);

// The static models a header names, resolved through the registry.
Status ResolveStatic(const Header& h, std::shared_ptr<const TokNetModel>* spum,
                     std::shared_ptr<const TokNetModel>* sprm);

}  // namespace pmklc::neural
