// pmklc compress / decompress: the standalone container (docs/format.md §Container).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <fstream>
#include <set>
#include <algorithm>
#include <sstream>
#include <string>

#include "engine/container/container.h"
#include "engine/models/cm_batch.h"
#include "engine/models/neural_batch.h"
#include "engine/ref/ref_select.h"
#include "tools/commands.h"

namespace pmklc::cli {

namespace {

// Output goes to a temporary file beside the target, renamed into place only
// when everything succeeded, so a failure never leaves a wrong file behind.
class Output {
 public:
  Status Open(const std::string& path, bool to_stdout, bool force) {
    if (to_stdout) { fd_ = 1; return Status::OK(); }
    path_ = path;
    struct stat st;
    if (stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
      // A FIFO, /dev/null or a device: write to it directly.
      if (S_ISDIR(st.st_mode)) return Status::IsDir(path + " is a directory");
      fd_ = open(path.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd_ < 0) return Status::IOError("cannot open " + path + ": " + std::strerror(errno));
      direct_ = true;
      return Status::OK();
    }
    if (!force && stat(path.c_str(), &st) == 0) return Status::Exists(path + " exists (use -f to overwrite)");
    tmp_ = path + ".pmklc-tmp-" + std::to_string(getpid());
    fd_ = open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) return Status::IOError("cannot create " + tmp_ + ": " + std::strerror(errno));
    return Status::OK();
  }
  Status Write(std::string_view b) {
    while (!b.empty()) {
      ssize_t n = write(fd_, b.data(), b.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return errno == ENOSPC ? Status::NoSpace("writing output: disk full")
                               : Status::IOError(std::string("writing output: ") + std::strerror(errno));
      }
      b.remove_prefix(static_cast<size_t>(n));
    }
    return Status::OK();
  }
  Status Commit() {
    if (direct_) {
      int fd = fd_;
      fd_ = -1;
      return close(fd) == 0 ? Status::OK() : Status::IOError("closing output failed");
    }
    if (tmp_.empty()) return Status::OK();
    if (fsync(fd_) != 0 || close(fd_) != 0) { fd_ = -1; return Status::IOError("closing output failed"); }
    fd_ = -1;
    if (rename(tmp_.c_str(), path_.c_str()) != 0) return Status::IOError("cannot rename output into place");
    tmp_.clear();
    return Status::OK();
  }
  ~Output() {
    if (direct_ && fd_ > 2) close(fd_);
    if (!tmp_.empty()) {
      if (fd_ >= 0) close(fd_);
      unlink(tmp_.c_str());
    }
  }

 private:
  int fd_ = -1;
  bool direct_ = false;
  std::string path_, tmp_;
};

class Input {
 public:
  Status Open(const std::string& path) {
    if (path == "-") { fd_ = 0; return Status::OK(); }
    fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) return Status::NotFound("cannot open " + path + ": " + std::strerror(errno));
    struct stat st;
    if (fstat(fd_, &st) == 0 && S_ISREG(st.st_mode)) size_ = static_cast<uint64_t>(st.st_size);
    if (fstat(fd_, &st) == 0 && S_ISDIR(st.st_mode)) return Status::IsDir(path + " is a directory");
    return Status::OK();
  }
  Result<size_t> Read(char* buf, size_t n) {
    for (;;) {
      ssize_t r = read(fd_, buf, n);
      if (r >= 0) return static_cast<size_t>(r);
      if (errno != EINTR) return Status::IOError(std::string("reading input: ") + std::strerror(errno));
    }
  }
  uint64_t size() const { return size_; }
  ~Input() { if (fd_ > 2) close(fd_); }

 private:
  int fd_ = -1;
  uint64_t size_ = 0;
};

