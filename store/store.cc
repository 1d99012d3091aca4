// RocksDB-backed implementation of store.h. Layouts: docs/store.md.
#include "store/store.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/slice.h>
#include <rocksdb/table.h>
#include <rocksdb/cache.h>
#include <rocksdb/sst_file_writer.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sys/statvfs.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>
#include <filesystem>
#include <fstream>
#include <map>

#include "engine/common/guarded.h"
#include "engine/codec/endian.h"
#include "engine/format.h"
#include "store/codec_inode.h"

namespace pmklc {

namespace {

constexpr const char* kCfNames[] = {"meta", "inodes", "dirents", "blocks", "xattrs", "models", "cold", "refs", "sizes",
                                    "recall"};
enum Cf { kMeta = 0, kInodes, kDirents, kBlocks, kXattrs, kModels, kCold, kRefs, kSizes, kRecall, kNumCf };
// Reclaim queue entries: (kind, id).
enum ReclaimKind : uint8_t {
  kReclaimFile = 0,    // id = ino: its fast-tier blocks and archived groups
  kReclaimAll = 1,     // every inode's fast-tier blocks
  kReclaimObject = 2,  // id = reference object: its segments
};
// Column families a store of format version 1 has (it lacks "cold").
constexpr int kNumCfV1 = kCold;

std::string Key64(uint64_t v) {
  std::string k(8, '\0');
  StoreBE64(k.data(), v);
  return k;
}
// refs CF keys (docs/store.md §References): one tag byte, then big-endian ids.
std::string RefKey(char tag, uint64_t a) {
  std::string k(9, tag);
  StoreBE64(k.data() + 1, a);
  return k;
}
// recall CF keys (docs/store.md §Recall): 'e' + BlockKey(ino, block) an
// entry, 'v' + BlockKey(ino, group) the checksum of the group's decoded
// bytes, kept with every PutGroup.
std::string RecallKey(char tag, uint64_t ino, uint64_t i) {
  std::string k(17, tag);
  StoreBE64(k.data() + 1, ino);
  StoreBE64(k.data() + 9, i);
  return k;
}
std::string SegKey(uint64_t object, uint32_t seg) {
  std::string k = RefKey('s', object);
  k.resize(13);
  StoreBE32(k.data() + 9, seg);
  return k;
}
// sizes CF (docs/store.md §Sizes): the stored size, raw size and codec of
// every block, group and reference segment, under its own key with a tag
// ('b' block, 'g' group, 's' segment), so that du and stat read this small
// index instead of the values.
constexpr size_t kSizeRecord = 9;  // u32 stored length, u32 raw length, u8 codec (LE)
std::string SizeKey(char tag, std::string_view key) {
  std::string k(1, tag);
  k.append(key);
  return k;
}
std::string SizeRecord(std::string_view value) {
  std::string r(kSizeRecord, '\0');
  StoreLE32(r.data(), static_cast<uint32_t>(value.size()));
  if (value.size() >= format::kBlockHeaderSize) {
    StoreLE32(r.data() + 4, LoadLE32(value.data() + 4));
    r[8] = value[1];
  } else {
    r[8] = static_cast<char>(0xff);  // not a block value: unknown codec
  }
  return r;
}
// The sizes tag that mirrors a key of cf, or 0 when it has none.
char SizeTag(int cf, std::string_view key) {
  if (cf == kBlocks) return 'b';
  if (cf == kCold) return 'g';
  if (cf == kRefs && !key.empty() && key[0] == 's') return 's';
  if (cf == kRecall && !key.empty() && key[0] == 'e') return 'r';
  return 0;
}

// Hold keys: 'h', holder kind (0 file, 1 object), holder, object.
std::string HoldKey(uint8_t kind, uint64_t holder, uint64_t object) {
  std::string k(18, 'h');
  k[1] = static_cast<char>(kind);
  StoreBE64(k.data() + 2, holder);
  StoreBE64(k.data() + 10, object);
  return k;
}
std::string HoldPrefix(uint8_t kind, uint64_t holder) {
  std::string k(10, 'h');
  k[1] = static_cast<char>(kind);
  StoreBE64(k.data() + 2, holder);
  return k;
}

std::string KeyName(uint64_t v, std::string_view name) {
  std::string k = Key64(v);
  k.append(name);
  return k;
}

Status FromRocks(const rocksdb::Status& s) {
  if (s.ok()) return Status::OK();
  if (s.IsNotFound()) return Status::NotFound(s.ToString());
  if (s.IsCorruption()) return Status::Corruption("rocksdb: " + s.ToString());
  if (s.IsNoSpace() || s.subcode() == rocksdb::Status::kNoSpace)
    return Status::NoSpace("rocksdb: " + s.ToString());
  if (s.IsIOError() && s.ToString().find("No space") != std::string::npos)
    return Status::NoSpace("rocksdb: " + s.ToString());
  return Status::IOError("rocksdb: " + s.ToString());
}

// RocksDB's info log of a follower: nothing (the store's folder and its LOG
// are the writer's; the follower's errors come back as statuses).
class NullLogger : public rocksdb::Logger {
 public:
  using rocksdb::Logger::Logv;
  void Logv(const char*, va_list) override {}
};

// The files a follower's open depends on: the MANIFEST (its name and
// size) and the WAL files (names and sizes). Each is opened to be measured
// (on NFS an open revalidates cached attributes).
struct StoreFiles {
  std::string manifest;
  int64_t manifest_size = -1;
  std::map<std::string, int64_t> wals;
  static int64_t SizeOf(const std::string& p) {
    const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    struct stat st;
    const int64_t n = fstat(fd, &st) == 0 ? st.st_size : -1;
    ::close(fd);
    return n;
  }
  static StoreFiles Of(const std::string& path) {
    StoreFiles f;
    std::ifstream cur(path + "/CURRENT");
    std::getline(cur, f.manifest);
    if (!f.manifest.empty()) f.manifest_size = SizeOf(path + "/" + f.manifest);
    std::error_code ec;
    for (auto& e : std::filesystem::directory_iterator(path, ec)) {
      const std::string n = e.path().filename().string();
      if (n.ends_with(".log")) f.wals[n] = SizeOf(path + "/" + n);
    }
    return f;
  }
  // Whether the writer changed anything since.
  bool operator==(const StoreFiles& o) const {
    return manifest == o.manifest && manifest_size == o.manifest_size && wals == o.wals;
  }
  // Whether an open that ran between this listing and `after` saw one
  // state of the store: the MANIFEST did not change (no flush or
  // compaction was recorded) and no WAL file went (a WAL deleted after the
  // open read an older MANIFEST would take its writes from the view).
  // WALs that grew or appeared only add writes the open may have missed.
  bool OpenedStableTo(const StoreFiles& after) const {
    if (manifest.empty() || manifest != after.manifest || manifest_size != after.manifest_size) return false;
    for (auto& [n, size] : wals)
      if (!after.wals.count(n)) return false;
    return true;
  }
};

Time NowTime() {
  int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                   std::chrono::system_clock::now().time_since_epoch()).count();
  return Time{ns / 1000000000, static_cast<uint32_t>(ns % 1000000000)};
}

// Logical blocks per archived group: format::kGroupBytes worth, at least 1.
uint32_t GroupBlocksFor(uint32_t block_size, uint32_t group_bytes = 0) {
  if (group_bytes == 0) group_bytes = format::kGroupBytes;
  return block_size >= group_bytes ? 1 : group_bytes / block_size;
}

}  // namespace

std::string BlockKey(uint64_t ino, uint64_t idx) {
  std::string k(16, '\0');
  StoreBE64(k.data(), ino);
  StoreBE64(k.data() + 8, idx);
  return k;
}

// One open RocksDB instance and its column family handles. A store has one
// for its lifetime, except a follower, which opens a new one at each
// catch-up; readers hold the one they use (shared_ptr) until they are done.
struct Store::View {
  View(rocksdb::DB* d, std::vector<rocksdb::ColumnFamilyHandle*> h) : db(d), cf(std::move(h)) {}
  ~View() {
    if (db) {
      for (auto* h : cf) db->DestroyColumnFamilyHandle(h);
      (void)db->Close();
    }
  }
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> cf;
};

namespace {
// The views pinned on this thread (Store::Pin), innermost last.
thread_local std::vector<std::pair<const Store::Rep*, std::shared_ptr<Store::View>>> t_pins;

// A follower's open (at mount and at every catch-up): the writer may
// flush, compact, delete a WAL or roll its MANIFEST while it reads them.
// Such an open is not used (it may lack the writes of a WAL deleted after
// it read the MANIFEST); it is tried again, 8 times at most, backing off.
// OK: *raw and *handles hold an open made while nothing changed, and *seen
// the files it saw; Busy if the files kept changing; else the open's error.
rocksdb::Status OpenFollower(const rocksdb::DBOptions& dbo, const std::string& path,
                             const std::vector<rocksdb::ColumnFamilyDescriptor>& cfds, rocksdb::DB** raw,
                             std::vector<rocksdb::ColumnFamilyHandle*>* handles, StoreFiles* seen) {
  rocksdb::Status s;
  for (int attempt = 0; attempt < 8; ++attempt) {
    if (attempt > 0) usleep(static_cast<useconds_t>(20000) << std::min(attempt, 4));
    *seen = StoreFiles::Of(path);
    *raw = nullptr;
    handles->clear();
    s = rocksdb::DB::OpenForReadOnly(dbo, path, cfds, handles, raw);
    if (!s.ok()) {
      if (!Store::ViewLost(FromRocks(s)) && !s.IsCorruption() && !s.IsPathNotFound()) return s;
      continue;
    }
    if (seen->OpenedStableTo(StoreFiles::Of(path))) return s;
    Store::View discard(*raw, *handles);  // closes it
    *raw = nullptr;
    s = rocksdb::Status::Busy("the writer kept changing its files while the store was opened");
  }
  return s;
}
}  // namespace

