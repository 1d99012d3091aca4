// block_cache.h — bounded LRU cache of decoded file blocks (internal to fs/).
//
// Two kinds of insertion:
//  - Put: the owner of a file's data (a writer holding the node's exclusive
//    lock, after its store write) puts the current image of a block.
//  - Fill: a reader that read the store puts what it read. It first takes a
//    Ticket(), before its store read; the fill is refused if the inode was
//    invalidated after that ticket, so bytes read before a change can never
//    land in the cache after it, whichever in-memory node (or none) made the
//    change. Cache hits skip the block checksum, so this is what keeps stale
//    bytes out (rule 1).
// Put, Erase, EraseFrom and Invalidate all invalidate the inode: every
// change of a file's stored data calls one of them after its store write.
// The record of invalidations is bounded (kMaxTracked inodes); past that it
// is forgotten whole and every older ticket is refused (a missed fill, never
// a stale one).
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
#include <unordered_map>
#include <utility>

namespace pmklc {

class BlockCache {
 public:
  using Block = std::shared_ptr<const std::string>;
  using Ticket = uint64_t;
  static constexpr size_t kMaxTracked = 65536;
  explicit BlockCache(size_t capacity_bytes) : cap_(capacity_bytes) {}

  Block Get(uint64_t ino, uint64_t idx);
  // The current image of a block, from its owner (invalidates ino first).
  void Put(uint64_t ino, uint64_t idx, Block b);
  // Take before reading the store; pass to Fill / Valid.
  Ticket TakeTicket();
  // Caches what a reader read from the store, unless ino was invalidated
  // after t. Returns whether it was cached (or would have been: cap 0).
  bool Fill(uint64_t ino, uint64_t idx, Block b, Ticket t);
  // True if ino has not been invalidated after t.
  bool Valid(uint64_t ino, Ticket t);
  void Erase(uint64_t ino, uint64_t idx);
  // Drops blocks [from_idx, end) of ino.
  void EraseFrom(uint64_t ino, uint64_t from_idx);
  // Marks ino's stored data as changed (after the store write that changed it).
  void Invalidate(uint64_t ino);
  size_t bytes() const;

 private:
  using Key = std::pair<uint64_t, uint64_t>;
  struct Entry { Key key; Block block; };
  void EvictLocked();
  void InvalidateLocked(uint64_t ino);
  bool ValidLocked(uint64_t ino, Ticket t) const;
  void InsertLocked(uint64_t ino, uint64_t idx, Block b);
  mutable std::mutex mu_;
  size_t cap_;
  size_t bytes_ = 0;
  std::list<Entry> lru_;  // front = most recent
  std::map<Key, std::list<Entry>::iterator> index_;
  uint64_t seq_ = 0;                              // last invalidation number
  std::unordered_map<uint64_t, uint64_t> inval_;  // ino -> its last invalidation
  uint64_t floor_ = 0;                            // invalidations forgotten up to here
};

}  // namespace pmklc
