#include "fs/filesystem.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>

#include "engine/format.h"
#include "store/services/archiver.h"
#include "fs/file_data.h"
#include "fs/inode_table.h"

namespace pmklc {

namespace {

Time Now() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return Time{static_cast<int64_t>(ts.tv_sec), static_cast<uint32_t>(ts.tv_nsec)};
}

Status CheckName(const std::string& name) {
  if (name.empty() || name == "." || name == "..") return Status::InvalidArgument("bad name");
  if (name.size() > format::kMaxNameLen) return Status::NameTooLong();
  if (name.find('/') != std::string::npos) return Status::InvalidArgument("name contains '/'");
  return Status::OK();
}

bool IsDir(uint32_t mode) { return S_ISDIR(mode); }

// Adds to b the deletion of everything of an inode that is gone: its blocks
// and groups (and with them its pending mark, holds and sketch), xattrs,
// record and orphan mark.
void AddPurge(Store::Batch* b, uint64_t ino) {
  b->DeleteBlocksFrom(ino, 0);
  b->DeleteAllXattrs(ino);
  b->DeleteInode(ino);
  b->DeleteOrphan(ino);
}

}  // namespace

bool Caller::InGroup(uint32_t g) const {
  if (g == gid) return true;
  return std::find(groups.begin(), groups.end(), g) != groups.end();
}

struct Filesystem::Impl {
  Impl(Store* s, const FsOptions& o) : store(s), opts(o), table(s), data(s, o) {
    next_ino = store->MaxIno() + 1;
    ro = store->read_only();
  }

  // Filesystem::Read, once.
  Result<size_t> Read(uint64_t ino, uint64_t off, size_t size, char* buf);

  // ReadOnly for every change to a read-only store (a ro_follow mount).
  Status Writable() const {
    return ro ? Status::ReadOnly("this mount is read-only (ro_follow: changes go through the writer's mount)")
              : Status::OK();
  }

  Store* store;
  FsOptions opts;
  InodeTable table;
  FileData data;
  std::mutex ns_mu;  // serialises namespace changes
  std::vector<uint64_t> reclaim_after_write;  // guarded by ns_mu
  std::atomic<uint64_t> next_ino;
  std::unique_ptr<ArchiveHost> archive_host;
  std::mutex damage_mu;
  std::set<uint64_t> damage_logged;  // inodes whose EIO was logged with a path (guarded by damage_mu)
  bool ro = false;                   // the store is read-only (a follower's)
  // Follow: one at a time (held while the store is opened again; no reader
  // takes it), and the inodes it found changed, for TakeFollowChanges.
  std::mutex follow_mu;
  std::mutex changed_mu;  // a leaf
  std::vector<uint64_t> follow_changed;  // guarded by changed_mu

  // The path of ino in the mount, found by scanning the directory entries
  // (only on an error path); "" when it has none (unlinked) or on error.
  std::string PathOf(uint64_t ino) {
    uint64_t parent = 0;
    std::string name;
    Status s = store->ForEachDirent([&](uint64_t p, const DirEntry& e) {
      if (e.ino != ino) return true;
      parent = p;
      name = e.name;
      return false;
    });
    if (!s.ok() || name.empty()) return "";
    std::string path = "/" + name;
    for (int depth = 0; depth < 4096 && parent != format::kRootIno; ++depth) {
      auto pa = store->GetInode(parent);
      if (!pa.ok()) return "";
      std::vector<DirEntry> v;
      if (!store->ListDir(pa->parent ? pa->parent : format::kRootIno, &v).ok()) return "";
      bool found = false;
      for (auto& e : v)
        if (e.ino == parent) {
          path = "/" + e.name + path;
          found = true;
          break;
        }
      if (!found) return "";
      parent = pa->parent ? pa->parent : format::kRootIno;
    }
    return path;
  }

  // A read returned EIO: log it once per inode with the file's path (the
  // block or group is in the message), so an admin knows what to restore.
  void LogDamage(uint64_t ino, const Status& s) {
    {
      std::lock_guard<std::mutex> l(damage_mu);
      if (damage_logged.size() > 10000 || !damage_logged.insert(ino).second) return;
    }
    const std::string path = PathOf(ino);
    spdlog::error("EIO reading {} (inode {}): {}; `pmklc fsck` on the unmounted store lists every damaged file",
                  path.empty() ? "(no name)" : path, ino, s.ToString());
  }

  Result<std::shared_ptr<Node>> Dir(uint64_t ino) {
    auto r = table.Get(ino);
    if (!r.ok()) return r.status();
    if (!IsDir((*r)->attr.mode)) return Status::NotDir();
    return r;
  }

  // Writes a namespace batch, then schedules space reclaim for big files it
  // deleted (DropLink). Requires ns_mu.
  Status WriteAndReclaim(Store::Batch& b) {
    Status s = store->Write(b, false);
    if (s.ok())
      for (uint64_t ino : reclaim_after_write) store->ScheduleReclaim(ino);
    reclaim_after_write.clear();
    return s;
  }

  // Deletes an inode with nlink 0 from the store (blocks, xattrs, record).
  Status Purge(const std::shared_ptr<Node>& n) {
    std::unique_lock<std::shared_mutex> l(n->mu);
    data.DropLocked(n.get());
    Store::Batch b;
    AddPurge(&b, n->attr.ino);
    Status s = store->Write(b, false);
    if (s.ok()) data.StoredDataChanged(n->attr.ino);
    if (s.ok() && S_ISREG(n->attr.mode) && n->attr.size >= (uint64_t{8} << 20)) store->ScheduleReclaim(n->attr.ino);
    return s;
  }

