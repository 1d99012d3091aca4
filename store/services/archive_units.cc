// Distributed archiving: export, work, ingest (archive_units.h).
#include "store/services/archive_units.h"

#include <fcntl.h>
#include <rocksdb/options.h>
#include <rocksdb/sst_file_reader.h>
#include <rocksdb/sst_file_writer.h>
#include <spdlog/spdlog.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "engine/codec/codec.h"
#include "engine/codec/endian.h"
#include "engine/common/guarded.h"
#include "engine/fasta/varint.h"
#include "engine/format.h"
#include "store/services/archive_refs.h"
#include "store/services/store_refs.h"

namespace pmklc {

namespace fs = std::filesystem;

namespace {

constexpr char kExportMagic[8] = {'P', 'M', 'K', 'L', 'C', 'X', 'P', '\0'};
constexpr char kUnitsMagic[8] = {'P', 'M', 'K', 'L', 'C', 'U', 'N', '\0'};
constexpr char kDoneMagic[8] = {'P', 'M', 'K', 'L', 'C', 'D', 'N', '\0'};
constexpr char kRefsMagic[8] = {'P', 'M', 'K', 'L', 'C', 'R', 'F', '\0'};
constexpr char kFilesMagic[8] = {'P', 'M', 'K', 'L', 'C', 'F', 'L', '\0'};
constexpr uint8_t kVersion = 1;       // export record, results, done records, refs, files
constexpr uint8_t kUnitsVersion = 2;  // units: 2 adds each group's reference segments
constexpr uint32_t kMaxShards = 4096;
constexpr size_t kMaxNotes = 100;
// A file is checked for relatedness to at most this many FASTA files
// exported before it (ExportOptions::defer_related). Each is a sketch
// comparison.
constexpr size_t kMaxDeferCompare = 4096;

// ---- files ------------------------------------------------------------------

Status ReadWhole(const std::string& path, std::string* out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::NotFound(path + ": cannot open");
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return Status::IOError(path + ": " + std::strerror(errno));
  }
  out->resize(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < out->size()) {
    ssize_t n = ::read(fd, out->data() + done, out->size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return Status::IOError(path + ": read failed");
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  return Status::OK();
}

// All of data to fd (name: for the message); NoSpace on a full disk.
Status WriteFully(int fd, std::string_view data, const std::string& name) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno == ENOSPC ? Status::NoSpace(name + ": disk full") : Status::IOError(name + ": " + std::strerror(errno));
    done += static_cast<size_t>(n);
  }
  return Status::OK();
}

// Writes path through a name of this process's own, fsyncs, renames.
Status WriteAtomically(const std::string& path, std::string_view data) {
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError(tmp + ": " + std::strerror(errno));
  if (Status w = WriteFully(fd, data, tmp); !w.ok()) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return w;
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return Status::IOError(tmp + ": " + std::strerror(errno));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return Status::IOError(path + ": " + std::strerror(errno));
  }
  return Status::OK();
}

// A read-only mapping of a whole file (empty files map to nothing).
class Mapped {
 public:
  Mapped() = default;
  Mapped(const Mapped&) = delete;
  Mapped& operator=(const Mapped&) = delete;
  ~Mapped() {
    if (p_ && p_ != MAP_FAILED) ::munmap(p_, n_);
  }
  Status Open(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::NotFound(path + ": cannot open");
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      ::close(fd);
      return Status::IOError(path + ": " + std::strerror(errno));
    }
    n_ = static_cast<size_t>(st.st_size);
    if (n_) {
      p_ = ::mmap(nullptr, n_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p_ == MAP_FAILED) {
        ::close(fd);
        return Status::IOError(path + ": " + std::strerror(errno));
      }
      (void)::madvise(p_, n_, MADV_SEQUENTIAL);
    }
    ::close(fd);
    return Status::OK();
  }
  std::string_view view() const { return n_ ? std::string_view(static_cast<const char*>(p_), n_) : std::string_view(); }

 private:
  void* p_ = nullptr;
  size_t n_ = 0;
};

std::string UnitsPath(const std::string& dir, uint32_t i) { return dir + "/units/" + std::to_string(i); }
std::string SstPath(const std::string& dir, uint32_t i) { return dir + "/out/" + std::to_string(i) + ".sst"; }
std::string DonePath(const std::string& dir, uint32_t i) { return dir + "/out/" + std::to_string(i) + ".done"; }

uint64_t FileHash(const std::string& path, Status* s) {
  Mapped m;
  *s = m.Open(path);
  return s->ok() ? XXH3_64bits(m.view().data(), m.view().size()) : 0;
}

// ---- the export record --------------------------------------------------------
// magic, u8 version, u32 block size, u32 group blocks, u32 shards,
// section profile, u32 split bytes, u64 groups, u64 raw bytes.
struct ExportRecord {
  uint32_t block_size = 0, group_blocks = 0, shards = 0;
  std::string profile;
  uint32_t split_bytes = 0;
  uint64_t groups = 0, raw_bytes = 0;

  std::string Serialize() const {
    std::string s(kExportMagic, 8);
    s.push_back(static_cast<char>(kVersion));
    char b[4];
    for (uint32_t v : {block_size, group_blocks, shards}) {
      StoreLE32(b, v);
      s.append(b, 4);
    }
    PutSection(&s, profile);
    StoreLE32(b, split_bytes);
    s.append(b, 4);
    PutVarint(&s, groups);
    PutVarint(&s, raw_bytes);
    return s;
  }
  static Result<ExportRecord> Read(const std::string& dir) {
    std::string s;
    const std::string path = dir + "/export";
    Status r = ReadWhole(path, &s);
    if (!r.ok()) return Status::NotFound(path + ": no export here (pmklc archive STORE --export DIR first)");
    return Parse(s, path);
  }
  static Result<ExportRecord> Parse(std::string_view s, const std::string& path) {
    auto bad = [&](const char* why) { return Status::Corruption(path + ": " + why); };
    if (s.size() < 9 || std::memcmp(s.data(), kExportMagic, 8) != 0) return bad("not an export record");
    if (static_cast<uint8_t>(s[8]) != kVersion) return bad("unknown version");
    Reader rd(std::string_view(s).substr(9));
    ExportRecord e;
    std::string_view v;
    uint32_t* fields[] = {&e.block_size, &e.group_blocks, &e.shards};
    for (uint32_t* f : fields) {
      if (!rd.GetBytes(4, &v)) return bad("truncated");
      *f = LoadLE32(v.data());
    }
    if (!rd.GetSection(&v)) return bad("truncated");
    e.profile = std::string(v);
    if (!rd.GetBytes(4, &v)) return bad("truncated");
    e.split_bytes = LoadLE32(v.data());
    if (!rd.GetVarint(&e.groups) || !rd.GetVarint(&e.raw_bytes) || rd.remaining()) return bad("malformed");
    if (e.shards == 0 || e.shards > kMaxShards || e.block_size == 0 || e.group_blocks == 0) return bad("bad sizes");
    return e;
  }
};

