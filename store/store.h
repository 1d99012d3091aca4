// store.h — the RocksDB schema of pmklcfs (docs/store.md), behind a narrow API.
//
// Column families: meta, inodes, dirents, blocks, xattrs, models, cold, refs, sizes, recall
// (docs/store.md §Column families).
// Every mutation is collected in a Store::Batch and applied with Store::Write
// as one atomic RocksDB WriteBatch. Nothing here interprets block payloads.
//
// Ownership: Store owns the RocksDB instance (a follower's: the instance
// of its last catch-up, and older ones while a reader holds them); Batch is
// a value owned by the caller. Thread safety: Store methods are safe to call
// concurrently (RocksDB guarantees it); a Batch is not shared between
// threads; a Pin belongs to the thread that made it.
// Errors: RocksDB errors become IOError (NoSpace when the disk is full,
// Corruption when RocksDB reports it); reads of absent keys return NotFound;
// every change to a read-only store is ReadOnly.
//
// Followers (StoreOptions::follow; docs/store.md §Read-only followers): a
// store that another process writes, on this machine or on shared storage,
// opened read-only (rocksdb::DB::OpenForReadOnly: the writer's SST and blob
// files, MANIFEST and WAL, as of the open). CatchUp opens it again and makes
// the new instance ("view") the one later calls read. A call reads one view
// from start to end; a Pin makes every call of one thread read one view
// (a file's attributes and data must come from the same one). A read that
// finds a file of its view deleted by the writer (compacted away) catches
// up once and reads again, unless its thread pinned the view.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/status.h"