struct Store::Rep {
  std::string path;
  // The view in use. A writer's never changes; a follower's is replaced by
  // CatchUp under view_mu (a leaf lock: a pointer copy).
  std::shared_ptr<View> view;
  mutable std::mutex view_mu;
  bool read_only = false;
  bool follow = false;
  // A follower's: what it opens again at each catch-up (the options and
  // descriptors of the first open, sharing one block cache), the store
  // files as the last open saw them, and catch-ups done.
  rocksdb::DBOptions dbo;
  std::vector<rocksdb::ColumnFamilyDescriptor> cfds;  // (a writer's too: FileBatch writes SSTs with them)
  StoreFiles files;
  std::mutex catchup_mu;  // one catch-up at a time (held while it opens; readers never take it)
  std::atomic<uint64_t> catchups{0};

  // What a store call on this thread reads: the view pinned here for this
  // store, or the current one (held for the call).
  struct Using {
    std::shared_ptr<View> hold;
    const View* v = nullptr;
    bool pinned = false;
    const View* operator->() const { return v; }
  };
  Using Use() const {
    for (auto it = t_pins.rbegin(); it != t_pins.rend(); ++it)
      if (it->first == this) return Using{nullptr, it->second.get(), true};
    if (!follow) return Using{nullptr, view.get(), false};
    std::lock_guard<std::mutex> g(view_mu);
    return Using{view, view.get(), false};
  }
  std::shared_ptr<View> Current() const {
    std::lock_guard<std::mutex> g(view_mu);
    return view;
  }
  Result<bool> CatchUp();
  // Runs read on the view this thread uses. A follower's unpinned read that
  // finds a file of its view gone (the writer compacted it away) catches up
  // once and runs it again on the new view.
  template <typename F>
  Status Read(F&& read) {
    Using u = Use();
    Status s = read(*u.v);
    if (!follow || u.pinned || !Store::ViewLost(s)) return s;
    if (auto c = CatchUp(); !c.ok()) return s;
    Using again = Use();
    return read(*again.v);
  }
  uint32_t block_size = 0;
  uint32_t group_blocks = 0;  // logical blocks per archived group
  uint32_t version = 0;
  uint64_t min_free = 0;
  // Set when an addition was refused for lack of space; cleared only once free
  // space is back above min_free * 1.5, so background flushes freeing a few
  // MB cannot make the mount flap between full and not full.
  std::atomic<bool> full{false};
  uint64_t Threshold() const { return full.load() ? min_free + min_free / 2 : min_free; }
  // Serialises writes that change archived groups with WriteRecall's
  // check-then-write (a leaf lock: one RocksDB write, or a read and a write).
  std::mutex recall_mu;
  // Reclaim worker.
  std::mutex rmu;
  std::condition_variable rcv;
  std::set<std::pair<uint8_t, uint64_t>> rqueue;  // (ReclaimKind, id)
  bool rbusy = false, rstop = false;
  std::thread rthread;

  // Queues a reclaim (coalesced with an equal one still queued); starts the
  // worker on first use. Nothing after shutdown began.
  void Schedule(uint8_t kind, uint64_t id) {
    {
      std::lock_guard<std::mutex> g(rmu);
      if (rstop || read_only) return;
      if (!rthread.joinable()) rthread = std::thread([this] { ReclaimLoop(); });
      rqueue.insert({kind, id});
    }
    rcv.notify_all();
  }

  void ReclaimLoop() {
    std::unique_lock<std::mutex> l(rmu);
    for (;;) {
      rcv.wait(l, [&] { return rstop || !rqueue.empty(); });
      if (rqueue.empty()) return;
      const auto [kind, ino] = *rqueue.begin();
      rqueue.erase(rqueue.begin());
      rbusy = true;
      l.unlock();
      // Reclaiming is best effort: nothing it throws may end the thread.
      (void)Guarded("reclaim", [&, kind = kind, ino = ino] {
      auto* db = view->db.get();
      const auto& cf = view->cf;
      // Flush every CF first so the WAL files holding the deleted data go too.
      (void)db->Flush(rocksdb::FlushOptions(), cf);
      rocksdb::CompactRangeOptions o;
      o.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
      if (kind == kReclaimAll) {  // the whole fast tier (after an archive pass)
        (void)db->CompactRange(o, cf[kBlocks], nullptr, nullptr);
      } else if (kind == kReclaimObject) {  // a deleted object's segments
        if (cf.size() > kRefs) {
          std::string b = RefKey('s', ino), e = RefKey('s', ino + 1);
          rocksdb::Slice bs(b), es(e);
          (void)db->CompactRange(o, cf[kRefs], &bs, &es);
        }
      } else {
        std::string b = BlockKey(ino, 0), e = BlockKey(ino + 1, 0);
        rocksdb::Slice bs(b), es(e);
        (void)db->CompactRange(o, cf[kBlocks], &bs, &es);
        (void)db->CompactRange(o, cf[kCold], &bs, &es);
      }
      });
      l.lock();
      rbusy = false;
      rcv.notify_all();
    }
  }

  ~Rep() {
    if (rthread.joinable()) {
      {
        std::lock_guard<std::mutex> g(rmu);
        rstop = true;
        rqueue.clear();
      }
      rcv.notify_all();
      rthread.join();
    }
  }
};

struct Store::Batch::Op { int kind; int cf; std::string k, v; };

struct Store::Batch::Rep {
  // Column family handles are bound at Write time; record ops by CF index.
  // 0 put, 1 delete, 2 delete-range (k..v), 4 group k changed (recall CF;
  // v: its new checksum, empty when deleted), 3 delete the blocks of inode
  // ino from logical block idx on, in both tiers; k = BlockKey(ino, idx)
  // (expanded by Store::Write, which knows the archive group size).
  std::vector<Op> ops;
};

Store::Batch::Batch() : rep_(std::make_unique<Rep>()) {}
Store::Batch::~Batch() = default;
Store::Batch::Batch(Batch&&) noexcept = default;
size_t Store::Batch::Count() const { return rep_->ops.size(); }

