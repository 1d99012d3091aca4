// ref_select.h — choosing what a FASTA file or block is coded against
// (engine/ref; issue #6). Encoder side only: decoding never needs it.
//
// Two tools:
//  * Sketch: a MinHash of a sequence's canonical k-mers (bottom-s, as Mash
//    does), small enough to keep per file in the store. Jaccard() estimates
//    how related two files are; unrelated genomes score ~0.
//  * RefIndex: sampled k-mers of candidate reference segments. Choose()
//    picks, for one block, the few segments that cover most of its sampled
//    k-mers (greedy set cover), or none when none covers enough.
// Both read nucleotide codes (values 0..3, NucleotideCodes in
// engine/codec/codec.h), both strands at once (canonical k-mers).
//
// Thread safety: SketchBuilder and RefIndex are not shared while being
// built; a built RefIndex may be read by several threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/codec/codec.h"
#include "engine/common/status.h"

namespace pmklc::ref {

// MinHash parameters (part of the sketch record's format). Version 2 codes
// the hashes as Rice-coded deltas (sketch.cc); Parse still reads version 1.
inline constexpr uint8_t kSketchVersion = 2;
inline constexpr int kSketchK = 21;
inline constexpr size_t kSketchSize = 1024;

// Choice rules shared by the store's archiver, compress --ref and
// collections. Jaccard index from which two files count as related (k =
// 21): strains of one species score 0.5-0.9, other species of one genus
// ~0.02, other genera ~0.
inline constexpr double kRelatedJaccard = 0.05;
// Related files (or objects) compared in detail (k-mer index), best first.
inline constexpr size_t kMaxCandidates = 4;
// Segments a block is coded against, at most.
inline constexpr size_t kMaxSegments = 4;
// A file is a genome worth sketching (and may use or be a reference) when
// at least 1024 of its bytes, and at least half of them, are A/C/G/T
// outside header lines: nucleotides = NucleotideCodes(file).size().
inline bool IsGenome(uint64_t nucleotides, uint64_t bytes) {
  return nucleotides >= 1024 && nucleotides >= bytes / 2;
}
// A segment is worth priming a block with when it covers at least this share
// of the block's sampled k-mers that the segments chosen before it did not:
// kMinFirstSegmentGain for the first, kMinSegmentGain for each further one.
// A base the repeat models cover costs ~0.02 bits, one they do not ~1.8. The
// first segment must also pay for the lighter context models of a block
// coded against segments (CmParams::Reference(): ~1% more than max on what
// no segment covers), so it needs 2%; after it, even 0.2% more coverage of a
// 4 MiB block saves ~1.8 KB, at the price of one more segment decoded by an
// uncached read (kMaxSegments bounds them). With 2% for every segment (the
// first rule) kpn_mgh78578 used 2 and 3 of the 4 segments of its two
// references and cost 166.7 KB; with 0.2% after the first, 4 and 4: 157.3 KB
// (docs/BENCHMARKS.md §References).
inline constexpr double kMinFirstSegmentGain = 0.02;
inline constexpr double kMinSegmentGain = 0.002;

struct Sketch {
  uint64_t bases = 0;           // nucleotide codes seen
  std::vector<uint64_t> mins;   // the smallest distinct 32-bit k-mer hashes, ascending, at most kSketchSize
  std::string Serialize() const;
  // Corruption for a malformed record.
  static Result<Sketch> Parse(std::string_view in);
};

// Builds a sketch from codes given in any number of consecutive chunks.
class SketchBuilder {
 public:
  void Add(std::string_view codes);
  Sketch Finish();

 private:
  uint64_t fw_ = 0, rc_ = 0;
  int have_ = 0;
  uint64_t bases_ = 0;
  std::vector<uint64_t> heap_;  // max-heap of the kept hashes
  void Offer(uint64_t h);
};

// Estimated Jaccard index of the two k-mer sets (bottom-s of the union);
// 0 when either is empty.
double Jaccard(const Sketch& a, const Sketch& b);

// Sampled canonical k-mers of candidate segments.
class RefIndex {
 public:
  static constexpr int kK = 20;
  // About one k-mer in 2^kSampleShift is indexed (chosen by hash, so the same
  // k-mers are sampled in every sequence).
  static constexpr int kSampleShift = 3;

  // Adds segment `id` (any caller-chosen number). Call Build() after the last.
  void Add(uint32_t id, std::string_view codes);
  void Build();
  size_t entries() const { return idx_.size(); }

