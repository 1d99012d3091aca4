#include "store/services/archiver.h"

#include <pthread.h>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "engine/common/guarded.h"

namespace pmklc {

namespace {

Time NowTime() {
  int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                   std::chrono::system_clock::now().time_since_epoch()).count();
  return Time{ns / 1000000000, static_cast<uint32_t>(ns % 1000000000)};
}

// SCHED_IDLE, nice 19 and the idle I/O class for the calling thread; failures
// (e.g. a seccomp filter) only cost priority, so they are ignored.
void LowerPriority() {
  const pid_t tid = static_cast<pid_t>(syscall(SYS_gettid));
  (void)setpriority(PRIO_PROCESS, static_cast<id_t>(tid), 19);
  sched_param sp{};
  (void)pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp);
  constexpr int kWhoProcess = 1, kClassIdle = 3, kClassShift = 13;
  (void)syscall(SYS_ioprio_set, kWhoProcess, tid, kClassIdle << kClassShift);
}

constexpr const char* kStatsKey = "archive_stats";

}  // namespace

Result<EncodeOptions> ArchiveEncodeOptions(const std::string& profile) {
  if (profile != "max" && profile != "balanced" && profile != "neural")
    return Status::InvalidArgument("unknown archive profile '" + profile + "' (expected max, balanced, neural or off)");
  // neural: one sub-block per group (W = 1); the archiver's threads already
  // code groups in parallel.
  return ProfileOptions(profile);
}

// ---- StoreArchiveHost ----------------------------------------------------

Status StoreArchiveHost::CheckIdle(uint64_t ino, const Time* not_after) {
  auto a = store_->GetInode(ino);
  if (!a.ok()) return a.status();
  if (not_after && *not_after < a->ctime) return Status::Busy("changed recently");
  return Status::OK();
}

Status StoreArchiveHost::Commit(uint64_t ino,
                                const std::function<Status(const InodeAttr&, Store::Batch*)>& fn) {
  auto a = store_->GetInode(ino);
  if (!a.ok()) return a.status();
  Store::Batch b;
  PMKLC_RETURN_IF_ERROR(fn(*a, &b));
  return b.Count() ? store_->Write(b, false) : Status::OK();
}

// ---- ArchiveStats ----------------------------------------------------------

std::string ArchiveStats::Serialize() const {
  char buf[160];
  std::snprintf(buf, sizeof buf, "v1 %llu %llu %llu %llu %.3f", static_cast<unsigned long long>(groups),
                static_cast<unsigned long long>(raw_bytes), static_cast<unsigned long long>(before_bytes),
                static_cast<unsigned long long>(after_bytes), busy_s);
  return buf;
}

ArchiveStats ArchiveStats::Parse(std::string_view s) {
  ArchiveStats a;
  std::string str(s);
  unsigned long long g, r, b, f;
  double t;
  if (std::sscanf(str.c_str(), "v1 %llu %llu %llu %llu %lf", &g, &r, &b, &f, &t) == 5) {
    a.groups = g;
    a.raw_bytes = r;
    a.before_bytes = b;
    a.after_bytes = f;
    a.busy_s = t;
  }
  return a;
}

// ---- Archiver ----------------------------------------------------------------

struct Archiver::FileJob {
  uint64_t ino = 0;
  Time ctime;
  uint64_t size = 0;
  std::vector<uint64_t> groups;  // fast-tier groups to recode
  RefPlan plan;                  // references (empty: coded alone)
  bool stay_usable = false;      // RefPlanner::Plan's stay_usable
  std::atomic<size_t> remaining{0};
  std::atomic<bool> failed{false};
  std::atomic<bool> error{false};  // a group failed to decode or encode
  std::atomic<uint64_t> archived{0};  // file bytes swapped into groups
  std::mutex mu;                      // guards why
  std::string why;                    // the first group's error, if any
  std::atomic<bool> finished{false};  // every group done and the mark removed
};

struct Archiver::Unit {
  FileJob* job;
  uint64_t group;
};

Archiver::Archiver(Store* store, ArchiveHost* host, ArchiveOptions opts)
    : store_(store),
      host_(host),
      opts_(std::move(opts)),
      own_refs_(host->refs() ? nullptr : std::make_unique<StoreRefs>(store, opts_.ref_cache_bytes)),
      refs_(host->refs() ? host->refs() : own_refs_.get()),
      planner_(store, host, refs_, RefPlanOptions{opts_.ref_segments, opts_.ref_depth}) {
  std::string v;
  if (store_->GetMeta(kStatsKey, &v).ok()) persisted_ = ArchiveStats::Parse(v);
}

