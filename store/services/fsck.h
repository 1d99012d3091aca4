// fsck.h — the checks of `pmklc fsck` over a whole (unmounted) store:
// every block and archived group decodes and matches its checksum, the
// inode/dirent graph is consistent, reference objects, segments and holds
// agree (docs/store.md §References). Damage RocksDB itself finds (a CRC
// mismatch in an SST or blob file) does not stop the check: the scan goes
// on block by block, and every damaged file is named by its path.
//
// Ownership: borrows the store. Thread safety: one call at a time per
// store; it runs opts.threads decoders of its own.
// Errors: a Status only when the store's metadata cannot be read at all;
// everything else is a problem in the report.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/common/status.h"
#include "store/store.h"

namespace pmklc {

struct FsckOptions {
  unsigned threads = 1;  // decoders of archived groups. Default: 1 (the CLI: all cores)
};

struct FsckReport {
  static constexpr size_t kMaxListed = 1000;
  uint64_t problem_count = 0;
  std::vector<std::string> problems;  // the first kMaxListed, one line each
  std::vector<std::string> notes;     // costs space only
  std::vector<std::string> objects;   // one line per reference object
  struct Damaged {
    uint64_t ino = 0;
    std::string path;  // in the mount; "" when unlinked
    std::vector<std::string> what;
  };
  std::vector<Damaged> damaged;  // files whose data cannot all be read back
  uint64_t inodes = 0, blocks = 0, groups = 0, reference_objects = 0, segments = 0, pending_orphans = 0;
  // Recall tier entries (store/services/recall.h): a cache, never served
  // unless valid, so a damaged or stale one is a note, not a problem.
  uint64_t recall_entries = 0, recall_damaged = 0, recall_stale = 0;
};

[[nodiscard]] Status CheckStore(Store& store, const FsckOptions& opts, FsckReport* out);

}  // namespace pmklc
