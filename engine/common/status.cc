#include "engine/common/status.h"

namespace pmklc {

std::string Status::ToString() const {
  const char* name = "OK";
  switch (code_) {
    case Code::kOk: return "OK";
    case Code::kNotFound: name = "Not found"; break;
    case Code::kExists: name = "Already exists"; break;
    case Code::kNotDir: name = "Not a directory"; break;
    case Code::kIsDir: name = "Is a directory"; break;
    case Code::kNotEmpty: name = "Directory not empty"; break;
    case Code::kNameTooLong: name = "Name too long"; break;
    case Code::kInvalidArgument: name = "Invalid argument"; break;
    case Code::kCorruption: name = "Corruption"; break;
    case Code::kIOError: name = "I/O error"; break;
    case Code::kNoSpace: name = "No space left"; break;
    case Code::kPermission: name = "Operation not permitted"; break;
    case Code::kAccess: name = "Permission denied"; break;
    case Code::kNoData: name = "No data"; break;
    case Code::kRange: name = "Out of range"; break;
    case Code::kTooBig: name = "Too big"; break;
    case Code::kNotSupported: name = "Not supported"; break;
    case Code::kTooManyLinks: name = "Too many links"; break;
    case Code::kBusy: name = "Busy"; break;
    case Code::kNoMemory: name = "NoMemory"; break;
    case Code::kNoSuchAddress: name = "NoSuchAddress"; break;
    case Code::kReadOnly: name = "Read-only"; break;
    case Code::kStale: name = "Stale"; break;
  }
  if (msg_.empty()) return name;
  return std::string(name) + ": " + msg_;
}

}  // namespace pmklc
