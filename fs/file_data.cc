#include "fs/file_data.h"
#include "store/services/recall.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <future>
#include <system_error>
#include <thread>

#include "engine/common/guarded.h"
#include "fs/filesystem.h"

namespace pmklc {

namespace {
// Worker threads for encoding and read-ahead: one per core (at least 2, so
// that a FUSE thread and a worker overlap; at most 16).
unsigned Cores() { return std::clamp(std::thread::hardware_concurrency(), 2u, 16u); }

// Copies bytes [in, in + len) of img to dst; what img does not have (a
// short last block, a hole) reads as zeros.
void CopyOrZero(const std::string& img, size_t in, size_t len, char* dst) {
  const size_t have = img.size() > in ? std::min(len, img.size() - in) : 0;
  if (have) std::memcpy(dst, img.data() + in, have);
  if (have < len) std::memset(dst + have, 0, len - have);
}

bool AllZero(const std::string& s) {
  const char* p = s.data();
  size_t n = s.size(), i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v;
    std::memcpy(&v, p + i, 8);
    if (v) return false;
  }
  for (; i < n; ++i)
    if (p[i]) return false;
  return true;
}
}  // namespace

unsigned FileData::GroupDecodeSlots() { return std::clamp(std::thread::hardware_concurrency(), 2u, 64u); }

FileData::FileData(Store* store, const FsOptions& o)
    : store_(store),
      bs_(store->block_size()),
      gb_(store->group_blocks()),
      read_threads_(ReadThreads(o.read_threads)),
      dirty_file_limit_(o.dirty_file_bytes),
      dirty_total_limit_(o.dirty_total_bytes),
      enc_(o.encode),
      cache_bytes_(o.cache_bytes),
      cache_(o.cache_bytes),
      refs_(store, o.ref_cache_bytes),
      hooks_(o.hooks),
      recall_(o.recall),
      group_slots_(static_cast<std::ptrdiff_t>(std::min(64u, read_threads_))),
      prefetch_pool_(std::min(64u, read_threads_), 64, "prefetch"),
      pool_(Cores(), 16, "block encoder") {}

namespace {
constexpr uint64_t kPrefetchBlocks = 8;  // 1 MiB at the default block size
}

void FileData::SchedulePrefetch(const std::shared_ptr<Node>& n, uint64_t from_idx, uint64_t end_idx) {
  // Claim [from, end) so concurrent readers do not schedule the same blocks.
  uint64_t cur = n->prefetch_next.load();
  do {
    if (cur >= end_idx) return;
    from_idx = std::max(from_idx, cur);
  } while (!n->prefetch_next.compare_exchange_weak(cur, end_idx));
  const uint64_t gen = n->data_gen.load();
  const uint64_t ino = n->attr.ino;
  const Store::ViewRef view = n->view;  // (under the node's lock: it goes with gen)
  for (uint64_t idx = from_idx; idx < end_idx; ++idx) {
    if (n->dirty.count(idx) || n->pending.count(idx) || cache_.Get(ino, idx)) continue;
    if (!prefetch_pool_.TrySubmit([this, n, idx, gen, view] { Prefetch(n, idx, gen, view); })) break;
  }
}

void FileData::ScheduleGroupPrefetch(const std::shared_ptr<Node>& n, uint64_t off, uint64_t fsize, unsigned ahead,
                                     const Store::ViewRef& view) {
  // Keep the next read_threads archived groups (none with one thread)
  // decoding ahead of a sequential reader, one per prefetch thread; each
  // group is requested once per run.
  if (read_threads_ <= 1) return;
  if (ahead == 0) ahead = read_threads_;
  const uint64_t group_bytes = uint64_t{gb_} * bs_;
  // Within the cache: the sequential readers of archived files active now
  // share half of cache_size for their groups read ahead (the rest holds
  // what they are reading and everyone else's blocks), at least one each.
  ahead = std::min(ahead, AheadShare(n->attr.ino, group_bytes));
  const uint64_t gr = off / group_bytes;
  const uint64_t want_end = std::min<uint64_t>(gr + 1 + ahead, (fsize + group_bytes - 1) / group_bytes);
  uint64_t cur = n->group_prefetch_next.load();
  uint64_t from;
  do {
    from = std::max(cur, gr + 1);
    if (from >= want_end) return;
  } while (!n->group_prefetch_next.compare_exchange_weak(cur, want_end));
  const uint64_t gen = n->data_gen.load();
  const uint64_t ino = n->attr.ino;
  for (uint64_t g = from; g < want_end; ++g) {
    const uint64_t first = g * gb_;
    if (cache_.Get(ino, first)) continue;
    if (!prefetch_pool_.TrySubmit([this, n, first, gen, view] { Prefetch(n, first, gen, view, /*whole=*/true); }))
      break;
  }
}

