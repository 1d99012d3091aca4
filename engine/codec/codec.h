// codec.h — the block codec interface and the block value format.
//
// A block value is a 16-byte header (format.h) followed by a codec payload.
// EncodeBlock picks the stored codec (falling back to raw when a codec does not
// shrink the data) and DecodeBlock verifies the checksum of the decoded bytes.
//
// Decode stands alone: decode.cc links only the decoders (no encoder, no
// trainer). Encoders live in encode.cc.
//
// Thread safety: all functions are safe to call concurrently; codecs keep
// per-thread contexts internally.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/status.h"
#include "engine/format.h"
#include "engine/models/neural_stream.h"
#include "engine/models/nucleotide_cm.h"

namespace pmklc {

using format::CodecId;

// Human-readable codec name ("raw", "zstd"), or nullptr for an unknown id.
const char* CodecName(CodecId id);
// Parses a codec name; NotFound for unknown names.
Result<CodecId> CodecFromName(std::string_view name);

// Parsed block header.
struct BlockHeader {
  uint8_t version = format::kBlockVersion;
  CodecId codec = CodecId::kRaw;
  uint16_t flags = 0;
  uint32_t raw_len = 0;
  uint64_t checksum = 0;  // XXH3-64 of the raw bytes
};

// Parses and validates the header of a stored block value (no decoding).
// Corruption on short input, wrong version or non-zero flags.
Result<BlockHeader> ParseBlockHeader(std::string_view value);

// True for the codecs of nucleotide FASTA (fasta2bit, fasta-cm,
// fasta-neural, fasta-ref, ref-link): a block so coded was mostly A/C/G/T.
bool IsNucleotideFastaCodec(CodecId codec);

// ---- References (issue #6; docs/format.md §fasta-ref, §ref-link) ----------
// A block may depend on reference segments: other block values, kept by
// whoever stores the blocks (the store's reference objects, a container's
// members), named by an object id and a segment number, and pinned by the
// XXH3-64 of the segment's raw bytes.
struct RefSegmentKey {
  uint64_t object = 0;
  uint32_t segment = 0;
  uint64_t checksum = 0;  // BlockChecksum of the segment's raw bytes
  friend bool operator==(const RefSegmentKey&, const RefSegmentKey&) = default;
};

// A decoded reference segment: its raw bytes and their nucleotide codes
// (NucleotideCodes(raw)), what a dependent block is primed with.
struct RefSegment {
  std::string raw;
  std::string codes;
};

// Supplies reference segments to DecodeBlock. Implementations decode the
// segment's own block value (which may itself depend on others) and must
// return exactly the bytes whose checksum the key names; DecodeBlock checks
// it again. Thread safety: as the implementation documents.
class RefSource {
 public:
  virtual ~RefSource() = default;
  // NotFound when the segment is not kept; any decode error as it is.
  virtual Result<std::shared_ptr<const RefSegment>> Get(const RefSegmentKey& key) = 0;
};

// The bases a dependent block is primed with: every A/C/G/T (either case,
// as 0..3) of raw that is not on a line starting with '>' or ';', in order;
// every other byte is skipped. A pure function of raw, the same everywhere.
std::string NucleotideCodes(std::string_view raw);

// The reference segments a block value depends on (empty for a block coded
// alone): fasta-ref's list, or ref-link's one segment. Corruption for a
// malformed header or reference list.
Status BlockRefs(std::string_view value, std::vector<RefSegmentKey>* refs);

// ---- Split blocks (docs/format.md §split; issue #19) ----------------------
// A split block is consecutive parts, each a whole block value of its own
// (never split itself) that decodes alone with its own checksum: a reader
// of a few bytes decodes only the part that holds them.
struct BlockPart {
  uint64_t offset = 0;       // of its first byte in the block's raw bytes
  uint32_t raw_len = 0;
  uint64_t checksum = 0;     // of its raw bytes (its header's)
  std::string_view value;    // a view into the split value
};
// The parts of a block value: a split block's parts, or for any other block
// one part, the whole value. Corruption for a malformed split payload (the
// parts' headers are parsed, nothing is decoded).
Status BlockParts(std::string_view value, std::vector<BlockPart>* parts);

// Decodes a block value into *out (replacing its contents). Verifies the codec
// id is known, the decoded length and the XXH3-64 checksum. On any mismatch
// returns Corruption and leaves *out empty: wrong bytes are never returned.
// chain: for a fasta-neural block that continues the previous block's
// dynamic models (containers written with -j; see NeuralChain), the link
// from the previous block and the one to the next; such a block without it
// fails with NotSupported.
// refs: where a fasta-ref or ref-link block finds its reference segments;
// such a block without it fails with NotSupported, and a segment that is
// missing or does not match its checksum is Corruption.
// cm: decodes fasta-cm nucleotide streams instead of CmDecode (a CmBatcher
// onto a GPU, `decompress --device`); the same bases either way.
Status DecodeBlock(std::string_view value, std::string* out, const NeuralChain* chain = nullptr,
                   RefSource* refs = nullptr, CmStreamCoder* cm = nullptr);

// Checksum used by the block format.
uint64_t BlockChecksum(std::string_view raw);

// Encoder options.
struct EncodeOptions {
  // Codec for blocks that are not FASTA (and for all blocks when fasta is
  // false). Default: kZstd
  CodecId codec = CodecId::kZstd;
  // zstd level of the generic codec. Default: 1 (on 128 KiB DNA blocks level
  // 1 is both faster and smaller than 3: ecoli_536 3.118 vs 3.029).
  int zstd_level = 1;
  // Detect FASTA per block: nucleotide blocks use fasta2bit, protein blocks
  // fasta-protein, anything else `codec`. Default: true
  bool fasta = true;
  // zstd level for the small streams of fasta2bit (headers, layout, runs). Default: 3
  int fasta_meta_level = 3;
  // zstd levels of fasta-protein: residues (at 128 KiB blocks level 3 beats
  // 9 on protein_uniprot: 4.75 vs 5.12 MB) and headers/layout. Default: 3, 9
  int protein_level = 3;
  int protein_meta_level = 9;
  // Context-mix the nucleotides of FASTA blocks (codec fasta-cm, profile max)
  // with these models. Default: false (fasta2bit's 2-bit packing)
  bool use_cm = false;
  CmParams cm;
  // Code the nucleotides of FASTA blocks as a neural stream (codec
  // fasta-neural, profile neural; overrides use_cm). Default: false
  bool use_neural = false;
  NeuralOptions neural;
  // Reference segments to code FASTA nucleotides against (codec fasta-ref:
  // the context models of CmParams::Reference(), whatever the profile,
  // primed with ref_codes, which must be the concatenation of the segments'
  // codes in this order; at most format::kMaxBlockRefs segments and
  // format::kMaxPrimeBases bases). Blocks that are not nucleotide FASTA are
  // coded as without. Borrowed: ref_codes must outlive the EncodeBlock call.
  // Default: none
  std::vector<RefSegmentKey> refs;
  std::string_view ref_codes;
  // Code fasta-ref blocks with `cm` (when use_cm) instead of
  // CmParams::Reference(): for segments that are the same file's earlier
  // blocks (whole-file context, ContainerOptions::whole_file_context), where
  // the block's own models matter as much as the segments. The decoder reads
  // the params from the payload either way. Default: false
  bool ref_with_cm = false;
  // Codes the context-mixed nucleotide streams (fasta-cm) instead of
  // CmEncode, with the same bytes: a CmBatcher that gathers the blocks
  // coded at once onto a GPU (`--device`, issue #18). Borrowed. Default: none
  CmStreamCoder* cm_coder = nullptr;
  // Code a block longer than this as consecutive parts of this many bytes
  // (the last shorter), each coded alone with these options (codec split):
  // a reader of a few bytes then decodes one part, at a cost in ratio (the
  // models start cold in every part; docs/BENCHMARKS.md §Region reads).
  // Not with a chained fasta-neural block. 0: one stream. Default: 0
  uint32_t split_bytes = 0;
};

// Encoder options of a named profile. Default: "fast".
//  fast:     2-bit FASTA streams (fasta2bit), zstd -1 for anything else.
//  balanced: context-mixed nucleotides with CmParams::Balanced() (fasta-cm),
//            zstd -19 for what is not nucleotides.
//  max:      context-mixed nucleotides with CmParams::Max(), zstd -19 elsewhere.
//  neural:   max's context models mixed with the token networks (DM, and the
//            shipped SPuM where a trial encode shows it pays), fasta-neural;
//            workers = 1 (set opts.neural.workers for W).
// InvalidArgument for an unknown name.
Result<EncodeOptions> ProfileOptions(std::string_view profile);

// Encodes raw bytes into a full block value (header + payload) in *value.
// If the chosen codec does not make the payload smaller than the raw bytes,
// the block is stored with the raw codec. Fails only on encoder errors.
// opts.codec may name a FASTA codec to force it (falls back like auto-detect
// when the block is not FASTA of that kind).
Status EncodeBlock(std::string_view raw, const EncodeOptions& opts, std::string* value);

// A ref-link block value: the raw bytes of segment `key`, raw_len bytes long
// (the value's header carries key.checksum).
std::string RefLinkValue(const RefSegmentKey& key, uint32_t raw_len);

}  // namespace pmklc