// ---- units ----------------------------------------------------------------------
// One per group: varint ino, varint group, varint file size, varint ctime
// sec (zigzag), varint ctime nsec, varint raw length, varint blocks, then
// per block varint index and section value.
struct Unit {
  uint64_t ino = 0, group = 0, size = 0;
  Time ctime;
  uint64_t raw_len = 0;
  // Fast-tier block values: a unit read from a file views its bytes
  // (UnitsFile::data), one exported holds its own (owned).
  std::vector<std::pair<uint64_t, std::string_view>> blocks;
  std::vector<std::string> owned;
  // The reference segments the group is coded against, in order (the
  // planner's choice at export; empty: coded alone).
  std::vector<RefSegmentKey> refs;
  uint64_t hash = 0;  // XXH3-64 of the unit's serialized bytes

  void AppendTo(std::string* s) const {
    PutVarint(s, ino);
    PutVarint(s, group);
    PutVarint(s, size);
    PutVarint(s, ZigZag(ctime.sec));
    PutVarint(s, ctime.nsec);
    PutVarint(s, raw_len);
    PutVarint(s, blocks.size());
    for (auto& [idx, v] : blocks) {
      PutVarint(s, idx);
      PutSection(s, v);
    }
    PutVarint(s, refs.size());
    char b[8];
    for (const RefSegmentKey& k : refs) {
      PutVarint(s, k.object);
      PutVarint(s, k.segment);
      StoreLE64(b, k.checksum);
      s->append(b, 8);
    }
  }
};

// A units file read whole; its units view data.
struct UnitsFile {
  Mapped data;
  std::vector<Unit> units;
};

Status ParseUnits(std::string_view s, const std::string& path, std::vector<Unit>* out) {
  auto bad = [&](const char* why) { return Status::Corruption(path + ": " + why); };
  if (s.size() < 9 || std::memcmp(s.data(), kUnitsMagic, 8) != 0) return bad("not a units file");
  if (static_cast<uint8_t>(s[8]) != kUnitsVersion)
    return bad("units of another version (export again with this build)");
  Reader rd(s.substr(9));
  while (rd.remaining()) {
    const char* start = rd.rest().data();
    Unit u;
    uint64_t sec, nsec, n;
    if (!rd.GetVarint(&u.ino) || !rd.GetVarint(&u.group) || !rd.GetVarint(&u.size) || !rd.GetVarint(&sec) ||
        !rd.GetVarint(&nsec) || !rd.GetVarint(&u.raw_len) || !rd.GetVarint(&n) || n > 65536 ||
        u.raw_len > format::kMaxBlockRawLen || nsec >= 1000000000)
      return bad("malformed unit");
    u.ctime = {UnZigZag(sec), static_cast<uint32_t>(nsec)};
    for (uint64_t i = 0; i < n; ++i) {
      uint64_t idx;
      std::string_view v;
      if (!rd.GetVarint(&idx) || !rd.GetSection(&v)) return bad("truncated unit");
      u.blocks.emplace_back(idx, v);
    }
    uint64_t nrefs;
    if (!rd.GetVarint(&nrefs) || nrefs > format::kMaxBlockRefs) return bad("malformed unit references");
    for (uint64_t i = 0; i < nrefs; ++i) {
      uint64_t object, segment;
      std::string_view sum;
      if (!rd.GetVarint(&object) || !rd.GetVarint(&segment) || segment > UINT32_MAX || !rd.GetBytes(8, &sum))
        return bad("truncated unit references");
      u.refs.push_back({object, static_cast<uint32_t>(segment), LoadLE64(sum.data())});
    }
    u.hash = XXH3_64bits(start, static_cast<size_t>(rd.rest().data() - start));
    out->push_back(std::move(u));
  }
  return Status::OK();
}

Status ReadUnits(const std::string& path, UnitsFile* file) {
  PMKLC_RETURN_IF_ERROR(file->data.Open(path));
  return ParseUnits(file->data.view(), path, &file->units);
}

// ---- reference codes: DIR/refs ----------------------------------------------------
// magic, u8 version, then per segment: varint object, varint segment, u64
// checksum, varint bases, section of the bases' codes packed 4 a byte (the
// first base in the low bits). What a worker primes a group's coder with
// (RefSegment::codes): the planner decoded them at export, so a worker
// needs no store and decodes no segment.
std::string PackCodes(std::string_view codes) {
  std::string p((codes.size() + 3) / 4, '\0');
  for (size_t i = 0; i < codes.size(); ++i) p[i / 4] |= static_cast<char>((codes[i] & 3) << (2 * (i % 4)));
  return p;
}

struct ExportRefs {
  struct Entry {
    uint64_t checksum = 0, bases = 0;
    std::string_view packed;
  };
  Mapped data;
  std::map<std::pair<uint64_t, uint32_t>, Entry> entries;