void Store::Batch::PutInode(const InodeAttr& a) {
  rep_->ops.push_back({0, kInodes, Key64(a.ino), EncodeInode(a)});
}
void Store::Batch::DeleteInode(uint64_t ino) { rep_->ops.push_back({1, kInodes, Key64(ino), {}}); }
void Store::Batch::PutDirent(uint64_t parent, std::string_view name, uint64_t ino, uint32_t type) {
  std::string v(9, '\0');
  StoreLE64(v.data(), ino);
  v[8] = static_cast<char>(type >> 12);
  rep_->ops.push_back({0, kDirents, KeyName(parent, name), std::move(v)});
}
void Store::Batch::DeleteDirent(uint64_t parent, std::string_view name) {
  rep_->ops.push_back({1, kDirents, KeyName(parent, name), {}});
}
void Store::Batch::PutBlock(uint64_t ino, uint64_t idx, std::string_view value) {
  rep_->ops.push_back({0, kBlocks, BlockKey(ino, idx), std::string(value)});
}
void Store::Batch::DeleteBlock(uint64_t ino, uint64_t idx) {
  rep_->ops.push_back({1, kBlocks, BlockKey(ino, idx), {}});
}
void Store::Batch::DeleteBlocksFrom(uint64_t ino, uint64_t from_idx) {
  rep_->ops.push_back({3, kBlocks, BlockKey(ino, from_idx), {}});
}
// (every change of a group also drops its blocks' recall entries and sets
// or drops its recall version, in the same batch: op kind 4, expanded by
// Store::Write, which knows the group size)
void Store::Batch::PutGroup(uint64_t ino, uint64_t group, std::string_view value) {
  rep_->ops.push_back({0, kCold, BlockKey(ino, group), std::string(value)});
  std::string sum(8, '\0');
  if (value.size() >= format::kBlockHeaderSize) std::memcpy(sum.data(), value.data() + 8, 8);
  rep_->ops.push_back({4, kRecall, BlockKey(ino, group), std::move(sum)});
}
void Store::Batch::DeleteGroup(uint64_t ino, uint64_t group) {
  rep_->ops.push_back({1, kCold, BlockKey(ino, group), {}});
  rep_->ops.push_back({4, kRecall, BlockKey(ino, group), {}});
}
void Store::Batch::PutRecall(uint64_t ino, uint64_t idx, std::string_view value) {
  rep_->ops.push_back({0, kRecall, RecallKey('e', ino, idx), std::string(value)});
}
void Store::Batch::DeleteRecall(uint64_t ino, uint64_t idx) {
  rep_->ops.push_back({1, kRecall, RecallKey('e', ino, idx), {}});
}
void Store::Batch::PutPending(uint64_t ino) {
  rep_->ops.push_back({0, kMeta, "pending/" + Key64(ino), {}});
}
void Store::Batch::DeletePending(uint64_t ino) {
  rep_->ops.push_back({1, kMeta, "pending/" + Key64(ino), {}});
}
void Store::Batch::PutMeta(std::string_view key, std::string_view value) {
  rep_->ops.push_back({0, kMeta, "x/" + std::string(key), std::string(value)});
}
void Store::Batch::PutModel(uint64_t id, std::string_view model_file) {
  rep_->ops.push_back({0, kModels, Key64(id), std::string(model_file)});
}
void Store::Batch::PutRefObject(uint64_t id, std::string_view record) {
  rep_->ops.push_back({0, kRefs, RefKey('o', id), std::string(record)});
}
void Store::Batch::PutRefSegment(uint64_t id, uint32_t segment, std::string_view value) {
  rep_->ops.push_back({0, kRefs, SegKey(id, segment), std::string(value)});
}
void Store::Batch::DeleteRefObject(uint64_t id) {
  rep_->ops.push_back({1, kRefs, RefKey('o', id), {}});
  rep_->ops.push_back({2, kRefs, RefKey('s', id), RefKey('s', id + 1)});
  rep_->ops.push_back({2, kRefs, HoldPrefix(kHoldObject, id), HoldPrefix(kHoldObject, id + 1)});
}
void Store::Batch::PutHold(uint8_t kind, uint64_t holder, uint64_t object) {
  rep_->ops.push_back({0, kRefs, HoldKey(kind, holder, object), {}});
}
void Store::Batch::DeleteHold(uint8_t kind, uint64_t holder, uint64_t object) {
  rep_->ops.push_back({1, kRefs, HoldKey(kind, holder, object), {}});
}
void Store::Batch::PutSketch(uint64_t ino, std::string_view record) {
  rep_->ops.push_back({0, kRefs, RefKey('k', ino), std::string(record)});
}
void Store::Batch::DeleteSketch(uint64_t ino) { rep_->ops.push_back({1, kRefs, RefKey('k', ino), {}}); }
void Store::Batch::PutXattr(uint64_t ino, std::string_view name, std::string_view value) {
  rep_->ops.push_back({0, kXattrs, KeyName(ino, name), std::string(value)});
}
void Store::Batch::DeleteXattr(uint64_t ino, std::string_view name) {
  rep_->ops.push_back({1, kXattrs, KeyName(ino, name), {}});
}
void Store::Batch::DeleteAllXattrs(uint64_t ino) {
  rep_->ops.push_back({2, kXattrs, Key64(ino), Key64(ino + 1)});
}
void Store::Batch::PutOrphan(uint64_t ino) {
  rep_->ops.push_back({0, kMeta, "orphan/" + Key64(ino), {}});
}
void Store::Batch::DeleteOrphan(uint64_t ino) {
  rep_->ops.push_back({1, kMeta, "orphan/" + Key64(ino), {}});
}

Store::Store(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}
Store::~Store() = default;
const std::string& Store::path() const { return rep_->path; }
uint32_t Store::block_size() const { return rep_->block_size; }
uint32_t Store::format_version() const { return rep_->version; }
uint32_t Store::group_blocks() const { return rep_->group_blocks; }

namespace {
// Writes the sizes record of every block, group and reference segment
// (upgrade to format 4), in batches of a few thousand.
Status FillSizes(Store::Rep* rep) {
  struct Src { int cf; char tag; };
  for (const Src src : {Src{kBlocks, 'b'}, Src{kCold, 'g'}, Src{kRefs, 's'}}) {
    std::unique_ptr<rocksdb::Iterator> it(rep->view->db->NewIterator(rocksdb::ReadOptions(), rep->view->cf[src.cf]));
    rocksdb::WriteBatch wb;
    for (it->Seek(src.tag == 's' ? "s" : ""); it->Valid(); it->Next()) {
      const rocksdb::Slice k = it->key();
      if (src.tag == 's' && (k.size() == 0 || k[0] != 's')) break;
      const std::string_view key = src.tag == 's' ? std::string_view(k.data() + 1, k.size() - 1)
                                                  : std::string_view(k.data(), k.size());
      rocksdb::Status s = wb.Put(rep->view->cf[kSizes], SizeKey(src.tag, key),
                                 SizeRecord(std::string_view(it->value().data(), it->value().size())));
      if (!s.ok()) return FromRocks(s);
      if (wb.Count() >= 4096) {
        s = rep->view->db->Write(rocksdb::WriteOptions(), &wb);
        if (!s.ok()) return FromRocks(s);
        wb.Clear();
      }
    }
    if (!it->status().ok()) return FromRocks(it->status());
    rocksdb::Status s = rep->view->db->Write(rocksdb::WriteOptions(), &wb);
    if (!s.ok()) return FromRocks(s);
  }
  return Status::OK();
}
}  // namespace

