// Status and Result<T>: the error type of every pmklcfs module.
//
// Contract: a Status is either OK or carries a Code and a one-line message.
// Functions that can fail return [[nodiscard]] Status or Result<T>; nothing in
// the codec, store or fs paths throws. fs/errno_map.cc is the one place that
// turns a Code into an errno.
//
// Thread safety: values; copy freely.
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace pmklc {

class [[nodiscard]] Status {
 public:
  enum class Code : unsigned char {
    kOk = 0,
    kNotFound,        // no such entry / key
    kExists,          // entry already exists
    kNotDir,          // a path component is not a directory
    kIsDir,           // operation not valid on a directory
    kNotEmpty,        // directory not empty
    kNameTooLong,     // name over kMaxNameLen
    kInvalidArgument, // bad argument or malformed input
    kCorruption,      // stored bytes fail a check (checksum, format)
    kIOError,         // the store failed an I/O operation
    kNoSpace,         // disk full
    kPermission,      // operation not permitted (EPERM)
    kAccess,          // permission denied (EACCES)
    kNoData,          // no such attribute
    kRange,           // buffer too small
    kTooBig,          // file or value too large
    kNotSupported,    // operation not supported
    kTooManyLinks,    // link count limit reached
    kBusy,            // resource busy
    kNoMemory,        // an allocation failed (ENOMEM)
    kNoSuchAddress,   // a position past the data, e.g. SEEK_DATA past the last (ENXIO)
    kReadOnly,        // a change refused by a read-only store or mount (EROFS)
    kStale,           // what this view of a followed store names is gone (ESTALE)
  };

  Status() = default;
  static Status OK() { return Status(); }
  static Status NotFound(std::string m = {}) { return {Code::kNotFound, std::move(m)}; }
  static Status Exists(std::string m = {}) { return {Code::kExists, std::move(m)}; }
  static Status NotDir(std::string m = {}) { return {Code::kNotDir, std::move(m)}; }
  static Status IsDir(std::string m = {}) { return {Code::kIsDir, std::move(m)}; }
  static Status NotEmpty(std::string m = {}) { return {Code::kNotEmpty, std::move(m)}; }
  static Status NameTooLong(std::string m = {}) { return {Code::kNameTooLong, std::move(m)}; }
  static Status InvalidArgument(std::string m = {}) { return {Code::kInvalidArgument, std::move(m)}; }
  static Status Corruption(std::string m = {}) { return {Code::kCorruption, std::move(m)}; }
  static Status IOError(std::string m = {}) { return {Code::kIOError, std::move(m)}; }
  static Status NoSpace(std::string m = {}) { return {Code::kNoSpace, std::move(m)}; }
  static Status Permission(std::string m = {}) { return {Code::kPermission, std::move(m)}; }
  static Status Access(std::string m = {}) { return {Code::kAccess, std::move(m)}; }
  static Status NoData(std::string m = {}) { return {Code::kNoData, std::move(m)}; }
  static Status Range(std::string m = {}) { return {Code::kRange, std::move(m)}; }
  static Status TooBig(std::string m = {}) { return {Code::kTooBig, std::move(m)}; }
  static Status NotSupported(std::string m = {}) { return {Code::kNotSupported, std::move(m)}; }
  static Status TooManyLinks(std::string m = {}) { return {Code::kTooManyLinks, std::move(m)}; }
  static Status Busy(std::string m = {}) { return {Code::kBusy, std::move(m)}; }
  static Status NoMemory(std::string m = {}) { return {Code::kNoMemory, std::move(m)}; }
  static Status NoSuchAddress(std::string m = {}) { return {Code::kNoSuchAddress, std::move(m)}; }
  static Status ReadOnly(std::string m = {}) { return {Code::kReadOnly, std::move(m)}; }
  static Status Stale(std::string m = {}) { return {Code::kStale, std::move(m)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return msg_; }
  bool IsNotFound() const { return code_ == Code::kNotFound; }
  bool IsCorruption() const { return code_ == Code::kCorruption; }
  bool IsBusy() const { return code_ == Code::kBusy; }

  // "Corruption: block 3 of inode 17 fails its checksum"
  std::string ToString() const;

 private:
  Status(Code c, std::string m) : code_(c), msg_(std::move(m)) {}
  Code code_ = Code::kOk;
  std::string msg_;
};

// Result<T>: a T or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T v) : value_(std::move(v)) {}                     // NOLINT: implicit by design
  Result(Status s) : status_(std::move(s)) {}               // NOLINT: must not be OK
  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

#define PMKLC_RETURN_IF_ERROR(expr)          \
  do {                                       \
    ::pmklc::Status _st = (expr);            \
    if (!_st.ok()) return _st;               \
  } while (0)

}  // namespace pmklc