unsigned FileData::AheadShare(uint64_t ino, uint64_t group_bytes) {
  const auto now = std::chrono::steady_clock::now();
  size_t active;
  {
    std::lock_guard<std::mutex> l(readers_mu_);
    readers_[ino] = now;
    for (auto it = readers_.begin(); it != readers_.end();)
      it = now - it->second > kReaderIdle ? readers_.erase(it) : std::next(it);
    active = readers_.size();
  }
  const uint64_t groups = cache_bytes_ / 2 / std::max<uint64_t>(group_bytes, 1);
  if (groups == 0) return 0;  // (a cache smaller than two groups: nothing ahead would stay in it)
  return static_cast<unsigned>(std::clamp<uint64_t>(groups / active, 1, read_threads_));
}

void FileData::Prefetch(const std::shared_ptr<Node>& n, uint64_t idx, uint64_t gen, const Store::ViewRef& view,
                        bool whole) {
  const uint64_t ino = n->attr.ino;  // never changes
  if (n->data_gen.load() != gen || cache_.Get(ino, idx)) return;
  Store::Pin pin(store_, view);
  // The ticket comes before the store read: if anyone changes this file's
  // stored data after it (through this node or a later one, after the
  // kernel forgot this one), the fill is refused.
  const BlockCache::Ticket t = cache_.TakeTicket();
  Fetched f;
  // A group another thread is decoding is not waited for: that would park
  // this prefetch thread instead of decoding the next group.
  if (!FetchStored(ino, idx, &f, /*wait=*/false, whole).ok()) return;  // the read reports errors itself
  if (hooks_.before_prefetch_cache) hooks_.before_prefetch_cache(ino, idx);
  std::shared_lock<std::shared_mutex> l(n->mu);
  if (n->data_gen.load() != gen) return;
  if (f.block && !n->dirty.count(idx) && !n->pending.count(idx)) cache_.Fill(ino, idx, f.block, t);
  CacheGroupLocked(n.get(), f, t);
}

// Fast tier first, then the archived group, else a hole. See file_data.h.
Status FileData::FetchStored(uint64_t ino, uint64_t idx, Fetched* f, bool wait, bool whole) {
  f->block.reset();
  f->group.clear();
  std::string value;
  Status s = store_->GetBlock(ino, idx, &value);
  if (s.ok()) {
    std::string raw;
    s = DecodeBlock(value, &raw);
    if (!s.ok()) return BadBlock(ino, idx, s);
    f->block = std::make_shared<const std::string>(std::move(raw));
    return Status::OK();
  }
  if (!s.IsNotFound()) return s;
  const uint64_t g = idx / gb_;
  // The recall tier: this block alone, a fast decode (recall.h says when
  // an entry is served).
  if (recall_) {
    auto hit = recall_->Lookup(ino, idx, g);
    if (hit.ok()) {
      f->block = *hit;
      return Status::OK();
    }
  }
  // (before the store read: the decoded blocks are cached unless the
  // file's stored data changes after it)
  const BlockCache::Ticket ticket = cache_.TakeTicket();
  Status gs = store_->GetGroup(ino, g, &value);
  if (gs.IsNotFound()) return Status::OK();  // a hole
  if (!gs.ok()) return gs;
  // A split group (docs/format.md §split): a read decodes only the part
  // that holds its block.
  std::vector<BlockPart> parts;
  auto hdr = ParseBlockHeader(value);
  if (!whole && hdr.ok() && hdr->codec == CodecId::kSplit && AlignedParts(value, &parts)) {
    const uint64_t at = (idx - g * gb_) * bs_;
    for (const BlockPart& p : parts) {
      if (at < p.offset || at >= p.offset + p.raw_len) continue;
      auto raw = DecodePart(ino, g, hdr->checksum, p, ticket, wait);
      if (!raw.ok()) return raw.status();
      f->from_group = true;
      SliceInto(**raw, g * gb_ + p.offset / bs_, idx, f);
      return Status::OK();
    }
    return Status::OK();  // past the group's bytes: a hole, as for a whole group
  }
  auto raw = DecodeGroupValue(ino, g, ticket, std::move(value), wait);
  if (!raw.ok()) return raw.status().IsNotFound() ? Status::OK() : raw.status();
  f->from_group = true;
  SliceInto(**raw, g * gb_, idx, f);
  return Status::OK();
}

void FileData::SliceInto(const std::string& r, uint64_t first, uint64_t idx, Fetched* f) const {
  for (uint64_t j = 0; j * bs_ < r.size(); ++j) {
    auto img = std::make_shared<const std::string>(r, j * bs_, std::min<size_t>(bs_, r.size() - j * bs_));
    if (first + j == idx) f->block = img;
    else f->group.emplace_back(first + j, std::move(img));
  }
}

bool FileData::AlignedParts(std::string_view value, std::vector<BlockPart>* parts) const {
  if (!BlockParts(value, parts).ok()) return false;  // (decoding it whole reports the damage)
  for (const BlockPart& p : *parts)
    if (p.offset % bs_ != 0 || p.offset + p.raw_len > uint64_t{gb_} * bs_) return false;
  return true;
}

