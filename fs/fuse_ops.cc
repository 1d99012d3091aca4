// libfuse low-level handlers. Each handler gathers arguments, calls one
// Filesystem method (the do_x layer) and is the only place that replies.
// No exception crosses into libfuse: every handler is noexcept and catches.
#include "fs/fuse_ops.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "fs/errno_map.h"
#include "fs/filesystem.h"

namespace pmklc {

namespace {

FuseContext* Ctx(fuse_req_t req) { return static_cast<FuseContext*>(fuse_req_userdata(req)); }
Filesystem* FS(fuse_req_t req) { return Ctx(req)->fs; }

Caller GetCaller(fuse_req_t req, bool with_groups) {
  const fuse_ctx* c = fuse_req_ctx(req);
  Caller k;
  k.uid = c->uid;
  k.gid = c->gid;
  if (with_groups) {
    gid_t g[64];
    int n = fuse_req_getgroups(req, 64, g);
    for (int i = 0; i < n && i < 64; ++i) k.groups.push_back(g[i]);
  }
  return k;
}

void ToStat(const InodeAttr& a, uint32_t bs, struct stat* st) {
  std::memset(st, 0, sizeof(*st));
  st->st_ino = a.ino;
  st->st_mode = a.mode;
  st->st_nlink = a.nlink;
  st->st_uid = a.uid;
  st->st_gid = a.gid;
  st->st_size = static_cast<off_t>(a.size);
  st->st_rdev = a.rdev;
  st->st_blksize = bs;
  // What the file costs in the store, in 512-byte units (du), as ZFS does
  // with compression; `du --apparent-size` shows the logical size.
  const uint64_t cost = a.stored_bytes != InodeAttr::kUnknown ? a.stored_bytes : a.size;
  st->st_blocks = static_cast<blkcnt_t>((cost + 511) / 512);
  st->st_atim.tv_sec = a.atime.sec;
  st->st_atim.tv_nsec = a.atime.nsec;
  st->st_mtim.tv_sec = a.mtime.sec;
  st->st_mtim.tv_nsec = a.mtime.nsec;
  st->st_ctim.tv_sec = a.ctime.sec;
  st->st_ctim.tv_nsec = a.ctime.nsec;
}

void ReplyErr(fuse_req_t req, const Status& s) {
  int e = StatusToErrno(s);
  if (e == EIO) spdlog::error("I/O error returned to the kernel: {}", s.ToString());
  fuse_reply_err(req, e);
}

void ReplyEntry(fuse_req_t req, const InodeAttr& a) {
  fuse_entry_param e;
  std::memset(&e, 0, sizeof(e));
  e.ino = a.ino;
  e.generation = 1;
  ToStat(a, FS(req)->block_size(), &e.attr);
  e.attr_timeout = Ctx(req)->attr_timeout;
  e.entry_timeout = Ctx(req)->entry_timeout;
  if (fuse_reply_entry(req, &e) == -ENOENT) FS(req)->Forget(a.ino, 1);  // interrupted
}

void ReplyAttr(fuse_req_t req, const InodeAttr& a) {
  struct stat st;
  ToStat(a, FS(req)->block_size(), &st);
  fuse_reply_attr(req, &st, Ctx(req)->attr_timeout);
}

Time ToTime(const timespec& t) {
  return Time{static_cast<int64_t>(t.tv_sec), static_cast<uint32_t>(t.tv_nsec)};
}

// Runs a handler body; any exception becomes EIO.
template <typename F>
void Guard(fuse_req_t req, const char* op, F&& f) noexcept {
  try {
    f();
  } catch (const std::bad_alloc&) {
    spdlog::error("{}: out of memory", op);
    fuse_reply_err(req, ENOMEM);
  } catch (const std::exception& e) {
    spdlog::error("{}: unexpected exception: {}", op, e.what());
    fuse_reply_err(req, EIO);
  } catch (...) {
    spdlog::error("{}: unknown exception", op);
    fuse_reply_err(req, EIO);
  }
}

// ---- handlers ----

void op_init(void* userdata, struct fuse_conn_info* conn) {
  auto* ctx = static_cast<FuseContext*>(userdata);
  conn->max_write = ctx->max_write;
  conn->max_readahead = 1u << 20;
  conn->time_gran = 1;
  conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
  conn->want &= ~FUSE_CAP_HANDLE_KILLPRIV;
  // O_TRUNC then arrives as SETATTR(size=0), which updates size, mtime and
  // ctime and clears setuid/setgid like any truncate.
  conn->want &= ~FUSE_CAP_ATOMIC_O_TRUNC;
  if (conn->capable & FUSE_CAP_PARALLEL_DIROPS) conn->want |= FUSE_CAP_PARALLEL_DIROPS;
  if (conn->capable & FUSE_CAP_READDIRPLUS) conn->want |= FUSE_CAP_READDIRPLUS;
  if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA) conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
}

void op_destroy(void* userdata) {
  auto* ctx = static_cast<FuseContext*>(userdata);
  try {
    Status s = ctx->fs->Shutdown();
    if (!s.ok()) spdlog::error("unmount: {}", s.ToString());
  } catch (...) {
    spdlog::error("unmount: unexpected exception");
  }
}

void op_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Guard(req, "lookup", [&] {
    InodeAttr a;
    Status s = FS(req)->Lookup(parent, name, &a);
    if (s.IsNotFound()) {
      // A negative entry with entry_timeout 0: the kernel does not cache
      // the absence (a name created by another path appears at once).
      fuse_entry_param e;
      std::memset(&e, 0, sizeof(e));
      e.entry_timeout = 0;
      fuse_reply_entry(req, &e);
      return;
    }
    if (!s.ok()) return ReplyErr(req, s);
    ReplyEntry(req, a);
  });
}

