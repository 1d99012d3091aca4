#include "store/codec_inode.h"

#include "engine/codec/endian.h"
#include "engine/format.h"

namespace pmklc {

// v1: u8 version | u32 mode | u32 uid | u32 gid | u32 nlink | u64 size |
//     u64 rdev | i64 atime_ns | i64 mtime_ns | i64 ctime_ns | u64 parent |
//     symlink bytes
static constexpr size_t kFixed = 1 + 4 * 4 + 8 * 6;

std::string EncodeInode(const InodeAttr& a) {
  std::string v(kFixed + a.symlink.size(), '\0');
  char* p = v.data();
  p[0] = static_cast<char>(format::kInodeRecordVersion);
  StoreLE32(p + 1, a.mode);
  StoreLE32(p + 5, a.uid);
  StoreLE32(p + 9, a.gid);
  StoreLE32(p + 13, a.nlink);
  StoreLE64(p + 17, a.size);
  StoreLE64(p + 25, a.rdev);
  StoreLE64(p + 33, static_cast<uint64_t>(a.atime_ns));
  StoreLE64(p + 41, static_cast<uint64_t>(a.mtime_ns));
  StoreLE64(p + 49, static_cast<uint64_t>(a.ctime_ns));
  StoreLE64(p + 57, a.parent);
  if (!a.symlink.empty()) std::memcpy(p + kFixed, a.symlink.data(), a.symlink.size());
  return v;
}

Status DecodeInode(uint64_t ino, std::string_view v, InodeAttr* a) {
  if (v.size() < kFixed || static_cast<uint8_t>(v[0]) != format::kInodeRecordVersion)
    return Status::Corruption("inode " + std::to_string(ino) + ": bad record");
  const char* p = v.data();
  a->ino = ino;
  a->mode = LoadLE32(p + 1);
  a->uid = LoadLE32(p + 5);
  a->gid = LoadLE32(p + 9);
  a->nlink = LoadLE32(p + 13);
  a->size = LoadLE64(p + 17);
  a->rdev = LoadLE64(p + 25);
  a->atime_ns = static_cast<int64_t>(LoadLE64(p + 33));
  a->mtime_ns = static_cast<int64_t>(LoadLE64(p + 41));
  a->ctime_ns = static_cast<int64_t>(LoadLE64(p + 49));
  a->parent = LoadLE64(p + 57);
  a->symlink.assign(p + kFixed, v.size() - kFixed);
  return Status::OK();
}

}  // namespace pmklc