Result<std::unique_ptr<Store>> Store::Open(const std::string& path, const StoreOptions& o) {
  namespace fs = std::filesystem;
  std::error_code ec;
  bool exists = fs::exists(fs::path(path) / "CURRENT", ec);
  if (!exists) {
    if (!o.create_if_missing || o.read_only || o.follow)
      return Status::NotFound("no pmklcfs store at " + path);
    if (fs::exists(path, ec) && !fs::is_directory(path, ec))
      return Status::InvalidArgument(path + " exists and is not a directory");
    if (fs::exists(path, ec) && !fs::is_empty(path, ec))
      return Status::InvalidArgument(path + " is a non-empty directory that is not a pmklcfs store");
    // Only the store's own folder is made: a mistyped path must not leave
    // a tree of new folders behind.
    const fs::path parent = fs::absolute(fs::path(path), ec).parent_path();
    if (!fs::is_directory(parent, ec))
      return Status::NotFound("cannot create the store " + path + ": its parent folder " + parent.string() +
                              " does not exist");
    fs::create_directory(path, ec);
    if (ec) return Status::IOError("cannot create " + path + ": " + ec.message());
  }

  auto rep = std::make_unique<Rep>();
  rep->path = path;
  rep->min_free = o.min_free_bytes;
  rep->read_only = o.read_only || o.follow;
  rep->follow = o.follow;
  rocksdb::DBOptions dbo;
  dbo.create_if_missing = !exists;
  dbo.create_missing_column_families = !exists;
  dbo.max_background_jobs = 2;
  dbo.info_log_level = rocksdb::WARN_LEVEL;
  dbo.keep_log_file_num = 2;
  // WAL files are freed only once every column family has flushed past them;
  // this bound forces the small metadata CFs to flush too. Default 64 MiB.
  dbo.max_total_wal_size = 64u << 20;
  dbo.paranoid_checks = true;
  // A follower reopens the store at every catch-up: a small MANIFEST keeps
  // that cheap (RocksDB rolls it over past this size). Default 1 GiB.
  dbo.max_manifest_file_size = 64u << 20;
  if (o.follow) {
    // Every SST file is opened at open and held, so the writer deleting
    // one later (a compaction) does not take it from this view (POSIX
    // keeps an open file). The writer's LOG is its own: a follower logs
    // nothing into the store's folder.
    dbo.max_open_files = -1;
    dbo.info_log = std::make_shared<NullLogger>();
  }

  // Bounded memory (README §Memory): every memtable together stays within
  // memtable_bytes, and index and filter blocks live in the block cache.
  dbo.db_write_buffer_size = o.memtable_bytes;
  auto cache = rocksdb::NewLRUCache(o.rocksdb_cache_bytes);
  std::vector<rocksdb::ColumnFamilyDescriptor> cfds;
  for (int i = 0; i < kNumCf; ++i) {
    rocksdb::ColumnFamilyOptions cfo;
    rocksdb::BlockBasedTableOptions t;
    t.block_cache = cache;
    t.cache_index_and_filter_blocks = true;
    t.pin_l0_filter_and_index_blocks_in_cache = true;
    if (i == kBlocks || i == kModels || i == kCold || i == kRefs || i == kRecall) {
      cfo.compression = rocksdb::kNoCompression;  // payloads are already coded
      t.block_size = 16 << 10;
      cfo.write_buffer_size = 32u << 20;
      // Block values (KiBs each) live in blob files: compaction then rewrites
      // only keys and blob references, so it needs little free space and
      // little I/O. Garbage from overwritten/deleted blocks is collected when
      // compaction reaches the older blob files.
      cfo.enable_blob_files = true;
      cfo.min_blob_size = 256;
      cfo.blob_file_size = 64u << 20;
      cfo.blob_compression_type = rocksdb::kNoCompression;
      cfo.enable_blob_garbage_collection = true;
      cfo.blob_garbage_collection_age_cutoff = 0.5;
      cfo.blob_garbage_collection_force_threshold = 0.5;
    } else {
      t.filter_policy.reset();  // point lookups use the block index
    }
    cfo.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
    cfds.emplace_back(kCfNames[i], cfo);
  }
  cfds.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions());

  if (exists) {
    // Refuse a RocksDB that is not ours before touching it.
    std::vector<std::string> names;
    auto ls = rocksdb::DB::ListColumnFamilies(dbo, path, &names);
    if (!ls.ok()) return Status::InvalidArgument(path + " is not a pmklcfs store: " + ls.ToString());
    for (int i = 0; i < kNumCfV1; ++i)
      if (std::find(names.begin(), names.end(), kCfNames[i]) == names.end())
        return Status::InvalidArgument(path + " is not a pmklcfs store (missing column family " +
                                       kCfNames[i] + ")");
    for (int i = kNumCfV1; i < kNumCf; ++i) {
      if (std::find(names.begin(), names.end(), kCfNames[i]) != names.end()) continue;
      // An older format (1 lacks "cold", 2 lacks "refs", 3 lacks "sizes",
      // 4 lacks "recall"): upgraded below (the new CFs are created empty,
      // then filled).
      if (rep->read_only) {
        const bool v1 = std::find(names.begin(), names.end(), kCfNames[kCold]) == names.end();
        const bool v2 = std::find(names.begin(), names.end(), kCfNames[kRefs]) == names.end();
        const bool v3 = std::find(names.begin(), names.end(), kCfNames[kSizes]) == names.end();
        return Status::NotSupported(path + " has store format " + (v1 ? "1" : v2 ? "2" : v3 ? "3" : "4") +
                                    "; mount it once (read-write) to upgrade it");
      }
      dbo.create_missing_column_families = true;
    }
  }

  rocksdb::DB* raw = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rep->dbo = dbo;
  rep->cfds = cfds;
  rocksdb::Status s;
  if (o.follow) {
    s = OpenFollower(dbo, path, cfds, &raw, &handles, &rep->files);
  } else {
    s = rep->read_only ? rocksdb::DB::OpenForReadOnly(dbo, path, cfds, &handles, &raw)
                       : rocksdb::DB::Open(dbo, path, cfds, &handles, &raw);
  }
  if (!s.ok()) {
    if (s.IsIOError() && s.ToString().find("lock") != std::string::npos)
      return Status::Busy("store " + path + " is in use by another process (" + s.ToString() + ")");
    return FromRocks(s);
  }
  rep->view = std::make_shared<View>(raw, handles);

  std::string v;
  auto* meta = rep->view->cf[kMeta];
  s = rep->view->db->Get(rocksdb::ReadOptions(), meta, "format_version", &v);
  if (s.IsNotFound()) {
    if (rep->read_only) return Status::Corruption("store has no format version");
    uint32_t bs = o.block_size ? o.block_size : format::kDefaultBlockSize;
    if (bs < format::kMinBlockSize || bs > format::kMaxBlockSize || (bs & (bs - 1)))
      return Status::InvalidArgument("block size must be a power of two in [4 KiB, 16 MiB]");
    const uint32_t gbytes = o.group_bytes;
    if (gbytes && ((gbytes & (gbytes - 1)) || gbytes < bs || gbytes > format::kMaxGroupBytes))
      return Status::InvalidArgument("archive group size must be a power of two in [block size, 64 MiB]");
    rocksdb::WriteBatch wb;
    std::string ver(4, '\0'), bsz(4, '\0');
    StoreLE32(ver.data(), format::kStoreVersion);
    StoreLE32(bsz.data(), bs);
    wb.Put(meta, "format_version", ver);
    wb.Put(meta, "block_size", bsz);
    std::string gb(4, '\0');
    StoreLE32(gb.data(), GroupBlocksFor(bs, gbytes));
    wb.Put(meta, "group_blocks", gb);
    InodeAttr root;
    root.ino = format::kRootIno;
    root.mode = S_IFDIR | 0755;
    root.uid = o.root_uid;
    root.gid = o.root_gid;
    root.nlink = 2;
    root.parent = format::kRootIno;
    root.atime = root.mtime = root.ctime = NowTime();
    wb.Put(rep->view->cf[kInodes], Key64(root.ino), EncodeInode(root));
    rocksdb::WriteOptions wo;
    wo.sync = true;
    s = rep->view->db->Write(wo, &wb);
    if (!s.ok()) return FromRocks(s);
    rep->version = format::kStoreVersion;
    rep->block_size = bs;
    rep->group_blocks = GroupBlocksFor(bs, gbytes);
  } else if (!s.ok()) {
    return FromRocks(s);
  } else {
    if (v.size() != 4) return Status::Corruption("bad format_version record");
    rep->version = LoadLE32(v.data());
    if (rep->version > format::kStoreVersion || rep->version == 0)
      return Status::NotSupported("store format version " + std::to_string(rep->version) +
                                  " is not supported by this build (expects " +
                                  std::to_string(format::kStoreVersion) + ")");
    s = rep->view->db->Get(rocksdb::ReadOptions(), meta, "block_size", &v);
    if (!s.ok() || v.size() != 4) return Status::Corruption("store has no valid block_size record");
    rep->block_size = LoadLE32(v.data());
    if (rep->block_size < format::kMinBlockSize || rep->block_size > format::kMaxBlockSize)
      return Status::Corruption("store block_size out of range");
    if (rep->version < format::kStoreVersion) {
      // Upgrade 1 -> 4: the "cold" CF now exists (created empty above);
      // record the archive group size. 2 -> 4: the "refs" CF now exists.
      // 3 -> 4: fill the "sizes" index from every block, group and segment
      // (one read of the stored values; a crash before the version record
      // below just fills it again). The new version goes in the last batch.
      // 4 -> 5: the "recall" CF now exists (created empty above).
      if (rep->read_only) return Status::NotSupported(path + " has an older store format; mount it once to upgrade it");
      if (rep->version < 4) {
        Status fs = FillSizes(rep.get());
        if (!fs.ok()) return fs;
      }
      rocksdb::WriteBatch wb;
      std::string ver(4, '\0'), gb(4, '\0');
      StoreLE32(ver.data(), format::kStoreVersion);
      StoreLE32(gb.data(), GroupBlocksFor(rep->block_size));
      if (rep->version == 1) wb.Put(meta, "group_blocks", gb);
      wb.Put(meta, "format_version", ver);
      rocksdb::WriteOptions wo;
      wo.sync = true;
      s = rep->view->db->Write(wo, &wb);
      if (!s.ok()) return FromRocks(s);
      rep->version = format::kStoreVersion;
    }
    s = rep->view->db->Get(rocksdb::ReadOptions(), meta, "group_blocks", &v);
    if (!s.ok() || v.size() != 4) return Status::Corruption("store has no valid group_blocks record");
    rep->group_blocks = LoadLE32(v.data());
    if (rep->group_blocks == 0 || uint64_t{rep->group_blocks} * rep->block_size > format::kMaxGroupBytes)
      return Status::Corruption("store group_blocks out of range");
  }
  return std::unique_ptr<Store>(new Store(std::move(rep)));
}

namespace {
// Turns one batch op into RocksDB operations on sink (Put, Delete and
// DeleteRange by column family index): the op itself, and what follows
// it in the same batch (the sizes index, recall entries and versions).
template <typename Sink>
rocksdb::Status ExpandOp(const Store::Batch::Op& op, uint32_t group_blocks, Sink& sink) {
  rocksdb::Status s;
  // The sizes index follows every put and delete of a block, group or
  // segment, in the same batch.
  const char tag = SizeTag(op.cf, op.k);
  const std::string_view skey =
      tag == 's' || tag == 'r' ? std::string_view(op.k).substr(1) : std::string_view(op.k);
  if (op.kind == 0) {
    s = sink.Put(op.cf, op.k, op.v);
    if (s.ok() && tag) s = sink.Put(kSizes, SizeKey(tag, skey), SizeRecord(op.v));
  } else if (op.kind == 1) {
    s = sink.Delete(op.cf, op.k);
    if (s.ok() && tag) s = sink.Delete(kSizes, SizeKey(tag, skey));
  } else if (op.kind == 2) {
    s = sink.DeleteRange(op.cf, op.k, op.v);
    if (s.ok() && tag) {
      const std::string_view ekey = tag == 's' ? std::string_view(op.v).substr(1) : std::string_view(op.v);
      s = sink.DeleteRange(kSizes, SizeKey(tag, skey), SizeKey(tag, ekey));
    }
  } else if (op.kind == 4) {
    // A group changed: its blocks' recall entries go, its version is set
    // (put) or dropped (delete).
    const uint64_t ino = LoadBE64(op.k.data()), g = LoadBE64(op.k.data() + 8);
    const uint64_t b0 = g * group_blocks, b1 = b0 + group_blocks;
    s = sink.DeleteRange(kRecall, RecallKey('e', ino, b0), RecallKey('e', ino, b1));
    if (s.ok()) s = sink.DeleteRange(kSizes, SizeKey('r', BlockKey(ino, b0)), SizeKey('r', BlockKey(ino, b1)));
    if (s.ok())
      s = op.v.empty() ? sink.Delete(kRecall, RecallKey('v', ino, g)) : sink.Put(kRecall, RecallKey('v', ino, g), op.v);
  } else {
    const uint64_t ino = LoadBE64(op.k.data()), idx = LoadBE64(op.k.data() + 8);
    // Fast tier: [ino|idx, ino+1|0). Archived groups that start at or after
    // idx; a group straddling idx was exploded by the caller.
    s = sink.DeleteRange(kBlocks, op.k, BlockKey(ino + 1, 0));
    if (s.ok()) s = sink.DeleteRange(kSizes, SizeKey('b', op.k), SizeKey('b', BlockKey(ino + 1, 0)));
    const uint64_t g = (idx + group_blocks - 1) / group_blocks;
    if (s.ok()) s = sink.DeleteRange(kCold, BlockKey(ino, g), BlockKey(ino + 1, 0));
    if (s.ok()) s = sink.DeleteRange(kSizes, SizeKey('g', BlockKey(ino, g)), SizeKey('g', BlockKey(ino + 1, 0)));
    // the recall entries of those groups' blocks, and their versions
    const uint64_t b0 = g * group_blocks;
    if (s.ok()) s = sink.DeleteRange(kRecall, RecallKey('e', ino, b0), RecallKey('e', ino + 1, 0));
    if (s.ok()) s = sink.DeleteRange(kSizes, SizeKey('r', BlockKey(ino, b0)), SizeKey('r', BlockKey(ino + 1, 0)));
    if (s.ok()) s = sink.DeleteRange(kRecall, RecallKey('v', ino, g), RecallKey('v', ino + 1, 0));
    if (s.ok() && idx == 0) s = sink.Delete(kMeta, "pending/" + Key64(ino));
    // All of the file's data is gone: so are its holds on reference
    // objects and its sketch (a truncation keeps them: holding too long is
    // safe, releasing too early is not).
    if (s.ok() && idx == 0) s = sink.DeleteRange(kRefs, HoldPrefix(Store::kHoldFile, ino), HoldPrefix(Store::kHoldFile, ino + 1));
    if (s.ok() && idx == 0) s = sink.Delete(kRefs, RefKey('k', ino));
  }
  return s;
}

// A sink that fills a WriteBatch.
struct BatchSink {
  rocksdb::WriteBatch* wb;
  const Store::View* v;
  rocksdb::Status Put(int cf, const rocksdb::Slice& k, const rocksdb::Slice& val) { return wb->Put(v->cf[cf], k, val); }
  rocksdb::Status Delete(int cf, const rocksdb::Slice& k) { return wb->Delete(v->cf[cf], k); }
  rocksdb::Status DeleteRange(int cf, const rocksdb::Slice& b, const rocksdb::Slice& e) {
    return wb->DeleteRange(v->cf[cf], b, e);
  }
};
}  // namespace