// Blocks [first, first + len / bs) of the cache, if every one is there with
// the right length and together they make raw bytes of this checksum.
std::shared_ptr<const std::string> FileData::FromCache(uint64_t ino, uint64_t first, uint64_t len,
                                                       uint64_t checksum) {
  std::string raw;
  for (uint64_t j = 0; j * bs_ < len; ++j) {
    auto c = cache_.Get(ino, first + j);
    if (c == nullptr || c->size() != std::min<uint64_t>(bs_, len - j * bs_)) return nullptr;
    raw += *c;
  }
  if (raw.size() != len || BlockChecksum(raw) != checksum) return nullptr;
  return std::make_shared<const std::string>(std::move(raw));
}

// A block value decoded under a group decode slot (reference segments
// first, side by side, before the slot: they decode on threads of their own).
Status FileData::DecodeArchived(uint64_t ino, uint64_t g, std::string_view value, std::string* raw) {
  std::vector<RefSegmentKey> deps;
  Status s = BlockRefs(value, &deps);
  if (s.ok() && !deps.empty()) refs_.Prefetch(deps);
  // Context-model decoders hold 0.1-0.4 GiB each: at most one per core at a time.
  struct Slot {
    std::counting_semaphore<64>& sem;
    explicit Slot(std::counting_semaphore<64>& x) : sem(x) { sem.acquire(); }
    ~Slot() { sem.release(); }
  };
  if (s.ok()) {
    Slot slot(group_slots_);
    if (hooks_.before_group_decode) hooks_.before_group_decode(ino, g);
    s = Guarded("decoding an archived group", [&] { return DecodeBlock(value, raw, nullptr, &refs_); });
  }
  return s;
}

void FileData::CacheDecoded(uint64_t ino, uint64_t first, const std::string& r, BlockCache::Ticket ticket) {
  // Cached at once, so that a read-ahead arriving after this decode and
  // before its reader caches the blocks does not decode them again.
  for (uint64_t j = 0; j * bs_ < r.size(); ++j)
    cache_.Fill(ino, first + j, std::make_shared<const std::string>(r, j * bs_, std::min<size_t>(bs_, r.size() - j * bs_)),
                ticket);
}

Result<std::shared_ptr<const std::string>> FileData::DecodePart(uint64_t ino, uint64_t g, uint64_t group_checksum,
                                                                const BlockPart& p, BlockCache::Ticket ticket,
                                                                bool wait) {
  using R = Result<std::shared_ptr<const std::string>>;
  const uint64_t first = g * gb_ + p.offset / bs_;
  // Keyed by what the part decodes to, as a whole group's decode is.
  const PartKey key{ino, g, p.offset, p.checksum};
  std::optional<R> r = part_decodes_.Do(key, [&]() -> R {
    if (auto c = FromCache(ino, first, p.raw_len, p.checksum)) return c;
    std::string raw;
    Status s = DecodeArchived(ino, g, p.value, &raw);
    if (!s.ok()) {
      spdlog::error("inode {} archived group {} part at byte {}: {} — returning EIO", ino, g, p.offset, s.ToString());
      return Status::Corruption("inode " + std::to_string(ino) + " archived group " + std::to_string(g) +
                                " part at byte " + std::to_string(p.offset) + ": " + s.message());
    }
    auto out = std::make_shared<const std::string>(std::move(raw));
    CacheDecoded(ino, first, *out, ticket);
    if (recall_) recall_->Offer(ino, g, group_checksum, first, *out);
    return out;
  }, wait);
  if (!r) return Status::Busy("group decode in progress");
  return *r;
}

Result<std::shared_ptr<const std::string>> FileData::DecodeGroup(uint64_t ino, uint64_t g, bool wait) {
  // (before the store read: see DecodeGroupValue)
  const BlockCache::Ticket ticket = cache_.TakeTicket();
  std::string value;
  Status gs = store_->GetGroup(ino, g, &value);
  if (!gs.ok()) return gs;
  return DecodeGroupValue(ino, g, ticket, std::move(value), wait);
}