  // An export without references has no file: then there are none.
  Status Read(const std::string& dir) {
    const std::string path = dir + "/refs";
    std::error_code ec;
    if (!fs::exists(path, ec)) return Status::OK();
    PMKLC_RETURN_IF_ERROR(data.Open(path));
    return Parse(data.view(), path);
  }
  // (entries view s)
  Status Parse(std::string_view s, const std::string& path) {
    auto bad = [&](const char* why) { return Status::Corruption(path + ": " + why); };
    if (s.size() < 9 || std::memcmp(s.data(), kRefsMagic, 8) != 0) return bad("not a reference codes file");
    if (static_cast<uint8_t>(s[8]) != kVersion) return bad("unknown version");
    Reader rd(s.substr(9));
    while (rd.remaining()) {
      uint64_t object, segment, bases;
      std::string_view sum, packed;
      if (!rd.GetVarint(&object) || !rd.GetVarint(&segment) || segment > UINT32_MAX || !rd.GetBytes(8, &sum) ||
          !rd.GetVarint(&bases) || !rd.GetSection(&packed) || packed.size() != (bases + 3) / 4)
        return bad("malformed entry");
      entries[{object, static_cast<uint32_t>(segment)}] = {LoadLE64(sum.data()), bases, packed};
    }
    return Status::OK();
  }
  // Appends the codes of segment k to *out.
  Status AppendCodes(const RefSegmentKey& k, std::string* out) const {
    auto it = entries.find({k.object, k.segment});
    if (it == entries.end() || it->second.checksum != k.checksum)
      return Status::Corruption("reference segment " + std::to_string(k.object) + "/" + std::to_string(k.segment) +
                                " is not in the export's refs");
    const Entry& e = it->second;
    const size_t at = out->size();
    out->resize(at + e.bases);
    for (uint64_t i = 0; i < e.bases; ++i)
      (*out)[at + i] = static_cast<char>((static_cast<uint8_t>(e.packed[i / 4]) >> (2 * (i % 4))) & 3);
    return Status::OK();
  }
};

// ---- files: DIR/files --------------------------------------------------------------
// magic, u8 version, then per exported file: varint ino, section its sketch
// record (RefPlanner::SketchRecord of its plan; empty: none), which ingest
// stores once the file's every group is in, so that later files may pick it
// as a reference.
Status ParseFileRecords(std::string_view s, const std::string& path, std::map<uint64_t, std::string>* out) {
  auto bad = [&](const char* why) { return Status::Corruption(path + ": " + why); };
  if (s.size() < 9 || std::memcmp(s.data(), kFilesMagic, 8) != 0) return bad("not a files record");
  if (static_cast<uint8_t>(s[8]) != kVersion) return bad("unknown version");
  Reader rd(std::string_view(s).substr(9));
  while (rd.remaining()) {
    uint64_t ino;
    std::string_view rec;
    if (!rd.GetVarint(&ino) || !rd.GetSection(&rec)) return bad("malformed entry");
    (*out)[ino] = std::string(rec);
  }
  return Status::OK();
}

Status ReadFileRecords(const std::string& dir, std::map<uint64_t, std::string>* out) {
  const std::string path = dir + "/files";
  std::string s;
  if (!ReadWhole(path, &s).ok()) return Status::Corruption(path + ": missing (an incomplete export)");
  return ParseFileRecords(s, path, out);
}

// ---- results: SST entries --------------------------------------------------------
// key: 'g' + u64 BE ino + u64 BE group (sorted as the store's group keys);
// value: u8 version, u8 kind (0 no gain, 1 coded), u64 LE the unit's hash,
// u64 LE before bytes, then for kind 1 the group value.
std::string ResultKey(uint64_t ino, uint64_t g) {
  std::string k(17, '\0');
  k[0] = 'g';
  for (int i = 0; i < 8; ++i) {
    k[1 + i] = static_cast<char>(ino >> (56 - 8 * i));
    k[9 + i] = static_cast<char>(g >> (56 - 8 * i));
  }
  return k;
}

struct Result1 {
  uint64_t ino = 0, group = 0;
  bool coded = false;
  uint64_t unit_hash = 0, before = 0;
  std::string value;
};

Status ParseResult(std::string_view key, std::string_view v, Result1* r) {
  if (key.size() != 17 || key[0] != 'g' || v.size() < 18 || static_cast<uint8_t>(v[0]) != kVersion ||
      static_cast<uint8_t>(v[1]) > 1)
    return Status::Corruption("malformed result entry");
  r->ino = r->group = 0;
  for (int i = 0; i < 8; ++i) {
    r->ino = (r->ino << 8) | static_cast<uint8_t>(key[1 + i]);
    r->group = (r->group << 8) | static_cast<uint8_t>(key[9 + i]);
  }
  r->coded = v[1] == 1;
  r->unit_hash = LoadLE64(v.data() + 2);
  r->before = LoadLE64(v.data() + 10);
  r->value.assign(v.substr(18));
  if (r->coded != !r->value.empty()) return Status::Corruption("malformed result entry");
  return Status::OK();
}

// out/I.done: magic, u8 version, u32 shard, u32 shards, u64 groups, u64 XXH3 of out/I.sst.
std::string DoneRecord(uint32_t shard, uint32_t shards, uint64_t groups, uint64_t sst_hash) {
  std::string s(kDoneMagic, 8);
  s.push_back(static_cast<char>(kVersion));
  char b[8];
  StoreLE32(b, shard);
  s.append(b, 4);
  StoreLE32(b, shards);
  s.append(b, 4);
  StoreLE64(b, groups);
  s.append(b, 8);
  StoreLE64(b, sst_hash);
  s.append(b, 8);
  return s;
}

// OK if out/I.done is there, names this shard and matches out/I.sst;
// NotFound if the shard is not done; Corruption if its files do not agree.
Status CheckDone(const std::string& dir, uint32_t shard, uint32_t shards, uint64_t* groups) {
  std::string s;
  if (!ReadWhole(DonePath(dir, shard), &s).ok()) return Status::NotFound("shard " + std::to_string(shard) + " is not done");
  if (s.size() != 33 || std::memcmp(s.data(), kDoneMagic, 8) != 0 || static_cast<uint8_t>(s[8]) != kVersion ||
      LoadLE32(s.data() + 9) != shard || LoadLE32(s.data() + 13) != shards)
    return Status::Corruption(DonePath(dir, shard) + ": malformed");
  *groups = LoadLE64(s.data() + 17);
  Status hs;
  const uint64_t h = FileHash(SstPath(dir, shard), &hs);
  if (!hs.ok()) return Status::Corruption(SstPath(dir, shard) + ": missing beside its .done");
  if (h != LoadLE64(s.data() + 25)) return Status::Corruption(SstPath(dir, shard) + ": does not match its .done");
  return Status::OK();
}

}  // namespace

// ---- export ------------------------------------------------------------------------

std::string ExportReport::Explain() const {
  std::string s = std::to_string(groups) + " group(s) of " + std::to_string(files) + " file(s), " +
                  std::to_string(raw_bytes) + " bytes of file data, in " + std::to_string(unit_bytes) +
                  " bytes of units";
  if (groups_with_refs)
    s += "; " + std::to_string(groups_with_refs) + " group(s) coded against " + std::to_string(ref_segments) +
         " reference segment(s) (" + std::to_string(ref_bytes) + " bytes of their codes in refs)";
  if (busy_files) s += "; " + std::to_string(busy_files) + " file(s) in use left out, still pending";
  if (deferred_files)
    s += "; " + std::to_string(deferred_files) +
         " related file(s) left for the next export (they code against files of this one once it is ingested)";
  return s;
}

