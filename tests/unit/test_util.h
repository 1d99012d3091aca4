// Helpers for unit tests: temporary directories (removed at scope exit) and
// the FNV-1a digest that golden-bytes tests pin.
#pragma once
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>

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

}  // namespace pmklc::testing