Result<std::shared_ptr<const std::string>> FileData::DecodeGroupValue(uint64_t ino, uint64_t g,
                                                                      BlockCache::Ticket ticket, std::string value,
                                                                      bool wait) {
  using R = Result<std::shared_ptr<const std::string>>;
  // Concurrent readers of one stored value share one decode. The key names
  // what the value decodes to (its header's checksum of the raw bytes), so a
  // reader never joins a decode of an older value of the group (an explode,
  // a write and a new archive pass may have replaced it while that decode
  // ran). A value without a valid header fails in DecodeBlock below.
  auto hdr = ParseBlockHeader(value);
  const GroupKey key{ino, g, hdr.ok() ? hdr->checksum : BlockChecksum(value)};
  std::optional<R> r = group_decodes_.Do(key, [&]() -> R {
    // Every block of it cached already (a decode that just finished cached
    // them; a read-ahead may arrive after it): the same bytes, checked
    // against the group's checksum, without decoding again.
    if (hdr.ok())
      if (auto c = FromCache(ino, g * gb_, hdr->raw_len, hdr->checksum)) return c;
    // A split group: part by part, each shared with the readers of that
    // part and cached as it is decoded; then the whole checked.
    std::vector<BlockPart> parts;
    if (hdr.ok() && hdr->codec == CodecId::kSplit && AlignedParts(value, &parts)) {
      std::string raw;
      raw.reserve(hdr->raw_len);
      for (const BlockPart& p : parts) {
        auto part = DecodePart(ino, g, hdr->checksum, p, ticket, /*wait=*/true);
        if (!part.ok()) return part.status();
        raw += **part;
      }
      if (raw.size() != hdr->raw_len || BlockChecksum(raw) != hdr->checksum) {
        spdlog::error("inode {} archived group {}: its parts do not make its checksum — returning EIO", ino, g);
        return Status::Corruption("inode " + std::to_string(ino) + " archived group " + std::to_string(g) +
                                  ": its parts do not make its checksum");
      }
      return std::make_shared<const std::string>(std::move(raw));
    }
    std::string raw;
    Status s = DecodeArchived(ino, g, value, &raw);
    if (!s.ok()) {
      spdlog::error("inode {} archived group {}: {} — returning EIO", ino, g, s.ToString());
      return Status::Corruption("inode " + std::to_string(ino) + " archived group " + std::to_string(g) +
                                ": " + s.message());
    }
    auto out = std::make_shared<const std::string>(std::move(raw));
    CacheDecoded(ino, g * gb_, *out, ticket);
    if (recall_ && hdr.ok()) recall_->Offer(ino, g, hdr->checksum, g * gb_, *out);
    return out;
  }, wait);
  if (!r) return Status::Busy("group decode in progress");  // another thread is decoding it
  return *r;
}

void FileData::CacheGroupLocked(Node* n, const Fetched& f, BlockCache::Ticket t) {
  for (auto& [j, img] : f.group)
    if (!n->dirty.count(j) && !n->pending.count(j)) cache_.Fill(n->attr.ino, j, img, t);
}

Status FileData::BadBlock(uint64_t ino, uint64_t idx, const Status& s) {
  spdlog::error("inode {} block {}: {} — returning EIO", ino, idx, s.ToString());
  return Status::Corruption("inode " + std::to_string(ino) + " block " + std::to_string(idx) + ": " +
                            s.message());
}

void FileData::PlanExplodeLocked(Node* n, uint64_t first_idx, uint64_t last_idx, Predecoded* p) {
  p->ticket = cache_.TakeTicket();
  p->groups.clear();
  for (uint64_t g = first_idx / gb_; g <= last_idx / gb_; ++g)
    if (n->fast_group != g + 1) p->groups.emplace(g, nullptr);
}

void FileData::PredecodeGroups(uint64_t ino, Predecoded* p) {
  for (auto it = p->groups.begin(); it != p->groups.end();) {
    auto raw = DecodeGroup(ino, it->first);
    if (raw.ok()) {
      it->second = *raw;
      ++it;
    } else if (raw.status().IsNotFound()) {
      ++it;  // fast tier: nullptr
    } else {
      it = p->groups.erase(it);  // the explode decodes it again and reports the error
    }
  }
}

Status FileData::ExplodeGroupLocked(Node* n, uint64_t g, const Predecoded* pre) {
  const uint64_t ino = n->attr.ino;
  std::shared_ptr<const std::string> decoded;
  auto pg = pre ? pre->groups.find(g) : decltype(pre->groups.end()){};
  if (pre && pg != pre->groups.end()) {
    // Decoded before the lock, and the caller checked that nothing changed
    // the file's stored data since: the group is still archived (or still
    // not) with these bytes.
    if (!pg->second) return Status::OK();
    decoded = pg->second;
  } else {
    auto raw = DecodeGroup(ino, g);
    if (!raw.ok()) return raw.status().IsNotFound() ? Status::OK() : raw.status();
    decoded = *raw;
  }
  // Recode the group's blocks for the fast tier and swap them in atomically,
  // so the group is never without a valid copy.
  const std::string& r = *decoded;
  Store::Batch b;
  for (uint64_t j = 0; j < gb_ && j * bs_ < r.size(); ++j) {
    std::string img(r, j * bs_, std::min<size_t>(bs_, r.size() - j * bs_));
    if (AllZero(img)) continue;
    std::string value;
    PMKLC_RETURN_IF_ERROR(EncodeBlock(img, enc_, &value));
    b.PutBlock(ino, g * gb_ + j, value);
  }
  b.DeleteGroup(ino, g);
  b.PutPending(ino);
  PMKLC_RETURN_IF_ERROR(store_->Write(b, false));
  n->data_gen++;
  cache_.Invalidate(ino);
  return Status::OK();
}

Status FileData::EnsureFastTierLocked(Node* n, uint64_t idx, const Predecoded* pre) {
  const uint64_t g = idx / gb_;
  if (n->fast_group == g + 1) return Status::OK();  // checked since the last archive commit
  PMKLC_RETURN_IF_ERROR(ExplodeGroupLocked(n, g, pre));
  n->fast_group = g + 1;
  return Status::OK();
}

