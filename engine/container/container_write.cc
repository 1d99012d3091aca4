#include <cstring>
#include <thread>

#include "engine/codec/endian.h"
#include "engine/container/container.h"
#include "engine/ref/ref_select.h"
#include "engine/container/container_format.h"
#include "engine/container/container_job.h"
#include "engine/format.h"

namespace pmklc {

using namespace container;

Result<ContainerOptions> ContainerOptionsFor(std::string_view name) {
  auto id = ProfileFromName(name);
  if (!id.ok()) return id.status();
  auto enc = ProfileOptions(name);
  if (!enc.ok()) return enc.status();
  ContainerOptions co;
  co.profile = *id;
  co.encode = *enc;
  // Context models learn across the whole block: 16 MiB blocks for them.
  if (co.encode.use_cm) co.block_size = 16u << 20;
  co.whole_file_context = name == "max";
  return co;
}

Result<uint8_t> ProfileFromName(std::string_view name) {
  if (name == "fast") return uint8_t{0};
  if (name == "max") return uint8_t{2};
  if (name == "balanced") return uint8_t{1};
  if (name == "neural") return uint8_t{3};
  return Status::InvalidArgument("unknown profile '" + std::string(name) + "' (fast, balanced, max, neural)");
}

ContainerWriter::ContainerWriter(Sink sink, const ContainerOptions& opts)
    : sink_(std::move(sink)), opts_(opts) {}

Status ContainerWriter::Emit(std::string_view bytes) {
  PMKLC_RETURN_IF_ERROR(sink_(bytes));
  bytes_out_ += bytes.size();
  return Status::OK();
}

Status ContainerWriter::WriteBlock(std::string_view raw) {
  if (!started_) {
    if (opts_.whole_file_context && opts_.chooser == nullptr && opts_.members.empty() && opts_.encode.use_cm &&
        !opts_.encode.use_neural) {
      previous_ = std::make_unique<ref::PreviousBlocks>(kCollectionObject);
      opts_.chooser = previous_.get();
      opts_.encode.ref_with_cm = true;
    }
    char h[16];
    std::memcpy(h, kMagic, 8);
    h[8] = static_cast<char>(kVersion);
    h[9] = static_cast<char>(opts_.profile);
    StoreLE16(h + 10, static_cast<uint16_t>((opts_.private_model.empty() ? 0 : kFlagPrivateModel) |
                                            (opts_.reference_id ? kFlagReference : 0) |
                                            (opts_.members.empty() ? 0 : kFlagMembers) |
                                            (previous_ ? kFlagSelfRefs : 0)));
    StoreLE32(h + 12, opts_.block_size);
    if (opts_.private_model.size() > kMaxModelFileBytes)
      return Status::InvalidArgument("private model larger than 64 MiB: a container cannot carry it");
    PMKLC_RETURN_IF_ERROR(Emit(std::string_view(h, 16)));
    if (!opts_.private_model.empty()) {
      char len[4];
      StoreLE32(len, static_cast<uint32_t>(opts_.private_model.size()));
      PMKLC_RETURN_IF_ERROR(Emit(std::string_view(len, 4)));
      PMKLC_RETURN_IF_ERROR(Emit(opts_.private_model));
    }
    if (opts_.reference_id) {
      char r[16];
      StoreLE64(r, opts_.reference_id);
      StoreLE64(r + 8, opts_.reference_size);
      PMKLC_RETURN_IF_ERROR(Emit(std::string_view(r, 16)));
    }
    if (!opts_.members.empty()) {
      // Member table: u32 count, then per member u16 name length, the name,
      // u64 size.
      if (opts_.members.size() > kMaxMembers) return Status::InvalidArgument("too many members");
      std::string t(4, '\0');
      StoreLE32(t.data(), static_cast<uint32_t>(opts_.members.size()));
      for (auto& [name, size] : opts_.members) {
        if (!IsPlainMemberName(name)) return Status::InvalidArgument("bad member name '" + name + "'");
        char b[8];
        StoreLE16(b, static_cast<uint16_t>(name.size()));
        t.append(b, 2);
        t += name;
        StoreLE64(b, size);
        t.append(b, 8);
      }
      PMKLC_RETURN_IF_ERROR(Emit(t));
    }
    started_ = true;
  }
  if (raw.empty()) return Status::OK();
  if (static_cast<int>(inflight_.size()) >= std::max(1, opts_.workers)) PMKLC_RETURN_IF_ERROR(FinishOldest());
  // Start coding this block on its own thread. With the neural profile,
  // block b continues block b-1's dynamic models unless b is a multiple of
  // kNeuralChainBlocks: its coder waits only for b-1's first smp_percent
  // (its link), so up to `workers` consecutive blocks run at once. The bytes
  // do not depend on `workers`.
  auto job = std::make_unique<ContainerJob>();
  job->in.assign(raw);
  EncodeOptions e = opts_.encode;
  if (opts_.chooser) {
    // Coded against the segments that cover it best (the job keeps the
    // primed codes alive). Not with the neural profile.
    opts_.chooser->Choose(blocks_ + inflight_.size(), job->in, &e.refs, &job->prime);
    e.ref_codes = job->prime;
    e.use_neural = false;
  }
  const bool chained = e.use_neural;
  if (chained) {
    const uint64_t b = blocks_ + inflight_.size();
    job->in_link = chain_;
    job->out_link = std::make_shared<DmLink>();
    job->chain.pos = static_cast<uint32_t>(b % format::kNeuralChainBlocks);
    job->chain.in = job->chain.pos > 0 ? job->in_link.get() : nullptr;
    job->chain.out = job->out_link.get();
    e.neural.chain = job->chain;
    e.neural.workers = 1;  // one sub-block per block: W is spent on blocks
    chain_ = job->out_link;
  }
  ContainerJob* j = job.get();
  auto run = [j, e, chained] {
    try {
      j->status = EncodeBlock(j->in, e, &j->out);
    } catch (const std::bad_alloc&) {
      j->status = Status::NoMemory("out of memory coding a block");
    }
    if (chained) {
      if (j->status.ok()) ForwardChain(j->chain);
      else j->chain.out->PublishRest(false);
    }
  };
  if (opts_.workers <= 1) run();
  else j->thread = std::thread(run);
  inflight_.push_back(std::move(job));
  if (opts_.workers <= 1) return FinishOldest();
  return Status::OK();
}

// Waits for the oldest block in flight and writes it.
Status ContainerWriter::FinishOldest() {
  if (inflight_.empty()) return Status::OK();
  std::unique_ptr<ContainerJob> j = std::move(inflight_.front());
  inflight_.pop_front();
  if (j->thread.joinable()) j->thread.join();
  PMKLC_RETURN_IF_ERROR(j->status);
  char idx[12];
  StoreLE64(idx, bytes_out_);
  StoreLE32(idx + 8, static_cast<uint32_t>(j->in.size()));
  index_.append(idx, 12);
  char len[4];
  StoreLE32(len, static_cast<uint32_t>(j->out.size()));
  PMKLC_RETURN_IF_ERROR(Emit(std::string_view(len, 4)));
  PMKLC_RETURN_IF_ERROR(Emit(j->out));
  blocks_++;
  return Status::OK();
}

ContainerWriter::~ContainerWriter() {
  for (auto& j : inflight_)
    if (j->thread.joinable()) j->thread.join();
}

Status ContainerWriter::Append(std::string_view data) {
  const size_t bs = opts_.block_size;
  if (bs < format::kMinBlockSize || bs > format::kMaxBlockSize)
    return Status::InvalidArgument("container block size must be in [4 KiB, 16 MiB]");
  bytes_in_ += data.size();
  if (!pending_.empty()) {
    size_t take = std::min(bs - pending_.size(), data.size());
    pending_.append(data.substr(0, take));
    data.remove_prefix(take);
    if (pending_.size() < bs) return Status::OK();
    PMKLC_RETURN_IF_ERROR(WriteBlock(pending_));
    pending_.clear();
  }
  while (data.size() >= bs) {
    PMKLC_RETURN_IF_ERROR(WriteBlock(data.substr(0, bs)));
    data.remove_prefix(bs);
  }
  pending_.assign(data);
  return Status::OK();
}

Status ContainerWriter::EndMember() {
  if (!pending_.empty()) PMKLC_RETURN_IF_ERROR(WriteBlock(pending_));
  pending_.clear();
  return Status::OK();
}

Status ContainerWriter::Finish() {
  PMKLC_RETURN_IF_ERROR(WriteBlock(pending_));  // also writes the header of an empty input
  pending_.clear();
  while (!inflight_.empty()) PMKLC_RETURN_IF_ERROR(FinishOldest());
  // Index: marker | u64 block count | u64 raw bytes | (u64 offset, u32 raw length)* |
  // u64 index offset | trailer magic
  const uint64_t index_off = bytes_out_;
  std::string tail(4 + 16, '\0');
  StoreLE32(tail.data(), kIndexMarker);
  StoreLE64(tail.data() + 4, blocks_);
  StoreLE64(tail.data() + 12, bytes_in_);
  tail += index_;
  char t[16];
  StoreLE64(t, index_off);
  std::memcpy(t + 8, kTrailerMagic, 8);
  tail.append(t, 16);
  return Emit(tail);
}

}  // namespace pmklc
