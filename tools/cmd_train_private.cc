// pmklc train private STORE: trains the store's private model (SPrM) on a
// sample of the nucleotide FASTA it holds, with the LibTorch trainer
// (pmklc-train), and installs it: through the daemon when the store is
// mounted (the archiver offers it to the neural profile at once), else
// directly. docs/store.md §Models.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "engine/codec/codec.h"
#include "store/services/control.h"
#include "store/services/store_models.h"
#include "store/services/store_refs.h"
#include "store/store.h"
#include "tools/commands.h"

namespace pmklc::cli {

namespace {

int Fail(const Status& s) {
  std::fprintf(stderr, "pmklc train private: %s\n", s.ToString().c_str());
  return 1;
}

bool IsNucleotideFasta(std::string_view value) {
  auto h = ParseBlockHeader(value);
  return h.ok() && IsNucleotideFastaCodec(h->codec);
}

}  // namespace

int RunTrainer(std::vector<std::string> args) {
  args.insert(args.begin(), "pmklc-train");
  std::vector<char*> av;
  for (auto& x : args) av.push_back(x.data());
  av.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) {
    std::fprintf(stderr, "pmklc train: fork: %s\n", std::strerror(errno));
    return 127;
  }
  if (pid == 0) {
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
      self[n] = 0;
      std::string dir(self);
      dir = dir.substr(0, dir.find_last_of('/'));
      execv((dir + "/pmklc-train").c_str(), av.data());
    }
    execvp("pmklc-train", av.data());
    std::fprintf(stderr, "pmklc train: cannot run pmklc-train (%s); it is built when libtorch-dev is installed\n",
                 std::strerror(errno));
    _exit(127);
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

int RunTrainPrivate(const std::vector<std::string>& in) {
  std::string store_path;
  uint64_t sample_mb = 64;
  // Trainer options. Default: ctx 32, hidden 256 (549 k parameters, 2.2 MB),
  // 3 M steps x 6 epochs: about 10 min on 2 cores, and 3.6% smaller than
  // `max` on the collection role against 2.25% with the public model's shape
  // (hidden 64, 1.5 M x 2; docs/BENCHMARKS.md §Neural tier).
  std::vector<std::pair<std::string, std::string>> pass{
      {"--ctx", "32"}, {"--hidden", "256"}, {"--examples", "3000000"}, {"--epochs", "6"}};
  for (size_t i = 0; i < in.size(); ++i) {
    const std::string& a = in[i];
    if (a == "--sample-mb" && i + 1 < in.size()) {
      sample_mb = std::strtoull(in[++i].c_str(), nullptr, 10);
    } else if (a.rfind("--", 0) == 0 && i + 1 < in.size()) {
      // trainer options (pmklc train file --help) replace the defaults
      std::string v = in[++i];
      bool set = false;
      for (auto& [k, old] : pass)
        if (k == a) old = v, set = true;
      if (!set) pass.emplace_back(a, v);
    } else if (store_path.empty() && a.rfind("-", 0) != 0) {
      store_path = a;
    } else {
      return Fail(Status::InvalidArgument("usage: pmklc train private STORE [--sample-mb N] [trainer options]"));
    }
  }
  if (store_path.empty())
    return Fail(Status::InvalidArgument("usage: pmklc train private STORE [--sample-mb N] [trainer options]"));
  if (sample_mb == 0) return Fail(Status::InvalidArgument("--sample-mb must be > 0"));

  // 1. A sample of the stored nucleotide FASTA (read-only: works while mounted).
  char dir_tmpl[] = "/tmp/pmklc-train-XXXXXX";
  if (!mkdtemp(dir_tmpl)) return Fail(Status::IOError(std::string("mkdtemp: ") + std::strerror(errno)));
  const std::string dir = dir_tmpl;
  struct Cleanup {
    std::string d;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(d, ec);
    }
  } cleanup{dir};
  const std::string sample_path = dir + "/sample.fa", model_path = dir + "/sprm.pmkm";
  uint64_t sampled = 0, files = 0;
  {
    StoreOptions o;
    o.create_if_missing = false;
    o.read_only = true;
    auto st = Store::Open(store_path, o);
    if (!st.ok()) return Fail(st.status());
    Store& s = **st;
    if (auto m = LoadStoreModels(&s); !m.ok()) return Fail(m.status());
    std::vector<uint64_t> inos;
    Status r = s.ForEachInode([&](const InodeAttr& a) {
      if (S_ISREG(a.mode) && a.size > 0) inos.push_back(a.ino);
      return true;
    });
    if (!r.ok()) return Fail(r);
    const uint64_t cap = sample_mb << 20;
    const uint64_t per_file = std::max<uint64_t>(cap / std::max<size_t>(1, inos.size()), 1u << 20);
    std::ofstream out(sample_path, std::ios::binary);
    StoreRefs segs(&s, size_t{256} << 20);  // groups coded against references
    Status bad;
    for (uint64_t ino : inos) {
      if (sampled >= cap) break;
      uint64_t got = 0;
      auto take = [&](std::string_view value) {
        if (!IsNucleotideFasta(value)) return true;
        std::string raw;
        Status d = DecodeBlock(value, &raw, nullptr, &segs);
        if (!d.ok()) {
          bad = d;
          return false;
        }
        out << "\n>\n" << raw;  // blocks need not start at a line: a header line separates them
        got += raw.size();
        return got < per_file && sampled + got < cap;
      };
      Status g = s.ForEachGroupOf(ino, [&](uint64_t, std::string_view v) { return take(v); });
      if (g.ok() && bad.ok() && got < per_file) g = s.ForEachBlockOf(ino, [&](uint64_t, std::string_view v) { return take(v); });
      if (!g.ok()) return Fail(g);
      if (!bad.ok()) return Fail(bad);
      sampled += got;
      files += got > 0;
    }
    out.close();
    if (!out) return Fail(Status::IOError("cannot write " + sample_path));
  }
  if (sampled == 0) return Fail(Status::NotFound("the store holds no nucleotide FASTA to train on"));
  std::fprintf(stderr, "pmklc train private: %.1f MB of FASTA from %llu file(s)\n", sampled / 1e6,
               static_cast<unsigned long long>(files));

  // 2. Train.
  std::vector<std::string> args{"file", "--out", model_path};
  for (auto& [k, v] : pass) {
    args.push_back(k);
    args.push_back(v);
  }
  args.push_back(sample_path);
  const int rc = RunTrainer(args);
  if (rc != 0) return Fail(Status::IOError("pmklc-train exited with status " + std::to_string(rc)));

  // 3. Install: through the daemon if the store is mounted, else here.
  auto reply = ControlRequest(store_path, "install-model " + model_path);
  if (reply.ok()) {
    std::printf("%s (through the mount's daemon)\n", reply->c_str());
    return 0;
  }
  if (!reply.status().IsNotFound()) return Fail(reply.status());
  std::ifstream f(model_path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  StoreOptions o;
  o.create_if_missing = false;
  auto st = Store::Open(store_path, o);
  if (!st.ok()) return Fail(st.status());
  auto m = InstallPrivateModel(st->get(), ss.str());
  if (!m.ok()) return Fail(m.status());
  std::printf("ok installed %016llx\n", static_cast<unsigned long long>((*m)->id));
  return 0;
}

}  // namespace pmklc::cli
