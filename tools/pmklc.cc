// pmklc — the one command-line tool of pmklcfs.
//
// Invoked as `mount.fuse.pmklcfs` (what mount(8) runs for an fstab line of
// type fuse.pmklcfs), `pmklcfs` (what mount.fuse3 runs) or `mount.pmklcfs`,
// it behaves as `pmklc mount STORE MOUNTPOINT -o OPTIONS`.
#include <CLI/CLI.hpp>

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <thread>
#include <cstring>
#include <string>
#include <vector>

#include "fs/mount.h"
#include "kernels/device.h"
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

}  // namespace

int main(int argc, char** argv) {
  std::string self = argv[0];
  auto slash = self.rfind('/');
  if (slash != std::string::npos) self = self.substr(slash + 1);
  if (self == "pmklcfs" || self == "mount.pmklcfs" || self == "mount.fuse.pmklcfs")
    return MountHelperMain(argc, argv);

  CLI::App app{"pmklc — a transparent compressed filesystem for genome databases"};
  app.set_version_flag("--version", std::string("pmklc ") + PMKLC_VERSION);
  app.require_subcommand(1);
  app.footer(R"(Examples:
  pmklc mount ~/.local/share/pmklcfs/default ~/genomes      # mount (creates the store)
  cp hg38.fa ~/genomes/ && md5sum ~/genomes/hg38.fa          # use it like any folder
  pmklc compress hg38.fa && pmklc decompress hg38.fa.pmklc   # standalone container
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
  mount->add_option("-o", opts,
                    "comma-separated options: allow_other, log_level=LEVEL, cache_size=SIZE, "
                    "dirty_limit=SIZE, dirty_file_limit=SIZE, zstd_level=N, codec=auto|zstd|raw, "
                    "block_size=SIZE (new stores), threads=N, noatime, archive_profile=max|balanced|neural|off, "
                    "archive_delay=SECONDS (Default: 60), archive_threads=N (Default: 1), "
                    "archive_group=SIZE (new stores; Default: 4M), references=on|off (Default: on), ref_segments=N "
                    "(1-4, Default: 4), ref_depth=1|2 (Default: 2), ref_cache=SIZE (Default: 256M), and FUSE/mount options")
      ->allow_extra_args(false);
  mount->footer("Example: pmklc mount -o allow_other,log_level=debug /srv/store /data/genomes");

  bool stat_files = false;
  auto* stat = app.add_subcommand("stat", "files, logical and stored bytes, ratio and bytes per codec");
  stat->add_option("STORE", store, "store directory")->required();
  stat->add_flag("--json", json, "print one JSON object");
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
  auto* comp = app.add_subcommand("compress", "compress a file into a .pmklc container (FASTA-aware)");
  comp->add_option("IN [OUT] | FILES", ca.inputs, "input file (- for stdin) and output (default IN.pmklc); with -o, the files of a collection")->required();
  comp->add_option("-o,--output", ca.collection_out, "write one collection container OUT of all FILES: related genomes code against each other, and each member decompresses on its own");
  comp->add_option("-p,--profile", ca.profile, "fast (2-bit FASTA streams, default), balanced (context-mixed nucleotides, about 8 MB/s) max (strongest context models, about 1.5 MB/s) or neural (max + token networks, -j W); balanced, max and neural use 16 MiB blocks");
  comp->add_flag("-c,--stdout", ca.to_stdout, "write to stdout");
  comp->add_flag("-f,--force", ca.force, "overwrite OUT");
  comp->add_flag("-v,--verbose", ca.verbose, "print sizes");
  comp->add_option("-B,--block-size", bsize, "block size (K/M suffix), Default: 1M");
  comp->add_option("-j,--workers", ca.workers, "W: blocks coded at once (same output for every W; memory grows with W). Default: 1")
      ->check(CLI::Range(1, 64));
  comp->add_flag("--no-smp", ca.no_smp, "neural: every block's dynamic models start cold (ablation)");
  comp->add_option("--models", ca.models, "neural: candidate networks, from dm,spum,sprm or none. Default: dm, the shipped spum, and sprm with --private");
  comp->add_option("--private", ca.private_model, "neural: a private model file (pmklc train file) to mix in; stored in the container");
  comp->add_option("--ref", ca.reference, "code FASTA against a related genome REF (e.g. another strain; not -p neural); decompress needs the same REF");
  comp->add_flag("--no-select", ca.no_select, "neural: mix every candidate without the trial-encode selection");
  comp->footer("Examples:\n  pmklc compress genome.fa            # writes genome.fa.pmklc\n"
               "  zcat reads.fa.gz | pmklc compress - > reads.fa.pmklc\n"
               "  pmklc compress -p max --ref strainA.fa strainB.fa\n"
               "  pmklc compress -p max -o kpn.pmklc kpn_*.fa   # a collection");
  auto* decomp = app.add_subcommand("decompress", "decompress a .pmklc container");
  decomp->add_option("IN", ca.in, "input container, - for stdin")->required();
  decomp->add_option("OUT", ca.out, "output (default IN without .pmklc; stdout for stdin)");
  decomp->add_flag("-c,--stdout", ca.to_stdout, "write to stdout");
  decomp->add_flag("-f,--force", ca.force, "overwrite OUT");
  decomp->add_option("-j,--workers", ca.workers, "blocks decoded at once. Default: 1")->check(CLI::Range(1, 64));
  decomp->add_option("--ref", ca.reference, "the reference file the container was compressed against");
  decomp->add_option("-m,--member", ca.member, "collection: decompress only this member (to OUT, or stdout with -c); without it every member goes into the directory OUT (default IN without .pmklc)");
  decomp->footer("Example: pmklc decompress genome.fa.pmklc   # writes genome.fa");

  pmklc::cli::ArchiveArgs aa;
  auto* arch = app.add_subcommand("archive", "recode stored data with the archive profile now");
  arch->add_option("STORE", aa.store, "store directory")->required();
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
  arch->add_option("--ref-depth", aa.ref_depth,
                   "unmounted store: deepest reference chain a read may decode (1 or 2). Default: 2")
      ->check(CLI::Range(1, 2));
  arch->footer("A mounted store is archived by its daemon (archive_profile=, archive_threads=), which\n"
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
    return app.exit(e);
  }
  try {
    if (*mount) return DoMount(store, mnt, fg, debug, opts);
    if (*stat) return pmklc::cli::RunStat(store, json, stat_files);
    if (*comp || *decomp) {
      char* end = nullptr;
      unsigned long long v = std::strtoull(bsize.c_str(), &end, 10);
      std::string suf = end ? end : "";
      if (suf == "K" || suf == "k") v <<= 10;
      else if (suf == "M" || suf == "m") v <<= 20;
      else if (!suf.empty()) {
        std::fprintf(stderr, "pmklc: bad block size '%s'\n", bsize.c_str());
        return 1;
      }
      ca.block_size = static_cast<uint32_t>(v);
      ca.block_size_given = comp->count("-B") > 0;
      if (*comp && ca.collection_out.empty()) {
        if (ca.inputs.size() > 2) {
          std::fprintf(stderr, "pmklc compress: several inputs need -o OUT (a collection container)\n");
          return 1;
        }
        ca.in = ca.inputs[0];
        if (ca.inputs.size() == 2) ca.out = ca.inputs[1];
      }
      if (*comp && !ca.collection_out.empty()) return pmklc::cli::RunCompressCollection(ca);
      return *comp ? pmklc::cli::RunCompress(ca) : pmklc::cli::RunDecompress(ca);
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
      for (auto& d : *r) std::printf("GPU %d: %s (sm_%d%d, %zu MiB)\n", d.index, d.name.c_str(),
                                     d.major, d.minor, d.memory_bytes >> 20);
      return 0;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pmklc: %s\n", e.what());
    return 1;
  }
  return 1;
}