class Progress {
 public:
  Progress(const char* verb, uint64_t total) : verb_(verb), total_(total), on_(isatty(2)) {}
  void Update(uint64_t done) {
    if (!on_) return;
    auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(250)) return;
    last_ = now;
    if (total_) std::fprintf(stderr, "\r%s %5.1f%% (%llu MiB)", verb_, 100.0 * done / total_, (unsigned long long)(done >> 20));
    else std::fprintf(stderr, "\r%s %llu MiB", verb_, (unsigned long long)(done >> 20));
  }
  void Done() { if (on_ && last_ != std::chrono::steady_clock::time_point{}) std::fprintf(stderr, "\r\033[K"); }

 private:
  const char* verb_;
  uint64_t total_;
  bool on_;
  std::chrono::steady_clock::time_point last_{};
};

int Fail(const char* cmd, const Status& s) {
  std::fprintf(stderr, "pmklc %s: %s\n", cmd, s.ToString().c_str());
  return 1;
}

// The whole of a (reference) file; at most 4 GiB.
Result<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::NotFound("cannot open " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  if (f.bad()) return Status::IOError("reading " + path);
  if (ss.str().size() > (uint64_t{4} << 30)) return Status::InvalidArgument(path + ": a reference may be at most 4 GiB");
  return ss.str();
}
// --ref FILE: the reference file (nullptr when path is empty).
Result<std::unique_ptr<ref::FileRef>> LoadReference(const std::string& path) {
  if (path.empty()) return std::unique_ptr<ref::FileRef>();
  auto bytes = ReadWholeFile(path);
  if (!bytes.ok()) return bytes.status();
  return std::make_unique<ref::FileRef>(std::move(*bytes));
}

// Where decompress writes when no output is named: IN without ".pmklc";
// InvalidArgument (ending in `hint`) when IN does not end so.
Result<std::string> DefaultOutput(const std::string& in, const char* hint) {
  const std::string suf = ".pmklc";
  if (in.size() <= suf.size() || in.compare(in.size() - suf.size(), suf.size(), suf) != 0)
    return Status::InvalidArgument(in + " does not end in .pmklc; " + hint);
  return in.substr(0, in.size() - suf.size());
}

}  // namespace

// --device: the GPUs the nucleotide streams go to (none: the CPU), and the
// batcher that gathers the W blocks coded at once for them. Checked before
// any output is opened.
// Blocks when a GPU codes them (compress without -B). Default: 1 MiB
constexpr uint32_t kGpuBlockSize = 1u << 20;

struct DeviceUse {
  std::vector<int> gpus;
  std::unique_ptr<CmBatcher> batcher;
};
Result<DeviceUse> UseDevice(const CompressArgs& a) {
  auto d = ParseDevice(a.device);
  if (!d.ok()) return d.status();
  auto g = ResolveDevice(*d);
  if (!g.ok()) return g.status();
  DeviceUse u;
  u.gpus = std::move(*g);
  return u;
}

// With a GPU: the blocks coded at once (W) are gathered into one batch by a
// CmBatcher that the codec calls instead of CmEncode/CmDecode. bump: W is
// 64 unless -j (compress with a context-mixing profile; a reader keeps -j,
// since it cannot know the container's profile before it starts), and the
// blocks are 1 MiB unless -B (block_size non-null): a GPU codes one stream
// a thread, so a file must make many streams (a 16 MiB block would be one
// GPU thread's work; BENCHMARKS.md §GPU-parallel coding has the ratio cost).
void AttachBatcher(const CompressArgs& a, DeviceUse* u, int* workers, bool bump, uint32_t* block_size = nullptr) {
  if (u->gpus.empty()) return;
  if (bump && !a.workers_given) *workers = static_cast<int>(kMaxSubBlocks);
  if (bump && block_size && !a.block_size_given) *block_size = kGpuBlockSize;
  u->batcher = std::make_unique<CmBatcher>(*ParseDevice(a.device), static_cast<size_t>(*workers));
}

