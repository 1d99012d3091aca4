// container.h — the standalone compressed file format of `pmklc compress`
// (docs/format.md §Container). Blocks are exactly the store's block values
// (engine/codec/codec.h), so there is one block implementation.
//
// Streaming: the writer holds at most one block of input; the reader holds at
// most one block value and one decoded block. Neither needs to seek.
// Thread safety: one writer or reader per thread.
// Errors: a truncated or corrupt container gives Corruption with a message
// that says where; a reader never returns a block that failed its checksum.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/codec/codec.h"
#include "engine/common/status.h"

namespace pmklc {

namespace ref {
class RefChooser;
}

// Object id of the segment keys by which a collection's blocks name the
// container's own earlier blocks (segment = block number; "COLL").
inline constexpr uint64_t kCollectionObject = 0x4c4c4f43;

// Writes bytes to the destination; returns non-OK on failure (e.g. disk full).
using Sink = std::function<Status(std::string_view)>;
// Reads up to n bytes into buf; returns 0 at end of input.
using Source = std::function<Result<size_t>(char* buf, size_t n)>;

struct ContainerOptions {
  uint32_t block_size = 1u << 20;                   // Default: 1 MiB
  uint8_t profile = 0;                              // Default: 0 (fast)
  EncodeOptions encode;                             // Default: EncodeOptions{}
  // A private model (SPrM) the blocks may use: written after the header
  // (header flag bit 0) so that the container decodes on its own; its bytes
  // count in the container's size. Must be encode.neural.sprm's serialised
  // form. Default: none
  std::string private_model;
  // W: blocks coded at the same time (threads). The output is the same for
  // every W: with the neural profile each block's dynamic models continue
  // the previous block's (step-wise model passing, chains of
  // format::kNeuralChainBlocks) whatever W is. Memory: W blocks and coders.
  // Default: 1
  int workers = 1;
  // Chooses the reference segments each block is coded against (codec
  // fasta-ref; `compress --ref`: a ref::FileRef, collections: a
  // ref::CollectionRefs). Borrowed. Default: none
  ref::RefChooser* chooser = nullptr;
  // compress --ref: the reference file's id and size, recorded in the header
  // (flag bit 1) so that decoding asks for the same file. Default: 0 (none)
  uint64_t reference_id = 0, reference_size = 0;
  // A collection (`compress -o OUT A B ...`; flag bit 2): its members, in
  // order; the caller appends each member's bytes and calls EndMember().
  // Default: none (one anonymous stream)
  std::vector<std::pair<std::string, uint64_t>> members;
  // Whole-file context (issue #17): a plain container (no chooser, no
  // members) codes each genome block against the genome blocks just before
  // it (ref::PreviousBlocks, at most 4: 64 MiB at max's 16 MiB blocks),
  // with its own models (EncodeOptions::ref_with_cm). Encoding still runs
  // `workers` blocks at once; decoding is then one block at a time. On
  // hsap_chrx70m (4 blocks of 16 MiB, bench/blocks.sh, 2026-12-03) it saves
  // 1.2% at max (1.4843 against 1.5017 bits/nt) and costs 1.2x the
  // one-thread compress time and 1.3x the decompress time (2.3x with 2
  // threads, which then cannot decode blocks at once). Default: false (true
  // for `compress -p max`, ContainerOptionsFor; `--independent-blocks`
  // turns it off)
  bool whole_file_context = false;
};

// One block being coded or decoded on its own thread (internal:
// engine/container/container_job.h).
struct ContainerJob;

class ContainerWriter {
 public:
  ContainerWriter(Sink sink, const ContainerOptions& opts);
  ~ContainerWriter();  // waits for blocks still being coded
  // Appends input; encodes and writes every full block.
  Status Append(std::string_view data);
  // Collections: ends the current member (its last block may be short).
  Status EndMember();
  // Writes the last partial block, the index and the trailer.
  Status Finish();
  uint64_t bytes_in() const { return bytes_in_; }
  uint64_t bytes_out() const { return bytes_out_; }

