// pmklc-train — the trainer of the static token networks, a separate binary
// so that LibTorch is loaded only when training (`pmklc train ...` runs it).
//
//   pmklc-train public --data DIR --out models/NAME [options]
//     trains a public model (SPuM) on every regular file under DIR (FASTA or
//     raw sequence, sorted by path) and writes NAME.pmkm and the card NAME.md.
//   pmklc-train file --out FILE.pmkm IN... [options]
//     the same on the given files (a private model for `compress --private`).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/models/toknet_predictor.h"
#include "engine/train/train.h"

namespace fs = std::filesystem;
using namespace pmklc;

namespace {

Status ReadFile(const std::string& path, std::string* out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::NotFound("cannot open " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  *out = ss.str();
  return Status::OK();
}

Status WriteFile(const std::string& path, std::string_view bytes) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) return Status::IOError("cannot create " + tmp);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!f) return Status::IOError("write failed: " + tmp);
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return Status::IOError("rename " + tmp + ": " + ec.message());
  return Status::OK();
}

int Fail(const Status& s) {
  std::fprintf(stderr, "pmklc train: %s\n", s.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"pmklc-train: trains the static token networks (SPuM, SPrM) with LibTorch"};
  app.require_subcommand(1);
  std::string data, out;
  std::vector<std::string> inputs;
  TrainOptions o;
  auto common = [&](CLI::App* c) {
    c->add_option("--epochs", o.epochs, "Default: 2")->check(CLI::Range(1, 100));
    c->add_option("--examples", o.max_examples, "steps sampled per epoch. Default: 3145728");
    c->add_option("--ctx", o.shape.ctx, "context tokens. Default: 24")->check(CLI::Range(1, 256));
    c->add_option("--hidden", o.shape.hidden, "hidden units (multiple of 8). Default: 256");
    c->add_option("--lr", o.lr, "Adam step. Default: 0.002");
    c->add_option("--seed", o.seed, "Default: 1");
    c->add_option("--threads", o.threads, "LibTorch threads. Default: all cores");
  };
  auto pub = app.add_subcommand("public", "train a public model on a folder of genomes");
  pub->add_option("--data", data, "folder of FASTA files (the corpus's train role)")->required();
  pub->add_option("--out", out, "output path without extension (writes OUT.pmkm and OUT.md)")->required();
  common(pub);
  auto file = app.add_subcommand("file", "train a private model on the given files");
  file->add_option("--out", out, "output model file")->required();
  file->add_option("IN", inputs, "FASTA files")->required();
  common(file);
  auto ev = app.add_subcommand("eval", "a model's own bits per base on FASTA files (our CPU kernels)");
  std::string model_path;
  ev->add_option("--model", model_path, "model file")->required();
  ev->add_option("IN", inputs, "FASTA files")->required();
  CLI11_PARSE(app, argc, argv);

  if (ev->parsed()) {
    std::string bytes;
    Status s = ReadFile(model_path, &bytes);
    if (!s.ok()) return Fail(s);
    auto m = ParseModel(bytes);
    if (!m.ok()) return Fail(m.status());
    std::printf("| file | bases | bits/base (%s alone) |\n|---|---|---|\n", m->name.c_str());
    for (auto& p : inputs) {
      std::string raw;
      s = ReadFile(p, &raw);
      if (!s.ok()) return Fail(s);
      std::vector<uint8_t> codes;
      AppendTrainingCodes(raw, &codes);
      // One stream per ACGT run, as in training and as the coder sees them.
      double bits = 0;
      size_t n = 0, run = 0;
      for (size_t i = 0; i <= codes.size(); ++i) {
        if (i < codes.size() && codes[i] != 4) continue;
        TokNetPredictor pr(m->shape, m->weights.data(), 0.0f);
        for (size_t j = run; j < i; ++j) {
          uint32_t q[4];
          pr.Predict(q);
          bits += -std::log2(q[codes[j]] / 65536.0);
          pr.Update(codes[j]);
        }
        n += i - run;
        run = i + 1;
      }
      std::printf("| %s | %zu | %.4f |\n", fs::path(p).filename().c_str(), n, n ? bits / n : 0.0);
    }
    return 0;
  }

  if (pub->parsed()) {
    std::error_code ec;
    if (!fs::is_directory(data, ec)) return Fail(Status::NotFound("--data: not a folder: " + data));
    for (auto& e : fs::recursive_directory_iterator(data, ec))
      if (e.is_regular_file() && e.path().filename().string()[0] != '.') inputs.push_back(e.path().string());
    std::sort(inputs.begin(), inputs.end());
    if (inputs.empty()) return Fail(Status::NotFound("--data: no files in " + data));
  }
  std::vector<uint8_t> codes;
  std::string listing;
  for (auto& p : inputs) {
    std::string bytes;
    Status s = ReadFile(p, &bytes);
    if (!s.ok()) return Fail(s);
    const size_t before = codes.size();
    AppendTrainingCodes(bytes, &codes);
    listing += "- `" + fs::path(p).filename().string() + "`: " + std::to_string(bytes.size()) + " bytes, " +
               std::to_string(codes.size() - before) + " codes\n";
    std::fprintf(stderr, "pmklc train: %s (%zu bytes)\n", p.c_str(), bytes.size());
  }
  o.log = [](const std::string& line) { std::fprintf(stderr, "pmklc train: %s\n", line.c_str()); };
  TrainReport rep;
  auto m = TrainTokNet(codes, o, &rep);
  if (!m.ok()) return Fail(m.status());
  char summary[512];
  std::snprintf(summary, sizeof summary,
                "k=%d s=%d ctx=%d hidden=%d; %zu parameters; %zu ACGT bases; %zu steps x %d epochs; "
                "final training loss %.4f bits/base; %.0f s wall",
                o.shape.k, o.shape.s, o.shape.ctx, o.shape.hidden, rep.parameters, rep.bases, rep.examples,
                rep.epochs, rep.final_loss_bits_per_base, rep.seconds);
  m->name = fs::path(out).stem().string();
  m->card = summary;
  const std::string path = pub->parsed() ? out + ".pmkm" : out;
  std::string bytes = SerializeModel(&*m);
  Status s = WriteFile(path, bytes);
  if (!s.ok()) return Fail(s);
  std::fprintf(stderr, "pmklc train: wrote %s (%zu bytes, id %016llx): %s\n", path.c_str(), bytes.size(),
               static_cast<unsigned long long>(m->id), summary);
  if (pub->parsed()) {
    std::string cmd;
    for (int i = 0; i < argc; ++i) cmd += std::string(i ? " " : "") + argv[i];
    std::string card = "# " + m->name + " (public model, SPuM)\n\n" + "- Shape: " + summary + "\n- File: `" +
                       fs::path(path).filename().string() + "`, " + std::to_string(bytes.size()) +
                       " bytes, id `" + [&] {
                         char b[20];
                         std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(m->id));
                         return std::string(b);
                       }() + "`\n- Training command: `" + cmd + "`\n\n## Data\n\n" + listing;
    s = WriteFile(out + ".md", card);
    if (!s.ok()) return Fail(s);
  }
  return 0;
}