  // Fills out->stored_bytes for a regular file (see Node::stored_bytes).
  void FillStored(Node* n, InodeAttr* out) {
    if (!S_ISREG(out->mode)) return;
    const uint64_t gen = n->data_gen.load();
    const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now().time_since_epoch()).count();
    uint64_t v = n->stored_bytes.load();
    if (v == InodeAttr::kUnknown || (n->stored_gen.load() != gen && now - n->stored_at_ms.load() >= 1000)) {
      auto r = store->StoredBytesOf(out->ino);
      if (r.ok()) {
        v = *r;
        n->stored_bytes = v;
        n->stored_gen = gen;
        n->stored_at_ms = now;
      }
    }
    out->stored_bytes = v;
  }

  // Called when a node lost its last kernel reference (lookup or open):
  // stores its data, purges it if unlinked, and evicts it from the table.
  void OnUnreferenced(const std::shared_ptr<Node>& n) {
    if (!n) return;
    uint64_t ino = n->attr.ino;
    if (ro) {  // nothing to store, and an unlinked inode is the writer's to purge
      std::lock_guard<std::mutex> g(ns_mu);
      if (!table.IsReferenced(ino)) table.Evict(ino);
      return;
    }
    {
      std::unique_lock<std::shared_mutex> l(n->mu);
      if (n->attr.nlink > 0) {
        Status s = data.FlushLocked(n.get(), l, false);
        if (!s.ok()) {
          spdlog::error("inode {}: storing dirty data failed: {} (kept in memory)", ino, s.ToString());
          return;  // keep the node so the data is not dropped
        }
      }
    }
    std::lock_guard<std::mutex> g(ns_mu);
    if (table.IsReferenced(ino)) return;
    if (n->attr.nlink == 0) {
      Status s = Purge(n);
      if (!s.ok()) spdlog::error("inode {}: purge failed: {} (left as orphan)", ino, s.ToString());
    }
    table.Evict(ino);
  }

  // New inode owned by the caller, group from a setgid parent.
  InodeAttr NewInode(const Caller& c, const InodeAttr& parent, uint32_t mode) {
    InodeAttr a;
    a.ino = next_ino.fetch_add(1);
    a.uid = c.uid;
    a.gid = c.gid;
    if (parent.mode & S_ISGID) {
      a.gid = parent.gid;
      if (S_ISDIR(mode)) mode |= S_ISGID;
    }
    if (!S_ISDIR(mode) && (mode & S_ISGID) && c.uid != 0 && !c.InGroup(a.gid)) mode &= ~S_ISGID;
    a.mode = mode;
    a.nlink = S_ISDIR(mode) ? 2 : 1;
    a.atime = a.mtime = a.ctime = Now();
    if (S_ISDIR(mode)) a.parent = parent.ino;
    return a;
  }

  Status CreateNode(const Caller& c, uint64_t parent, const std::string& name, uint32_t mode,
                    uint64_t rdev, const std::string& symlink, InodeAttr* out) {
    PMKLC_RETURN_IF_ERROR(CheckName(name));
    PMKLC_RETURN_IF_ERROR(store->CheckSpace());
    std::lock_guard<std::mutex> g(ns_mu);
    auto pr = Dir(parent);
    if (!pr.ok()) return pr.status();
    auto p = *pr;
    std::unique_lock<std::shared_mutex> pl(p->mu);
    if (p->attr.nlink == 0) return Status::NotFound("directory was removed");
    auto e = store->Lookup(parent, name);
    if (e.ok()) return Status::Exists();
    if (!e.status().IsNotFound()) return e.status();
    if (S_ISDIR(mode) && p->attr.nlink >= format::kMaxLinks) return Status::TooManyLinks();
    InodeAttr a = NewInode(c, p->attr, mode);
    a.rdev = rdev;
    if (S_ISLNK(mode)) {
      a.symlink = symlink;
      a.size = symlink.size();
    }
    InodeAttr np = p->attr;
    np.mtime = np.ctime = a.ctime;
    if (S_ISDIR(mode)) np.nlink++;
    Store::Batch b;
    b.PutInode(a);
    b.PutDirent(parent, name, a.ino, mode & S_IFMT);
    b.PutInode(np);
    PMKLC_RETURN_IF_ERROR(store->Write(b, false));
    p->attr = np;
    auto n = table.Insert(a);
    table.AddLookup(n);
    *out = a;
    return Status::OK();
  }

  // Drops one link of child (already locked by caller); adds to batch.
  void DropLink(InodeAttr* a, Time now, Store::Batch* b) {
    if (IsDir(a->mode)) a->nlink = 0;
    else if (a->nlink) a->nlink--;
    a->ctime = now;
    if (a->nlink == 0) {
      if (table.IsReferenced(a->ino)) {
        b->PutInode(*a);
        b->PutOrphan(a->ino);
      } else {
        AddPurge(b, a->ino);
        if (S_ISREG(a->mode) && a->size >= (uint64_t{8} << 20)) reclaim_after_write.push_back(a->ino);
      }
    } else {
      b->PutInode(*a);
    }
  }

  Status RemoveEntry(uint64_t parent, const std::string& name, bool dir) {
    if (name.size() > format::kMaxNameLen) return Status::NameTooLong();
    std::lock_guard<std::mutex> g(ns_mu);
    auto pr = Dir(parent);
    if (!pr.ok()) return pr.status();
    auto p = *pr;
    auto e = store->Lookup(parent, name);
    if (!e.ok()) return e.status();
    auto cr = table.Get(e->ino);
    if (!cr.ok()) return cr.status();
    auto ch = *cr;
    std::unique_lock<std::shared_mutex> pl(p->mu);
    std::unique_lock<std::shared_mutex> cl(ch->mu);
    if (dir) {
      if (!IsDir(ch->attr.mode)) return Status::NotDir();
      auto empty = store->DirEmpty(ch->attr.ino);
      if (!empty.ok()) return empty.status();
      if (!*empty) return Status::NotEmpty();
    } else if (IsDir(ch->attr.mode)) {
      return Status::IsDir();
    }
    Time now = Now();
    InodeAttr np = p->attr, nc = ch->attr;
    np.mtime = np.ctime = now;
    if (dir) np.nlink--;
    Store::Batch b;
    b.DeleteDirent(parent, name);
    b.PutInode(np);
    DropLink(&nc, now, &b);
    PMKLC_RETURN_IF_ERROR(WriteAndReclaim(b));
    p->attr = np;
    ch->attr = nc;
    if (nc.nlink == 0) {
      if (!table.IsReferenced(nc.ino)) data.DropLocked(ch.get());
    }
    return Status::OK();
  }
};

