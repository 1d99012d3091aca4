// pmklc archive STORE [--wait]: recode fast-tier blocks with the archive
// profile now. A mounted store's daemon is asked over its control socket
// (store/services/control.h); an unmounted store is archived by this process.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <cstdio>

#include "engine/common/parse.h"
#include "engine/format.h"
#include "store/services/archive_units.h"
#include "store/services/archiver.h"
#include "store/services/control.h"
#include "store/services/store_models.h"
#include "store/store.h"
#include "tools/commands.h"
#include "tools/slurm_jobs.h"

namespace pmklc::cli {

namespace {

int Fail(const Status& s, int code = 1) {
  std::fprintf(stderr, "pmklc archive: %s\n", s.ToString().c_str());
  return code;
}

// --work DIR --shard I/N: no store.
int RunWork(const ArchiveArgs& a, const DeviceChoice& device) {
  WorkOptions o;
  const auto slash = a.shard.find('/');
  auto i = ParseUint(a.shard.substr(0, slash), "--shard", 0, 4095);
  auto n = slash == std::string::npos ? Result<uint64_t>(Status::InvalidArgument("no /N"))
                                      : ParseUint(a.shard.substr(slash + 1), "--shard", 1, 4096);
  if (!i.ok() || !n.ok() || *i >= *n)
    return Fail(Status::InvalidArgument("--shard " + a.shard + ": expected I/N with 0 <= I < N"), 2);
  o.shard = static_cast<uint32_t>(*i);
  o.shards = static_cast<uint32_t>(*n);
  o.threads = a.threads;
  o.device = device;
  auto r = WorkShard(a.work_dir, o);
  if (!r.ok()) return Fail(r.status());
  std::printf("%s shard %s: %s\n", a.work_dir.c_str(), a.shard.c_str(), r->Explain().c_str());
  return 0;
}

// --slurm: the jobs of an export just written into dir.
int SubmitJobs(const ArchiveArgs& a, const std::string& dir) {
  SlurmJobOptions o;
  std::error_code ec;
  o.pmklc = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  if (ec) o.pmklc = "pmklc";
  o.store = std::filesystem::absolute(a.store, ec).string();
  o.dir = dir;
  o.shards = a.shards;
  o.cpus = a.threads;
  o.device = a.device;
  o.partition = a.partition;
  o.gres = a.gres;
  o.time_limit = a.time_limit;
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) == 0) o.ingest_node = std::string(host).substr(0, std::string(host).find('.'));
  // The next round, if this export leaves related files for one: the same
  // options, into DIR/next.
  if (a.references == "on" && a.defer_related == "on") {
    const auto q = ShellQuote;
    o.next_round = q(o.pmklc) + " archive " + q(o.store) + " --export " + q(dir + "/next") + " --shards " +
                   std::to_string(a.shards) + " -j " + std::to_string(a.threads) + " -p " + q(a.profile) +
                   " --split " + q(a.split) + " --ref-segments " + std::to_string(a.ref_segments) + " --ref-depth " +
                   std::to_string(a.ref_depth) + " --device " + q(a.device) + " --slurm";
    if (!a.partition.empty()) o.next_round += " --partition " + q(a.partition);
    if (!a.gres.empty()) o.next_round += " --gres " + q(a.gres);
    if (!a.time_limit.empty()) o.next_round += " --time " + q(a.time_limit);
  }
  auto scripts = WriteSlurmScripts(o);
  if (!scripts.ok()) return Fail(scripts.status());
  if (a.print) {
    std::printf("# %s\n%s\n# %s\n%s", scripts->work_path.c_str(), scripts->work.c_str(), scripts->ingest_path.c_str(),
                scripts->ingest.c_str());
    std::printf("# submit: id=$(sbatch --parsable %s) && sbatch --dependency=afterany:$id %s\n",
                scripts->work_path.c_str(), scripts->ingest_path.c_str());
    return 0;
  }
  auto jobs = SubmitSlurmJobs(*scripts);
  if (!jobs.ok()) return Fail(jobs.status());
  std::printf("submitted: workers job %s (array 0-%u, logs %s/slurm/work-N.log); ingest job %s after them (log %s/slurm/ingest.log)\n",
              jobs->work_job.c_str(), a.shards - 1, dir.c_str(), jobs->ingest_job.c_str(), dir.c_str());
  return 0;
}

}  // namespace

