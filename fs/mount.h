// mount.h — mounting a store with FUSE: the daemon's entry point.
#pragma once

#include <string>
#include <vector>

#include "engine/common/status.h"

namespace pmklc {

struct MountOptions {
  std::string store;
  std::string mountpoint;
  bool foreground = false;               // -f. Default: false (daemonize, log to syslog)
  bool debug = false;                    // -d: FUSE request tracing. Default: false
  // Comma-separated -o options, split. Ours: allow_other, default_permissions,
  // log_level=, cache_size=, dirty_limit=, dirty_file_limit=, zstd_level=,
  // block_size= (new stores only), min_free=, noatime, threads=. Others go to FUSE.
  std::vector<std::string> options;
};

// Mounts and serves until unmounted or signalled. Returns non-OK with a
// one-line message on setup failure (bad store, bad mountpoint, bad option).
Status RunMount(const MountOptions& opts);

}  // namespace pmklc
