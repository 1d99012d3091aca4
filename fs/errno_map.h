// errno_map.h — the one place a Status becomes an errno (internal to fs/).
#pragma once
#include "engine/common/status.h"

namespace pmklc {
// 0 for OK; EIO for corruption and store failures.
int StatusToErrno(const Status& s);
}  // namespace pmklc
