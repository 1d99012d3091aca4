// archiver.h — the background archiver: recodes fast-tier blocks of idle
// files into archived groups with a strong profile (docs/store.md §Archive).
//
// Work list: the store's pending-archive marks (every store of fast-tier
// blocks sets one). For each marked file that is idle — not open for writing,
// nothing unstored, ctime at least `delay_s` old — each group of
// Store::group_blocks() logical blocks that has fast-tier blocks is decoded,
// recoded as one block value with the archive profile, and swapped in: one
// WriteBatch puts the group and deletes its blocks, under the file's lock and
// only if the blocks and the file size are still exactly those that were
// recoded. A crash at any point leaves either the old blocks or the new group,
// never neither. A group whose recoding is not smaller stays in the fast tier.
// The mark is removed once every group is done and the file did not change
// meanwhile (its ctime is unchanged).
//
// The same code runs in the daemon (FsArchiveHost: the live Filesystem's
// locks and open counts) and offline in `pmklc archive` (StoreArchiveHost).
//
// Thread safety: Start/Stop/Kick/WaitPass/stats may be called from any
// thread. Workers run at idle CPU and I/O priority when idle_priority is set.
// Memory: each worker holds one model of the profile (max: ~0.2 GiB) plus
// about 3 groups of data; with references, planning a FASTA file holds it
// and its codes (<= 256 MiB file: ~0.5 GiB) and its related files' decoded
// segments (the host's cache, ArchiveHost::refs, or its own of
// ref_cache_bytes), and a group's coder its prime (1 byte per base of up to
// 4 segments).
// Errors: a group that fails to decode or encode is logged and left as it
// is; the file keeps its mark and is retried once it changes (or by the next
// process), not on every pass.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/codec/codec.h"
#include "engine/models/cm_batch.h"
#include "store/store.h"

#include "store/services/archive_refs.h"
#include "store/services/store_refs.h"

namespace pmklc {

struct ArchiveOptions {
  // Profile of archived groups: "max" or "balanced" (fasta-cm), "neural"
  // (fasta-neural; see ProfileOptions in engine/codec/codec.h) or "off".
  // Default: "max"
  std::string profile = "max";
  // A file is archived once it has been closed and unchanged this long. Default: 60
  uint32_t delay_s = 60;
  // Worker threads. Default: 1
  unsigned threads = 1;
  // Run workers at SCHED_IDLE, nice 19 and the idle I/O class. Default: true
  bool idle_priority = true;
  // The store's private model (SPrM), a candidate of the neural profile
  // (store/services/store_models.h). Default: none
  std::shared_ptr<const TokNetModel> private_model;
  // Code FASTA files against related files already archived in the store
  // (issue #6; store/services/archive_refs.h, docs/store.md §References). Default: true
  bool references = true;
  // Most reference segments one group is primed with (1..4). Default: 4
  uint32_t ref_segments = 4;
  // Deepest reference chain a read may have to decode (1 or 2): 1 lets files
  // depend only on files coded alone. Default: 2
  uint32_t ref_depth = 2;
  // Decoded reference segments the archiver keeps in memory when its host
  // has no cache to share (ArchiveHost::refs). Default: 256 MiB
  size_t ref_cache_bytes = size_t{256} << 20;
  // Where the groups' nucleotide streams are coded (issue #18;
  // engine/models/cm_batch.h): with GPUs, the groups the `threads` workers
  // code at once are gathered into one GPU batch (max and balanced; neural
  // and groups coded against references stay on the CPU), with the CPU's
  // bytes. cuda without a GPU fails Init. Default: auto (the GPUs when there
  // are any)
  DeviceChoice device;
  // Code each group as consecutive parts of this many bytes, each decoded
  // alone (codec split, docs/format.md §split): an uncached read of a few KB
  // decodes one part instead of the whole group, at a cost in ratio
  // (docs/BENCHMARKS.md §Region reads). A multiple of the store's block
  // size, smaller than its groups; 0: each group is one stream. Default: 0
  uint32_t split_bytes = 0;
};

// Encoder options of an archive profile; InvalidArgument for an unknown name.
Result<EncodeOptions> ArchiveEncodeOptions(const std::string& profile);

// What the archiver needs from whoever owns the files.
class ArchiveHost {
 public:
  virtual ~ArchiveHost() = default;
  // OK if ino may be archived now: not open for writing, no unstored data,
  // and (when not_after is set) ctime <= *not_after. Busy otherwise.
  virtual Status CheckIdle(uint64_t ino, const Time* not_after) = 0;
  // Runs fn with the file's current attributes while no one can change the
  // file, then writes the batch fn filled (if any). fn returns Busy to abort;
  // Commit returns fn's status or the write's.
  virtual Status Commit(uint64_t ino, const std::function<Status(const InodeAttr&, Store::Batch*)>& fn) = 0;
  // The host's cache of decoded reference segments, which the archiver then
  // shares (so a mount keeps one cache for its reads and its archiver, and
  // a segment decoded for one is there for the other); it must outlive the
  // Archiver. nullptr: the archiver keeps its own of
  // ArchiveOptions::ref_cache_bytes. Default: nullptr
  virtual StoreRefs* refs() { return nullptr; }
  // True when nothing but the caller changes the store meanwhile (it is
  // not mounted: this process holds it), so that what a caller checked
  // stays true until it writes. Default: false
  virtual bool exclusive() const { return false; }
};

// Host for a store that is not mounted (pmklc archive): no other writer exists.
class StoreArchiveHost : public ArchiveHost {
 public:
  explicit StoreArchiveHost(Store* store) : store_(store) {}
  Status CheckIdle(uint64_t ino, const Time* not_after) override;
  Status Commit(uint64_t ino, const std::function<Status(const InodeAttr&, Store::Batch*)>& fn) override;
  bool exclusive() const override { return true; }