Status Store::Write(Batch& b, bool sync) {
  if (rep_->read_only) return Status::ReadOnly("the store " + rep_->path + " is open read-only");
  const auto u = rep_->Use();
  rocksdb::WriteBatch wb;
  BatchSink sink{&wb, u.v};
  for (auto& op : b.rep_->ops) {
    rocksdb::Status s = ExpandOp(op, rep_->group_blocks, sink);
    if (!s.ok()) return FromRocks(s);
  }
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  // A failed write (e.g. a full disk despite the min_free reserve) leaves
  // RocksDB in a read-only error state until the store is reopened; every
  // later write then fails cleanly and nothing already stored is affected.
  bool groups = false;
  for (auto& op : b.rep_->ops) groups |= op.kind >= 3;
  std::unique_lock<std::mutex> rl(rep_->recall_mu, std::defer_lock);
  if (groups) rl.lock();  // (against WriteRecall's check-then-write)
  return FromRocks(u->db->Write(wo, &wb));
}

void Store::ScheduleReclaim(uint64_t ino) { rep_->Schedule(kReclaimFile, ino); }
void Store::ScheduleReclaimAll() { rep_->Schedule(kReclaimAll, 0); }
void Store::ScheduleReclaimObject(uint64_t id) { rep_->Schedule(kReclaimObject, id); }

void Store::WaitForReclaim() {
  std::unique_lock<std::mutex> l(rep_->rmu);
  rep_->rcv.wait(l, [&] { return rep_->rqueue.empty() && !rep_->rbusy; });
}

uint64_t Store::UsableFreeBytes() {
  struct statvfs v;
  if (statvfs(rep_->path.c_str(), &v) != 0) return 0;
  uint64_t free = static_cast<uint64_t>(v.f_bavail) * v.f_frsize;
  const uint64_t t = rep_->Threshold();
  return free > t ? free - t : 0;
}

uint64_t Store::FreeBytes() {
  struct statvfs v;
  if (statvfs(rep_->path.c_str(), &v) != 0) return 0;
  return static_cast<uint64_t>(v.f_bavail) * v.f_frsize;
}

uint64_t Store::min_free_bytes() const { return rep_->min_free; }

Status Store::CheckSpace() {
  struct statvfs v;
  if (statvfs(rep_->path.c_str(), &v) != 0) return Status::OK();
  uint64_t free = static_cast<uint64_t>(v.f_bavail) * v.f_frsize;
  const uint64_t t = rep_->Threshold();
  if (free < t) {
    rep_->full = true;
    return Status::NoSpace("store disk has " + std::to_string(free >> 20) + " MiB free, below the " +
                           std::to_string(t >> 20) + " MiB reserve (min_free=)");
  }
  rep_->full = false;
  return Status::OK();
}

Status Store::SyncWAL() {
  if (rep_->read_only) return Status::OK();  // nothing written
  const auto u = rep_->Use();
  return FromRocks(u->db->SyncWAL());
}

Result<InodeAttr> Store::GetInode(uint64_t ino) {
  InodeAttr a;
  PMKLC_RETURN_IF_ERROR(rep_->Read([&](const View& u) -> Status {
    rocksdb::PinnableSlice v;
    auto s = u.db->Get(rocksdb::ReadOptions(), u.cf[kInodes], Key64(ino), &v);
    if (s.IsNotFound()) return Status::NotFound("inode " + std::to_string(ino));
    if (!s.ok()) return FromRocks(s);
    return DecodeInode(ino, std::string_view(v.data(), v.size()), &a);
  }));
  return a;
}

Result<DirEntry> Store::Lookup(uint64_t parent, std::string_view name) {
  DirEntry e;
  PMKLC_RETURN_IF_ERROR(rep_->Read([&](const View& u) -> Status {
    rocksdb::PinnableSlice v;
    auto s = u.db->Get(rocksdb::ReadOptions(), u.cf[kDirents], KeyName(parent, name), &v);
    if (s.IsNotFound()) return Status::NotFound();
    if (!s.ok()) return FromRocks(s);
    if (v.size() != 9) return Status::Corruption("bad dirent value");
    e.name = std::string(name);
    e.ino = LoadLE64(v.data());
    e.type = static_cast<uint32_t>(static_cast<unsigned char>(v.data()[8])) << 12;
    return Status::OK();
  }));
  return e;
}

namespace {
template <typename Fn>
Status ScanPrefix(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* h, const std::string& prefix, Fn fn) {
  rocksdb::ReadOptions ro;
  std::string upper;
  if (!prefix.empty()) {
    upper = prefix;
    // prefix here is always an 8-byte BE id; upper bound = id+1
    uint64_t id = LoadBE64(prefix.data());
    upper = Key64(id + 1);
  }
  rocksdb::Slice ub(upper);
  if (!prefix.empty()) ro.iterate_upper_bound = &ub;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, h));
  for (it->Seek(prefix); it->Valid(); it->Next()) {
    if (!fn(it->key(), it->value())) break;
  }
  return FromRocks(it->status());
}
}  // namespace

Status Store::ListDir(uint64_t parent, std::vector<DirEntry>* out) {
  return rep_->Read([&](const View& u) -> Status {
    out->clear();
    Status bad;
    PMKLC_RETURN_IF_ERROR(ScanPrefix(u.db.get(), u.cf[kDirents], Key64(parent),
        [&](const rocksdb::Slice& k, const rocksdb::Slice& v) {
          if (v.size() != 9) { bad = Status::Corruption("bad dirent value"); return false; }
          DirEntry e;
          e.name.assign(k.data() + 8, k.size() - 8);
          e.ino = LoadLE64(v.data());
          e.type = static_cast<uint32_t>(static_cast<unsigned char>(v.data()[8])) << 12;
          out->push_back(std::move(e));
          return true;
        }));
    return bad;
  });
}

Result<bool> Store::DirEmpty(uint64_t parent) {
  bool empty = true;
  PMKLC_RETURN_IF_ERROR(rep_->Read([&](const View& u) -> Status {
    empty = true;
    return ScanPrefix(u.db.get(), u.cf[kDirents], Key64(parent),
                      [&](const rocksdb::Slice&, const rocksdb::Slice&) { empty = false; return false; });
  }));
  return empty;
}

namespace {
// A point read of key in cf into value; absent is `absent`.
Status GetValue(const Store::View& u, int cf, const std::string& key, std::string* value, Status absent) {
  auto s = u.db->Get(rocksdb::ReadOptions(), u.cf[cf], key, value);
  if (s.IsNotFound()) return absent;
  return FromRocks(s);
}
}  // namespace

Status Store::GetBlock(uint64_t ino, uint64_t idx, std::string* value) {
  return rep_->Read([&](const View& u) { return GetValue(u, kBlocks, BlockKey(ino, idx), value, Status::NotFound()); });
}

Status Store::GetXattr(uint64_t ino, std::string_view name, std::string* value) {
  return rep_->Read([&](const View& u) { return GetValue(u, kXattrs, KeyName(ino, name), value, Status::NoData()); });
}

Status Store::ListXattrs(uint64_t ino, std::vector<std::string>* names) {
  return rep_->Read([&](const View& u) -> Status {
    names->clear();
    return ScanPrefix(u.db.get(), u.cf[kXattrs], Key64(ino), [&](const rocksdb::Slice& k, const rocksdb::Slice&) {
      names->emplace_back(k.data() + 8, k.size() - 8);
      return true;
    });
  });
}

