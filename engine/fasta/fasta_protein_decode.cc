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
  fasta::LinesToRender lines;
  lines.layout = layout;
  lines.n_lines = n_lines;
  lines.unterminated = flags & 1;
  lines.text = &text;
  lines.residues = residues;
  return fasta::RenderLines(lines, raw_len, out);
}

}  // namespace pmklc
