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
  // Comma-separated -o options, split. Ours are defined, with their types,
  // ranges and defaults, in fs/mount_options.h (ParseMountOptions); the
  // others go to FUSE.
  std::vector<std::string> options;
};

// Mounts and serves until unmounted or signalled. Returns non-OK with a
// one-line message on setup failure (bad store, bad mountpoint, bad option).
Status RunMount(const MountOptions& opts);

}  // namespace pmklc