Filesystem::Filesystem(Store* store, const FsOptions& opts)
    : impl_(std::make_unique<Impl>(store, opts)) {}
Filesystem::~Filesystem() = default;

uint32_t Filesystem::block_size() const { return impl_->store->block_size(); }

Status Filesystem::Recover() {
  if (impl_->ro) return Status::OK();  // the writer's to do
  std::vector<uint64_t> orphans;
  PMKLC_RETURN_IF_ERROR(impl_->store->ListOrphans(&orphans));
  for (uint64_t ino : orphans) {
    Store::Batch b;
    AddPurge(&b, ino);
    PMKLC_RETURN_IF_ERROR(impl_->store->Write(b, false));
    spdlog::info("recovery: purged unlinked inode {} that was open at the crash", ino);
  }
  if (!orphans.empty()) PMKLC_RETURN_IF_ERROR(impl_->store->SyncWAL());
  return Status::OK();
}

// ---- Archiver host (store/services/archiver.h) ----------------------------------------

namespace {
class FsArchiveHost : public ArchiveHost {
 public:
  explicit FsArchiveHost(Filesystem::Impl* i) : i_(i) {}
  Status CheckIdle(uint64_t ino, const Time* not_after) override;
  Status Commit(uint64_t ino, const std::function<Status(const InodeAttr&, Store::Batch*)>& fn) override;
  StoreRefs* refs() override;

 private:
  Filesystem::Impl* i_;
};
}  // namespace

Status FsArchiveHost::CheckIdle(uint64_t ino, const Time* not_after) {
  if (auto n = i_->table.Peek(ino)) {
    if (i_->table.IsOpenForWrite(ino)) return Status::Busy("open for writing");
    std::shared_lock<std::shared_mutex> l(n->mu);
    if (!n->dirty.empty() || !n->pending.empty() || n->inflight) return Status::Busy("unstored data");
    if (n->attr.nlink == 0) return Status::Busy("unlinked");
    if (not_after && *not_after < n->attr.ctime) return Status::Busy("changed recently");
    return Status::OK();
  }
  auto a = i_->store->GetInode(ino);
  if (!a.ok()) return a.status();
  if (not_after && *not_after < a->ctime) return Status::Busy("changed recently");
  return Status::OK();
}

Status FsArchiveHost::Commit(uint64_t ino, const std::function<Status(const InodeAttr&, Store::Batch*)>& fn) {
  auto nr = i_->table.Get(ino);  // loads it, so a concurrent open waits on its lock
  if (!nr.ok()) return nr.status();
  auto n = *nr;
  Status s;
  {
    std::unique_lock<std::shared_mutex> l(n->mu);
    if (i_->table.IsOpenForWrite(ino)) s = Status::Busy("open for writing");
    else if (!n->dirty.empty() || !n->pending.empty() || n->inflight) s = Status::Busy("unstored data");
    else if (n->attr.nlink == 0) s = Status::Busy("unlinked");
    if (s.ok()) {
      Store::Batch b;
      s = fn(n->attr, &b);
      if (s.ok() && b.Count()) s = i_->store->Write(b, false);
      if (s.ok()) {
        FileData::ForgetFastGroup(n.get());  // a later write must explode the new group
        n->data_gen++;
        // The same bytes, but now in a group: a write that planned its
        // explode before this commit (FileData::Predecoded saw "not
        // archived") must look again, so its ticket is made invalid.
        i_->data.StoredDataChanged(ino);
      }
    }
  }
  i_->table.Evict(ino);  // no-op if the kernel references it
  return s;
}

StoreRefs* FsArchiveHost::refs() { return i_->data.refs(); }

ArchiveHost* Filesystem::archive_host() {
  if (!impl_->archive_host) impl_->archive_host = std::make_unique<FsArchiveHost>(impl_.get());
  return impl_->archive_host.get();
}

Status Filesystem::Shutdown() {
  if (impl_->ro) return Status::OK();  // nothing was written
  Status first;
  for (auto& n : impl_->table.All()) {
    std::unique_lock<std::shared_mutex> l(n->mu);
    if (n->attr.nlink == 0) {
      l.unlock();
      Status s = impl_->Purge(n);
      if (!s.ok() && first.ok()) first = s;
      continue;
    }
    Status s = impl_->data.FlushLocked(n.get(), l, false);
    if (!s.ok()) {
      spdlog::error("inode {}: storing dirty data at unmount failed: {}", n->attr.ino, s.ToString());
      if (first.ok()) first = s;
    }
  }
  Status s = impl_->store->SyncWAL();
  return first.ok() ? s : first;
}

Status Filesystem::Lookup(uint64_t parent, const std::string& name, InodeAttr* out) {
  if (name.size() > format::kMaxNameLen) return Status::NameTooLong();
  auto pr = impl_->Dir(parent);
  if (!pr.ok()) return pr.status();
  uint64_t ino;
  if (name == ".") {
    ino = parent;
  } else if (name == "..") {
    std::shared_lock<std::shared_mutex> l((*pr)->mu);
    ino = (*pr)->attr.parent ? (*pr)->attr.parent : format::kRootIno;
  } else {
    auto e = impl_->store->Lookup(parent, name);
    if (!e.ok()) return e.status();
    ino = e->ino;
  }
  auto nr = impl_->table.GetAndLookup(ino);
  if (!nr.ok()) {
    if (nr.status().IsNotFound())
      return Status::Corruption("dirent " + name + " in " + std::to_string(parent) +
                                " points to missing inode " + std::to_string(ino));
    return nr.status();
  }
  std::shared_lock<std::shared_mutex> l((*nr)->mu);
  if ((*nr)->gone) {  // (a follower's: the writer deleted it; the lookup is not counted)
    l.unlock();
    impl_->OnUnreferenced(impl_->table.DropLookup((*nr)->attr.ino, 1));
    return Status::Stale("inode " + std::to_string(ino) + " was deleted by the writer");
  }
  *out = (*nr)->attr;
  l.unlock();
  impl_->FillStored(nr->get(), out);
  return Status::OK();
}

