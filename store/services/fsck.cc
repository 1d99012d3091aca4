// Checks of a whole store for `pmklc fsck` (store/services/fsck.h).
#include <sys/stat.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>
#include <tuple>
#include <vector>
#include <map>
#include <set>
#include <unordered_map>

#include "engine/codec/codec.h"
#include "engine/format.h"
#include "store/services/archive_refs.h"
#include "store/services/fsck.h"
#include "store/services/recall.h"
#include "store/services/store_models.h"
#include "store/services/store_refs.h"
#include "store/store.h"

namespace pmklc {

namespace {

// Visits every (ino, index, value) of one kind of file data (fast-tier
// blocks, or archived groups of `unit` bytes) with visit: one scan, and if
// RocksDB finds damage that ends the scan (a CRC mismatch in an SST or blob
// file), a problem saying where it stopped, then every index of every
// regular file from the last good key on is read on its own with get, so
// the damage is named index by index (unreadable) and the check goes on.
template <class Scan, class Get, class Visit, class Unreadable, class Problem>
void ScanOrReadEach(const char* what, uint64_t unit, const std::unordered_map<uint64_t, InodeAttr>& inodes,
                    Scan scan, Get get, Visit visit, Unreadable unreadable, Problem problem) {
  bool any = false;
  uint64_t last_ino = 0, last_idx = 0;
  Status r = scan([&](uint64_t ino, uint64_t idx, std::string_view v) {
    any = true;
    last_ino = ino;
    last_idx = idx;
    visit(ino, idx, v);
    return true;
  });
  if (r.ok()) return;
  problem(std::string("the scan of ") + what + "s stopped" +
          (any ? " after inode " + std::to_string(last_ino) + " " + what + " " + std::to_string(last_idx)
               : std::string(" at the start")) +
          ": " + r.ToString() + " (each " + what + " from there on is read on its own)");
  for (auto& [ino, a] : inodes) {
    if (!S_ISREG(a.mode) || (any && ino < last_ino)) continue;
    for (uint64_t idx = 0; idx * unit < a.size; ++idx) {
      if (any && ino == last_ino && idx <= last_idx) continue;
      std::string v;
      Status g = get(ino, idx, &v);
      if (g.IsNotFound()) continue;  // a hole, or in the other tier
      if (!g.ok()) unreadable(ino, "inode " + std::to_string(ino) + " " + what + " " + std::to_string(idx) + ": " + g.ToString());
      else visit(ino, idx, v);
    }
  }
}

}  // namespace

Status CheckStore(Store& s, const FsckOptions& opts, FsckReport* out) {
  *out = FsckReport();
  FsckReport& rep = *out;
  auto problem = [&](const std::string& m) {
    rep.problem_count++;
    if (rep.problems.size() < FsckReport::kMaxListed) rep.problems.push_back(m);
  };

  // The store's models, for the blocks that name them (a missing one makes
  // those blocks fail below, by name).
  if (auto models = LoadStoreModels(&s); !models.ok()) problem(models.status().ToString());

  std::unordered_map<uint64_t, InodeAttr> inodes;
  Status r = s.ForEachInode([&](const InodeAttr& a) { inodes[a.ino] = a; return true; });
  if (!r.ok()) return r;
  std::vector<uint64_t> orphan_list;
  if (Status ls = s.ListOrphans(&orphan_list); !ls.ok()) return ls;
  std::set<uint64_t> orphans(orphan_list.begin(), orphan_list.end());

  std::unordered_map<uint64_t, uint64_t> refs, subdirs;
  // A name of each inode (the first dirent seen), for naming damaged files.
  std::unordered_map<uint64_t, std::pair<uint64_t, std::string>> name_of;
  r = s.ForEachDirent([&](uint64_t parent, const DirEntry& e) {
    name_of.emplace(e.ino, std::make_pair(parent, e.name));
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
  if (!r.ok()) return r;

  // The path of ino inside the mount ("" when it has no name).
  auto path_of = [&](uint64_t ino) {
    std::string path;
    for (int depth = 0; depth < 4096 && ino != format::kRootIno; ++depth) {
      auto n = name_of.find(ino);
      if (n == name_of.end()) return std::string();
      path = "/" + n->second.second + path;
      ino = n->second.first;
    }
    return path.empty() ? std::string("/") : path;
  };
  // Files whose data cannot be read back, with what is wrong (mu guards it
  // once the group workers run).
  std::map<uint64_t, std::vector<std::string>> damaged;
  auto damage = [&](uint64_t ino, const std::string& what) {
    damaged[ino].push_back(what);
    problem(what);
  };

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
  auto check_block = [&](uint64_t ino, uint64_t idx, std::string_view v) {
    blocks++;
    fast_groups.insert({ino, idx / gb});
    std::string where = "inode " + std::to_string(ino) + " block " + std::to_string(idx);
    auto it = inodes.find(ino);
    if (it == inodes.end()) { problem(where + ": block of a missing inode"); return; }
    Status d = DecodeBlock(v, &raw);
    if (!d.ok()) { damage(ino, where + ": " + d.ToString()); return; }
    uint64_t start = idx * static_cast<uint64_t>(bs);
    if (!S_ISREG(it->second.mode)) problem(where + ": data block of a non-regular file");
    else if (raw.size() > bs) damage(ino, where + ": longer than the block size");
    else if (start + raw.size() > it->second.size) damage(ino, where + ": extends past the file size");
  };
  ScanOrReadEach(
      "block", bs, inodes, [&](const auto& fn) { return s.ForEachBlock(fn); },
      [&](uint64_t ino, uint64_t idx, std::string* v) { return s.GetBlock(ino, idx, v); },
      [&](uint64_t ino, uint64_t idx, std::string_view v) { check_block(ino, idx, v); }, damage, problem);

  // Archived groups: checksum, bounds, and never alongside fast-tier blocks.
  // Context-mixed groups decode at a few MB/s, so `threads` workers decode
  // them while this thread scans (a bounded queue keeps memory small).
  // References (docs/store.md §References): every dependency a stored block
  // names must have its object, its segment (same checksum) and a hold by
  // the block's owner; the holds per object are its reference count.
  StoreRefs segs(&s, size_t{512} << 20);
  std::mutex mu;
  std::set<std::tuple<uint8_t, uint64_t, uint64_t>> holds;  // (kind, holder, object)
  std::map<uint64_t, RefObjectRecord> objects;
  std::map<uint64_t, uint64_t> needed;  // object -> blocks depending on it
  r = s.ForEachHold([&](uint8_t kind, uint64_t holder, uint64_t object) {
    holds.insert({kind, holder, object});
    return true;
  });
  if (r.ok()) r = s.ForEachRefObject([&](uint64_t id, std::string_view v) {
    auto rec = RefObjectRecord::Parse(v);
    if (!rec.ok()) {
      problem("reference object " + std::to_string(id) + ": " + rec.status().ToString());
      return true;
    }
    if (auto sk = ref::Sketch::Parse(rec->sketch); !sk.ok())
      problem("reference object " + std::to_string(id) + ": " + sk.status().ToString());
    objects[id] = *rec;
    return true;
  });
  // Sketches: each belongs to a live inode and parses. (A damaged one costs
  // no data, only ratio: the archiver skips it.)
  if (r.ok()) r = s.ForEachSketch([&](uint64_t ino, std::string_view v) {
    if (!inodes.count(ino)) problem("sketch of missing inode " + std::to_string(ino));
    else if (auto f = ParseSketchRecord(v); !f.ok())
      problem("sketch of inode " + std::to_string(ino) + ": " + f.status().ToString());
    return true;
  });
  if (!r.ok()) problem("the scan of holds, reference objects and sketches stopped: " + r.ToString());
  r = Status::OK();
  // Every segment's checksum (from its header) and its own dependencies, in
  // one scan; segments are decoded afterwards, each once.
  std::map<std::pair<uint64_t, uint32_t>, uint64_t> seg_checksum;
  std::vector<std::pair<RefSegmentKey, std::vector<RefSegmentKey>>> seg_deps;  // the segment, what it names
  uint64_t segments = 0;
  r = s.ForEachRefSegment([&](uint64_t id, uint32_t seg, std::string_view v) {
    ++segments;
    const std::string where = "reference object " + std::to_string(id) + " segment " + std::to_string(seg);
    auto o = objects.find(id);
    if (o == objects.end()) { problem(where + ": segment of a missing object"); return true; }
    if (seg >= o->second.segments) problem(where + ": beyond the object's " + std::to_string(o->second.segments));
    auto h = ParseBlockHeader(v);
    if (!h.ok()) { problem(where + ": " + h.status().ToString()); return true; }
    std::vector<RefSegmentKey> deps;
    Status d = BlockRefs(v, &deps);
    if (!d.ok()) { problem(where + ": " + d.ToString()); return true; }
    seg_checksum[{id, seg}] = h->checksum;
    seg_deps.emplace_back(RefSegmentKey{id, seg, h->checksum}, std::move(deps));
    return true;
  });
  if (!r.ok()) problem("the scan of reference segments stopped: " + r.ToString() + " (blocks that depend on the segments after it fail below)");
  r = Status::OK();
  // Checks the dependencies of a block held by (kind, holder); mu held.
  std::set<std::tuple<uint8_t, uint64_t, uint64_t>> used;  // holds some block needs
  auto check_deps = [&](const std::vector<RefSegmentKey>& deps, uint8_t kind, uint64_t holder, const std::string& where) {
    for (const RefSegmentKey& k : deps) {
      needed[k.object]++;
      used.insert({kind, holder, k.object});
      const std::string ref = where + ": depends on reference object " + std::to_string(k.object);
      if (!objects.count(k.object)) { problem(ref + ", which does not exist"); continue; }
      if (!holds.count({kind, holder, k.object})) problem(ref + " without a hold on it (reference count too low)");
      auto c = seg_checksum.find({k.object, k.segment});
      if (c == seg_checksum.end()) problem(ref + " segment " + std::to_string(k.segment) + ", which does not exist");
      else if (c->second != k.checksum) problem(ref + " segment " + std::to_string(k.segment) + ": checksum differs");
    }
  };
  for (auto& [key, deps] : seg_deps) {
    const std::string where = "reference object " + std::to_string(key.object) + " segment " + std::to_string(key.segment);
    check_deps(deps, Store::kHoldObject, key.object, where);
    auto got = segs.Get(key);
    if (!got.ok()) problem(where + ": " + got.status().ToString());
  }
  // Every segment an object record counts exists (a block that names a
  // missing one is reported above; this finds those no block names yet).
  for (auto& [id, rec] : objects)
    for (uint32_t seg = 0; seg < rec.segments; ++seg)
      if (!seg_checksum.count({id, seg}))
        problem("reference object " + std::to_string(id) + " segment " + std::to_string(seg) + " is missing");
  // Every hold: a known kind, an existing holder and an existing object. (A
  // hold whose holder is gone would keep its object forever.)
  for (auto& [kind, holder, object] : holds) {
    if (kind != Store::kHoldFile && kind != Store::kHoldObject) {
      problem("hold of unknown kind " + std::to_string(kind) + " by " + std::to_string(holder) +
              " on reference object " + std::to_string(object));
      continue;
    }
    if (!objects.count(object)) problem("hold of " + std::string(kind ? "object " : "inode ") + std::to_string(holder) +
                                        " on missing reference object " + std::to_string(object));
    if (kind == Store::kHoldFile && !inodes.count(holder))
      problem("hold of missing inode " + std::to_string(holder) + " on reference object " + std::to_string(object));
    if (kind == Store::kHoldObject && !objects.count(holder))
      problem("hold of missing reference object " + std::to_string(holder) + " on reference object " +
              std::to_string(object));
  }

  std::condition_variable cv;
  std::deque<std::tuple<uint64_t, uint64_t, std::string>> queue;
  bool scan_done = false;
  auto check_group = [&](uint64_t ino, uint64_t g, const std::string& v, std::string* out) {
    std::string where = "inode " + std::to_string(ino) + " archived group " + std::to_string(g);
    std::vector<std::string> found, found_damage;
    auto it = inodes.find(ino);
    if (it == inodes.end()) {
      found.push_back(where + ": group of a missing inode");
    } else {
      if (fast_groups.count({ino, g})) found.push_back(where + ": also has fast-tier blocks in its range");
      std::vector<RefSegmentKey> deps;
      Status refs_ok = BlockRefs(v, &deps);
      if (!refs_ok.ok()) found.push_back(where + ": " + refs_ok.ToString());
      {
        std::lock_guard<std::mutex> l(mu);
        check_deps(deps, Store::kHoldFile, ino, where);
      }
      segs.Prefetch(deps);
      Status d = DecodeBlock(v, out, nullptr, &segs);
      const uint64_t start = g * gb * bs;
      if (!d.ok()) found_damage.push_back(where + ": " + d.ToString());
      else if (!S_ISREG(it->second.mode)) found.push_back(where + ": data of a non-regular file");
      else if (out->size() > gb * bs) found.push_back(where + ": longer than the group size");
      else if (start + out->size() > it->second.size) found.push_back(where + ": extends past the file size");
    }
    std::lock_guard<std::mutex> l(mu);
    for (auto& m : found) problem(m);
    for (auto& m : found_damage) damage(ino, m);
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
  for (unsigned t = 0; t < std::max(1u, opts.threads); ++t) pool.emplace_back(worker);
  auto enqueue = [&](uint64_t ino, uint64_t g, std::string_view v) {
    std::unique_lock<std::mutex> l(mu);
    cv.wait(l, [&] { return queue.size() < 2 * pool.size(); });
    queue.emplace_back(ino, g, std::string(v));
    groups++;
    l.unlock();
    cv.notify_all();
  };
  ScanOrReadEach(
      "archived group", gb * bs, inodes, [&](const auto& fn) { return s.ForEachGroup(fn); },
      [&](uint64_t ino, uint64_t g, std::string* v) { return s.GetGroup(ino, g, v); }, enqueue,
      [&](uint64_t ino, const std::string& m) {
        std::lock_guard<std::mutex> l(mu);
        damage(ino, m);
      },
      [&](const std::string& m) {
        std::lock_guard<std::mutex> l(mu);
        problem(m);
      });
  {
    std::lock_guard<std::mutex> l(mu);
    scan_done = true;
  }
  cv.notify_all();
  for (auto& t : pool) t.join();

  // Recall entries: each must decode (its block value's own checksum) and
  // name its group's current version (else it is stale: a read drops it).
  {
    const uint64_t gblocks = s.group_blocks();
    Status rs = s.ForEachRecall([&](uint64_t ino, uint64_t idx, std::string_view v) {
      rep.recall_entries++;
      std::string_view fast;
      uint64_t sum = 0;
      std::string raw;
      Status es = Recall::SplitValue(v, &fast, &sum);
      if (es.ok()) es = DecodeBlock(fast, &raw);
      char line[320];
      if (!es.ok()) {
        rep.recall_damaged++;
        std::snprintf(line, sizeof line,
                      "recall entry of inode %llu block %llu is damaged (%s): never served; a read drops it and "
                      "decodes the archived group",
                      (unsigned long long)ino, (unsigned long long)idx, es.ToString().c_str());
        rep.notes.push_back(line);
        return true;
      }
      auto version = s.GetRecallVersion(ino, idx / gblocks);
      if (!version.ok() || *version != sum) {
        rep.recall_stale++;
        std::snprintf(line, sizeof line,
                      "recall entry of inode %llu block %llu is stale (its group changed or is gone): space only; "
                      "a read drops it",
                      (unsigned long long)ino, (unsigned long long)idx);
        rep.notes.push_back(line);
      }
      return true;
    });
    if (!rs.ok()) problem("recall tier: " + rs.ToString());
  }

  // Reference counts: holds per object against the blocks that need it. A
  // file's hold no block of it needs (kept after an overwrite until a pass
  // recodes the file) costs space only: a note, not a problem.
  std::map<uint64_t, uint64_t> count;
  for (auto& [kind, holder, object] : holds) {
    count[object]++;
    if (kind == Store::kHoldFile && inodes.count(holder) && objects.count(object) && !used.count({kind, holder, object})) {
      char line[256];
      std::snprintf(line, sizeof line,
                    "inode %llu holds reference object %016llx, which none of its blocks needs (space only; "
                    "the archiver drops the hold when it next recodes the file)",
                    (unsigned long long)holder, (unsigned long long)object);
      rep.notes.push_back(line);
    }
  }
  for (auto& [id, rec] : objects) {
    const uint64_t c = count.count(id) ? count[id] : 0;
    char line[256];
    std::snprintf(line, sizeof line, "reference object %016llx: %u segments, depth %u, %llu holds, %llu dependent blocks%s",
                  (unsigned long long)id, rec.segments, rec.depth, (unsigned long long)c,
                  (unsigned long long)(needed.count(id) ? needed[id] : 0),
                  c == 0 ? " (held by nothing: the archiver deletes it at its next pass)" : "");
    rep.objects.push_back(line);
  }
  for (auto& [ino, what] : damaged) rep.damaged.push_back({ino, path_of(ino), what});
  rep.inodes = inodes.size();
  rep.blocks = blocks;
  rep.groups = groups;
  rep.reference_objects = objects.size();
  rep.segments = segments;
  rep.pending_orphans = orphans.size();
  return Status::OK();
}

}  // namespace pmklc
