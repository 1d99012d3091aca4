#include "engine/fasta/header_coder.h"

#include "engine/fasta/header_tokens.h"
#include "engine/fasta/varint.h"

namespace pmklc {

using fasta::kNum;
using fasta::Tokenize;

// Stream layout (all in *out, in this order):
//   section kinds:    one byte per line: 0 verbatim, 1 same template as the
//                     previous line (numbers as zigzag deltas)
//   section texts:    verbatim lines, each followed by '\n'
//   section numbers:  varints, zigzag deltas for kind-1 lines
// Verbatim lines keep their numbers inline, where zstd sees their context.
void EncodeTextLines(const std::vector<std::string_view>& lines, std::string* out) {
  std::string kinds, texts, numbers;
  std::string tmpl, prev_tmpl;
  std::vector<uint64_t> nums, prev_nums;
  bool have_prev = false;
  for (std::string_view line : lines) {
    const bool tokens = Tokenize(line, &tmpl, &nums);
    if (tokens && have_prev && tmpl == prev_tmpl && !nums.empty()) {
      kinds.push_back(1);
      for (size_t i = 0; i < nums.size(); ++i)
        PutVarint(&numbers, ZigZag(static_cast<int64_t>(nums[i] - prev_nums[i])));
    } else {
      kinds.push_back(0);
      texts.append(line);
      texts.push_back('\n');
    }
    if (!tokens) {
      have_prev = false;
      continue;
    }
    prev_tmpl.swap(tmpl);
    prev_nums.swap(nums);
    have_prev = true;
  }
  PutSection(out, kinds);
  PutSection(out, texts);
  PutSection(out, numbers);
}

}  // namespace pmklc
