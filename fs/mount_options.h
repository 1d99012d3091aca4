// mount_options.h — the one table of `pmklc mount -o` options: each
// option's name, type, allowed values, default and meaning, defined once.
// Parsing and validation, `pmklc mount --help` and README's table are all
// made from it (tests/unit/mount_options_test.cc checks README against it).
//
// Thread safety: pure functions over a constant table.
// Errors: ParseMountOptions returns InvalidArgument with one line that names
// the option and what it allows; options that are not ours go to FUSE
// (fuse_opts), which refuses what it does not know at mount time.
#pragma once

#include <string>
#include <vector>

#include "engine/common/status.h"
#include "store/services/archiver.h"
#include "store/services/recall.h"
#include "fs/filesystem.h"
#include "store/store.h"

namespace pmklc {

// What the -o options configure.
struct MountConfig {
  FsOptions fs;
  StoreOptions store;
  ArchiveOptions archive;
  RecallOptions recall;
  std::string log_level = "info";  // Default: info
  bool allow_other = false;        // Default: false
  unsigned threads = 10;           // FUSE worker threads. Default: 10
  // ro_follow: seconds between catch-ups with the writer of a followed
  // store (StoreOptions::follow); 0: this mount is the store's writer. Default: 0
  uint32_t follow_s = 0;
  std::vector<std::string> fuse_opts;  // passed through to libfuse
  std::vector<std::string> given;      // "name=value" of each of our options given, in order
};

// Parses options already split at commas ("cache_size=1G", "noatime").
[[nodiscard]] Result<MountConfig> ParseMountOptions(const std::vector<std::string>& options);

// What the daemon's memory is made of, from its options (README §Memory):
// each term is a bound the code enforces, so RSS stays below the total
// (plus allocator slack). group_bytes: the store's archived group size.
struct MemoryBudget {
  uint64_t cache = 0;      // cache_size: decoded blocks
  uint64_t ref_cache = 0;  // ref_cache: decoded reference segments
  uint64_t dirty = 0;      // dirty_limit: written data not stored yet
  uint64_t rocksdb = 0;    // block cache (with index and filter blocks) + all memtables
  uint64_t decoders = 0;   // group decodes (one per core) and segment decodes (one per core, <= 8) at once
  uint64_t archiver = 0;   // archive_threads coders, and reference planning (0 with archive_profile=off)
  uint64_t fuse = 0;       // threads= FUSE workers' read buffers
  uint64_t base = 0;       // code, thread stacks, RocksDB and libfuse internals
  uint64_t total() const { return cache + ref_cache + dirty + rocksdb + decoders + archiver + fuse + base; }
  std::string Describe() const;  // "total 2.7 GiB = cache_size 128M + ..."
};
MemoryBudget DaemonMemoryBudget(const MountConfig& c, uint64_t group_bytes);

// The options as a Markdown table (README's), and as --help text.
std::string MountOptionsMarkdown();
std::string MountOptionsHelp();

}  // namespace pmklc
