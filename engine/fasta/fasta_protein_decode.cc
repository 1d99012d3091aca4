// fasta-protein decoder (links without the encoder).
#include <cstring>

#include "engine/fasta/fasta_codec.h"
#include "engine/fasta/fasta_lines.h"
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
  fasta::LinesToRender lines;
  std::vector<std::string> text;
  std::string_view rest;
  PMKLC_RETURN_IF_ERROR(fasta::ReadLineStreams(meta, raw_len, &lines, &text, &rest));
  if (!rest.empty()) return Status::Corruption("fasta-protein: trailing metadata");
  lines.unterminated = flags & 1;
  lines.residues = residues;
  return fasta::RenderLines(lines, raw_len, out);
}

}  // namespace pmklc