FileData::~FileData() = default;

Status FileData::LoadImage(Node* n, uint64_t idx, std::string* out) {
  const uint64_t ino = n->attr.ino;
  const uint64_t start = idx * bs_;
  const uint64_t limit = n->attr.size > start ? std::min<uint64_t>(bs_, n->attr.size - start) : 0;
  out->clear();
  if (limit == 0) return Status::OK();
  auto p = n->pending.find(idx);
  if (p != n->pending.end()) {
    out->assign(*p->second, 0, std::min<size_t>(p->second->size(), limit));
  } else if (auto c = cache_.Get(ino, idx)) {
    out->assign(*c, 0, std::min<size_t>(c->size(), limit));
  } else {
    const BlockCache::Ticket t = cache_.TakeTicket();
    Fetched f;
    PMKLC_RETURN_IF_ERROR(FetchStored(ino, idx, &f));
    CacheGroupLocked(n, f, t);
    if (!f.block) {
      out->assign(limit, '\0');
      return Status::OK();
    }
    cache_.Fill(ino, idx, f.block, t);
    out->assign(*f.block, 0, std::min<size_t>(f.block->size(), limit));
  }
  if (out->size() < limit) out->resize(limit, '\0');
  return Status::OK();
}

void FileData::PlanReadLocked(Node* n, uint64_t off, size_t size, ReadPlan* plan) {
  plan->ticket = cache_.TakeTicket();
  plan->missing.clear();
  plan->fetched.clear();
  plan->error = Status::OK();
  plan->view = n->view;
  const uint64_t fsize = n->attr.size;
  if (off >= fsize || size == 0) return;
  const uint64_t end = off + std::min<uint64_t>(size, fsize - off);
  for (uint64_t idx = off / bs_; idx * bs_ < end; ++idx)
    if (!n->dirty.count(idx) && !n->pending.count(idx) && !cache_.Get(n->attr.ino, idx))
      plan->missing.push_back(idx);
}

void FileData::StartRead(const std::shared_ptr<Node>& n, uint64_t off, uint64_t fsize, const ReadPlan& plan) {
  const uint64_t group_bytes = uint64_t{gb_} * bs_;
  // (only a read of the file's first bytes: a region read anywhere else in
  // the first group, samtools faidx say, is not the start of a scan)
  if (plan.missing.empty() || off != 0 || read_threads_ <= 1 || n->archived_seen.load() ||
      n->last_read_end.load() != ~uint64_t{0})
    return;
  // Archived? Its group's recall version says so without reading the group
  // (groups archived before the recall tier: found by the first read instead).
  Store::Pin pin(store_, plan.view);
  if (!store_->GetRecallVersion(n->attr.ino, off / group_bytes).ok()) return;
  n->archived_seen = true;
  // (read_threads - 1 ahead: this reader decodes its own group meanwhile)
  ScheduleGroupPrefetch(n, off, fsize, read_threads_ - 1, plan.view);
}

void FileData::FetchForRead(uint64_t ino, ReadPlan* plan) {
  Store::Pin pin(store_, plan->view);
  for (uint64_t idx : plan->missing) {
    if (plan->fetched.count(idx)) continue;  // decoded with an earlier block's group
    Fetched f;
    Status s = FetchStored(ino, idx, &f);
    if (!s.ok()) {
      plan->error = s;
      return;
    }
    for (auto& [j, img] : f.group) {
      Fetched& o = plan->fetched[j];
      o.block = img;
      o.from_group = true;
    }
    f.group.clear();  // each is cached from its own entry
    plan->fetched[idx] = std::move(f);
  }
}

