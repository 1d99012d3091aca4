// zstd_ctx.h — one zstd compression and one decompression context per
// thread, reused by every codec that calls zstd on that thread and freed
// when the thread exits. (Raw thread_local pointers leaked a context, up to
// megabytes at high levels, per thread that ever coded a block: the daemon
// starts short-lived helper threads for every flush, so its memory grew
// without bound under random writes.)
//
// Thread safety: each thread gets its own; never hand one to another thread.
// Errors: nullptr if zstd cannot allocate one (callers report NoMemory).
#pragma once

#include <zstd.h>

#include <memory>

namespace pmklc {

inline ZSTD_CCtx* ThreadZstdCCtx() {
  struct Free {
    void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
  };
  thread_local std::unique_ptr<ZSTD_CCtx, Free> ctx(ZSTD_createCCtx());
  return ctx.get();
}

inline ZSTD_DCtx* ThreadZstdDCtx() {
  struct Free {
    void operator()(ZSTD_DCtx* c) const { ZSTD_freeDCtx(c); }
  };
  thread_local std::unique_ptr<ZSTD_DCtx, Free> ctx(ZSTD_createDCtx());
  return ctx.get();
}

}  // namespace pmklc
