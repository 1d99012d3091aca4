#include <cstring>

#include "engine/codec/endian.h"
#include "engine/container/container.h"
#include "engine/container/container_format.h"
#include "engine/models/toknet_model.h"

namespace pmklc {

using namespace container;

ContainerReader::ContainerReader(Source source) : source_(std::move(source)) {}

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
  if (flags & ~kFlagPrivateModel) return Status::Corruption("container: unknown flags");
  block_size_ = LoadLE32(h + 12);
  if (block_size_ == 0 || block_size_ > format::kMaxBlockRawLen) return Status::Corruption("container: bad block size");
  if (flags & kFlagPrivateModel) {
    char len[4];
    PMKLC_RETURN_IF_ERROR(ReadExact(len, 4, "private model length"));
    const uint32_t n = LoadLE32(len);
    if (n > kMaxModelBytes) return Status::Corruption("container: private model too large");
    std::string bytes(n, '\0');
    PMKLC_RETURN_IF_ERROR(ReadExact(bytes.data(), n, "private model"));
    auto m = ParseModel(bytes);
    if (!m.ok()) return Status::Corruption("container: private model: " + m.status().message());
    RegisterModel(std::make_shared<const TokNetModel>(std::move(*m)));
  }
  started_ = true;
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
  if (done_) { *eof = true; return Status::OK(); }
  if (!started_) PMKLC_RETURN_IF_ERROR(Start());
  const uint64_t off = bytes_in_;
  char len[4];
  PMKLC_RETURN_IF_ERROR(ReadExact(len, 4, "block length"));
  uint32_t n = LoadLE32(len);
  if (n == kIndexMarker) {
    index_off_ = off;
    PMKLC_RETURN_IF_ERROR(Finish());
    *eof = true;
    return Status::OK();
  }
  if (n < format::kBlockHeaderSize || n > kMaxValue)
    return Status::Corruption("container: bad block length at byte " + std::to_string(off));
  value_.resize(n);
  PMKLC_RETURN_IF_ERROR(ReadExact(value_.data(), n, "block"));
  Status s = DecodeBlock(value_, block);
  if (!s.ok())
    return Status::Corruption("block " + std::to_string(seen_.size()) + " at byte " + std::to_string(off) +
                              ": " + s.message());
  if (block->size() > block_size_ || block->empty())
    return Status::Corruption("block " + std::to_string(seen_.size()) + ": size does not fit the container");
  seen_.emplace_back(off, static_cast<uint32_t>(block->size()));
  raw_total_ += block->size();
  return Status::OK();
}

}  // namespace pmklc
