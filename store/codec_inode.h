// Inode record encoding (internal to store/). Layout: docs/store.md §inodes.
#pragma once
#include <string>
#include <string_view>

#include "store/store.h"

namespace pmklc {
std::string EncodeInode(const InodeAttr& a);
Status DecodeInode(uint64_t ino, std::string_view v, InodeAttr* a);
}  // namespace pmklc