namespace pmklc {

// A timestamp: seconds since the epoch (negative before 1970) and
// nanoseconds in [0, 1e9). Covers every time ext4 and struct timespec do.
struct Time {
  int64_t sec = 0;
  uint32_t nsec = 0;
  friend bool operator==(const Time& a, const Time& b) { return a.sec == b.sec && a.nsec == b.nsec; }
  friend bool operator<(const Time& a, const Time& b) {
    return a.sec < b.sec || (a.sec == b.sec && a.nsec < b.nsec);
  }
  friend bool operator<=(const Time& a, const Time& b) { return !(b < a); }
};

// One inode record (inodes CF).
struct InodeAttr {
  uint64_t ino = 0;
  uint32_t mode = 0;  // S_IFMT | permission bits
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t nlink = 0;
  uint64_t size = 0;  // bytes; for symlinks the target length
  uint64_t rdev = 0;
  uint64_t parent = 0;  // directories: the containing directory (root: itself)
  Time atime, mtime, ctime;
  std::string symlink;  // target, symlinks only
  // Not part of the record: what the file's data costs in the store (its
  // blocks' and groups' values), when the caller filled it in; st_blocks
  // reports it, as ZFS does with compression. Default: unknown
  static constexpr uint64_t kUnknown = ~uint64_t{0};
  uint64_t stored_bytes = kUnknown;
};

struct DirEntry {
  std::string name;
  uint64_t ino = 0;
  uint32_t type = 0;  // mode & S_IFMT of the child
};

struct StoreOptions {
  bool create_if_missing = true;     // Default: true (creates an empty store with a root dir)
  bool read_only = false;            // Default: false
  uint32_t block_size = 0;           // for a new store; 0 = format::kDefaultBlockSize. Default: 0
  // Archived group size of a new store (a power of two, >= block size, <= 64 MiB);
  // 0 = format::kGroupBytes. Default: 0
  uint32_t group_bytes = 0;
  size_t rocksdb_cache_bytes = 32u << 20;  // RocksDB block cache (with index and filter blocks). Default: 32 MiB
  // Memtables of all column families together; past it RocksDB flushes the
  // largest. Default: 128 MiB
  size_t memtable_bytes = 128u << 20;
  uint32_t root_uid = 0, root_gid = 0;     // owner of a new store's root. Default: 0/0
  // Writes that add data fail with NoSpace while the store's disk has less
  // free space than this, so RocksDB itself never runs out of space (it cannot
  // recover cleanly from a full disk in its WAL). Default: 256 MiB
  uint64_t min_free_bytes = 256ull << 20;
  // Opens a store that another process writes as a read-only follower
  // (implies read_only; see Followers above). Default: false
  bool follow = false;
};

class Store {
 public:
  class Batch {
   public:
    Batch();
    ~Batch();
    Batch(Batch&&) noexcept;
    void PutInode(const InodeAttr& a);
    void DeleteInode(uint64_t ino);
    void PutDirent(uint64_t parent, std::string_view name, uint64_t ino, uint32_t type);
    void DeleteDirent(uint64_t parent, std::string_view name);
    void PutBlock(uint64_t ino, uint64_t idx, std::string_view value);
    void DeleteBlock(uint64_t ino, uint64_t idx);
    // Deletes the data of ino from logical block from_idx on, in both tiers:
    // fast-tier blocks [from_idx, end) and archived groups that start at or
    // after from_idx. A group that straddles from_idx must have been exploded
    // back into blocks first (FileData does). from_idx == 0 also drops the
    // inode's pending-archive mark.
    void DeleteBlocksFrom(uint64_t ino, uint64_t from_idx);
    // Archived tier (docs/store.md §Archive): group g of ino holds logical
    // blocks [g * group_blocks(), (g + 1) * group_blocks()) as one block value.
    // Both also drop the recall entries of the group's blocks and set (put)
    // or drop (delete) the group's recall version, in this batch.
    void PutGroup(uint64_t ino, uint64_t group, std::string_view value);
    void DeleteGroup(uint64_t ino, uint64_t group);
    // Recall tier (docs/store.md §Recall): a fast-codec copy of block idx
    // of an archived group (store/services/recall.h says what the value
    // holds). PutGroup, DeleteGroup and DeleteBlocksFrom drop the entries
    // of the groups they change, in their batch. New entries are written
    // with Store::WriteRecall.
    void PutRecall(uint64_t ino, uint64_t idx, std::string_view value);
    void DeleteRecall(uint64_t ino, uint64_t idx);
    // Pending-archive marks: files with fast-tier blocks the archiver has not
    // looked at since they were written.
    void PutPending(uint64_t ino);
    void DeletePending(uint64_t ino);
    // Small named records (e.g. archiver counters); GetMeta reads them.
    void PutMeta(std::string_view key, std::string_view value);
    // A static model (a model file, engine/models/toknet_model.h) under its
    // id. Models are never deleted: any block may name one.
    void PutModel(uint64_t id, std::string_view model_file);
    // References (docs/store.md §References). A reference object is a
    // record plus segments (block values, possibly depending on other
    // objects). A hold says that a file (kind kHoldFile, holder = ino) or
    // another object (kHoldObject) depends on an object; an object is kept
    // while any hold names it, and its holds of others go with it.
    void PutRefObject(uint64_t id, std::string_view record);
    void PutRefSegment(uint64_t id, uint32_t segment, std::string_view value);
    // Deletes the object's record, its segments and the holds it has.
    void DeleteRefObject(uint64_t id);
    void PutHold(uint8_t kind, uint64_t holder, uint64_t object);
    void DeleteHold(uint8_t kind, uint64_t holder, uint64_t object);
    // A file's MinHash sketch (engine/ref/ref_select.h), kept while its data
    // is; DeleteBlocksFrom(ino, 0) deletes it and the file's holds.
    void PutSketch(uint64_t ino, std::string_view record);
    void DeleteSketch(uint64_t ino);
    void PutXattr(uint64_t ino, std::string_view name, std::string_view value);
    void DeleteXattr(uint64_t ino, std::string_view name);
    void DeleteAllXattrs(uint64_t ino);
    // Orphans: inodes with nlink 0 that are still open; purged at next open.
    void PutOrphan(uint64_t ino);
    void DeleteOrphan(uint64_t ino);
    size_t Count() const;
    struct Op;  // one recorded change (store.cc)

   private:
    friend class Store;
    struct Rep;
    std::unique_ptr<Rep> rep_;
  };

  // A large change written as SST files and ingested into RocksDB at once
  // (rocksdb::DB::IngestExternalFiles: atomic across column families, no
  // WAL, no memtable, no flush), for a caller that has the store to itself
  // (an offline ingest, store/services/archive_units.h): nothing else may
  // change what it checked before Commit. Groups, and blocks, are added in
  // key order (inode, then index); each op keeps what Batch's keeps (the
  // sizes index, recall entries and versions). Nothing is visible before
  // Commit, and a crash before or in it leaves the store as it was.
  // Not thread-safe; one FileBatch at a time per directory.
  class FileBatch {
   public:
    ~FileBatch();  // removes its directory and whatever is left in it
    Status PutGroup(uint64_t ino, uint64_t group, std::string_view value);
    Status DeleteBlock(uint64_t ino, uint64_t idx);
    // A hold (as Batch::PutHold), in any order; repeats are one.
    void PutHold(uint8_t kind, uint64_t holder, uint64_t object);
    uint64_t groups() const;
    // Ingests every file (moved into the store). Once only.
    Status Commit();
    struct Rep;

