#include "engine/models/repeat_pool.h"

#include <sys/mman.h>

#include <cstring>
#include <new>

namespace pmklc::models {

namespace {
struct BuiltTables : kernels::pool::PoolTables {
  BuiltTables() { kernels::pool::BuildPoolTables(this); }
};
}  // namespace

const kernels::pool::PoolTables& RepeatPool::Tables() {
  static const BuiltTables t;
  return t;
}

RepeatPool::~RepeatPool() {
  if (s_.index) munmap(s_.index, index_bytes_);
  delete[] cand_;
  delete[] set_;
}

uint64_t RepeatPool::MemoryBytes(const RepeatPoolParams& p) {
  if (!p.capacity) return 0;
  return (uint64_t{4} * kSlots << p.index_bits) + uint64_t{p.capacity} * (sizeof(kernels::pool::Cand) + 4 * 8);
}

bool RepeatPool::Init(const RepeatPoolParams& p) {
  s_.p = p;
  if (!p.capacity) return true;
  const kernels::pool::PoolLayout l = kernels::pool::PoolLayoutFor(p);
  void* m = mmap(nullptr, l.index_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return false;
  index_bytes_ = l.index_bytes;
#ifdef MADV_HUGEPAGE
  madvise(m, l.index_bytes, MADV_HUGEPAGE);
#endif
  cand_ = new (std::nothrow) kernels::pool::Cand[p.capacity];
  set_ = new (std::nothrow) uint64_t[l.set_mask + 1];
  if (!cand_ || !set_) {
    munmap(m, l.index_bytes);
    return false;
  }
  std::memset(set_, 0, sizeof(uint64_t) * (l.set_mask + 1));
  tables_ = &Tables();
  kernels::pool::PoolInit(&s_, p, static_cast<uint32_t*>(m), cand_, set_);
  return true;
}

}  // namespace pmklc::models
