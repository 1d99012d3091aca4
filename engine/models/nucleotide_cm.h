// nucleotide_cm.h — context-mixing coder for a nucleotide stream
// (engine/models; issue #4).
//
// Each base (code 0..3) is coded as two binary decisions (high bit, then the
// low bit given the high bit). Inputs to the mixer:
//  * order-k context models (direct tables for 2k <= 24 bits, hashed with an
//    8-bit check beyond, the 4 contexts that differ only in the newest base
//    side by side so they can be prefetched a base ahead), one adaptive
//    16-bit counter per decision node; a model flagged in ir_mask also learns every context of
//    the reverse-complement strand ("inverted repeats", as in GeCo);
//  * optionally order-k models whose context also holds the codon phase
//    (position mod 3, or the coding frame inferred while coding: see
//    `frame`), which capture the period-3 statistics of coding DNA;
//  * up to four forward and four inverted repeat models (match_flags) that
//    follow earlier occurrences of the last match_min bases, forward and as a
//    reverse complement (several per direction: distinct occurrences, most
//    recent first, through a chain of earlier positions); with
//    match_tolerance > 0 they keep following through point mutations until
//    more than match_tolerance of the last 16 predictions missed; each has
//    a confidence learned per (run length, recent misses, node);
//  * with a repeat pool (pool_capacity > 0, params variant 3; issue #17):
//    many repeat candidates at once, weighted by their recent success
//    (models::RepeatPool, engine/models/repeat_pool.h), as four inputs:
//    their mixture, the same refined by an APM keyed by its confidence, and
//    the mixtures of the forward and of the reverse-complement candidates;
//  * with the 4-symbol network (nn_hidden > 0, params variant 4; issue #17):
//    a small float network (kernels/nn4.h) that predicts the four bases
//    once per base from every model's four-base distribution and running
//    features; its node probability is one more input, and the final
//    probability is averaged with it;
//  * a bias.
// Up to four logistic mixers with integer weights (selected by decision node
// and the previous two bases; by node and repeat-model state; by node and the
// last non-phased model in `orders` whose context was seen before (the
// highest order when they are sorted) and whether it is sure; when a phased
// model exists, also by node and the first phased model's count; optionally
// each also by the codon phase, position mod 3; see flags) are averaged in
// the stretch domain; one or two APM stages (keyed by the last four or six
// bases and by the repeat state) refine the result. Everything is integer
// arithmetic in a fixed order (the 4-symbol network: IEEE float operations in
// a fixed order, no FMA): the same input gives the same bytes on every
// machine and build, and the decoder mirrors the encoder exactly.
// The balanced shapes (one to three direct models, one forward repeat model,
// one mixer, one APM) run on a dedicated code path with the same semantics (and, with
// flags bit 5, the cheaper variant described at `flags`).
// Thread safety: one coder per thread; CmParams is a plain value.
// Memory: the repeat pool's index (32 bytes * 2^pool_bits), 10 bytes per table slot (4^k slots for a direct order-k model, 3 * 4^k when phased (7 * 4^k with frame),
// 2^hash_bits for a hashed one) + 8 bytes * 2^match_bits + 1 byte per base
// (+ 4 bytes per base with several repeat models in one direction);
// Parse rejects params whose tables exceed 1 GiB.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/status.h"
#include "engine/models/predictor.h"
#include "kernels/cm_max.h"
#include "kernels/cm_slim.h"

namespace pmklc {

namespace neural {
class SubCoder;
}

struct CmParams {
  // Serialised format variant: 2 carries `frame`; params with frame == 0 are
  // written as variant 1 (the same bytes as before variant 2 existed). Parse
  // accepts 1 and 2 and rejects any other value.
  static constexpr uint8_t kVariant = 2;
  static constexpr uint8_t kVariantNoFrame = 1;
  // Variant 3: variant 2's bytes (the frame byte always present, 0 allowed)
  // followed by the repeat pool's 7 bytes; written only when pool_capacity > 0.
  static constexpr uint8_t kVariantPool = 3;
  // Variant 4: variant 3's bytes (the pool's 7 bytes always present; with
  // pool_capacity 0 they must hold the defaults) followed by nn_hidden;
  // written only when nn_hidden > 0.
  static constexpr uint8_t kVariantNn = 4;

