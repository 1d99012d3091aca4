// single_flight.h — one computation shared by the concurrent callers that
// ask for the same key (fs/): the reference-segment cache (StoreRefs) and
// the archived-group decoder (FileData) each decode a thing once however
// many readers want it at the same moment.
//
// Thread safety: Do may be called from any thread.
// Errors: R must be constructible from a Status (a Result<T>); an exception
// that fn throws is given to every caller as a Status (NoMemory for
// bad_alloc, IOError otherwise), so no joiner waits forever.
#pragma once

#include <exception>
#include <future>
#include <map>
#include <mutex>
#include <new>
#include <optional>
#include <string>

#include "engine/common/status.h"

namespace pmklc {

template <class Key, class R>
class SingleFlight {
 public:
  // If a call for key is in flight, waits for its result (or, with wait ==
  // false, returns nullopt at once). Otherwise runs fn() on this thread and
  // gives its result to this caller and to every caller that joined while
  // it ran. A caller that comes after the result was given starts a new
  // call: fn should look for what an earlier call left behind (a cache)
  // before computing.
  template <class Fn>
  std::optional<R> Do(const Key& key, Fn&& fn, bool wait = true) {
    std::shared_future<R> joined;
    std::promise<R> mine;
    {
      std::lock_guard<std::mutex> l(mu_);
      auto it = inflight_.find(key);
      if (it != inflight_.end()) {
        if (!wait) return std::nullopt;
        joined = it->second;
      } else {
        inflight_.emplace(key, mine.get_future().share());
      }
    }
    if (joined.valid()) return joined.get();
    R r = Status::IOError("single flight: no result");
    try {
      r = fn();
    } catch (const std::bad_alloc&) {
      r = Status::NoMemory("out of memory");
    } catch (const std::exception& e) {
      r = Status::IOError(e.what());
    }
    mine.set_value(r);
    std::lock_guard<std::mutex> l(mu_);
    inflight_.erase(key);
    return r;
  }

 private:
  std::mutex mu_;
  std::map<Key, std::shared_future<R>> inflight_;
};

}  // namespace pmklc
