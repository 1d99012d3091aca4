// pmklc archive STORE [--wait]: recode fast-tier blocks with the archive
// profile now. A mounted store's daemon is asked over its control socket
// (store/services/control.h); an unmounted store is archived by this process.
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "engine/common/parse.h"
#include "engine/format.h"
#include "store/services/archiver.h"
#include "store/services/control.h"
#include "store/services/store_models.h"
#include "store/store.h"
#include "tools/commands.h"

namespace pmklc::cli {

int RunArchive(const ArchiveArgs& a) {
  auto reply = ControlRequest(a.store, a.wait ? "archive-wait" : "archive");
  if (reply.ok()) {
    std::printf("%s: %s\n", a.store.c_str(), reply->c_str());
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
