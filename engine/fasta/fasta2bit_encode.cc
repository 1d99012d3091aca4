// fasta2bit encoder: FASTA stream separation with 2-bit nucleotides.
#include <emmintrin.h>
#include <zstd.h>

#include <array>
#include <cstring>

#include "engine/codec/zstd_ctx.h"
#include "engine/fasta/fasta_codec.h"
#include "engine/fasta/fasta_lines.h"
#include "engine/fasta/header_coder.h"
#include "engine/fasta/varint.h"
#include "engine/format.h"
#include "kernels/pack2bit.h"

namespace pmklc {

namespace {

constexpr uint8_t kVersion = 1;
constexpr uint8_t kOther = 0xff;

// 0-3: ACGT, 4-7: acgt, kOther: anything else.
constexpr std::array<uint8_t, 256> MakeClass() {
  std::array<uint8_t, 256> t{};
  for (auto& v : t) v = kOther;
  t['A'] = 0; t['C'] = 1; t['G'] = 2; t['T'] = 3;
  t['a'] = 4; t['c'] = 5; t['g'] = 6; t['t'] = 7;
  return t;
}
constexpr std::array<uint8_t, 256> kClass = MakeClass();

// Section compression: u8 kind (0 raw, 1 zstd), varint raw length, varint
// stored length, bytes.
}  // namespace

void fasta::PutPackedSection(std::string* out, const std::string& raw, int level) {
  if (raw.size() >= 64) {
    ZSTD_CCtx* cctx = ThreadZstdCCtx();
    std::string z(ZSTD_compressBound(raw.size()), '\0');
    size_t n = cctx ? ZSTD_compressCCtx(cctx, z.data(), z.size(), raw.data(), raw.size(), level) : 0;
    if (cctx && !ZSTD_isError(n) && n < raw.size()) {
      out->push_back(1);
      PutVarint(out, raw.size());
      PutVarint(out, n);
      out->append(z.data(), n);
      return;
    }
  }
  out->push_back(0);
  PutVarint(out, raw.size());
  PutVarint(out, raw.size());
  out->append(raw);
}

namespace {

// Residue stream state while encoding.
struct NtEncoder {
  std::string nt;           // one code (0-3) per nucleotide
  std::string case_runs;    // alternating run lengths: upper, lower, upper, ...
  std::string exc;          // (gap, byte, run) triples
  uint64_t n_nt = 0, n_res = 0;
  uint64_t case_run = 0;
  bool lower = false;
  // current exception run
  bool in_exc = false;
  uint8_t exc_byte = 0;
  uint64_t exc_run = 0, exc_gap = 0;  // gap: residues since the previous run ended

  void FlushExc() {
    if (!in_exc) return;
    PutVarint(&exc, exc_gap);
    exc.push_back(static_cast<char>(exc_byte));
    PutVarint(&exc, exc_run);
    in_exc = false;
    exc_gap = 0;
  }

  void Line(const char* p, size_t n) {
    size_t base = nt.size();
    nt.resize(base + n);
    char* w = nt.data() + base;
    size_t k = 0;  // nucleotides written this line
    size_t i = 0;
    while (i < n) {
      uint8_t c = kClass[static_cast<uint8_t>(p[i])];
      if (c < 4 && !lower && !in_exc) {
        // Fast path: a run of upper-case ACGT, 16 bytes per step (SSE2:
        // compare with A, C, G, T; code = ((b >> 1) ^ (b >> 2)) & 3 maps
        // A,C,G,T to 0,1,2,3), then byte by byte to the end of the run.
        size_t j = i;
        const __m128i kA = _mm_set1_epi8('A'), kC = _mm_set1_epi8('C');
        const __m128i kG = _mm_set1_epi8('G'), kT = _mm_set1_epi8('T');
        const __m128i k3 = _mm_set1_epi8(3);
        while (j + 16 <= n) {
          __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + j));
          __m128i ok = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, kA), _mm_cmpeq_epi8(v, kC)),
                                    _mm_or_si128(_mm_cmpeq_epi8(v, kG), _mm_cmpeq_epi8(v, kT)));
          if (_mm_movemask_epi8(ok) != 0xffff) break;
          __m128i code = _mm_and_si128(_mm_xor_si128(_mm_srli_epi16(v, 1), _mm_srli_epi16(v, 2)), k3);
          _mm_storeu_si128(reinterpret_cast<__m128i*>(w + k), code);
          k += 16;
          j += 16;
        }
        while (j < n && (c = kClass[static_cast<uint8_t>(p[j])]) < 4) {
          w[k++] = static_cast<char>(c);
          ++j;
        }
        case_run += j - i;
        exc_gap += j - i;
        i = j;
        continue;
      }
      if (c != kOther) {
        FlushExc();
        bool l = c >= 4;
        if (l != lower) {
          PutVarint(&case_runs, case_run);
          case_run = 0;
          lower = l;
        }
        case_run++;
        exc_gap++;
        w[k++] = static_cast<char>(c & 3);
        ++i;
        continue;
      }
      // A non-ACGT byte: extend the current run or start one.
      uint8_t b = static_cast<uint8_t>(p[i]);
      if (in_exc && b == exc_byte) {
        exc_run++;
      } else {
        FlushExc();
        in_exc = true;
        exc_byte = b;
        exc_run = 1;
      }
      ++i;
    }
    nt.resize(base + k);
    n_nt += k;
    n_res += n;
  }
  void Finish() {
    FlushExc();
    PutVarint(&case_runs, case_run);
  }
};

}  // namespace

