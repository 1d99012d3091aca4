// pmklc fsck STORE: verifies every block checksum and the inode/dirent graph.
// Exit 0 when clean, 1 when any problem is found, 2 when the store cannot be read.
#include <sys/stat.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>
#include <tuple>
#include <vector>
#include <set>
#include <unordered_map>

#include "engine/codec/codec.h"
#include "engine/format.h"
#include "fs/store_models.h"
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
  Store& s = **st;
  uint64_t problems = 0;
  auto problem = [&](const std::string& m) {
    problems++;
    if (problems <= 1000) std::printf("PROBLEM: %s\n", m.c_str());
  };

  // The store's models, for the blocks that name them (a missing one makes
  // those blocks fail below, by name).
  if (auto models = LoadStoreModels(&s); !models.ok()) problem(models.status().ToString());

  std::unordered_map<uint64_t, InodeAttr> inodes;
  Status r = s.ForEachInode([&](const InodeAttr& a) { inodes[a.ino] = a; return true; });
  if (!r.ok()) { std::fprintf(stderr, "pmklc fsck: %s\n", r.ToString().c_str()); return 2; }
  std::vector<uint64_t> orphan_list;
  if (!s.ListOrphans(&orphan_list).ok()) return 2;
  std::set<uint64_t> orphans(orphan_list.begin(), orphan_list.end());

  std::unordered_map<uint64_t, uint64_t> refs, subdirs;
  r = s.ForEachDirent([&](uint64_t parent, const DirEntry& e) {
    auto p = inodes.find(parent);
    if (p == inodes.end()) problem("dirent '" + e.name + "' in missing directory " + std::to_string(parent));
    else if (!S_ISDIR(p->second.mode)) problem("dirent '" + e.name + "' in non-directory " + std::to_string(parent));
    auto c = inodes.find(e.ino);
    if (c == inodes.end()) {
      problem("dirent '" + e.name + "' in " + std::to_string(parent) + " points to missing inode " + std::to_string(e.ino));
      return true;
    }
    if ((c->second.mode & S_IFMT) != e.type) problem("dirent '" + e.name + "' type differs from inode " + std::to_string(e.ino));
    refs[e.ino]++;
    if (S_ISDIR(c->second.mode)) {
      subdirs[parent]++;
      if (c->second.parent != parent) problem("directory " + std::to_string(e.ino) + " has parent field " + std::to_string(c->second.parent) + " but lives in " + std::to_string(parent));
    }
    return true;
  });
  if (!r.ok()) { std::fprintf(stderr, "pmklc fsck: %s\n", r.ToString().c_str()); return 2; }

  if (!inodes.count(format::kRootIno)) problem("root directory inode is missing");
  for (auto& [ino, a] : inodes) {
    if (ino == format::kRootIno) continue;
    uint64_t n = refs.count(ino) ? refs[ino] : 0;
    if (n == 0) {
      if (orphans.count(ino)) continue;  // unlinked while open; purged at next mount
      problem("orphan inode " + std::to_string(ino) + " (no directory entry)");
      continue;
    }
    if (S_ISDIR(a.mode)) {
      if (n != 1) problem("directory " + std::to_string(ino) + " has " + std::to_string(n) + " entries");
      uint64_t want = 2 + (subdirs.count(ino) ? subdirs[ino] : 0);
      if (a.nlink != want) problem("directory " + std::to_string(ino) + " nlink " + std::to_string(a.nlink) + ", expected " + std::to_string(want));
    } else if (a.nlink != n) {
      problem("inode " + std::to_string(ino) + " nlink " + std::to_string(a.nlink) + ", but " + std::to_string(n) + " entries");
    }
  }
  if (inodes.count(format::kRootIno)) {
    uint64_t want = 2 + (subdirs.count(format::kRootIno) ? subdirs[format::kRootIno] : 0);
    if (inodes[format::kRootIno].nlink != want) problem("root nlink " + std::to_string(inodes[format::kRootIno].nlink) + ", expected " + std::to_string(want));
  }

  uint64_t blocks = 0, groups = 0;
  const uint32_t bs = s.block_size();
  const uint64_t gb = s.group_blocks();
  std::set<std::pair<uint64_t, uint64_t>> fast_groups;  // (ino, group) with fast-tier blocks
  std::string raw;
  r = s.ForEachBlock([&](uint64_t ino, uint64_t idx, std::string_view v) {
    blocks++;
    fast_groups.insert({ino, idx / gb});
    std::string where = "inode " + std::to_string(ino) + " block " + std::to_string(idx);
    auto it = inodes.find(ino);
    if (it == inodes.end()) { problem(where + ": block of a missing inode"); return true; }
    Status d = DecodeBlock(v, &raw);
    if (!d.ok()) { problem(where + ": " + d.ToString()); return true; }
    uint64_t start = idx * static_cast<uint64_t>(bs);
    if (!S_ISREG(it->second.mode)) problem(where + ": data block of a non-regular file");
    else if (raw.size() > bs) problem(where + ": longer than the block size");
    else if (start + raw.size() > it->second.size) problem(where + ": extends past the file size");
    return true;
  });
  if (!r.ok()) { std::fprintf(stderr, "pmklc fsck: %s\n", r.ToString().c_str()); return 2; }

  // Archived groups: checksum, bounds, and never alongside fast-tier blocks.
  // Context-mixed groups decode at a few MB/s, so `threads` workers decode
  // them while this thread scans (a bounded queue keeps memory small).
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::tuple<uint64_t, uint64_t, std::string>> queue;
  bool scan_done = false;
  auto check_group = [&](uint64_t ino, uint64_t g, const std::string& v, std::string* out) {
    std::string where = "inode " + std::to_string(ino) + " archived group " + std::to_string(g);
    std::vector<std::string> found;
    auto it = inodes.find(ino);
    if (it == inodes.end()) {
      found.push_back(where + ": group of a missing inode");
    } else {
      if (fast_groups.count({ino, g})) found.push_back(where + ": also has fast-tier blocks in its range");
      Status d = DecodeBlock(v, out);
      const uint64_t start = g * gb * bs;
      if (!d.ok()) found.push_back(where + ": " + d.ToString());
      else if (!S_ISREG(it->second.mode)) found.push_back(where + ": data of a non-regular file");
      else if (out->size() > gb * bs) found.push_back(where + ": longer than the group size");
      else if (start + out->size() > it->second.size) found.push_back(where + ": extends past the file size");
    }
    std::lock_guard<std::mutex> l(mu);
    for (auto& m : found) problem(m);
  };
  auto worker = [&] {
    std::string out;
    for (;;) {
      std::tuple<uint64_t, uint64_t, std::string> item;
      {
        std::unique_lock<std::mutex> l(mu);
        cv.wait(l, [&] { return !queue.empty() || scan_done; });
        if (queue.empty()) return;
        item = std::move(queue.front());
        queue.pop_front();
      }
      cv.notify_all();
      check_group(std::get<0>(item), std::get<1>(item), std::get<2>(item), &out);
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < std::max(1u, threads); ++t) pool.emplace_back(worker);
  r = s.ForEachGroup([&](uint64_t ino, uint64_t g, std::string_view v) {
    std::unique_lock<std::mutex> l(mu);
    cv.wait(l, [&] { return queue.size() < 2 * pool.size(); });
    queue.emplace_back(ino, g, std::string(v));
    groups++;
    l.unlock();
    cv.notify_all();
    return true;
  });
  {
    std::lock_guard<std::mutex> l(mu);
    scan_done = true;
  }
  cv.notify_all();
  for (auto& t : pool) t.join();
  if (!r.ok()) { std::fprintf(stderr, "pmklc fsck: %s\n", r.ToString().c_str()); return 2; }

  std::printf("checked %zu inodes, %llu blocks, %llu archived groups, %zu pending orphans: %s\n", inodes.size(),
              (unsigned long long)blocks, (unsigned long long)groups, orphans.size(),
              problems ? (std::to_string(problems) + " problem(s)").c_str() : "clean");
  return problems ? 1 : 0;
}

}  // namespace pmklc::cli