  // Context orders 1..24, at most 24 models; 0x80 | k: an order-k model whose
  // context also holds the codon phase (position mod 3, or the frame state
  // with `frame`; 3x, or 7x with `frame`, the slots of a direct table; no
  // inverted repeats).
  std::vector<uint8_t> orders{1, 2, 3, 4, 6, 8, 11, 14, 16, 20, 0x80 | 5};
  uint32_t ir_mask = 0x3ff;    // bit i: model i also learns the inverted-repeat context
  uint8_t hash_bits = 22;   // slots per hashed model = 2^hash_bits (10..26)
  // Counter adaptation limit (rate -> 1/(limit+1.5)) for orders <= 8, 9..12, >= 13.
  uint8_t limit_low = 250, limit_mid = 60, limit_high = 20;
  uint8_t match_min = 18;        // k-mer length of the repeat models (12..32)
  uint8_t match_bits = 22;       // repeat-model hash slots = 2^match_bits (16..26)
  uint8_t match_flags = 0x22;    // low/high nibble: number of forward/inverted repeat models (0..4 each)
  uint8_t match_tolerance = 12;  // misses in the last 16 tolerated (0..16; 0: stop at a miss)
  uint8_t mixer_lr = 32;         // mixer learning rate (1..64; 16 = 2^-14)
  // Codon frame of the phased models, of the phase-keyed mixers (flags bit 6)
  // and of the repeat-state APM (flags bit 1). 0: the position mod 3 (and the
  // APM is not keyed), as in variant 1. f > 0: the coding frame inferred as
  // the stream is coded (models::CodonFrame, engine/models/codon_frame.h):
  // six strand/frame hypotheses scored by codon log-odds learnt from open
  // reading frames of at least f codons give 7 states (strand and codon
  // position, or no frame). Genes of every offset then share statistics,
  // which position mod 3 cannot do: at max 3% smaller on K. pneumoniae,
  // 1.7% on M. tuberculosis. Not with the fast balanced path (flags bit 5).
  // Default: 200 (training at 100 or 300 codons coded within 0.02% of it)
  uint8_t frame = 200;
  // Repeat pool (models::RepeatPool, engine/models/repeat_pool.h): up to
  // pool_capacity repeat candidates seeded by pool_k-mers (an index of
  // 2^pool_bits buckets), weighted by their recent success and combined
  // into one mixer input; the repeat-state mixer is then also keyed by the
  // pool's confidence. pool_tolerance: misses in the last 16 a candidate
  // survives; pool_gamma: weight decay per base (/256); pool_flags bit 0:
  // reverse-complement candidates too; bit 1: probation (a candidate with
  // more than 4 misses in its first 8 predictions stops). 0 capacity: no pool (variants 1, 2).
  // Default: 0 (Max() sets it)
  uint16_t pool_capacity = 0;
  uint8_t pool_k = 12, pool_bits = 22, pool_tolerance = 8, pool_gamma = 224, pool_flags = 1;
  // Hidden units of the 4-symbol network mixer (kernels/nn4.h; 0 or 16):
  // once per base a small float network (fixed-order IEEE arithmetic, the
  // same bits on every machine) predicts the four bases from every model's
  // four-base distribution, the repeat models, recent base counts and
  // running per-model hit/loss features, trained online. Its node
  // probabilities are one more mixer input and are averaged with the final
  // probability. Measured at max (issue #17): 0.9% smaller on a 4 MiB piece
  // of human chrX, 0.1% on E. coli.
  // Default: 0 (Max() sets 16)
  uint8_t nn_hidden = 0;
  uint8_t flags = 199;           // bit0: repeat-state mixer; bit1: repeat-state APM; bit2: hit-order mixer (+ phased-count mixer);
                                 // bit3: learned final mixer (else average); bit4: mixer 1 keyed by order 3 (else 2);
                                 // bit5: fast balanced path (only with one to three direct models of order <= 12
                                 // without inverted repeats, match_flags 0x01 and no other flag but bit4): 12-bit stretch
                                 // inputs and the APM reads the mixer's logit directly; bit6: the mixers are also keyed
                                 // by the codon phase; bit7: first APM keyed by
                                 // the last 6 bases (else 4)

  // These params with the hashed tables (hash_bits) and the repeat k-mer
  // table (match_bits) shrunk to fit n bases: 2^(ceil(log2 n) - 1) slots, at
  // least 2^16 and at most what they were. Smaller tables are faster (fewer
  // page faults and TLB misses) and, below that size, cost no ratio: at
  // 1.6 M bases 2^20 slots code HePy/AeCa within 0.0002 bits/base of 2^22.
  // The encoder applies it per block; the result is what gets serialised.
  CmParams FitTo(size_t n) const;

  static CmParams Max();       // best ratio at >= 1 MB/s
  static CmParams Balanced();  // cheaper: >= 8 MB/s
  // For blocks coded against reference segments (fasta-ref): four context
  // models (orders 2, 6, 12, 20) and a phased order-5 model, max's repeat
  // models, two mixers (keyed by recent bases and by repeat state, each
  // also by the codon frame) and both APMs. The repeat models carry such
  // blocks, so this costs about 1% more than max on K. pneumoniae strains
  // and decodes about twice as fast, which is what a random read pays at
  // every level of a reference chain.
  static CmParams Reference();

