// fasta-protein: text lines + layout + residues, one zstd section.
#include <cstring>

#include "engine/fasta/fasta_codec.h"
#include "engine/fasta/fasta_lines.h"
#include "engine/fasta/header_coder.h"
#include "engine/fasta/varint.h"

namespace pmklc {

namespace {
constexpr uint8_t kVersion = 1;
}

Status EncodeFastaProtein(std::string_view raw, int meta_level, int residue_level, std::string* payload) {
  fasta::Lines lines;
  std::string residues;
  residues.reserve(raw.size());
  fasta::SplitLines(raw, &lines, [&](const char* p, size_t n) {
    residues.append(p, n);
    return true;
  });
  // Headers and residues go in separate sections so each gets its own zstd
  // statistics; residues last.
  std::string meta;
  PutVarint(&meta, lines.n_lines);
  PutVarint(&meta, lines.text.size());
  EncodeTextLines(lines.text, &meta);
  PutSection(&meta, lines.layout);
  payload->clear();
  payload->push_back(static_cast<char>(kVersion));
  payload->push_back(static_cast<char>(lines.unterminated ? 1 : 0));
  fasta::PutPackedSection(payload, meta, meta_level);
  fasta::PutPackedSection(payload, residues, residue_level);
  return Status::OK();
}

}  // namespace pmklc
