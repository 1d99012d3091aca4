// The mount daemon: option parsing, store open, FUSE session, daemonizing,
// readiness notification (sd_notify) and orderly shutdown.
#include "fs/mount.h"

#include <fcntl.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/syslog_sink.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <cstring>
#include <fstream>
#include <sstream>
#include <filesystem>
#include <memory>
#include <thread>

#include "engine/common/guarded.h"
#include "engine/format.h"
#include "fs/filesystem.h"
#include "fs/fuse_ops.h"
#include "fs/mount_options.h"
#include "store/services/archive_units.h"
#include "store/services/archiver.h"
#include "store/services/control.h"
#include "store/services/store_models.h"
#include "store/services/store_report.h"
#include "store/store.h"

namespace pmklc {

namespace {

// This process's resident memory (0 if /proc is unreadable).
uint64_t ResidentBytes() {
  std::ifstream f("/proc/self/statm");
  uint64_t pages = 0, rss = 0;
  if (!(f >> pages >> rss)) return 0;
  return rss * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

void SetupLogging(bool foreground, const std::string& level) {
  std::shared_ptr<spdlog::logger> lg;
  if (foreground) lg = spdlog::stderr_color_mt("pmklcfs");
  else lg = spdlog::syslog_logger_mt("pmklcfs", "pmklcfs", LOG_PID, LOG_DAEMON);
  lg->set_level(spdlog::level::from_str(level));
  lg->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(lg);
}

// Serves the mount; writes "" (success) or an error line to report_fd once
// the mount is live or has failed, then keeps serving.
Status Serve(const MountOptions& m, const MountConfig& p, int report_fd) {
  auto report = [&](const std::string& msg) {
    if (report_fd >= 0) {
      std::string line = msg + "\n";
      (void)!write(report_fd, line.data(), line.size());
      close(report_fd);
      report_fd = -1;
    }
  };
  std::error_code ec;
  struct stat mst;
  if (stat(m.mountpoint.c_str(), &mst) != 0 && errno == ENOTCONN) {
    Status s = Status::InvalidArgument("mountpoint " + m.mountpoint +
                                       " is a dead FUSE mount (its daemon died); run: fusermount3 -u " +
                                       m.mountpoint);
    report(s.ToString());
    return s;
  }
  if (!std::filesystem::is_directory(m.mountpoint, ec)) {
    Status s = Status::InvalidArgument("mountpoint " + m.mountpoint + " is not a directory");
    report(s.ToString());
    return s;
  }
  // A store this mount creates is removed again if the mount is refused
  // after all, so a refusal leaves nothing behind.
  const bool created = !std::filesystem::exists(std::filesystem::path(m.store) / "CURRENT", ec);
  StoreOptions so = p.store;
  so.root_uid = getuid();
  so.root_gid = getgid();
  auto st = Store::Open(m.store, so);
  // A daemon that was just unmounted may still be storing its last blocks:
  // wait up to 10 s for it to release the store.
  for (int i = 0; i < 100 && !st.ok() && st.status().code() == Status::Code::kBusy; ++i) {
    usleep(100 * 1000);
    st = Store::Open(m.store, so);
  }
  if (!st.ok()) {
    report(st.status().ToString());
    return st.status();
  }
  std::unique_ptr<Store> store = std::move(st).value();
  const MemoryBudget budget = DaemonMemoryBudget(p, uint64_t{store->group_blocks()} * store->block_size());
  auto refuse = [&](const Status& s) {
    if (created) {  // before the report: the caller may look at once
      store.reset();
      std::error_code rec;
      std::filesystem::remove_all(m.store, rec);
    }
    report(s.ToString());
    return s;
  };
  // The store's models: registered for the decoders; the private one is
  // offered to the neural archive profile. A damaged model is logged, not
  // fatal: only the groups that name it fail to read (EIO).
  ArchiveOptions archive_opts = p.archive;
  {
    auto models = LoadStoreModels(store.get(), &archive_opts.private_model);
    if (models.ok()) archive_opts.private_model = *models;
    else spdlog::error("store models: {}", models.status().ToString());
  }
  // The recall tier (store/services/recall.h): a cache; a failure to read
  // its index leaves it off, logged. A follower has none (it writes).
  const bool follower = p.follow_s > 0;
  RecallOptions recall_opts = p.recall;
  if (follower) recall_opts.size_bytes = 0;
  Recall recall(store.get(), recall_opts);
  FsOptions fso = p.fs;
  if (follower) fso.noatime = true;
  if (Status rcs = follower ? Status::OK() : recall.Init(); !rcs.ok())
    spdlog::error("recall tier off: {}", rcs.ToString());
  else if (!follower && recall.enabled()) fso.recall = &recall;
  auto fsp = std::make_unique<Filesystem>(store.get(), fso);
  Filesystem& fs = *fsp;
  Status rs = fs.Recover();
  if (!rs.ok()) {
    fsp.reset();
    return refuse(rs);
  }

  std::vector<std::string> args{"pmklcfs"};
  if (m.debug) args.push_back("-d");
  std::string fsname = std::filesystem::absolute(m.store, ec).string();
  for (char& c : fsname) if (c == ',') c = '_';
  std::string opts = "fsname=" + fsname + ",subtype=pmklcfs,default_permissions";
  if (p.allow_other) opts += ",allow_other";
  if (follower) opts += ",ro";  // (the kernel refuses changes too; the Filesystem refuses them anyway)
  for (const auto& o : p.fuse_opts) opts += "," + o;
  args.push_back("-o");
  args.push_back(opts);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  struct fuse_args fargs = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());

  FuseContext ctx;
  ctx.fs = &fs;
  ctx.keep_cache = !follower;
  struct fuse_session* se = fuse_session_new(&fargs, FuseOps(), sizeof(struct fuse_lowlevel_ops), &ctx);
  if (se == nullptr) {
    fsp.reset();
    return refuse(Status::InvalidArgument("FUSE rejected the mount options: " + opts));
  }
  if (fuse_set_signal_handlers(se) != 0) {
    fuse_session_destroy(se);
    fsp.reset();
    return refuse(Status::IOError("cannot install signal handlers"));
  }
  if (fuse_session_mount(se, m.mountpoint.c_str()) != 0) {
    fuse_remove_signal_handlers(se);
    fuse_session_destroy(se);
    fsp.reset();
    return refuse(Status::IOError("cannot mount on " + m.mountpoint +
                                  " (is /dev/fuse available and the directory not already mounted?)"));
  }
  // The archiver and the control socket that `pmklc archive` talks to
  // (neither on a follower: the writer's daemon archives and answers them).
  std::unique_ptr<Archiver> archiver;
  ControlServer control;
  if (p.archive.profile != "off" && !follower) {
    archiver = std::make_unique<Archiver>(store.get(), fs.archive_host(), archive_opts);
    Status as = archiver->Init();
    if (!as.ok()) {
      fuse_session_unmount(se);
      fuse_remove_signal_handlers(se);
      fuse_session_destroy(se);
      archiver.reset();
      fsp.reset();
      return refuse(as);
    }
    archiver->Start();
  }
  std::mutex units_mu;  // one export or ingest at a time (a leaf: nothing else is taken under it)
  Status cs = follower ? Status::OK() : control.Start(m.store, [&](const std::string& req) -> std::string {
    if (req == "stat" || req == "stat-json" || req == "stat-h") {
      StoreReportOptions ro;
      ro.json = req == "stat-json";
      ro.human = req == "stat-h";
      ro.mounted = true;
      ro.mount_options = p.given;
      ro.rss_bytes = ResidentBytes();
      ro.failed_jobs = GuardedFailures();
      ro.memory_budget_bytes = budget.total();
      ro.memory_budget_text = budget.Describe();
      if (fso.recall) {
        const Recall::Stats rst = recall.stats();
        ro.recall = {rst.entries, rst.bytes, rst.budget, rst.hits, rst.misses, rst.written, rst.evicted, rst.dropped};
        ro.recall_on = true;
      }
      if (archiver)
        for (const ArchiveFailure& f : archiver->failures()) ro.archive_failures.emplace_back(f.ino, f.why);
      auto r = StoreReport(*store, ro);
      return r.ok() ? "ok\n" + *r : "error " + r.status().ToString();
    }
    if (req == "stat-files") {
      auto r = StoreFileReport(*store);
      return r.ok() ? "ok\n" + *r : "error " + r.status().ToString();
    }
    if (req.rfind("install-model ", 0) == 0) {
      // pmklc train private: the model file's path (written by root or the
      // store's owner: the socket is for them only).
      const std::string path = req.substr(14);
      struct stat mst;
      if (stat(path.c_str(), &mst) != 0 || !S_ISREG(mst.st_mode))
        return "error not a readable regular file: " + path;
      if (static_cast<uint64_t>(mst.st_size) > kMaxModelFileBytes) return "error model file too large: " + path;
      std::ifstream f(path, std::ios::binary);
      if (!f) return "error cannot read " + path;
      std::stringstream ss;
      ss << f.rdbuf();
      auto m = InstallPrivateModel(store.get(), ss.str());
      if (!m.ok()) return "error " + m.status().ToString();
      if (archiver) archiver->SetPrivateModel(*m);
      char id[20];
      std::snprintf(id, sizeof id, "%016llx", static_cast<unsigned long long>((*m)->id));
      spdlog::info("installed private model {} ({})", id, (*m)->name);
      return std::string("ok installed ") + id;
    }
    // Distributed archiving (store/services/archive_units.h): one export or
    // ingest at a time, beside the archiver (a group both code goes in once:
    // the later swap finds its blocks gone and is refused).
    if (req.rfind("export ", 0) == 0 || req.rfind("ingest ", 0) == 0) {
      std::lock_guard<std::mutex> one(units_mu);
      std::istringstream in(req);
      std::string verb, dir;
      in >> verb;
      // Neither runs beside an archiver pass (which promotes, collects
      // reference objects and archives the same files).
      auto paused = [&](const std::function<void()>& fn) {
        if (archiver) archiver->WhilePaused(fn);
        else fn();
      };
      if (verb == "ingest") {
        std::getline(in >> std::ws, dir);
        Result<IngestReport> r = Status::IOError("ingest did not run");
        paused([&] { r = IngestResults(store.get(), fs.archive_host(), dir); });
        if (!r.ok()) return "error " + r.status().ToString();
        store->WaitForReclaim();
        std::string out = "ok\n" + r->Explain() + "\n";
        for (const std::string& n : r->notes) out += "  " + n + "\n";
        return out;
      }
      ExportOptions eo;
      int defer = 1;
      in >> eo.shards >> eo.split_bytes >> eo.profile >> defer;
      std::getline(in >> std::ws, dir);
      if (!in && dir.empty()) return "error malformed export request";
      eo.defer_related = defer != 0;
      eo.references = p.archive.references;
      eo.ref_segments = p.archive.ref_segments;
      eo.ref_depth = p.archive.ref_depth;
      eo.threads = std::max(1u, std::thread::hardware_concurrency());  // (the store's host: its cores)
      Result<ExportReport> r = Status::IOError("export did not run");
      paused([&] { r = ExportUnits(store.get(), dir, eo, fs.archive_host()); });
      if (!r.ok()) return "error " + r.status().ToString();
      return "ok exported " + r->Explain();
    }
    if (req != "archive" && req != "archive-wait") return "error unknown request: " + req;
    if (!archiver) return "error archiving is off for this mount (archive_profile=off)";
    if (req == "archive") {
      archiver->Kick();
      return "ok started";
    }
    uint64_t busy = 0;
    Status ws = archiver->WaitPass(&busy);
    if (!ws.ok()) return "error " + ws.ToString();
    store->WaitForReclaim();  // the replaced blocks' space is back, too
    const PassSummary sum = archiver->last_summary();
    return "ok done, archived " + std::to_string(sum.groups) + " group(s), " + std::to_string(busy) +
           " file(s) skipped (open for writing or changed); " + sum.Explain();
  });
  if (!cs.ok()) spdlog::warn("control socket: {} (pmklc archive cannot reach this daemon)", cs.ToString());
  spdlog::info("mounted {} on {} (block size {} KiB, archive_profile={}); memory budget {}", m.store,
               m.mountpoint, store->block_size() >> 10, follower ? "off (ro_follow)" : p.archive.profile,
               budget.Describe());
  // A follower catches up with the writer every follow_s seconds, and tells
  // the kernel which inodes changed (their cached pages and attributes go).
  std::mutex follow_mu;
  std::condition_variable follow_cv;
  bool follow_stop = false;  // guarded by follow_mu
  std::thread follow_thread;
  if (follower) {
    spdlog::info("ro_follow: read-only, catching up with the writer of {} every {} s", m.store, p.follow_s);
    follow_thread = std::thread([&] {
      Status last;
      std::unique_lock<std::mutex> l(follow_mu);
      while (!follow_cv.wait_for(l, std::chrono::seconds(p.follow_s), [&] { return follow_stop; })) {
        l.unlock();
        (void)Guarded("ro_follow catch-up", [&] {
          auto r = fs.Follow();
          if (!r.ok() && r.status().ToString() != last.ToString())
            spdlog::warn("ro_follow: catching up failed (still serving the last view): {}", r.status().ToString());
          last = r.ok() ? Status::OK() : r.status();
          for (uint64_t ino : fs.TakeFollowChanges()) (void)fuse_lowlevel_notify_inval_inode(se, ino, 0, 0);
        });
        l.lock();
      }
    });
  }
  report("");
  sd_notify(0, "READY=1\nSTATUS=serving");

  struct fuse_loop_config* cfg = fuse_loop_cfg_create();
  fuse_loop_cfg_set_clone_fd(cfg, 0);
  fuse_loop_cfg_set_max_threads(cfg, p.threads);
  fuse_loop_cfg_set_idle_threads(cfg, std::min(p.threads, 4u));
  int rc = fuse_session_loop_mt(se, cfg);
  fuse_loop_cfg_destroy(cfg);
  sd_notify(0, "STOPPING=1");
  if (follow_thread.joinable()) {
    {
      std::lock_guard<std::mutex> g(follow_mu);
      follow_stop = true;
    }
    follow_cv.notify_all();
    follow_thread.join();
  }
  if (archiver) archiver->Stop();  // the group in progress finishes or is dropped
  control.Stop();
  fuse_session_unmount(se);
  fuse_remove_signal_handlers(se);
  fuse_session_destroy(se);  // calls destroy -> Shutdown if init happened
  Status fin = fs.Shutdown();
  spdlog::info("unmounted {}", m.mountpoint);
  spdlog::default_logger()->flush();
  if (!fin.ok()) return fin;
  // The kernel ending the connection (unmounted, lazily or by fusectl abort)
  // ends the loop with -ENODEV or -ECONNABORTED: that is a normal unmount.
  if (rc == -ENODEV || rc == -ECONNABORTED) {
    spdlog::info("the kernel closed the FUSE connection (error {}): unmounted", rc);
    rc = 0;
  }
  if (rc != 0 && rc != SIGTERM && rc != SIGINT && rc != SIGHUP)
    return Status::IOError("FUSE loop ended with error " + std::to_string(rc));
  return Status::OK();
}

}  // namespace

Status RunMount(const MountOptions& m) {
  auto pr = ParseMountOptions(m.options);
  if (!pr.ok()) return pr.status();
  MountConfig p = std::move(pr).value();
  if (m.foreground) {
    SetupLogging(true, p.log_level);
    return Serve(m, p, -1);
  }
  // Daemonize first (RocksDB threads do not survive fork), then let the child
  // report success or its error line back through a pipe.
  int fds[2];
  if (pipe(fds) != 0) return Status::IOError("pipe failed");
  pid_t pid = fork();
  if (pid < 0) return Status::IOError("fork failed");
  if (pid > 0) {
    close(fds[1]);
    std::string msg;
    char buf[512];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) > 0) {
      msg.append(buf, static_cast<size_t>(n));
      if (msg.find('\n') != std::string::npos) break;
    }
    close(fds[0]);
    if (msg == "\n") return Status::OK();
    if (msg.empty()) {
      int wst = 0;
      waitpid(pid, &wst, 0);
      return Status::IOError("mount daemon exited before the mount was live");
    }
    msg.pop_back();
    return Status::IOError(msg);
  }
  close(fds[0]);
  setsid();
  // Stores and mountpoints may be relative to the caller's directory.
  MountOptions abs = m;
  std::error_code ec;
  abs.store = std::filesystem::absolute(m.store, ec).string();
  abs.mountpoint = std::filesystem::absolute(m.mountpoint, ec).string();
  if (chdir("/") != 0) {}
  int nul = open("/dev/null", O_RDWR);
  if (nul >= 0) {
    dup2(nul, 0); dup2(nul, 1); dup2(nul, 2);
    if (nul > 2) close(nul);
  }
  SetupLogging(false, p.log_level);
  Status s = Serve(abs, p, fds[1]);
  if (!s.ok()) spdlog::error("{}", s.ToString());
  _exit(s.ok() ? 0 : 1);
}

}  // namespace pmklc
