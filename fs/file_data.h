// file_data.h — block-level read/write/truncate of one file (internal to fs/).
//
// A file is split into blocks of Store::block_size() bytes; block i covers
// [i*bs, (i+1)*bs). A block absent from the store is a hole and reads as
// zeros; a block whose bytes are all zero is stored as a hole. Dirty blocks
// live in Node::dirty until stored. Stored blocks are never longer than the
// file: truncation shortens the last block.
//
// Read-ahead: up to kPrefetchBlocks blocks past a sequential read are fetched
// and decoded into the cache by background threads (read_threads), so
// decoding uses every core while the kernel copies data out. A sequential
// reader of archived data also keeps whole groups decoding ahead: up to
// read_threads, within half of cache_size shared equally by the readers
// doing so at the time (AheadShare), so that what is decoded ahead stays
// in the cache until it is read and many readers share the threads.
//
// A block that a write completes goes to the encoder pool (Node::pending) and
// is stored in the background; FlushLocked waits for those jobs. A failure of
// a background store keeps the data in memory and is returned by the next
// write, flush or fsync of that file.
//
// Archived tier (docs/store.md §Archive): a block absent from the blocks CF is
// read from its archived group (group_blocks() blocks coded as one value),
// else it is a hole. A group coded against reference segments (or linked
// to one, docs/store.md §References) decodes them first, side by side, via
// a StoreRefs cache of FsOptions::ref_cache_bytes. Decoding a group caches all its blocks; concurrent
// readers of one group share one decode; at most one group decode per core
// runs at a time (each holds its model's tables). Before a block of an archived group
// changes (write, truncate), the whole group is recoded into fast-tier blocks
// in one atomic batch ("explode"), so a group never coexists with blocks.
// Every store of fast-tier blocks marks the file pending for the archiver.
//
// All methods require the caller to hold node->mu (exclusively for anything
// that mutates, shared for ReadLocked).
// Errors: a block that fails its checksum yields Corruption (logged with the
// inode and block); nothing else is returned in its place.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <semaphore>
#include <string>
#include <tuple>

#include "engine/codec/codec.h"
#include "fs/block_cache.h"
#include "fs/encoder_pool.h"
#include "fs/filesystem.h"
#include "fs/inode_table.h"
#include "engine/common/single_flight.h"
#include "store/services/store_refs.h"
#include "store/store.h"

namespace pmklc {

class FileData {
 public:
  FileData(Store* store, const FsOptions& opts);
  ~FileData();

