// store_report.h — the text of `pmklc stat`: files, logical and stored bytes,
// bytes per tier and codec, bytes waiting for the archiver and its rate.
//
// Computed from a Store by whoever has it open: `pmklc stat` for an unmounted
// store, the mount daemon (over its control socket) for a mounted one, so a
// report never races the daemon's compactions.
// Thread safety: reads only; safe alongside writers of the same Store.
#pragma once

#include <string>

#include "engine/common/status.h"
#include "store/store.h"

namespace pmklc {

// Human-readable table, or one JSON object (json = true); ends with a newline.
Result<std::string> StoreReport(Store& store, bool json);

// `pmklc stat --files`: per regular file, the bytes the store keeps for it
// (its fast-tier blocks and archived groups, plus the reference segments
// its ref-link groups stand for; a group coded against others counts only
// its own bytes), its size and its path; then the segments no file links
// to (objects kept for files deleted since). One line each, tab-separated:
// stored, size, path.
Result<std::string> StoreFileReport(Store& store);

}  // namespace pmklc