namespace {
// One shard's units file, written as the export goes (a few MiB in memory
// at a time), under a name of this process's own, renamed when complete.
class ShardOut {
 public:
  ShardOut() = default;
  ShardOut(const ShardOut&) = delete;
  ShardOut& operator=(const ShardOut&) = delete;
  ~ShardOut() {
    if (fd_ >= 0) {
      ::close(fd_);
      ::unlink(tmp_.c_str());
    }
  }
  Status Open(const std::string& path) {
    path_ = path;
    tmp_ = path + ".tmp." + std::to_string(getpid());
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) return Status::IOError(tmp_ + ": " + std::strerror(errno));
    buf_.assign(kUnitsMagic, 8);
    buf_.push_back(static_cast<char>(kUnitsVersion));
    return Status::OK();
  }
  Status Add(const Unit& u) {
    u.AppendTo(&buf_);
    return buf_.size() >= (size_t{8} << 20) ? Flush() : Status::OK();
  }
  // Writes the rest, fsyncs, renames into place.
  Status Finish() {
    PMKLC_RETURN_IF_ERROR(Flush());
    if (::fsync(fd_) != 0 || ::close(fd_) != 0) {
      fd_ = -1;
      return Status::IOError(tmp_ + ": " + std::strerror(errno));
    }
    fd_ = -1;
    if (::rename(tmp_.c_str(), path_.c_str()) != 0) return Status::IOError(path_ + ": " + std::strerror(errno));
    return Status::OK();
  }
  uint64_t bytes() const { return written_ + buf_.size(); }

 private:
  Status Flush() {
    PMKLC_RETURN_IF_ERROR(WriteFully(fd_, buf_, tmp_));
    written_ += buf_.size();
    buf_.clear();
    return Status::OK();
  }
  std::string path_, tmp_, buf_;
  int fd_ = -1;
  uint64_t written_ = 0;
};
}  // namespace