  struct Fetched {
    std::shared_ptr<const std::string> block;  // nullptr: a hole
    bool from_group = false;                   // decoded from an archived group
    std::vector<std::pair<uint64_t, std::shared_ptr<const std::string>>> group;  // other blocks decoded
  };
  // A read in three steps, so that no store read or decode runs under the
  // file's lock (a cold archived group takes seconds):
  //  1. PlanReadLocked (node lock, shared): the blocks of the range that are
  //     neither dirty, pending nor cached, and a cache ticket;
  //  2. FetchForRead (no lock): reads and decodes them;
  //  3. ReadLocked (node lock, shared): copies, using what step 2 fetched
  //     only if the file's stored data has not changed since the ticket
  //     (BlockCache::Valid); otherwise it reads the store again itself.
  struct ReadPlan {
    BlockCache::Ticket ticket = 0;
    std::vector<uint64_t> missing;
    std::map<uint64_t, Fetched> fetched;
    Status error;          // the first fetch error (returned if still valid)
    Store::ViewRef view;   // a follower's: the node's view at step 1 (step 2 reads it)
  };
  void PlanReadLocked(Node* n, uint64_t off, size_t size, ReadPlan* plan);
  // Between steps 1 and 2, no lock held: a reader that starts at the
  // beginning of an archived file (cat, md5sum, cp) gets the next
  // read_threads groups decoding at once, beside its own first group.
  // fsize: the file's size as step 1 saw it.
  void StartRead(const std::shared_ptr<Node>& n, uint64_t off, uint64_t fsize, const ReadPlan& plan);
  void FetchForRead(uint64_t ino, ReadPlan* plan);
  // Reads; a sequential reader (this read starts where the last ended) gets
  // the next blocks decoded ahead into the cache by the prefetch threads.
  // plan: from steps 1-2 above, or nullptr (then misses read the store here).
  Result<size_t> ReadLocked(const std::shared_ptr<Node>& n, uint64_t off, size_t size, char* buf,
                            ReadPlan* plan = nullptr);
  // Archived groups a write or truncate must move back to the fast tier
  // ("explode"), decoded before the caller takes the file's exclusive lock:
  // PlanExplodeLocked (node lock, shared) names the groups of blocks
  // [first_idx, last_idx] not known to be in the fast tier; PredecodeGroups
  // (no lock) decodes those that are archived. The explode then uses them if
  // the file's stored data did not change since the ticket.
  struct Predecoded {
    BlockCache::Ticket ticket = 0;
    // group -> its decoded bytes, or nullptr when it is not archived
    std::map<uint64_t, std::shared_ptr<const std::string>> groups;
  };
  void PlanExplodeLocked(Node* n, uint64_t first_idx, uint64_t last_idx, Predecoded* p);
  void PredecodeGroups(uint64_t ino, Predecoded* p);
  // Writes and stores every block the write completes. May store all dirty
  // blocks of n when the dirty limits are exceeded. pre: see Predecoded.
  Result<size_t> WriteLocked(const std::shared_ptr<Node>& n, uint64_t off, const char* data, size_t size,
                             const Predecoded* pre = nullptr);
  // Sets the size; adds the block changes and the inode record to b.
  // Call ApplyTruncate after b is written.
  Status TruncateLocked(Node* n, uint64_t new_size, Store::Batch* b, const Predecoded* pre = nullptr);
  // Waits for the node's encoder jobs (releasing l meanwhile), then stores
  // all dirty blocks and the inode record; sync=true makes it durable.
  Status FlushLocked(Node* n, std::unique_lock<std::shared_mutex>& l, bool sync);
  // Archived groups decoded at once by default (one per core, 2..64), each
  // holding its coder's tables; read_threads= overrides it.
  static unsigned GroupDecodeSlots();
  // read_threads as configured (FsOptions::read_threads, 0 resolved).
  static unsigned ReadThreads(unsigned configured) { return configured ? configured : GroupDecodeSlots(); }
  // Call after a store write (not made by FileData) that changed ino's
  // blocks or groups: read-ahead that read the store before it is not cached.
  void StoredDataChanged(uint64_t ino) { cache_.Invalidate(ino); }
  // The same, and every cached block of ino goes too: its stored data was
  // changed by another process (a follower's writer), so what the cache
  // holds may be of the old bytes.
  void StoredDataReplaced(uint64_t ino) { cache_.EraseFrom(ino, 0); }
  // Forgets cached and dirty blocks of an inode being deleted.
  void DropLocked(Node* n);
  // The cache of decoded reference segments these reads use (thread-safe;
  // the mount's archiver shares it, store/services/archiver.h ArchiveHost::refs).
  StoreRefs* refs() { return &refs_; }
  // Drops the "group g is known to be fast tier" memo of n; the archiver calls
  // it (under n->mu, exclusive) after archiving a group of n.
  static void ForgetFastGroup(Node* n) { n->fast_group = 0; }

