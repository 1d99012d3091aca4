// fuse_ops.h — the libfuse3 low-level operation table (internal to fs/).
#pragma once
#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

namespace pmklc {

class Filesystem;

struct FuseContext {
  Filesystem* fs = nullptr;
  double attr_timeout = 1.0;   // Default: 1 s
  double entry_timeout = 1.0;  // Default: 1 s
  unsigned max_write = 1u << 20;  // Default: 1 MiB
  // Whether an open keeps the kernel's page cache of the file (a follower
  // drops it: the writer may have changed the file since). Default: true
  bool keep_cache = true;
};

// The op table; userdata of the session must be a FuseContext*.
const struct fuse_lowlevel_ops* FuseOps();

}  // namespace pmklc
