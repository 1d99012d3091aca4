// store_report.cc — see store_report.h.
#include "store/services/store_report.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <string>
#include <map>
#include <set>
#include <vector>

#include "engine/codec/codec.h"
#include "store/services/archiver.h"

namespace pmklc {

namespace {
__attribute__((format(printf, 2, 3))) void Appendf(std::string* out, const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n > 0) out->append(buf, static_cast<size_t>(std::min<int>(n, sizeof buf - 1)));
}
}  // namespace

namespace {
std::string Human(uint64_t b) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u ? "%.1f %s" : "%.0f %s", v, kUnits[u]);
  return buf;
}
std::string JsonString(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\', o += c;
    else if (static_cast<unsigned char>(c) < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      o += b;
    } else o += c;
  }
  return o + "\"";
}
}  // namespace

Result<std::string> StoreReport(Store& s, const StoreReportOptions& opts) {
  const bool json = opts.json;
  // Sizes in the table: bytes, or with -h a short human form.
  auto sz = [&](uint64_t b) { return opts.human ? Human(b) : std::to_string(b); };
  std::string out;
  uint64_t files = 0, dirs = 0, others = 0, logical = 0;
  Status r = s.ForEachInode([&](const InodeAttr& a) {
    if (S_ISREG(a.mode)) { files++; logical += a.size; }
    else if (S_ISDIR(a.mode)) dirs++;
    else others++;
    return true;
  });
  struct PerCodec { uint64_t blocks = 0, raw = 0, stored = 0; };
  // Keyed by (tier, codec): tier 0 fast-tier blocks, 1 archived groups.
  std::map<std::pair<int, std::string>, PerCodec> per;
  PerCodec tier[2];
  uint64_t stored = 0, bad = 0;
  auto count = [&](int t, uint32_t raw, uint32_t stored_len, uint8_t codec) {
    if (codec == 0xff) { bad++; return; }
    const char* n = CodecName(static_cast<CodecId>(codec));
    for (PerCodec* pc : {&per[{t, n ? n : "unknown"}], &tier[t]}) {
      pc->blocks++;
      pc->raw += raw;
      pc->stored += stored_len;
    }
    stored += stored_len;
  };
  // Everything comes from the store's sizes index (docs/store.md §Sizes):
  // one small record per block, group and segment, never the values.
  // Bytes waiting for the archiver are the fast-tier blocks of pending files.
  std::vector<uint64_t> pending_list;
  Status b = s.ListPending(&pending_list);
  const std::set<uint64_t> pending(pending_list.begin(), pending_list.end());
  uint64_t pend_raw = 0, pend_stored = 0;
  uint64_t ref_objects = 0, ref_segs = 0, ref_raw = 0, ref_stored = 0;
  uint64_t recall_entries = 0, recall_raw = 0, recall_stored = 0;  // the recall tier (a cache)
  std::map<std::string, PerCodec> seg_per;  // reference segments by codec
  if (b.ok()) b = s.ForEachRefObject([&](uint64_t, std::string_view) { ref_objects++; return true; });
  if (b.ok()) b = s.ForEachSize([&](char tag, uint64_t a, uint64_t, uint32_t st, uint32_t raw, uint8_t codec) {
    if (tag == 'b') {
      if (pending.count(a)) {
        pend_raw += raw;
        pend_stored += st;
      }
      count(0, raw, st, codec);
    } else if (tag == 'g') {
      count(1, raw, st, codec);
    } else if (tag == 'r') {
      recall_entries++;
      recall_raw += raw;
      recall_stored += st;
    } else if (tag == 's') {
      ref_raw += raw;
      const char* n = CodecName(static_cast<CodecId>(codec));
      PerCodec& pc = seg_per[n ? n : "unknown"];
      pc.blocks++;
      pc.raw += raw;
      pc.stored += st;
      ref_segs++;
      ref_stored += st;
    }
    return true;
  });
  stored += ref_stored;
  // Savings: everything coded against references (archived groups of
  // dependent files, and the segments of objects that are themselves coded
  // against others), priced at the ratio of what is coded alone with the
  // same models in this store (archived groups and object segments). In a
  // store of strains only, the first strain's segments are that baseline.
  auto sum = [](const PerCodec& a, const PerCodec& b) {
    return PerCodec{a.blocks + b.blocks, a.raw + b.raw, a.stored + b.stored};
  };
  auto find = [](const auto& m, const auto& k) { auto it = m.find(k); return it == m.end() ? PerCodec{} : it->second; };
  const PerCodec dep = find(per, std::pair<int, std::string>{1, "fasta-ref"});
  const PerCodec dep_segs = find(seg_per, std::string("fasta-ref"));
  const PerCodec against = sum(dep, dep_segs);
  const PerCodec alone = sum(find(per, std::pair<int, std::string>{1, "fasta-cm"}), find(seg_per, std::string("fasta-cm")));
  const double alone_rate = alone.raw ? static_cast<double>(alone.stored) / static_cast<double>(alone.raw) : 0.0;
  const double saved = std::max(0.0, alone_rate * static_cast<double>(against.raw) - static_cast<double>(against.stored));
  if (!r.ok()) return r;
  if (!b.ok()) return b;
  std::string av;
  ArchiveStats as;
  if (s.GetMeta("archive_stats", &av).ok()) as = ArchiveStats::Parse(av);
  const double rate = as.busy_s > 0 ? as.raw_bytes / 1e6 / as.busy_s : 0.0;
  uint64_t disk = s.DiskBytes();
  const uint64_t free_bytes = s.FreeBytes();
  double ratio = stored ? static_cast<double>(logical) / static_cast<double>(stored) : 0.0;
  if (json) {
    Appendf(&out, "{\"files\":%llu,\"dirs\":%llu,\"other\":%llu,\"logical_bytes\":%llu,"
                "\"stored_bytes\":%llu,\"disk_bytes\":%llu,\"ratio\":%.4f,",
                (unsigned long long)files, (unsigned long long)dirs, (unsigned long long)others,
                (unsigned long long)logical, (unsigned long long)stored, (unsigned long long)disk, ratio);
    Appendf(&out, "\"tiers\":{\"fast\":{\"blocks\":%llu,\"raw_bytes\":%llu,\"stored_bytes\":%llu},"
                "\"archived\":{\"groups\":%llu,\"raw_bytes\":%llu,\"stored_bytes\":%llu}},"
                "\"pending_raw_bytes\":%llu,\"pending_stored_bytes\":%llu,"
                "\"archiver\":{\"groups\":%llu,\"raw_bytes\":%llu,\"before_bytes\":%llu,\"after_bytes\":%llu,"
                "\"busy_seconds\":%.3f,\"rate_mb_per_s\":%.3f},"
                "\"references\":{\"objects\":%llu,\"segments\":%llu,\"raw_bytes\":%llu,\"stored_bytes\":%llu,"
                "\"dependent_raw_bytes\":%llu,\"dependent_stored_bytes\":%llu,"
                "\"dependent_segment_raw_bytes\":%llu,\"dependent_segment_stored_bytes\":%llu,"
                "\"saved_bytes_estimate\":%.0f},"
                "\"recall\":{\"entries\":%llu,\"raw_bytes\":%llu,\"stored_bytes\":%llu,\"on\":%s,"
                "\"budget_bytes\":%llu,\"hits\":%llu,\"misses\":%llu,\"written\":%llu,\"evicted\":%llu,"
                "\"dropped\":%llu},"
                "\"free_bytes\":%llu,\"min_free_bytes\":%llu,\"mounted\":%s,"
                "\"rss_bytes\":%llu,\"memory_budget_bytes\":%llu,\"failed_jobs\":%llu,"
                "\"codecs\":{",
                (unsigned long long)tier[0].blocks, (unsigned long long)tier[0].raw,
                (unsigned long long)tier[0].stored, (unsigned long long)tier[1].blocks,
                (unsigned long long)tier[1].raw, (unsigned long long)tier[1].stored,
                (unsigned long long)pend_raw, (unsigned long long)pend_stored, (unsigned long long)as.groups,
                (unsigned long long)as.raw_bytes, (unsigned long long)as.before_bytes,
                (unsigned long long)as.after_bytes, as.busy_s, rate, (unsigned long long)ref_objects,
                (unsigned long long)ref_segs, (unsigned long long)ref_raw, (unsigned long long)ref_stored,
                (unsigned long long)dep.raw, (unsigned long long)dep.stored, (unsigned long long)dep_segs.raw,
                (unsigned long long)dep_segs.stored, saved, (unsigned long long)recall_entries,
                (unsigned long long)recall_raw, (unsigned long long)recall_stored, opts.recall_on ? "true" : "false",
                (unsigned long long)opts.recall.budget, (unsigned long long)opts.recall.hits,
                (unsigned long long)opts.recall.misses, (unsigned long long)opts.recall.written,
                (unsigned long long)opts.recall.evicted, (unsigned long long)opts.recall.dropped,
                (unsigned long long)free_bytes,
                (unsigned long long)s.min_free_bytes(), opts.mounted ? "true" : "false",
                (unsigned long long)opts.rss_bytes, (unsigned long long)opts.memory_budget_bytes,
                (unsigned long long)opts.failed_jobs);
    for (int t = 0; t < 2; ++t) {
      Appendf(&out, t ? ",\"archived_codecs\":{" : "");
      bool first = true;
      for (auto& [k, pc] : per) {
        if (k.first != t) continue;
        Appendf(&out, "%s\"%s\":{\"blocks\":%llu,\"raw_bytes\":%llu,\"stored_bytes\":%llu}",
                    first ? "" : ",", k.second.c_str(), (unsigned long long)pc.blocks,
                    (unsigned long long)pc.raw, (unsigned long long)pc.stored);
        first = false;
      }
      Appendf(&out, "}");
    }
    Appendf(&out, ",\"mount_options\":[");
    for (size_t i = 0; i < opts.mount_options.size(); ++i)
      Appendf(&out, "%s%s", i ? "," : "", JsonString(opts.mount_options[i]).c_str());
    Appendf(&out, "],\"archive_failures\":[");
    for (size_t i = 0; i < opts.archive_failures.size(); ++i)
      Appendf(&out, "%s{\"ino\":%llu,\"why\":%s}", i ? "," : "",
              (unsigned long long)opts.archive_failures[i].first, JsonString(opts.archive_failures[i].second).c_str());
    Appendf(&out, "]}\n");
    return out;
  }
  Appendf(&out, "store          %s (format v%u, block size %u KiB)\n", s.path().c_str(), s.format_version(),
              s.block_size() >> 10);
  Appendf(&out, "files          %llu (+ %llu directories, %llu other)\n", (unsigned long long)files,
              (unsigned long long)dirs, (unsigned long long)others);
  Appendf(&out, "logical bytes  %s\n", sz(logical).c_str());
  Appendf(&out, "stored bytes   %s (block values and reference segments)\n", sz(stored).c_str());
  Appendf(&out, "disk bytes     %s (RocksDB files, incl. metadata and WAL)\n", sz(disk).c_str());
  Appendf(&out, "ratio          %.3f\n", ratio);
  Appendf(&out, "free space     %s on the store's disk, %s kept free (min_free%s)%s\n", sz(free_bytes).c_str(),
              sz(s.min_free_bytes()).c_str(), opts.mounted ? "=" : ": this command's default; a mount's may differ",
              free_bytes < s.min_free_bytes() ? ": BELOW IT, writes get ENOSPC" : "");
  if (opts.mounted) {
    std::string o;
    for (auto& m : opts.mount_options) o += (o.empty() ? "" : ",") + m;
    Appendf(&out, "mount options  %s\n", o.empty() ? "(defaults)" : o.c_str());
    if (opts.memory_budget_bytes)
      Appendf(&out, "daemon memory  %s resident; budget %s\n", sz(opts.rss_bytes).c_str(),
              opts.memory_budget_text.c_str());
    if (opts.failed_jobs)
      Appendf(&out, "failed jobs    %llu background job(s) threw and were caught (see the journal)\n",
              (unsigned long long)opts.failed_jobs);
  } else {
    Appendf(&out, "mount          not mounted (read here)\n");
  }
  Appendf(&out, "fast tier      %s of file data in %s stored\n", sz(tier[0].raw).c_str(), sz(tier[0].stored).c_str());
  Appendf(&out, "archived tier  %s of file data in %s stored (%llu groups)\n", sz(tier[1].raw).c_str(),
              sz(tier[1].stored).c_str(), (unsigned long long)tier[1].blocks);
  Appendf(&out, "to archive     %s of file data (%s stored) in files marked pending\n", sz(pend_raw).c_str(),
              sz(pend_stored).c_str());
  Appendf(&out, "recall tier    %llu blocks of archived groups kept for reading again: %s of file data in %s stored\n",
          (unsigned long long)recall_entries, sz(recall_raw).c_str(), sz(recall_stored).c_str());
  if (opts.recall_on)
    Appendf(&out, "  this mount   budget %s; %llu hits, %llu misses; %llu written, %llu evicted, %llu dropped (corrupt or stale)\n",
            sz(opts.recall.budget).c_str(), (unsigned long long)opts.recall.hits,
            (unsigned long long)opts.recall.misses, (unsigned long long)opts.recall.written,
            (unsigned long long)opts.recall.evicted, (unsigned long long)opts.recall.dropped);
  else if (opts.mounted)
    Appendf(&out, "  this mount   off (recall_size=0)\n");
  if (!opts.archive_failures.empty()) {
    Appendf(&out, "archive failed %zu file(s), kept in the fast tier until they change:\n",
            opts.archive_failures.size());
    for (auto& [ino, why] : opts.archive_failures)
      Appendf(&out, "  inode %llu: %s\n", (unsigned long long)ino, why.c_str());
  }
  Appendf(&out, "archiver       %llu groups, %llu -> %llu stored bytes, %.2f MB/s per thread (%.1f s busy)\n",
              (unsigned long long)as.groups, (unsigned long long)as.before_bytes,
              (unsigned long long)as.after_bytes, rate, as.busy_s);
  Appendf(&out, "references     %llu objects, %llu segments: %llu bytes of sequence in %llu stored bytes\n",
              (unsigned long long)ref_objects, (unsigned long long)ref_segs, (unsigned long long)ref_raw,
              (unsigned long long)ref_stored);
  Appendf(&out, "  dependent    %llu bytes of file data coded against them in %llu stored bytes,\n"
                "               and %llu bytes of object segments in %llu; about %.0f bytes saved\n"
                "               (priced at the ratio of what this store codes alone, fasta-cm: %.3f)\n",
              (unsigned long long)dep.raw, (unsigned long long)dep.stored, (unsigned long long)dep_segs.raw,
              (unsigned long long)dep_segs.stored, saved, alone_rate > 0 ? 1.0 / alone_rate : 0.0);
  Appendf(&out, "%-22s %10s %16s %16s %8s\n", "tier codec", "blocks", "raw bytes", "stored bytes", "ratio");
  for (auto& [k, pc] : per)
    Appendf(&out, "%-22s %10llu %16llu %16llu %8.3f\n", ((k.first ? "archived " : "fast ") + k.second).c_str(), (unsigned long long)pc.blocks,
                (unsigned long long)pc.raw, (unsigned long long)pc.stored,
                pc.stored ? static_cast<double>(pc.raw) / static_cast<double>(pc.stored) : 0.0);
  if (bad) Appendf(&out, "unreadable block headers: %llu (run pmklc fsck)\n", (unsigned long long)bad);
  return out;
}

