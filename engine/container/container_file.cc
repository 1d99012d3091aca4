// Random access to a container file (container.h: ContainerFile).
#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "engine/codec/endian.h"
#include "engine/container/container.h"
#include "engine/container/container_format.h"

namespace pmklc {

using namespace container;

namespace {

Status PreadExact(int fd, uint64_t off, size_t n, char* buf, const char* what) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = pread(fd, buf + got, n - got, static_cast<off_t>(off + got));
    if (r < 0) {
      if (errno == EINTR) continue;
      return Status::IOError(std::string("reading the container: ") + std::strerror(errno));
    }
    if (r == 0) return Status::Corruption(std::string("truncated container: input ends inside the ") + what);
    got += static_cast<size_t>(r);
  }
  return Status::OK();
}

}  // namespace

bool ContainerFile::LooksLikeCollection(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char h[16];
  const bool ok = PreadExact(fd, 0, 16, h, "file header").ok();
  close(fd);
  return ok && std::memcmp(h, kMagic, 8) == 0 && (LoadLE16(h + 10) & kFlagMembers) != 0;
}

ContainerFile::~ContainerFile() {
  if (fd_ >= 0) close(fd_);
}

Result<std::unique_ptr<ContainerFile>> ContainerFile::Open(const std::string& path, RefSource* external,
                                                           uint64_t external_id) {
  std::unique_ptr<ContainerFile> f(new ContainerFile());
  f->external_ = external;
  f->fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f->fd_ < 0) return Status::NotFound("cannot open " + path + ": " + std::strerror(errno));
  const off_t end = lseek(f->fd_, 0, SEEK_END);
  if (end < 0) return Status::InvalidArgument(path + " is not seekable");
  const uint64_t size = static_cast<uint64_t>(end);
  char h[16];
  if (size < 16) return Status::InvalidArgument("not a pmklc container (too short)");
  PMKLC_RETURN_IF_ERROR(PreadExact(f->fd_, 0, 16, h, "file header"));
  if (std::memcmp(h, kMagic, 8) != 0) return Status::InvalidArgument("not a pmklc container (bad magic)");
  if (static_cast<uint8_t>(h[8]) != kVersion) return Status::NotSupported("container version not supported");
  const uint16_t flags = LoadLE16(h + 10);
  if (flags & ~kKnownFlags) return Status::Corruption("container: unknown flags");
  f->block_size_ = LoadLE32(h + 12);
  if (f->block_size_ < format::kMinBlockSize || f->block_size_ > format::kMaxBlockSize)
    return Status::Corruption("container: bad block size");
  uint64_t pos = 16;
  PMKLC_RETURN_IF_ERROR(ReadHeaderSections(
      flags,
      [&](char* b, size_t n, const char* what) {
        PMKLC_RETURN_IF_ERROR(PreadExact(f->fd_, pos, n, b, what));
        pos += n;
        return Status::OK();
      },
      external, external_id));
  // The index, from the trailer.
  char t[16];
  PMKLC_RETURN_IF_ERROR(PreadExact(f->fd_, size - 16, 16, t, "trailer"));
  if (std::memcmp(t + 8, kTrailerMagic, 8) != 0) return Status::Corruption("container: bad trailer");
  const uint64_t index_off = LoadLE64(t);
  if (index_off > size || size - index_off < 16 + 20) return Status::Corruption("container: bad index offset");
  char ih[20];
  PMKLC_RETURN_IF_ERROR(PreadExact(f->fd_, index_off, 20, ih, "index"));
  const uint64_t count = LoadLE64(ih + 4), raw_total = LoadLE64(ih + 12);
  if (LoadLE32(ih) != kIndexMarker || count > (size - 16 - index_off - 20) / 12 ||
      index_off + 20 + 12 * count + 16 != size)
    return Status::Corruption("container: bad index");
  std::string idx(12 * count, '\0');
  PMKLC_RETURN_IF_ERROR(PreadExact(f->fd_, index_off + 20, idx.size(), idx.data(), "index"));
  uint64_t raw_sum = 0;
  for (uint64_t i = 0; i < count; ++i) {
    const uint64_t off = LoadLE64(idx.data() + 12 * i);
    const uint32_t len = LoadLE32(idx.data() + 12 * i + 8);
    if (off >= index_off || len == 0 || len > f->block_size_) return Status::Corruption("container: bad index entry");
    f->index_.emplace_back(off, len);
    raw_sum += len;
  }
  if (raw_sum != raw_total) return Status::Corruption("container index: total size differs from its entries");
  // Members: each starts a new block.
  if (flags & kFlagMembers) {
    f->collection_ = true;
    char n4[4];
    PMKLC_RETURN_IF_ERROR(PreadExact(f->fd_, pos, 4, n4, "member table"));
    const uint32_t n = LoadLE32(n4);
    pos += 4;
    if (n > kMaxMembers) return Status::Corruption("container: too many members");
    for (uint32_t i = 0; i < n; ++i) {
      char l2[2];
      PMKLC_RETURN_IF_ERROR(PreadExact(f->fd_, pos, 2, l2, "member table"));
      const uint16_t nl = LoadLE16(l2);
      if (nl == 0 || pos + 2 + nl + 8 > index_off) return Status::Corruption("container: bad member table");
      std::string name(nl, '\0');
      char sz[8];
      PMKLC_RETURN_IF_ERROR(PreadExact(f->fd_, pos + 2, nl, name.data(), "member table"));
      PMKLC_RETURN_IF_ERROR(PreadExact(f->fd_, pos + 2 + nl, 8, sz, "member table"));
      f->members_.emplace_back(std::move(name), LoadLE64(sz));
      pos += 2 + nl + 8;
    }
  } else {
    f->members_.emplace_back("", raw_total);
  }
  uint64_t b = 0;
  for (auto& [name, msize] : f->members_) {
    f->first_block_.push_back(b);
    uint64_t left = msize;
    while (left > 0) {
      if (b >= count || f->index_[b].second != std::min<uint64_t>(left, f->block_size_))
        return Status::Corruption("container: the blocks do not match the member '" + name + "'");
      left -= f->index_[b].second;
      ++b;
    }
  }
  if (b != count) return Status::Corruption("container: blocks beyond the last member");
  return f;
}