int RunArchive(const ArchiveArgs& a) {
  const int modes = !a.export_dir.empty() + !a.work_dir.empty() + !a.ingest_dir.empty();
  if (modes > 1) return Fail(Status::InvalidArgument("--export, --work and --ingest are separate steps: one at a time"), 2);
  if (a.slurm && a.export_dir.empty())
    return Fail(Status::InvalidArgument("--slurm needs --export DIR (a directory on storage the nodes share)"), 2);
  if (!a.slurm && (a.print || !a.partition.empty() || !a.gres.empty() || !a.time_limit.empty()))
    return Fail(Status::InvalidArgument("--print, --partition, --gres and --time go with --slurm"), 2);
  if (!a.work_dir.empty()) {
    if (!a.store.empty()) return Fail(Status::InvalidArgument("--work takes no STORE (a worker needs only DIR)"), 2);
    if (a.shard.empty()) return Fail(Status::InvalidArgument("--work needs --shard I/N"), 2);
    auto device = ParseDevice(a.device);
    if (!device.ok()) return Fail(device.status(), 2);
    return RunWork(a, *device);
  }
  if (a.store.empty()) return Fail(Status::InvalidArgument("STORE is required"), 2);
  std::string request = a.wait ? "archive-wait" : "archive";
  if (modes) {
    // A mounted store's daemon does these steps itself (it knows which
    // files are in use, and swaps groups under its own file locks).
    std::error_code ec;
    const std::string dir = std::filesystem::absolute(a.export_dir.empty() ? a.ingest_dir : a.export_dir, ec).string();
    if (!a.export_dir.empty()) {
      auto split = ParseSize(a.split, "--split", 0, format::kMaxGroupBytes);
      if (!split.ok()) return Fail(split.status(), 2);
      request = "export " + std::to_string(a.shards) + " " + std::to_string(*split) + " " + a.profile + " " +
                (a.defer_related == "on" ? "1" : "0") + " " + dir;
    } else {
      request = "ingest " + dir;
    }
  }
  auto reply = ControlRequest(a.store, request);
  if (reply.ok()) {
    std::printf("%s: %s\n", a.store.c_str(), reply->c_str());
    if (a.slurm) {
      std::error_code ec;
      return SubmitJobs(a, std::filesystem::absolute(a.export_dir, ec).string());
    }
    return 0;
  }
  if (!reply.status().IsNotFound()) {
    std::fprintf(stderr, "pmklc archive: %s\n", reply.status().ToString().c_str());
    return 1;
  }
  // Not mounted: do the work here.
  auto device = ParseDevice(a.device);
  if (!device.ok()) {
    std::fprintf(stderr, "pmklc archive: %s\n", device.status().ToString().c_str());
    return 2;
  }
  StoreOptions so;
  so.create_if_missing = false;
  auto st = Store::Open(a.store, so);
  if (!st.ok()) {
    std::fprintf(stderr, "pmklc archive: %s\n", st.status().ToString().c_str());
    return 1;
  }
  StoreArchiveHost host(st->get());
  if (!a.export_dir.empty()) {
    ExportOptions eo;
    eo.shards = a.shards;
    eo.profile = a.profile;
    auto split = ParseSize(a.split, "--split", 0, format::kMaxGroupBytes);
    if (!split.ok()) return Fail(split.status(), 2);
    eo.split_bytes = static_cast<uint32_t>(*split);
    eo.references = a.references == "on";
    eo.ref_segments = a.ref_segments;
    eo.ref_depth = a.ref_depth;
    eo.defer_related = a.defer_related == "on";
    eo.threads = a.threads;
    auto r = ExportUnits(st->get(), a.export_dir, eo);
    if (!r.ok()) return Fail(r.status());
    std::printf("%s: exported %s into %s, %u shard(s)\n", a.store.c_str(), r->Explain().c_str(), a.export_dir.c_str(),
                eo.shards);
    if (a.slurm) {
      st->reset();  // (the ingest job opens the store)
      std::error_code ec;
      return SubmitJobs(a, std::filesystem::absolute(a.export_dir, ec).string());
    }
    return 0;
  }
  if (!a.ingest_dir.empty()) {
    IngestOptions io;
    io.as_files = a.ingest_as == "files";
    auto r = IngestResults(st->get(), &host, a.ingest_dir, io);
    if (!r.ok()) return Fail(r.status());
    st->get()->WaitForReclaim();
    std::printf("%s: %s in %.3f s (%.0f MB/s of group values)\n", a.store.c_str(), r->Explain().c_str(), r->seconds,
                r->seconds > 0 ? r->bytes / 1e6 / r->seconds : 0.0);
    for (const std::string& n : r->notes) std::printf("  %s\n", n.c_str());
    return 0;
  }
  ArchiveOptions o;
  o.profile = a.profile;
  o.delay_s = 0;
  o.threads = a.threads;
  o.idle_priority = false;  // the user is waiting for it
  o.references = a.references == "on";
  o.ref_segments = a.ref_segments;
  o.ref_depth = a.ref_depth;
  o.device = *device;
  {
    auto split = ParseSize(a.split, "--split", 0, format::kMaxGroupBytes);
    if (!split.ok()) {
      std::fprintf(stderr, "pmklc archive: %s\n", split.status().message().c_str());
      return 2;
    }
    o.split_bytes = static_cast<uint32_t>(*split);
  }
  {
    auto models = LoadStoreModels(st->get());
    if (!models.ok()) {
      std::fprintf(stderr, "pmklc archive: %s\n", models.status().ToString().c_str());
      return 1;
    }
    o.private_model = *models;
  }
  Archiver ar(st->get(), &host, o);
  Status s = ar.Init();
  if (!s.ok()) {
    std::fprintf(stderr, "pmklc archive: %s\n", s.ToString().c_str());
    return 1;
  }
  const bool tty = isatty(2);
  const auto t0 = std::chrono::steady_clock::now();
  const ArchiveStats before = ar.stats();
  uint64_t busy = 0;
  PassSummary sum;
  s = ar.RunPass(true, &busy, [&](uint64_t done, uint64_t total) {
    if (!tty || total == 0) return;
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "\rarchiving %5.1f%%  %.1f / %.1f MB  %.2f MB/s ", 100.0 * done / total, done / 1e6,
                 total / 1e6, secs > 0 ? done / 1e6 / secs : 0.0);
  }, &sum);
  if (tty) std::fprintf(stderr, "\n");
  st->get()->WaitForReclaim();  // return the replaced blocks' space before exiting
  if (!s.ok()) {
    std::fprintf(stderr, "pmklc archive: %s\n", s.ToString().c_str());
    return 1;
  }
  ArchiveStats after = ar.stats();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%s: archived %llu group(s), %.1f MB of file data: %llu -> %llu stored bytes in %.1f s",
              a.store.c_str(), static_cast<unsigned long long>(after.groups - before.groups),
              (after.raw_bytes - before.raw_bytes) / 1e6,
              static_cast<unsigned long long>(after.before_bytes - before.before_bytes),
              static_cast<unsigned long long>(after.after_bytes - before.after_bytes), secs);
  // Why nothing (or not everything) was archived.
  if (sum.groups == 0 || busy || sum.no_gain_groups) std::printf("; %s", sum.Explain().c_str());
  std::printf("\n");
  for (const ArchiveFailure& f : ar.failures())
    std::printf("failed: inode %llu: %s\n", static_cast<unsigned long long>(f.ino), f.why.c_str());
  return 0;
}

}  // namespace pmklc::cli
