// Rebuilding a block from its layout, text lines and residues (decode side,
// shared by the FASTA decoders).
#include <cstring>

#include "engine/fasta/fasta_lines.h"

namespace pmklc::fasta {

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