void ReportDevice(const CompressArgs& a, const DeviceUse& u, const char* cmd) {
  if (!a.verbose || !u.batcher) return;
  const auto st = u.batcher->stats();
  std::fprintf(stderr, "pmklc %s: nucleotide streams: %zu on the GPU (%zu batches), %zu on the CPU%s%s\n", cmd,
               st.on_gpu, st.batches, st.on_cpu, st.gpu_error.empty() ? "" : "; GPU failure: ",
               st.gpu_error.c_str());
  if (NeuralBatcher* nb = u.batcher->neural_batcher()) {
    const auto ns = nb->stats();
    if (ns.batches)
      std::fprintf(stderr, "pmklc %s: neural sub-blocks: %zu on the GPU (%zu batches), %zu on the CPU%s%s\n", cmd,
                   ns.on_gpu, ns.batches, ns.on_cpu, ns.gpu_error.empty() ? "" : "; GPU failure: ",
                   ns.gpu_error.c_str());
  }
}

int RunCompress(const CompressArgs& a) {
  auto prof = ContainerOptionsFor(a.profile);
  if (!prof.ok()) return Fail("compress", prof.status());
  auto dev = UseDevice(a);
  if (!dev.ok()) return Fail("compress", dev.status());
  if (a.block_size < format::kMinBlockSize || a.block_size > format::kMaxBlockSize)
    return Fail("compress", Status::InvalidArgument("block size must be in [4 KiB, 16 MiB]"));
  Input in;
  Status s = in.Open(a.in);
  if (!s.ok()) return Fail("compress", s);
  bool to_stdout = a.to_stdout || (a.out.empty() && a.in == "-") || a.out == "-";
  std::string out_path = a.out.empty() ? a.in + ".pmklc" : a.out;
  Output out;
  s = out.Open(out_path, to_stdout, a.force);
  if (!s.ok()) return Fail("compress", s);
  ContainerOptions co = *prof;
  if (a.block_size_given || !co.encode.use_cm) co.block_size = a.block_size;
  if (a.workers < 1 || a.workers > static_cast<int>(kMaxSubBlocks))
    return Fail("compress", Status::InvalidArgument("-j must be in [1, 64]"));
  co.workers = a.workers;
  if (a.independent_blocks) co.whole_file_context = false;
  // (max with whole-file context primes every block with the ones before:
  // those streams run on the CPU, so its blocks stay large)
  if (co.encode.use_cm || co.encode.use_neural)
    AttachBatcher(a, &*dev, &co.workers, true, co.whole_file_context ? nullptr : &co.block_size);
  co.encode.cm_coder = dev->batcher.get();
  if (a.no_smp) co.encode.neural.smp_percent = 0;
  co.encode.neural.select = !a.no_select;
  {
    // --models: the candidates. Default (empty): dm, the shipped spum if this
    // build has one, and sprm when --private is given.
    bool dm = true, spum = true, sprm = true;
    if (!a.models.empty()) {
      dm = spum = sprm = false;
      std::stringstream names(a.models);
      for (std::string t; std::getline(names, t, ',');) {
        if (t == "dm") dm = true;
        else if (t == "spum") spum = true;
        else if (t == "sprm") sprm = true;
        else if (t != "none")
          return Fail("compress", Status::InvalidArgument("--models: unknown network '" + t + "' (dm, spum, sprm, none)"));
      }
      if (spum && !co.encode.neural.spum && co.encode.use_neural)
        return Fail("compress", Status::NotFound("this build has no shipped public model (models/spum-v1.pmkm)"));
    }
    co.encode.neural.dm = dm;
    if (!spum) co.encode.neural.spum = nullptr;
    if (!a.private_model.empty()) {
      if (!co.encode.use_neural) return Fail("compress", Status::InvalidArgument("--private needs -p neural"));
      auto bytes = ReadWholeFile(a.private_model);
      if (!bytes.ok()) return Fail("compress", bytes.status());
      if (bytes->size() > kMaxModelFileBytes)
        return Fail("compress", Status::InvalidArgument(a.private_model + ": larger than 64 MiB"));
      auto mdl = ParseModel(*bytes);
      if (!mdl.ok()) return Fail("compress", Status::InvalidArgument(a.private_model + ": " + mdl.status().message()));
      if (sprm) {  // not a candidate: not stored either
        co.private_model = std::move(*bytes);
        co.encode.neural.sprm = std::make_shared<const TokNetModel>(std::move(*mdl));
      }
    }
  }
  if (!a.reference.empty() && co.encode.use_neural)
    return Fail("compress", Status::InvalidArgument("--ref works with -p fast, balanced or max"));
  auto reference = LoadReference(a.reference);
  if (!reference.ok()) return Fail("compress", reference.status());
  if (*reference) {
    co.chooser = reference->get();
    co.reference_id = (*reference)->id();
    co.reference_size = (*reference)->size();
  }
  ContainerWriter w([&](std::string_view b) { return out.Write(b); }, co);
  std::string buf(1u << 20, '\0');
  Progress prog("compressing", in.size());
  for (;;) {
    auto r = in.Read(buf.data(), buf.size());
    if (!r.ok()) return Fail("compress", r.status());
    if (*r == 0) break;
    s = w.Append(std::string_view(buf.data(), *r));
    if (!s.ok()) return Fail("compress", s);
    prog.Update(w.bytes_in());
  }
  s = w.Finish();
  if (s.ok()) s = out.Commit();
  prog.Done();
  if (!s.ok()) return Fail("compress", s);
  if (a.verbose)
    std::fprintf(stderr, "%s: %llu -> %llu bytes (%.3f)\n", a.in.c_str(), (unsigned long long)w.bytes_in(),
                 (unsigned long long)w.bytes_out(), w.bytes_out() ? double(w.bytes_in()) / w.bytes_out() : 0.0);
  ReportDevice(a, *dev, "compress");
  return 0;
}

