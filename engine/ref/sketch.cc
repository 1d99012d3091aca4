// MinHash sketches of nucleotide codes (ref_select.h).
#include <algorithm>
#include <cstring>

#include "engine/codec/endian.h"
#include "engine/ref/kmer_hash.h"
#include "engine/ref/ref_select.h"

namespace pmklc::ref {

void SketchBuilder::Offer(uint64_t h) {
  if (heap_.size() >= kSketchSize && h >= heap_.front()) return;
  if (std::find(heap_.begin(), heap_.end(), h) != heap_.end()) return;
  if (heap_.size() >= kSketchSize) {
    std::pop_heap(heap_.begin(), heap_.end());
    heap_.pop_back();
  }
  heap_.push_back(h);
  std::push_heap(heap_.begin(), heap_.end());
}

void SketchBuilder::Add(std::string_view codes) {
  CanonicalKmers<kSketchK> roll{fw_, rc_, have_};
  uint64_t canon;
  for (char c : codes) {
    ++bases_;
    if (roll.Push(static_cast<uint8_t>(c), &canon)) Offer(KmerHash(canon) >> 32);  // 32 bits: 4 bytes a hash in the record
  }
  fw_ = roll.fw, rc_ = roll.rc, have_ = roll.have;
}

Sketch SketchBuilder::Finish() {
  Sketch s;
  s.bases = bases_;
  s.mins = heap_;
  std::sort(s.mins.begin(), s.mins.end());
  return s;
}

std::string Sketch::Serialize() const {
  std::string out(1 + 8 + 4 + 4 * mins.size(), '\0');
  out[0] = static_cast<char>(kSketchVersion);
  StoreLE64(out.data() + 1, bases);
  StoreLE32(out.data() + 9, static_cast<uint32_t>(mins.size()));
  for (size_t i = 0; i < mins.size(); ++i) StoreLE32(out.data() + 13 + 4 * i, static_cast<uint32_t>(mins[i]));
  return out;
}

Result<Sketch> Sketch::Parse(std::string_view in) {
  if (in.size() < 13 || static_cast<uint8_t>(in[0]) != kSketchVersion)
    return Status::Corruption("sketch: unknown version or truncated");
  Sketch s;
  s.bases = LoadLE64(in.data() + 1);
  const uint32_t n = LoadLE32(in.data() + 9);
  if (n > kSketchSize || in.size() != 13 + 4 * size_t{n}) return Status::Corruption("sketch: bad length");
  s.mins.resize(n);
  for (uint32_t i = 0; i < n; ++i) s.mins[i] = LoadLE32(in.data() + 13 + 4 * i);
  if (!std::is_sorted(s.mins.begin(), s.mins.end())) return Status::Corruption("sketch: not sorted");
  return s;
}

double Jaccard(const Sketch& a, const Sketch& b) {
  if (a.mins.empty() || b.mins.empty()) return 0;
  // The s smallest hashes of the union; count those in both.
  size_t i = 0, j = 0, seen = 0, both = 0;
  while (seen < kSketchSize && (i < a.mins.size() || j < b.mins.size())) {
    if (j >= b.mins.size() || (i < a.mins.size() && a.mins[i] < b.mins[j])) {
      ++i;
    } else if (i >= a.mins.size() || b.mins[j] < a.mins[i]) {
      ++j;
    } else {
      ++both, ++i, ++j;
    }
    ++seen;
  }
  return seen ? static_cast<double>(both) / static_cast<double>(seen) : 0;
}

}  // namespace pmklc::ref
