// fasta-protein decoder (links without the encoder).
#include <cstring>

#include "engine/fasta/fasta_codec.h"
#include "engine/fasta/fasta_lines.h"
#include "engine/fasta/header_coder.h"
#include "engine/fasta/varint.h"

namespace pmklc {

namespace {
constexpr uint8_t kVersion = 1;
}

Status DecodeFastaProtein(std::string_view payload, size_t raw_len, char* out) {
  Reader r(payload);
  uint8_t version, flags;
  if (!r.GetByte(&version) || !r.GetByte(&flags)) return Status::Corruption("fasta-protein: truncated");
  if (version != kVersion || (flags & ~1u)) return Status::Corruption("fasta-protein: bad header");
  std::string meta, residues;
  PMKLC_RETURN_IF_ERROR(fasta::GetPackedSection(&r, &meta, 4 * uint64_t{raw_len} + 256));
  PMKLC_RETURN_IF_ERROR(fasta::GetPackedSection(&r, &residues, raw_len));
  if (r.remaining()) return Status::Corruption("fasta-protein: trailing bytes");
  Reader m(meta);
  uint64_t n_lines, n_text;
  if (!m.GetVarint(&n_lines) || !m.GetVarint(&n_text) || n_text > n_lines || n_lines > raw_len + 1)
    return Status::Corruption("fasta-protein: bad line counts");
  std::vector<std::string> text;
  std::string_view rest = m.rest();
  PMKLC_RETURN_IF_ERROR(DecodeTextLines(&rest, static_cast<size_t>(n_text), &text));
  Reader m2(rest);
  std::string_view layout;
  if (!m2.GetSection(&layout) || m2.remaining()) return Status::Corruption("fasta-protein: bad layout");
  fasta::LayoutReader lr(layout);
  uint64_t token, lines = 0, rpos = 0;
  size_t ti = 0, o = 0;
  const bool unterminated = flags & 1;
  while (lr.Next(&token)) {
    ++lines;
    if (lines > n_lines) return Status::Corruption("fasta-protein: too many lines");
    if (token == 0) {
      if (ti >= text.size()) return Status::Corruption("fasta-protein: missing text line");
      const std::string& t = text[ti++];
      if (t.size() > raw_len - o) return Status::Corruption("fasta-protein: output overflow");
      std::memcpy(out + o, t.data(), t.size());
      o += t.size();
    } else {
      uint64_t len = token - 1;
      if (len > residues.size() - rpos || len > raw_len - o) return Status::Corruption("fasta-protein: line length");
      std::memcpy(out + o, residues.data() + rpos, static_cast<size_t>(len));
      o += len;
      rpos += len;
    }
    if (!(lines == n_lines && unterminated)) {
      if (o >= raw_len) return Status::Corruption("fasta-protein: output overflow");
      out[o++] = '\n';
    }
  }
  if (!lr.ok() || lines != n_lines || ti != text.size() || rpos != residues.size() || o != raw_len)
    return Status::Corruption("fasta-protein: layout does not match the block");
  return Status::OK();
}

}  // namespace pmklc