Result<std::string> StoreFileReport(Store& s) {
  std::map<uint64_t, std::vector<std::pair<std::string, uint64_t>>> children;
  PMKLC_RETURN_IF_ERROR(s.ForEachDirent([&](uint64_t parent, const DirEntry& e) {
    children[parent].emplace_back(e.name, e.ino);
    return true;
  }));
  std::map<uint64_t, std::string> path;  // regular files (first name found)
  std::map<uint64_t, uint64_t> size, stored;
  PMKLC_RETURN_IF_ERROR(s.ForEachInode([&](const InodeAttr& a) {
    if (S_ISREG(a.mode)) size[a.ino] = a.size;
    return true;
  }));
  std::vector<std::pair<uint64_t, std::string>> todo{{1, ""}};
  std::set<uint64_t> seen_dirs{1};
  while (!todo.empty()) {
    auto [dir, prefix] = todo.back();
    todo.pop_back();
    for (auto& [name, ino] : children[dir]) {
      const std::string p = prefix.empty() ? name : prefix + "/" + name;
      if (children.count(ino) && seen_dirs.insert(ino).second) todo.emplace_back(ino, p);
      if (size.count(ino) && !path.count(ino)) path[ino] = p;
    }
  }
  std::map<std::pair<uint64_t, uint32_t>, uint64_t> seg_size;
  std::set<std::pair<uint64_t, uint64_t>> links;  // (ino, group) of ref-link groups
  PMKLC_RETURN_IF_ERROR(s.ForEachSize([&](char tag, uint64_t a, uint64_t b, uint32_t st, uint32_t, uint8_t codec) {
    if (tag == 's') seg_size[{a, static_cast<uint32_t>(b)}] = st;
    else if (tag == 'b' || tag == 'g') stored[a] += st;  // (not 'r': a recall entry is a cache)
    if (tag == 'g' && codec == static_cast<uint8_t>(CodecId::kRefLink)) links.insert({a, b});
    return true;
  }));
  // A ref-link group's segment (its own former group, now an object's) is
  // counted with the file: read just those few values for their keys.
  std::set<std::pair<uint64_t, uint32_t>> linked;
  for (auto& [ino, g] : links) {
    std::string v;
    std::vector<RefSegmentKey> keys;
    if (!s.GetGroup(ino, g, &v).ok() || !BlockRefs(v, &keys).ok()) continue;
    for (auto& k : keys) {
      auto it = seg_size.find({k.object, k.segment});
      if (it != seg_size.end() && linked.insert(it->first).second) stored[ino] += it->second;
    }
  }
  std::vector<std::pair<std::string, uint64_t>> rows;
  for (auto& [ino, p] : path) rows.emplace_back(p, ino);
  std::sort(rows.begin(), rows.end());
  std::string out;
  Appendf(&out, "%s\t%s\t%s\n", "stored", "size", "path");
  for (auto& [p, ino] : rows)
    Appendf(&out, "%llu\t%llu\t%s\n", (unsigned long long)stored[ino], (unsigned long long)size[ino], p.c_str());
  uint64_t held = 0;
  for (auto& [k, n] : seg_size)
    if (!linked.count(k)) held += n;
  Appendf(&out, "%llu\t-\t(reference segments of deleted files, kept for files coded against them)\n",
          (unsigned long long)held);
  return out;
}

}  // namespace pmklc