void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  Guard(req, "forget", [&] {
    FS(req)->Forget(ino, nlookup);
    fuse_reply_none(req);
  });
}

void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data* forgets) {
  Guard(req, "forget_multi", [&] {
    for (size_t i = 0; i < count; ++i) FS(req)->Forget(forgets[i].ino, forgets[i].nlookup);
    fuse_reply_none(req);
  });
}

void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info*) {
  Guard(req, "getattr", [&] {
    InodeAttr a;
    Status s = FS(req)->GetAttr(ino, &a);
    if (!s.ok()) return ReplyErr(req, s);
    ReplyAttr(req, a);
  });
}

void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set,
                struct fuse_file_info*) {
  Guard(req, "setattr", [&] {
    SetAttrRequest r;
    if (to_set & FUSE_SET_ATTR_MODE) { r.valid |= SetAttrRequest::kMode; r.mode = attr->st_mode; }
    if (to_set & FUSE_SET_ATTR_UID) { r.valid |= SetAttrRequest::kUid; r.uid = attr->st_uid; }
    if (to_set & FUSE_SET_ATTR_GID) { r.valid |= SetAttrRequest::kGid; r.gid = attr->st_gid; }
    if (to_set & FUSE_SET_ATTR_SIZE) { r.valid |= SetAttrRequest::kSize; r.size = attr->st_size; }
    if (to_set & FUSE_SET_ATTR_ATIME_NOW) r.valid |= SetAttrRequest::kAtimeNow;
    else if (to_set & FUSE_SET_ATTR_ATIME) { r.valid |= SetAttrRequest::kAtime; r.atime = ToTime(attr->st_atim); }
    if (to_set & FUSE_SET_ATTR_MTIME_NOW) r.valid |= SetAttrRequest::kMtimeNow;
    else if (to_set & FUSE_SET_ATTR_MTIME) { r.valid |= SetAttrRequest::kMtime; r.mtime = ToTime(attr->st_mtim); }
    if (to_set & FUSE_SET_ATTR_CTIME) { r.valid |= SetAttrRequest::kCtime; r.ctime = ToTime(attr->st_ctim); }
    if ((to_set & FUSE_SET_ATTR_SIZE) && attr->st_size < 0) return (void)fuse_reply_err(req, EINVAL);
    InodeAttr a;
    Status s = FS(req)->SetAttr(GetCaller(req, (to_set & FUSE_SET_ATTR_MODE) != 0), ino, r, &a);
    if (!s.ok()) return ReplyErr(req, s);
    ReplyAttr(req, a);
  });
}

