// Rebuilding a block from its layout, text lines and residues (decode side,
// shared by the FASTA decoders).
#include <cstring>

#include "engine/fasta/fasta_lines.h"
#include "engine/fasta/header_coder.h"

namespace pmklc::fasta {

Status ReadLineStreams(std::string_view meta, size_t raw_len, LinesToRender* lines,
                       std::vector<std::string>* text, std::string_view* rest) {
  Reader m(meta);
  uint64_t n_lines, n_text;
  if (!m.GetVarint(&n_lines) || !m.GetVarint(&n_text) || n_text > n_lines || n_lines > raw_len + 1)
    return Status::Corruption("fasta: bad line counts");
  std::string_view after = m.rest();
  PMKLC_RETURN_IF_ERROR(DecodeTextLines(&after, static_cast<size_t>(n_text), text));
  Reader m2(after);
  if (!m2.GetSection(&lines->layout)) return Status::Corruption("fasta: bad layout");
  lines->n_lines = n_lines;
  lines->text = text;
  *rest = m2.rest();
  return Status::OK();
}

Status RenderLines(const LinesToRender& in, size_t raw_len, char* out) {
  LayoutReader lr(in.layout);
  uint64_t token, lines = 0, rpos = 0;
  size_t ti = 0, o = 0;
  const std::string_view res = in.residues;
  while (lr.Next(&token)) {
    ++lines;
    if (lines > in.n_lines) return Status::Corruption("fasta: more lines than recorded");
    if (token == 0) {
      if (ti >= in.text->size()) return Status::Corruption("fasta: missing text line");
      const std::string& t = (*in.text)[ti++];
      if (t.size() > raw_len - o) return Status::Corruption("fasta: output overflow");
      std::memcpy(out + o, t.data(), t.size());
      o += t.size();
    } else {
      uint64_t len = token - 1;
      if (len > res.size() - rpos || len > raw_len - o) return Status::Corruption("fasta: bad line length");
      std::memcpy(out + o, res.data() + rpos, static_cast<size_t>(len));
      o += len;
      rpos += len;
    }
    if (!(lines == in.n_lines && in.unterminated)) {
      if (o >= raw_len) return Status::Corruption("fasta: output overflow");
      out[o++] = '\n';
    }
  }
  if (!lr.ok() || lines != in.n_lines || ti != in.text->size() || rpos != res.size() || o != raw_len)
    return Status::Corruption("fasta: layout does not match the block");
  return Status::OK();
}

}  // namespace pmklc::fasta
