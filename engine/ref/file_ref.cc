// A reference file for standalone containers (ref_select.h).
#include <xxhash.h>

#include "engine/format.h"
#include "engine/ref/ref_select.h"

namespace pmklc::ref {

FileRef::FileRef(std::string bytes) {
  id_ = XXH3_64bits(bytes.data(), bytes.size());
  if (id_ == 0) id_ = 1;
  bytes_size_ = bytes.size();
  for (size_t o = 0, s = 0; o < bytes.size(); o += kSegmentBytes, ++s) {
    auto seg = std::make_shared<RefSegment>();
    seg->raw = bytes.substr(o, kSegmentBytes);
    seg->codes = NucleotideCodes(seg->raw);
    keys_.push_back({id_, static_cast<uint32_t>(s), BlockChecksum(seg->raw)});
    segs_.push_back(std::move(seg));
  }
}

Result<std::shared_ptr<const RefSegment>> FileRef::Get(const RefSegmentKey& key) {
  if (key.object != id_ || key.segment >= segs_.size())
    return Status::NotFound("the reference file has no segment " + std::to_string(key.segment));
  return segs_[key.segment];
}

void FileRef::Choose(uint64_t, std::string_view raw, std::vector<RefSegmentKey>* keys, std::string* prime) {
  keys->clear();
  prime->clear();
  if (!indexed_) {  // only a writer needs the index
    for (uint32_t s = 0; s < segs_.size(); ++s) index_.Add(s, segs_[s]->codes);
    index_.Build();
    indexed_ = true;
  }
  for (uint32_t s : index_.Choose(NucleotideCodes(raw), kMaxSegments)) {
    keys->push_back(keys_[s]);
    *prime += segs_[s]->codes;
  }
}

}  // namespace pmklc::ref
