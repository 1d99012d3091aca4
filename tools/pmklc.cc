// pmklc — the one command-line tool of pmklcfs.
//
// Invoked as `mount.fuse.pmklcfs` (what mount(8) runs for an fstab line of
// type fuse.pmklcfs), `pmklcfs` (what mount.fuse3 runs) or `mount.pmklcfs`,
// it behaves as `pmklc mount STORE MOUNTPOINT -o OPTIONS`.
#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <thread>
#include <cstring>
#include <string>
#include <vector>

#include "engine/common/parse.h"
#include "engine/format.h"
#include "fs/mount.h"
#include "fs/mount_options.h"
#include "engine/models/nucleotide_cm.h"
#include "kernels/cm_max_batch.h"
#include "kernels/cm_slim_batch.h"
#include "kernels/device.h"
#include "kernels/neural_slices.h"
#include "engine/models/neural_stream.h"
#include "tools/commands.h"

#ifndef PMKLC_VERSION
#define PMKLC_VERSION "0.1.0"
#endif

namespace {

std::vector<std::string> SplitOpts(const std::vector<std::string>& raw) {
  std::vector<std::string> out;
  for (const auto& r : raw) {
    size_t start = 0;
    while (start <= r.size()) {
      size_t c = r.find(',', start);
      if (c == std::string::npos) c = r.size();
      if (c > start) out.push_back(r.substr(start, c - start));
      start = c + 1;
    }
  }
  return out;
}

int DoMount(const std::string& store, const std::string& mnt, bool fg, bool debug,
            const std::vector<std::string>& o) {
  pmklc::MountOptions m;
  m.store = store;
  m.mountpoint = mnt;
  m.foreground = fg || debug;
  m.debug = debug;
  m.options = SplitOpts(o);
  pmklc::Status s = pmklc::RunMount(m);
  if (!s.ok()) {
    std::fprintf(stderr, "pmklc mount: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}

// mount.fuse3 runs: pmklcfs STORE MOUNTPOINT [-o opts]
int MountHelperMain(int argc, char** argv) {
  std::vector<std::string> pos, opts;
  bool fg = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "-o") && i + 1 < argc) opts.push_back(argv[++i]);
    else if (!std::strncmp(argv[i], "-o", 2)) opts.push_back(argv[i] + 2);
    else if (!std::strcmp(argv[i], "-f")) fg = true;
    else if (argv[i][0] == '-' && argv[i][1]) {}  // -n, -s, -v from mount(8): ignored
    else pos.push_back(argv[i]);
  }
  if (pos.size() != 2) {
    std::fprintf(stderr, "usage: %s STORE MOUNTPOINT [-o opts]\n", argv[0]);
    return 1;
  }
  return DoMount(pos[0], pos[1], fg, false, opts);
}

int Usage(const std::string& msg) {
  std::fprintf(stderr, "pmklc %s\n", msg.c_str());
  return 2;
}

// Every example here is run as written by tests/mount/cli_test.cc
// (Cli.HelpExamplesWorkAsWritten): keep them runnable.
constexpr const char* kCompressExamples =
    "Examples:\n"
    "  pmklc compress genome.fa                      # writes genome.fa.pmklc\n"
    "  pmklc compress -p max a.fa b.fa               # a.fa.pmklc and b.fa.pmklc\n"
    "  pmklc compress -o g.pmklc genome.fa           # one input, named output\n"
    "  cat genome.fa | pmklc compress - > g2.pmklc   # a pipe\n"
    "  pmklc compress -p max --ref a.fa -o b.ref.pmklc b.fa   # coded against a.fa\n"
    "  pmklc compress -p max --collection ab.pmklc a.fa b.fa   # one container";
constexpr const char* kDecompressExamples =
    "Examples:\n"
    "  pmklc decompress -f genome.fa.pmklc           # writes genome.fa\n"
    "  pmklc decompress -c g.pmklc | md5sum          # to stdout\n"
    "  pmklc decompress -l ab.pmklc                  # list members\n"
    "  pmklc decompress -o ab ab.pmklc               # every member into ab/\n"
    "  pmklc decompress -m b.fa -c ab.pmklc > b2.fa  # one member\n"
    "Exit status: 0 ok, 1 error, 2 usage.";

}  // namespace

