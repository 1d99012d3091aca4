#include "store/services/archive_refs.h"

#include <spdlog/spdlog.h>
#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "engine/codec/endian.h"
#include "store/services/archiver.h"

namespace pmklc {

namespace {

// A file's sketch record: version, depth, then the sketch.
constexpr uint8_t kSketchRecordVersion = 1;
using ref::kMaxCandidates;
using ref::kRelatedJaccard;

}  // namespace

// ---- RefPlanner ----------------------------------------------------------------

struct RefPlanner::Candidate {
  double jaccard = 0;
  uint8_t depth = 0;
  uint64_t object = 0;  // an existing object, or (after Promote) the file's new one
  uint64_t ino = 0;     // a file not yet promoted (0 for objects)
  uint64_t size = 0;
  ref::Sketch sketch;
  std::vector<std::string> values;  // the file's archived group values
  std::vector<RefSegmentKey> deps;  // what those values depend on
  std::vector<RefSegmentKey> keys;  // one per segment (objects: known; files: after Promote)
  std::vector<std::shared_ptr<const RefSegment>> segs;
};

RefPlanner::RefPlanner(Store* store, ArchiveHost* host, StoreRefs* refs, RefPlanOptions opts)
    : store_(store), host_(host), refs_(refs), opts_(opts) {
  opts_.max_segments = std::clamp<uint32_t>(opts_.max_segments, 1, format::kMaxBlockRefs);
  opts_.max_depth = std::clamp<uint32_t>(opts_.max_depth, 1, 2);
}

Result<bool> RefPlanner::HasFastTierBlocks(uint64_t ino) {
  bool any = false;
  PMKLC_RETURN_IF_ERROR(store_->ForEachBlockOf(ino, [&](uint64_t, std::string_view) {
    any = true;
    return false;
  }));
  return any;
}

Result<FileSketch> ParseSketchRecord(std::string_view record) {
  if (record.size() < 2 || static_cast<uint8_t>(record[0]) != kSketchRecordVersion)
    return Status::Corruption("sketch record: unknown version or truncated");
  FileSketch f;
  f.depth = static_cast<uint8_t>(record[1]);
  auto sk = ref::Sketch::Parse(record.substr(2));
  if (!sk.ok()) return sk.status();
  f.sketch = std::move(*sk);
  return f;
}

std::string RefPlanner::SketchRecord(const RefPlan& plan) const {
  if (!plan.sketched || plan.depth >= opts_.max_depth) return {};
  std::string r(2, '\0');
  r[0] = static_cast<char>(kSketchRecordVersion);
  r[1] = static_cast<char>(plan.depth);
  return r + plan.sketch.Serialize();
}

Status RefPlanner::LoadCandidate(Candidate* c) {
  if (c->ino == 0) {
    std::string rec;
    PMKLC_RETURN_IF_ERROR(store_->GetRefObject(c->object, &rec));
    auto r = RefObjectRecord::Parse(rec);
    if (!r.ok()) return r.status();
    for (uint32_t s = 0; s < r->segments; ++s) {
      std::string v;
      PMKLC_RETURN_IF_ERROR(store_->GetRefSegment(c->object, s, &v));
      auto h = ParseBlockHeader(v);
      if (!h.ok()) return h.status();
      c->keys.push_back({c->object, s, h->checksum});
    }
    refs_->Prefetch(c->keys);
    for (const RefSegmentKey& k : c->keys) {
      auto seg = refs_->Get(k);
      if (!seg.ok()) return seg.status();
      c->segs.push_back(*seg);
    }
    return Status::OK();
  }
  // A file: every byte in archived groups 0..n-1, none in the fast tier.
  auto a = store_->GetInode(c->ino);
  if (!a.ok()) return a.status();
  c->size = a->size;
  // The same bound as for the file being planned: a candidate is decoded
  // whole (its sketch may date from when it was smaller).
  if (c->size > kMaxFileBytes) return Status::Busy("larger than a reference may be");
  auto fast = HasFastTierBlocks(c->ino);
  if (!fast.ok()) return fast.status();
  if (*fast) return Status::Busy("has fast-tier blocks");
  const uint64_t gbytes = uint64_t{store_->group_blocks()} * store_->block_size();
  const uint64_t n = (c->size + gbytes - 1) / gbytes;
  Status bad;
  PMKLC_RETURN_IF_ERROR(store_->ForEachGroupOf(c->ino, [&](uint64_t g, std::string_view v) {
    if (g != c->values.size()) {
      bad = Status::Busy("has holes");
      return false;
    }
    c->values.emplace_back(v);
    return true;
  }));
  PMKLC_RETURN_IF_ERROR(bad);
  if (c->values.size() != n || n == 0) return Status::Busy("not wholly archived");
  std::vector<RefSegmentKey> deps;
  for (const std::string& v : c->values) {
    PMKLC_RETURN_IF_ERROR(BlockRefs(v, &deps));
    c->deps.insert(c->deps.end(), deps.begin(), deps.end());
  }
  // Its depth from what its groups depend on now, not from its sketch
  // record: the record is only rewritten when a pass codes the whole file,
  // so after an overwrite and a partial recode it may be stale, and an
  // object must never claim less depth than its segments have (the reader
  // rejects that as a damaged store).
  c->depth = 0;
  std::set<uint64_t> dep_objects;  // each record once (groups name the same objects)
  for (const RefSegmentKey& d : c->deps) dep_objects.insert(d.object);
  for (uint64_t object : dep_objects) {
    std::string rec;
    PMKLC_RETURN_IF_ERROR(store_->GetRefObject(object, &rec));
    auto r = RefObjectRecord::Parse(rec);
    if (!r.ok()) return r.status();
    c->depth = std::max<uint8_t>(c->depth, static_cast<uint8_t>(r->depth + 1));
  }
  if (c->depth >= opts_.max_depth) return Status::Busy("too deep to be a reference");
  refs_->Prefetch(c->deps);
  for (const std::string& v : c->values) {
    auto seg = std::make_shared<RefSegment>();
    PMKLC_RETURN_IF_ERROR(DecodeBlock(v, &seg->raw, nullptr, refs_));
    seg->codes = NucleotideCodes(seg->raw);
    c->segs.push_back(std::move(seg));
  }
  return Status::OK();
}

Status RefPlanner::Promote(Candidate* c) {
  // The object's id: a hash of its segments' checksums and lengths, so the
  // same content promoted twice is one object.
  std::string ident;
  std::vector<BlockHeader> hs;
  for (const std::string& v : c->values) {
    auto h = ParseBlockHeader(v);
    if (!h.ok()) return h.status();
    hs.push_back(*h);
    char b[12];
    StoreLE64(b, h->checksum);
    StoreLE32(b + 8, h->raw_len);
    ident.append(b, 12);
  }
  uint64_t id = XXH3_64bits(ident.data(), ident.size());
  if (id == 0) id = 1;
  std::string existing;
  Status got = store_->GetRefObject(id, &existing);
  if (!got.ok() && !got.IsNotFound()) return got;
  const bool exists = got.ok();
  if (exists) {  // the same content promoted before: its record's depth counts
    auto er = RefObjectRecord::Parse(existing);
    if (!er.ok()) return er.status();
    if (er->depth >= opts_.max_depth) return Status::Busy("its content is already an object too deep to use");
    c->depth = std::max(c->depth, er->depth);
  }
  RefObjectRecord rec;
  rec.depth = c->depth;
  rec.segments = static_cast<uint32_t>(c->values.size());
  for (auto& s : c->segs) rec.bases += s->codes.size(), rec.raw_bytes += s->raw.size();
  rec.source_ino = c->ino;
  rec.sketch = c->sketch.Serialize();
  Status s = host_->Commit(c->ino, [&](const InodeAttr& a, Store::Batch* b) {
    if (a.size != c->size) return Status::Busy("size changed");
    auto fast = HasFastTierBlocks(c->ino);
    if (!fast.ok()) return fast.status();
    if (*fast) return Status::Busy("written meanwhile");
    size_t n = 0;
    bool same = true;
    PMKLC_RETURN_IF_ERROR(store_->ForEachGroupOf(c->ino, [&](uint64_t g, std::string_view v) {
      same = g == n && n < c->values.size() && v == c->values[n];
      ++n;
      return same;
    }));
    if (!same || n != c->values.size()) return Status::Busy("groups changed");
    if (!exists) {
      b->PutRefObject(id, rec.Serialize());
      for (size_t i = 0; i < c->values.size(); ++i) b->PutRefSegment(id, static_cast<uint32_t>(i), c->values[i]);
      for (const RefSegmentKey& d : c->deps) b->PutHold(Store::kHoldObject, id, d.object);
    }
    for (size_t i = 0; i < c->values.size(); ++i)
      b->PutGroup(c->ino, i, RefLinkValue({id, static_cast<uint32_t>(i), hs[i].checksum}, hs[i].raw_len));
    b->PutHold(Store::kHoldFile, c->ino, id);
    b->DeleteSketch(c->ino);
    return Status::OK();
  });
  PMKLC_RETURN_IF_ERROR(s);
  c->object = id;
  for (size_t i = 0; i < c->values.size(); ++i) {
    c->keys.push_back({id, static_cast<uint32_t>(i), hs[i].checksum});
    refs_->Seed(c->keys.back(), c->segs[i]);
  }
  spdlog::info("archiver: inode {} is now reference object {:016x} ({} segments)", c->ino, id, c->values.size());
  return Status::OK();
}

Result<bool> RefPlanner::ScanPending(uint64_t ino, uint64_t size, const std::vector<uint64_t>& groups,
                                     ref::Sketch* sketch,
                                     const std::function<void(uint64_t group, std::string&& codes)>& fn) {
  if (size == 0 || size > kMaxFileBytes || groups.empty()) return false;
  bool archived = false;
  PMKLC_RETURN_IF_ERROR(store_->ForEachGroupOf(ino, [&](uint64_t, std::string_view) {
    archived = true;
    return false;
  }));
  if (archived) return false;  // partly archived already: the rest is coded alone
  // Only nucleotide FASTA is worth reading whole: its first block says.
  bool fasta = false;
  PMKLC_RETURN_IF_ERROR(store_->ForEachBlockOf(ino, [&](uint64_t, std::string_view v) {
    auto h = ParseBlockHeader(v);
    fasta = h.ok() && IsNucleotideFastaCodec(h->codec);
    return false;
  }));
  if (!fasta) return false;
  // Group by group (blocks come in order): the group's bytes (holes are
  // zeros), then its nucleotide codes, which the sketch and fn get.
  const uint64_t bs = store_->block_size();
  const uint64_t gbytes = uint64_t{store_->group_blocks()} * bs;
  ref::SketchBuilder sb;
  size_t n = 0;
  std::string raw, img;
  uint64_t cur = 0;
  bool have = false;
  auto flush = [&] {
    if (!have) return;
    std::string gc = NucleotideCodes(raw);
    sb.Add(gc);
    n += gc.size();
    if (fn) fn(cur, std::move(gc));
  };
  Status bad;
  PMKLC_RETURN_IF_ERROR(store_->ForEachBlockOf(ino, [&](uint64_t idx, std::string_view v) {
    bad = DecodeBlock(v, &img);
    if (bad.ok() && idx * bs + img.size() > size) bad = Status::Corruption("block past the end of the file");
    if (!bad.ok()) return false;
    if (!have || idx * bs / gbytes != cur) {
      flush();
      cur = idx * bs / gbytes;
      have = true;
      raw.assign(std::min(gbytes, size - cur * gbytes), '\0');
    }
    std::memcpy(raw.data() + (idx * bs - cur * gbytes), img.data(), img.size());
    return true;
  }));
  PMKLC_RETURN_IF_ERROR(bad);
  flush();
  if (!ref::IsGenome(n, size)) return false;
  *sketch = sb.Finish();
  return true;
}

Result<std::optional<ref::Sketch>> RefPlanner::PendingSketch(uint64_t ino, uint64_t size,
                                                             const std::vector<uint64_t>& groups) {
  ref::Sketch sk;
  auto ok = ScanPending(ino, size, groups, &sk, nullptr);
  if (!ok.ok()) return ok.status();
  if (!*ok) return std::optional<ref::Sketch>();
  return std::optional<ref::Sketch>(std::move(sk));
}

Result<std::vector<RefPlanner::PlanStep>> RefPlanner::PlanningOrder(const std::vector<PendingFile>& pending) {
  std::set<uint64_t> pending_inos;
  for (const PendingFile& f : pending) pending_inos.insert(f.ino);
  // Files others can still build on: objects and sketched files whose chain
  // leaves room (the candidates Plan would consider).
  std::vector<ref::Sketch> usable;
  PMKLC_RETURN_IF_ERROR(store_->ForEachRefObject([&](uint64_t, std::string_view v) {
    auto r = RefObjectRecord::Parse(v);
    if (!r.ok() || r->depth >= opts_.max_depth) return true;
    auto sk = ref::Sketch::Parse(r->sketch);
    if (sk.ok()) usable.push_back(std::move(*sk));
    return true;
  }));
  PMKLC_RETURN_IF_ERROR(store_->ForEachSketch([&](uint64_t ino, std::string_view v) {
    if (pending_inos.count(ino)) return true;
    auto f = ParseSketchRecord(v);
    if (f.ok() && f->depth < opts_.max_depth) usable.push_back(std::move(f->sketch));
    return true;
  }));
  std::vector<PlanStep> order;
  std::vector<size_t> genomes;
  for (size_t i = 0; i < pending.size(); ++i) {
    if (pending[i].sketch && genomes.size() < kMaxOrdered) genomes.push_back(i);
    else order.push_back({i, false});  // coded alone or beyond the cap: as they came, first
  }
  const size_t n = genomes.size();
  // near[i]: the highest Jaccard of genome i to anything it could use so far;
  // sum[i]: its Jaccards to the other pending genomes (the most central first
  // when nothing is usable yet).
  std::vector<double> near(n, 0.0), sum(n, 0.0);
  std::vector<std::vector<double>> jac(n, std::vector<double>(n, 0.0));
  for (size_t a = 0; a < n; ++a) {
    for (const ref::Sketch& u : usable) near[a] = std::max(near[a], ref::Jaccard(*pending[genomes[a]].sketch, u));
    for (size_t b = a + 1; b < n; ++b) {
      jac[a][b] = jac[b][a] = ref::Jaccard(*pending[genomes[a]].sketch, *pending[genomes[b]].sketch);
      sum[a] += jac[a][b];
      sum[b] += jac[a][b];
    }
  }
  // Farthest first: next is the genome least like anything usable, so the
  // files planned early (which stay shallow enough to be references) are
  // diverse, and each later file finds its closest relatives among them.
  // (Planned in copy order, two close strains that come after two others
  // are both as deep as a chain may go and can use neither each other.)
  std::vector<bool> done(n, false);
  for (size_t k = 0; k < n; ++k) {
    size_t best = n;
    for (size_t a = 0; a < n; ++a) {
      if (done[a]) continue;
      if (best == n || near[a] < near[best] || (near[a] == near[best] && sum[a] > sum[best])) best = a;
    }
    done[best] = true;
    // A later file that would rather build on this one than on anything
    // else: keep this one usable.
    bool wanted = false;
    for (size_t a = 0; a < n; ++a)
      if (!done[a] && jac[a][best] >= kRelatedJaccard && jac[a][best] > near[a] + kUsableMargin) wanted = true;
    order.push_back({genomes[best], wanted});
    for (size_t a = 0; a < n; ++a)
      if (!done[a]) near[a] = std::max(near[a], jac[a][best]);
  }
  return order;
}

Result<RefPlan> RefPlanner::Plan(uint64_t ino, uint64_t size, const std::vector<uint64_t>& groups,
                                 bool stay_usable, const ref::Sketch* known) {
  RefPlan plan;
  // The nucleotide codes of each group (what the groups are coded with and
  // against), and the file's sketch from them; with a known sketch, read
  // only once a candidate is related.
  std::map<uint64_t, std::string> codes;
  auto scan = [&]() -> Result<bool> {
    ref::Sketch sk;
    auto scanned = ScanPending(ino, size, groups, &sk, [&](uint64_t g, std::string&& gc) { codes[g] = std::move(gc); });
    if (scanned.ok() && *scanned) plan.sketch = std::move(sk);
    return scanned;
  };
  if (known) {
    plan.sketch = *known;
  } else {
    auto scanned = scan();
    if (!scanned.ok()) return scanned.status();
    if (!*scanned) return plan;
  }
  plan.sketched = true;

  // Related files and objects, best first.
  std::vector<Candidate> cands;
  PMKLC_RETURN_IF_ERROR(store_->ForEachRefObject([&](uint64_t id, std::string_view v) {
    auto r = RefObjectRecord::Parse(v);
    if (!r.ok() || r->depth >= opts_.max_depth) return true;
    auto sk = ref::Sketch::Parse(r->sketch);
    if (!sk.ok()) return true;
    const double j = ref::Jaccard(plan.sketch, *sk);
    if (j < kRelatedJaccard) return true;
    Candidate c;
    c.jaccard = j;
    c.depth = r->depth;
    c.object = id;
    cands.push_back(std::move(c));
    return true;
  }));
  PMKLC_RETURN_IF_ERROR(store_->ForEachSketch([&](uint64_t other, std::string_view v) {
    if (other == ino) return true;
    auto f = ParseSketchRecord(v);  // a damaged one is skipped (fsck reports it)
    if (!f.ok() || f->depth >= opts_.max_depth) return true;
    const double j = ref::Jaccard(plan.sketch, f->sketch);
    if (j < kRelatedJaccard) return true;
    Candidate c;
    c.jaccard = j;
    c.depth = f->depth;
    c.ino = other;
    c.sketch = std::move(f->sketch);
    cands.push_back(std::move(c));
    return true;
  }));
  if (cands.empty()) return plan;
  if (known) {  // (related to something: the codes are needed now)
    auto scanned = scan();
    if (!scanned.ok()) return scanned.status();
    if (!*scanned) return RefPlan();  // (changed since its sketch: coded alone)
  }
  // To stay usable (a chain of 2 at most: a file that uses an object made
  // of a dependent file is as deep as it may go), only the depth-0 ones,
  // if any is related; else the file is better coded against the others.
  // A file candidate's recorded depth may be stale: LoadCandidate checks it.
  const uint32_t shallow = opts_.max_depth - 1;
  auto too_deep = [&](const Candidate& c) { return c.depth >= shallow; };
  stay_usable = stay_usable && shallow > 0 && !std::all_of(cands.begin(), cands.end(), too_deep);
  if (stay_usable) std::erase_if(cands, too_deep);
  std::stable_sort(cands.begin(), cands.end(), [](const Candidate& a, const Candidate& b) {
    return a.jaccard > b.jaccard || (a.jaccard == b.jaccard && a.depth < b.depth);
  });
  if (cands.size() > kMaxCandidates) cands.resize(kMaxCandidates);
  std::vector<Candidate> loaded;
  for (Candidate& c : cands) {
    Status s = LoadCandidate(&c);
    if (!s.ok()) {
      spdlog::info("archiver: inode {}: reference candidate {} skipped: {}", ino,
                   c.ino ? "inode " + std::to_string(c.ino) : "object " + std::to_string(c.object), s.ToString());
      continue;
    }
    if (stay_usable && too_deep(c)) continue;  // its recorded depth was stale
    loaded.push_back(std::move(c));
  }
  // Segment ids: (candidate, segment) in order.
  std::vector<std::pair<uint32_t, uint32_t>> ids;
  ref::RefIndex index;
  for (uint32_t ci = 0; ci < loaded.size(); ++ci)
    for (uint32_t s = 0; s < loaded[ci].segs.size(); ++s) {
      index.Add(static_cast<uint32_t>(ids.size()), loaded[ci].segs[s]->codes);
      ids.emplace_back(ci, s);
    }
  index.Build();
  std::map<uint64_t, std::vector<uint32_t>> chosen;
  std::vector<bool> used(loaded.size(), false);
  for (auto& [g, gc] : codes) {
    auto pick = index.Choose(gc, opts_.max_segments);
    if (pick.empty()) continue;
    for (uint32_t id : pick) used[ids[id].first] = true;
    chosen[g] = std::move(pick);
  }
  if (chosen.empty()) return plan;
  for (uint32_t ci = 0; ci < loaded.size(); ++ci) {
    if (!used[ci] || loaded[ci].ino == 0) continue;
    Status s = Promote(&loaded[ci]);
    if (s.ok()) plan.promoted.push_back(loaded[ci].ino);
    if (!s.ok()) {
      spdlog::info("archiver: inode {}: promoting inode {} to a reference failed ({}); coding it alone", ino,
                   loaded[ci].ino, s.ToString());
      plan.groups.clear();
      return plan;
    }
  }
  uint8_t deepest = 0;
  for (auto& [g, pick] : chosen) {
    RefPlan::Group pg;
    for (uint32_t id : pick) {
      const Candidate& c = loaded[ids[id].first];
      pg.refs.push_back(c.keys[ids[id].second]);
      deepest = std::max(deepest, c.depth);
    }
    plan.groups[g] = std::move(pg);
  }
  plan.depth = static_cast<uint8_t>(deepest + 1);
  return plan;
}

Status RefPlanner::DropUnneededHolds(uint64_t ino, Store::Batch* b) {
  // The holds first: most files hold nothing, and then the group values
  // (which live in blob files) are not read at all.
  std::set<uint64_t> held;
  PMKLC_RETURN_IF_ERROR(store_->ForEachHoldBy(Store::kHoldFile, ino, [&](uint64_t object) {
    held.insert(object);
    return true;
  }));
  if (held.empty()) return Status::OK();
  std::vector<RefSegmentKey> deps;
  Status bad;
  PMKLC_RETURN_IF_ERROR(store_->ForEachGroupOf(ino, [&](uint64_t, std::string_view v) {
    bad = BlockRefs(v, &deps);
    for (const RefSegmentKey& d : deps) held.erase(d.object);
    return bad.ok() && !held.empty();
  }));
  PMKLC_RETURN_IF_ERROR(bad);
  for (uint64_t object : held) b->DeleteHold(Store::kHoldFile, ino, object);
  return Status::OK();
}

Result<size_t> RefPlanner::CollectGarbage() {
  size_t deleted = 0;
  for (;;) {
    // Objects first (one per promoted file, few): a store without any costs
    // one empty scan, and only a store with objects scans the holds (one per
    // dependent group).
    std::set<uint64_t> objects;
    PMKLC_RETURN_IF_ERROR(store_->ForEachRefObject([&](uint64_t id, std::string_view) {
      objects.insert(id);
      return true;
    }));
    if (objects.empty()) return deleted;
    PMKLC_RETURN_IF_ERROR(store_->ForEachHold([&](uint8_t, uint64_t, uint64_t object) {
      objects.erase(object);
      return !objects.empty();  // every object is held: stop early
    }));
    const std::vector<uint64_t> dead(objects.begin(), objects.end());
    if (dead.empty()) return deleted;
    Store::Batch b;
    for (uint64_t id : dead) b.DeleteRefObject(id);
    PMKLC_RETURN_IF_ERROR(store_->Write(b, false));
    for (uint64_t id : dead) {
      refs_->Forget(id);
      store_->ScheduleReclaimObject(id);
      spdlog::info("archiver: reference object {:016x} is held by nothing: deleted", id);
    }
    deleted += dead.size();
  }
}

}  // namespace pmklc
