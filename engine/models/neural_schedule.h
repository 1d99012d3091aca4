// neural_schedule.h — internals of neural_stream.* shared by the encoder and
// the decoder: the stream header, the DM's initial weights, and the SMP
// schedule (sub-block threads and DM snapshots). Not a public header.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
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
  std::vector<uint64_t> sub_n;    // bases per sub-block
  std::vector<uint64_t> sub_len;  // coded bytes per sub-block (payloads follow the header)
};

void PutHeader(const Header& h, std::string* out);
// Parses the header; *used = its length. Corruption when malformed.
Status ParseHeader(std::string_view in, Header* h, size_t* used);

// Where sub-block j's DM is snapshotted for j+1.
inline uint64_t SnapshotAt(uint64_t n, uint8_t percent) { return n * percent / 100; }

// The DM's weights handed from sub-block j to j+1. Publish wakes the waiter;
// a failed sub-block publishes a failure so its successor stops.
class Handoff {
 public:
  void Publish(const float* w, size_t n, bool ok) {
    std::lock_guard<std::mutex> l(mu_);
    if (w) w_.assign(w, w + n);
    ok_ = ok;
    ready_ = true;
    cv_.notify_all();
  }
  // Blocks until published; false if the publisher failed.
  bool Wait(std::vector<float>* w) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return ready_; });
    if (ok_) *w = w_;
    return ok_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<float> w_;
  bool ready_ = false, ok_ = false;
};

// One DM of one sub-block: a TokNetPredictor that publishes its weights to
// `next` once `snap_at` bases have been learnt (at most once).
class SmpPredictor final : public BasePredictor {
 public:
  SmpPredictor(const DmSpec& d, const float* w, Handoff* next, uint64_t snap_at)
      : dm_(d.shape, w, d.lr, d.learn_reverse), next_(next), snap_at_(snap_at) {
    MaybePublish();
  }
  void Predict(uint32_t p[4]) override { dm_.Predict(p); }
  void Update(int base) override {
    dm_.Update(base);
    MaybePublish();
  }
  // Publishes now if it has not yet (the sub-block ended early or failed).
  void Finish(bool ok) {
    if (next_ && !published_) next_->Publish(dm_.weights(), dm_.weight_count(), ok);
    published_ = true;
  }

 private:
  void MaybePublish() {
    if (next_ && !published_ && dm_.position() >= snap_at_) {
      next_->Publish(dm_.weights(), dm_.weight_count(), true);
      published_ = true;
    }
  }
  TokNetPredictor dm_;
  Handoff* next_;
  uint64_t snap_at_;
  bool published_ = false;
};

// Runs fn(j) for j = 0..S-1 on min(S, threads) threads; each thread takes the
// next index in order, so a sub-block only ever waits for an earlier one that
// is already running. Returns the first error by index.
Status RunSubBlocks(size_t S, int threads, const std::function<Status(size_t)>& fn);

// Codes (encode) or decodes one sub-block j: sets up its DMs (from `init` or,
// with SMP, from handoff[j][d] published by sub-block j-1), publishes to
// handoff[j+1], and runs `code` with the extra predictors in header order
// (DMs, SPuM, SPrM).
Status RunSubBlock(const Header& h, size_t j, const std::vector<std::vector<float>>& init,
                   std::vector<std::vector<Handoff>>* handoff, const TokNetModel* spum, const TokNetModel* sprm,
                   const std::function<Status(std::span<BasePredictor* const>)>& code);

// The DMs' initial weights (from their seeds).
std::vector<std::vector<float>> InitialDmWeights(const Header& h);

// The static models a header names, resolved through the registry.
Status ResolveStatic(const Header& h, std::shared_ptr<const TokNetModel>* spum,
                     std::shared_ptr<const TokNetModel>* sprm);

}  // namespace pmklc::neural