Result<size_t> FileData::ReadLocked(const std::shared_ptr<Node>& np, uint64_t off, size_t size, char* buf,
                                    ReadPlan* plan) {
  Node* n = np.get();
  const uint64_t fsize = n->attr.size;
  if (off >= fsize || size == 0) return size_t{0};
  size = static_cast<size_t>(std::min<uint64_t>(size, fsize - off));
  const uint64_t ino = n->attr.ino;
  if (plan && !plan->error.ok() && cache_.Valid(ino, plan->ticket)) return plan->error;
  Store::Pin pin(store_, n->view);  // (a follower's: the view its size came from)
  // Sequential, allowing for the kernel's readahead requests arriving out of
  // order on several FUSE threads.
  const uint64_t last = n->last_read_end.exchange(off + size);
  const uint64_t slack = uint64_t{4} * bs_;
  const bool sequential = last != ~uint64_t{0} && off + slack >= last && off <= last + slack;
  if (sequential) {
    uint64_t next = (off + size + bs_ - 1) / bs_;
    uint64_t end = std::min<uint64_t>(next + kPrefetchBlocks, (fsize + bs_ - 1) / bs_);
    if (next < end) SchedulePrefetch(np, next, end);
    if (n->archived_seen.load()) ScheduleGroupPrefetch(np, off, fsize, 0, n->view);
  } else {
    n->prefetch_next = 0;  // random access: a later sequential run starts afresh
    n->group_prefetch_next = 0;
  }
  size_t done = 0;
  while (done < size) {
    uint64_t pos = off + done;
    uint64_t idx = pos / bs_;
    size_t in = static_cast<size_t>(pos % bs_);
    size_t len = std::min<size_t>(bs_ - in, size - done);
    auto d = n->dirty.find(idx);
    if (d != n->dirty.end()) {
      CopyOrZero(d->second, in, len, buf + done);
    } else if (auto p = n->pending.find(idx); p != n->pending.end()) {
      CopyOrZero(*p->second, in, len, buf + done);
    } else if (auto c = cache_.Get(ino, idx)) {
      CopyOrZero(*c, in, len, buf + done);
    } else {
      // What FetchForRead fetched without the lock, if the file's stored
      // data has not changed since; else the store, under the lock.
      Fetched local;
      const Fetched* fp = nullptr;
      BlockCache::Ticket t;
      auto pf = plan ? plan->fetched.find(idx) : decltype(plan->fetched.end()){};
      if (plan && pf != plan->fetched.end() && cache_.Valid(ino, plan->ticket)) {
        fp = &pf->second;
        t = plan->ticket;
      } else {
        t = cache_.TakeTicket();
        PMKLC_RETURN_IF_ERROR(FetchStored(ino, idx, &local));
        fp = &local;
      }
      const Fetched& f = *fp;
      CacheGroupLocked(n, f, t);
      if (f.from_group && !n->archived_seen.load()) {
        n->archived_seen = true;
        if (sequential) ScheduleGroupPrefetch(np, off, fsize, 0, n->view);
      }
      if (!f.block) {
        std::memset(buf + done, 0, len);
      } else {
        CopyOrZero(*f.block, in, len, buf + done);
        cache_.Fill(ino, idx, f.block, t);
      }
    }
    done += len;
  }
  return size;
}

void FileData::SetDirty(Node* n, uint64_t idx, std::string img) {
  auto it = n->dirty.find(idx);
  if (it != n->dirty.end()) {
    n->dirty_bytes -= size_t{bs_};
    total_dirty_ -= size_t{bs_};
    it->second = std::move(img);
    n->dirty_bytes += size_t{bs_};
    total_dirty_ += size_t{bs_};
  } else {
    n->dirty_bytes += size_t{bs_};
    total_dirty_ += size_t{bs_};
    n->dirty.emplace(idx, std::move(img));
  }
}

Result<size_t> FileData::WriteLocked(const std::shared_ptr<Node>& np, uint64_t off, const char* data,
                                     size_t size, const Predecoded* pre) {
  Node* n = np.get();
  if (!n->async_error.ok()) {
    Status e = n->async_error;
    n->async_error = Status::OK();
    return e;
  }
  if (size == 0) return size_t{0};
  if (off + size > format::kMaxFileSize || off + size < off) return Status::TooBig("file too large");
  n->data_gen++;
  const uint64_t ino = n->attr.ino;
  // Every archived group the write touches goes back to the fast tier before
  // any block changes: a changed block invalidates the ticket that lets
  // the explode use what was decoded before the lock (Predecoded).
  // (The ticket is checked once, here: an explode changes how the bytes are
  // stored, not the bytes, and nothing else can change them under the lock.)
  const Predecoded* valid = pre && cache_.Valid(ino, pre->ticket) ? pre : nullptr;
  for (uint64_t g = off / bs_ / gb_; g <= (off + size - 1) / bs_ / gb_; ++g)
    PMKLC_RETURN_IF_ERROR(EnsureFastTierLocked(n, g * gb_, valid));
  std::vector<uint64_t> complete;
  size_t done = 0;
  while (done < size) {
    uint64_t pos = off + done;
    uint64_t idx = pos / bs_;
    size_t in = static_cast<size_t>(pos % bs_);
    size_t len = std::min<size_t>(bs_ - in, size - done);
    auto it = n->dirty.find(idx);
    bool fresh = false;
    if (it == n->dirty.end()) {
      std::string img;
      if (in == 0 && len == bs_) {
        img.assign(data + done, len);  // whole block: one copy, no zero-fill
        fresh = true;
      } else {
        PMKLC_RETURN_IF_ERROR(LoadImage(n, idx, &img));
        img.reserve(bs_);
      }
      DropPendingAt(n, idx);  // this write supersedes a queued image
      cache_.Erase(ino, idx);
      n->dirty_bytes += size_t{bs_};
      total_dirty_ += size_t{bs_};
      it = n->dirty.emplace(idx, std::move(img)).first;
    }
    std::string& img = it->second;
    if (!fresh) {
      if (img.size() < in + len) img.resize(in + len, '\0');
      std::memcpy(img.data() + in, data + done, len);
    }
    if (in + len == bs_) complete.push_back(idx);
    done += len;
  }
  if (off + size > n->attr.size) n->attr.size = off + size;
  n->attr_dirty = true;
  std::vector<uint64_t> sync_store;
  for (uint64_t idx : complete)
    if (!SubmitLocked(np, idx)) sync_store.push_back(idx);
  if (!sync_store.empty()) PMKLC_RETURN_IF_ERROR(StoreBlocks(n, sync_store, false));
  if (n->dirty_bytes > dirty_file_limit_ || total_dirty_.load() > dirty_total_limit_) {
    // Store this file's partial blocks synchronously (pending ones are on their way).
    std::vector<uint64_t> idxs;
    for (auto& [idx, img] : n->dirty) idxs.push_back(idx);
    if (!idxs.empty()) PMKLC_RETURN_IF_ERROR(StoreBlocks(n, idxs, false));
  }
  return size;
}