Archiver::~Archiver() { Stop(); }

std::string PassSummary::Explain() const {
  if (pending == 0) return "nothing to archive: no file has data in the fast tier";
  std::string r = std::to_string(pending) + " pending file(s)";
  auto add = [&](uint64_t n, const char* what) {
    if (n) r += ", " + std::to_string(n) + " " + what;
  };
  add(files, "archived");
  add(not_idle, "not idle yet (changed within archive_delay; `pmklc archive` on a mount ignores the delay)");
  add(in_use, "open for writing, with unstored data, or changed while recoded (retried at the next pass)");
  add(failed, "failed (see `pmklc stat`; retried once the file changes)");
  add(failed_before, "failed before and unchanged since (see `pmklc stat`)");
  if (no_gain_groups) r += ", " + std::to_string(no_gain_groups) + " group(s) left in the fast tier (not smaller recoded)";
  return r;
}

std::vector<ArchiveFailure> Archiver::failures() {
  std::lock_guard<std::mutex> l(stats_mu_);
  std::vector<ArchiveFailure> v;
  for (auto& [ino, e] : errored_) v.push_back({ino, e.why});
  return v;
}

PassSummary Archiver::last_summary() {
  std::lock_guard<std::mutex> l(stats_mu_);
  return last_summary_;
}

Status Archiver::Init() {
  if (opts_.threads == 0 || opts_.threads > 64) return Status::InvalidArgument("archive_threads must be 1..64");
  if (opts_.ref_segments == 0 || opts_.ref_segments > format::kMaxBlockRefs)
    return Status::InvalidArgument("ref_segments must be 1.." + std::to_string(format::kMaxBlockRefs));
  if (opts_.ref_depth == 0 || opts_.ref_depth > 2) return Status::InvalidArgument("ref_depth must be 1 or 2");
  if (opts_.split_bytes != 0 &&
      (opts_.split_bytes % store_->block_size() != 0 ||
       uint64_t{opts_.split_bytes} >= uint64_t{store_->block_size()} * store_->group_blocks()))
    return Status::InvalidArgument("archive_split=" + std::to_string(opts_.split_bytes) +
                                   " must be a multiple of the store's block size (" +
                                   std::to_string(store_->block_size()) + ") smaller than its groups (" +
                                   std::to_string(uint64_t{store_->block_size()} * store_->group_blocks()) + ")");
  auto e = ArchiveEncodeOptions(opts_.profile);
  if (!e.ok()) return e.status();
  enc_ = *e;
  enc_.split_bytes = opts_.split_bytes;
  enc_.neural.sprm = opts_.private_model;
  auto gpus = ResolveDevice(opts_.device);
  if (!gpus.ok()) return gpus.status();
  if (!gpus->empty() && (enc_.use_cm || enc_.use_neural)) {
    batcher_ = std::make_unique<CmBatcher>(opts_.device, opts_.threads);
    enc_.cm_coder = batcher_.get();
    spdlog::info("archiver: {} workers code {} groups in GPU batches ({} GPU{})", opts_.threads, opts_.profile,
                 gpus->size(), gpus->size() == 1 ? "" : "s");
  }
  return Status::OK();
}

void Archiver::SetPrivateModel(std::shared_ptr<const TokNetModel> m) {
  std::lock_guard<std::mutex> l(enc_mu_);
  enc_.neural.sprm = std::move(m);
}

