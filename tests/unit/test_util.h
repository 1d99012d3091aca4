// Helpers for unit tests: temporary directories (removed at scope exit) and
// the FNV-1a digest that golden-bytes tests pin.
#pragma once
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

namespace pmklc::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "pmklc-test-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string sub(const std::string& s) const { return path_ + "/" + s; }

 private:
  std::string path_;
};

// 64-bit FNV-1a of s (the digest golden-bytes tests pin; changing it would
// change every pinned value).
inline uint64_t Fnv(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// DNA-like codes: skewed random stretches and 3%-mutated copies of earlier
// stretches (the neural tests' genome).
inline std::vector<uint8_t> CopiedStretches(size_t n, uint64_t seed) {
  std::mt19937_64 g(seed);
  std::vector<uint8_t> c;
  while (c.size() < n) {
    if (c.size() > 5000 && g() % 3 == 0) {
      const size_t from = g() % (c.size() - 2000);
      for (size_t i = 0; i < 1500 && c.size() < n; ++i) c.push_back(g() % 30 ? c[from + i] : g() % 4);
    } else {
      for (int i = 0; i < 400 && c.size() < n; ++i) c.push_back((g() % 5) % 4);  // skewed
    }
  }
  return c;
}

// A toy repeat-rich genome: random sequence with many copies of a few
// 300-base "elements", each copy diverged by `div` percent point
// mutations, a third of them reverse complemented (as Alu and L1 are).
inline std::vector<uint8_t> Interspersed(size_t n, uint32_t seed, int div = 12) {
  std::mt19937 g(seed);
  std::vector<std::vector<uint8_t>> elements(6);
  for (auto& e : elements) {
    e.resize(300);
    for (auto& b : e) b = g() % 4;
  }
  std::vector<uint8_t> v;
  while (v.size() < n) {
    for (int i = 0; i < 150 && v.size() < n; ++i) v.push_back(g() % 4);
    const auto& e = elements[g() % elements.size()];
    const bool rc = g() % 3 == 0;
    for (size_t i = 0; i < e.size() && v.size() < n; ++i) {
      uint8_t b = rc ? static_cast<uint8_t>(3 - e[e.size() - 1 - i]) : e[i];
      if (static_cast<int>(g() % 100) < div) b = g() % 4;
      v.push_back(b);
    }
  }
  return v;
}

}  // namespace pmklc::testing
