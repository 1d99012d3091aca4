#include "fs/encoder_pool.h"

namespace pmklc {

EncoderPool::EncoderPool(unsigned threads, size_t max_queue) : max_queue_(max_queue) {
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
    job();
  }
}

}  // namespace pmklc
