// filesystem.h — POSIX filesystem semantics over a Store, independent of FUSE.
//
// Each do_x-style method returns a Status; fs/fuse_ops.cc turns it into a
// reply (fs/errno_map.cc maps Status to errno). No codec logic lives here: file
// data goes through FileData, which uses the codec interface of engine/codec.
//
// Ownership: Filesystem borrows the Store (which must outlive it).
// Thread safety: every method is safe to call from the FUSE worker threads
// concurrently. Namespace changes serialise on one mutex; data operations lock
// only their inode.
// Errors: permission checks are the kernel's (default_permissions); this layer
// checks existence, types, emptiness, name lengths and link limits.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/codec/codec.h"
#include "store/store.h"

struct statvfs;

namespace pmklc {

class Recall;
class ArchiveHost;
}

namespace pmklc {

// The caller of one request.
struct Caller {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> groups;  // supplementary groups, if known
  bool InGroup(uint32_t g) const;
};

// Test hooks: called at fixed points of the data path so that tests can
// reproduce races and failures deterministically. Never set by the product.
struct FsHooks {
  // A background encoder job, before it encodes block idx of ino (a test
  // makes it throw). Default: none
  std::function<void(uint64_t ino, uint64_t idx)> before_block_encode;
  // A read-ahead job, after it read block idx of ino from the store and
  // before it caches it (a test stalls it here). Default: none
  std::function<void(uint64_t ino, uint64_t idx)> before_prefetch_cache;
  // A decode of archived group g of ino, before it starts (holding a decode
  // slot and no lock of the file). Default: none
  std::function<void(uint64_t ino, uint64_t g)> before_group_decode;
  // A write or truncate, after it decoded the archived groups it touches
  // and before it takes the file's exclusive lock. Default: none
  std::function<void(uint64_t ino)> before_write_lock;
};

struct FsOptions {
  size_t cache_bytes = 128u << 20;        // decoded-block LRU cache. Default: 128 MiB
  // Decoded reference segments (files coded against others), one cache for
  // reads and the mount's archiver (ArchiveHost::refs). Default: 256 MiB
  size_t ref_cache_bytes = 256u << 20;
  size_t dirty_file_bytes = 32u << 20;    // dirty (unstored) data per file. Default: 32 MiB
  size_t dirty_total_bytes = 256u << 20;  // dirty data over all files. Default: 256 MiB
  EncodeOptions encode;                   // codec for new blocks. Default: zstd level 1
  bool noatime = false;                   // Default: false (relatime rules)
  FsHooks hooks;                          // tests only. Default: none
  // Threads that decode archived groups for reads: group decodes at once
  // (each holds its model's tables), the read-ahead threads, and the groups
  // a sequential reader keeps decoding ahead of it (none with 1); 0: one
  // per core (2..64). Default: 0
  unsigned read_threads = 0;
  // The recall tier archived groups are read through (borrowed; must
  // outlive the Filesystem; store/services/recall.h). Default: none
  Recall* recall = nullptr;
};

// Attributes to change in SetAttr; bit set in `valid`.
struct SetAttrRequest {
  enum : uint32_t {
    kMode = 1, kUid = 2, kGid = 4, kSize = 8, kAtime = 16, kMtime = 32,
    kAtimeNow = 64, kMtimeNow = 128, kCtime = 256,
  };
  uint32_t valid = 0;
  uint32_t mode = 0, uid = 0, gid = 0;
  uint64_t size = 0;
  Time atime, mtime, ctime;
};

// Rename flags (values of the Linux renameat2 flags).
inline constexpr unsigned kRenameNoReplace = 1;
inline constexpr unsigned kRenameExchange = 2;

class Filesystem {
 public:
  Filesystem(Store* store, const FsOptions& opts);
  ~Filesystem();
  Filesystem(const Filesystem&) = delete;
  Filesystem& operator=(const Filesystem&) = delete;

  // Purges orphans left by a crash. Call once before serving.
  Status Recover();
  // Stores all dirty data and purges open-unlinked inodes. Call at unmount.
  Status Shutdown();

  uint32_t block_size() const;

  // ---- Inode references (kernel lookup counts) ----
  // On success the inode's lookup count is incremented.
  Status Lookup(uint64_t parent, const std::string& name, InodeAttr* out);
  void Forget(uint64_t ino, uint64_t nlookup);
  // Attributes of ino, incrementing its lookup count (readdirplus).
  Status LookupIno(uint64_t ino, InodeAttr* out);