void op_readlink(fuse_req_t req, fuse_ino_t ino) {
  Guard(req, "readlink", [&] {
    std::string t;
    Status s = FS(req)->Readlink(ino, &t);
    if (!s.ok()) return ReplyErr(req, s);
    fuse_reply_readlink(req, t.c_str());
  });
}

void op_mknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev) {
  Guard(req, "mknod", [&] {
    InodeAttr a;
    Status s = FS(req)->Mknod(GetCaller(req, true), parent, name, mode, rdev, &a);
    if (!s.ok()) return ReplyErr(req, s);
    ReplyEntry(req, a);
  });
}

void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  Guard(req, "mkdir", [&] {
    InodeAttr a;
    Status s = FS(req)->Mkdir(GetCaller(req, false), parent, name, mode, &a);
    if (!s.ok()) return ReplyErr(req, s);
    ReplyEntry(req, a);
  });
}

void op_unlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Guard(req, "unlink", [&] { fuse_reply_err(req, StatusToErrno(FS(req)->Unlink(parent, name))); });
}

void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Guard(req, "rmdir", [&] { fuse_reply_err(req, StatusToErrno(FS(req)->Rmdir(parent, name))); });
}

void op_symlink(fuse_req_t req, const char* link, fuse_ino_t parent, const char* name) {
  Guard(req, "symlink", [&] {
    InodeAttr a;
    Status s = FS(req)->Symlink(GetCaller(req, false), parent, name, link, &a);
    if (!s.ok()) return ReplyErr(req, s);
    ReplyEntry(req, a);
  });
}

void op_rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent,
               const char* newname, unsigned int flags) {
  Guard(req, "rename", [&] {
    fuse_reply_err(req, StatusToErrno(FS(req)->Rename(parent, name, newparent, newname, flags)));
  });
}

void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char* newname) {
  Guard(req, "link", [&] {
    InodeAttr a;
    Status s = FS(req)->Link(ino, newparent, newname, &a);
    if (!s.ok()) return ReplyErr(req, s);
    ReplyEntry(req, a);
  });
}

void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) {
  Guard(req, "open", [&] {
    Status s = FS(req)->Open(ino, fi->flags);
    if (!s.ok()) return ReplyErr(req, s);
    fi->fh = static_cast<uint64_t>(fi->flags);
    fi->keep_cache = Ctx(req)->keep_cache ? 1 : 0;
    if (fuse_reply_open(req, fi) == -ENOENT) (void)FS(req)->Release(ino, fi->flags);
  });
}

void op_create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
               struct fuse_file_info* fi) {
  Guard(req, "create", [&] {
    InodeAttr a;
    Status s = FS(req)->Mknod(GetCaller(req, true), parent, name, (mode & 07777) | S_IFREG, 0, &a);
    if (!s.ok()) return ReplyErr(req, s);
    s = FS(req)->Open(a.ino, fi->flags);
    if (!s.ok()) return ReplyErr(req, s);
    fi->fh = static_cast<uint64_t>(fi->flags);
    fi->keep_cache = Ctx(req)->keep_cache ? 1 : 0;
    fuse_entry_param e;
    std::memset(&e, 0, sizeof(e));
    e.ino = a.ino;
    e.generation = 1;
    ToStat(a, FS(req)->block_size(), &e.attr);
    e.attr_timeout = Ctx(req)->attr_timeout;
    e.entry_timeout = Ctx(req)->entry_timeout;
    if (fuse_reply_create(req, &e, fi) == -ENOENT) {
      (void)FS(req)->Release(a.ino, fi->flags);
      FS(req)->Forget(a.ino, 1);
    }
  });
}

void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info*) {
  Guard(req, "read", [&] {
    thread_local std::vector<char> buf;
    if (buf.size() < size) buf.resize(size);
    auto r = FS(req)->Read(ino, static_cast<uint64_t>(off), size, buf.data());
    if (!r.ok()) return ReplyErr(req, r.status());
    fuse_reply_buf(req, buf.data(), *r);
  });
}