uint64_t Store::MaxIno() {
  const auto u = rep_->Use();
  std::unique_ptr<rocksdb::Iterator> it(u->db->NewIterator(rocksdb::ReadOptions(), u->cf[kInodes]));
  it->SeekToLast();
  uint64_t m = format::kRootIno;
  if (it->Valid() && it->key().size() == 8) m = std::max(m, LoadBE64(it->key().data()));
  // Orphans and blocks may reference numbers above the last inode after a crash
  // mid-purge; never reuse those either.
  std::unique_ptr<rocksdb::Iterator> bt(u->db->NewIterator(rocksdb::ReadOptions(), u->cf[kBlocks]));
  bt->SeekToLast();
  if (bt->Valid() && bt->key().size() == 16) m = std::max(m, LoadBE64(bt->key().data()));
  return m;
}

Status Store::ListOrphans(std::vector<uint64_t>* out) {
  const auto u = rep_->Use();
  out->clear();
  rocksdb::ReadOptions ro;
  std::unique_ptr<rocksdb::Iterator> it(u->db->NewIterator(ro, u->cf[kMeta]));
  for (it->Seek("orphan/"); it->Valid() && it->key().starts_with("orphan/"); it->Next()) {
    if (it->key().size() == 15) out->push_back(LoadBE64(it->key().data() + 7));
  }
  return FromRocks(it->status());
}

Status Store::ForEachInode(const std::function<bool(const InodeAttr&)>& fn) {
  const auto u = rep_->Use();
  Status bad;
  PMKLC_RETURN_IF_ERROR(ScanPrefix(u->db.get(), u->cf[kInodes], "",
      [&](const rocksdb::Slice& k, const rocksdb::Slice& v) {
        InodeAttr a;
        if (k.size() != 8) { bad = Status::Corruption("bad inode key"); return false; }
        Status s = DecodeInode(LoadBE64(k.data()), std::string_view(v.data(), v.size()), &a);
        if (!s.ok()) { bad = s; return false; }
        return fn(a);
      }));
  return bad;
}

Status Store::ForEachDirent(const std::function<bool(uint64_t, const DirEntry&)>& fn) {
  const auto u = rep_->Use();
  Status bad;
  PMKLC_RETURN_IF_ERROR(ScanPrefix(u->db.get(), u->cf[kDirents], "",
      [&](const rocksdb::Slice& k, const rocksdb::Slice& v) {
        if (k.size() < 9 || v.size() != 9) { bad = Status::Corruption("bad dirent record"); return false; }
        DirEntry e;
        e.name.assign(k.data() + 8, k.size() - 8);
        e.ino = LoadLE64(v.data());
        e.type = static_cast<uint32_t>(static_cast<unsigned char>(v.data()[8])) << 12;
        return fn(LoadBE64(k.data()), e);
      }));
  return bad;
}

Status Store::ForEachBlock(const std::function<bool(uint64_t, uint64_t, std::string_view)>& fn) {
  const auto u = rep_->Use();
  return ScanPrefix(u->db.get(), u->cf[kBlocks], "",
      [&](const rocksdb::Slice& k, const rocksdb::Slice& v) {
        if (k.size() != 16) return fn(0, 0, std::string_view(v.data(), v.size()));
        return fn(LoadBE64(k.data()), LoadBE64(k.data() + 8), std::string_view(v.data(), v.size()));
      });
}

Status Store::GetGroup(uint64_t ino, uint64_t group, std::string* value) {
  return rep_->Read([&](const View& u) { return GetValue(u, kCold, BlockKey(ino, group), value, Status::NotFound()); });
}

Status Store::GetRecall(uint64_t ino, uint64_t idx, std::string* value) {
  return rep_->Read(
      [&](const View& u) { return GetValue(u, kRecall, RecallKey('e', ino, idx), value, Status::NotFound()); });
}

Result<uint64_t> Store::GetRecallVersion(uint64_t ino, uint64_t group) {
  std::string v;
  PMKLC_RETURN_IF_ERROR(rep_->Read(
      [&](const View& u) { return GetValue(u, kRecall, RecallKey('v', ino, group), &v, Status::NotFound()); }));
  if (v.size() != 8) return Status::Corruption("bad recall version record");
  return LoadLE64(v.data());
}

Status Store::WriteRecall(uint64_t ino, uint64_t group, uint64_t checksum, Batch& entries) {
  if (rep_->read_only) return Status::ReadOnly("the store " + rep_->path + " is open read-only");
  const auto u = rep_->Use();
  // A group archived before the recall tier has no version yet: its header
  // is read here, before the lock (a whole group value; group writers wait
  // on the lock). Under the lock only the small version record is read.
  bool from_header = false;
  if (auto v0 = GetRecallVersion(ino, group); v0.status().IsNotFound()) {
    std::string gv;
    Status gs = GetGroup(ino, group, &gv);
    if (gs.IsNotFound()) return Status::Busy("the group is gone");
    PMKLC_RETURN_IF_ERROR(gs);
    if (gv.size() < format::kBlockHeaderSize || LoadLE64(gv.data() + 8) != checksum)
      return Status::Busy("the group changed");
    from_header = true;
  }
  std::lock_guard<std::mutex> l(rep_->recall_mu);
  auto v = GetRecallVersion(ino, group);
  if (!v.ok() && !v.status().IsNotFound()) return v.status();
  if (v.ok() && *v != checksum) return Status::Busy("the group changed");
  if (!v.ok()) {
    // Still no version: any PutGroup since the header read would have
    // written one. (A DeleteGroup since leaves entries of a file now in the
    // fast tier, which reads never consult; its next PutGroup or
    // DeleteBlocksFrom drops them.)
    if (!from_header) return Status::Busy("the group changed");
    std::string sum(8, '\0');
    StoreLE64(sum.data(), checksum);
    entries.rep_->ops.push_back({0, kRecall, RecallKey('v', ino, group), sum});
  }
  rocksdb::WriteBatch wb;
  for (auto& op : entries.rep_->ops) {
    if (op.cf != kRecall || (op.kind != 0 && op.kind != 1)) return Status::InvalidArgument("WriteRecall: only recall entries");
    const char tag = SizeTag(op.cf, op.k);
    rocksdb::Status s = op.kind == 0 ? wb.Put(u->cf[kRecall], op.k, op.v) : wb.Delete(u->cf[kRecall], op.k);
    if (s.ok() && tag) {
      const std::string skey = SizeKey(tag, std::string_view(op.k).substr(1));
      s = op.kind == 0 ? wb.Put(u->cf[kSizes], skey, SizeRecord(op.v)) : wb.Delete(u->cf[kSizes], skey);
    }
    if (!s.ok()) return FromRocks(s);
  }
  return FromRocks(u->db->Write(rocksdb::WriteOptions(), &wb));
}

Status Store::ForEachRecall(const std::function<bool(uint64_t, uint64_t, std::string_view)>& fn) {
  const auto u = rep_->Use();
  return ScanPrefix(u->db.get(), u->cf[kRecall], "e",
      [&](const rocksdb::Slice& k, const rocksdb::Slice& v) {
        if (k.size() != 17) return true;
        return fn(LoadBE64(k.data() + 1), LoadBE64(k.data() + 9), std::string_view(v.data(), v.size()));
      });
}

Status Store::ForEachGroup(const std::function<bool(uint64_t, uint64_t, std::string_view)>& fn) {
  const auto u = rep_->Use();
  return ScanPrefix(u->db.get(), u->cf[kCold], "",
      [&](const rocksdb::Slice& k, const rocksdb::Slice& v) {
        if (k.size() != 16) return fn(0, 0, std::string_view(v.data(), v.size()));
        return fn(LoadBE64(k.data()), LoadBE64(k.data() + 8), std::string_view(v.data(), v.size()));
      });
}

Status Store::ForEachGroupOf(uint64_t ino, const std::function<bool(uint64_t, std::string_view)>& fn) {
  const auto u = rep_->Use();
  return ScanPrefix(u->db.get(), u->cf[kCold], Key64(ino),
      [&](const rocksdb::Slice& k, const rocksdb::Slice& v) {
        if (k.size() != 16) return true;
        return fn(LoadBE64(k.data() + 8), std::string_view(v.data(), v.size()));
      });
}

Status Store::ListPending(std::vector<uint64_t>* out) {
  const auto u = rep_->Use();
  out->clear();
  std::unique_ptr<rocksdb::Iterator> it(u->db->NewIterator(rocksdb::ReadOptions(), u->cf[kMeta]));
  for (it->Seek("pending/"); it->Valid() && it->key().starts_with("pending/"); it->Next())
    if (it->key().size() == 16) out->push_back(LoadBE64(it->key().data() + 8));
  return FromRocks(it->status());
}

Status Store::GetMeta(std::string_view key, std::string* value) {
  return rep_->Read(
      [&](const View& u) { return GetValue(u, kMeta, "x/" + std::string(key), value, Status::NotFound()); });
}

Status Store::ForEachModel(const std::function<bool(uint64_t, std::string_view)>& fn) {
  const auto u = rep_->Use();
  return ScanPrefix(u->db.get(), u->cf[kModels], "", [&](const rocksdb::Slice& k, const rocksdb::Slice& v) {
    if (k.size() != 8) return true;
    return fn(LoadBE64(k.data()), std::string_view(v.data(), v.size()));
  });
}

