// Header tokenizer shared by the text-line encoder and decoder (internal).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pmklc::fasta {

inline constexpr char kNum = '\x01';

inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Splits line into template and numbers. Returns false if the line must be
// kept verbatim (it contains kNum).
inline bool Tokenize(std::string_view line, std::string* tmpl, std::vector<uint64_t>* nums) {
  tmpl->clear();
  nums->clear();
  size_t i = 0, n = line.size();
  while (i < n) {
    char c = line[i];
    if (c == kNum) return false;
    if (!IsDigit(c)) {
      tmpl->push_back(c);
      ++i;
      continue;
    }
    size_t j = i;
    while (j < n && IsDigit(line[j])) ++j;
    size_t len = j - i;
    if (len <= 18 && (len == 1 || line[i] != '0')) {
      uint64_t v = 0;
      for (size_t k = i; k < j; ++k) v = v * 10 + static_cast<uint64_t>(line[k] - '0');
      nums->push_back(v);
      tmpl->push_back(kNum);
    } else {
      tmpl->append(line.substr(i, len));
    }
    i = j;
  }
  return true;
}


}  // namespace pmklc::fasta