Result<ExportReport> ExportUnits(Store* store, const std::string& dir, const ExportOptions& o, ArchiveHost* host) {
  if (o.shards == 0 || o.shards > kMaxShards)
    return Status::InvalidArgument("--shards must be 1.." + std::to_string(kMaxShards));
  if (o.profile != "max" && o.profile != "balanced")
    return Status::InvalidArgument("profile '" + o.profile + "': an export is coded with max or balanced");
  const uint64_t bs = store->block_size(), gb = store->group_blocks();
  if (o.split_bytes != 0 && (o.split_bytes % bs != 0 || o.split_bytes >= bs * gb))
    return Status::InvalidArgument("--split must be a multiple of the store's block size smaller than its groups");
  std::error_code ec;
  if (fs::exists(dir + "/export", ec)) return Status::Exists(dir + " holds an export already");
  for (const char* sub : {"/units", "/out"}) {
    fs::create_directories(dir + sub, ec);
    if (ec) return Status::IOError(dir + sub + ": " + ec.message());
  }
  std::vector<std::unique_ptr<ShardOut>> shard;
  for (uint32_t i = 0; i < o.shards; ++i) {
    shard.push_back(std::make_unique<ShardOut>());
    PMKLC_RETURN_IF_ERROR(shard.back()->Open(UnitsPath(dir, i)));
  }
  // References are planned here, against the store as it is, as the local
  // archiver plans them (promoting related archived files to objects
  // through the host, under their locks): an unmounted store is its own host.
  StoreArchiveHost own_host(store);
  ArchiveHost* h = host ? host : &own_host;
  std::unique_ptr<StoreRefs> own_refs;
  StoreRefs* refs = h->refs();
  if (o.references && !refs) {
    own_refs = std::make_unique<StoreRefs>(store, o.ref_cache_bytes);
    refs = own_refs.get();
  }
  RefPlanner planner(store, h, refs, RefPlanOptions{o.ref_segments, o.ref_depth});

  // 1. The pending regular files that are idle, and their fast-tier groups.
  struct File {
    uint64_t ino = 0;
    InodeAttr attr;
    std::vector<uint64_t> groups;
    std::optional<ref::Sketch> sketch;  // a nucleotide FASTA file the planner may code against others
    bool stay_usable = false;
  };
  std::vector<File> files;
  std::vector<uint64_t> inos;
  PMKLC_RETURN_IF_ERROR(store->ListPending(&inos));
  ExportReport rep;
  for (uint64_t ino : inos) {
    auto a = store->GetInode(ino);
    if (!a.ok()) {
      if (a.status().IsNotFound()) continue;
      return a.status();
    }
    if (!S_ISREG(a->mode)) continue;
    if (host) {
      Status idle = host->CheckIdle(ino, nullptr);
      if (idle.IsBusy()) {
        rep.busy_files++;
        continue;
      }
      if (idle.IsNotFound()) continue;
      PMKLC_RETURN_IF_ERROR(idle);
    }
    File f;
    f.ino = ino;
    f.attr = *a;
    // (from the sizes index: the block values are read once, below)
    std::vector<uint64_t> blocks;
    PMKLC_RETURN_IF_ERROR(store->BlockIndicesOf(ino, &blocks));
    for (uint64_t idx : blocks)
      if (f.groups.empty() || f.groups.back() != idx / gb) f.groups.push_back(idx / gb);
    if (!f.groups.empty()) files.push_back(std::move(f));
  }
  // 2. The local archiver's planning order (diverse files first).
  if (o.references) {
    // (each file read whole once for its sketch, on o.threads threads)
    std::atomic<size_t> at{0};
    auto sketcher = [&] {
      for (size_t i; (i = at++) < files.size();) {
        File& f = files[i];
        Result<std::optional<ref::Sketch>> sk = std::optional<ref::Sketch>();
        Status gs = Guarded("sketching", [&] { sk = planner.PendingSketch(f.ino, f.attr.size, f.groups); });
        if (!gs.ok()) sk = gs;
        if (!sk.ok()) spdlog::warn("export: inode {}: sketch: {} (coded alone)", f.ino, sk.status().ToString());
        else f.sketch = std::move(*sk);
      }
    };
    std::vector<std::thread> ts;
    for (unsigned t = 1; t < std::min<size_t>(std::max(1u, o.threads), files.size()); ++t) ts.emplace_back(sketcher);
    sketcher();
    for (auto& t : ts) t.join();
    std::vector<RefPlanner::PendingFile> pending;
    for (File& f : files) pending.push_back({f.ino, f.sketch});
    if (files.size() > 1) {
      auto order = planner.PlanningOrder(pending);
      if (order.ok()) {
        std::vector<File> ordered;
        for (const RefPlanner::PlanStep& st : *order) {
          files[st.index].stay_usable = st.stay_usable;
          ordered.push_back(std::move(files[st.index]));
        }
        files = std::move(ordered);
      } else {
        spdlog::warn("export: planning order: {} (files in the order they came)", order.status().ToString());
      }
    }
  }
  // 3. Each file: deferred (related to a file exported before it here, which
  // it could use once that one is archived), or planned and exported.
  std::vector<const ref::Sketch*> exported_sketches;
  std::map<std::pair<uint64_t, uint32_t>, RefSegmentKey> needed;  // segments whose codes the workers get
  std::string files_rec(kFilesMagic, 8);
  files_rec.push_back(static_cast<char>(kVersion));
  uint64_t next = 0;
  std::vector<uint64_t> promoted;
  for (File& f : files) {
    if (o.references && o.defer_related && f.sketch) {
      bool related = false;
      for (size_t k = 0; k < exported_sketches.size() && k < kMaxDeferCompare && !related; ++k)
        related = ref::Jaccard(*exported_sketches[k], *f.sketch) >= ref::kRelatedJaccard;
      if (related) {
        rep.deferred_files++;
        continue;
      }
    }
    RefPlan plan;
    if (o.references && f.sketch) {
      Result<RefPlan> r = Status::NoMemory("reference planning");
      Status gs = Guarded("planning references", [&] {
        r = planner.Plan(f.ino, f.attr.size, f.groups, f.stay_usable, &*f.sketch);
      });
      if (!gs.ok()) r = gs;
      if (r.ok()) plan = std::move(*r);
      else spdlog::warn("export: inode {}: reference planning: {} (coded alone)", f.ino, r.status().ToString());
      promoted.insert(promoted.end(), plan.promoted.begin(), plan.promoted.end());
      exported_sketches.push_back(&*f.sketch);
    }
    std::map<uint64_t, Unit> units;  // by group
    PMKLC_RETURN_IF_ERROR(store->ForEachBlockOf(f.ino, [&](uint64_t idx, std::string_view v) {
      Unit& u = units[idx / gb];
      u.owned.emplace_back(v);
      u.blocks.emplace_back(idx, std::string_view());
      return true;
    }));
    if (units.empty()) continue;
    rep.files++;
    for (auto& [g, u] : units) {
      for (size_t k = 0; k < u.blocks.size(); ++k) u.blocks[k].second = u.owned[k];
      u.ino = f.ino;
      u.group = g;
      u.size = f.attr.size;
      u.ctime = f.attr.ctime;
      const uint64_t start = g * gb * bs;
      u.raw_len = f.attr.size > start ? std::min<uint64_t>(f.attr.size - start, gb * bs) : 0;
      if (u.raw_len == 0) continue;  // blocks past the end: fsck's business, not ours
      if (auto pg = plan.groups.find(g); pg != plan.groups.end() && !pg->second.refs.empty()) {
        u.refs = pg->second.refs;
        for (const RefSegmentKey& k : u.refs) needed[{k.object, k.segment}] = k;
        rep.groups_with_refs++;
      }
      PMKLC_RETURN_IF_ERROR(shard[next++ % o.shards]->Add(u));
      rep.groups++;
      rep.raw_bytes += u.raw_len;
    }
    PutVarint(&files_rec, f.ino);
    PutSection(&files_rec, planner.SketchRecord(plan));
  }
  // 4. The codes of every segment a unit is coded against.
  if (!needed.empty()) {
    std::string rf(kRefsMagic, 8);
    rf.push_back(static_cast<char>(kVersion));
    char b[8];
    for (auto& [key, k] : needed) {
      auto seg = refs->Get(k);
      if (!seg.ok()) return seg.status();  // (StoreRefs names the segment)
      PutVarint(&rf, k.object);
      PutVarint(&rf, k.segment);
      StoreLE64(b, k.checksum);
      rf.append(b, 8);
      PutVarint(&rf, (*seg)->codes.size());
      PutSection(&rf, PackCodes((*seg)->codes));
    }
    PMKLC_RETURN_IF_ERROR(WriteAtomically(dir + "/refs", rf));
    rep.ref_segments = needed.size();
    rep.ref_bytes = rf.size();
  }
  for (uint32_t i = 0; i < o.shards; ++i) {
    rep.unit_bytes += shard[i]->bytes();
    PMKLC_RETURN_IF_ERROR(shard[i]->Finish());
  }
  PMKLC_RETURN_IF_ERROR(WriteAtomically(dir + "/files", files_rec));
  // For whoever runs the next round (pmklc archive --slurm's ingest job):
  // related files were left pending for it.
  if (rep.deferred_files)
    PMKLC_RETURN_IF_ERROR(WriteAtomically(dir + "/deferred", std::to_string(rep.deferred_files) + "\n"));
  for (uint64_t ino : promoted) store->ScheduleReclaim(ino);  // (their old group values now live as segments)
  ExportRecord e;
  e.block_size = static_cast<uint32_t>(bs);
  e.group_blocks = static_cast<uint32_t>(gb);
  e.shards = o.shards;
  e.profile = o.profile;
  e.split_bytes = o.split_bytes;
  e.groups = rep.groups;
  e.raw_bytes = rep.raw_bytes;
  PMKLC_RETURN_IF_ERROR(WriteAtomically(dir + "/export", e.Serialize()));  // last: the export exists now
  return rep;
}

// ---- work ----------------------------------------------------------------------------

std::string WorkReport::Explain() const {
  if (already_done) return "already done (out/ holds its results)";
  char b[200];
  std::snprintf(b, sizeof b, "coded %llu group(s), %.1f MB of file data: %llu -> %llu bytes in %.1f s (%.2f MB/s)%s",
                static_cast<unsigned long long>(groups), raw_bytes / 1e6, static_cast<unsigned long long>(before_bytes),
                static_cast<unsigned long long>(after_bytes), seconds, seconds > 0 ? raw_bytes / 1e6 / seconds : 0.0,
                no_gain ? (", " + std::to_string(no_gain) + " no smaller (left as they are)").c_str() : "");
  return b;
}