Status Filesystem::LookupIno(uint64_t ino, InodeAttr* out) {
  auto nr = impl_->table.GetAndLookup(ino);
  if (!nr.ok()) return nr.status();
  std::shared_lock<std::shared_mutex> l((*nr)->mu);
  if ((*nr)->gone) {  // (a follower's: the writer deleted it; the lookup is not counted)
    l.unlock();
    impl_->OnUnreferenced(impl_->table.DropLookup((*nr)->attr.ino, 1));
    return Status::Stale("inode " + std::to_string(ino) + " was deleted by the writer");
  }
  *out = (*nr)->attr;
  l.unlock();
  impl_->FillStored(nr->get(), out);
  return Status::OK();
}

void Filesystem::Forget(uint64_t ino, uint64_t nlookup) {
  if (ino == format::kRootIno) return;
  impl_->OnUnreferenced(impl_->table.DropLookup(ino, nlookup));
}

Status Filesystem::GetAttr(uint64_t ino, InodeAttr* out) {
  auto nr = impl_->table.Get(ino);
  if (!nr.ok()) return nr.status();
  std::shared_lock<std::shared_mutex> l((*nr)->mu);
  if ((*nr)->gone) return Status::Stale("inode " + std::to_string((*nr)->attr.ino) + " was deleted by the writer");
  *out = (*nr)->attr;
  l.unlock();
  impl_->FillStored(nr->get(), out);
  return Status::OK();
}

Status Filesystem::SetAttr(const Caller& c, uint64_t ino, const SetAttrRequest& r, InodeAttr* out) {
  PMKLC_RETURN_IF_ERROR(impl_->Writable());
  auto nr = impl_->table.Get(ino);
  if (!nr.ok()) return nr.status();
  auto n = *nr;
  // A truncate inside an archived group moves that group back to the fast
  // tier: decoded first, without the exclusive lock (see Write).
  FileData::Predecoded pre;
  if ((r.valid & SetAttrRequest::kSize) && r.size > 0) {
    const uint64_t last = (r.size - 1) / impl_->store->block_size();
    {
      std::shared_lock<std::shared_mutex> l(n->mu);
      if (r.size < n->attr.size) impl_->data.PlanExplodeLocked(n.get(), last, last, &pre);
    }
    if (!pre.groups.empty()) impl_->data.PredecodeGroups(ino, &pre);
  }
  std::unique_lock<std::shared_mutex> l(n->mu);
  InodeAttr a = n->attr;
  Time now = Now();
  Store::Batch b;
  if (r.valid & SetAttrRequest::kSize) {
    if (IsDir(a.mode)) return Status::IsDir();
    if (!S_ISREG(a.mode)) return Status::InvalidArgument("truncate of a special file");
    PMKLC_RETURN_IF_ERROR(impl_->data.TruncateLocked(n.get(), r.size, &b, &pre));
    a.size = r.size;
    a.mtime = now;
  }
  if (r.valid & SetAttrRequest::kMode) {
    uint32_t m = r.mode & 07777;
    if (c.uid != 0 && !c.InGroup(a.gid) && c.uid == a.uid && !IsDir(a.mode)) m &= ~S_ISGID;
    a.mode = (a.mode & S_IFMT) | m;
  }
  if (r.valid & SetAttrRequest::kUid) a.uid = r.uid;
  if (r.valid & SetAttrRequest::kGid) a.gid = r.gid;
  if (r.valid & SetAttrRequest::kAtimeNow) a.atime = now;
  else if (r.valid & SetAttrRequest::kAtime) a.atime = r.atime;
  if (r.valid & SetAttrRequest::kMtimeNow) a.mtime = now;
  else if (r.valid & SetAttrRequest::kMtime) a.mtime = r.mtime;
  a.ctime = (r.valid & SetAttrRequest::kCtime) ? r.ctime : now;
  b.PutInode(a);
  PMKLC_RETURN_IF_ERROR(impl_->store->Write(b, false));
  if (r.valid & SetAttrRequest::kSize) impl_->data.StoredDataChanged(ino);
  n->attr = a;
  n->attr_dirty = false;
  *out = a;
  l.unlock();
  impl_->FillStored(n.get(), out);
  return Status::OK();
}

Status Filesystem::Mknod(const Caller& c, uint64_t parent, const std::string& name, uint32_t mode,
                         uint64_t rdev, InodeAttr* out) {
  PMKLC_RETURN_IF_ERROR(impl_->Writable());
  if ((mode & S_IFMT) == 0) mode |= S_IFREG;
  if (S_ISDIR(mode) || S_ISLNK(mode)) return Status::InvalidArgument("mknod of dir or symlink");
  if (!S_ISCHR(mode) && !S_ISBLK(mode)) rdev = 0;
  return impl_->CreateNode(c, parent, name, mode, rdev, {}, out);
}

Status Filesystem::Mkdir(const Caller& c, uint64_t parent, const std::string& name, uint32_t mode,
                         InodeAttr* out) {
  PMKLC_RETURN_IF_ERROR(impl_->Writable());
  return impl_->CreateNode(c, parent, name, S_IFDIR | (mode & 07777), 0, {}, out);
}

Status Filesystem::Symlink(const Caller& c, uint64_t parent, const std::string& name,
                           const std::string& target, InodeAttr* out) {
  PMKLC_RETURN_IF_ERROR(impl_->Writable());
  if (target.size() > format::kMaxSymlinkLen) return Status::NameTooLong();
  if (target.empty()) return Status::NotFound("empty symlink target");
  return impl_->CreateNode(c, parent, name, S_IFLNK | 0777, 0, target, out);
}

