#include <algorithm>
#include <cstdio>
#include <cstring>
#include <thread>

#include "engine/codec/endian.h"
#include "engine/container/container.h"
#include "engine/container/container_format.h"
#include "engine/container/container_job.h"
#include "engine/models/toknet_model.h"

namespace pmklc {

using namespace container;

// The last kSelfRefWindow blocks decoded (raw and codes), by block number;
// other keys go to the external reference. Used from the decoding thread
// only (such containers decode one block at a time).
class RecentBlocks : public RefSource {
 public:
  explicit RecentBlocks(RefSource* external) : external_(external) {}
  Result<std::shared_ptr<const RefSegment>> Get(const RefSegmentKey& key) override {
    if (key.object != kCollectionObject) {
      if (external_ == nullptr) return Status::NotFound("no reference file given");
      return external_->Get(key);
    }
    for (auto& [block, seg] : kept_)
      if (block == key.segment) return seg;
    return Status::NotFound("block " + std::to_string(key.segment) +
                            " is not one of the blocks just before (whole-file context)");
  }
  void Add(uint64_t block, std::string raw) {
    auto seg = std::make_shared<RefSegment>();
    seg->codes = NucleotideCodes(raw);
    seg->raw = std::move(raw);
    if (kept_.size() == kSelfRefWindow) kept_.pop_front();
    kept_.emplace_back(block, std::move(seg));
  }

 private:
  RefSource* external_;
  std::deque<std::pair<uint64_t, std::shared_ptr<const RefSegment>>> kept_;
};

ContainerReader::ContainerReader(Source source, int threads, RefSource* refs, uint64_t ref_id, CmStreamCoder* cm)
    : source_(std::move(source)), threads_(std::max(1, threads)), refs_(refs), ref_id_(ref_id), cm_(cm) {}

Status ContainerReader::ReadExact(char* buf, size_t n, const char* what) {
  size_t got = 0;
  while (got < n) {
    auto r = source_(buf + got, n - got);
    if (!r.ok()) return r.status();
    if (*r == 0)
      return Status::Corruption(std::string("truncated container: input ends inside the ") + what +
                                " at byte " + std::to_string(bytes_in_ + got));
    got += *r;
  }
  bytes_in_ += n;
  return Status::OK();
}

Status ContainerReader::Start() {
  char h[16];
  auto r = source_(h, 16);
  if (!r.ok()) return r.status();
  size_t got = *r;
  while (got > 0 && got < 16) {
    auto more = source_(h + got, 16 - got);
    if (!more.ok()) return more.status();
    if (*more == 0) break;
    got += *more;
  }
  if (got < 8 || std::memcmp(h, kMagic, 8) != 0) return Status::InvalidArgument("not a pmklc container (bad magic)");
  if (got < 16) return Status::Corruption("truncated container: short file header");
  bytes_in_ = 16;
  if (static_cast<uint8_t>(h[8]) != kVersion)
    return Status::NotSupported("container version " + std::to_string(static_cast<uint8_t>(h[8])) +
                                " is not supported by this build");
  profile_ = static_cast<uint8_t>(h[9]);
  const uint16_t flags = LoadLE16(h + 10);
  if (flags & ~kKnownFlags) return Status::Corruption("container: unknown flags");
  if (flags & kFlagMembers)
    return Status::NotSupported("a collection container (several files): decompress it from a file, not a pipe");
  if (flags & kFlagSelfRefs) {
    // Each block may need the ones before it: one at a time.
    recent_ = std::make_unique<RecentBlocks>(refs_);
    threads_ = 1;
  }
  block_size_ = LoadLE32(h + 12);
  if (block_size_ == 0 || block_size_ > format::kMaxBlockRawLen) return Status::Corruption("container: bad block size");
  PMKLC_RETURN_IF_ERROR(ReadHeaderSections(
      flags, [this](char* b, size_t n, const char* what) { return ReadExact(b, n, what); }, refs_, ref_id_));
  started_ = true;
  return Status::OK();
}

bool IsPlainMemberName(std::string_view name) {
  return !name.empty() && name.size() <= 4096 && name.find('/') == std::string_view::npos &&
         name.find('\0') == std::string_view::npos && name != "." && name != "..";
}

Status container::ReadHeaderSections(uint16_t flags, const ReadFn& read, const RefSource* refs, uint64_t ref_id) {
  if (flags & kFlagPrivateModel) {
    char len[4];
    PMKLC_RETURN_IF_ERROR(read(len, 4, "private model length"));
    const uint32_t n = LoadLE32(len);
    if (n > kMaxModelFileBytes) return Status::Corruption("container: private model too large");
    std::string bytes(n, '\0');
    PMKLC_RETURN_IF_ERROR(read(bytes.data(), n, "private model"));
    auto m = ParseModel(bytes);
    if (!m.ok()) return Status::Corruption("container: private model: " + m.status().message());
    RegisterModel(std::make_shared<const TokNetModel>(std::move(*m)));
  }
  if (flags & kFlagReference) {
    char r[16];
    PMKLC_RETURN_IF_ERROR(read(r, 16, "reference id"));
    const uint64_t id = LoadLE64(r), size = LoadLE64(r + 8);
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(id));
    if (refs == nullptr)
      return Status::InvalidArgument("this container was compressed against a reference file (" +
                                     std::to_string(size) + " bytes, id " + hex + "): give it with --ref");
    if (id != ref_id)
      return Status::InvalidArgument("the reference file given is not the one this container was compressed against (" +
                                     std::to_string(size) + " bytes, id " + hex + ")");
  }
  return Status::OK();
}

