// encoder_pool.h — background threads that encode and store complete blocks
// (internal to fs/), so a sequential writer keeps both cores busy: the FUSE
// thread copies data in while the pool compresses.
//
// Thread safety: TrySubmit may be called from any thread. The queue is
// bounded; TrySubmit returns false when it is full and the caller then does
// the work itself (never blocks, so it cannot deadlock on a node lock).
// Ownership: jobs are std::function values owned by the pool until run.
// The destructor runs every queued job, then joins the threads.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace pmklc {

class EncoderPool {
 public:
  EncoderPool(unsigned threads, size_t max_queue);
  ~EncoderPool();
  bool TrySubmit(std::function<void()> job);

 private:
  void Loop();
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> q_;
  size_t max_queue_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace pmklc
