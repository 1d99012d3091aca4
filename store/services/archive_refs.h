// archive_refs.h — how the archiver codes a FASTA file against related
// files of the store (internal to fs/; issue #6, docs/store.md §References).
//
// Plan(): before a pending file's groups are recoded, its nucleotides are
// sketched (MinHash) and compared with the sketches of the archived files
// and reference objects. The related ones (Jaccard >= ref::kRelatedJaccard, whose
// chains leave room: depth < max_depth) are indexed by sampled k-mers, and
// each group picks the few segments covering most of its k-mers. A related
// file that some group picks is promoted first: its archived groups move,
// unchanged, into a new reference object, and the file's groups become
// ref-link blocks to them (one atomic batch under the file's lock). The
// plan gives each group the segment keys and the bases to prime its coder
// with. A file that is not nucleotide FASTA, too large, partly archived, or
// related to nothing gets an empty plan and is coded alone, as before.
//
// PlanningOrder() picks the order in which a pass plans its files.
// SketchRecord() gives the file's sketch record (with its depth), which the
// archiver stores once every group is archived, so later files can pick it. CollectGarbage() deletes the
// objects no hold names any more.
// Thread safety: one planner per archiver pass thread; its methods are not
// called concurrently (the pass lock), except DropUnneededHolds.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/codec/codec.h"
#include "engine/ref/ref_select.h"
#include "store/services/store_refs.h"
#include "store/store.h"

namespace pmklc {

class ArchiveHost;

struct RefPlanOptions {
  uint32_t max_segments = 4;  // per group, <= format::kMaxBlockRefs
  uint32_t max_depth = 2;     // reference chain a read of the file may decode
};

struct RefPlan {
  bool sketched = false;  // nucleotide FASTA: SketchRecord() gives its sketch
  ref::Sketch sketch;
  uint8_t depth = 0;      // 0: coded alone; else 1 + the deepest object used
  struct Group {
    std::vector<RefSegmentKey> refs;  // the segments to prime the group's coder with, in order
  };
  std::map<uint64_t, Group> groups;  // by group number; absent: coded alone
  // Files promoted to objects for this plan: their old group values now
  // live on as the objects' segments (Store::ScheduleReclaim frees them).
  std::vector<uint64_t> promoted;
};

// A file's sketch record (`k` + ino), as RefPlanner::SketchRecord writes it:
// the depth of the file's chain and its sketch.
struct FileSketch {
  uint8_t depth = 0;
  ref::Sketch sketch;
};
// Corruption for an unknown record version or a malformed sketch.
Result<FileSketch> ParseSketchRecord(std::string_view record);

class RefPlanner {
 public:
  // Files above this size are coded alone (their sketch is not taken).
  // (Planning holds the file and its codes: about 2 bytes per byte.)
  static constexpr uint64_t kMaxFileBytes = uint64_t{256} << 20;

  // PlanningOrder orders at most this many files by their sketches; the
  // rest follow as they came. (It compares every pair.)
  static constexpr size_t kMaxOrdered = 256;

  RefPlanner(Store* store, ArchiveHost* host, StoreRefs* refs, RefPlanOptions opts);
  // The sketch Plan would take of a pending file (nucleotide FASTA, wholly
  // in the fast tier, at most kMaxFileBytes, mostly A/C/G/T), for
  // PlanningOrder; nullopt for a file Plan would code alone.
  Result<std::optional<ref::Sketch>> PendingSketch(uint64_t ino, uint64_t size, const std::vector<uint64_t>& groups);
  // A step of PlanningOrder: the file (an index into `pending`), and
  // whether to plan it with stay_usable.
  struct PlanStep {
    size_t index = 0;
    bool stay_usable = false;
  };
  // The order in which to plan a pass's pending files (with their
  // PendingSketch results; a pending file's own old sketch record, if it
  // still has one, is not something it could use): files without a sketch first, as they came;
  // then farthest first: next is the file least like any file or object it
  // could use (the most central when none is alike). The files planned
  // early stay shallow enough to be references, so they should be diverse:
  // with chains at most 2 deep, two close strains that both come after two
  // others could use neither each other. A file is marked stay_usable when a
  // file planned after it is more like it (Jaccard + kUsableMargin) than
  // like anything else it could use. Deterministic for the same sketches
  // and store.
  static constexpr double kUsableMargin = 0.05;
  struct PendingFile {
    uint64_t ino = 0;
    std::optional<ref::Sketch> sketch;  // PendingSketch's
  };
  Result<std::vector<PlanStep>> PlanningOrder(const std::vector<PendingFile>& pending);
  // The plan for file ino (size bytes, its fast-tier groups `groups`).
  // stay_usable (with max_depth 2): use only files and objects coded alone
  // when any is related, so that the file stays shallow enough to be a
  // reference itself (it costs the coverage the deeper ones would add).
  // Errors are logged by the caller; the file is then coded alone.
  // known: the file's PendingSketch, when the caller took it already: then
  // a file related to nothing is not read again (the plan is the same).
  Result<RefPlan> Plan(uint64_t ino, uint64_t size, const std::vector<uint64_t>& groups, bool stay_usable = false,
                       const ref::Sketch* known = nullptr);
  // The sketch record to keep for a file whose groups were all archived
  // with `plan`: empty when it is not nucleotide FASTA or could never be a
  // reference (its chain is max_depth deep already).
  std::string SketchRecord(const RefPlan& plan) const;
  // Adds to *b the deletion of file ino's holds on objects none of its
  // archived groups names any more (a group exploded by a write and
  // recoded may name others, or none), so that those objects can go when
  // nothing else holds them. Call under the file's lock (its groups must
  // not change before *b is written; Archiver's finish). Holding too long
  // is safe, releasing too early is not: on any error nothing is added.
  // Reads the store only: may run on several threads at once.
  Status DropUnneededHolds(uint64_t ino, Store::Batch* b);
  // Deletes every reference object that no hold names (repeatedly: an
  // object's own holds go with it). Returns how many were deleted.
  Result<size_t> CollectGarbage();

 private:
  struct Candidate;
  Result<bool> HasFastTierBlocks(uint64_t ino);
  // Whether file ino may use references (see PendingSketch); if so, its
  // sketch, and fn (if any) gets each group's nucleotide codes, in order.
  Result<bool> ScanPending(uint64_t ino, uint64_t size, const std::vector<uint64_t>& groups, ref::Sketch* sketch,
                           const std::function<void(uint64_t group, std::string&& codes)>& fn);
  Status LoadCandidate(Candidate* c);
  Status Promote(Candidate* c);

  Store* store_;
  ArchiveHost* host_;
  StoreRefs* refs_;
  RefPlanOptions opts_;
};

}  // namespace pmklc
