#include "fs/block_cache.h"

namespace pmklc {

BlockCache::Block BlockCache::Get(uint64_t ino, uint64_t idx) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = index_.find({ino, idx});
  if (it == index_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->block;
}

void BlockCache::InvalidateLocked(uint64_t ino) {
  if (inval_.size() >= kMaxTracked && !inval_.count(ino)) {
    inval_.clear();
    floor_ = seq_;  // every ticket taken so far is refused from now on
  }
  inval_[ino] = ++seq_;
}

bool BlockCache::ValidLocked(uint64_t ino, Ticket t) const {
  if (floor_ > t) return false;
  auto it = inval_.find(ino);
  return it == inval_.end() || it->second <= t;
}

void BlockCache::InsertLocked(uint64_t ino, uint64_t idx, Block b) {
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

void BlockCache::Put(uint64_t ino, uint64_t idx, Block b) {
  std::lock_guard<std::mutex> l(mu_);
  InvalidateLocked(ino);
  if (!b || cap_ == 0) return;
  InsertLocked(ino, idx, std::move(b));
}

BlockCache::Ticket BlockCache::TakeTicket() {
  std::lock_guard<std::mutex> l(mu_);
  return seq_;
}

bool BlockCache::Valid(uint64_t ino, Ticket t) {
  std::lock_guard<std::mutex> l(mu_);
  return ValidLocked(ino, t);
}

bool BlockCache::Fill(uint64_t ino, uint64_t idx, Block b, Ticket t) {
  std::lock_guard<std::mutex> l(mu_);
  if (!ValidLocked(ino, t)) return false;
  if (!b || cap_ == 0) return true;
  if (index_.count({ino, idx})) return true;  // a newer fill or a Put is there
  InsertLocked(ino, idx, std::move(b));
  return true;
}

void BlockCache::Erase(uint64_t ino, uint64_t idx) {
  std::lock_guard<std::mutex> l(mu_);
  InvalidateLocked(ino);
  auto it = index_.find({ino, idx});
  if (it == index_.end()) return;
  bytes_ -= it->second->block->size();
  lru_.erase(it->second);
  index_.erase(it);
}

void BlockCache::EraseFrom(uint64_t ino, uint64_t from_idx) {
  std::lock_guard<std::mutex> l(mu_);
  InvalidateLocked(ino);
  auto it = index_.lower_bound({ino, from_idx});
  while (it != index_.end() && it->first.first == ino) {
    bytes_ -= it->second->block->size();
    lru_.erase(it->second);
    it = index_.erase(it);
  }
}

void BlockCache::Invalidate(uint64_t ino) {
  std::lock_guard<std::mutex> l(mu_);
  InvalidateLocked(ino);
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