int RunCompressCollection(const CompressArgs& a) {
  auto prof = ContainerOptionsFor(a.profile);
  if (!prof.ok()) return Fail("compress", prof.status());
  ContainerOptions co = *prof;
  auto dev = UseDevice(a);
  if (!dev.ok()) return Fail("compress", dev.status());
  if (co.encode.use_neural) return Fail("compress", Status::InvalidArgument("collections work with -p fast, balanced or max"));
  if (!a.reference.empty()) return Fail("compress", Status::InvalidArgument("--ref and -o (a collection) do not combine"));
  // 4 MiB blocks unless -B: a member's block names whole blocks of others,
  // and reading one member decodes those too.
  co.block_size = a.block_size_given ? a.block_size : (4u << 20);
  if (co.block_size < format::kMinBlockSize || co.block_size > format::kMaxBlockSize)
    return Fail("compress", Status::InvalidArgument("block size must be in [4 KiB, 16 MiB]"));
  co.workers = a.workers;
  if (co.encode.use_cm) AttachBatcher(a, &*dev, &co.workers, true);
  co.encode.cm_coder = dev->batcher.get();
  std::set<std::string> names;
  for (const std::string& f : a.inputs) {
    std::error_code ec;
    const auto sz = std::filesystem::file_size(f, ec);
    if (ec) return Fail("compress", Status::NotFound("cannot read " + f + ": " + ec.message()));
    const std::string name = std::filesystem::path(f).filename().string();
    if (!IsPlainMemberName(name))
      return Fail("compress", Status::InvalidArgument("cannot store a member named '" + name + "'"));
    if (!names.insert(name).second)
      return Fail("compress", Status::InvalidArgument("two members would be named " + name));
    co.members.emplace_back(name, sz);
  }
  ref::CollectionRefs chooser(kCollectionObject);
  co.chooser = &chooser;
  Output out;
  Status s = out.Open(a.collection_out, a.to_stdout, a.force);
  if (!s.ok()) return Fail("compress", s);
  ContainerWriter w([&](std::string_view b) { return out.Write(b); }, co);
  uint64_t block = 0;
  for (size_t i = 0; i < a.inputs.size(); ++i) {
    auto bytes = ReadWholeFile(a.inputs[i]);
    if (!bytes.ok()) return Fail("compress", bytes.status());
    if (bytes->size() != co.members[i].second)
      return Fail("compress", Status::Busy(a.inputs[i] + " changed while being compressed"));
    chooser.BeginMember(*bytes, block);
    s = w.Append(*bytes);
    if (s.ok()) s = w.EndMember();
    if (!s.ok()) return Fail("compress", s);
    chooser.EndMember();
    block += (bytes->size() + co.block_size - 1) / co.block_size;
  }
  s = w.Finish();
  if (s.ok()) s = out.Commit();
  if (!s.ok()) return Fail("compress", s);
  if (a.verbose)
    std::fprintf(stderr, "%s: %zu members (%zu coded against others), %llu -> %llu bytes\n", a.collection_out.c_str(),
                 a.inputs.size(), chooser.dependent_members(), (unsigned long long)w.bytes_in(),
                 (unsigned long long)w.bytes_out());
  return 0;
}

