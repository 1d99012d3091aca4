#include "fs/inode_table.h"

namespace pmklc {

Result<std::shared_ptr<Node>> InodeTable::Get(uint64_t ino) {
  return Load(ino, [](Node*) {});
}

Result<std::shared_ptr<Node>> InodeTable::GetAndLookup(uint64_t ino, uint64_t count) {
  return Load(ino, [count](Node* n) { n->nlookup += count; });
}

Result<std::shared_ptr<Node>> InodeTable::GetAndOpen(uint64_t ino, bool write) {
  return Load(ino, [write](Node* n) {
    n->nopen++;
    if (write) n->nwrite++;
  });
}

Result<std::shared_ptr<Node>> InodeTable::Load(uint64_t ino, const std::function<void(Node*)>& under_lock) {
  for (int attempt = 0;; ++attempt) {
    uint64_t seq;
    {
      std::lock_guard<std::mutex> l(mu_);
      auto it = map_.find(ino);
      if (it != map_.end()) {
        under_lock(it->second.get());
        return it->second;
      }
      seq = evictions_;
    }
    // The store read runs without the table's mutex: other inodes' lookups
    // and forgets go on meanwhile. A follower's node keeps the view its
    // record came from.
    Store::ViewRef view = store_->follower() ? store_->CurrentView() : nullptr;
    Store::Pin pin(store_, view);
    auto a = store_->GetInode(ino);
    if (!a.ok()) return a.status();
    std::lock_guard<std::mutex> l(mu_);
    auto it = map_.find(ino);
    if (it != map_.end()) {  // another thread loaded it meanwhile: that node is the one
      under_lock(it->second.get());
      return it->second;
    }
    // A node evicted meanwhile may have stored a newer record than the one
    // read: read again (a few times; then the record is at worst as old as
    // an eviction that raced three loads, and it is re-read at next load).
    if (evictions_ != seq && attempt < 3) continue;
    auto n = std::make_shared<Node>();
    n->attr = std::move(a).value();
    n->view = std::move(view);
    map_[ino] = n;
    under_lock(n.get());
    return n;
  }
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
  if (it != map_.end() && it->second->nlookup == 0 && it->second->nopen == 0) {
    map_.erase(it);
    evictions_++;
  }
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