Result<WorkReport> WorkShard(const std::string& dir, const WorkOptions& o) {
  auto e = ExportRecord::Read(dir);
  if (!e.ok()) return e.status();
  if (o.shards != e->shards || o.shard >= o.shards)
    return Status::InvalidArgument("--shard " + std::to_string(o.shard) + "/" + std::to_string(o.shards) +
                                   ": the export has " + std::to_string(e->shards) + " shard(s), numbered from 0");
  WorkReport rep;
  uint64_t done_groups = 0;
  Status d = CheckDone(dir, o.shard, o.shards, &done_groups);
  if (d.ok()) {
    rep.already_done = true;
    return rep;
  }
  if (!d.IsNotFound()) spdlog::warn("{} (coding the shard again)", d.ToString());
  const auto t0 = std::chrono::steady_clock::now();
  UnitsFile file;
  PMKLC_RETURN_IF_ERROR(ReadUnits(UnitsPath(dir, o.shard), &file));
  const std::vector<Unit>& units = file.units;
  ExportRefs refs;
  PMKLC_RETURN_IF_ERROR(refs.Read(dir));
  auto enc = ArchiveEncodeOptions(e->profile);
  if (!enc.ok()) return enc.status();
  enc->split_bytes = e->split_bytes;
  std::unique_ptr<CmBatcher> batcher;
  auto gpus = ResolveDevice(o.device);
  if (!gpus.ok()) return gpus.status();
  if (!gpus->empty()) {
    batcher = std::make_unique<CmBatcher>(o.device, std::max(1u, o.threads));
    enc->cm_coder = batcher.get();
  }
  // Code (threads take units in turn), then write the SST in key order.
  std::vector<std::string> values(units.size());
  std::vector<uint64_t> before(units.size(), 0);
  std::vector<Status> errs(units.size());
  std::atomic<size_t> next{0};
  const uint64_t bs = e->block_size;
  auto worker = [&] {
    for (size_t i; (i = next++) < units.size();) {
      const Unit& u = units[i];
      errs[i] = Guarded("coding a unit", [&]() -> Status {
        std::string raw(u.raw_len, '\0');
        for (auto& [idx, v] : u.blocks) {
          std::string img;
          PMKLC_RETURN_IF_ERROR(DecodeBlock(v, &img));
          const uint64_t at = (idx - u.group * e->group_blocks) * bs;
          if (idx < u.group * e->group_blocks || at + img.size() > raw.size())
            return Status::Corruption("block " + std::to_string(idx) + " lies outside its group");
          std::memcpy(raw.data() + at, img.data(), img.size());
          before[i] += v.size();
        }
        if (u.refs.empty()) return EncodeBlock(raw, *enc, &values[i]);
        // Coded against its reference segments, as the local archiver codes
        // it: their codes, in order, prime the coder.
        std::string prime;
        for (const RefSegmentKey& k : u.refs) PMKLC_RETURN_IF_ERROR(refs.AppendCodes(k, &prime));
        EncodeOptions with = *enc;
        with.refs = u.refs;
        with.ref_codes = prime;
        return EncodeBlock(raw, with, &values[i]);
      });
    }
  };
  std::vector<std::thread> threads;
  for (unsigned t = 1; t < std::max(1u, o.threads); ++t) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < units.size(); ++i)
    if (!errs[i].ok())
      return errs[i].IsCorruption() ? Status::Corruption("inode " + std::to_string(units[i].ino) + " group " +
                                                         std::to_string(units[i].group) + ": " + errs[i].message())
                                    : errs[i];
  std::vector<size_t> order(units.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return std::tie(units[a].ino, units[a].group) < std::tie(units[b].ino, units[b].group);
  });
  const std::string sst = SstPath(dir, o.shard);
  const std::string tmp = sst + ".tmp." + std::to_string(getpid());
  rocksdb::Options ropts;
  rocksdb::SstFileWriter w(rocksdb::EnvOptions(), ropts);
  rocksdb::Status rs = w.Open(tmp);
  if (!rs.ok()) return Status::IOError(tmp + ": " + rs.ToString());
  std::string prev;
  for (size_t i : order) {
    const Unit& u = units[i];
    const std::string key = ResultKey(u.ino, u.group);
    if (key == prev) return Status::Corruption(UnitsPath(dir, o.shard) + ": a group appears twice");
    prev = key;
    const bool coded = values[i].size() < before[i];  // the archiver's rule: only if smaller
    std::string v;
    v.push_back(static_cast<char>(kVersion));
    v.push_back(coded ? 1 : 0);
    char b[8];
    StoreLE64(b, u.hash);
    v.append(b, 8);
    StoreLE64(b, before[i]);
    v.append(b, 8);
    if (coded) v += values[i];
    rs = w.Put(key, v);
    if (!rs.ok()) return Status::IOError(tmp + ": " + rs.ToString());
    rep.raw_bytes += u.raw_len;
    if (coded) {
      rep.groups++;
      rep.before_bytes += before[i];
      rep.after_bytes += values[i].size();
    } else {
      rep.no_gain++;
    }
  }
  if (units.empty()) {
    // (an SST cannot be empty: an empty shard's result is an empty file)
    w.Finish().PermitUncheckedError();
    std::error_code ec;
    fs::remove(tmp, ec);
    if (Status ws = WriteAtomically(tmp, ""); !ws.ok()) return ws;
  } else {
    rs = w.Finish();
    if (!rs.ok()) return Status::IOError(tmp + ": " + rs.ToString());
  }
  {
    int fd = ::open(tmp.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      (void)::fsync(fd);
      ::close(fd);
    }
  }
  if (::rename(tmp.c_str(), sst.c_str()) != 0) return Status::IOError(sst + ": " + std::strerror(errno));
  Status hs;
  const uint64_t h = FileHash(sst, &hs);
  PMKLC_RETURN_IF_ERROR(hs);
  PMKLC_RETURN_IF_ERROR(WriteAtomically(DonePath(dir, o.shard), DoneRecord(o.shard, o.shards, units.size(), h)));
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return rep;
}

// ---- ingest ----------------------------------------------------------------------------

