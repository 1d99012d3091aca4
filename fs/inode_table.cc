#include "fs/inode_table.h"

namespace pmklc {

Result<std::shared_ptr<Node>> InodeTable::Get(uint64_t ino) {
  std::lock_guard<std::mutex> l(mu_);
  return GetLocked(ino);
}

Result<std::shared_ptr<Node>> InodeTable::GetAndLookup(uint64_t ino, uint64_t count) {
  std::lock_guard<std::mutex> l(mu_);
  auto r = GetLocked(ino);
  if (r.ok()) (*r)->nlookup += count;
  return r;
}

Result<std::shared_ptr<Node>> InodeTable::GetAndOpen(uint64_t ino, bool write) {
  std::lock_guard<std::mutex> l(mu_);
  auto r = GetLocked(ino);
  if (r.ok()) {
    (*r)->nopen++;
    if (write) (*r)->nwrite++;
  }
  return r;
}

Result<std::shared_ptr<Node>> InodeTable::GetLocked(uint64_t ino) {
  auto it = map_.find(ino);
  if (it != map_.end()) return it->second;
  auto a = store_->GetInode(ino);
  if (!a.ok()) return a.status();
  auto n = std::make_shared<Node>();
  n->attr = std::move(a).value();
  map_[ino] = n;
  return n;
}

std::shared_ptr<Node> InodeTable::Insert(const InodeAttr& attr) {
  auto n = std::make_shared<Node>();
  n->attr = attr;
  std::lock_guard<std::mutex> l(mu_);
  map_[attr.ino] = n;
  return n;
}

void InodeTable::AddLookup(const std::shared_ptr<Node>& n, uint64_t count) {
  std::lock_guard<std::mutex> l(mu_);
  n->nlookup += count;
}

void InodeTable::AddOpen(const std::shared_ptr<Node>& n, bool write) {
  std::lock_guard<std::mutex> l(mu_);
  n->nopen++;
  if (write) n->nwrite++;
}

bool InodeTable::IsOpenForWrite(uint64_t ino) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = map_.find(ino);
  return it != map_.end() && it->second->nwrite > 0;
}

std::shared_ptr<Node> InodeTable::Peek(uint64_t ino) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = map_.find(ino);
  return it == map_.end() ? nullptr : it->second;
}

std::shared_ptr<Node> InodeTable::DropLookup(uint64_t ino, uint64_t count) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = map_.find(ino);
  if (it == map_.end()) return nullptr;
  auto& n = it->second;
  n->nlookup = n->nlookup > count ? n->nlookup - count : 0;
  if (n->nlookup == 0 && n->nopen == 0) return n;
  return nullptr;
}

std::shared_ptr<Node> InodeTable::DropOpen(uint64_t ino, bool write) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = map_.find(ino);
  if (it == map_.end()) return nullptr;
  auto& n = it->second;
  if (n->nopen) n->nopen--;
  if (write && n->nwrite) n->nwrite--;
  if (n->nlookup == 0 && n->nopen == 0) return n;
  return nullptr;
}

void InodeTable::Evict(uint64_t ino) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = map_.find(ino);
  if (it != map_.end() && it->second->nlookup == 0 && it->second->nopen == 0) map_.erase(it);
}

bool InodeTable::IsOpen(uint64_t ino) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = map_.find(ino);
  return it != map_.end() && it->second->nopen > 0;
}

bool InodeTable::IsReferenced(uint64_t ino) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = map_.find(ino);
  return it != map_.end() && (it->second->nopen > 0 || it->second->nlookup > 0);
}

std::vector<std::shared_ptr<Node>> InodeTable::All() {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<std::shared_ptr<Node>> v;
  for (auto& [k, n] : map_) v.push_back(n);
  return v;
}

}  // namespace pmklc