Status Filesystem::Link(uint64_t ino, uint64_t newparent, const std::string& newname, InodeAttr* out) {
  PMKLC_RETURN_IF_ERROR(impl_->Writable());
  PMKLC_RETURN_IF_ERROR(CheckName(newname));
  PMKLC_RETURN_IF_ERROR(impl_->store->CheckSpace());
  std::lock_guard<std::mutex> g(impl_->ns_mu);
  auto pr = impl_->Dir(newparent);
  if (!pr.ok()) return pr.status();
  auto nr = impl_->table.Get(ino);
  if (!nr.ok()) return nr.status();
  auto p = *pr, n = *nr;
  if (IsDir(n->attr.mode)) return Status::Permission("hard link to a directory");
  auto e = impl_->store->Lookup(newparent, newname);
  if (e.ok()) return Status::Exists();
  if (!e.status().IsNotFound()) return e.status();
  std::unique_lock<std::shared_mutex> pl(p->mu);
  std::unique_lock<std::shared_mutex> nl(n->mu);
  if (p->attr.nlink == 0) return Status::NotFound("directory was removed");
  if (n->attr.nlink == 0) return Status::NotFound("file was removed");
  if (n->attr.nlink >= format::kMaxLinks) return Status::TooManyLinks();
  Time now = Now();
  InodeAttr na = n->attr, np = p->attr;
  na.nlink++;
  na.ctime = now;
  np.mtime = np.ctime = now;
  Store::Batch b;
  b.PutInode(na);
  b.PutInode(np);
  b.PutDirent(newparent, newname, ino, na.mode & S_IFMT);
  PMKLC_RETURN_IF_ERROR(impl_->store->Write(b, false));
  n->attr = na;
  n->attr_dirty = false;
  p->attr = np;
  impl_->table.AddLookup(n);
  *out = na;
  return Status::OK();
}

Status Filesystem::Unlink(uint64_t parent, const std::string& name) {
  PMKLC_RETURN_IF_ERROR(impl_->Writable());
  return impl_->RemoveEntry(parent, name, false);
}
Status Filesystem::Rmdir(uint64_t parent, const std::string& name) {
  PMKLC_RETURN_IF_ERROR(impl_->Writable());
  if (name == ".") return Status::InvalidArgument();
  if (name == "..") return Status::NotEmpty();
  return impl_->RemoveEntry(parent, name, true);
}

Status Filesystem::Rename(uint64_t parent, const std::string& name, uint64_t newparent,
                          const std::string& newname, unsigned flags) {
  PMKLC_RETURN_IF_ERROR(impl_->Writable());
  if (name.size() > format::kMaxNameLen) return Status::NameTooLong();
  PMKLC_RETURN_IF_ERROR(CheckName(newname));
  if ((flags & kRenameExchange) && (flags & kRenameNoReplace)) return Status::InvalidArgument();
  if (flags & ~(kRenameExchange | kRenameNoReplace)) return Status::InvalidArgument("rename flags");
  auto& I = *impl_;
  std::lock_guard<std::mutex> g(I.ns_mu);
  auto spr = I.Dir(parent);
  if (!spr.ok()) return spr.status();
  auto dpr = I.Dir(newparent);
  if (!dpr.ok()) return dpr.status();
  auto sp = *spr, dp = *dpr;
  auto se = I.store->Lookup(parent, name);
  if (!se.ok()) return se.status();
  auto sr = I.table.Get(se->ino);
  if (!sr.ok()) return sr.status();
  auto src = *sr;
  auto de = I.store->Lookup(newparent, newname);
  if (!de.ok() && !de.status().IsNotFound()) return de.status();
  std::shared_ptr<Node> dst;
  if (de.ok()) {
    if (flags & kRenameNoReplace) return Status::Exists();
    auto dr = I.table.Get(de->ino);
    if (!dr.ok()) return dr.status();
    dst = *dr;
  } else if (flags & kRenameExchange) {
    return Status::NotFound();
  }
  // Lock each distinct node once (all namespace changes hold ns_mu, so order is free).
  std::vector<Node*> nodes{sp.get(), dp.get(), src.get()};
  if (dst) nodes.push_back(dst.get());
  std::sort(nodes.begin(), nodes.end());
  nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());
  std::vector<std::unique_lock<std::shared_mutex>> locks;
  for (Node* n : nodes) locks.emplace_back(n->mu);

  if (dst && dst.get() == src.get()) return Status::OK();  // same inode: no-op
  const bool sdir = IsDir(src->attr.mode);
  if (sdir && newparent != parent) {
    // A directory must not move below itself.
    uint64_t cur = newparent;
    for (int guard = 0; guard < 100000 && cur != format::kRootIno; ++guard) {
      if (cur == src->attr.ino) return Status::InvalidArgument("move into own subdirectory");
      auto cr = I.table.Get(cur);
      if (!cr.ok()) break;
      cur = (*cr)->attr.parent;
      if (cur == 0) break;
    }
  }
  Time now = Now();
  // Work on copies, commit after the batch is written.
  std::map<Node*, InodeAttr> nv;
  for (Node* n : nodes) nv[n] = n->attr;
  InodeAttr& SP = nv[sp.get()];
  SP.mtime = SP.ctime = now;
  InodeAttr& DP = nv[dp.get()];
  DP.mtime = DP.ctime = now;
  Store::Batch b;

  if (flags & kRenameExchange) {
    const bool ddir = IsDir(dst->attr.mode);
    InodeAttr& S = nv[src.get()];
    InodeAttr& D = nv[dst.get()];
    if (ddir && dst->attr.ino == sp->attr.ino) return Status::InvalidArgument();
    if (sdir && src->attr.ino == dp->attr.ino) return Status::InvalidArgument();
    b.PutDirent(parent, name, dst->attr.ino, dst->attr.mode & S_IFMT);
    b.PutDirent(newparent, newname, src->attr.ino, src->attr.mode & S_IFMT);
    if (parent != newparent) {
      if (sdir) { S.parent = newparent; nv[sp.get()].nlink--; nv[dp.get()].nlink++; }
      if (ddir) { D.parent = parent; nv[dp.get()].nlink--; nv[sp.get()].nlink++; }
    }
    S.ctime = now;
    D.ctime = now;
  } else {
    if (dst) {
      const bool ddir = IsDir(dst->attr.mode);
      if (sdir && !ddir) return Status::NotDir();
      if (!sdir && ddir) return Status::IsDir();
      if (ddir) {
        auto empty = I.store->DirEmpty(dst->attr.ino);
        if (!empty.ok()) return empty.status();
        if (!*empty) return Status::NotEmpty();
      }
    }
    if (sdir && !dst && parent != newparent && dp->attr.nlink >= format::kMaxLinks)
      return Status::TooManyLinks();
    InodeAttr& S = nv[src.get()];
    S.ctime = now;
    b.DeleteDirent(parent, name);
    b.PutDirent(newparent, newname, src->attr.ino, src->attr.mode & S_IFMT);
    if (sdir) {
      S.parent = newparent;
      if (parent != newparent) { nv[sp.get()].nlink--; nv[dp.get()].nlink++; }
    }
    if (dst) {
      InodeAttr& D = nv[dst.get()];
      if (IsDir(D.mode)) nv[dp.get()].nlink--;
      I.DropLink(&D, now, &b);
    }
  }
  for (auto& [n, a] : nv) {
    if (dst && n == dst.get() && a.nlink == 0) continue;  // DropLink wrote it
    b.PutInode(a);
  }
  PMKLC_RETURN_IF_ERROR(I.WriteAndReclaim(b));
  for (auto& [n, a] : nv) {
    n->attr = a;
    if (n == src.get()) n->attr_dirty = false;
  }
  if (dst && dst->attr.nlink == 0 && !I.table.IsReferenced(dst->attr.ino)) I.data.DropLocked(dst.get());
  return Status::OK();
}

