// block_cache.h — bounded LRU cache of decoded file blocks (internal to fs/).
//
// Thread safety: all methods are safe to call concurrently (one mutex).
// Ownership: entries are shared_ptr<const std::string>; a reader keeps its
// block alive after eviction.
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

namespace pmklc {

class BlockCache {
 public:
  using Block = std::shared_ptr<const std::string>;
  explicit BlockCache(size_t capacity_bytes) : cap_(capacity_bytes) {}

  Block Get(uint64_t ino, uint64_t idx);
  void Put(uint64_t ino, uint64_t idx, Block b);
  void Erase(uint64_t ino, uint64_t idx);
  // Drops blocks [from_idx, end) of ino.
  void EraseFrom(uint64_t ino, uint64_t from_idx);
  size_t bytes() const;

 private:
  using Key = std::pair<uint64_t, uint64_t>;
  struct Entry { Key key; Block block; };
  void EvictLocked();
  mutable std::mutex mu_;
  size_t cap_;
  size_t bytes_ = 0;
  std::list<Entry> lru_;  // front = most recent
  std::map<Key, std::list<Entry>::iterator> index_;
};

}  // namespace pmklc
