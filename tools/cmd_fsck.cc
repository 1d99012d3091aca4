// pmklc fsck STORE: verifies every block checksum and the inode/dirent graph
// (store/services/fsck.h) and prints what it found.
// Exit 0 when clean, 1 when any problem is found, 2 when the store cannot be read.
#include <cstdio>
#include <string>

#include "store/services/fsck.h"
#include "store/store.h"
#include "tools/commands.h"

namespace pmklc::cli {

int RunFsck(const std::string& path, unsigned threads) {
  StoreOptions o;
  o.create_if_missing = false;
  o.read_only = true;
  auto st = Store::Open(path, o);
  if (!st.ok()) {
    std::fprintf(stderr, "pmklc fsck: %s\n", st.status().ToString().c_str());
    return 2;
  }
  FsckOptions fo;
  fo.threads = threads;
  FsckReport rep;
  Status r = CheckStore(**st, fo, &rep);
  if (!r.ok()) {
    std::fprintf(stderr, "pmklc fsck: %s\n", r.ToString().c_str());
    return 2;
  }
  for (const std::string& p : rep.problems) std::printf("PROBLEM: %s\n", p.c_str());
  if (rep.problem_count > rep.problems.size())
    std::printf("(%llu more problems not listed)\n", (unsigned long long)(rep.problem_count - rep.problems.size()));
  for (const std::string& n : rep.notes) std::printf("note: %s\n", n.c_str());
  for (const std::string& l : rep.objects) std::printf("%s\n", l.c_str());
  if (!rep.damaged.empty()) {
    std::printf("DAMAGED FILES (%zu): their damaged bytes read as EIO, never as wrong bytes; every other file reads normally\n",
                rep.damaged.size());
    for (const auto& d : rep.damaged)
      std::printf("DAMAGED: %s (inode %llu): %zu damaged block(s) or group(s), first: %s\n",
                  d.path.empty() ? "(no name: unlinked)" : d.path.c_str(), (unsigned long long)d.ino, d.what.size(),
                  d.what.front().c_str());
    std::printf("What to do: mount the store and copy each damaged file again from its source or a backup "
                "(cp over it replaces every block); or delete it. Check the disk (smartctl, dmesg): RocksDB "
                "found the damage in its own files.\n");
  }
  std::printf("checked %llu inodes, %llu blocks, %llu archived groups, %llu reference objects (%llu segments), "
              "%llu pending orphans, %llu recall entries (%llu damaged, %llu stale): %s\n",
              (unsigned long long)rep.inodes, (unsigned long long)rep.blocks, (unsigned long long)rep.groups,
              (unsigned long long)rep.reference_objects, (unsigned long long)rep.segments,
              (unsigned long long)rep.pending_orphans, (unsigned long long)rep.recall_entries,
              (unsigned long long)rep.recall_damaged, (unsigned long long)rep.recall_stale,
              rep.problem_count ? (std::to_string(rep.problem_count) + " problem(s)").c_str() : "clean");
  return rep.problem_count ? 1 : 0;
}

}  // namespace pmklc::cli
