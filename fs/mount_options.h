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
#include "fs/filesystem.h"
#include "store/store.h"

namespace pmklc {

// What the -o options configure.
struct MountConfig {
  FsOptions fs;
  StoreOptions store;
  ArchiveOptions archive;
  std::string log_level = "info";  // Default: info
  bool allow_other = false;        // Default: false
  unsigned threads = 10;           // FUSE worker threads. Default: 10
  std::vector<std::string> fuse_opts;  // passed through to libfuse
  std::vector<std::string> given;      // "name=value" of each of our options given, in order
};

// Parses options already split at commas ("cache_size=1G", "noatime").
[[nodiscard]] Result<MountConfig> ParseMountOptions(const std::vector<std::string>& options);

// The options as a Markdown table (README's), and as --help text.
std::string MountOptionsMarkdown();
std::string MountOptionsHelp();

}  // namespace pmklc
