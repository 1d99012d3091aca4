// codec_digest — prints one line per (input, profile: fast, balanced, max, neural): the XXH3-64 of the
// container `pmklc compress -p PROFILE` would write, and whether it decodes
// back. Built twice (-march=x86-64-v2 and -march=native, see
// tests/CMakeLists.txt); tests/determinism/compare.sh requires identical
// output from both, so code generation cannot change a coded byte.
//
// Usage: codec_digest [FILE...]   (built-in synthetic inputs always run)
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "engine/codec/codec.h"
#include "engine/container/container.h"

using namespace pmklc;

namespace {

std::vector<std::pair<std::string, std::string>> Synthetic() {
  std::mt19937_64 rng(42);
  std::vector<std::pair<std::string, std::string>> v;
  std::string dna = ">chr1 synthetic\n";
  const char* acgt = "ACGT";
  std::string seq;
  while (seq.size() < 400000) {
    if (seq.size() > 10000 && rng() % 3 == 0) {
      size_t from = rng() % (seq.size() - 3000);
      for (size_t i = 0; i < 2000; ++i) seq.push_back(rng() % 40 ? seq[from + i] : acgt[rng() % 4]);
    } else {
      for (int i = 0; i < 500; ++i) seq.push_back(acgt[rng() % 4]);
    }
  }
  for (size_t i = 0; i < seq.size(); i += 70) dna += seq.substr(i, 70) + "\n";
  v.emplace_back("dna", dna);
  std::string mixed = ">a desc\r\nACGTNNNNNNNNNNacgtacgtRYKM\r\n>b\r\n";  // CRLF, lowercase, IUPAC, N runs
  for (int i = 0; i < 20000; ++i) mixed.push_back("ACGTacgtNNRY"[rng() % 12]);
  mixed += "\r\n";
  v.emplace_back("mixed", mixed);
  std::string prot = ">sp|P1|X protein\n";
  for (int i = 0; i < 50000; ++i) prot.push_back("ACDEFGHIKLMNPQRSTVWY"[rng() % 20]);
  v.emplace_back("protein", prot + "\n");
  std::string bin(100000, '\0');
  for (auto& c : bin) c = static_cast<char>(rng());
  v.emplace_back("binary", bin);
  v.emplace_back("empty", "");
  return v;
}

Status Unpack(const std::string& c, std::string* out) {
  size_t pos = 0;
  ContainerReader r([&](char* buf, size_t n) -> Result<size_t> {
    size_t k = std::min(n, c.size() - pos);
    std::memcpy(buf, c.data() + pos, k);
    pos += k;
    return k;
  });
  out->clear();
  std::string block;
  for (bool eof = false;;) {
    PMKLC_RETURN_IF_ERROR(r.Next(&block, &eof));
    if (eof) return Status::OK();
    out->append(block);
  }
}

}  // namespace

int main(int argc, char** argv) {
  auto inputs = Synthetic();
  for (int i = 1; i < argc; ++i) {
    std::ifstream f(argv[i], std::ios::binary);
    if (!f) {
      std::fprintf(stderr, "codec_digest: cannot read %s\n", argv[i]);
      return 2;
    }
    std::stringstream ss;
    ss << f.rdbuf();
    std::string name = argv[i];
    inputs.emplace_back(name.substr(name.find_last_of('/') + 1), ss.str());
  }
  int bad = 0;
  for (auto& [name, data] : inputs) {
    for (const char* profile : {"fast", "balanced", "max", "neural"}) {
      auto co = ContainerOptionsFor(profile);
      if (!co.ok()) return 2;
      co->block_size = 1u << 20;  // several blocks on the larger inputs
      // neural: 3 blocks at once (W = 3; the DMs pass from block to block),
      // every network mixed.
      co->workers = 3;
      co->encode.neural.select = false;
      if (std::string(profile) == "neural") co->block_size = 128u << 10;
      std::string c;
      ContainerWriter w([&](std::string_view b) { c.append(b); return Status::OK(); }, *co);
      if (!w.Append(data).ok() || !w.Finish().ok()) return 2;
      std::string back;
      bool ok = Unpack(c, &back).ok() && back == data;
      if (!ok) ++bad;
      std::printf("%-16s %-9s %10zu bytes  xxh3 %016llx  %s\n", name.c_str(), profile, c.size(),
                  static_cast<unsigned long long>(BlockChecksum(c)), ok ? "round-trip ok" : "ROUND-TRIP FAILED");
    }
  }
  return bad ? 1 : 0;
}