   private:
    friend class Store;
    explicit FileBatch(std::unique_ptr<Rep> rep);
    std::unique_ptr<Rep> rep_;
  };
  // A FileBatch whose files go in dir (created; removed with the batch): a
  // folder on the store's file system, so that Commit moves them in.
  Result<std::unique_ptr<FileBatch>> NewFileBatch(const std::string& dir);

  // Opens (or creates) a store at path. Fails with a clear message if the
  // path is not a pmklcfs store or its format version is unknown.
  static Result<std::unique_ptr<Store>> Open(const std::string& path, const StoreOptions& opts);
  ~Store();

  const std::string& path() const;
  uint32_t block_size() const;
  uint32_t format_version() const;
  // Logical blocks per archived group (fixed when the store is created).
  uint32_t group_blocks() const;

  // Applies a batch atomically. sync=true makes it durable (fsync'ed WAL).
  // ReadOnly on a read-only store.
  Status Write(Batch& b, bool sync);
  // Makes every previous write durable.
  Status SyncWAL();
  // NoSpace when the disk's free space is below StoreOptions::min_free_bytes.
  // Call before any operation that adds data; deletions need no check.
  Status CheckSpace();
  // Free bytes usable by files: disk free space minus the reserve (>= 0).
  uint64_t UsableFreeBytes();
  // Free bytes on the store's disk, and the reserve kept (StoreOptions::min_free_bytes).
  uint64_t FreeBytes();
  uint64_t min_free_bytes() const;
  // Asks a background thread to compact the block keys of ino, so the disk
  // space of deleted blocks is returned soon rather than at some later
  // compaction. Non-blocking; coalesces requests.
  void ScheduleReclaim(uint64_t ino);
  // The same for every file's fast-tier blocks (after the archiver replaced
  // many of them): one flush + full compaction of the blocks CF.
  void ScheduleReclaimAll();
  // The same for a deleted reference object's segments.
  void ScheduleReclaimObject(uint64_t id);
  // Waits until scheduled reclaims are done (tests, shutdown, archive --wait).
  void WaitForReclaim();

  Result<InodeAttr> GetInode(uint64_t ino);
  // NotFound if absent.
  Result<DirEntry> Lookup(uint64_t parent, std::string_view name);
  // Entries of parent in name order.
  Status ListDir(uint64_t parent, std::vector<DirEntry>* out);
  // True if parent has no entries.
  Result<bool> DirEmpty(uint64_t parent);
  // NotFound for a hole.
  Status GetBlock(uint64_t ino, uint64_t idx, std::string* value);
  Status GetXattr(uint64_t ino, std::string_view name, std::string* value);  // NoData if absent
  Status ListXattrs(uint64_t ino, std::vector<std::string>* names);

  // Archived group g of ino; NotFound if that group is not archived.
  Status GetGroup(uint64_t ino, uint64_t group, std::string* value);
  Status ForEachGroup(const std::function<bool(uint64_t ino, uint64_t group, std::string_view value)>& fn);
  // Recall entry of block idx of ino; NotFound if none.
  Status GetRecall(uint64_t ino, uint64_t idx, std::string* value);
  // The checksum of group g's decoded bytes as its last PutGroup wrote it
  // (what a recall entry of its blocks must name); NotFound if none.
  Result<uint64_t> GetRecallVersion(uint64_t ino, uint64_t group);
  // Writes `entries` (PutRecall/DeleteRecall only) if group g still
  // decodes to bytes with `checksum`, checked and written with no group
  // change in between; Busy if the group changed or is gone.
  Status WriteRecall(uint64_t ino, uint64_t group, uint64_t checksum, Batch& entries);
  Status ForEachRecall(const std::function<bool(uint64_t ino, uint64_t idx, std::string_view value)>& fn);
  Status ForEachGroupOf(uint64_t ino, const std::function<bool(uint64_t group, std::string_view value)>& fn);
  // Inodes with a pending-archive mark, in inode order.
  Status ListPending(std::vector<uint64_t>* out);
  // NotFound if absent.
  Status GetMeta(std::string_view key, std::string* value);
  static constexpr uint8_t kHoldFile = 0, kHoldObject = 1;
  // NotFound if absent.
  Status GetRefObject(uint64_t id, std::string* record);
  Status GetRefSegment(uint64_t id, uint32_t segment, std::string* value);
  Status ForEachRefObject(const std::function<bool(uint64_t id, std::string_view record)>& fn);
  Status ForEachRefSegment(const std::function<bool(uint64_t id, uint32_t segment, std::string_view value)>& fn);
  Status ForEachHold(const std::function<bool(uint8_t kind, uint64_t holder, uint64_t object)>& fn);
  // The objects one holder holds.
  Status ForEachHoldBy(uint8_t kind, uint64_t holder, const std::function<bool(uint64_t object)>& fn);
  Status GetSketch(uint64_t ino, std::string* record);
  Status ForEachSketch(const std::function<bool(uint64_t ino, std::string_view record)>& fn);
  // Every stored model (id, model file bytes), in id order.
  Status ForEachModel(const std::function<bool(uint64_t id, std::string_view model_file)>& fn);