Status Store::GetRefObject(uint64_t id, std::string* record) {
  return rep_->Read([&](const View& u) { return GetValue(u, kRefs, RefKey('o', id), record, Status::NotFound()); });
}

Status Store::GetRefSegment(uint64_t id, uint32_t segment, std::string* value) {
  return rep_->Read([&](const View& u) { return GetValue(u, kRefs, SegKey(id, segment), value, Status::NotFound()); });
}

namespace {
// Every refs-CF record whose key starts with tag.
Status ScanTag(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* h, char tag,
               const std::function<bool(const rocksdb::Slice&, const rocksdb::Slice&)>& fn) {
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), h));
  for (it->Seek(std::string(1, tag)); it->Valid() && it->key().size() > 0 && it->key()[0] == tag; it->Next())
    if (!fn(it->key(), it->value())) break;
  return FromRocks(it->status());
}
}  // namespace

Status Store::ForEachRefObject(const std::function<bool(uint64_t, std::string_view)>& fn) {
  const auto u = rep_->Use();
  return ScanTag(u->db.get(), u->cf[kRefs], 'o', [&](const rocksdb::Slice& k, const rocksdb::Slice& v) {
    if (k.size() != 9) return true;
    return fn(LoadBE64(k.data() + 1), std::string_view(v.data(), v.size()));
  });
}

Status Store::ForEachRefSegment(const std::function<bool(uint64_t, uint32_t, std::string_view)>& fn) {
  const auto u = rep_->Use();
  return ScanTag(u->db.get(), u->cf[kRefs], 's', [&](const rocksdb::Slice& k, const rocksdb::Slice& v) {
    if (k.size() != 13) return true;
    return fn(LoadBE64(k.data() + 1), LoadBE32(k.data() + 9), std::string_view(v.data(), v.size()));
  });
}

Status Store::ForEachHold(const std::function<bool(uint8_t, uint64_t, uint64_t)>& fn) {
  const auto u = rep_->Use();
  return ScanTag(u->db.get(), u->cf[kRefs], 'h', [&](const rocksdb::Slice& k, const rocksdb::Slice&) {
    if (k.size() != 18) return true;
    return fn(static_cast<uint8_t>(k[1]), LoadBE64(k.data() + 2), LoadBE64(k.data() + 10));
  });
}

Status Store::ForEachHoldBy(uint8_t kind, uint64_t holder, const std::function<bool(uint64_t)>& fn) {
  const auto u = rep_->Use();
  return ScanPrefix(u->db.get(), u->cf[kRefs], HoldPrefix(kind, holder),
      [&](const rocksdb::Slice& k, const rocksdb::Slice&) {
        if (k.size() != 18) return true;
        return fn(LoadBE64(k.data() + 10));
      });
}

Status Store::GetSketch(uint64_t ino, std::string* record) {
  return rep_->Read([&](const View& u) { return GetValue(u, kRefs, RefKey('k', ino), record, Status::NotFound()); });
}

Status Store::ForEachSketch(const std::function<bool(uint64_t, std::string_view)>& fn) {
  const auto u = rep_->Use();
  return ScanTag(u->db.get(), u->cf[kRefs], 'k', [&](const rocksdb::Slice& k, const rocksdb::Slice& v) {
    if (k.size() != 9) return true;
    return fn(LoadBE64(k.data() + 1), std::string_view(v.data(), v.size()));
  });
}

Result<uint64_t> Store::StoredBytesOf(uint64_t ino) {
  const auto u = rep_->Use();
  uint64_t total = 0;
  for (char tag : {'b', 'g'}) {
    const std::string lo = SizeKey(tag, Key64(ino)), hi = SizeKey(tag, Key64(ino + 1));
    rocksdb::ReadOptions ro;
    rocksdb::Slice ub(hi);
    ro.iterate_upper_bound = &ub;
    std::unique_ptr<rocksdb::Iterator> it(u->db->NewIterator(ro, u->cf[kSizes]));
    for (it->Seek(lo); it->Valid(); it->Next())
      if (it->value().size() == kSizeRecord) total += LoadLE32(it->value().data());
    PMKLC_RETURN_IF_ERROR(FromRocks(it->status()));
  }
  return total;
}

namespace {
// The first key of tag for ino at or after index idx, as that index; NotFound if none.
Result<uint64_t> FirstSizeAtOrAfter(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* h, char tag, uint64_t ino,
                                    uint64_t idx) {
  const std::string lo = SizeKey(tag, BlockKey(ino, idx)), hi = SizeKey(tag, Key64(ino + 1));
  rocksdb::ReadOptions ro;
  rocksdb::Slice ub(hi);
  ro.iterate_upper_bound = &ub;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, h));
  it->Seek(lo);
  if (it->Valid() && it->key().size() == 17) return LoadBE64(it->key().data() + 9);
  PMKLC_RETURN_IF_ERROR(FromRocks(it->status()));
  return Status::NotFound();
}
}  // namespace

Status Store::BlockIndicesOf(uint64_t ino, std::vector<uint64_t>* out) {
  const auto u = rep_->Use();
  out->clear();
  const std::string lo = SizeKey('b', Key64(ino)), hi = SizeKey('b', Key64(ino + 1));
  rocksdb::ReadOptions ro;
  rocksdb::Slice ub(hi);
  ro.iterate_upper_bound = &ub;
  std::unique_ptr<rocksdb::Iterator> it(u->db->NewIterator(ro, u->cf[kSizes]));
  for (it->Seek(lo); it->Valid(); it->Next())
    if (it->key().size() == 17) out->push_back(LoadBE64(it->key().data() + 9));
  return FromRocks(it->status());
}

Result<uint64_t> Store::NextStoredBlock(uint64_t ino, uint64_t idx) {
  const auto u = rep_->Use();
  const uint64_t gb = rep_->group_blocks;
  auto b = FirstSizeAtOrAfter(u->db.get(), u->cf[kSizes], 'b', ino, idx);
  if (!b.ok() && !b.status().IsNotFound()) return b.status();
  auto g = FirstSizeAtOrAfter(u->db.get(), u->cf[kSizes], 'g', ino, idx / gb);
  if (!g.ok() && !g.status().IsNotFound()) return g.status();
  if (!b.ok() && !g.ok()) return Status::NotFound();
  const uint64_t from_group = g.ok() ? std::max(idx, *g * gb) : ~uint64_t{0};
  return std::min(b.ok() ? *b : ~uint64_t{0}, from_group);
}

Result<uint64_t> Store::NextUnstoredBlock(uint64_t ino, uint64_t idx) {
  const auto u = rep_->Use();
  const uint64_t gb = rep_->group_blocks;
  for (;;) {
    auto g = FirstSizeAtOrAfter(u->db.get(), u->cf[kSizes], 'g', ino, idx / gb);
    if (!g.ok() && !g.status().IsNotFound()) return g.status();
    if (g.ok() && *g == idx / gb) {  // inside an archived group: all of it is data
      idx = (*g + 1) * gb;
      continue;
    }
    auto b = FirstSizeAtOrAfter(u->db.get(), u->cf[kSizes], 'b', ino, idx);
    if (!b.ok() && !b.status().IsNotFound()) return b.status();
    if (b.ok() && *b == idx) {
      ++idx;
      continue;
    }
    return idx;
  }
}

Status Store::ForEachSize(
    const std::function<bool(char, uint64_t, uint64_t, uint32_t, uint32_t, uint8_t)>& fn) {
  const auto u = rep_->Use();
  std::unique_ptr<rocksdb::Iterator> it(u->db->NewIterator(rocksdb::ReadOptions(), u->cf[kSizes]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const rocksdb::Slice k = it->key(), v = it->value();
    if (v.size() != kSizeRecord || k.size() < 13) continue;
    const char tag = k[0];
    const uint64_t a = LoadBE64(k.data() + 1);
    const uint64_t b = tag == 's' ? LoadBE32(k.data() + 9) : (k.size() >= 17 ? LoadBE64(k.data() + 9) : 0);
    if (!fn(tag, a, b, LoadLE32(v.data()), LoadLE32(v.data() + 4), static_cast<uint8_t>(v[8]))) break;
  }
  return FromRocks(it->status());
}

Status Store::ForEachBlockOf(uint64_t ino, const std::function<bool(uint64_t, std::string_view)>& fn) {
  const auto u = rep_->Use();
  return ScanPrefix(u->db.get(), u->cf[kBlocks], Key64(ino),
      [&](const rocksdb::Slice& k, const rocksdb::Slice& v) {
        if (k.size() != 16) return true;
        return fn(LoadBE64(k.data() + 8), std::string_view(v.data(), v.size()));
      });
}

Status Store::ForEachBlockIn(uint64_t ino, uint64_t first, uint64_t end,
                             const std::function<bool(uint64_t, std::string_view)>& fn, bool verify) {
  const auto u = rep_->Use();
  rocksdb::ReadOptions ro;
  ro.verify_checksums = verify;
  ro.fill_cache = verify;
  const std::string lo = BlockKey(ino, first), hi = BlockKey(ino, end);
  rocksdb::Slice ub(hi);
  ro.iterate_upper_bound = &ub;
  std::unique_ptr<rocksdb::Iterator> it(u->db->NewIterator(ro, u->cf[kBlocks]));
  for (it->Seek(lo); it->Valid(); it->Next()) {
    const rocksdb::Slice k = it->key();
    if (k.size() != 16) continue;
    if (!fn(LoadBE64(k.data() + 8), std::string_view(it->value().data(), it->value().size()))) break;
  }
  return FromRocks(it->status());
}

uint64_t Store::DiskBytes() {
  namespace fs = std::filesystem;
  uint64_t total = 0;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(rep_->path, ec)) {
    auto n = e.path().filename().string();
    if (e.is_regular_file(ec) && (n.ends_with(".sst") || n.ends_with(".log") || n.ends_with(".blob")))
      total += e.file_size(ec);
  }
  return total;
}