Status Filesystem::Readlink(uint64_t ino, std::string* target) {
  auto nr = impl_->table.Get(ino);
  if (!nr.ok()) return nr.status();
  std::shared_lock<std::shared_mutex> l((*nr)->mu);
  if (!S_ISLNK((*nr)->attr.mode)) return Status::InvalidArgument("not a symlink");
  *target = (*nr)->attr.symlink;
  return Status::OK();
}

namespace {
bool WriteAccess(int flags) { return (flags & O_ACCMODE) != O_RDONLY; }
}  // namespace

Status Filesystem::Open(uint64_t ino, int flags) {
  if (WriteAccess(flags) || (flags & O_TRUNC)) PMKLC_RETURN_IF_ERROR(impl_->Writable());
  auto nr = impl_->table.GetAndOpen(ino, WriteAccess(flags));
  return nr.ok() ? Status::OK() : nr.status();
}

Status Filesystem::Release(uint64_t ino, int flags) {
  auto nr = impl_->table.Get(ino);
  if (!nr.ok()) return nr.status();
  Status s;
  {
    std::unique_lock<std::shared_mutex> l((*nr)->mu);
    if ((*nr)->attr.nlink > 0) s = impl_->data.FlushLocked(nr->get(), l, false);
  }
  impl_->OnUnreferenced(impl_->table.DropOpen(ino, WriteAccess(flags)));
  return s;
}

Status Filesystem::Flush(uint64_t ino, bool sync) {
  auto nr = impl_->table.Get(ino);
  if (!nr.ok()) return nr.status();
  std::unique_lock<std::shared_mutex> l((*nr)->mu);
  if ((*nr)->attr.nlink == 0) return Status::OK();
  return impl_->data.FlushLocked(nr->get(), l, sync);
}

Result<size_t> Filesystem::Read(uint64_t ino, uint64_t off, size_t size, char* buf) {
  Result<size_t> r = impl_->Read(ino, off, size, buf);
  // A follower's view whose files the writer deleted (compacted away)
  // since its last catch-up: catch up now and read again, once.
  if (impl_->ro && !r.ok() && Store::ViewLost(r.status()) && impl_->store->follower()) {
    auto f = Follow();
    if (f.ok()) r = impl_->Read(ino, off, size, buf);
  }
  return r;
}

Result<size_t> Filesystem::Impl::Read(uint64_t ino, uint64_t off, size_t size, char* buf) {
  auto nr = table.Get(ino);
  if (!nr.ok()) return nr.status();
  auto n = *nr;
  Result<size_t> r = size_t{0};
  // Blocks that need the store are read and decoded without the file's
  // lock (file_data.h ReadPlan), so a cold archived group holds up no one.
  FileData::ReadPlan plan;
  uint64_t fsize = 0;
  {
    std::shared_lock<std::shared_mutex> l(n->mu);
    if (n->gone) return Status::Stale("inode " + std::to_string(ino) + " was deleted by the writer");
    if (IsDir(n->attr.mode)) return Status::IsDir();
    data.PlanReadLocked(n.get(), off, size, &plan);
    fsize = n->attr.size;
  }
  data.StartRead(n, off, fsize, plan);
  if (!plan.missing.empty()) data.FetchForRead(ino, &plan);
  {
    std::shared_lock<std::shared_mutex> l(n->mu);
    // (a follower's: the writer deleted it meanwhile; its view no longer
    // holds its blocks, which would read as holes)
    if (n->gone) return Status::Stale("inode " + std::to_string(ino) + " was deleted by the writer");
    if (IsDir(n->attr.mode)) return Status::IsDir();
    r = data.ReadLocked(n, off, size, buf, &plan);
  }
  if (!r.ok() && r.status().IsCorruption()) LogDamage(ino, r.status());
  if (r.ok() && !opts.noatime && !ro) {
    // relatime: update atime if it is not newer than mtime/ctime or is a day old.
    std::unique_lock<std::shared_mutex> l(n->mu);
    Time now = Now();
    auto& a = n->attr;
    if (a.atime <= a.mtime || a.atime <= a.ctime || now.sec - a.atime.sec > 86400) {
      a.atime = now;
      n->attr_dirty = true;
    }
  }
  return r;
}

