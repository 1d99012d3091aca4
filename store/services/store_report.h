// store_report.h — the text of `pmklc stat`: files, logical and stored bytes,
// bytes per tier and codec, bytes waiting for the archiver and its rate.
//
// Computed from a Store by whoever has it open: `pmklc stat` for an unmounted
// store, the mount daemon (over its control socket) for a mounted one, so a
// report never races the daemon's compactions.
// Thread safety: reads only; safe alongside writers of the same Store.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "engine/common/status.h"
#include "store/store.h"

namespace pmklc {

struct StoreReportOptions {
  bool json = false;   // one JSON object (the same fields). Default: false
  bool human = false;  // sizes as "1.5 GiB" in the table. Default: false
  // Filled by a mount's daemon: its -o options as given, and the files its
  // archiver gave up on. Default: not mounted, none
  bool mounted = false;
  std::vector<std::string> mount_options;
  std::vector<std::pair<uint64_t, std::string>> archive_failures;  // ino, reason
  // The daemon's resident memory and its budget (README §Memory). Default: 0 (not shown)
  uint64_t rss_bytes = 0;
  // Background jobs that threw and were caught (engine/common/guarded.h). Default: 0
  uint64_t failed_jobs = 0;
  uint64_t memory_budget_bytes = 0;
  std::string memory_budget_text;
  // The mount's recall tier (store/services/recall.h). Default: not shown
  bool recall_on = false;
  struct RecallCounters {
    uint64_t entries = 0, bytes = 0, budget = 0, hits = 0, misses = 0, written = 0, evicted = 0, dropped = 0;
  } recall;
};

// Human-readable table, or one JSON object; ends with a newline. Reads the
// store's sizes index and records, never the block values.
Result<std::string> StoreReport(Store& store, const StoreReportOptions& opts);
inline Result<std::string> StoreReport(Store& store, bool json) {
  StoreReportOptions o;
  o.json = json;
  return StoreReport(store, o);
}

// `pmklc stat --files`: per regular file, the bytes the store keeps for it
// (its fast-tier blocks and archived groups, plus the reference segments
// its ref-link groups stand for; a group coded against others counts only
// its own bytes), its size and its path; then the segments no file links
// to (objects kept for files deleted since). One line each, tab-separated:
// stored, size, path.
Result<std::string> StoreFileReport(Store& store);

}  // namespace pmklc