namespace {
// Decompresses a collection: member a.member (to OUT, or stdout with -c),
// or every member into the directory OUT.
int DecompressCollection(const CompressArgs& a, ContainerFile* f) {
  auto write_member = [&](size_t i, const std::string& path, bool to_stdout) -> Status {
    Output out;
    PMKLC_RETURN_IF_ERROR(out.Open(path, to_stdout, a.force));
    PMKLC_RETURN_IF_ERROR(f->ReadMember(i, [&](std::string_view b) { return out.Write(b); }));
    return out.Commit();
  };
  if (!a.member.empty()) {
    std::string names;
    for (size_t i = 0; i < f->members().size(); ++i) {
      if (f->members()[i].first == a.member) {
        Status s = write_member(i, a.out.empty() ? a.member : a.out, a.to_stdout || a.out == "-");
        return s.ok() ? 0 : Fail("decompress", s);
      }
      names += (i ? ", " : "") + f->members()[i].first;
    }
    return Fail("decompress", Status::NotFound("no member '" + a.member + "' (members: " + names + ")"));
  }
  if (a.to_stdout) return Fail("decompress", Status::InvalidArgument("a collection: name one member with -m to use -c"));
  std::string dir = a.out;
  if (dir.empty()) {
    auto d = DefaultOutput(a.in, "name the output directory");
    if (!d.ok()) return Fail("decompress", d.status());
    dir = std::move(*d);
  }
  for (auto& [name, size] : f->members())
    if (!IsPlainMemberName(name))
      return Fail("decompress", Status::Corruption("member name '" + name + "' is not a plain file name"));
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Fail("decompress", Status::IOError("cannot create " + dir + ": " + ec.message()));
  for (size_t i = 0; i < f->members().size(); ++i) {
    const std::string& name = f->members()[i].first;
    Status s = write_member(i, dir + "/" + name, false);
    if (!s.ok()) return Fail("decompress", s);
  }
  return 0;
}
}  // namespace

