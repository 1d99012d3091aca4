// fasta_lines.h — line splitting shared by the FASTA codecs (internal).
//
// Layout stream: (token, repeat) varint pairs over the block's lines in order;
// token 0 = a text line, token L+1 = a sequence line of L bytes. The last line
// is unterminated when the block does not end in '\n'.
#pragma once

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/status.h"
#include "engine/fasta/varint.h"

namespace pmklc::fasta {

struct Lines {
  std::vector<std::string_view> text;  // text lines, in order (without '\n')
  std::string layout;                  // RLE (token, repeat) pairs
  uint64_t n_lines = 0;
  bool unterminated = false;           // block does not end with '\n'
};

// True if a first partial line looks like the tail of a sequence line rather
// than the tail of a header: mostly letters, '-', '*'.
inline bool LooksLikeSequence(std::string_view line) {
  size_t n = std::min<size_t>(line.size(), 256), good = 0;
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = static_cast<unsigned char>(line[i]);
    good += ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || c == '-' || c == '*' || c == '\r';
  }
  return good * 10 >= n * 9;
}

class LayoutWriter {
 public:
  explicit LayoutWriter(std::string* out) : out_(out) {}
  void Add(uint64_t token) {
    if (count_ && token == token_) { ++count_; return; }
    Flush();
    token_ = token;
    count_ = 1;
  }
  void Flush() {
    if (count_) { PutVarint(out_, token_); PutVarint(out_, count_); }
    count_ = 0;
  }
 private:
  std::string* out_;
  uint64_t token_ = 0, count_ = 0;
};

// Splits raw into lines; calls on_seq(const char* p, size_t n) for the bytes
// of every sequence line, in order. on_seq returns false to abort (the
// function then returns false).
template <typename SeqFn>
bool SplitLines(std::string_view raw, Lines* out, SeqFn&& on_seq) {
  out->text.clear();
  out->layout.clear();
  out->n_lines = 0;
  out->unterminated = !raw.empty() && raw.back() != '\n';
  LayoutWriter lw(&out->layout);
  const char* p = raw.data();
  const char* end = p + raw.size();
  bool first = true;
  while (p < end) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    const char* le = nl ? nl : end;
    std::string_view line(p, static_cast<size_t>(le - p));
    bool text = !line.empty() && (line[0] == '>' || line[0] == ';');
    if (first && !text && !line.empty() && !LooksLikeSequence(line)) text = true;
    first = false;
    if (text) {
      out->text.push_back(line);
      lw.Add(0);
    } else {
      if (!on_seq(line.data(), line.size())) return false;
      lw.Add(line.size() + 1);
    }
    out->n_lines++;
    p = nl ? nl + 1 : end;
  }
  lw.Flush();
  return true;
}

// A section stored raw or zstd-compressed, whichever is smaller:
// u8 kind (0 raw, 1 zstd) | varint raw length | varint stored length | bytes.
void PutPackedSection(std::string* out, const std::string& raw, int level);
// max_raw bounds the decoded size (Corruption above it), so a corrupt
// length can never make the decoder allocate more than the block needs.
Status GetPackedSection(Reader* r, std::string* raw, uint64_t max_raw);

// Rebuilds a block: each layout line is a text line (next of *text) or the
// next L residues, followed by '\n' unless it is the unterminated last line.
// Corruption unless everything is used exactly and fills raw_len bytes.
struct LinesToRender {
  std::string_view layout;
  uint64_t n_lines = 0;
  bool unterminated = false;
  const std::vector<std::string>* text = nullptr;
  std::string_view residues;
};
Status RenderLines(const LinesToRender& in, size_t raw_len, char* out);

// Reads the start of a FASTA metadata section, common to both codecs:
// varint lines, varint text lines, the text-line coder, the layout section.
// *rest is what follows. Corruption on malformed or inconsistent input.
Status ReadLineStreams(std::string_view meta, size_t raw_len, LinesToRender* lines,
                       std::vector<std::string>* text, std::string_view* rest);

// Iterates a layout stream. Next() yields each line's token.
class LayoutReader {
 public:
  explicit LayoutReader(std::string_view s) : r_(s) {}
  // false at the end or on malformed input (check ok()).
  bool Next(uint64_t* token) {
    while (left_ == 0) {
      if (r_.remaining() == 0) return false;
      if (!r_.GetVarint(&token_) || !r_.GetVarint(&left_) || left_ == 0) { bad_ = true; return false; }
    }
    --left_;
    *token = token_;
    return true;
  }
  bool ok() const { return !bad_; }
 private:
  Reader r_;
  uint64_t token_ = 0, left_ = 0;
  bool bad_ = false;
};

}  // namespace pmklc::fasta
