// References between the members of a collection container (ref_select.h).
#include <algorithm>

#include "engine/ref/ref_select.h"

namespace pmklc::ref {

namespace {
constexpr uint8_t kMaxDepth = 2;
}  // namespace

void CollectionRefs::BeginMember(std::string_view member, uint64_t first_block) {
  cur_ = Member{};
  cur_.first = first_block;
  cur_depth_ = 0;
  index_ = RefIndex{};
  ids_.clear();
  const std::string codes = NucleotideCodes(member);
  if (!IsGenome(codes.size(), member.size())) return;
  SketchBuilder sb;
  sb.Add(codes);
  cur_.sketch = sb.Finish();
  std::vector<std::pair<double, size_t>> cands;
  for (size_t m = 0; m < members_.size(); ++m) {
    if (members_[m].depth >= kMaxDepth || members_[m].codes.empty()) continue;
    const double j = Jaccard(cur_.sketch, members_[m].sketch);
    if (j >= kRelatedJaccard) cands.emplace_back(-j, m);
  }
  std::sort(cands.begin(), cands.end());
  if (cands.size() > kMaxCandidates) cands.resize(kMaxCandidates);
  for (auto [negj, m] : cands)
    for (size_t b = 0; b < members_[m].codes.size(); ++b) {
      index_.Add(static_cast<uint32_t>(ids_.size()), members_[m].codes[b]);
      ids_.emplace_back(m, b);
    }
  index_.Build();
}

void CollectionRefs::Choose(uint64_t, std::string_view raw, std::vector<RefSegmentKey>* keys, std::string* prime) {
  keys->clear();
  prime->clear();
  std::string codes = NucleotideCodes(raw);
  if (!ids_.empty()) {
    for (uint32_t id : index_.Choose(codes, kMaxSegments)) {
      const Member& m = members_[ids_[id].first];
      keys->push_back({object_, static_cast<uint32_t>(m.first + ids_[id].second), m.checksums[ids_[id].second]});
      *prime += m.codes[ids_[id].second];
      cur_depth_ = std::max<uint8_t>(cur_depth_, static_cast<uint8_t>(m.depth + 1));
    }
  }
  cur_.codes.push_back(std::move(codes));
  cur_.checksums.push_back(BlockChecksum(raw));
}

void CollectionRefs::EndMember() {
  cur_.depth = cur_depth_;
  if (cur_depth_ > 0) ++dependent_;
  if (cur_.depth >= kMaxDepth || cur_.sketch.mins.empty()) {
    cur_.codes.clear();  // never a reference: its codes are not needed
    cur_.codes.shrink_to_fit();
  }
  members_.push_back(std::move(cur_));
  cur_ = Member{};
}

void PreviousBlocks::Choose(uint64_t block, std::string_view raw, std::vector<RefSegmentKey>* keys,
                            std::string* prime) {
  keys->clear();
  prime->clear();
  std::string codes = NucleotideCodes(raw);
  if (!IsGenome(codes.size(), raw.size())) return;  // coded alone, never named
  for (const Kept& k : kept_) {
    keys->push_back({object_, static_cast<uint32_t>(k.block), k.checksum});
    *prime += k.codes;
  }
  if (kept_.size() == kPreviousBlocks) kept_.erase(kept_.begin());
  kept_.push_back({block, BlockChecksum(raw), std::move(codes)});
}

}  // namespace pmklc::ref
