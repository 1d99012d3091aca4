// bench_util.h — what the bench programs share: a monotonic clock in
// seconds, and the A/C/G/T of a FASTA or raw sequence file as codes 0..3
// (header lines and every other byte skipped).
#pragma once

#include <chrono>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace pmklc::bench {

inline double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

inline std::vector<uint8_t> Bases(const char* path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string s = ss.str();
  std::vector<uint8_t> c;
  c.reserve(s.size());
  bool header = false, bol = true;
  for (char ch : s) {
    if (bol) header = ch == '>' || ch == ';';
    bol = ch == '\n';
    if (header) continue;
    switch (ch | 0x20) {
      case 'a': c.push_back(0); break;
      case 'c': c.push_back(1); break;
      case 'g': c.push_back(2); break;
      case 't': c.push_back(3); break;
      default: break;
    }
  }
  return c;
}

}  // namespace pmklc::bench
