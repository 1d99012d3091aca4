// encoder_pool.h — background threads that encode and store complete blocks
// (internal to fs/), so a sequential writer keeps both cores busy: the FUSE
// thread copies data in while the pool compresses.
//
// Thread safety: TrySubmit may be called from any thread. The queue is
// bounded; TrySubmit returns false when it is full and the caller then does
// the work itself (never blocks, so it cannot deadlock on a node lock).
// Ownership: jobs are std::function values owned by the pool until run.
// The destructor runs every queued job, then joins the threads.
// Errors: a job that throws is caught (engine/common/guarded.h), logged with
// the pool's name and counted in failed(); the thread goes on with the next
// job. Jobs that must report failure to someone catch for themselves.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace pmklc {

class EncoderPool {
 public:
  // name: what the jobs are, for the log ("block encoder"). Must outlive the pool.
  EncoderPool(unsigned threads, size_t max_queue, const char* name = "pool job");
  ~EncoderPool();
  bool TrySubmit(std::function<void()> job);
  // Jobs that threw, since construction.
  uint64_t failed() const { return failed_.load(); }

 private:
  void Loop();
  const char* name_;
  std::atomic<uint64_t> failed_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> q_;
  size_t max_queue_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace pmklc