int RunDecompress(const CompressArgs& a) {
  auto dev = UseDevice(a);
  if (!dev.ok()) return Fail("decompress", dev.status());
  auto loaded = LoadReference(a.reference);
  if (!loaded.ok()) return Fail("decompress", loaded.status());
  ref::FileRef* reference = loaded->get();
  if (a.in != "-") {
    std::error_code ec;
    if (std::filesystem::is_regular_file(a.in, ec)) {
      auto f = ContainerFile::Open(a.in, reference, reference ? reference->id() : 0);
      if (f.ok() && (*f)->collection()) return DecompressCollection(a, f->get());
      if (!f.ok() && ContainerFile::LooksLikeCollection(a.in)) return Fail("decompress", f.status());
      // Anything else (plain containers, errors) goes through the streaming
      // reader, which names the problem with its byte offset.
    }
  }
  if (!a.member.empty()) return Fail("decompress", Status::InvalidArgument("-m: " + a.in + " is not a collection container"));
  Input in;
  Status s = in.Open(a.in);
  if (!s.ok()) return Fail("decompress", s);
  bool to_stdout = a.to_stdout || (a.out.empty() && a.in == "-") || a.out == "-";
  std::string out_path = a.out;
  if (out_path.empty() && !to_stdout) {
    auto d = DefaultOutput(a.in, "name the output or use -c");
    if (!d.ok()) return Fail("decompress", d.status());
    out_path = std::move(*d);
  }
  Output out;
  s = out.Open(out_path, to_stdout, a.force);
  if (!s.ok()) return Fail("decompress", s);
  if (a.workers < 1 || a.workers > static_cast<int>(kMaxSubBlocks))
    return Fail("decompress", Status::InvalidArgument("-j must be in [1, 64]"));
  int workers = a.workers;
  AttachBatcher(a, &*dev, &workers, false);
  ContainerReader r([&](char* b, size_t n) { return in.Read(b, n); }, workers, reference,
                    reference ? reference->id() : 0, dev->batcher.get());
  std::string block;
  bool eof = false;
  uint64_t done = 0;
  Progress prog("decompressing", in.size());
  while (!eof) {
    s = r.Next(&block, &eof);
    if (!s.ok()) { prog.Done(); return Fail("decompress", s); }
    s = out.Write(block);
    if (!s.ok()) { prog.Done(); return Fail("decompress", s); }
    done += block.size();
    prog.Update(r.bytes_in());
  }
  s = out.Commit();
  prog.Done();
  if (!s.ok()) return Fail("decompress", s);
  ReportDevice(a, *dev, "decompress");
  return 0;
}


namespace {

int UsageError(const char* cmd, const std::string& msg) {
  std::fprintf(stderr, "pmklc %s: %s\n", cmd, msg.c_str());
  return 2;
}

bool EndsWithPmklc(const std::string& p) {
  const std::string suf = ".pmklc";
  return p.size() > suf.size() && p.compare(p.size() - suf.size(), suf.size(), suf) == 0;
}

// Identity of a path for "would this output overwrite that input": the
// device and inode when it exists, else its canonical spelling.
struct PathId {
  bool exists = false;
  dev_t dev = 0;
  ino_t ino = 0;
  std::string canon;
  bool operator==(const PathId& o) const {
    if (exists && o.exists) return dev == o.dev && ino == o.ino;
    return canon == o.canon;
  }
};
PathId IdOf(const std::string& path) {
  PathId id;
  struct stat st;
  if (stat(path.c_str(), &st) == 0) {
    id.exists = true;
    id.dev = st.st_dev;
    id.ino = st.st_ino;
  }
  std::error_code ec;
  id.canon = std::filesystem::weakly_canonical(path, ec).string();
  if (ec) id.canon = path;
  return id;
}

// Plans one output per input (empty: stdout) and refuses, before anything
// is written, an output that is an input or another input's output.
// Returns 0 or the exit code.
int PlanOutputs(const char* cmd, const CompressArgs& a, const std::function<Result<std::string>(const std::string&)>& out_of,
                std::vector<std::string>* outs) {
  const size_t n = a.inputs.size();
  if (n > 1 && !a.out.empty()) return UsageError(cmd, "-o names the output of one input; " + std::to_string(n) + " were given");
  if (n > 1 && a.to_stdout) return UsageError(cmd, "-c writes one input to stdout; " + std::to_string(n) + " were given");
  for (const std::string& in : a.inputs)
    if (in == "-" && n > 1) return UsageError(cmd, "- (stdin) must be the only input");
  std::vector<PathId> in_ids;
  for (const std::string& in : a.inputs) in_ids.push_back(IdOf(in));
  std::vector<PathId> out_ids;
  for (size_t i = 0; i < n; ++i) {
    const std::string& in = a.inputs[i];
    std::string out;
    if (a.to_stdout || a.out == "-" || (in == "-" && a.out.empty())) {
      out.clear();
    } else if (!a.out.empty()) {
      out = a.out;
    } else {
      auto o = out_of(in);
      if (!o.ok()) {
        std::fprintf(stderr, "pmklc %s: %s\n", cmd, o.status().message().c_str());
        return 1;
      }
      out = *o;
    }
    if (!out.empty()) {
      PathId oid = IdOf(out);
      for (size_t j = 0; j < n; ++j)
        if (a.inputs[j] != "-" && oid == in_ids[j]) {
          std::fprintf(stderr, "pmklc %s: %s would overwrite the input %s; nothing written\n", cmd, out.c_str(),
                       a.inputs[j].c_str());
          return 1;
        }
      for (const PathId& o : out_ids)
        if (o == oid) {
          std::fprintf(stderr, "pmklc %s: two inputs would both be written to %s; nothing written\n", cmd, out.c_str());
          return 1;
        }
      out_ids.push_back(oid);
    }
    outs->push_back(out);
  }
  return 0;
}

}  // namespace

