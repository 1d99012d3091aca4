#include "fs/block_cache.h"

namespace pmklc {

BlockCache::Block BlockCache::Get(uint64_t ino, uint64_t idx) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = index_.find({ino, idx});
  if (it == index_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->block;
}

void BlockCache::Put(uint64_t ino, uint64_t idx, Block b) {
  if (!b || cap_ == 0) return;
  std::lock_guard<std::mutex> l(mu_);
  Key k{ino, idx};
  auto it = index_.find(k);
  if (it != index_.end()) {
    bytes_ -= it->second->block->size();
    lru_.erase(it->second);
    index_.erase(it);
  }
  bytes_ += b->size();
  lru_.push_front(Entry{k, std::move(b)});
  index_[k] = lru_.begin();
  EvictLocked();
}

void BlockCache::Erase(uint64_t ino, uint64_t idx) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = index_.find({ino, idx});
  if (it == index_.end()) return;
  bytes_ -= it->second->block->size();
  lru_.erase(it->second);
  index_.erase(it);
}

void BlockCache::EraseFrom(uint64_t ino, uint64_t from_idx) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = index_.lower_bound({ino, from_idx});
  while (it != index_.end() && it->first.first == ino) {
    bytes_ -= it->second->block->size();
    lru_.erase(it->second);
    it = index_.erase(it);
  }
}

size_t BlockCache::bytes() const {
  std::lock_guard<std::mutex> l(mu_);
  return bytes_;
}

void BlockCache::EvictLocked() {
  while (bytes_ > cap_ && !lru_.empty()) {
    auto& e = lru_.back();
    bytes_ -= e.block->size();
    index_.erase(e.key);
    lru_.pop_back();
  }
}

}  // namespace pmklc
