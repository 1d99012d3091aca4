#include "fs/errno_map.h"

#include <cerrno>

namespace pmklc {

int StatusToErrno(const Status& s) {
  using C = Status::Code;
  switch (s.code()) {
    case C::kOk: return 0;
    case C::kNotFound: return ENOENT;
    case C::kExists: return EEXIST;
    case C::kNotDir: return ENOTDIR;
    case C::kIsDir: return EISDIR;
    case C::kNotEmpty: return ENOTEMPTY;
    case C::kNameTooLong: return ENAMETOOLONG;
    case C::kInvalidArgument: return EINVAL;
    case C::kCorruption: return EIO;
    case C::kIOError: return EIO;
    case C::kNoSpace: return ENOSPC;
    case C::kPermission: return EPERM;
    case C::kAccess: return EACCES;
    case C::kNoData: return ENODATA;
    case C::kRange: return ERANGE;
    case C::kTooBig: return EFBIG;
    case C::kNotSupported: return EOPNOTSUPP;
    case C::kTooManyLinks: return EMLINK;
    case C::kBusy: return EBUSY;
    case C::kNoMemory: return ENOMEM;
    case C::kNoSuchAddress: return ENXIO;
    case C::kReadOnly: return EROFS;
    case C::kStale: return ESTALE;
  }
  return EIO;
}

}  // namespace pmklc