int RunCompressFiles(const CompressArgs& a) {
  for (const std::string& in : a.inputs)
    if (in != "-" && EndsWithPmklc(in)) {
      std::fprintf(stderr, "pmklc compress: %s already ends in .pmklc (to make a collection of several files, use --collection OUT)\n",
                   in.c_str());
      return 1;
    }
  std::vector<std::string> outs;
  int rc = PlanOutputs("compress", a, [](const std::string& in) -> Result<std::string> { return in + ".pmklc"; }, &outs);
  if (rc) return rc;
  int worst = 0;
  for (size_t i = 0; i < a.inputs.size(); ++i) {
    CompressArgs one = a;
    one.in = a.inputs[i];
    one.out = outs[i].empty() ? "-" : outs[i];
    one.to_stdout = outs[i].empty();
    worst = std::max(worst, RunCompress(one));
  }
  return worst;
}

int RunDecompressFiles(const CompressArgs& a) {
  if (a.list) {
    int worst = 0;
    for (const std::string& in : a.inputs) {
      auto f = ContainerFile::Open(in);
      if (!f.ok()) {
        worst = std::max(worst, Fail("decompress", Status::InvalidArgument(in + ": " + f.status().message())));
        continue;
      }
      if ((*f)->collection()) {
        for (auto& [name, size] : (*f)->members())
          std::printf("%s\t%llu\t%s\n", in.c_str(), static_cast<unsigned long long>(size), name.c_str());
      } else {
        auto d = DefaultOutput(in, "");
        std::printf("%s\t-\t%s\n", in.c_str(), d.ok() ? std::filesystem::path(*d).filename().c_str() : "-");
      }
    }
    return worst;
  }
  if (!a.member.empty() && a.inputs.size() > 1) return UsageError("decompress", "-m takes one container");
  std::vector<std::string> outs;
  int rc = PlanOutputs("decompress", a, [](const std::string& in) { return DefaultOutput(in, "name the output with -o, or use -c"); }, &outs);
  if (rc) return rc;
  int worst = 0;
  for (size_t i = 0; i < a.inputs.size(); ++i) {
    CompressArgs one = a;
    one.in = a.inputs[i];
    // -m without -o: the member's own name (DecompressCollection's default).
    one.out = (!a.member.empty() && a.out.empty() && !a.to_stdout) ? "" : (outs[i].empty() ? "-" : outs[i]);
    one.to_stdout = outs[i].empty() && !(!a.member.empty() && a.out.empty() && !a.to_stdout);
    worst = std::max(worst, RunDecompress(one));
  }
  return worst;
}

}  // namespace pmklc::cli
