// fasta_codec.h — FASTA-aware block codecs (internal to engine/; the public
// entry points are EncodeBlock/DecodeBlock in engine/codec/codec.h).
//
// Stream separation: a block (any byte string, possibly starting or ending
// in the middle of a line or header) is split into lines. Lines starting with
// '>' or ';' — and a first partial line that does not look like sequence —
// are text lines (header_coder.h). Every other line is a sequence line: its
// length goes to the layout stream and its bytes to the residue stream.
// fasta2bit then splits residues into ACGT/acgt (2-bit codes + lowercase
// runs) and runs of any other byte (N runs, IUPAC codes, gaps, '\r', ...).
// Nothing is dropped: decoding rebuilds the exact bytes. Layout:
// docs/format.md §fasta2bit and §fasta-protein.
//
// Thread safety: all functions are reentrant.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "engine/common/status.h"
#include "engine/models/neural_stream.h"
#include "engine/models/nucleotide_cm.h"

namespace pmklc {

enum class FastaKind { kNucleotide, kProtein, kOther };

// Encodes raw as fasta2bit. Returns NotSupported (and leaves *payload
// unspecified) when the block is not nucleotide FASTA enough to gain
// (more than 1/8 of its residues are not ACGT/acgt/N/n); *kind then tells
// what it looks like instead.
// With cm != nullptr the nucleotides are context-mixed (codec fasta-cm), with
// neural != nullptr (cm ignored) they are a neural stream (codec fasta-neural,
// engine/models/neural_stream.h), instead of 2-bit packed; everything else is
// identical.
// With cm and a non-empty prime, the context mixing is primed with those
// bases (CmEncodePrimed; codec fasta-ref, payload flag bit 3).
// cm_coder: codes the unprimed cm stream instead of CmEncode (same bytes).
Status EncodeFasta2Bit(std::string_view raw, int zstd_level, std::string* payload, FastaKind* kind,
                       const CmParams* cm = nullptr, const NeuralOptions* neural = nullptr,
                       std::span<const uint8_t> prime = {}, CmStreamCoder* cm_coder = nullptr);
// How the nucleotides of a fasta2bit payload are coded (the codec id says; the
// payload flags must agree).
enum class NtCoding { kPacked, kCm, kNeural, kCmPrimed };
// prime: the bases a kCmPrimed payload was primed with.
// cm_coder: decodes a kCm stream instead of CmDecode (the same bases).
Status DecodeFasta2Bit(std::string_view payload, size_t raw_len, char* out, NtCoding nt = NtCoding::kPacked,
                       const NeuralChain* chain = nullptr, std::span<const uint8_t> prime = {},
                       CmStreamCoder* cm_coder = nullptr);

// Protein (or any text-line-structured) FASTA: text lines + layout + residues, zstd.
Status EncodeFastaProtein(std::string_view raw, int meta_level, int residue_level, std::string* payload);
Status DecodeFastaProtein(std::string_view payload, size_t raw_len, char* out);

}  // namespace pmklc