void op_write(fuse_req_t req, fuse_ino_t ino, const char* data, size_t size, off_t off,
              struct fuse_file_info*) {
  Guard(req, "write", [&] {
    // O_APPEND: the kernel already placed the write at the end of the file;
    // page writeback of a shared mapping may also come through an O_APPEND
    // handle, so the offset is always used as given.
    auto r = FS(req)->Write(ino, static_cast<uint64_t>(off), data, size);
    if (!r.ok()) return ReplyErr(req, r.status());
    fuse_reply_write(req, *r);
  });
}

void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info*) {
  Guard(req, "flush", [&] { fuse_reply_err(req, StatusToErrno(FS(req)->Flush(ino, false))); });
}

void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) {
  Guard(req, "release", [&] {
    fuse_reply_err(req, StatusToErrno(FS(req)->Release(ino, static_cast<int>(fi->fh))));
  });
}

void op_fsync(fuse_req_t req, fuse_ino_t ino, int, struct fuse_file_info*) {
  Guard(req, "fsync", [&] { fuse_reply_err(req, StatusToErrno(FS(req)->Flush(ino, true))); });
}

struct DirHandle {
  std::vector<DirEntry> entries;
};

void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) {
  Guard(req, "opendir", [&] {
    auto h = std::make_unique<DirHandle>();
    Status s = FS(req)->ReadDir(ino, &h->entries);
    if (!s.ok()) return ReplyErr(req, s);
    fi->fh = reinterpret_cast<uint64_t>(h.get());
    if (fuse_reply_open(req, fi) == 0) h.release();
  });
}

void DoReadDir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info* fi,
               bool plus) {
  auto* h = reinterpret_cast<DirHandle*>(fi->fh);
  if (off == 0) {
    // rewinddir: take a fresh snapshot.
    std::vector<DirEntry> fresh;
    Status s = FS(req)->ReadDir(ino, &fresh);
    if (!s.ok()) return ReplyErr(req, s);
    h->entries.swap(fresh);
  }
  std::vector<char> buf(size);
  size_t used = 0;
  for (size_t i = static_cast<size_t>(off); i < h->entries.size(); ++i) {
    const DirEntry& e = h->entries[i];
    size_t n;
    if (plus) {
      fuse_entry_param ep;
      std::memset(&ep, 0, sizeof(ep));
      bool dot = (e.name == "." || e.name == "..");
      InodeAttr a;
      if (dot) {
        Status s = FS(req)->GetAttr(e.ino, &a);
        if (!s.ok()) { a = InodeAttr(); a.ino = e.ino; a.mode = S_IFDIR; }
      } else {
        Status s = FS(req)->LookupIno(e.ino, &a);
        if (!s.ok()) continue;  // removed since the snapshot
      }
      ep.ino = a.ino;
      ep.generation = 1;
      ToStat(a, FS(req)->block_size(), &ep.attr);
      ep.attr_timeout = Ctx(req)->attr_timeout;
      ep.entry_timeout = Ctx(req)->entry_timeout;
      n = fuse_add_direntry_plus(req, buf.data() + used, size - used, e.name.c_str(), &ep,
                                 static_cast<off_t>(i + 1));
      if (n > size - used) {
        if (!dot) FS(req)->Forget(a.ino, 1);
        break;
      }
    } else {
      struct stat st;
      std::memset(&st, 0, sizeof(st));
      st.st_ino = e.ino;
      st.st_mode = e.type;
      n = fuse_add_direntry(req, buf.data() + used, size - used, e.name.c_str(), &st,
                            static_cast<off_t>(i + 1));
      if (n > size - used) break;
    }
    used += n;
  }
  fuse_reply_buf(req, buf.data(), used);
}

void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info* fi) {
  Guard(req, "readdir", [&] { DoReadDir(req, ino, size, off, fi, false); });
}

void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info* fi) {
  Guard(req, "readdirplus", [&] { DoReadDir(req, ino, size, off, fi, true); });
}

void op_releasedir(fuse_req_t req, fuse_ino_t, struct fuse_file_info* fi) {
  Guard(req, "releasedir", [&] {
    delete reinterpret_cast<DirHandle*>(fi->fh);
    fuse_reply_err(req, 0);
  });
}

