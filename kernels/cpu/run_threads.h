// run_threads.h — work() run on up to `threads` threads at once (this one
// included), each taking items until none are left; returns when all have
// finished. A thread that cannot be started leaves its share to the others.
// work must not throw (callers turn exceptions into statuses first).
#pragma once

#include <algorithm>
#include <cstddef>
#include <thread>
#include <vector>

namespace pmklc::kernels {

template <class Work>
void RunOnThreads(size_t items, int threads, Work&& work) {
  const size_t w = std::min<size_t>(items, static_cast<size_t>(threads < 1 ? 1 : threads));
  std::vector<std::thread> pool;
  for (size_t t = 1; t < w; ++t) {
    try {
      pool.emplace_back(work);
    } catch (...) {
      break;  // (fewer threads: the others do the rest)
    }
  }
  work();
  for (auto& t : pool) t.join();
}

}  // namespace pmklc::kernels