Result<size_t> Filesystem::Write(uint64_t ino, uint64_t off, const char* data, size_t size) {
  PMKLC_RETURN_IF_ERROR(impl_->Writable());
  auto nr = impl_->table.Get(ino);
  if (!nr.ok()) return nr.status();
  auto n = *nr;
  PMKLC_RETURN_IF_ERROR(impl_->store->CheckSpace());
  // An archived group the write touches is decoded before the exclusive
  // lock (seconds at max), so readers of the file are not held up by it.
  FileData::Predecoded pre;
  if (size > 0) {
    const uint64_t bs = impl_->store->block_size();
    {
      std::shared_lock<std::shared_mutex> l(n->mu);
      impl_->data.PlanExplodeLocked(n.get(), off / bs, (off + size - 1) / bs, &pre);
    }
    if (!pre.groups.empty()) impl_->data.PredecodeGroups(ino, &pre);
  }
  if (impl_->opts.hooks.before_write_lock) impl_->opts.hooks.before_write_lock(ino);
  std::unique_lock<std::shared_mutex> l(n->mu);
  if (!S_ISREG(n->attr.mode)) return Status::InvalidArgument("write to a non-regular file");
  auto r = impl_->data.WriteLocked(n, off, data, size, &pre);
  if (r.ok()) {
    n->attr.mtime = n->attr.ctime = Now();
    n->attr_dirty = true;
  }
  return r;
}

Status Filesystem::Fallocate(uint64_t ino, int mode, uint64_t off, uint64_t len) {
  PMKLC_RETURN_IF_ERROR(impl_->Writable());
  if (mode != 0) return Status::NotSupported("fallocate mode " + std::to_string(mode));
  auto nr = impl_->table.Get(ino);
  if (!nr.ok()) return nr.status();
  auto n = *nr;
  std::unique_lock<std::shared_mutex> l(n->mu);
  if (!S_ISREG(n->attr.mode)) return Status::NotSupported("fallocate of a non-regular file");
  if (off + len > format::kMaxFileSize || off + len < off) return Status::TooBig();
  if (off + len > n->attr.size) {
    InodeAttr a = n->attr;
    a.size = off + len;
    a.ctime = Now();
    Store::Batch b;
    b.PutInode(a);
    PMKLC_RETURN_IF_ERROR(impl_->store->Write(b, false));
    n->attr = a;
  }
  return Status::OK();
}

Result<uint64_t> Filesystem::SeekDataOrHole(uint64_t ino, uint64_t off, int whence) {
  if (whence != SEEK_DATA && whence != SEEK_HOLE) return Status::InvalidArgument("whence");
  auto nr = impl_->table.Get(ino);
  if (!nr.ok()) return nr.status();
  auto n = *nr;
  const uint64_t bs = impl_->store->block_size();
  // The in-memory blocks (written, not stored yet) and the size; the store's
  // sizes index is read without the lock, then checked against data_gen.
  for (int attempt = 0;; ++attempt) {
    uint64_t size, gen;
    std::set<uint64_t> mem;
    Store::ViewRef view;
    {
      std::shared_lock<std::shared_mutex> l(n->mu);
      if (n->gone) return Status::Stale("inode " + std::to_string(ino) + " was deleted by the writer");
      if (!S_ISREG(n->attr.mode)) return Status::InvalidArgument("not a regular file");
      size = n->attr.size;
      gen = n->data_gen.load();
      view = n->view;
      for (auto& [i, img] : n->dirty) mem.insert(i);
      for (auto& [i, img] : n->pending) mem.insert(i);
    }
    if (off >= size) return Status::NoSuchAddress("offset at or past the end of the file");
    Store::Pin pin(impl_->store, view);  // (a follower's: the view size came from)
    uint64_t idx = off / bs;
    uint64_t found;
    if (whence == SEEK_DATA) {
      auto s = impl_->store->NextStoredBlock(ino, idx);
      if (!s.ok() && !s.status().IsNotFound()) return s.status();
      found = s.ok() ? *s : ~uint64_t{0};
      auto m = mem.lower_bound(idx);
      if (m != mem.end()) found = std::min(found, *m);
    } else {
      for (;;) {
        auto s = impl_->store->NextUnstoredBlock(ino, idx);
        if (!s.ok()) return s.status();
        idx = *s;
        if (!mem.count(idx)) break;
        ++idx;
      }
      found = idx;
    }
    if (n->data_gen.load() != gen && attempt < 3) continue;  // changed meanwhile: look again
    if (whence == SEEK_DATA) {
      if (found == ~uint64_t{0} || found * bs >= size) return Status::NoSuchAddress("no data after the offset");
      return std::max(off, found * bs);
    }
    return std::min(size, std::max(off, found * bs));
  }
}

namespace {
// A follower's node must drop what it cached: the record changed in more
// than its access time.
bool ChangedBeyondAtime(const InodeAttr& a, const InodeAttr& b) {
  return a.mode != b.mode || a.uid != b.uid || a.gid != b.gid || a.nlink != b.nlink || a.size != b.size ||
         a.rdev != b.rdev || a.parent != b.parent || !(a.mtime == b.mtime) || !(a.ctime == b.ctime) ||
         a.symlink != b.symlink;
}
}  // namespace

Result<bool> Filesystem::Follow() {
  Impl* m = impl_.get();
  if (!m->store->follower()) return Status::NotSupported("not a follower (ro_follow) mount");
  std::lock_guard<std::mutex> one(m->follow_mu);
  const auto t0 = std::chrono::steady_clock::now();
  auto c = m->store->CatchUp();
  if (!c.ok()) return c.status();
  if (!*c) return false;
  const auto t1 = std::chrono::steady_clock::now();
  const Store::ViewRef v = m->store->CurrentView();
  Store::Pin pin(m->store, v);
  Status first;
  std::vector<uint64_t> changed;
  const std::vector<std::shared_ptr<Node>> loaded = m->table.All();
  for (const std::shared_ptr<Node>& n : loaded) {
    const uint64_t ino = n->attr.ino;  // (never changes)
    auto a = m->store->GetInode(ino);  // (before the lock: readers of the file go on)
    if (!a.ok() && !a.status().IsNotFound()) {
      if (first.ok()) first = a.status();  // it stays on its old view; the next catch-up tries again
      continue;
    }
    std::unique_lock<std::shared_mutex> l(n->mu);
    if (n->view == v) continue;  // loaded from this view already
    bool drop = false;
    if (!a.ok()) {
      drop = !n->gone;
      n->gone = true;
    } else if (ChangedBeyondAtime(n->attr, *a)) {
      n->attr = *a;
      drop = true;
    } else {
      n->attr.atime = a->atime;
    }
    n->view = v;
    if (drop) {
      // What was cached or planned from the old view goes (tickets taken
      // before this are refused; prefetches with the old data_gen stop).
      n->data_gen++;
      m->data.StoredDataReplaced(ino);
      FileData::ForgetFastGroup(n.get());
      n->archived_seen = false;
      n->prefetch_next = 0;
      n->group_prefetch_next = 0;
      n->stored_bytes = InodeAttr::kUnknown;
      changed.push_back(ino);
    }
  }
  spdlog::debug("ro_follow: caught up (catch-up {}): opened in {:.1f} ms, {} loaded inode(s) moved over in {:.1f} ms, "
                "{} changed", m->store->catch_ups(), std::chrono::duration<double, std::milli>(t1 - t0).count(),
                loaded.size(),
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t1).count(),
                changed.size());
  if (!changed.empty()) {
    std::lock_guard<std::mutex> g(m->changed_mu);
    m->follow_changed.insert(m->follow_changed.end(), changed.begin(), changed.end());
  }
  if (!first.ok()) return first;
  return true;
}