Status FileData::EncodeInto(Node* n, const std::vector<uint64_t>& idxs, Store::Batch* b) {
  const uint64_t ino = n->attr.ino;
  std::vector<std::string> values(idxs.size());
  std::vector<Status> st(idxs.size());
  std::vector<char> hole(idxs.size(), 0);
  auto work = [&](size_t from, size_t step) {
    for (size_t i = from; i < idxs.size(); i += step) {
      const std::string& img = n->dirty.at(idxs[i]);
      if (img.empty() || AllZero(img)) { hole[i] = 1; continue; }
      st[i] = EncodeBlock(img, enc_, &values[i]);
    }
  };
  // Blocks of one flush encode on one thread per core (this one and
  // helpers): a sequential writer otherwise keeps only one busy.
  const size_t nt = std::min<size_t>(Cores(), idxs.size());
  std::vector<std::thread> helpers;
  for (size_t t = 1; t < nt; ++t) {
    try {
      helpers.emplace_back(work, t, nt);
    } catch (const std::system_error&) {
      for (size_t u = t; u < nt; ++u) work(u, nt);  // no thread: do its share here
      break;
    }
  }
  work(0, std::max<size_t>(nt, 1));
  for (auto& h : helpers) h.join();
  for (size_t i = 0; i < idxs.size(); ++i) {
    PMKLC_RETURN_IF_ERROR(st[i]);
    if (hole[i]) b->DeleteBlock(ino, idxs[i]);
    else b->PutBlock(ino, idxs[i], values[i]);
  }
  b->PutPending(ino);  // new fast-tier data for the archiver
  return Status::OK();
}

Status FileData::StoreBlocks(Node* n, const std::vector<uint64_t>& idxs, bool sync) {
  n->data_gen++;
  Store::Batch b;
  PMKLC_RETURN_IF_ERROR(EncodeInto(n, idxs, &b));
  b.PutInode(n->attr);
  PMKLC_RETURN_IF_ERROR(store_->Write(b, sync));
  n->attr_dirty = false;
  const uint64_t ino = n->attr.ino;
  for (uint64_t idx : idxs) {
    auto it = n->dirty.find(idx);
    n->dirty_bytes -= size_t{bs_};
    total_dirty_ -= size_t{bs_};
    std::string img = std::move(it->second);
    n->dirty.erase(it);
    if (img.size() == bs_) cache_.Put(ino, idx, std::make_shared<const std::string>(std::move(img)));
    else cache_.Erase(ino, idx);
  }
  return Status::OK();
}

bool FileData::SubmitLocked(const std::shared_ptr<Node>& n, uint64_t idx) {
  auto it = n->dirty.find(idx);
  auto img = std::make_shared<const std::string>(std::move(it->second));
  // Accounting moves with the bytes: still counted until the job finishes.
  n->dirty.erase(it);
  n->pending[idx] = img;
  n->inflight++;
  bool ok = pool_.TrySubmit([this, n, idx, img] { RunJob(n, idx, img); });
  if (!ok) {
    n->inflight--;
    n->pending.erase(idx);
    n->dirty.emplace(idx, *img);
  }
  return ok;
}

void FileData::RunJob(const std::shared_ptr<Node>& n, uint64_t idx, std::shared_ptr<const std::string> img) {
  std::string value;
  const bool hole = img->empty() || AllZero(*img);
  // An exception here (a bug, or memory) fails this block's store only: the
  // image stays in memory and the next write, flush or fsync reports it.
  Status s = hole ? Status::OK() : Guarded("block encoder", [&]() -> Status {
    if (hooks_.before_block_encode) hooks_.before_block_encode(n->attr.ino, idx);
    return EncodeBlock(*img, enc_, &value);
  });
  std::unique_lock<std::shared_mutex> l(n->mu);
  auto it = n->pending.find(idx);
  if (it != n->pending.end() && it->second == img) {
    n->data_gen++;
    if (s.ok()) {
      Store::Batch b;
      if (hole) b.DeleteBlock(n->attr.ino, idx);
      else b.PutBlock(n->attr.ino, idx, value);
      b.PutPending(n->attr.ino);
      b.PutInode(n->attr);
      s = store_->Write(b, false);
    }
    n->pending.erase(it);
    if (s.ok()) {
      n->attr_dirty = false;
      if (img->size() == bs_) cache_.Put(n->attr.ino, idx, img);
      n->dirty_bytes -= size_t{bs_};
      total_dirty_ -= size_t{bs_};
    } else {
      spdlog::error("inode {} block {}: background store failed: {} (data kept in memory)",
                    n->attr.ino, idx, s.ToString());
      if (n->async_error.ok()) n->async_error = s;
      if (!n->dirty.count(idx)) n->dirty.emplace(idx, *img);
      else { n->dirty_bytes -= size_t{bs_}; total_dirty_ -= size_t{bs_}; }
    }
  } else {
    // Superseded by a newer image, a truncate or a purge: whoever replaced it
    // took over the accounting.
  }
  n->inflight--;
  n->idle.notify_all();
}