  uint64_t MaxIno();
  Status ListOrphans(std::vector<uint64_t>* out);

  // Full scans, for stat and fsck. Callbacks return false to stop.
  Status ForEachInode(const std::function<bool(const InodeAttr&)>& fn);
  Status ForEachDirent(const std::function<bool(uint64_t parent, const DirEntry&)>& fn);
  Status ForEachBlock(const std::function<bool(uint64_t ino, uint64_t idx, std::string_view value)>& fn);
  // Block keys of one inode, in index order.
  Status ForEachBlockOf(uint64_t ino, const std::function<bool(uint64_t idx, std::string_view value)>& fn);
  // Block keys of one inode with first <= idx < end, in index order (one
  // range scan: a group's blocks). verify=false: RocksDB's own checksums are
  // not checked and nothing enters its cache — only for a caller that
  // compares every value byte for byte with one it trusts (ingest).
  Status ForEachBlockIn(uint64_t ino, uint64_t first, uint64_t end,
                        const std::function<bool(uint64_t idx, std::string_view value)>& fn, bool verify = true);

  // The sizes index (docs/store.md §Sizes), kept with every write of a
  // block, group or reference segment. Stored bytes of ino's fast-tier
  // blocks and archived groups (not the reference segments it links to).
  Result<uint64_t> StoredBytesOf(uint64_t ino);
  // Every record: tag 'b' (a = ino, b = block index), 'g' (a = ino, b =
  // group), 'r' (a recall entry: a = ino, b = block index) or 's' (a = reference
  // object, b = segment); stored and raw
  // length; codec id (0xff: not a block value). In key order.
  Status ForEachSize(const std::function<bool(char tag, uint64_t a, uint64_t b, uint32_t stored, uint32_t raw,
                                              uint8_t codec)>& fn);

  // Where ino has stored data, from the sizes index (SEEK_DATA/SEEK_HOLE):
  // the first block index >= idx that is a fast-tier block or lies in an
  // archived group (groups of group_blocks() blocks), or NotFound; and the
  // first block index >= idx that is neither (may be past the file's end).
  Result<uint64_t> NextStoredBlock(uint64_t ino, uint64_t idx);
  // The indices of ino's fast-tier blocks, in order, from the sizes index
  // (no block value is read).
  Status BlockIndicesOf(uint64_t ino, std::vector<uint64_t>* out);
  Result<uint64_t> NextUnstoredBlock(uint64_t ino, uint64_t idx);

  // Bytes the store uses on disk (SST + WAL files).
  uint64_t DiskBytes();

  // ---- Read-only followers (StoreOptions::follow) ----
  bool read_only() const;
  bool follower() const;
  // One open instance of the store (defined in store.cc).
  struct View;
  using ViewRef = std::shared_ptr<View>;
  // The view that calls on this thread read now: the pinned one, else the
  // current one.
  ViewRef CurrentView() const;
  // While it lives, every call of this thread on this store reads view v
  // (kept open meanwhile). Pins nest; a null v pins nothing.
  class Pin {
   public:
    Pin(const Store* s, ViewRef v);
    ~Pin();
    Pin(const Pin&) = delete;
    Pin& operator=(const Pin&) = delete;
   private:
    const Store* store_;
    ViewRef view_;
  };
  // A follower's catch-up: if the store's files changed since the last
  // open (CURRENT, MANIFEST, WAL names and sizes), opens the store again
  // and makes that the current view; true if it did. The open is retried
  // a few times while the writer deletes or rolls the files it names.
  // NotSupported for a store that is not a follower. Thread-safe (one at a
  // time); readers go on meanwhile on the view they hold.
  Result<bool> CatchUp();
  // Catch-ups that changed the view so far.
  uint64_t catch_ups() const;
  // True for an error that means a file of the view was deleted by the
  // writer (a follower's view fell behind): catching up mends it.
  static bool ViewLost(const Status& s);

  struct Rep;

 private:
  explicit Store(std::unique_ptr<Rep> rep);
  std::unique_ptr<Rep> rep_;
};

// Exposed for tests (corruption injection) and fsck: raw key of a block.
std::string BlockKey(uint64_t ino, uint64_t idx);

}  // namespace pmklc
