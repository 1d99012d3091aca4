#include "store/services/recall.h"

#include <spdlog/spdlog.h>

#include <vector>

#include "engine/codec/codec.h"
#include "engine/codec/endian.h"

namespace pmklc {

namespace {
constexpr uint8_t kEntryVersion = 1;
constexpr size_t kTrailer = 9;
constexpr size_t kMaxReadCounts = 1 << 20;  // groups whose reads are counted at once
}  // namespace

std::string Recall::MakeValue(std::string_view fast_value, uint64_t checksum) {
  std::string v(fast_value);
  char t[kTrailer];
  StoreLE64(t, checksum);
  t[8] = static_cast<char>(kEntryVersion);
  v.append(t, kTrailer);
  return v;
}

Status Recall::SplitValue(std::string_view value, std::string_view* fast_value, uint64_t* checksum) {
  if (value.size() < kTrailer || static_cast<uint8_t>(value.back()) != kEntryVersion)
    return Status::Corruption("recall entry: bad trailer");
  *checksum = LoadLE64(value.data() + value.size() - kTrailer);
  *fast_value = value.substr(0, value.size() - kTrailer);
  return Status::OK();
}

Recall::Recall(Store* store, RecallOptions o)
    : store_(store), bs_(store->block_size()), gb_(store->group_blocks()), opts_(o) {}

Status Recall::Init() {
  uint64_t logical = 0;
  std::vector<std::pair<Key, uint64_t>> have;
  PMKLC_RETURN_IF_ERROR(
      store_->ForEachSize([&](char tag, uint64_t a, uint64_t b, uint32_t stored, uint32_t raw, uint8_t) {
        if (tag == 'b' || tag == 'g') logical += raw;
        else if (tag == 'r') have.push_back({{a, b}, stored});
        return true;
      }));
  if (opts_.size_bytes == RecallOptions::kAuto) budget_ = std::max<uint64_t>(uint64_t{1} << 30, logical / 20);
  else budget_ = opts_.size_bytes;
  std::lock_guard<std::mutex> l(mu_);
  for (auto& [k, bytes] : have) {
    lru_.push_back(k);  // (after a restart the read order is unknown: key order)
    index_[k] = {bytes, std::prev(lru_.end())};
    stats_.bytes += bytes;
  }
  stats_.entries = index_.size();
  stats_.budget = budget_;
  return Status::OK();
}

void Recall::ForgetLocked(const Key& k) {
  auto it = index_.find(k);
  if (it == index_.end()) return;
  stats_.bytes -= it->second.bytes;
  lru_.erase(it->second.lru);
  index_.erase(it);
  stats_.entries = index_.size();
}

void Recall::DropEntry(uint64_t ino, uint64_t idx) {
  {
    std::lock_guard<std::mutex> l(mu_);
    ForgetLocked({ino, idx});
  }
  Store::Batch b;
  b.DeleteRecall(ino, idx);
  Status s = store_->Write(b, false);
  if (!s.ok()) spdlog::warn("recall: dropping the entry of inode {} block {}: {}", ino, idx, s.ToString());
}

Result<std::shared_ptr<const std::string>> Recall::Lookup(uint64_t ino, uint64_t idx, uint64_t g) {
  if (!enabled()) return Status::NotFound("recall off");
  auto miss = [&](const Status& s, bool count = true) -> Status {
    std::lock_guard<std::mutex> l(mu_);
    if (count) ++stats_.misses;
    if (s.IsNotFound()) ForgetLocked({ino, idx});  // (if a write deleted it)
    return Status::NotFound("recall: " + s.ToString());
  };
  auto version = store_->GetRecallVersion(ino, g);
  if (!version.ok()) return miss(version.status(), false);  // (not an archived group: not a miss)
  std::string value;
  Status s = store_->GetRecall(ino, idx, &value);
  if (!s.ok()) return miss(s);
  std::string_view fast;
  uint64_t have = 0;
  auto raw = std::make_shared<std::string>();
  s = SplitValue(value, &fast, &have);
  if (s.ok() && have != *version) s = Status::Corruption("an entry of an older version of the group");
  if (s.ok()) s = DecodeBlock(fast, raw.get());
  if (!s.ok()) {
    spdlog::warn("recall: inode {} block {}: {}; dropped, its group is decoded again", ino, idx, s.ToString());
    DropEntry(ino, idx);
    std::lock_guard<std::mutex> l(mu_);
    ++stats_.dropped;
    ++stats_.misses;
    return Status::NotFound("recall entry dropped");
  }
  std::lock_guard<std::mutex> l(mu_);
  ++stats_.hits;
  auto it = index_.find({ino, idx});
  if (it != index_.end()) lru_.splice(lru_.begin(), lru_, it->second.lru);
  return std::shared_ptr<const std::string>(std::move(raw));
}

void Recall::Offer(uint64_t ino, uint64_t g, uint64_t checksum, uint64_t first_idx, const std::string& raw) {
  if (!enabled() || raw.empty() || first_idx < g * gb_ || (first_idx - g * gb_) * bs_ + raw.size() > gb_ * bs_) return;
  {
    std::lock_guard<std::mutex> l(mu_);
    uint32_t& n = reads_[{ino, g}];
    if (++n < opts_.min_reads) return;
    reads_.erase({ino, g});
    if (reads_.size() > kMaxReadCounts) reads_.clear();
  }
  if (!store_->CheckSpace().ok()) return;  // (a cache: never what fills the disk)
  auto fast = ProfileOptions("fast");
  if (!fast.ok()) return;
  // Every block of the group (no lock: coding).
  std::vector<std::pair<Key, std::string>> put;
  uint64_t total = 0;
  for (uint64_t j = 0; j * bs_ < raw.size(); ++j) {
    const std::string_view img(raw.data() + j * bs_, std::min<size_t>(bs_, raw.size() - j * bs_));
    std::string fv;
    Status s = EncodeBlock(img, *fast, &fv);
    if (!s.ok()) {
      spdlog::warn("recall: inode {} group {}: encoding an entry: {}", ino, g, s.ToString());
      return;
    }
    put.push_back({{ino, first_idx + j}, MakeValue(fv, checksum)});
    total += put.back().second.size();
  }
  if (total > budget_) return;
  std::vector<Key> evict;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (auto& [k, v] : put) ForgetLocked(k);  // (replaced: an entry of another version)
    while (!lru_.empty() && stats_.bytes + total > budget_) {
      const Key k = lru_.back();
      evict.push_back(k);
      ForgetLocked(k);
    }
    for (auto& [k, v] : put) {
      lru_.push_front(k);
      index_[k] = {v.size(), lru_.begin()};
    }
    stats_.bytes += total;
    stats_.entries = index_.size();
    stats_.evicted += evict.size();
    stats_.written += put.size();
  }
  Store::Batch b;
  for (const Key& k : evict) b.DeleteRecall(k.first, k.second);
  for (auto& [k, v] : put) b.PutRecall(k.first, k.second, v);
  Status s = store_->WriteRecall(ino, g, checksum, b);
  if (!s.ok()) {
    if (!s.IsBusy()) spdlog::warn("recall: writing the entries of inode {} group {}: {}", ino, g, s.ToString());
    {
      std::lock_guard<std::mutex> l(mu_);
      for (auto& [k, v] : put) ForgetLocked(k);
      stats_.written -= put.size();
    }
    if (!evict.empty()) {  // (they left the index: they leave the store too)
      Store::Batch d;
      for (const Key& k : evict) d.DeleteRecall(k.first, k.second);
      (void)store_->Write(d, false);
    }
  }
}

Recall::Stats Recall::stats() {
  std::lock_guard<std::mutex> l(mu_);
  return stats_;
}

}  // namespace pmklc
