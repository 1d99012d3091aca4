// Real genomes for unit tests: lays out ../shared/data/corpus (all roles) in
// /tmp/pmklc-test-corpus (PMKLC_TEST_CORPUS overrides) once, and lists it.
#pragma once
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace pmklc::testing {

// Whether this checkout has the corpus script (../shared/data/corpus): a
// test that needs real genomes skips without it, and fails if the script is
// there but gives it nothing.
inline bool CorpusPresent() {
  return std::filesystem::exists(std::string(PMKLC_SOURCE_DIR) + "/../shared/data/corpus");
}

inline std::vector<std::string> CorpusFiles(std::string* why) {
  namespace fs = std::filesystem;
  const char* env = std::getenv("PMKLC_TEST_CORPUS");
  std::string dir = env ? env : "/tmp/pmklc-test-corpus";
  std::string script = std::string(PMKLC_SOURCE_DIR) + "/../shared/data/corpus";
  if (!fs::exists(script)) {
    *why = "no " + script;
    return {};
  }
  static bool laid_out = false;
  if (!laid_out) {
    std::string cmd = script + " " + dir + " >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) {
      *why = "corpus script failed";
      return {};
    }
    laid_out = true;
  }
  std::vector<std::string> v;
  for (auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file()) v.push_back(e.path().string());
  std::sort(v.begin(), v.end());
  if (v.empty()) *why = "corpus is empty";
  return v;
}

inline std::string ReadFile(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace pmklc::testing