 private:
  Store* store_;
};

struct ArchiveStats {
  uint64_t groups = 0;        // groups archived
  uint64_t raw_bytes = 0;     // file bytes in those groups
  uint64_t before_bytes = 0;  // their fast-tier block values
  uint64_t after_bytes = 0;   // their archived group values
  double busy_s = 0;          // wall time spent recoding
  std::string Serialize() const;
  static ArchiveStats Parse(std::string_view s);  // zeros on malformed input
};

// What one pass did, and why it did not do more.
struct PassSummary {
  uint64_t pending = 0;          // files marked pending when the pass began
  uint64_t files = 0;            // files whose every group was recoded (mark removed)
  uint64_t groups = 0;           // groups archived
  uint64_t no_gain_groups = 0;   // groups left in the fast tier: not smaller recoded
  uint64_t not_idle = 0;         // changed within archive_delay
  uint64_t in_use = 0;           // open for writing, unstored data, or changed meanwhile
  uint64_t failed = 0;           // a group failed to decode or encode this pass
  uint64_t failed_before = 0;    // failed in an earlier pass and unchanged since
  // One line: what was pending and why it is still pending.
  std::string Explain() const;
};

// A file the archiver gave up on (until it changes), with the reason.
struct ArchiveFailure {
  uint64_t ino = 0;
  std::string why;
};

class Archiver {
 public:
  // Borrows store and host; both must outlive the Archiver.
  Archiver(Store* store, ArchiveHost* host, ArchiveOptions opts);
  ~Archiver();  // Stop()
  Archiver(const Archiver&) = delete;
  Archiver& operator=(const Archiver&) = delete;

  // Validates the options (InvalidArgument for an unknown profile).
  Status Init();
  // Replaces the private model offered to the neural profile; groups recoded
  // afterwards may use it. Thread-safe.
  void SetPrivateModel(std::shared_ptr<const TokNetModel> m);
  // Starts the background loop (a pass every few seconds, or at Kick).
  void Start();
  // Stops after the groups in progress (their swaps complete or are dropped).
  void Stop();
  // Makes the next pass start now and ignore the delay.
  void Kick();
  // Runs fn with no pass running, and none starting until it returns (the
  // daemon's export and ingest). Thread-safe.
  void WhilePaused(const std::function<void()>& fn);
  // Kicks, then waits until a pass that started after the call has ended.
  // Returns that pass's status; `busy` gets the number of files skipped
  // because they were open for writing.
  Status WaitPass(uint64_t* busy);

  // One pass over the pending files, on opts.threads threads (also used by
  // the offline command). ignore_delay archives files regardless of age.
  // progress(done_bytes, total_bytes) is called after each group.
  // summary, when given, gets what the pass did and why not more.
  Status RunPass(bool ignore_delay, uint64_t* busy,
                 const std::function<void(uint64_t, uint64_t)>& progress = {}, PassSummary* summary = nullptr);
  // The summary of the last pass that ended (zeros before the first).
  PassSummary last_summary();
  // Files given up on this process (until they change), with the reason.
  std::vector<ArchiveFailure> failures();

  // Counters of this process plus those persisted in the store.
  ArchiveStats stats();

 private:
  struct Unit;
  struct FileJob;
  enum class GroupResult { kArchived, kNoGain, kBusy, kError };
  GroupResult ArchiveGroup(uint64_t ino, uint64_t g, uint64_t* raw_len, const RefPlan::Group* refs,
                           std::string* why);
  void Loop();
  void PersistStats();

  Store* store_;
  ArchiveHost* host_;
  ArchiveOptions opts_;
  std::unique_ptr<StoreRefs> own_refs_;  // when the host shares none
  StoreRefs* refs_;                      // host_->refs() or own_refs_
  RefPlanner planner_;
  std::mutex enc_mu_;  // guards enc_ (SetPrivateModel against the workers)
  EncodeOptions enc_;
  std::unique_ptr<CmBatcher> batcher_;  // with GPUs (opts_.device): enc_.cm_coder
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false, kicked_ = false, running_pass_ = false;
  uint64_t pass_started_ = 0, pass_ended_ = 0;
  Status last_pass_;
  uint64_t last_busy_ = 0;
  std::mutex pass_mu_;  // one pass at a time
  std::mutex stats_mu_;
  ArchiveStats stats_, persisted_;
  struct Errored {
    Time ctime;       // the file's ctime when a group failed
    std::string why;  // the first failure
  };
  std::map<uint64_t, Errored> errored_;  // guarded by stats_mu_
  PassSummary last_summary_;             // guarded by stats_mu_
  std::thread thread_;
};

}  // namespace pmklc
