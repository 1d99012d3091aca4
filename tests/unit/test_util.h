// Temporary directories for unit tests (removed at scope exit).
#pragma once
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

}  // namespace pmklc::testing