void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int, struct fuse_file_info*) {
  Guard(req, "fsyncdir", [&] { fuse_reply_err(req, StatusToErrno(FS(req)->FsyncDir(ino))); });
}

void op_statfs(fuse_req_t req, fuse_ino_t) {
  Guard(req, "statfs", [&] {
    struct statvfs st;
    Status s = FS(req)->StatFs(&st);
    if (!s.ok()) return ReplyErr(req, s);
    fuse_reply_statfs(req, &st);
  });
}

void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* value, size_t size,
                 int flags) {
  Guard(req, "setxattr", [&] {
    fuse_reply_err(req, StatusToErrno(FS(req)->SetXattr(ino, name, std::string(value, size), flags)));
  });
}

void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  Guard(req, "getxattr", [&] {
    std::string v;
    Status s = FS(req)->GetXattr(ino, name, &v);
    if (!s.ok()) return ReplyErr(req, s);
    if (size == 0) return (void)fuse_reply_xattr(req, v.size());
    if (v.size() > size) return (void)fuse_reply_err(req, ERANGE);
    fuse_reply_buf(req, v.data(), v.size());
  });
}

void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  Guard(req, "listxattr", [&] {
    std::vector<std::string> names;
    Status s = FS(req)->ListXattr(ino, &names);
    if (!s.ok()) return ReplyErr(req, s);
    std::string out;
    for (auto& n : names) { out += n; out.push_back('\0'); }
    if (size == 0) return (void)fuse_reply_xattr(req, out.size());
    if (out.size() > size) return (void)fuse_reply_err(req, ERANGE);
    fuse_reply_buf(req, out.data(), out.size());
  });
}

void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char* name) {
  Guard(req, "removexattr", [&] { fuse_reply_err(req, StatusToErrno(FS(req)->RemoveXattr(ino, name))); });
}

void op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info*) {
  Guard(req, "lseek", [&] {
    if (off < 0) return (void)fuse_reply_err(req, ENXIO);
    auto r = FS(req)->SeekDataOrHole(ino, static_cast<uint64_t>(off), whence);
    if (!r.ok()) return ReplyErr(req, r.status());
    fuse_reply_lseek(req, static_cast<off_t>(*r));
  });
}

void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
                  struct fuse_file_info*) {
  Guard(req, "fallocate", [&] {
    if (off < 0 || len <= 0) return (void)fuse_reply_err(req, EINVAL);
    fuse_reply_err(req, StatusToErrno(FS(req)->Fallocate(ino, mode, off, len)));
  });
}

struct fuse_lowlevel_ops MakeOps() {
  struct fuse_lowlevel_ops o;
  std::memset(&o, 0, sizeof(o));
  o.init = op_init;
  o.destroy = op_destroy;
  o.lookup = op_lookup;
  o.forget = op_forget;
  o.forget_multi = op_forget_multi;
  o.getattr = op_getattr;
  o.setattr = op_setattr;
  o.readlink = op_readlink;
  o.mknod = op_mknod;
  o.mkdir = op_mkdir;
  o.unlink = op_unlink;
  o.rmdir = op_rmdir;
  o.symlink = op_symlink;
  o.rename = op_rename;
  o.link = op_link;
  o.open = op_open;
  o.create = op_create;
  o.read = op_read;
  o.write = op_write;
  o.flush = op_flush;
  o.release = op_release;
  o.fsync = op_fsync;
  o.opendir = op_opendir;
  o.readdir = op_readdir;
  o.readdirplus = op_readdirplus;
  o.releasedir = op_releasedir;
  o.fsyncdir = op_fsyncdir;
  o.statfs = op_statfs;
  o.setxattr = op_setxattr;
  o.getxattr = op_getxattr;
  o.listxattr = op_listxattr;
  o.removexattr = op_removexattr;
  o.fallocate = op_fallocate;
  o.lseek = op_lseek;
  return o;
}

}  // namespace

const struct fuse_lowlevel_ops* FuseOps() {
  static const struct fuse_lowlevel_ops ops = MakeOps();
  return &ops;
}

}  // namespace pmklc