  Status GetAttr(uint64_t ino, InodeAttr* out);
  Status SetAttr(const Caller& c, uint64_t ino, const SetAttrRequest& req, InodeAttr* out);

  // ---- Namespace (each new inode is returned looked-up once) ----
  Status Mknod(const Caller& c, uint64_t parent, const std::string& name, uint32_t mode,
               uint64_t rdev, InodeAttr* out);
  Status Mkdir(const Caller& c, uint64_t parent, const std::string& name, uint32_t mode,
               InodeAttr* out);
  Status Symlink(const Caller& c, uint64_t parent, const std::string& name,
                 const std::string& target, InodeAttr* out);
  Status Link(uint64_t ino, uint64_t newparent, const std::string& newname, InodeAttr* out);
  Status Unlink(uint64_t parent, const std::string& name);
  Status Rmdir(uint64_t parent, const std::string& name);
  Status Rename(uint64_t parent, const std::string& name, uint64_t newparent,
                const std::string& newname, unsigned flags);
  Status Readlink(uint64_t ino, std::string* target);

  // ---- Files ----
  // Create = Mknod(S_IFREG) + Open. Open counts keep unlinked files alive.
  // flags: the open(2) flags; handles with write access pause the archiver
  // for this file until they are released with the same flags.
  Status Open(uint64_t ino, int flags);
  Status Release(uint64_t ino, int flags = 0);
  // Stores the inode's dirty blocks (flush/release), durable with sync=true (fsync).
  Status Flush(uint64_t ino, bool sync);
  // Reads up to size bytes at off into buf; returns bytes read (0 at EOF).
  Result<size_t> Read(uint64_t ino, uint64_t off, size_t size, char* buf);
  // Writes at off (O_APPEND offsets are already resolved by the kernel).
  // Returns bytes written.
  Result<size_t> Write(uint64_t ino, uint64_t off, const char* data, size_t size);
  Status Fallocate(uint64_t ino, int mode, uint64_t off, uint64_t len);
  // lseek(2) with SEEK_DATA or SEEK_HOLE (whence): the next data or hole
  // at or after off, at block granularity (a hole is a block with nothing
  // stored: never written, or all zeros; the end of the file is a hole).
  // NoSuchAddress (ENXIO) when off is at or past the end, or no data
  // follows; InvalidArgument for another whence.
  Result<uint64_t> SeekDataOrHole(uint64_t ino, uint64_t off, int whence);

  // ---- Directories ----
  // Snapshot of entries, "." and ".." first; the dir handle keeps it.
  Status ReadDir(uint64_t ino, std::vector<DirEntry>* out);
  Status FsyncDir(uint64_t ino);

  Status StatFs(struct statvfs* out);

  // The archiver's view of this filesystem (store/services/archiver.h): its open counts,
  // dirty data and locks. Owned by the Filesystem.
  ArchiveHost* archive_host();

  // ---- Read-only followers (the Store is one: Store::follower) ----
  // Over a read-only store every change is refused with ReadOnly (EROFS),
  // and nothing is written: no atime, no recovery, nothing at shutdown.
  // Follow catches the store up with its writer (Store::CatchUp) and moves
  // every loaded inode onto the new view under its lock, its record read
  // again from that view: an inode whose record changed (other than its
  // atime) has its cached blocks dropped and is listed for
  // TakeFollowChanges; one the writer deleted reads and stats as Stale
  // (ESTALE) from then on. A read that finds its view's files deleted by
  // the writer calls Follow and reads again, once. True if the view
  // changed. Thread-safe: one Follow at a time; reads go on meanwhile.
  Result<bool> Follow();
  // The inodes Follow found changed since the last call (for the kernel's
  // caches: fuse_lowlevel_notify_inval_inode), each once.
  std::vector<uint64_t> TakeFollowChanges();

  // ---- Extended attributes ----
  Status SetXattr(uint64_t ino, const std::string& name, const std::string& value, int flags);
  Status GetXattr(uint64_t ino, const std::string& name, std::string* value);
  Status ListXattr(uint64_t ino, std::vector<std::string>* names);
  Status RemoveXattr(uint64_t ino, const std::string& name);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace pmklc