  // Serialised form (stored with the coded data so the decoder rebuilds the same models).
  std::string Serialize() const;
  // Corruption for an unknown variant, malformed params or models over 1 GiB.
  static Result<CmParams> Parse(std::string_view in, size_t* used);
};

// Most extra predictors one coder mixes in.
inline constexpr size_t kMaxExtraPredictors = 4;

// extra_mix bits (only with extra predictors; 0 = the plain mixing, whose
// bytes stay as they were): kExtraMixFinal adds a final stage after the APMs,
// a 4-input mixer of stretch(p), the first extra predictor's stretch, a bias
// and the neural mixer's logit, keyed by node, the first predictor's
// confidence bucket and the forward repeat state, averaged with p;
// kExtraMixNeural (with kExtraMixFinal) feeds it a small float network
// (16 ReLU units, online SGD, fixed-order IEEE float arithmetic) over all
// mixer inputs, the node and the codon phase. The decoder must be given the
// same bits.
inline constexpr uint32_t kExtraMixFinal = 1;
inline constexpr uint32_t kExtraMixNeural = 2;

// Codes n bases (values 0..3) into *out (appends). `extra` predictors
// (engine/models/predictor.h; at most kMaxExtraPredictors, borrowed for the
// call) are mixed in as one more mixer input per decision each; without them
// the output is exactly that of the params alone. Decoding needs the same
// predictors, in the same order and initial state.
// NoMemory if the model tables cannot be allocated; InvalidArgument for too
// many extra predictors.
[[nodiscard]] Status CmEncode(const CmParams& p, const uint8_t* codes, size_t n, std::string* out,
                              std::span<BasePredictor* const> extra = {}, uint32_t extra_mix = 0);
// Tests only: CmEncode with the general model even for the balanced shapes
// that the slim path codes (which must write the same bytes: that is why it
// may exist). InvalidArgument for flags bit 5, which only the slim path has.
[[nodiscard]] Status CmEncodeGeneralForTest(const CmParams& p, const uint8_t* codes, size_t n, std::string* out);
// True if CmEncode takes the slim path for p: the flat-state step of
// kernels/cm_slim.h, which a GPU batch also runs (engine/models/cm_batch.h).
bool CmUsesSlimPath(const CmParams& p);
// The slim step's shape for p (CmUsesSlimPath(p)) and the coder's tables.
kernels::cmslim::Shape CmSlimShape(const CmParams& p);
const kernels::cmslim::Tables& CmSlimTables();
// The general model's flat-state step (kernels/cm_max.h), which codes every
// other CmEncode stream: its shape for p (no extra predictors) and tables.
// With `extra` extra predictors mixed as extra_mix says: the step that
// codes CmEncode(p, ..., extra, extra_mix) (the neural profile's streams).
kernels::cmmax::MaxShape CmMaxShape(const CmParams& p, size_t extra = 0, uint32_t extra_mix = 0);
const kernels::cmmax::MaxTables& CmMaxTables();
// Bytes of the model tables a coder of p allocates (the bulk of its memory).
uint64_t CmModelBytes(const CmParams& p);
// Decodes exactly n bases; Corruption if the input is too short, NoMemory if
// the model tables cannot be allocated.
Status CmDecode(const CmParams& p, std::string_view in, size_t n, uint8_t* codes,
                std::span<BasePredictor* const> extra = {}, uint32_t extra_mix = 0);

// Codes whole streams for the block codec (EncodeOptions::cm_coder,
// DecodeBlock's `cm`): an implementation may gather the streams of
// concurrent callers into one GPU batch (CmBatcher, engine/models/cm_batch.h).
// Its bytes are exactly CmEncode's, and it decodes exactly as CmDecode.
// Thread safety: called from many threads at once.
class CmStreamCoder {
 public:
  virtual ~CmStreamCoder() = default;
  [[nodiscard]] virtual Status Encode(const CmParams& p, const uint8_t* codes, size_t n, std::string* out) = 0;
  [[nodiscard]] virtual Status Decode(const CmParams& p, std::string_view in, size_t n, uint8_t* codes) = 0;
  // The coder of the neural profile's sub-blocks that goes with it
  // (NeuralOptions::coder, NeuralDecode's `coder`); null: the CPU's threads.
  virtual neural::SubCoder* Neural() { return nullptr; }
};

// Reference-primed coding (codec fasta-ref, docs/format.md §fasta-ref): the
// general model (never the balanced path) whose history already holds the
// `prime` bases (values 0..3, e.g. the reference segments a block depends
// on) before the first coded base. Only the repeat models see the prime:
// they index it, forward and reverse complement, and follow matches into
// it; the context models, mixers and APMs start empty as in CmEncode. With
// several repeat models per direction the chain of earlier occurrences is
// exact here (CmEncode keeps only the most recent one; its bytes are fixed
// by the format). Decoding needs the same prime. Size the tables with
// FitTo(prime + n). InvalidArgument (Corruption when decoding) if prime + n
// reaches 2^31 bases; NoMemory if the tables cannot be allocated.
[[nodiscard]] Status CmEncodePrimed(const CmParams& p, std::span<const uint8_t> prime, const uint8_t* codes,
                                    size_t n, std::string* out);
Status CmDecodePrimed(const CmParams& p, std::span<const uint8_t> prime, std::string_view in, size_t n,
                      uint8_t* codes);

}  // namespace pmklc
