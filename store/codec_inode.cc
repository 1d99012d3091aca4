#include "store/codec_inode.h"

#include "engine/codec/endian.h"
#include "engine/format.h"

namespace pmklc {

// v1: u8 version | u32 mode | u32 uid | u32 gid | u32 nlink | u64 size |
//     u64 rdev | (i64 sec, u32 nsec) x {atime, mtime, ctime} | u64 parent |
//     symlink bytes
static constexpr size_t kFixed = 1 + 4 * 4 + 8 * 2 + 12 * 3 + 8;  // 77

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
  const Time* t[3] = {&a.atime, &a.mtime, &a.ctime};
  for (int i = 0; i < 3; ++i) {
    StoreLE64(p + 33 + 12 * i, static_cast<uint64_t>(t[i]->sec));
    StoreLE32(p + 41 + 12 * i, t[i]->nsec);
  }
  StoreLE64(p + 69, a.parent);
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
  Time* t[3] = {&a->atime, &a->mtime, &a->ctime};
  for (int i = 0; i < 3; ++i) {
    t[i]->sec = static_cast<int64_t>(LoadLE64(p + 33 + 12 * i));
    t[i]->nsec = LoadLE32(p + 41 + 12 * i);
    if (t[i]->nsec >= 1000000000u) return Status::Corruption("inode " + std::to_string(ino) + ": bad timestamp");
  }
  a->parent = LoadLE64(p + 69);
  a->symlink.assign(p + kFixed, v.size() - kFixed);
  return Status::OK();
}

}  // namespace pmklc
