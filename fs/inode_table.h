// inode_table.h — in-memory inodes that the kernel references (internal to fs/).
//
// A Node is loaded from the Store on first use and stays while the kernel holds
// lookups or open handles on it. Its `attr` is authoritative while loaded:
// every namespace and attribute change is written through to the Store in the
// same WriteBatch; size/mtime changes from writes reach the Store when the
// dirty blocks are stored (flush, fsync, release, or a full block).
//
// Thread safety: Node::mu guards attr, dirty, pending, inflight and
// async_error. nlookup, nopen and nwrite are guarded by the table mutex,
// which is never held across a store read (a load reads the record without
// it, then inserts unless another thread loaded the inode meanwhile). Lock
// order (docs/architecture.md): Filesystem's namespace mutex, then Node::mu
// (several nodes only under the namespace mutex), then the table mutex.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "store/store.h"

namespace pmklc {

struct Node {
  std::shared_mutex mu;
  InodeAttr attr;
  bool attr_dirty = false;                 // attr differs from the stored record
  std::map<uint64_t, std::string> dirty;   // block index -> image (<= block size)
  size_t dirty_bytes = 0;
  // Complete blocks handed to the encoder pool, not yet stored. A job stores
  // its image only if it is still the one mapped here (newer writes, a
  // truncate or a purge replace or drop the entry).
  std::map<uint64_t, std::shared_ptr<const std::string>> pending;
  size_t inflight = 0;              // encoder jobs not finished
  std::condition_variable_any idle; // signalled when inflight drops
  Status async_error;               // first background store failure; reported by the next flush/fsync/write
  // Read-ahead state. data_gen changes (under the exclusive lock) whenever the
  // file's blocks may change, so a prefetch that read the store before such a
  // change never caches what it read.
  std::atomic<uint64_t> data_gen{0};
  std::atomic<uint64_t> last_read_end{~uint64_t{0}};
  std::atomic<uint64_t> prefetch_next{0};
  // Archived groups: a read found one (so sequential reads prefetch groups),
  // and the first group not yet requested for prefetch.
  std::atomic<bool> archived_seen{false};
  std::atomic<uint64_t> group_prefetch_next{0};
  // 1 + the archive group last checked to be in the fast tier (0: none);
  // guarded by mu, reset when the archiver archives a group of this file.
  uint64_t fast_group = 0;
  // Stored bytes of the file's data (InodeAttr::stored_bytes), and the
  // data_gen they were computed at; recomputed from the store's sizes index
  // when the data changed, at most once a second while it keeps changing.
  std::atomic<uint64_t> stored_bytes{InodeAttr::kUnknown};
  std::atomic<uint64_t> stored_gen{~uint64_t{0}};
  std::atomic<int64_t> stored_at_ms{0};
  // A follower's (Store::follower): the store view attr was read from; the
  // file's data is read through the same view (Store::Pin), so that size
  // and blocks always belong together. Filesystem::Follow moves both on
  // together. Null on a writer's store. Guarded by mu.
  Store::ViewRef view;
  // A follower's: the writer deleted this inode (found at a catch-up);
  // reads and stats get Stale (ESTALE). Guarded by mu.
  bool gone = false;
  // Guarded by the table mutex:
  uint64_t nlookup = 0;
  uint32_t nopen = 0;
  uint32_t nwrite = 0;  // open handles with write access
};

class InodeTable {
 public:
  explicit InodeTable(Store* store) : store_(store) {}

  // Returns the loaded node, loading it from the store if needed.
  Result<std::shared_ptr<Node>> Get(uint64_t ino);
  // Get and a lookup / open reference in one critical section, so an Evict
  // (which checks the references under the same mutex) can never drop the
  // node between the two.
  Result<std::shared_ptr<Node>> GetAndLookup(uint64_t ino, uint64_t count = 1);
  Result<std::shared_ptr<Node>> GetAndOpen(uint64_t ino, bool write);
  // Inserts a freshly created node (not yet referenced).
  std::shared_ptr<Node> Insert(const InodeAttr& attr);

  void AddLookup(const std::shared_ptr<Node>& n, uint64_t count = 1);
  // Drop references. Returns the node if it is now unreferenced (the caller
  // then stores or purges it and calls Evict), else nullptr.
  std::shared_ptr<Node> DropLookup(uint64_t ino, uint64_t count);
  std::shared_ptr<Node> DropOpen(uint64_t ino, bool write);
  // True if ino is loaded and open for writing.
  bool IsOpenForWrite(uint64_t ino);
  // The loaded node of ino, or nullptr (never loads).
  std::shared_ptr<Node> Peek(uint64_t ino);
  // Removes an unreferenced node from the table (no-op if referenced again).
  void Evict(uint64_t ino);
  bool IsReferenced(uint64_t ino);
  // All loaded nodes (for shutdown).
  std::vector<std::shared_ptr<Node>> All();

 private:
  // The loaded node of ino (loading it), with under_lock run on it under mu_.
  Result<std::shared_ptr<Node>> Load(uint64_t ino, const std::function<void(Node*)>& under_lock);
  Store* store_;
  std::mutex mu_;
  std::unordered_map<uint64_t, std::shared_ptr<Node>> map_;
  uint64_t evictions_ = 0;  // guarded by mu_
};

}  // namespace pmklc
