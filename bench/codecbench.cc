// codecbench FILE [PROFILE [BLOCK_SIZE]] — in-process, one-thread codec
// measurement of a profile (default fast) through the container: prints
//   input_bytes nucleotides output_bytes compress_MBps decompress_MBps
// Each direction repeats until at least 1 s has passed; the MB/s are of input
// (uncompressed) bytes. Output is verified byte-exact.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "engine/container/container.h"

using namespace pmklc;

static uint64_t Nucleotides(const std::string& d) {
  uint64_t n = 0;
  bool header = false, start = true;
  for (char c : d) {
    if (start) header = c == '>' || c == ';';
    start = c == '\n';
    if (!header && (c == 'A' || c == 'C' || c == 'G' || c == 'T' || c == 'a' || c == 'c' || c == 'g' || c == 't')) ++n;
  }
  return n;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: codecbench FILE [PROFILE [BLOCK_SIZE]]\n");
    return 2;
  }
  std::ifstream f(argv[1], std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string data = ss.str();
  std::string profile = argc > 2 ? argv[2] : "fast";
  auto prof = ContainerOptionsFor(profile);  // as `pmklc compress -p PROFILE`
  if (!prof.ok()) {
    std::fprintf(stderr, "%s\n", prof.status().ToString().c_str());
    return 2;
  }
  ContainerOptions co = *prof;
  if (argc > 3) co.block_size = static_cast<uint32_t>(std::atoi(argv[3]));
  using clk = std::chrono::steady_clock;
  std::string c;
  double enc_s = 0;
  int enc_n = 0;
  auto t0 = clk::now();
  do {
    c.clear();
    ContainerWriter w([&](std::string_view b) { c.append(b); return Status::OK(); }, co);
    if (!w.Append(data).ok() || !w.Finish().ok()) return 1;
    ++enc_n;
    enc_s = std::chrono::duration<double>(clk::now() - t0).count();
  } while (enc_s < 1.0);
  std::string out;
  double dec_s = 0;
  int dec_n = 0;
  t0 = clk::now();
  do {
    size_t pos = 0;
    out.clear();
    ContainerReader r([&](char* buf, size_t n) -> Result<size_t> {
      size_t k = std::min(n, c.size() - pos);
      std::memcpy(buf, c.data() + pos, k);
      pos += k;
      return k;
    });
    std::string block;
    bool eof = false;
    while (!eof) {
      if (!r.Next(&block, &eof).ok()) return 1;
      out += block;
    }
    ++dec_n;
    dec_s = std::chrono::duration<double>(clk::now() - t0).count();
  } while (dec_s < 1.0);
  if (out != data) {
    std::fprintf(stderr, "round trip mismatch\n");
    return 1;
  }
  std::printf("%zu %llu %zu %.1f %.1f\n", data.size(), (unsigned long long)Nucleotides(data), c.size(),
              data.size() * enc_n / enc_s / 1e6, data.size() * dec_n / dec_s / 1e6);
  return 0;
}
