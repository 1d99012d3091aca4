#include "store/services/store_refs.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <system_error>
#include <thread>

#include "engine/codec/endian.h"

namespace pmklc {

// ---- RefObjectRecord -----------------------------------------------------------

std::string RefObjectRecord::Serialize() const {
  std::string out(1 + 1 + 4 + 8 + 8 + 8, '\0');
  out[0] = static_cast<char>(format::kRefObjectVersion);
  out[1] = static_cast<char>(depth);
  StoreLE32(out.data() + 2, segments);
  StoreLE64(out.data() + 6, bases);
  StoreLE64(out.data() + 14, raw_bytes);
  StoreLE64(out.data() + 22, source_ino);
  out += sketch;
  return out;
}

Result<RefObjectRecord> RefObjectRecord::Parse(std::string_view in) {
  if (in.size() < 30 || static_cast<uint8_t>(in[0]) != format::kRefObjectVersion)
    return Status::Corruption("reference object record: unknown version or truncated");
  RefObjectRecord r;
  r.depth = static_cast<uint8_t>(in[1]);
  r.segments = LoadLE32(in.data() + 2);
  r.bases = LoadLE64(in.data() + 6);
  r.raw_bytes = LoadLE64(in.data() + 14);
  r.source_ino = LoadLE64(in.data() + 22);
  r.sketch.assign(in.substr(30));
  return r;
}

StoreRefs::StoreRefs(Store* store, size_t cache_bytes) : store_(store), cache_bytes_(cache_bytes) {}

void StoreRefs::Insert(const Key& k, std::shared_ptr<const RefSegment> seg) {
  const size_t sz = seg->raw.size() + seg->codes.size();
  if (sz > cache_bytes_ || cache_.count(k)) return;
  lru_.push_front(k);
  cache_.emplace(k, Entry{std::move(seg), lru_.begin()});
  used_ += sz;
  while (used_ > cache_bytes_ && !lru_.empty()) {
    auto it = cache_.find(lru_.back());
    used_ -= it->second.seg->raw.size() + it->second.seg->codes.size();
    cache_.erase(it);
    lru_.pop_back();
  }
}

void StoreRefs::Seed(const RefSegmentKey& key, std::shared_ptr<const RefSegment> seg) {
  std::lock_guard<std::mutex> l(mu_);
  Insert({key.object, key.segment}, std::move(seg));
}

void StoreRefs::Forget(uint64_t object) {
  std::lock_guard<std::mutex> l(mu_);
  for (auto it = cache_.lower_bound({object, 0}); it != cache_.end() && it->first.first == object;) {
    used_ -= it->second.seg->raw.size() + it->second.seg->codes.size();
    lru_.erase(it->second.pos);
    it = cache_.erase(it);
  }
}

std::shared_ptr<const RefSegment> StoreRefs::Cached(const Key& k) {
  std::lock_guard<std::mutex> l(mu_);
  auto c = cache_.find(k);
  if (c == cache_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, c->second.pos);
  return c->second.seg;
}

Result<std::shared_ptr<const RefSegment>> StoreRefs::Get(const RefSegmentKey& key) {
  const Key k{key.object, key.segment};
  if (auto seg = Cached(k)) return seg;  // DecodeBlock checks it against key.checksum
  return *decodes_.Do(k, [&]() -> R {
    // A decode that ended between the lookup above and this call cached it.
    if (auto seg = Cached(k)) return seg;
    R r = Status::NoMemory("out of memory decoding a reference segment");
    try {
      r = Load(key);
    } catch (const std::bad_alloc& e) {  // the model tables or the prime
      r = Status::NoMemory(std::string("decoding a reference segment: ") + e.what());
    }
    if (r.ok()) {  // before the call ends, so that no later caller decodes it again
      std::lock_guard<std::mutex> l(mu_);
      Insert(k, *r);
    }
    return r;
  });
}

StoreRefs::R StoreRefs::Load(const RefSegmentKey& key) {
  std::string value;
  Status s = store_->GetRefSegment(key.object, key.segment, &value);
  if (s.IsNotFound())
    return Status::NotFound("reference segment " + std::to_string(key.object) + "/" + std::to_string(key.segment));
  if (!s.ok()) return s;
  auto h = ParseBlockHeader(value);
  if (!h.ok()) return h.status();
  if (h->checksum != key.checksum)
    return Status::Corruption("reference segment " + std::to_string(key.object) + "/" +
                              std::to_string(key.segment) + " is not the one the block names");
  // A segment may itself depend on others (an object made from a file coded
  // against references): those first, side by side. Objects only depend on
  // objects of smaller depth (their records say), so a damaged store cannot
  // make a read wait on itself.
  std::vector<RefSegmentKey> deps;
  PMKLC_RETURN_IF_ERROR(BlockRefs(value, &deps));
  if (!deps.empty()) {
    auto depth = [&](uint64_t object) -> int {
      std::string rec;
      if (!store_->GetRefObject(object, &rec).ok()) return -1;
      auto r = RefObjectRecord::Parse(rec);
      return r.ok() ? r->depth : -1;
    };
    const int mine_depth = depth(key.object);
    for (const RefSegmentKey& d : deps) {
      const int dd = depth(d.object);
      if (mine_depth < 0 || dd < 0 || dd >= mine_depth)
        return Status::Corruption("reference segment " + std::to_string(key.object) + "/" +
                                  std::to_string(key.segment) + " depends on object " + std::to_string(d.object) +
                                  ", which is missing or not shallower (damaged store)");
    }
  }
  Prefetch(deps);
  auto seg = std::make_shared<RefSegment>();
  s = DecodeBlock(value, &seg->raw, nullptr, this);
  if (!s.ok()) {
    spdlog::error("reference segment {}/{}: {}", key.object, key.segment, s.ToString());
    return s;
  }
  seg->codes = NucleotideCodes(seg->raw);
  return std::shared_ptr<const RefSegment>(std::move(seg));
}

namespace {
// Helper threads Prefetch runs beside its callers, in the whole process: the
// readers' prefetches, the nested ones of segments that depend on others,
// and the archiver's share one budget, so the decodes at once (each holds
// its model's tables) stay bounded. Past it a caller decodes the rest
// itself. Nobody waits for budget, so nested prefetches cannot deadlock.
std::atomic<size_t> g_prefetch_helpers{0};
}  // namespace

size_t StoreRefs::PrefetchParallelism() { return std::clamp<size_t>(std::thread::hardware_concurrency(), 2, 8); }

void StoreRefs::Prefetch(const std::vector<RefSegmentKey>& keys) {
  std::vector<RefSegmentKey> missing;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (const RefSegmentKey& k : keys)
      if (!cache_.count({k.object, k.segment}) &&
          std::find(missing.begin(), missing.end(), k) == missing.end())
        missing.push_back(k);
  }
  if (missing.size() < 2) return;  // Get decodes a single one where it is needed
  // The caller and its helpers take the segments in turn; up to one decode
  // per core (at most 8) for this call, helpers within the process budget.
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next++) < missing.size();) (void)Get(missing[i]);  // Get catches what Load throws
  };
  const size_t par = StoreRefs::PrefetchParallelism();
  std::vector<std::thread> ts;
  for (size_t h = 1; h < std::min(missing.size(), par); ++h) {
    if (g_prefetch_helpers.fetch_add(1) >= par) {
      g_prefetch_helpers.fetch_sub(1);
      break;
    }
    try {
      ts.emplace_back([&work] {
        work();
        g_prefetch_helpers.fetch_sub(1);
      });
    } catch (const std::system_error&) {
      g_prefetch_helpers.fetch_sub(1);
      break;  // no thread: the caller decodes the rest
    }
  }
  work();
  for (auto& t : ts) t.join();
}

}  // namespace pmklc