Status ContainerReader::Finish() {
  char h[16];
  PMKLC_RETURN_IF_ERROR(ReadExact(h, 16, "index"));
  uint64_t count = LoadLE64(h), raw = LoadLE64(h + 8);
  if (count != seen_.size()) return Status::Corruption("container index: block count differs from the blocks read");
  if (raw != raw_total_) return Status::Corruption("container index: total size differs from the blocks read");
  for (uint64_t i = 0; i < count; ++i) {
    char e[12];
    PMKLC_RETURN_IF_ERROR(ReadExact(e, 12, "index"));
    if (LoadLE64(e) != seen_[i].first || LoadLE32(e + 8) != seen_[i].second)
      return Status::Corruption("container index: entry " + std::to_string(i) + " does not match its block");
  }
  char t[16];
  PMKLC_RETURN_IF_ERROR(ReadExact(t, 16, "trailer"));
  if (std::memcmp(t + 8, kTrailerMagic, 8) != 0 || LoadLE64(t) != index_off_)
    return Status::Corruption("container: bad trailer");
  char extra;
  auto r = source_(&extra, 1);
  if (!r.ok()) return r.status();
  if (*r != 0) return Status::Corruption("container: trailing bytes after the trailer");
  done_ = true;
  return Status::OK();
}

Status ContainerReader::Next(std::string* block, bool* eof) {
  block->clear();
  *eof = false;
  if (ready_.empty() && !done_) {
    if (!started_) PMKLC_RETURN_IF_ERROR(Start());
    PMKLC_RETURN_IF_ERROR(Fill());
    if (!inflight_.empty()) {
      PMKLC_RETURN_IF_ERROR(FinishOldest());
      PMKLC_RETURN_IF_ERROR(Fill());  // keep `threads` decodes going while the caller works
    } else if (at_index_) {
      PMKLC_RETURN_IF_ERROR(Finish());
    }
  }
  if (!ready_.empty()) {
    *block = std::move(ready_.front());
    ready_.pop_front();
    return Status::OK();
  }
  *eof = done_;
  if (!done_) return Status::Corruption("container: no block and no index");
  return Status::OK();
}

// Reads block values and starts their decodes until `threads` are in flight
// or the index marker is reached. Each decode gets the chain of dynamic
// models as the writer had it (ContainerWriter::WriteBlock).
Status ContainerReader::Fill() {
  while (!at_index_ && static_cast<int>(inflight_.size()) < threads_) {
    const uint64_t off = bytes_in_;
    char len[4];
    PMKLC_RETURN_IF_ERROR(ReadExact(len, 4, "block length"));
    const uint32_t n = LoadLE32(len);
    if (n == kIndexMarker) {
      index_off_ = off;
      at_index_ = true;
      break;
    }
    if (n < format::kBlockHeaderSize || n > kMaxValue)
      return Status::Corruption("container: bad block length at byte " + std::to_string(off));
    auto job = std::make_unique<ContainerJob>();
    job->in.resize(n);
    job->offset = off;
    PMKLC_RETURN_IF_ERROR(ReadExact(job->in.data(), n, "block"));
    job->in_link = chain_;
    job->out_link = std::make_shared<DmLink>();
    job->chain.pos = static_cast<uint32_t>(started_blocks_ % format::kNeuralChainBlocks);
    job->chain.in = job->chain.pos > 0 ? job->in_link.get() : nullptr;
    job->chain.out = job->out_link.get();
    chain_ = job->out_link;
    ++started_blocks_;
    ContainerJob* j = job.get();
    auto run = [j, refs = recent_ ? static_cast<RefSource*>(recent_.get()) : refs_, cm = cm_] {
      try {
        j->status = DecodeBlock(j->in, &j->out, &j->chain, refs, cm);
      } catch (const std::bad_alloc&) {
        j->status = Status::NoMemory("out of memory decoding a block");
      }
      if (j->status.ok()) ForwardChain(j->chain);
      else j->chain.out->PublishRest(false);
    };
    if (threads_ <= 1) run();
    else j->thread = std::thread(run);
    inflight_.push_back(std::move(job));
  }
  return Status::OK();
}

Status ContainerReader::FinishOldest() {
  std::unique_ptr<ContainerJob> j = std::move(inflight_.front());
  inflight_.pop_front();
  if (j->thread.joinable()) j->thread.join();
  const size_t i = seen_.size();
  if (!j->status.ok())
    return Status::Corruption("block " + std::to_string(i) + " at byte " + std::to_string(j->offset) + ": " +
                              j->status.message());
  if (j->out.size() > block_size_ || j->out.empty())
    return Status::Corruption("block " + std::to_string(i) + ": size does not fit the container");
  seen_.emplace_back(j->offset, static_cast<uint32_t>(j->out.size()));
  raw_total_ += j->out.size();
  if (recent_) recent_->Add(i, j->out);
  ready_.push_back(std::move(j->out));
  return Status::OK();
}

ContainerReader::~ContainerReader() {
  for (auto& j : inflight_)
    if (j->thread.joinable()) j->thread.join();
}

}  // namespace pmklc
