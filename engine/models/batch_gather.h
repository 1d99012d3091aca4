// batch_gather.h — gathers the requests of concurrent callers into batches
// (CmBatcher and NeuralBatcher, engine/models/cm_batch.h, neural_batch.h):
// a caller adds its request and waits; the caller that fills a batch to
// `width` requests, or whose linger runs out while its request still waits
// to be taken, runs the batch for everyone, with no lock held. Only a
// caller whose request is still waiting leads: one whose request is in
// another leader's batch just waits for it.
// Thread safety: Submit is called from many threads at once.
// Errors: whatever the run throws is handed to `fail` for that batch, so no
// caller is left waiting.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <mutex>
#include <string>
#include <vector>

namespace pmklc {

// Req: any type with a `bool done` (false when submitted).
template <class Req>
class BatchGatherer {
 public:
  BatchGatherer(size_t width, int linger_ms) : width_(width < 1 ? 1 : width), linger_ms_(linger_ms) {}

  // Returns when r is done. run(std::vector<Req*>&) codes a batch;
  // fail(std::vector<Req*>&, const std::string& why) marks a batch whose
  // run threw.
  template <class Run, class Fail>
  void Submit(Req* r, Run&& run, Fail&& fail) {
    std::unique_lock<std::mutex> l(mu_);
    pending_.push_back(r);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(linger_ms_);
    bool late = false;
    while (!r->done) {
      const bool waiting = std::find(pending_.begin(), pending_.end(), r) != pending_.end();
      if (waiting && (pending_.size() >= width_ || late)) {
        std::vector<Req*> batch;
        batch.swap(pending_);
        l.unlock();
        try {
          run(batch);
        } catch (const std::exception& ex) {
          fail(batch, std::string(ex.what()));
        } catch (...) {
          fail(batch, std::string("unknown exception"));
        }
        l.lock();
        for (Req* q : batch) q->done = true;
        cv_.notify_all();
        continue;
      }
      if (!late) late = cv_.wait_until(l, deadline) == std::cv_status::timeout;
      else cv_.wait(l);
    }
  }

 private:
  size_t width_;
  int linger_ms_;
  std::mutex mu_;  // guards pending_ and every Req's done flag
  std::condition_variable cv_;
  std::vector<Req*> pending_;
};

}  // namespace pmklc