void FileData::DropPendingAt(Node* n, uint64_t idx) {
  auto it = n->pending.find(idx);
  if (it == n->pending.end()) return;
  n->dirty_bytes -= bs_;
  total_dirty_ -= bs_;
  n->pending.erase(it);
}

void FileData::DropPendingFrom(Node* n, uint64_t from_idx) {
  for (auto it = n->pending.lower_bound(from_idx); it != n->pending.end();) {
    n->dirty_bytes -= size_t{bs_};
    total_dirty_ -= size_t{bs_};
    it = n->pending.erase(it);
  }
}

Status FileData::FlushLocked(Node* n, std::unique_lock<std::shared_mutex>& l, bool sync) {
  n->idle.wait(l, [n] { return n->inflight == 0; });
  if (!n->async_error.ok()) {
    Status e = n->async_error;
    n->async_error = Status::OK();
    return e;
  }
  if (n->dirty.empty()) {
    if (n->attr_dirty) {
      Store::Batch b;
      b.PutInode(n->attr);
      PMKLC_RETURN_IF_ERROR(store_->Write(b, sync));
      n->attr_dirty = false;
      return Status::OK();
    }
    return sync ? store_->SyncWAL() : Status::OK();
  }
  std::vector<uint64_t> idxs;
  idxs.reserve(n->dirty.size());
  for (auto& [idx, img] : n->dirty) idxs.push_back(idx);
  return StoreBlocks(n, idxs, sync);
}

Status FileData::TruncateLocked(Node* n, uint64_t new_size, Store::Batch* b, const Predecoded* pre) {
  if (new_size > format::kMaxFileSize) return Status::TooBig("file too large");
  const uint64_t ino = n->attr.ino;
  const uint64_t old = n->attr.size;
  n->data_gen++;
  n->prefetch_next = 0;
  if (new_size < old) {
    uint64_t keep = (new_size + bs_ - 1) / bs_;  // blocks [0, keep) remain
    // An archived group that straddles the new end goes back to the fast tier
    // first: groups never hold bytes past the end of the file.
    if (keep % gb_)
      PMKLC_RETURN_IF_ERROR(EnsureFastTierLocked(n, keep - 1, pre && cache_.Valid(ino, pre->ticket) ? pre : nullptr));
    // Drop dirty blocks past the end.
    for (auto it = n->dirty.lower_bound(keep); it != n->dirty.end();) {
      n->dirty_bytes -= size_t{bs_};
      total_dirty_ -= size_t{bs_};
      it = n->dirty.erase(it);
    }
    DropPendingFrom(n, keep);
    b->DeleteBlocksFrom(ino, keep);
    cache_.EraseFrom(ino, keep);
    if (new_size % bs_) {
      uint64_t last = new_size / bs_;
      size_t tail = static_cast<size_t>(new_size % bs_);
      auto it = n->dirty.find(last);
      if (it != n->dirty.end()) {
        if (it->second.size() > tail) it->second.resize(tail);
      } else {
        std::string img;
        PMKLC_RETURN_IF_ERROR(LoadImage(n, last, &img));
        if (img.size() > tail) img.resize(tail);
        cache_.Erase(ino, last);
        DropPendingFrom(n, last);  // its job, if any, is superseded
        SetDirty(n, last, std::move(img));
      }
      // Store the shortened block in the same batch, so the truncation is atomic.
      std::vector<uint64_t> one{last};
      PMKLC_RETURN_IF_ERROR(EncodeInto(n, one, b));
      auto d = n->dirty.find(last);
      n->dirty_bytes -= size_t{bs_};
      total_dirty_ -= size_t{bs_};
      n->dirty.erase(d);
      cache_.Erase(ino, last);
    }
  }
  n->attr.size = new_size;
  return Status::OK();
}

void FileData::DropLocked(Node* n) {
  n->data_gen++;
  DropPendingFrom(n, 0);
  total_dirty_ -= n->dirty.size() * size_t{bs_};
  n->dirty.clear();
  n->dirty_bytes = 0;
  cache_.EraseFrom(n->attr.ino, 0);
}

}  // namespace pmklc
