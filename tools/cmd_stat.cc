// pmklc stat STORE: files, logical bytes, stored bytes, ratio, bytes per codec.
#include <sys/stat.h>

#include <cstdio>
#include <map>

#include "engine/codec/codec.h"
#include "store/store.h"
#include "tools/commands.h"

namespace pmklc::cli {

int RunStat(const std::string& path, bool json) {
  StoreOptions o;
  o.create_if_missing = false;
  o.read_only = true;
  auto st = Store::Open(path, o);
  if (!st.ok()) {
    std::fprintf(stderr, "pmklc stat: %s\n", st.status().ToString().c_str());
    return 1;
  }
  Store& s = **st;
  uint64_t files = 0, dirs = 0, others = 0, logical = 0;
  Status r = s.ForEachInode([&](const InodeAttr& a) {
    if (S_ISREG(a.mode)) { files++; logical += a.size; }
    else if (S_ISDIR(a.mode)) dirs++;
    else others++;
    return true;
  });
  struct PerCodec { uint64_t blocks = 0, raw = 0, stored = 0; };
  std::map<std::string, PerCodec> per;
  uint64_t stored = 0, bad = 0;
  Status b = s.ForEachBlock([&](uint64_t, uint64_t, std::string_view v) {
    auto h = ParseBlockHeader(v);
    if (!h.ok()) { bad++; return true; }
    const char* n = CodecName(h->codec);
    auto& pc = per[n ? n : "unknown"];
    pc.blocks++;
    pc.raw += h->raw_len;
    pc.stored += v.size();
    stored += v.size();
    return true;
  });
  if (!r.ok() || !b.ok()) {
    std::fprintf(stderr, "pmklc stat: %s\n", (!r.ok() ? r : b).ToString().c_str());
    return 1;
  }
  uint64_t disk = s.DiskBytes();
  double ratio = stored ? static_cast<double>(logical) / static_cast<double>(stored) : 0.0;
  if (json) {
    std::printf("{\"files\":%llu,\"dirs\":%llu,\"other\":%llu,\"logical_bytes\":%llu,"
                "\"stored_bytes\":%llu,\"disk_bytes\":%llu,\"ratio\":%.4f,\"codecs\":{",
                (unsigned long long)files, (unsigned long long)dirs, (unsigned long long)others,
                (unsigned long long)logical, (unsigned long long)stored, (unsigned long long)disk, ratio);
    bool first = true;
    for (auto& [n, pc] : per) {
      std::printf("%s\"%s\":{\"blocks\":%llu,\"raw_bytes\":%llu,\"stored_bytes\":%llu}",
                  first ? "" : ",", n.c_str(), (unsigned long long)pc.blocks,
                  (unsigned long long)pc.raw, (unsigned long long)pc.stored);
      first = false;
    }
    std::printf("}}\n");
    return 0;
  }
  std::printf("store          %s (format v%u, block size %u KiB)\n", path.c_str(), s.format_version(),
              s.block_size() >> 10);
  std::printf("files          %llu (+ %llu directories, %llu other)\n", (unsigned long long)files,
              (unsigned long long)dirs, (unsigned long long)others);
  std::printf("logical bytes  %llu\n", (unsigned long long)logical);
  std::printf("stored bytes   %llu (block values)\n", (unsigned long long)stored);
  std::printf("disk bytes     %llu (RocksDB files, incl. metadata and WAL)\n", (unsigned long long)disk);
  std::printf("ratio          %.3f\n", ratio);
  std::printf("%-10s %10s %16s %16s %8s\n", "codec", "blocks", "raw bytes", "stored bytes", "ratio");
  for (auto& [n, pc] : per)
    std::printf("%-10s %10llu %16llu %16llu %8.3f\n", n.c_str(), (unsigned long long)pc.blocks,
                (unsigned long long)pc.raw, (unsigned long long)pc.stored,
                pc.stored ? static_cast<double>(pc.raw) / static_cast<double>(pc.stored) : 0.0);
  if (bad) std::printf("unreadable block headers: %llu (run pmklc fsck)\n", (unsigned long long)bad);
  return 0;
}

}  // namespace pmklc::cli