std::vector<uint64_t> Filesystem::TakeFollowChanges() {
  std::lock_guard<std::mutex> g(impl_->changed_mu);
  std::vector<uint64_t> v;
  v.swap(impl_->follow_changed);
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

Status Filesystem::ReadDir(uint64_t ino, std::vector<DirEntry>* out) {
  auto pr = impl_->Dir(ino);
  if (!pr.ok()) return pr.status();
  uint64_t parent;
  {
    std::shared_lock<std::shared_mutex> l((*pr)->mu);
    parent = (*pr)->attr.parent ? (*pr)->attr.parent : format::kRootIno;
  }
  std::vector<DirEntry> v;
  PMKLC_RETURN_IF_ERROR(impl_->store->ListDir(ino, &v));
  out->clear();
  out->reserve(v.size() + 2);
  out->push_back({".", ino, S_IFDIR});
  out->push_back({"..", parent, S_IFDIR});
  for (auto& e : v) out->push_back(std::move(e));
  return Status::OK();
}

Status Filesystem::FsyncDir(uint64_t) { return impl_->store->SyncWAL(); }

Status Filesystem::StatFs(struct statvfs* out) {
  if (statvfs(impl_->store->path().c_str(), out) != 0)
    return Status::IOError("statvfs of the store failed");
  out->f_namemax = format::kMaxNameLen;
  // Report what files can use: the reserve kept for RocksDB is not available.
  uint64_t usable = impl_->store->UsableFreeBytes() / (out->f_frsize ? out->f_frsize : 1);
  out->f_bavail = std::min<uint64_t>(out->f_bavail, usable);
  out->f_bfree = std::min<uint64_t>(out->f_bfree, usable);
  return Status::OK();
}

namespace {
Status CheckXattrName(const std::string& name) {
  if (name.empty()) return Status::InvalidArgument("empty xattr name");
  if (name.size() > format::kMaxXattrName) return Status::Range("xattr name too long");
  // POSIX ACLs are not implemented; refuse them rather than store them unenforced.
  if (name.rfind("system.", 0) == 0) return Status::NotSupported("system.* xattrs");
  if (name.rfind("user.", 0) && name.rfind("trusted.", 0) && name.rfind("security.", 0))
    return Status::NotSupported("unknown xattr namespace");
  return Status::OK();
}
}  // namespace

Status Filesystem::SetXattr(uint64_t ino, const std::string& name, const std::string& value, int flags) {
  PMKLC_RETURN_IF_ERROR(impl_->Writable());
  PMKLC_RETURN_IF_ERROR(CheckXattrName(name));
  if (value.size() > format::kMaxXattrValue) return Status::TooBig("xattr value too large");
  PMKLC_RETURN_IF_ERROR(impl_->store->CheckSpace());
  auto nr = impl_->table.Get(ino);
  if (!nr.ok()) return nr.status();
  auto n = *nr;
  std::unique_lock<std::shared_mutex> l(n->mu);
  std::string old;
  Status g = impl_->store->GetXattr(ino, name, &old);
  if (g.ok() && (flags & XATTR_CREATE)) return Status::Exists();
  if (g.code() == Status::Code::kNoData && (flags & XATTR_REPLACE)) return Status::NoData();
  if (!g.ok() && g.code() != Status::Code::kNoData) return g;
  InodeAttr a = n->attr;
  a.ctime = Now();
  Store::Batch b;
  b.PutXattr(ino, name, value);
  b.PutInode(a);
  PMKLC_RETURN_IF_ERROR(impl_->store->Write(b, false));
  n->attr = a;
  n->attr_dirty = false;
  return Status::OK();
}

Status Filesystem::GetXattr(uint64_t ino, const std::string& name, std::string* value) {
  if (name.size() > format::kMaxXattrName) return Status::Range("xattr name too long");
  auto nr = impl_->table.Get(ino);
  if (!nr.ok()) return nr.status();
  return impl_->store->GetXattr(ino, name, value);
}

Status Filesystem::ListXattr(uint64_t ino, std::vector<std::string>* names) {
  auto nr = impl_->table.Get(ino);
  if (!nr.ok()) return nr.status();
  return impl_->store->ListXattrs(ino, names);
}

Status Filesystem::RemoveXattr(uint64_t ino, const std::string& name) {
  PMKLC_RETURN_IF_ERROR(impl_->Writable());
  if (name.size() > format::kMaxXattrName) return Status::Range("xattr name too long");
  auto nr = impl_->table.Get(ino);
  if (!nr.ok()) return nr.status();
  auto n = *nr;
  std::unique_lock<std::shared_mutex> l(n->mu);
  std::string old;
  PMKLC_RETURN_IF_ERROR(impl_->store->GetXattr(ino, name, &old));
  InodeAttr a = n->attr;
  a.ctime = Now();
  Store::Batch b;
  b.DeleteXattr(ino, name);
  b.PutInode(a);
  PMKLC_RETURN_IF_ERROR(impl_->store->Write(b, false));
  n->attr = a;
  n->attr_dirty = false;
  return Status::OK();
}

}  // namespace pmklc