void Archiver::Start() {
  std::lock_guard<std::mutex> l(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void Archiver::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Archiver::Kick() {
  {
    std::lock_guard<std::mutex> l(mu_);
    kicked_ = true;
  }
  cv_.notify_all();
}

Status Archiver::WaitPass(uint64_t* busy) {
  std::unique_lock<std::mutex> l(mu_);
  if (!thread_.joinable()) return Status::InvalidArgument("archiver is not running");
  const uint64_t target = pass_started_ + 1;
  kicked_ = true;
  cv_.notify_all();
  cv_.wait(l, [&] { return pass_ended_ >= target || stop_; });
  if (pass_ended_ < target) return Status::Busy("archiver stopped");
  if (busy) *busy = last_busy_;
  return last_pass_;
}

void Archiver::Loop() {
  if (opts_.idle_priority) LowerPriority();
  // Poll often enough that a file is archived soon after its delay expires.
  const auto poll = std::chrono::seconds(std::clamp<uint32_t>(opts_.delay_s / 4, 1, 10));
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    cv_.wait_for(l, poll, [&] { return stop_ || kicked_; });
    if (stop_) break;
    const bool ignore_delay = kicked_;
    kicked_ = false;
    const uint64_t id = ++pass_started_;
    l.unlock();
    uint64_t busy = 0;
    Status s;
    Status gs = Guarded("archive pass", [&] { s = RunPass(ignore_delay, &busy); });
    if (!gs.ok()) s = gs;
    if (!s.ok()) spdlog::error("archiver: {}", s.ToString());
    l.lock();
    pass_ended_ = id;
    last_pass_ = s;
    last_busy_ = busy;
    cv_.notify_all();
  }
}

void Archiver::WhilePaused(const std::function<void()>& fn) {
  std::lock_guard<std::mutex> pass(pass_mu_);
  fn();
}

Status Archiver::RunPass(bool ignore_delay, uint64_t* busy,
                         const std::function<void(uint64_t, uint64_t)>& progress, PassSummary* summary) {
  std::lock_guard<std::mutex> pass(pass_mu_);
  *busy = 0;
  PassSummary sum;
  std::atomic<uint64_t> sum_groups{0}, sum_no_gain{0};
  // Fills *summary (and the last pass's) on every way out.
  struct Publish {
    Archiver* self;
    PassSummary* sum;
    PassSummary* out;
    std::atomic<uint64_t>* groups;
    std::atomic<uint64_t>* no_gain;
    ~Publish() {
      sum->groups = groups->load();
      sum->no_gain_groups = no_gain->load();
      if (out) *out = *sum;
      std::lock_guard<std::mutex> l(self->stats_mu_);
      self->last_summary_ = *sum;
    }
  } publish{this, &sum, summary, &sum_groups, &sum_no_gain};
  // Reference objects no file or object holds any more (their last
  // dependent was deleted since the last pass).
  {
    auto gc = planner_.CollectGarbage();
    if (!gc.ok()) spdlog::warn("archiver: reference garbage collection: {}", gc.status().ToString());
  }
  std::vector<uint64_t> inos;
  PMKLC_RETURN_IF_ERROR(store_->ListPending(&inos));
  sum.pending = inos.size();
  if (inos.empty()) return Status::OK();
  Time not_after = NowTime();
  not_after.sec -= opts_.delay_s;
  const uint64_t gb = store_->group_blocks();
  const uint64_t group_bytes = gb * store_->block_size();

  std::vector<std::unique_ptr<FileJob>> jobs;
  std::vector<Unit> units;
  uint64_t total = 0;
  for (uint64_t ino : inos) {
    auto a = store_->GetInode(ino);
    if (!a.ok() && !a.status().IsNotFound()) return a.status();
    if (!a.ok() || !S_ISREG(a->mode)) {  // deleted, or not a file: nothing to do
      Store::Batch b;
      b.DeletePending(ino);
      PMKLC_RETURN_IF_ERROR(store_->Write(b, false));
      continue;
    }
    {
      std::lock_guard<std::mutex> l(stats_mu_);
      auto e = errored_.find(ino);
      if (e != errored_.end()) {
        if (e->second.ctime == a->ctime) {
          ++*busy;
          ++sum.failed_before;
          continue;
        }
        errored_.erase(e);
      }
    }
    Status idle = host_->CheckIdle(ino, ignore_delay ? nullptr : &not_after);
    if (idle.IsBusy()) {
      ++*busy;
      if (idle.message() == "changed recently") ++sum.not_idle;
      else ++sum.in_use;
      continue;
    }
    if (idle.IsNotFound()) continue;
    PMKLC_RETURN_IF_ERROR(idle);
    std::vector<uint64_t> groups;
    PMKLC_RETURN_IF_ERROR(store_->ForEachBlockOf(ino, [&](uint64_t idx, std::string_view) {
      if (groups.empty() || groups.back() != idx / gb) groups.push_back(idx / gb);
      return true;
    }));
    auto job = std::make_unique<FileJob>();
    job->ino = ino;
    job->ctime = a->ctime;
    job->size = a->size;
    job->remaining = groups.size();
    for (uint64_t g : groups)
      total += std::min<uint64_t>(group_bytes, a->size > g * group_bytes ? a->size - g * group_bytes : 0);
    job->groups = std::move(groups);
    jobs.push_back(std::move(job));
  }

  // The mark goes once every group is done and the file did not change since
  // the pass looked at it (a write in between sets ctime and a new mark).
  auto finish = [&](FileJob* j) {
    Status s = host_->Commit(j->ino, [&](const InodeAttr& a, Store::Batch* b) {
      if (!(a.ctime == j->ctime)) return Status::Busy("changed during archiving");
      b->DeletePending(j->ino);
      // Holds on objects no group of the file names any more go.
      if (opts_.references) {
        Status h = planner_.DropUnneededHolds(j->ino, b);
        if (!h.ok()) spdlog::warn("archiver: inode {}: holds kept: {}", j->ino, h.ToString());
      }
      // Every group is archived: later files may pick this one as a reference.
      const std::string sk = planner_.SketchRecord(j->plan);
      if (!sk.empty()) b->PutSketch(j->ino, sk);
      return Status::OK();
    });
    if (s.ok()) j->finished = true;
    if (!s.ok() && !s.IsBusy() && !s.IsNotFound())
      spdlog::warn("archiver: inode {}: {}", j->ino, s.ToString());
  };
  for (auto& j : jobs)
    if (j->remaining == 0) finish(j.get());
  // References: plan the related files in an order that keeps the early
  // (shallow) ones diverse, whatever order they were written in.
  if (opts_.references && jobs.size() > 1) {
    std::vector<RefPlanner::PendingFile> sketches;
    for (auto& j : jobs) {
      Result<std::optional<ref::Sketch>> sk = std::optional<ref::Sketch>();
      Status gs = Guarded("sketching", [&] {
        if (!j->groups.empty()) sk = planner_.PendingSketch(j->ino, j->size, j->groups);
      });
      if (!gs.ok()) sk = gs;
      if (!sk.ok()) spdlog::warn("archiver: inode {}: sketch: {}", j->ino, sk.status().ToString());
      sketches.push_back({j->ino, sk.ok() ? std::move(*sk) : std::nullopt});
    }
    auto order = planner_.PlanningOrder(sketches);
    if (order.ok()) {
      std::vector<std::unique_ptr<FileJob>> ordered;
      for (const RefPlanner::PlanStep& st : *order) {
        jobs[st.index]->stay_usable = st.stay_usable;
        ordered.push_back(std::move(jobs[st.index]));
      }
      jobs = std::move(ordered);
    } else {
      spdlog::warn("archiver: planning order: {} (files in the order they came)", order.status().ToString());
    }
  }

  // Files one after another (a file may pick the ones archived before it as
  // references), the groups of each on opts.threads threads.
  std::atomic<size_t> next{0};
  std::atomic<uint64_t> done{0};
  std::mutex progress_mu;
  auto worker = [&](bool lower) {
    if (lower) LowerPriority();
    for (;;) {
      size_t i = next++;
      if (i >= units.size()) return;
      Unit& u = units[i];
      bool stopping;
      {
        std::lock_guard<std::mutex> l(mu_);
        stopping = stop_;
      }
      uint64_t raw_len = 0;
      GroupResult r = GroupResult::kBusy;
      if (!stopping && !u.job->failed) {
        auto pg = u.job->plan.groups.find(u.group);
        // One failed group stays one failed group (its file keeps its blocks).
        std::string why;
        Status gs = Guarded("archiving a group", [&] {
          r = ArchiveGroup(u.job->ino, u.group, &raw_len, pg == u.job->plan.groups.end() ? nullptr : &pg->second,
                           &why);
        });
        if (!gs.ok()) {
          spdlog::error("archiver: inode {} group {}: {} (left in the fast tier)", u.job->ino, u.group, gs.ToString());
          r = GroupResult::kError;
          raw_len = 0;
          why = gs.ToString();
        }
        if (r == GroupResult::kError) {
          std::lock_guard<std::mutex> l(u.job->mu);
          if (u.job->why.empty()) u.job->why = why;
        }
      }
      if (r == GroupResult::kBusy || r == GroupResult::kError) u.job->failed = true;
      if (r == GroupResult::kError) u.job->error = true;
      if (r == GroupResult::kArchived) {
        u.job->archived += raw_len;
        sum_groups++;
      }
      if (r == GroupResult::kNoGain) sum_no_gain++;
      uint64_t d = done += raw_len;
      if (progress) {
        std::lock_guard<std::mutex> l(progress_mu);
        progress(d, total);
      }
      if (--u.job->remaining == 0 && !u.job->failed) {
        Status fs = Guarded("finishing a file", [&] { finish(u.job); });
        if (!fs.ok()) spdlog::error("archiver: inode {}: {}", u.job->ino, fs.ToString());
      }
    }
  };
  // Runs the queued units on opts.threads threads.
  auto run_units = [&] {
    next = 0;
    const size_t nthreads = std::min<size_t>(opts_.threads, units.size());
    std::vector<std::thread> threads;
    for (size_t t = 1; t < nthreads; ++t) threads.emplace_back(worker, opts_.idle_priority);
    if (nthreads) worker(false);  // this thread's priority is the caller's choice
    for (auto& t : threads) t.join();
    units.clear();
  };
  for (auto& job : jobs) {
    if (job->groups.empty()) continue;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (stop_) break;
    }
    if (opts_.references) {
      Result<RefPlan> plan = Status::NoMemory("reference planning");
      Status gs = Guarded("planning references", [&] {
        plan = planner_.Plan(job->ino, job->size, job->groups, job->stay_usable);
      });
      if (!gs.ok()) plan = gs;
      if (plan.ok()) job->plan = std::move(*plan);
      else spdlog::warn("archiver: inode {}: reference planning: {} (coded alone)", job->ino, plan.status().ToString());
    }
    // A file that is not nucleotide FASTA can neither use nor be a
    // reference: its groups join the next batch. A FASTA file is archived
    // (with whatever is queued) before the next file is planned, so that
    // the next file can pick it.
    for (uint64_t g : job->groups) units.push_back({job.get(), g});
    if (opts_.references && job->plan.sketched) run_units();
  }
  run_units();
  // Return the replaced blocks' space: one flush + compaction of the fast
  // tier per pass that archived anything sizeable (a few MiB of garbage from
  // a small pass is left to RocksDB's own compactions).
  uint64_t archived = 0;
  for (auto& j : jobs) archived += j->archived;
  if (archived >= (uint64_t{4} << 20)) store_->ScheduleReclaimAll();
  // The same for the archived groups of files promoted to reference objects
  // (their values were copied into the objects' segments).
  for (auto& j : jobs)
    for (uint64_t ino : j->plan.promoted) store_->ScheduleReclaim(ino);
  {
    std::lock_guard<std::mutex> l(stats_mu_);
    for (auto& j : jobs) {
      if (j->failed) ++*busy;
      if (j->finished) ++sum.files;
      // A file whose data cannot be recoded is not retried until it changes.
      if (j->error) {
        errored_[j->ino] = {j->ctime, j->why};
        ++sum.failed;
      } else if (j->failed) {
        ++sum.in_use;  // changed or reopened while it was recoded
      }
    }
  }
  PersistStats();
  return Status::OK();
}