  // Up to max_segments ids, best first: greedily the segment covering most
  // of the block's sampled k-mers not covered yet, while it adds at least
  // kMinFirstSegmentGain (the first) or kMinSegmentGain (the others) of them.
  // Empty when the block shares too little.
  std::vector<uint32_t> Choose(std::string_view codes, size_t max_segments) const;

 private:
  std::vector<std::pair<uint64_t, uint32_t>> idx_;  // (hash, id), sorted, unique
};

// Chooses the reference segments of each block a container writer codes
// (engine/container/container.h). Called in block order, from the writer's
// thread; `prime` gets the chosen segments' codes, concatenated.
class RefChooser {
 public:
  virtual ~RefChooser() = default;
  virtual void Choose(uint64_t block, std::string_view raw, std::vector<RefSegmentKey>* keys,
                      std::string* prime) = 0;
};

// A reference file given on the command line (`pmklc compress|decompress
// --ref REF`): its bytes cut into kSegmentBytes-byte segments, object id
// the XXH3-64 of the whole file (never 0). It is the RefSource of the
// blocks coded against it, and (encoder side) chooses their segments.
// Thread safety: const methods and Get may be called concurrently.
class FileRef : public RefSource, public RefChooser {
 public:
  static constexpr size_t kSegmentBytes = size_t{4} << 20;
  explicit FileRef(std::string bytes);
  uint64_t id() const { return id_; }
  uint64_t size() const { return bytes_size_; }
  Result<std::shared_ptr<const RefSegment>> Get(const RefSegmentKey& key) override;
  // The segments (at most format::kMaxBlockRefs) a block is best coded
  // against and their codes, concatenated; none when it shares too little.
  void Choose(uint64_t block, std::string_view raw, std::vector<RefSegmentKey>* keys, std::string* prime) override;

 private:
  uint64_t id_ = 0, bytes_size_ = 0;
  std::vector<std::shared_ptr<const RefSegment>> segs_;
  std::vector<RefSegmentKey> keys_;
  RefIndex index_;  // built by the first Choose
  bool indexed_ = false;
};

// The members of a collection container (`pmklc compress -o OUT A B ...`)
// code against the earlier members they are related to: BeginMember
// sketches the member and picks related earlier members (Jaccard >= 0.05,
// chains at most 2 deep, the best 4), then Choose gives each of its blocks
// up to 4 of their blocks. Segment keys name the container's own blocks
// (object `object`, segment = block number). Memory: the codes of every
// block of the members that may be referenced (1 byte per base).
class CollectionRefs : public RefChooser {
 public:
  explicit CollectionRefs(uint64_t object) : object_(object) {}
  // member: all of its bytes (its blocks follow, numbered from first_block).
  void BeginMember(std::string_view member, uint64_t first_block);
  void Choose(uint64_t block, std::string_view raw, std::vector<RefSegmentKey>* keys, std::string* prime) override;
  void EndMember();
  // Members coded against others so far.
  size_t dependent_members() const { return dependent_; }

 private:
  struct Member {
    Sketch sketch;
    uint8_t depth = 0;
    uint64_t first = 0;  // its first block
    std::vector<std::string> codes;  // per block (kept while it may be a reference)
    std::vector<uint64_t> checksums;
  };
  uint64_t object_;
  std::vector<Member> members_;
  Member cur_;
  std::vector<std::pair<size_t, size_t>> ids_;  // index id -> (member, block in member)
  RefIndex index_;
  uint8_t cur_depth_ = 0;
  size_t dependent_ = 0;
};

// Whole-file context for a plain container (`pmklc compress -p max`; issue
// #17): each block is coded against the genome blocks just before it, at
// most kPreviousBlocks of them (oldest first in the prime), named as the
// container's own blocks (object `object`, segment = block number). Blocks
// that are not genomes (IsGenome) are neither primed nor named. Memory: the
// codes of the last kPreviousBlocks genome blocks (1 byte per base).
class PreviousBlocks : public RefChooser {
 public:
  static constexpr size_t kPreviousBlocks = 4;
  explicit PreviousBlocks(uint64_t object) : object_(object) {}
  void Choose(uint64_t block, std::string_view raw, std::vector<RefSegmentKey>* keys, std::string* prime) override;

 private:
  struct Kept {
    uint64_t block, checksum;
    std::string codes;
  };
  uint64_t object_;
  std::vector<Kept> kept_;  // oldest first
};

}  // namespace pmklc::ref
