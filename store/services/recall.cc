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

Recall::Recall(Store* store, RecallOptions o) : store_(store), opts_(o) {}

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
    lru_.push_back(k);  // (key order: the least recently read first after a restart is unknown)
    index_[k] = {bytes, std::prev(lru_.end())};
    stats_.bytes += bytes;
  }
  stats_.entries = index_.size();
  stats_.budget = budget_;
  return Status::OK();
}

void Recall::DropEntry(uint64_t ino, uint64_t g) {
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = index_.find({ino, g});
    if (it != index_.end()) {
      stats_.bytes -= it->second.bytes;
      lru_.erase(it->second.lru);
      index_.erase(it);
      stats_.entries = index_.size();
    }
  }
  Store::Batch b;
  b.DeleteRecall(ino, g);
  Status s = store_->Write(b, false);
  if (!s.ok()) spdlog::warn("recall: dropping the entry of inode {} group {}: {}", ino, g, s.ToString());
}

Result<std::shared_ptr<const std::string>> Recall::Lookup(uint64_t ino, uint64_t g, uint64_t checksum) {
  if (!enabled()) return Status::NotFound("recall off");
  std::string value;
  Status s = store_->GetRecall(ino, g, &value);
  if (!s.ok()) {
    std::lock_guard<std::mutex> l(mu_);
    ++stats_.misses;
    auto it = index_.find({ino, g});
    if (s.IsNotFound() && it != index_.end()) {  // (a write deleted it)
      stats_.bytes -= it->second.bytes;
      lru_.erase(it->second.lru);
      index_.erase(it);
      stats_.entries = index_.size();
    }
    return s.IsNotFound() ? s : Status::NotFound("recall: " + s.ToString());
  }
  std::string_view fast;
  uint64_t have = 0;
  auto raw = std::make_shared<std::string>();
  s = SplitValue(value, &fast, &have);
  if (s.ok() && have != checksum) s = Status::Corruption("recall entry of an older version of the group");
  if (s.ok()) s = DecodeBlock(fast, raw.get());
  if (s.ok() && BlockChecksum(*raw) != checksum) s = Status::Corruption("recall entry decodes to other bytes");
  if (!s.ok()) {
    spdlog::warn("recall: inode {} group {}: {}; dropped, the group is decoded again", ino, g, s.ToString());
    DropEntry(ino, g);
    std::lock_guard<std::mutex> l(mu_);
    ++stats_.dropped;
    ++stats_.misses;
    return Status::NotFound("recall entry dropped");
  }
  std::lock_guard<std::mutex> l(mu_);
  ++stats_.hits;
  auto it = index_.find({ino, g});
  if (it != index_.end()) lru_.splice(lru_.begin(), lru_, it->second.lru);
  return std::shared_ptr<const std::string>(std::move(raw));
}

void Recall::Offer(uint64_t ino, uint64_t g, uint64_t checksum, const std::string& raw) {
  if (!enabled()) return;
  const Key key{ino, g};
  {
    std::lock_guard<std::mutex> l(mu_);
    if (index_.count(key)) return;
    uint32_t& n = reads_[key];
    if (++n < opts_.min_reads) return;
    reads_.erase(key);
    if (reads_.size() > kMaxReadCounts) reads_.clear();
  }
  if (!store_->CheckSpace().ok()) return;  // (a cache: never what fills the disk)
  auto fast = ProfileOptions("fast");
  std::string fv;
  Status s = fast.ok() ? EncodeBlock(raw, *fast, &fv) : fast.status();
  if (!s.ok()) {
    spdlog::warn("recall: inode {} group {}: encoding its entry: {}", ino, g, s.ToString());
    return;
  }
  const std::string value = MakeValue(fv, checksum);
  if (value.size() > budget_) return;
  std::vector<Key> evict;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (index_.count(key)) return;  // (another reader wrote it meanwhile)
    while (!lru_.empty() && stats_.bytes + value.size() > budget_) {
      const Key k = lru_.back();
      auto it = index_.find(k);
      stats_.bytes -= it->second.bytes;
      index_.erase(it);
      lru_.pop_back();
      evict.push_back(k);
    }
    lru_.push_front(key);
    index_[key] = {value.size(), lru_.begin()};
    stats_.bytes += value.size();
    stats_.entries = index_.size();
    stats_.evicted += evict.size();
    ++stats_.written;
  }
  Store::Batch b;
  for (const Key& k : evict) b.DeleteRecall(k.first, k.second);
  b.PutRecall(ino, g, value);
  s = store_->Write(b, false);
  if (!s.ok()) {
    spdlog::warn("recall: writing the entry of inode {} group {}: {}", ino, g, s.ToString());
    std::lock_guard<std::mutex> l(mu_);
    auto it = index_.find(key);
    if (it != index_.end()) {
      stats_.bytes -= it->second.bytes;
      lru_.erase(it->second.lru);
      index_.erase(it);
      stats_.entries = index_.size();
      --stats_.written;
    }
  }
}

Recall::Stats Recall::stats() {
  std::lock_guard<std::mutex> l(mu_);
  return stats_;
}

}  // namespace pmklc
