// commands.h — the pmklc subcommands (internal to tools/). Each returns the
// process exit code and prints its own one-line errors.
#pragma once
#include <string>

namespace pmklc::cli {
int RunStat(const std::string& store, bool json);
int RunFsck(const std::string& store);
}  // namespace pmklc::cli
