// guarded.h — runs a unit of work so that no exception leaves it: the one
// catch-all that every thread entry of the daemon uses (encoder and
// prefetch pools, the archiver's loop and workers, the control server), as
// fs/fuse_ops.cc's Guard does for FUSE requests.
//
// Thread safety: Guarded may be called from any thread; the failure counter
// is process-wide and atomic.
// Errors: an exception becomes a Status (NoMemory for std::bad_alloc,
// IOError with the exception's text otherwise, IOError for a non-standard
// one), and the process-wide count of such failures goes up by one. A
// Status that fn returns is passed through unchanged and is not counted.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <new>
#include <string>
#include <type_traits>

#include "engine/common/status.h"

namespace pmklc {

namespace internal {
inline std::atomic<uint64_t>& GuardedFailureCounter() {
  static std::atomic<uint64_t> n{0};
  return n;
}
}  // namespace internal

// Number of exceptions that Guarded has caught in this process.
inline uint64_t GuardedFailures() { return internal::GuardedFailureCounter().load(); }

// Runs fn(). fn returns Status or void. `what` names the work in the message.
template <class Fn>
[[nodiscard]] Status Guarded(const char* what, Fn&& fn) noexcept {
  try {
    if constexpr (std::is_same_v<std::invoke_result_t<Fn>, void>) {
      fn();
      return Status::OK();
    } else {
      return fn();
    }
  } catch (const std::bad_alloc&) {
    internal::GuardedFailureCounter()++;
    return Status::NoMemory(std::string(what) + ": out of memory");
  } catch (const std::exception& e) {
    internal::GuardedFailureCounter()++;
    try {
      return Status::IOError(std::string(what) + ": unexpected exception: " + e.what());
    } catch (...) {
      return Status::NoMemory("out of memory");
    }
  } catch (...) {
    internal::GuardedFailureCounter()++;
    return Status::IOError("unknown exception");
  }
}

}  // namespace pmklc