// ---- Read-only followers ----------------------------------------------------

bool Store::read_only() const { return rep_->read_only; }
bool Store::follower() const { return rep_->follow; }
uint64_t Store::catch_ups() const { return rep_->catchups.load(); }

Store::ViewRef Store::CurrentView() const {
  for (auto it = t_pins.rbegin(); it != t_pins.rend(); ++it)
    if (it->first == rep_.get()) return it->second;
  return rep_->Current();
}

Store::Pin::Pin(const Store* s, ViewRef v) : store_(s), view_(std::move(v)) {
  if (view_) t_pins.emplace_back(store_->rep_.get(), view_);
}

Store::Pin::~Pin() {
  if (!view_) return;
  // (pins nest: this one is the innermost of its store on this thread)
  for (auto it = t_pins.rbegin(); it != t_pins.rend(); ++it)
    if (it->first == store_->rep_.get() && it->second == view_) {
      t_pins.erase(std::next(it).base());
      break;
    }
}

bool Store::ViewLost(const Status& s) {
  if (s.code() == Status::Code::kStale) return true;
  if (s.code() != Status::Code::kIOError) return false;
  const std::string& m = s.message();
  return m.find("No such file or directory") != std::string::npos ||
         m.find("Stale file handle") != std::string::npos || m.find("PathNotFound") != std::string::npos;
}

Result<bool> Store::CatchUp() { return rep_->CatchUp(); }

Result<bool> Store::Rep::CatchUp() {
  if (!follow) return Status::NotSupported("only a follower (ro_follow) catches up");
  std::lock_guard<std::mutex> one(catchup_mu);
  if (StoreFiles::Of(path) == files) return false;
  StoreFiles before;
  rocksdb::DB* raw = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::Status s = OpenFollower(dbo, path, cfds, &raw, &handles, &before);
  if (s.IsBusy()) return Status::Busy("catching up with the writer of " + path + ": it kept changing its files");
  if (!s.ok()) return Status::IOError("catching up with the writer of " + path + ": " + s.ToString());
  auto fresh = std::make_shared<View>(raw, handles);
  // Still the same store (a folder replaced by another store is refused).
  const std::shared_ptr<View> cur = Current();
  for (const char* key : {"format_version", "block_size", "group_blocks"}) {
    std::string now, was;
    rocksdb::Status a = fresh->db->Get(rocksdb::ReadOptions(), fresh->cf[kMeta], key, &now);
    rocksdb::Status b = cur->db->Get(rocksdb::ReadOptions(), cur->cf[kMeta], key, &was);
    if (!a.ok() || !b.ok() || now != was)
      return Status::Corruption("catching up with the writer of " + path + ": its " + key + " record changed");
  }
  {
    std::lock_guard<std::mutex> g(view_mu);
    view = std::move(fresh);  // the old view closes when its last reader lets go
  }
  files = std::move(before);
  catchups++;
  return true;
}

// ---- FileBatch: SST files ingested at once --------------------------------------

struct Store::FileBatch::Rep {
  Store::Rep* store = nullptr;
  std::shared_ptr<View> view;
  std::string dir;
  // One SST file per column family and (sizes, recall) key tag, so that the
  // keys of each arrive in order.
  struct Stream {
    std::unique_ptr<rocksdb::SstFileWriter> w;
    std::string path;
  };
  std::map<std::pair<int, char>, Stream> streams;
  std::set<std::string> holds;  // hold keys, written at Commit (in order)
  uint64_t groups = 0, files = 0;
  bool committed = false;

  rocksdb::Status Open(int cf, char tag, Stream** out) {
    auto it = streams.find({cf, tag});
    if (it == streams.end()) {
      Stream st;
      const rocksdb::Options opts(store->dbo, store->cfds[cf].options);
      st.w = std::make_unique<rocksdb::SstFileWriter>(rocksdb::EnvOptions(), opts, view->cf[cf]);
      st.path = dir + "/" + std::to_string(files++) + ".sst";
      rocksdb::Status s = st.w->Open(st.path);
      if (!s.ok()) return s;
      it = streams.emplace(std::make_pair(cf, tag), std::move(st)).first;
    }
    *out = &it->second;
    return rocksdb::Status::OK();
  }
  static char TagOf(int cf, const rocksdb::Slice& k) {
    return (cf == kSizes || cf == kRecall) && !k.empty() ? k[0] : 0;
  }
  rocksdb::Status Put(int cf, const rocksdb::Slice& k, const rocksdb::Slice& v) {
    Stream* st;
    rocksdb::Status s = Open(cf, TagOf(cf, k), &st);
    return s.ok() ? st->w->Put(k, v) : s;
  }
  rocksdb::Status Delete(int cf, const rocksdb::Slice& k) {
    Stream* st;
    rocksdb::Status s = Open(cf, TagOf(cf, k), &st);
    return s.ok() ? st->w->Delete(k) : s;
  }
  rocksdb::Status DeleteRange(int cf, const rocksdb::Slice& b, const rocksdb::Slice& e) {
    Stream* st;
    rocksdb::Status s = Open(cf, TagOf(cf, b), &st);
    return s.ok() ? st->w->DeleteRange(b, e) : s;
  }
  Status Add(Batch& b) {
    for (const auto& op : b.rep_->ops) {
      rocksdb::Status s = ExpandOp(op, store->group_blocks, *this);
      if (!s.ok()) return Status::InvalidArgument("FileBatch (keys out of order?): " + s.ToString());
    }
    return Status::OK();
  }
};

Store::FileBatch::FileBatch(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}

Store::FileBatch::~FileBatch() {
  rep_->streams.clear();  // (closes the writers)
  std::error_code ec;
  std::filesystem::remove_all(rep_->dir, ec);
}

uint64_t Store::FileBatch::groups() const { return rep_->groups; }

Status Store::FileBatch::PutGroup(uint64_t ino, uint64_t group, std::string_view value) {
  if (rep_->committed) return Status::InvalidArgument("FileBatch: committed already");
  Batch b;
  b.PutGroup(ino, group, value);
  PMKLC_RETURN_IF_ERROR(rep_->Add(b));
  rep_->groups++;
  return Status::OK();
}

Status Store::FileBatch::DeleteBlock(uint64_t ino, uint64_t idx) {
  if (rep_->committed) return Status::InvalidArgument("FileBatch: committed already");
  Batch b;
  b.DeleteBlock(ino, idx);
  return rep_->Add(b);
}

void Store::FileBatch::PutHold(uint8_t kind, uint64_t holder, uint64_t object) {
  rep_->holds.insert(HoldKey(kind, holder, object));
}

Status Store::FileBatch::Commit() {
  if (rep_->committed) return Status::InvalidArgument("FileBatch: committed already");
  rep_->committed = true;
  for (const std::string& k : rep_->holds) {
    rocksdb::Status s = rep_->Put(kRefs, k, rocksdb::Slice());
    if (!s.ok()) return FromRocks(s);
  }
  std::map<int, rocksdb::IngestExternalFileArg> by_cf;
  for (auto& [key, st] : rep_->streams) {
    rocksdb::ExternalSstFileInfo info;
    rocksdb::Status s = st.w->Finish(&info);
    if (!s.ok()) return FromRocks(s);
    rocksdb::IngestExternalFileArg& a = by_cf[key.first];
    a.column_family = rep_->view->cf[key.first];
    a.external_files.push_back(st.path);
    a.options.move_files = true;         // (hard links: the files are in the store's folder tree)
    a.options.snapshot_consistency = true;
    a.options.allow_global_seqno = true;  // they go above everything there
    a.options.allow_blocking_flush = true;
  }
  if (by_cf.empty()) return Status::OK();
  std::vector<rocksdb::IngestExternalFileArg> args;
  for (auto& [cf, a] : by_cf) args.push_back(std::move(a));
  std::lock_guard<std::mutex> rl(rep_->store->recall_mu);  // (group changes: as Store::Write)
  return FromRocks(rep_->view->db->IngestExternalFiles(args));
}

Result<std::unique_ptr<Store::FileBatch>> Store::NewFileBatch(const std::string& dir) {
  if (rep_->read_only) return Status::ReadOnly("the store " + rep_->path + " is open read-only");
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IOError("cannot create " + dir + ": " + ec.message());
  auto rep = std::make_unique<FileBatch::Rep>();
  rep->store = rep_.get();
  rep->view = rep_->Current();
  rep->dir = dir;
  return std::unique_ptr<FileBatch>(new FileBatch(std::move(rep)));
}

}  // namespace pmklc
