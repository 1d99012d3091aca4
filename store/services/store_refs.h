// store_refs.h — the store's reference segments, decoded on demand and
// cached (fs/; issue #6, docs/store.md §References).
//
// A reference object's segments are block values in the refs column family;
// a fasta-ref block names the segments it was primed with and a ref-link
// block names the one segment it is. StoreRefs is the RefSource those
// blocks are decoded with: it reads a segment, decodes it (first the
// segments it depends on in turn, depth <= 2), checks it against the
// checksum its key names and keeps the result in an LRU cache.
//
// Cost (docs/BENCHMARKS.md §References): an uncached segment costs one
// block decode at its profile; Prefetch decodes the segments a block needs
// side by side, up to one per core (at most 8), with helper threads from
// one budget for the whole process (as many as that), so concurrent cold
// reads cannot multiply the decodes in flight, and so their memory.
// Thread safety: all methods may be called concurrently; concurrent
// requests for one segment share one decode.
// Errors: NotFound for a segment the store does not hold; Corruption for a
// segment that does not decode or does not match its key.
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "engine/codec/codec.h"
#include "engine/common/single_flight.h"
#include "store/store.h"

namespace pmklc {

// Reference object record (docs/store.md §References): what an object is,
// read by the archiver (candidates, promotion), by StoreRefs (an object may
// only depend on shallower ones) and by fsck.
struct RefObjectRecord {
  uint8_t depth = 0;
  uint32_t segments = 0;
  uint64_t bases = 0;
  uint64_t raw_bytes = 0;
  uint64_t source_ino = 0;  // the file it was made from (informational)
  std::string sketch;       // ref::Sketch::Serialize()
  std::string Serialize() const;
  static Result<RefObjectRecord> Parse(std::string_view in);
};

class StoreRefs : public RefSource {
 public:
  // Borrows store. cache_bytes: decoded segments kept (raw bytes + codes).
  StoreRefs(Store* store, size_t cache_bytes);

  Result<std::shared_ptr<const RefSegment>> Get(const RefSegmentKey& key) override;
  // Decodes the uncached segments of keys, several at once; errors are left
  // for Get to report.
  void Prefetch(const std::vector<RefSegmentKey>& keys);
  // Segment decodes one Prefetch call runs at once, and the process-wide
  // budget of helper threads: one per core, 2..8.
  static size_t PrefetchParallelism();
  // Caches a segment its caller decoded already (the archiver, promoting a
  // file it just read). seg must be the segment key names.
  void Seed(const RefSegmentKey& key, std::shared_ptr<const RefSegment> seg);
  // Drops the cached segments of an object (after it was deleted).
  void Forget(uint64_t object);

 private:
  using Key = std::pair<uint64_t, uint32_t>;
  using R = Result<std::shared_ptr<const RefSegment>>;
  R Load(const RefSegmentKey& key);
  // The cached segment (made most recent), or null.
  std::shared_ptr<const RefSegment> Cached(const Key& k);
  void Insert(const Key& k, std::shared_ptr<const RefSegment> seg);  // mu_ held

  Store* store_;
  const size_t cache_bytes_;
  std::mutex mu_;
  size_t used_ = 0;
  std::list<Key> lru_;  // front: most recent
  struct Entry {
    std::shared_ptr<const RefSegment> seg;
    std::list<Key>::iterator pos;
  };
  std::map<Key, Entry> cache_;
  SingleFlight<Key, R> decodes_;  // concurrent requests for one segment share one decode
};

}  // namespace pmklc