 private:
  // Stored image of block idx (not trimmed to the file size). No lock needed.
  // wait=false: Busy instead of waiting when its group is being decoded.
  // whole=false: of a split group (docs/format.md §split) only the part that
  // holds idx is decoded; whole=true decodes the whole group (read-ahead).
  Status FetchStored(uint64_t ino, uint64_t idx, Fetched* f, bool wait = true, bool whole = false);
  // Decoded archived group; NotFound if not archived. One decode per group at
  // a time: others wait for it (or get Busy with wait=false).
  Result<std::shared_ptr<const std::string>> DecodeGroup(uint64_t ino, uint64_t g, bool wait = true);
  // The same for a group value read after `ticket` was taken.
  Result<std::shared_ptr<const std::string>> DecodeGroupValue(uint64_t ino, uint64_t g, BlockCache::Ticket ticket,
                                                              std::string value, bool wait);
  // One part of split group g (whose decoded bytes have group_checksum),
  // decoded once for all its concurrent readers, its blocks cached and
  // offered to the recall tier.
  Result<std::shared_ptr<const std::string>> DecodePart(uint64_t ino, uint64_t g, uint64_t group_checksum,
                                                        const BlockPart& p, BlockCache::Ticket ticket, bool wait);
  // The parts of a split value, if each starts on a block boundary within
  // the group (else false: the value is decoded whole).
  bool AlignedParts(std::string_view value, std::vector<BlockPart>* parts) const;
  Status DecodeArchived(uint64_t ino, uint64_t g, std::string_view value, std::string* raw);
  std::shared_ptr<const std::string> FromCache(uint64_t ino, uint64_t first, uint64_t len, uint64_t checksum);
  void CacheDecoded(uint64_t ino, uint64_t first, const std::string& raw, BlockCache::Ticket ticket);
  // Fills f with raw's blocks (raw starts at block first): idx's as f->block.
  void SliceInto(const std::string& raw, uint64_t first, uint64_t idx, Fetched* f) const;
  // Sequential reader of an archived file at off: next two groups decoded ahead.
  // ahead: groups past off's (0: read_threads).
  // view: the store view the node's attributes came from (a follower's; else null).
  void ScheduleGroupPrefetch(const std::shared_ptr<Node>& n, uint64_t off, uint64_t fsize, unsigned ahead,
                             const Store::ViewRef& view);
  // Groups one sequential reader (ino) may keep decoding ahead: half of the
  // cache in groups, shared equally by the readers that scheduled read-ahead
  // in the last kReaderIdle, at least 1 and at most read_threads.
  unsigned AheadShare(uint64_t ino, uint64_t group_bytes);
  static constexpr std::chrono::seconds kReaderIdle{5};
  void CacheGroupLocked(Node* n, const Fetched& f, BlockCache::Ticket t);
  static Status BadBlock(uint64_t ino, uint64_t idx, const Status& s);
  // Moves archived group g of n back to fast-tier blocks (no-op if not
  // archived). pre: groups decoded before the lock, which the caller has
  // checked are still valid (BlockCache::Valid); nullptr: decode here.
  Status ExplodeGroupLocked(Node* n, uint64_t g, const Predecoded* pre);
  Status EnsureFastTierLocked(Node* n, uint64_t idx, const Predecoded* pre);
  // Current image of block idx from the store/cache, trimmed to the file size.
  Status LoadImage(Node* n, uint64_t idx, std::string* out);
  // Encodes the given dirty blocks into b (hole for all-zero blocks).
  Status EncodeInto(Node* n, const std::vector<uint64_t>& idxs, Store::Batch* b);
  Status StoreBlocks(Node* n, const std::vector<uint64_t>& idxs, bool sync);
  void SetDirty(Node* n, uint64_t idx, std::string img);
  // Hands complete dirty block idx to the pool; false if the pool is full.
  bool SubmitLocked(const std::shared_ptr<Node>& n, uint64_t idx);
  void RunJob(const std::shared_ptr<Node>& n, uint64_t idx, std::shared_ptr<const std::string> img);
  void DropPendingFrom(Node* n, uint64_t from_idx);
  void DropPendingAt(Node* n, uint64_t idx);
  void SchedulePrefetch(const std::shared_ptr<Node>& n, uint64_t from_idx, uint64_t end_idx);
  // whole: the block's whole archived group (a group read-ahead), not just
  // its part of a split group.
  // view: as for ScheduleGroupPrefetch, taken with gen.
  void Prefetch(const std::shared_ptr<Node>& n, uint64_t idx, uint64_t gen, const Store::ViewRef& view,
                bool whole = false);

  Store* store_;
  uint32_t bs_;
  uint32_t gb_;  // logical blocks per archived group
  unsigned read_threads_;  // FsOptions::read_threads, resolved
  size_t dirty_file_limit_, dirty_total_limit_;
  EncodeOptions enc_;
  uint64_t cache_bytes_;  // FsOptions::cache_bytes
  BlockCache cache_;
  StoreRefs refs_;  // reference segments of groups coded against others
  std::atomic<size_t> total_dirty_{0};
  FsHooks hooks_;
  Recall* recall_;  // null: none
  std::counting_semaphore<64> group_slots_;  // concurrent group decodes (memory bound)
  using GroupKey = std::tuple<uint64_t, uint64_t, uint64_t>;  // ino, group, checksum of its decoded bytes
  SingleFlight<GroupKey, Result<std::shared_ptr<const std::string>>> group_decodes_;
  using PartKey = std::tuple<uint64_t, uint64_t, uint64_t, uint64_t>;  // ino, group, offset, checksum of the part
  SingleFlight<PartKey, Result<std::shared_ptr<const std::string>>> part_decodes_;
  std::mutex readers_mu_;  // guards readers_ (a leaf: nothing else is taken under it)
  std::map<uint64_t, std::chrono::steady_clock::time_point> readers_;  // ino -> its last read-ahead
  EncoderPool prefetch_pool_;
  EncoderPool pool_;  // last: joined first on destruction
};

}  // namespace pmklc
