// Segment choice by sampled k-mers (ref_select.h).
#include <algorithm>

#include "engine/ref/kmer_hash.h"
#include "engine/ref/ref_select.h"

namespace pmklc::ref {

namespace {

// Calls fn(hash) for every sampled canonical kK-mer of codes.
template <class Fn>
void ForEachSampled(std::string_view codes, Fn&& fn) {
  const uint64_t sample = (uint64_t{1} << RefIndex::kSampleShift) - 1;
  CanonicalKmers<RefIndex::kK> roll;
  uint64_t canon;
  for (char c : codes) {
    if (!roll.Push(static_cast<uint8_t>(c), &canon)) continue;
    const uint64_t h = KmerHash(canon ^ 0x5bd1e995ull);
    if ((h & sample) == 0) fn(h);
  }
}

}  // namespace

void RefIndex::Add(uint32_t id, std::string_view codes) {
  ForEachSampled(codes, [&](uint64_t h) { idx_.emplace_back(h, id); });
}

void RefIndex::Build() {
  std::sort(idx_.begin(), idx_.end());
  idx_.erase(std::unique(idx_.begin(), idx_.end()), idx_.end());
}

std::vector<uint32_t> RefIndex::Choose(std::string_view codes, size_t max_segments) const {
  std::vector<uint32_t> chosen;
  if (idx_.empty() || max_segments == 0) return chosen;
  // For each sampled k-mer of the block: the index range of segments holding it.
  std::vector<std::pair<uint32_t, uint32_t>> hits;
  size_t sampled = 0;
  ForEachSampled(codes, [&](uint64_t h) {
    ++sampled;
    auto lo = std::lower_bound(idx_.begin(), idx_.end(), std::make_pair(h, uint32_t{0}));
    auto hi = lo;
    while (hi != idx_.end() && hi->first == h) ++hi;
    if (lo != hi) hits.emplace_back(static_cast<uint32_t>(lo - idx_.begin()), static_cast<uint32_t>(hi - idx_.begin()));
  });
  if (sampled == 0) return chosen;
  std::vector<char> covered(hits.size(), 0);
  while (chosen.size() < max_segments) {
    // Count the uncovered k-mers per segment (ids are few; a sorted tally).
    std::vector<std::pair<uint32_t, uint32_t>> tally;  // (id, count)
    for (size_t i = 0; i < hits.size(); ++i) {
      if (covered[i]) continue;
      for (uint32_t e = hits[i].first; e < hits[i].second; ++e) {
        const uint32_t id = idx_[e].second;
        if (std::find(chosen.begin(), chosen.end(), id) != chosen.end()) continue;
        auto it = std::lower_bound(tally.begin(), tally.end(), std::make_pair(id, uint32_t{0}),
                                   [](auto& a, auto& b) { return a.first < b.first; });
        if (it != tally.end() && it->first == id) ++it->second;
        else tally.insert(it, {id, 1});
      }
    }
    uint32_t best = 0, best_n = 0;
    for (auto [id, n] : tally)
      if (n > best_n) best = id, best_n = n;  // ties: the smaller id
    const double gain = chosen.empty() ? kMinFirstSegmentGain : kMinSegmentGain;
    if (best_n == 0 || static_cast<double>(best_n) < gain * static_cast<double>(sampled)) break;
    chosen.push_back(best);
    for (size_t i = 0; i < hits.size(); ++i) {
      if (covered[i]) continue;
      for (uint32_t e = hits[i].first; e < hits[i].second; ++e)
        if (idx_[e].second == best) {
          covered[i] = 1;
          break;
        }
    }
  }
  return chosen;
}

}  // namespace pmklc::ref