Status EncodeFasta2Bit(std::string_view raw, int zstd_level, std::string* payload, FastaKind* kind,
                       const CmParams* cm, const NeuralOptions* neural, std::span<const uint8_t> prime,
                       CmStreamCoder* cm_coder) {
  if (neural) cm = nullptr;
  const bool primed = cm != nullptr && !prime.empty();
  fasta::Lines lines;
  NtEncoder enc;
  enc.nt.reserve(raw.size());
  // Give up early on blocks whose residues are mostly not ACGT (protein,
  // text): their non-ACGT runs would cost more than 2 bits per residue.
  bool aborted = !fasta::SplitLines(raw, &lines, [&](const char* p, size_t n) {
    enc.Line(p, n);
    return !(enc.n_res >= 16384 && enc.exc.size() * 4 > enc.n_res);
  });
  if (!aborted) enc.Finish();
  if (aborted || (enc.n_res > 0 && enc.exc.size() * 4 > enc.n_res)) {
    *kind = lines.text.empty() ? FastaKind::kOther : FastaKind::kProtein;
    return Status::NotSupported("not nucleotide FASTA");
  }
  if (enc.n_res == 0) {
    bool fasta = false;
    for (auto t : lines.text) fasta |= !t.empty() && t[0] == '>';
    if (!fasta) {
      *kind = FastaKind::kOther;  // no sequence and no header: plain text or binary
      return Status::NotSupported("no FASTA structure");
    }
  }
  *kind = FastaKind::kNucleotide;

  std::string meta;
  PutVarint(&meta, lines.n_lines);
  PutVarint(&meta, lines.text.size());
  EncodeTextLines(lines.text, &meta);
  PutSection(&meta, lines.layout);
  PutSection(&meta, enc.case_runs);
  PutSection(&meta, enc.exc);
  PutVarint(&meta, enc.n_nt);
  PutVarint(&meta, enc.n_res);

  payload->clear();
  payload->push_back(static_cast<char>(kVersion));
  payload->push_back(static_cast<char>((lines.unterminated ? 1 : 0) | (cm ? 2 : 0) | (neural ? 4 : 0) | (primed ? 8 : 0)));
  fasta::PutPackedSection(payload, meta, zstd_level);
  if (neural) {
    NeuralOptions o = *neural;
    if (cm_coder && !o.coder) o.coder = cm_coder->Neural();
    return NeuralEncode(o, reinterpret_cast<const uint8_t*>(enc.nt.data()), enc.n_nt, payload);
  }
  if (cm) {
    const CmParams fit = cm->FitTo(enc.n_nt + (primed ? prime.size() : 0));  // tables sized to this block
    payload->append(fit.Serialize());
    if (primed)
      return CmEncodePrimed(fit, prime, reinterpret_cast<const uint8_t*>(enc.nt.data()), enc.n_nt, payload);
    const auto* nt = reinterpret_cast<const uint8_t*>(enc.nt.data());
    PMKLC_RETURN_IF_ERROR(cm_coder ? cm_coder->Encode(fit, nt, enc.n_nt, payload)
                                   : CmEncode(fit, nt, enc.n_nt, payload));
    return Status::OK();
  }
  size_t base = payload->size();
  payload->resize(base + (enc.n_nt + 3) / 4);
  kernels::Pack2BitCpu(reinterpret_cast<const uint8_t*>(enc.nt.data()), enc.n_nt,
                       reinterpret_cast<uint8_t*>(payload->data() + base));
  return Status::OK();
}


}  // namespace pmklc
