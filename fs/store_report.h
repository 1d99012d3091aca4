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

}  // namespace pmklc
