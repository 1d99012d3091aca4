// Decoding of text lines (links without the encoder).
#include "engine/fasta/header_coder.h"

#include "engine/fasta/header_tokens.h"
#include "engine/fasta/varint.h"

namespace pmklc {

using fasta::kNum;
using fasta::Tokenize;

Status DecodeTextLines(std::string_view* in, size_t count, std::vector<std::string>* lines) {
  Reader r(*in);
  std::string_view kinds, texts, numbers;
  if (!r.GetSection(&kinds) || !r.GetSection(&texts) || !r.GetSection(&numbers))
    return Status::Corruption("text lines: truncated");
  if (kinds.size() != count) return Status::Corruption("text lines: count mismatch");
  Reader tr(texts), nr(numbers);
  lines->clear();
  lines->reserve(count);
  std::string prev_tmpl;
  std::vector<uint64_t> prev_nums, nums;
  bool have_prev = false;
  size_t tpos = 0;
  auto next_text = [&](std::string_view* t) -> bool {
    size_t e = texts.find('\n', tpos);
    if (e == std::string_view::npos) return false;
    *t = texts.substr(tpos, e - tpos);
    tpos = e + 1;
    return true;
  };
  for (size_t k = 0; k < count; ++k) {
    uint8_t kind = static_cast<uint8_t>(kinds[k]);
    if (kind == 0) {
      std::string_view t;
      if (!next_text(&t)) return Status::Corruption("text lines: missing verbatim line");
      lines->emplace_back(t);
      std::string tmpl;
      have_prev = Tokenize(t, &tmpl, &nums);
      if (have_prev) {
        prev_tmpl.swap(tmpl);
        prev_nums.swap(nums);
      }
      continue;
    }
    if (kind != 1 || !have_prev || prev_nums.empty()) return Status::Corruption("text lines: bad kind");
    nums.assign(prev_nums.size(), 0);
    for (size_t i = 0; i < nums.size(); ++i) {
      uint64_t v;
      if (!nr.GetVarint(&v)) return Status::Corruption("text lines: truncated numbers");
      nums[i] = prev_nums[i] + static_cast<uint64_t>(UnZigZag(v));
      if (nums[i] > 999999999999999999ull) return Status::Corruption("text lines: number out of range");
    }
    std::string line;
    line.reserve(prev_tmpl.size() + 8 * nums.size());
    size_t ni = 0;
    for (char c : prev_tmpl) {
      if (c == kNum) line += std::to_string(nums[ni++]);
      else line.push_back(c);
    }
    lines->push_back(std::move(line));
    prev_nums.swap(nums);
  }
  if (tpos != texts.size() || nr.remaining() != 0) return Status::Corruption("text lines: trailing bytes");
  *in = r.rest();
  return Status::OK();
}

}  // namespace pmklc