Archiver::GroupResult Archiver::ArchiveGroup(uint64_t ino, uint64_t g, uint64_t* raw_len,
                                             const RefPlan::Group* refs, std::string* why) {
  const auto t0 = std::chrono::steady_clock::now();
  const uint64_t gb = store_->group_blocks();
  const uint64_t bs = store_->block_size();
  auto a = store_->GetInode(ino);
  if (!a.ok()) {
    *why = a.status().ToString();
    return a.status().IsNotFound() ? GroupResult::kBusy : GroupResult::kError;
  }
  const uint64_t size = a->size;
  const uint64_t start = g * gb * bs;
  if (start >= size) return GroupResult::kNoGain;
  const uint64_t len = std::min<uint64_t>(size - start, gb * bs);
  // Read and decode the group's fast-tier blocks (holes stay zero).
  std::string raw(len, '\0');
  std::vector<std::pair<uint64_t, std::string>> values;
  uint64_t before = 0;
  for (uint64_t j = 0; j < gb; ++j) {
    std::string v, img;
    Status s = store_->GetBlock(ino, g * gb + j, &v);
    if (s.IsNotFound()) continue;
    if (!s.ok()) {
      *why = "block " + std::to_string(g * gb + j) + ": " + s.ToString();
      return GroupResult::kError;
    }
    s = DecodeBlock(v, &img);
    if (!s.ok()) {
      spdlog::error("archiver: inode {} block {}: {} (left as it is)", ino, g * gb + j, s.ToString());
      *why = "block " + std::to_string(g * gb + j) + ": " + s.ToString();
      return GroupResult::kError;
    }
    if (j * bs + img.size() > len) {
      spdlog::error("archiver: inode {} block {} extends past the end of the file (left as it is)", ino,
                    g * gb + j);
      *why = "block " + std::to_string(g * gb + j) + " extends past the end of the file";
      return GroupResult::kError;
    }
    std::memcpy(raw.data() + j * bs, img.data(), img.size());
    before += v.size();
    values.emplace_back(g * gb + j, std::move(v));
  }
  *raw_len = len;
  if (values.empty()) return GroupResult::kNoGain;
  std::string value;
  EncodeOptions enc;
  {
    std::lock_guard<std::mutex> l(enc_mu_);
    enc = enc_;
  }
  // Coded against reference segments: their codes, in order, prime the coder.
  std::string prime;
  if (refs) {
    refs_->Prefetch(refs->refs);
    for (const RefSegmentKey& k : refs->refs) {
      auto seg = refs_->Get(k);
      if (!seg.ok()) {
        spdlog::warn("archiver: inode {} group {}: reference {:016x}/{}: {} (coded alone)", ino, g, k.object,
                     k.segment, seg.status().ToString());
        prime.clear();
        break;
      }
      prime += (*seg)->codes;
    }
    if (!prime.empty()) {
      enc.refs = refs->refs;
      enc.ref_codes = prime;
    }
  }
  Status s = EncodeBlock(raw, enc, &value);
  if (!s.ok()) {
    spdlog::error("archiver: inode {} group {}: {}", ino, g, s.ToString());
    *why = "group " + std::to_string(g) + ": " + s.ToString();
    return GroupResult::kError;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (value.size() >= before) return GroupResult::kNoGain;
  // The swap adds the group before compaction frees the blocks: not below the
  // store's free-space reserve (the file stays pending for a later pass).
  if (!store_->CheckSpace().ok()) return GroupResult::kBusy;
  // Swap, only if the file still holds exactly what was recoded.
  s = host_->Commit(ino, [&](const InodeAttr& now, Store::Batch* b) {
    if (now.size != size) return Status::Busy("size changed");
    size_t k = 0;
    for (uint64_t j = 0; j < gb; ++j) {
      std::string v;
      Status r = store_->GetBlock(ino, g * gb + j, &v);
      if (r.IsNotFound()) {
        if (k < values.size() && values[k].first == g * gb + j) return Status::Busy("block changed");
        continue;
      }
      PMKLC_RETURN_IF_ERROR(r);
      if (k >= values.size() || values[k].first != g * gb + j || values[k].second != v)
        return Status::Busy("block changed");
      ++k;
    }
    b->PutGroup(ino, g, value);
    for (auto& [idx, v] : values) b->DeleteBlock(ino, idx);
    // The group depends on these objects (if it came out as fasta-ref): the
    // holds keep them, in the same batch.
    std::vector<RefSegmentKey> deps;
    PMKLC_RETURN_IF_ERROR(BlockRefs(value, &deps));
    for (const RefSegmentKey& d : deps) b->PutHold(Store::kHoldFile, ino, d.object);
    return Status::OK();
  });
  if (s.IsBusy() || s.IsNotFound()) return GroupResult::kBusy;
  if (!s.ok()) {
    spdlog::error("archiver: inode {} group {}: {}", ino, g, s.ToString());
    *why = "group " + std::to_string(g) + ": " + s.ToString();
    return GroupResult::kError;
  }
  std::lock_guard<std::mutex> l(stats_mu_);
  stats_.groups++;
  stats_.raw_bytes += len;
  stats_.before_bytes += before;
  stats_.after_bytes += value.size();
  stats_.busy_s += secs;
  return GroupResult::kArchived;
}

void Archiver::PersistStats() {
  ArchiveStats a = stats();
  Store::Batch b;
  b.PutMeta(kStatsKey, a.Serialize());
  Status s = store_->Write(b, false);
  if (!s.ok()) spdlog::warn("archiver: saving counters: {}", s.ToString());
}

ArchiveStats Archiver::stats() {
  std::lock_guard<std::mutex> l(stats_mu_);
  ArchiveStats a = persisted_;
  a.groups += stats_.groups;
  a.raw_bytes += stats_.raw_bytes;
  a.before_bytes += stats_.before_bytes;
  a.after_bytes += stats_.after_bytes;
  a.busy_s += stats_.busy_s;
  return a;
}

}  // namespace pmklc