int main(int argc, char** argv) {
  // Library log lines go to stderr, never stdout (where data and reports
  // go); the mount daemon sends them to the journal instead (fs/mount.cc).
  spdlog::set_default_logger(spdlog::stderr_color_mt("pmklc"));
  std::string self = argv[0];
  auto slash = self.rfind('/');
  if (slash != std::string::npos) self = self.substr(slash + 1);
  if (self == "pmklcfs" || self == "mount.pmklcfs" || self == "mount.fuse.pmklcfs")
    return MountHelperMain(argc, argv);

  CLI::App app{"pmklc — a transparent compressed filesystem for genome databases"};
  app.set_version_flag("--version", std::string("pmklc ") + PMKLC_VERSION);
  app.require_subcommand(1);
  app.footer(R"(Examples:
  mkdir -p ~/.local/share/pmklcfs ~/genomes                 # the store's parent, the mountpoint
  pmklc mount ~/.local/share/pmklcfs/default ~/genomes      # mount (creates the store)
  cp hg38.fa ~/genomes/ && md5sum ~/genomes/hg38.fa          # use it like any folder
  pmklc compress hg38.fa && pmklc decompress -c hg38.fa.pmklc | cmp - hg38.fa   # a container
  fusermount3 -u ~/genomes                                  # unmount
  pmklc stat ~/.local/share/pmklcfs/default                 # sizes and ratio per codec
  pmklc fsck ~/.local/share/pmklcfs/default                 # verify every block
fstab:
  /srv/pmklc/store  /data/genomes  fuse.pmklcfs  defaults,allow_other,_netdev  0 0)");

  std::string store, mnt;
  bool fg = false, debug = false, json = false;
  std::vector<std::string> opts;

  auto* mount = app.add_subcommand("mount", "mount STORE on MOUNTPOINT (creates an empty store if missing)");
  mount->add_option("STORE", store, "store directory (RocksDB)")->required();
  mount->add_option("MOUNTPOINT", mnt, "an existing directory")->required();
  mount->add_flag("-f,--foreground", fg, "stay in the foreground and log to stderr");
  mount->add_flag("-d,--debug", debug, "foreground with FUSE request tracing");
  mount->add_option("-o", opts, "comma-separated options (below), and FUSE/mount options")
      ->allow_extra_args(false);
  mount->footer("Options (-o):\n" + pmklc::MountOptionsHelp() +
                "Example: pmklc mount -o allow_other,log_level=debug /srv/store /data/genomes");

  bool stat_files = false;
  auto* stat = app.add_subcommand("stat", "files, logical and stored bytes, ratio and bytes per codec");
  stat->add_option("STORE", store, "store directory")->required();
  bool stat_human = false;
  stat->add_flag("--json", json, "print one JSON object (the same fields, sizes in bytes)");
  stat->set_help_flag("--help", "print this help and exit");  // -h is human sizes, as in du and df
  stat->add_flag("-h,--human-readable", stat_human, "sizes as 1.5 GiB");
  stat->add_flag("--files", stat_files, "per file: stored bytes (its blocks and groups, and the reference segments it links to), size, path");
  stat->footer("Example: pmklc stat ~/.local/share/pmklcfs/default");

  auto* fsck = app.add_subcommand("fsck", "verify every block checksum and the inode/dirent links");
  fsck->add_option("STORE", store, "store directory")->required();
  unsigned fsck_threads = std::max(1u, std::thread::hardware_concurrency());
  fsck->add_option("-j,--threads", fsck_threads, "threads decoding archived groups. Default: all cores")
      ->check(CLI::Range(1, 256));
  fsck->footer("Exit status: 0 clean, 1 problems found, 2 store unreadable.\n"
               "Example: pmklc fsck ~/.local/share/pmklcfs/default");

  pmklc::cli::CompressArgs ca;
  std::string bsize = "1M";
  auto* comp = app.add_subcommand("compress", "compress each FILE into FILE.pmklc (FASTA-aware), like gzip");
  comp->add_option("FILES", ca.inputs, "input files; - is stdin (to stdout)")->required();
  comp->add_option("-o,--output", ca.out, "the output of a single input (- for stdout). Default: FILE.pmklc");
  comp->add_option("--collection", ca.collection_out, "write one collection container OUT of all FILES: related genomes code against each other, and each member decompresses on its own");
  comp->add_option("-p,--profile", ca.profile, "fast (2-bit FASTA streams, default), balanced (context-mixed nucleotides, about 8 MB/s), max (strongest context models, a repeat pool and a 4-symbol network, about 0.7 MB/s a core, 0.4-0.7 on human DNA; each block keeps the context of the 4 before it, so it decodes one block at a time) or neural (max + token networks, -j W); balanced, max and neural use 16 MiB blocks");
  comp->add_flag("-c,--stdout", ca.to_stdout, "write to stdout (one input)");
  comp->add_flag("-f,--force", ca.force, "overwrite existing outputs (never an input)");
  comp->add_flag("-v,--verbose", ca.verbose, "print sizes");
  comp->add_option("-B,--block-size", bsize, "block size (K/M suffix), Default: 1M");
  auto* comp_j = comp->add_option("-j,--workers", ca.workers,
                                  "W: blocks coded at once (same output for every W; memory grows with W). "
                                  "Default: 1 (64 when a GPU codes)")
      ->check(CLI::Range(1, 64));
  comp->add_option("--device", ca.device,
                   "auto|cpu|cuda[:N]: where the nucleotide streams of max and balanced are coded, the same bytes "
                   "on every device (neural, and max's blocks primed with the ones before them, run on the CPU: "
                   "add --independent-blocks). Default: auto (the GPUs when there are any)");
  comp->add_flag("--independent-blocks", ca.independent_blocks,
                 "max: code each block alone, without the context of the blocks before it, so that decompress -j W "
                 "decodes W blocks at once (about 1% larger on a human chromosome, decoded 1.3x faster on one core). Default: off");
  comp->add_flag("--no-smp", ca.no_smp, "neural: every block's dynamic models start cold (ablation)");
  comp->add_option("--models", ca.models, "neural: candidate networks, from dm,spum,sprm or none. Default: dm, the shipped spum, and sprm with --private");
  comp->add_option("--private", ca.private_model, "neural: a private model file (pmklc train file) to mix in; stored in the container");
  comp->add_option("--ref", ca.reference, "code FASTA against a related genome REF (e.g. another strain; not -p neural); decompress needs the same REF");
  comp->add_flag("--no-select", ca.no_select, "neural: mix every candidate without the trial-encode selection");
  comp->footer(kCompressExamples);
  auto* decomp = app.add_subcommand("decompress", "restore each FILE.pmklc beside it (FILE), like gunzip");
  decomp->add_option("FILES", ca.inputs, "containers; - is stdin (to stdout)")->required();
  decomp->add_option("-o,--output", ca.out, "the output of a single input: a file (- for stdout), or for a collection the directory. Default: FILE without .pmklc");
  decomp->add_flag("-c,--stdout", ca.to_stdout, "write to stdout (one input)");
  decomp->add_flag("-f,--force", ca.force, "overwrite existing outputs (never an input)");
  decomp->add_flag("-l,--list", ca.list, "list each container's members and their sizes instead");
  auto* decomp_j = decomp->add_option("-j,--workers", ca.workers, "blocks decoded at once (with a GPU, the blocks of one batch). Default: 1")
      ->check(CLI::Range(1, 64));
  decomp->add_option("--device", ca.device,
                     "auto|cpu|cuda[:N]: where the nucleotide streams of max and balanced are decoded (the same bytes). "
                     "Default: auto");
  decomp->add_option("--ref", ca.reference, "the reference file the container was compressed against");
  decomp->add_option("-m,--member", ca.member, "collection: decompress only this member (to its name, -o OUT, or stdout with -c)");
  decomp->footer(kDecompressExamples);

  pmklc::cli::ArchiveArgs aa;
  auto* arch = app.add_subcommand("archive", "recode stored data with the archive profile now");
  arch->add_option("STORE", aa.store, "store directory (not with --work)");
  arch->add_option("--export", aa.export_dir,
                   "unmounted store: write its pending groups as work units into DIR (shared storage) instead of "
                   "coding them here");
  arch->add_option("--shards", aa.shards, "with --export: shards, one worker each. Default: 1")
      ->check(CLI::Range(1, 4096));
  arch->add_option("--work", aa.work_dir, "code one shard of the export in DIR (no store needed): with --shard I/N");
  arch->add_option("--shard", aa.shard, "with --work: I/N, shard I (from 0) of N");
  arch->add_flag("--slurm", aa.slurm,
                 "with --export DIR: submit the workers as a Slurm job array (one task a shard, -j CPUs each) and "
                 "the ingest as a job after them (afterany); prints the job ids");
  arch->add_option("--partition", aa.partition, "with --slurm: the partition. Default: the site's");
  arch->add_option("--gres", aa.gres, "with --slurm: generic resources of each worker, e.g. gpu:1. Default: none");
  arch->add_option("--time", aa.time_limit, "with --slurm: time limit of each job, e.g. 12:00:00. Default: the site's");
  arch->add_flag("--print", aa.print, "with --slurm: write the sbatch scripts into DIR/slurm and print them; submit nothing");
  arch->add_option("--ingest", aa.ingest_dir,
                   "unmounted store: swap the coded groups of DIR's done shards in (groups whose files changed since "
                   "the export are refused and reported)");
  arch->add_option("--defer-related", aa.defer_related,
                   "with --export: a file related to one exported before it in the same export is left pending for "
                   "the next export, which codes it against that one once ingested (on), or is exported now and "
                   "coded without it (off). Default: on")
      ->check(CLI::IsMember({"on", "off"}));
  arch->add_option("--ingest-as", aa.ingest_as,
                   "with --ingest on an unmounted store: each shard's groups go in as SST files ingested at once "
                   "(files), or one WriteBatch a group as a mounted store's daemon does (batches). Default: files")
      ->check(CLI::IsMember({"files", "batches"}));
  arch->add_flag("--wait", aa.wait, "mounted store: return when the daemon's pass has ended");
  arch->add_option("-p,--profile", aa.profile, "unmounted store: archive profile (max, balanced or neural). Default: max");
  arch->add_option("-j,--threads", aa.threads, "unmounted store: worker threads. Default: 1")
      ->check(CLI::Range(1, 64));
  arch->add_option("--references", aa.references,
                   "unmounted store: code FASTA files against related stored files (on|off). Default: on")
      ->check(CLI::IsMember({"on", "off"}));
  arch->add_option("--ref-segments", aa.ref_segments,
                   "unmounted store: most reference segments per group. Default: 4")
      ->check(CLI::Range(1, 4));
  arch->add_option("--device", aa.device,
                   "unmounted store: where max and balanced groups are coded, auto|cpu|cuda[:N] (with a GPU, use -j 64 "
                   "so that a batch holds many groups). Default: auto");
  arch->add_option("--ref-depth", aa.ref_depth,
                   "unmounted store: deepest reference chain a read may decode (1 or 2). Default: 2")
      ->check(CLI::Range(1, 2));
  arch->add_option("--split", aa.split,
                   "unmounted store: code each group as parts of SIZE (K, M) that decode alone, so that a read of a "
                   "few KB decodes one part (costs ratio; a multiple of the block size). Default: 0 (whole groups)");
  arch->footer("Across machines (docs/store.md §Distributed archiving):\n"
               "  pmklc archive /srv/store --export /shared/job --shards 4\n"
               "  pmklc archive --work /shared/job --shard 0/4     # on any node, one per shard\n"
               "  pmklc archive /srv/store --ingest /shared/job\n"
               "A mounted store is archived by its daemon (archive_profile=, archive_threads=), which\n"
               "skips the archive_delay for this pass; an unmounted store is archived by this command.\n"
               "Examples:\n  pmklc archive --wait ~/.local/share/pmklcfs/default\n"
               "  pmklc archive -j 2 /srv/store        # unmounted: progress on a terminal");

  auto* dev = app.add_subcommand("devices", "list the GPUs the codec kernels can use");

  auto* train = app.add_subcommand("train", "train a static model (runs pmklc-train, the LibTorch trainer)");
  train->prefix_command();
  train->footer("pmklc train public --data DIR --out models/NAME   public model (SPuM) + card\n"
                "pmklc train file --out FILE.pmkm IN.fa...          private model for compress --private\n"
                "pmklc train private STORE [--sample-mb 64]         the store's private model (SPrM)\n"
                "Run `pmklc train public --help` for the options.");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;  // --help, --version: 0; a usage error: 2
  }
  try {
    if (*mount) return DoMount(store, mnt, fg, debug, opts);
    if (*stat) return pmklc::cli::RunStat(store, json, stat_files, stat_human);
    if (*comp || *decomp) {
      auto v = pmklc::ParseSize(bsize, "-B/--block-size", pmklc::format::kMinBlockSize,
                                pmklc::format::kMaxBlockRawLen);
      if (!v.ok()) {
        std::fprintf(stderr, "pmklc: %s\n", v.status().message().c_str());
        return 2;
      }
      ca.block_size = static_cast<uint32_t>(*v);
      ca.workers_given = comp_j->count() > 0 || decomp_j->count() > 0;
      ca.block_size_given = comp->count("-B") > 0;
      if (*comp && !ca.collection_out.empty()) {
        if (!ca.out.empty()) return Usage("compress: --collection names the output; -o does not combine with it");
        return pmklc::cli::RunCompressCollection(ca);
      }
      return *comp ? pmklc::cli::RunCompressFiles(ca) : pmklc::cli::RunDecompressFiles(ca);
    }
    if (*fsck) return pmklc::cli::RunFsck(store, fsck_threads);
    if (*arch) return pmklc::cli::RunArchive(aa);
    if (*train) {
      // The trainer is its own binary (LibTorch is loaded only there): next
      // to this one, else on PATH.
      auto rest = train->remaining();
      if (!rest.empty() && rest[0] == "private")
        return pmklc::cli::RunTrainPrivate(std::vector<std::string>(rest.begin() + 1, rest.end()));
      return pmklc::cli::RunTrainer(rest);
    }
    if (*dev) {
      auto r = pmklc::kernels::ListGpus();
      if (!r.ok()) {
        std::printf("no GPU: %s; using the CPU kernels\n", r.status().message().c_str());
        return 0;
      }
      for (auto& d : *r) {
        std::printf("GPU %d: %s (sm_%d%d, %zu MiB)\n", d.index, d.name.c_str(), d.major, d.minor,
                    d.memory_bytes >> 20);
        // the batches the streams would use: one 1 MiB block's stream a
        // thread (compress's default block size for balanced)
        const size_t n = size_t{1} << 20;
        const auto b = pmklc::CmParams::Balanced().FitTo(n), m = pmklc::CmParams::Max().FitTo(n);
        const size_t bb = pmklc::kernels::cmslim::BatchBytes(pmklc::CmSlimShape(b), n);
        const size_t mb = pmklc::kernels::cmmax::MaxBatchBytes(pmklc::CmMaxShape(m), n);
        std::printf("  batch: %zu streams of 1 MiB at a time with balanced (%.1f MiB each), %zu with max (%.1f MiB each)\n",
                    d.memory_bytes / 10 * 9 / bb, bb / 1048576.0, d.memory_bytes / 10 * 9 / mb, mb / 1048576.0);
        // neural: a 1 MiB sub-block with the default DMs and the shipped SPuM
        pmklc::kernels::neuralk::NeuralShape ns;
        const pmklc::NeuralOptions no;
        for (const auto& dm : no.dms) {
          ns.net[ns.nets] = dm.shape;
          ns.lr[ns.nets] = dm.lr;
          ns.reverse[ns.nets++] = dm.learn_reverse;
        }
        ns.dms = ns.nets;
        ns.net[ns.nets++] = pmklc::kernels::TokNetShape{3, 3, 32, 64};
        ns.cm = pmklc::CmMaxShape(no.cm.FitTo(n), static_cast<size_t>(ns.nets), no.extra_mix);
        const size_t nb = pmklc::kernels::neuralk::SliceBytes(ns, n);
        std::printf("  neural: %zu sub-blocks of 1 MiB at a time (%.1f MiB each)\n", d.memory_bytes / 10 * 9 / nb,
                    nb / 1048576.0);
      }
      return 0;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pmklc: %s\n", e.what());
    return 1;
  }
  return 1;
}