std::string IngestReport::Explain() const {
  std::string s = "ingested " + std::to_string(groups) + " group(s) (" + std::to_string(bytes) + " bytes) from " +
                  std::to_string(shards - shards_missing) + " of " + std::to_string(shards) + " shard(s)";
  if (already) s += ", " + std::to_string(already) + " in already";
  if (no_gain) s += ", " + std::to_string(no_gain) + " no smaller (left as they are)";
  if (stale) s += ", " + std::to_string(stale) + " stale (their files changed since the export: refused, still pending)";
  s += "; " + std::to_string(files_done) + " file(s) done";
  return s;
}

namespace {
enum Outcome { kIn, kAlready, kStale };

// Whether unit's group may be swapped in for result r now that the file's
// attributes are `now`: only if the file still holds exactly what was
// exported (its size, and every block value, byte for byte). kAlready: an
// earlier ingest put this very group in. *why: what changed. A store
// read that fails sets *err (the ingest stops).
Outcome CheckUnit(Store* store, const InodeAttr& now, const Unit& unit, const Result1& r, std::string* why,
                  Status* err) {
  if (now.size != unit.size) {
    *why = "size changed";
    return kStale;
  }
  // The group's blocks now, in one range scan, against the exported ones
  // (both in index order).
  const uint64_t gb = store->group_blocks();
  size_t k = 0, present = 0;
  bool changed = false;
  Status s = store->ForEachBlockIn(r.ino, r.group * gb, (r.group + 1) * gb, [&](uint64_t idx, std::string_view v) {
    while (k < unit.blocks.size() && unit.blocks[k].first < idx) ++k;  // gone since the export
    ++present;
    if (k >= unit.blocks.size() || unit.blocks[k].first != idx || unit.blocks[k].second != v) {
      *why = "block " + std::to_string(idx) + " changed";
      changed = true;
      return false;
    }
    ++k;
    return true;
  }, /*verify=*/false);  // (compared byte for byte with the exported values)
  if (!s.ok()) {
    *err = s;
    return kStale;
  }
  if (changed) return kStale;
  if (present != unit.blocks.size()) {
    // None left and the group is ours: an earlier ingest put it in.
    std::string cur;
    if (present == 0 && store->GetGroup(r.ino, r.group, &cur).ok() && cur == r.value) return kAlready;
    *why = "blocks changed";
    return kStale;
  }
  return kIn;
}
// For a group value coded against references: its segments' objects, each
// of which must still be in the store (an object goes only when nothing
// holds it; the swap adds the group's holds in its own write). kStale and
// *why otherwise; a failed read sets *err.
Outcome CheckObjects(Store* store, std::string_view value, std::vector<RefSegmentKey>* deps, std::string* why,
                     Status* err) {
  deps->clear();
  Status s = BlockRefs(value, deps);
  if (!s.ok()) {
    *err = Status::Corruption("a coded group's reference list: " + s.message());
    return kStale;
  }
  std::set<uint64_t> seen;
  for (const RefSegmentKey& d : *deps) {
    if (!seen.insert(d.object).second) continue;
    std::string rec;
    s = store->GetRefObject(d.object, &rec);
    if (s.IsNotFound()) {
      *why = "its reference object " + std::to_string(d.object) + " is gone";
      return kStale;
    }
    if (!s.ok()) {
      *err = s;
      return kStale;
    }
  }
  return kIn;
}
}  // namespace