Status ContainerFile::ReadValue(uint64_t block, std::string* value) {
  char len[4];
  PMKLC_RETURN_IF_ERROR(PreadExact(fd_, index_[block].first, 4, len, "block length"));
  const uint32_t n = LoadLE32(len);
  if (n < format::kBlockHeaderSize || n > kMaxValue) return Status::Corruption("container: bad block length");
  value->resize(n);
  return PreadExact(fd_, index_[block].first + 4, n, value->data(), "block");
}

Status ContainerFile::Decode(uint64_t block, std::string* out) {
  // Blocks name earlier blocks; a writer's chains are at most 2 deep. A
  // deeper one is a damaged (or hostile) file: an error, not a deep stack.
  if (depth_ > kMaxDepth) return Status::Corruption("block " + std::to_string(block) + ": references nest too deep");
  struct Depth {
    int& d;
    explicit Depth(int& x) : d(x) { ++d; }
    ~Depth() { --d; }
  } guard(depth_);
  std::string value;
  PMKLC_RETURN_IF_ERROR(ReadValue(block, &value));
  // A block names only earlier blocks (or the external reference).
  std::vector<RefSegmentKey> deps;
  PMKLC_RETURN_IF_ERROR(BlockRefs(value, &deps));
  for (const RefSegmentKey& k : deps)
    if (k.object == kCollectionObject && k.segment >= block)
      return Status::Corruption("block " + std::to_string(block) + " names a later block");
  Status s = DecodeBlock(value, out, nullptr, this);
  if (!s.ok()) return Status::Corruption("block " + std::to_string(block) + ": " + s.message());
  if (out->size() != index_[block].second) return Status::Corruption("block " + std::to_string(block) + ": size differs from the index");
  return Status::OK();
}

Result<std::shared_ptr<const RefSegment>> ContainerFile::Get(const RefSegmentKey& key) {
  if (key.object != kCollectionObject) {
    if (external_ == nullptr) return Status::NotFound("no reference file given");
    return external_->Get(key);
  }
  if (key.segment >= index_.size()) return Status::NotFound("no such block");
  auto it = named_.find(key.segment);
  if (it != named_.end()) return it->second;
  auto seg = std::make_shared<RefSegment>();
  PMKLC_RETURN_IF_ERROR(Decode(key.segment, &seg->raw));
  seg->codes = NucleotideCodes(seg->raw);
  // Blocks others name stay decoded, within a budget (then they are decoded
  // again when named again).
  named_bytes_ += seg->raw.size() + seg->codes.size();
  if (named_bytes_ > kNamedBudget) {
    named_.clear();
    named_bytes_ = seg->raw.size() + seg->codes.size();
  }
  named_[key.segment] = seg;
  return std::shared_ptr<const RefSegment>(seg);
}

Status ContainerFile::ReadMember(size_t i, const Sink& sink) {
  if (i >= members_.size()) return Status::InvalidArgument("no such member");
  const uint64_t first = first_block_[i];
  const uint64_t end = i + 1 < first_block_.size() ? first_block_[i + 1] : index_.size();
  std::string out;
  for (uint64_t b = first; b < end; ++b) {
    auto it = named_.find(b);
    if (it != named_.end()) {
      PMKLC_RETURN_IF_ERROR(sink(it->second->raw));
      continue;
    }
    PMKLC_RETURN_IF_ERROR(Decode(b, &out));
    PMKLC_RETURN_IF_ERROR(sink(out));
  }
  return Status::OK();
}

}  // namespace pmklc
