// recall.h — the recall tier (issue #19; docs/store.md §Recall): the
// blocks of archived groups that were read are also kept, recoded with the
// fast codec, in a bounded area of the store (the recall CF), so that
// reading them again — after a remount too — costs one fast block decode
// instead of the model's decode of the whole group.
//
// An entry is a cache, never the durable copy. Its value is
//   [fast-codec block value of the block's bytes]
//   [u64 LE: the checksum of its group's decoded bytes (the group header's)]
//   [u8: entry version, 1]
// and Lookup serves it only if that checksum is the group's current recall
// version (set by every PutGroup in the same batch) and the block value
// decodes (its own checksum checked). Anything else — a damaged, truncated
// or stale entry — is deleted and the group is decoded again.
// Writes: PutGroup, DeleteGroup and DeleteBlocksFrom drop the entries of
// the groups they change in their own batch (store.h); Offer writes with
// Store::WriteRecall, which checks the group's version and writes with no
// group change in between.
// Eviction: least recently read first, within the budget (recall_size=);
// the order is kept in memory: after a restart, entries not read again yet
// go first, in key order. The in-memory index may still count an entry
// that a write already deleted until a lookup or an eviction meets it (it
// then holds less than its budget, never more).
// Thread safety: every method may be called concurrently; no RocksDB
// read, write or coding runs under mu_.
// Errors: a cache: a failed write or encode is logged and counted, and the
// read goes on with the bytes it decoded.
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "engine/common/status.h"
#include "store/store.h"

namespace pmklc {

struct RecallOptions {
  // Budget in stored bytes; kAuto: 5% of the store's logical bytes, at
  // least 1 GiB; 0: off. Default: kAuto
  static constexpr uint64_t kAuto = ~uint64_t{0};
  uint64_t size_bytes = kAuto;
  // Slow decodes of a group before it gets an entry. Default: 1
  uint32_t min_reads = 1;
};

class Recall {
 public:
  Recall(Store* store, RecallOptions o);
  // Reads the index from the sizes CF and resolves the budget. Call once.
  [[nodiscard]] Status Init();
  bool enabled() const { return budget_ > 0; }

  // Block idx (of archived group g) from its entry, if it has a valid one;
  // NotFound otherwise (a miss: decode the group).
  Result<std::shared_ptr<const std::string>> Lookup(uint64_t ino, uint64_t idx, uint64_t g);
  // After a model decode of group g, or of one part of a split group
  // (raw: the decoded bytes, starting at block first_idx; checksum: that
  // of the whole group's decoded bytes, its header's): counts the read and,
  // from the min_reads-th on, writes an entry for each of raw's blocks
  // (evicting what the budget needs).
  void Offer(uint64_t ino, uint64_t g, uint64_t checksum, uint64_t first_idx, const std::string& raw);

  struct Stats {
    uint64_t entries = 0, bytes = 0, budget = 0;
    uint64_t hits = 0, misses = 0, written = 0, evicted = 0, dropped = 0;  // dropped: corrupt or stale
  };
  Stats stats();

  // The value of an entry, and its parts (fsck uses them).
  static std::string MakeValue(std::string_view fast_value, uint64_t checksum);
  // Splits a value; Corruption if it is not one.
  static Status SplitValue(std::string_view value, std::string_view* fast_value, uint64_t* checksum);

 private:
  using Key = std::pair<uint64_t, uint64_t>;
  struct Entry {
    uint64_t bytes;
    std::list<Key>::iterator lru;
  };
  void DropEntry(uint64_t ino, uint64_t idx);
  void ForgetLocked(const Key& k);
  Store* store_;
  uint64_t bs_, gb_;  // block size, blocks a group
  RecallOptions opts_;
  uint64_t budget_ = 0;
  std::mutex mu_;  // guards everything below
  std::list<Key> lru_;  // front: most recently read
  std::map<Key, Entry> index_;
  std::map<Key, uint32_t> reads_;  // (ino, group): model decodes not yet kept (bounded)
  Stats stats_;
};

}  // namespace pmklc