Result<IngestReport> IngestResults(Store* store, ArchiveHost* host, const std::string& dir, const IngestOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  auto e = ExportRecord::Read(dir);
  if (!e.ok()) return e.status();
  if (e->block_size != store->block_size() || e->group_blocks != store->group_blocks())
    return Status::InvalidArgument(dir + ": exported from a store with other block or group sizes");
  IngestReport rep;
  rep.shards = e->shards;
  auto note = [&](std::string line) {
    if (rep.notes.size() < kMaxNotes) rep.notes.push_back(std::move(line));
  };
  std::map<uint64_t, std::string> sketches;  // each exported file's sketch record
  PMKLC_RETURN_IF_ERROR(ReadFileRecords(dir, &sketches));
  // Per file: its exported groups, those not in (yet), and the ctime exported.
  struct FileState {
    Time ctime;
    uint64_t open = 0;  // groups neither in, in already, nor no smaller
  };
  std::map<uint64_t, FileState> files;
  for (uint32_t i = 0; i < e->shards; ++i) {
    UnitsFile file;
    PMKLC_RETURN_IF_ERROR(ReadUnits(UnitsPath(dir, i), &file));
    const std::vector<Unit>& units = file.units;
    std::map<std::pair<uint64_t, uint64_t>, const Unit*> by_key;
    for (const Unit& u : units) {
      files[u.ino].ctime = u.ctime;
      files[u.ino].open++;
      by_key[{u.ino, u.group}] = &u;
    }
    uint64_t groups = 0;
    Status d = CheckDone(dir, i, e->shards, &groups);
    if (d.IsNotFound()) {
      rep.shards_missing++;
      note("shard " + std::to_string(i) + " is not done: its " + std::to_string(units.size()) +
           " group(s) stay pending (run its worker, then ingest again)");
      continue;
    }
    PMKLC_RETURN_IF_ERROR(d);
    if (groups != units.size()) return Status::Corruption(DonePath(dir, i) + ": its group count differs from its units");
    if (units.empty()) continue;
    rocksdb::Options ropts;
    rocksdb::SstFileReader reader(ropts);
    rocksdb::Status rs = reader.Open(SstPath(dir, i));
    if (!rs.ok()) return Status::Corruption(SstPath(dir, i) + ": " + rs.ToString());
    // (its XXH3 matched its .done above, and each block's checksum is
    // checked as it is read)
    std::unique_ptr<rocksdb::Iterator> it(reader.NewIterator(rocksdb::ReadOptions()));
    uint64_t seen = 0;
    // An unmounted store (the host is exclusive): the shard's fresh groups
    // go in at once, as SST files (Store::FileBatch); a mounted one's, each
    // in a batch under its file's lock.
    std::unique_ptr<Store::FileBatch> fb;
    std::vector<std::pair<FileState*, uint64_t>> in_batch;  // (its file, its bytes) per group in fb
    if (host->exclusive() && o.as_files) {
      auto b = store->NewFileBatch(store->path() + "/ingest.tmp");
      if (!b.ok()) return b.status();
      fb = std::move(b).value();
    }
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      Result1 r;
      PMKLC_RETURN_IF_ERROR(ParseResult(it->key().ToStringView(), it->value().ToStringView(), &r));
      auto u = by_key.find({r.ino, r.group});
      if (u == by_key.end() || u->second->hash != r.unit_hash)
        return Status::Corruption(SstPath(dir, i) + ": a result for a unit this shard does not hold");
      ++seen;
      const Unit& unit = *u->second;
      FileState& f = files[r.ino];
      if (!r.coded) {
        rep.no_gain++;
        f.open--;
        continue;
      }
      // The swap: only if the file still holds exactly what was exported.
      std::string why;
      Outcome outcome = kStale;
      Status err;
      std::vector<RefSegmentKey> deps;
      if (fb) {
        // This process has the store to itself: checked now, swapped in
        // with the shard's other groups at its end, as SST files.
        auto now = store->GetInode(r.ino);
        if (now.status().IsNotFound()) why = "deleted";
        else if (!now.ok()) return now.status();
        else outcome = CheckUnit(store, *now, unit, r, &why, &err);
        PMKLC_RETURN_IF_ERROR(err);
        if (outcome == kIn) outcome = CheckObjects(store, r.value, &deps, &why, &err);
        PMKLC_RETURN_IF_ERROR(err);
        if (outcome == kIn) {
          PMKLC_RETURN_IF_ERROR(fb->PutGroup(r.ino, r.group, r.value));
          for (auto& [idx, v] : unit.blocks) PMKLC_RETURN_IF_ERROR(fb->DeleteBlock(r.ino, idx));
          for (const RefSegmentKey& d : deps) fb->PutHold(Store::kHoldFile, r.ino, d.object);
          in_batch.push_back({&f, r.value.size()});
          continue;
        }
      } else {
        Status s = host->Commit(r.ino, [&](const InodeAttr& now, Store::Batch* b) -> Status {
          outcome = CheckUnit(store, now, unit, r, &why, &err);
          PMKLC_RETURN_IF_ERROR(err);
          if (outcome == kIn) outcome = CheckObjects(store, r.value, &deps, &why, &err);
          PMKLC_RETURN_IF_ERROR(err);
          if (outcome != kIn) return Status::Busy(why);
          b->PutGroup(r.ino, r.group, r.value);
          for (auto& [idx, v] : unit.blocks) b->DeleteBlock(r.ino, idx);
          // The group depends on these objects (coded against references):
          // the holds keep them, in the same batch.
          for (const RefSegmentKey& d : deps) b->PutHold(Store::kHoldFile, r.ino, d.object);
          return Status::OK();
        });
        if (s.IsNotFound()) why = "deleted";
        else if (!s.ok() && !s.IsBusy()) return s;
        if (outcome == kIn && !s.ok()) outcome = kStale;
      }
      if (outcome == kIn) {
        rep.groups++;
        rep.bytes += r.value.size();
        f.open--;
      } else if (outcome == kAlready) {
        rep.already++;
        f.open--;
      } else {
        rep.stale++;
        note("inode " + std::to_string(r.ino) + " group " + std::to_string(r.group) + ": " + why +
             " since the export: refused (the file stays pending)");
      }
    }
    if (!it->status().ok()) return Status::Corruption(SstPath(dir, i) + ": " + it->status().ToString());
    if (seen != units.size()) return Status::Corruption(SstPath(dir, i) + ": holds " + std::to_string(seen) +
                                                        " results for " + std::to_string(units.size()) + " units");
    if (fb && !in_batch.empty()) {
      PMKLC_RETURN_IF_ERROR(fb->Commit());
      for (auto& [f, bytes] : in_batch) {
        rep.groups++;
        rep.bytes += bytes;
        f->open--;
      }
      rep.as_files++;
    }
  }
  // A file whose every exported group is in, and which did not change since
  // the export, is done: its pending mark goes (a file with groups still
  // open, or changed, stays pending for the next pass or export).
  RefPlanner planner(store, host, nullptr, RefPlanOptions{});  // (DropUnneededHolds reads the store only)
  for (auto& entry : files) {
    const uint64_t ino = entry.first;  // (named: clang before 16 cannot capture a structured binding)
    FileState& f = entry.second;
    if (f.open != 0) continue;
    Status s = host->Commit(ino, [&](const InodeAttr& a, Store::Batch* b) -> Status {
      if (!(a.ctime == f.ctime)) return Status::Busy("changed since the export");
      b->DeletePending(ino);
      // As the local archiver finishes a file: holds on objects no group
      // names any more go, and later files may pick this one as a reference.
      if (Status hs = planner.DropUnneededHolds(ino, b); !hs.ok())
        spdlog::warn("ingest: inode {}: holds kept: {}", ino, hs.ToString());
      if (auto sk = sketches.find(ino); sk != sketches.end() && !sk->second.empty()) b->PutSketch(ino, sk->second);
      return Status::OK();
    });
    if (s.ok()) rep.files_done++;
    else if (!s.IsBusy() && !s.IsNotFound()) return s;
  }
  if (rep.groups) store->ScheduleReclaimAll();
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return rep;
}

// ---- the parsers, for the fuzz target -------------------------------------------

Status ParseExportFile(char kind, std::string_view bytes) {
  switch (kind) {
    case 'x': return ExportRecord::Parse(bytes, "export").status();
    case 'u': {
      std::vector<Unit> units;
      return ParseUnits(bytes, "units", &units);
    }
    case 'r': {
      ExportRefs refs;
      PMKLC_RETURN_IF_ERROR(refs.Parse(bytes, "refs"));
      // Every entry unpacks to its bases, each a code 0..3.
      for (auto& [key, e] : refs.entries) {
        std::string codes;
        PMKLC_RETURN_IF_ERROR(refs.AppendCodes({key.first, key.second, e.checksum}, &codes));
        if (codes.size() != e.bases) return Status::Corruption("refs: an entry unpacked to the wrong length");
        for (char c : codes)
          if (static_cast<uint8_t>(c) > 3) return Status::Corruption("refs: a code out of range");
      }
      return Status::OK();
    }
    case 'f': {
      std::map<uint64_t, std::string> files;
      return ParseFileRecords(bytes, "files", &files);
    }
  }
  return Status::InvalidArgument("ParseExportFile: unknown kind");
}

}  // namespace pmklc
