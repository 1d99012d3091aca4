// archive_units.h — archiving spread over many machines (issue #20; docs/store.md
// §Distributed archiving). A store's pending groups are exported as work
// units into a directory meant for shared storage; workers that need no
// access to the store code one shard each into an SST file; the results are
// ingested into the store under the archiver's swap rule (a group goes in
// only if its file's size and every block value are still exactly those
// that were exported).
//
// DIR holds:
//   export        the export record (below), written last by ExportUnits
//   units/I       shard I's units, 0 <= I < shards; a unit names the
//                 reference segments its group is coded against
//   refs          those segments' nucleotide codes (none without references)
//   files         each exported file's sketch record, stored at ingest
//   deferred      the number of related files left for the next export (only
//                 when there are some; ExportOptions::defer_related)
//   out/I.sst     shard I's results (rocksdb::SstFileWriter), renamed into
//                 place when complete
//   out/I.done    written (by rename) after out/I.sst: its group count and
//                 XXH3-64; a shard without it is not done
// Every file starts with a magic and a version byte (docs/store.md).
//
// Ownership: the functions borrow what they are given. Thread safety: each
// call is independent; WorkShard codes on its own threads. Two workers of one
// shard at once are safe (each writes under a name of its own and renames),
// so a rerun of a killed or lost worker is always allowed.
// Errors: a malformed export or result file is Corruption naming the file;
// a unit whose file changed since the export is never ingested: it is
// counted and reported as stale, and the file stays pending.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/common/status.h"
#include "engine/models/cm_batch.h"
#include "store/services/archiver.h"
#include "store/store.h"

namespace pmklc {

struct ExportOptions {
  // Shards the units are spread over (1..4096), one worker each. Default: 1
  uint32_t shards = 1;
  // Archive profile the workers code with: max or balanced. Default: max
  std::string profile = "max";
  // As ArchiveOptions::split_bytes. Default: 0
  uint32_t split_bytes = 0;
  // References (issue #6), planned at export as the local archiver plans
  // them: each nucleotide FASTA file's groups are coded against segments of
  // the related files and objects already in the store. Default: true
  bool references = true;
  uint32_t ref_segments = 4;  // as ArchiveOptions::ref_segments. Default: 4
  uint32_t ref_depth = 2;     // as ArchiveOptions::ref_depth. Default: 2
  size_t ref_cache_bytes = size_t{256} << 20;  // decoded segments, without a host's cache. Default: 256 MiB
  // Threads that read the files for their sketches (references). Default: 1
  unsigned threads = 1;
  // A file related to one exported before it in this export (which it could
  // use once that one is archived) is left pending for the next export,
  // instead of being coded without it. Default: true
  bool defer_related = true;
};

struct ExportReport {
  uint64_t files = 0, groups = 0;
  uint64_t busy_files = 0;      // left out: not idle (a mounted store)
  uint64_t deferred_files = 0;  // left out: related to a file of this export (ExportOptions::defer_related)
  uint64_t raw_bytes = 0;       // file bytes in the exported groups
  uint64_t unit_bytes = 0;      // bytes written to units/
  uint64_t groups_with_refs = 0;          // groups coded against reference segments
  uint64_t ref_segments = 0, ref_bytes = 0;  // distinct segments, and DIR/refs's size
  std::string Explain() const;
};

// Writes every group with fast-tier blocks of every pending regular file
// into dir (created; it must not hold an export yet). Groups go to shards
// round robin in file order. References (ExportOptions::references): the
// files are planned in the local archiver's order against the files and
// objects already archived; a related archived file may be promoted to a
// reference object on the way (the only change to the store), and a file
// related to one earlier in this export is deferred (defer_related).
// A mounted store's daemon runs it with its archiver paused (no pass may
// promote, collect or archive meanwhile); so does its ingest.
// host: a mounted store's (its daemon exports): files that are not idle
// (open for writing, unstored data) are left out and stay pending; nullptr:
// an unmounted store, every pending file goes.
[[nodiscard]] Result<ExportReport> ExportUnits(Store* store, const std::string& dir, const ExportOptions& o,
                                               ArchiveHost* host = nullptr);

struct WorkOptions {
  uint32_t shard = 0, shards = 1;  // which one of how many (must match the export)
  // Coding threads. Default: 1
  unsigned threads = 1;
  // Where max and balanced groups are coded (as ArchiveOptions::device). Default: auto
  DeviceChoice device;
};

struct WorkReport {
  bool already_done = false;  // out/I.done was there and matched: nothing coded
  uint64_t groups = 0, no_gain = 0;
  uint64_t raw_bytes = 0, before_bytes = 0, after_bytes = 0;
  double seconds = 0;
  std::string Explain() const;
};

// Codes shard o.shard of the export in dir into out/I.sst and out/I.done.
// Idempotent: a shard already done is skipped; a half-done one (killed) is
// coded again from the start.
[[nodiscard]] Result<WorkReport> WorkShard(const std::string& dir, const WorkOptions& o);

struct IngestReport {
  uint32_t shards = 0, shards_missing = 0;  // shards without out/I.done
  uint64_t groups = 0, bytes = 0;           // ingested, and their stored bytes
  uint64_t already = 0;                     // ingested by an earlier run
  uint64_t no_gain = 0;                     // coded no smaller: left as they are
  uint64_t stale = 0;                       // the file changed since the export: refused
  uint64_t files_done = 0;                  // pending marks cleared
  uint64_t as_files = 0;                    // shards swapped in as SST files (an unmounted store)
  double seconds = 0;
  std::vector<std::string> notes;           // one line per stale group or missing shard (at most 100)
  std::string Explain() const;
};

// Swaps the results of every done shard in dir into the store, only the
// groups whose files still hold exactly what was exported: for a mounted
// store (host not exclusive) group by group, each in one batch under
// host's file lock; for an unmounted one, a shard's groups checked, then
// ingested together as SST files (Store::FileBatch: atomic, no WAL).
// Clears a file's pending mark when all its exported groups are in (or
// coded no smaller) and its ctime is the exported one. Safe to run again
// after a crash or with more shards done.
struct IngestOptions {
  // With an exclusive host (an unmounted store): each shard's groups as
  // SST files ingested at once (false: one WriteBatch a group, as with a
  // mounted store). Default: true
  bool as_files = true;
};
[[nodiscard]] Result<IngestReport> IngestResults(Store* store, ArchiveHost* host, const std::string& dir,
                                                 const IngestOptions& o = {});

// Parses one file of an export directory from its bytes, as workers and
// ingest read them (kind: 'x' the export record, 'u' a units file, 'r' the
// reference codes, 'f' the files record): OK or Corruption, never more (the
// fuzz target tests/fuzz/export_files_fuzz.cc).
[[nodiscard]] Status ParseExportFile(char kind, std::string_view bytes);

}  // namespace pmklc
