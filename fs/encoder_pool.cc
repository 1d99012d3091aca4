#include "fs/encoder_pool.h"

#include <spdlog/spdlog.h>

#include "engine/common/guarded.h"

namespace pmklc {

EncoderPool::EncoderPool(unsigned threads, size_t max_queue, const char* name)
    : name_(name), max_queue_(max_queue) {
  for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this] { Loop(); });
}

EncoderPool::~EncoderPool() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

bool EncoderPool::TrySubmit(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stop_ || threads_.empty() || q_.size() >= max_queue_) return false;
    q_.push_back(std::move(job));
  }
  cv_.notify_one();
  return true;
}

void EncoderPool::Loop() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return stop_ || !q_.empty(); });
      if (q_.empty()) return;  // stop_ and drained
      job = std::move(q_.front());
      q_.pop_front();
    }
    // One failed job stays one failed job: it is logged and counted, and
    // the thread goes on with the next.
    Status s = Guarded(name_, job);
    if (!s.ok()) {
      failed_++;
      spdlog::error("{}", s.ToString());
    }
  }
}

}  // namespace pmklc