 private:
  Status WriteBlock(std::string_view raw);
  Status FinishOldest();
  Status Emit(std::string_view bytes);
  Sink sink_;
  ContainerOptions opts_;
  std::string pending_, value_, index_;
  // Blocks being coded (at most `workers`), oldest first; written in order.
  std::deque<std::unique_ptr<ContainerJob>> inflight_;
  std::shared_ptr<DmLink> chain_;           // the last started block's out link
  std::unique_ptr<ref::RefChooser> previous_;  // whole-file context's chooser (or none)
  uint64_t bytes_in_ = 0, bytes_out_ = 0, blocks_ = 0;
  bool started_ = false;
};

// The last blocks a whole-file-context container's reader decoded, as the
// RefSource of the next (other keys go to `external`). Internal to
// ContainerReader (engine/container/container_read.cc).
class RecentBlocks;

class ContainerReader {
 public:
  // threads: blocks decoded at the same time (read ahead; 1 for a container
  // with whole-file context, whose blocks need the ones before). Default: 1
  // refs: the reference file's segments, for a container written with one
  // (its id must be ref_id; a container that needs one and is not given it,
  // or is given another, fails at the first Next with a message saying so).
  // cm: decodes the fasta-cm nucleotide streams (a CmBatcher onto a GPU,
  // `decompress --device`; borrowed). Default: none (CmDecode)
  explicit ContainerReader(Source source, int threads = 1, RefSource* refs = nullptr, uint64_t ref_id = 0,
                           CmStreamCoder* cm = nullptr);
  ~ContainerReader();  // waits for blocks still being decoded
  // Decodes the next block into *block. *eof = true (and *block empty) after
  // the last block, once the index and trailer have been verified.
  Status Next(std::string* block, bool* eof);
  uint64_t bytes_in() const { return bytes_in_; }
  uint8_t profile() const { return profile_; }

 private:
  Status ReadExact(char* buf, size_t n, const char* what);
  Status Start();
  Status Finish();
  Status Fill();         // starts decodes until `threads` are in flight or the index is reached
  Status FinishOldest();  // waits for the oldest decode and queues its block
  Source source_;
  int threads_ = 1;
  RefSource* refs_ = nullptr;
  uint64_t ref_id_ = 0;
  CmStreamCoder* cm_ = nullptr;
  std::unique_ptr<RecentBlocks> recent_;    // whole-file context: the last blocks decoded
  std::deque<std::string> ready_;           // decoded blocks not yet returned
  std::deque<std::unique_ptr<ContainerJob>> inflight_;
  std::shared_ptr<DmLink> chain_;           // the last started block's out link
  uint64_t started_blocks_ = 0;
  bool at_index_ = false;
  std::string value_;
  std::vector<std::pair<uint64_t, uint32_t>> seen_;  // offset, raw length
  uint64_t bytes_in_ = 0, raw_total_ = 0, index_off_ = 0;
  uint32_t block_size_ = 0;
  uint8_t profile_ = 0;
  bool started_ = false, done_ = false;
};

// A member name a collection can hold and extract as a file of its own: 1 to
// 4096 bytes, no '/' or NUL, not "." or "..".
bool IsPlainMemberName(std::string_view name);

// Random access to a container file (a collection needs it: a member's
// blocks may name blocks of earlier members). It is the RefSource of its own
// blocks: a block decodes the blocks it names first (each once; those named
// stay cached). external: the reference file of a container written with
// --ref (its id must be external_id).
// Thread safety: one thread at a time.
class ContainerFile : public RefSource {
 public:
  static Result<std::unique_ptr<ContainerFile>> Open(const std::string& path, RefSource* external = nullptr,
                                                     uint64_t external_id = 0);
  ~ContainerFile() override;
  // Members (name, size); one unnamed member for a plain container.
  const std::vector<std::pair<std::string, uint64_t>>& members() const { return members_; }
  bool collection() const { return collection_; }
  // Decodes member i into sink, block by block: only its blocks and the
  // blocks they name are decoded.
  Status ReadMember(size_t i, const Sink& sink);
  Result<std::shared_ptr<const RefSegment>> Get(const RefSegmentKey& key) override;
  // The file starts with a container header whose member-table flag is set
  // (so that a caller can report Open's error instead of trying a stream).
  static bool LooksLikeCollection(const std::string& path);

 private:
  ContainerFile() = default;
  Status ReadValue(uint64_t block, std::string* value);
  Status Decode(uint64_t block, std::string* out);
  int fd_ = -1;
  uint32_t block_size_ = 0;
  bool collection_ = false;
  RefSource* external_ = nullptr;
  std::vector<std::pair<std::string, uint64_t>> members_;
  std::vector<uint64_t> first_block_;               // per member
  std::vector<std::pair<uint64_t, uint32_t>> index_;  // per block: offset, raw length
  std::map<uint64_t, std::shared_ptr<const RefSegment>> named_;  // decoded blocks other blocks name
  size_t named_bytes_ = 0;
  static constexpr size_t kNamedBudget = size_t{2} << 30;  // decoded blocks kept: raw + codes
  static constexpr int kMaxDepth = 4;                      // nested block decodes
  int depth_ = 0;
};

// Profiles of `pmklc compress -p`.
Result<uint8_t> ProfileFromName(std::string_view name);
// Options of `pmklc compress -p NAME`: the profile id, its encoder options
// (ProfileOptions) and its block size (1 MiB for fast, 16 MiB for the
// context-mixing profiles).
Result<ContainerOptions> ContainerOptionsFor(std::string_view name);

}  // namespace pmklc
