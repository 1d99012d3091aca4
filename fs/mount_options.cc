#include "fs/mount_options.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <functional>
#include <thread>

#include "engine/codec/codec.h"
#include "engine/common/parse.h"
#include "engine/format.h"
#include "engine/models/nucleotide_cm.h"
#include "fs/file_data.h"
#include "store/services/store_refs.h"

namespace pmklc {

namespace {

enum class Kind { kFlag, kSize, kUint, kChoice };

struct Spec {
  const char* name;
  Kind kind;
  uint64_t min = 0, max = UINT64_MAX;  // kSize, kUint
  std::vector<std::string> choices;     // kChoice
  const char* def;                      // as README shows it
  const char* meaning;
  // Applies a validated value (kFlag: ""; kSize/kUint: number in n; kChoice: v).
  std::function<Status(MountConfig*, const std::string& v, uint64_t n)> apply;
  // kUint: the value the option takes when given without one ("name"
  // alone); nullptr: a value is required.
  const char* bare = nullptr;
};

bool PowerOfTwo(uint64_t v) { return v && !(v & (v - 1)); }

// A tiny probe of each kind a fast-tier codec meets, to check that this
// build can encode with the chosen codec before any write depends on it.
Status ProbeEncode(const EncodeOptions& e) {
  std::string v;
  for (const char* probe : {">probe\nACGTACGTNNACGT\n", "MKVLAAGIVGLLLA\n", "plain text\n"})
    PMKLC_RETURN_IF_ERROR(EncodeBlock(probe, e, &v));
  return Status::OK();
}

const std::vector<Spec>& Table() {
  static const std::vector<Spec> t = {
      {"allow_other", Kind::kFlag, 0, 0, {}, "off",
       "let other users use the mount (root, or `user_allow_other` in /etc/fuse.conf)",
       [](MountConfig* c, const std::string&, uint64_t) { c->allow_other = true; return Status::OK(); }},
      {"default_permissions", Kind::kFlag, 0, 0, {}, "always on",
       "kernel permission checks from the mode bits",
       [](MountConfig*, const std::string&, uint64_t) { return Status::OK(); }},
      {"log_level", Kind::kChoice, 0, 0, {"trace", "debug", "info", "warn", "error", "critical", "off"}, "info",
       "what the daemon logs (to the journal, or stderr with `-f`)",
       [](MountConfig* c, const std::string& v, uint64_t) { c->log_level = v; return Status::OK(); }},
      {"cache_size", Kind::kSize, 0, uint64_t{1} << 40, {}, "128M", "decoded-block read cache",
       [](MountConfig* c, const std::string&, uint64_t n) { c->fs.cache_bytes = n; return Status::OK(); }},
      {"read_threads", Kind::kUint, 1, 64, {}, "cores",
       "threads that decode archived groups for reads: a sequential reader keeps that many groups decoding "
       "ahead of it (1: none); every reader shares them",
       [](MountConfig* c, const std::string&, uint64_t n) {
         c->fs.read_threads = static_cast<unsigned>(n);
         return Status::OK();
       }},
      {"recall_size", Kind::kSize, 0, uint64_t{1} << 50, {}, "5% of the store, at least 1G",
       "recall tier: archived groups that were read are kept recoded with the fast codec, up to this many "
       "stored bytes, so reading them again costs a fast decode (0 turns it off)",
       [](MountConfig* c, const std::string&, uint64_t n) { c->recall.size_bytes = n; return Status::OK(); }},
      {"recall_min_reads", Kind::kUint, 1, 1000, {}, "1",
       "model decodes of an archived group before the recall tier keeps it",
       [](MountConfig* c, const std::string&, uint64_t n) {
         c->recall.min_reads = static_cast<uint32_t>(n);
         return Status::OK();
       }},
      {"dirty_file_limit", Kind::kSize, format::kMinBlockSize, uint64_t{1} << 40, {}, "32M", "unstored written data per file",
       [](MountConfig* c, const std::string&, uint64_t n) { c->fs.dirty_file_bytes = n; return Status::OK(); }},
      {"dirty_limit", Kind::kSize, format::kMinBlockSize, uint64_t{1} << 40, {}, "256M", "unstored written data over all files",
       [](MountConfig* c, const std::string&, uint64_t n) { c->fs.dirty_total_bytes = n; return Status::OK(); }},
      {"zstd_level", Kind::kUint, 1, 19, {}, "1", "zstd level for new blocks",
       [](MountConfig* c, const std::string&, uint64_t n) {
         c->fs.encode.zstd_level = static_cast<int>(n);
         return Status::OK();
       }},
      {"codec", Kind::kChoice, 0, 0, {"auto", "zstd", "raw", "fasta2bit"}, "auto",
       "new blocks: `auto` (fasta2bit for nucleotide FASTA, fasta-protein for protein FASTA, zstd otherwise; "
       "`fasta2bit` is the same), `zstd` or `raw` for every block",
       [](MountConfig* c, const std::string& v, uint64_t) -> Status {
         EncodeOptions e = c->fs.encode;
         if (v == "auto") {
           e.fasta = true;
           e.codec = CodecId::kZstd;
         } else {
           auto id = CodecFromName(v);
           if (!id.ok()) return id.status();
           e.codec = *id;
           e.fasta = *id == CodecId::kFasta2Bit;
         }
         // Only what this build can encode: a write must never be the first to find out.
         Status p = ProbeEncode(e);
         if (!p.ok()) return Status::InvalidArgument("this build cannot encode with it: " + p.message());
         c->fs.encode = e;
         return Status::OK();
       }},
      {"block_size", Kind::kSize, format::kMinBlockSize, format::kMaxBlockSize, {}, "128K",
       "block size of a **new** store (a power of two)",
       [](MountConfig* c, const std::string&, uint64_t n) -> Status {
         if (!PowerOfTwo(n)) return Status::InvalidArgument("not a power of two");
         c->store.block_size = static_cast<uint32_t>(n);
         return Status::OK();
       }},
      {"min_free", Kind::kSize, 0, uint64_t{1} << 50, {}, "256M",
       "free space kept on the store's disk; writes get `ENOSPC` below it",
       [](MountConfig* c, const std::string&, uint64_t n) { c->store.min_free_bytes = n; return Status::OK(); }},
      {"threads", Kind::kUint, 1, 256, {}, "10", "max FUSE worker threads",
       [](MountConfig* c, const std::string&, uint64_t n) {
         c->threads = static_cast<unsigned>(n);
         return Status::OK();
       }},
      {"noatime", Kind::kFlag, 0, 0, {}, "off", "never update access times (else relatime rules)",
       [](MountConfig* c, const std::string&, uint64_t) {
         c->fs.noatime = true;
         c->fuse_opts.push_back("noatime");
         return Status::OK();
       }},
      {"archive_profile", Kind::kChoice, 0, 0, {"max", "balanced", "neural", "off"}, "max",
       "how the archiver recodes idle files: `max`, `balanced` (faster reads of archived data), `neural` (~1% "
       "smaller, ~6× slower to read: cold data) or `off`",
       [](MountConfig* c, const std::string& v, uint64_t) { c->archive.profile = v; return Status::OK(); }},
      {"archive_delay", Kind::kUint, 0, 365u * 86400, {}, "60",
       "seconds a file must be closed and unchanged before it is archived",
       [](MountConfig* c, const std::string&, uint64_t n) {
         c->archive.delay_s = static_cast<uint32_t>(n);
         return Status::OK();
       }},
      {"device", Kind::kChoice, 0, 0,
       {"auto", "cpu", "cuda", "cuda:0", "cuda:1", "cuda:2", "cuda:3", "cuda:4", "cuda:5", "cuda:6", "cuda:7"}, "auto",
       "where the archiver codes `max` and `balanced` groups: `auto` (the GPUs when there are any), `cpu`, `cuda` or "
       "`cuda:N` (refused without one); the same bytes everywhere; reads decode on the CPU",
       [](MountConfig* c, const std::string& v, uint64_t) -> Status {
         auto d = ParseDevice(v);
         if (!d.ok()) return d.status();
         c->archive.device = *d;
         return Status::OK();
       }},
      {"archive_threads", Kind::kUint, 1, 64, {}, "1",
       "archiver workers (each at idle priority, about 0.2 GiB with `max`)",
       [](MountConfig* c, const std::string&, uint64_t n) {
         c->archive.threads = static_cast<unsigned>(n);
         return Status::OK();
       }},
      {"archive_group", Kind::kSize, format::kMinBlockSize, format::kMaxGroupBytes, {}, "4M",
       "archived group size of a **new** store (a power of two, at least the block size)",
       [](MountConfig* c, const std::string&, uint64_t n) -> Status {
         if (!PowerOfTwo(n)) return Status::InvalidArgument("not a power of two");
         c->store.group_bytes = static_cast<uint32_t>(n);
         return Status::OK();
       }},
      {"archive_split", Kind::kSize, 0, format::kMaxGroupBytes, {}, "0",
       "code each archived group as parts of this size that decode alone, so that an uncached read of a few KB "
       "decodes one part (a multiple of the block size, smaller than a group; costs ratio: README §Region reads; "
       "0: whole groups)",
       [](MountConfig* c, const std::string&, uint64_t n) {
         c->archive.split_bytes = static_cast<uint32_t>(n);
         return Status::OK();
       }},
      {"references", Kind::kChoice, 0, 0, {"on", "off"}, "on",
       "code FASTA files against related files already archived (docs/store.md §References)",
       [](MountConfig* c, const std::string& v, uint64_t) { c->archive.references = v == "on"; return Status::OK(); }},
      {"ref_segments", Kind::kUint, 1, format::kMaxBlockRefs, {}, "4",
       "most segments of related files one archived group is coded against",
       [](MountConfig* c, const std::string&, uint64_t n) {
         c->archive.ref_segments = static_cast<uint32_t>(n);
         return Status::OK();
       }},
      {"ref_depth", Kind::kUint, 1, 2, {}, "2",
       "deepest reference chain a read may decode: 2 lets a file use files that use others (smaller), 1 only "
       "files coded alone (cheaper reads)",
       [](MountConfig* c, const std::string&, uint64_t n) {
         c->archive.ref_depth = static_cast<uint32_t>(n);
         return Status::OK();
       }},
      {"ro_follow", Kind::kUint, 1, 86400, {}, "off (30 when given without a value)",
       "mount read-only a store that another node's mount writes, on shared storage (docs/store.md §Read-only "
       "followers): catch up with the writer every this many seconds; every change gets `EROFS`; no archiver",
       [](MountConfig* c, const std::string&, uint64_t n) {
         c->follow_s = static_cast<uint32_t>(n);
         c->store.follow = true;
         return Status::OK();
       },
       "30"},
      {"ref_cache", Kind::kSize, 0, uint64_t{1} << 40, {}, "256M",
       "decoded reference segments kept in memory (one cache for reads and the archiver)",
       [](MountConfig* c, const std::string&, uint64_t n) {
         c->fs.ref_cache_bytes = n;
         c->archive.ref_cache_bytes = n;
         return Status::OK();
       }},
  };
  return t;
}

std::string Allowed(const Spec& s) {
  switch (s.kind) {
    case Kind::kFlag: return "no value";
    case Kind::kSize:
      return "a size with K, M, G or T (" + FormatSize(s.min) + ".." + FormatSize(s.max) + ")";
    case Kind::kUint: return std::to_string(s.min) + ".." + std::to_string(s.max) + (s.bare ? ", or none" : "");
    case Kind::kChoice: {
      std::string r;
      for (auto& c : s.choices) r += (r.empty() ? "" : "|") + c;
      return r;
    }
  }
  return "";
}

bool FstabOnly(const std::string& k) {
  return k == "_netdev" || k == "nofail" || k == "noauto" || k == "auto" || k == "user" || k == "nouser" ||
         k == "users" || k == "defaults" || k.rfind("x-", 0) == 0 || k.rfind("comment", 0) == 0;
}

}  // namespace

Result<MountConfig> ParseMountOptions(const std::vector<std::string>& options) {
  MountConfig c;
  for (const std::string& o : options) {
    if (o.empty()) continue;
    const auto eq = o.find('=');
    const std::string k = o.substr(0, eq);
    const bool has_value = eq != std::string::npos;
    const std::string v = has_value ? o.substr(eq + 1) : "";
    const Spec* spec = nullptr;
    for (const Spec& s : Table())
      if (k == s.name) spec = &s;
    if (!spec) {
      if (!FstabOnly(k)) c.fuse_opts.push_back(o);  // fstab-only options: mount(8) handles them
      continue;
    }
    auto bad = [&](const std::string& why) {
      return Status::InvalidArgument("option " + k + (has_value ? "=" + v : "") + ": " + why + " (allowed: " +
                                     Allowed(*spec) + ")");
    };
    uint64_t n = 0;
    switch (spec->kind) {
      case Kind::kFlag:
        if (has_value) return bad("takes no value");
        break;
      case Kind::kSize: {
        auto r = ParseSize(v, k, spec->min, spec->max);
        if (!r.ok()) return bad("not a size in range");
        n = *r;
        break;
      }
      case Kind::kUint: {
        auto r = ParseUint(!has_value && spec->bare ? spec->bare : v, k, spec->min, spec->max);
        if (!r.ok()) return bad("not a whole number in range");
        n = *r;
        break;
      }
      case Kind::kChoice: {
        bool ok = false;
        for (auto& ch : spec->choices) ok |= ch == v;
        if (!ok) return bad("unknown value");
        break;
      }
    }
    Status s = spec->apply(&c, v, n);
    if (!s.ok()) return bad(s.message());
    c.given.push_back(o);
  }
  if (c.store.block_size && c.store.group_bytes && c.store.group_bytes < c.store.block_size)
    return Status::InvalidArgument("option archive_group=" + FormatSize(c.store.group_bytes) +
                                   ": smaller than block_size=" + FormatSize(c.store.block_size));
  return c;
}

MemoryBudget DaemonMemoryBudget(const MountConfig& c, uint64_t group_bytes) {
  MemoryBudget m;
  m.cache = c.fs.cache_bytes;
  m.ref_cache = c.fs.ref_cache_bytes;
  m.dirty = c.fs.dirty_total_bytes + c.fs.dirty_file_bytes;  // a file may pass the total by its own limit
  m.rocksdb = c.store.rocksdb_cache_bytes + c.store.memtable_bytes;
  // One decode: the coder's tables (the reference coder, the largest, fitted
  // to a group primed with kMaxBlockRefs segments) plus its prime, the group
  // and its value.
  const uint64_t primed = group_bytes * (1 + format::kMaxBlockRefs);
  const uint64_t one = CmModelBytes(CmParams::Reference().FitTo(primed)) + 2 * primed;
  // (the decodes at once: the counts FileData and StoreRefs use)
  m.decoders = (std::min(64u, FileData::ReadThreads(c.fs.read_threads)) + StoreRefs::PrefetchParallelism()) * one;
  if (c.archive.profile != "off")
    m.archiver = c.archive.threads * one + (c.archive.references ? uint64_t{512} << 20 : 0);
  m.fuse = uint64_t{c.threads} * (2u << 20);
  m.base = uint64_t{96} << 20;
  return m;
}

std::string MemoryBudget::Describe() const {
  return "total " + FormatSize(total() >> 20 << 20) + " = cache_size " + FormatSize(cache) + " + ref_cache " +
         FormatSize(ref_cache) + " + dirty limits " + FormatSize(dirty) + " + RocksDB " + FormatSize(rocksdb) +
         " + decoders " + FormatSize(decoders >> 20 << 20) + " + archiver " + FormatSize(archiver >> 20 << 20) +
         " + FUSE buffers " + FormatSize(fuse) + " + base " + FormatSize(base);
}

std::string MountOptionsMarkdown() {
  std::string r = "| option | values | default | meaning |\n|---|---|---|---|\n";
  for (const Spec& s : Table()) {
    std::string name = std::string("`") + s.name + (s.kind == Kind::kFlag ? "" : s.bare ? "[=]" : "=") + "`";
    std::string values;
    switch (s.kind) {
      case Kind::kFlag: values = "(no value)"; break;
      case Kind::kSize: values = "size " + FormatSize(s.min) + "–" + FormatSize(s.max); break;
      case Kind::kUint:
        values = std::to_string(s.min) + "–" + std::to_string(s.max) + (s.bare ? " or no value" : "");
        break;
      case Kind::kChoice:
        for (auto& c : s.choices) values += (values.empty() ? "`" : ", `") + c + "`";
        break;
    }
    r += "| " + name + " | " + values + " | " + s.def + " | " + s.meaning + " |\n";
  }
  return r;
}

std::string MountOptionsHelp() {
  std::string r;
  for (const Spec& s : Table()) {
    r += std::string("  ") + s.name + (s.kind == Kind::kFlag ? "" : s.bare ? "[=]" : "=") + "\n      " + s.meaning;
    if (s.kind != Kind::kFlag) r += " (" + Allowed(s) + ")";
    r += std::string(". Default: ") + s.def + "\n";
  }
  r += "  Other options (ro, nosuid, nodev, fsname=...) go to FUSE.\n";
  return r;
}

}  // namespace pmklc
