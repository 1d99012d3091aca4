// fasta2bit decoder (links without the encoder).
#include <zstd.h>

#include <array>
#include <cstring>

#include "engine/codec/zstd_ctx.h"
#include "engine/fasta/fasta_codec.h"
#include "engine/fasta/fasta_lines.h"
#include "engine/fasta/varint.h"

namespace pmklc {

namespace {
constexpr uint8_t kVersion = 1;
}  // namespace

Status fasta::GetPackedSection(Reader* r, std::string* raw, uint64_t max_raw) {
  uint8_t kind;
  uint64_t rawlen, stored;
  std::string_view bytes;
  if (!r->GetByte(&kind) || !r->GetVarint(&rawlen) || !r->GetVarint(&stored) ||
      !r->GetBytes(static_cast<size_t>(stored), &bytes))
    return Status::Corruption("fasta: truncated section");
  if (rawlen > max_raw) return Status::Corruption("fasta: section larger than the block allows");
  if (kind == 0) {
    if (stored != rawlen) return Status::Corruption("fasta: raw section length");
    raw->assign(bytes);
    return Status::OK();
  }
  if (kind != 1) return Status::Corruption("fasta: unknown section kind");
  ZSTD_DCtx* dctx = ThreadZstdDCtx();
  if (dctx == nullptr) return Status::NoMemory("zstd: cannot allocate a context");
  raw->resize(static_cast<size_t>(rawlen));
  size_t n = ZSTD_decompressDCtx(dctx, raw->data(), raw->size(), bytes.data(), bytes.size());
  if (ZSTD_isError(n) || n != rawlen) return Status::Corruption("fasta: bad zstd section");
  return Status::OK();
}

namespace {

// 4 bases (upper case) for every packed byte.
struct UnpackTable {
  uint32_t v[256];
  UnpackTable() {
    const char b[4] = {'A', 'C', 'G', 'T'};
    for (int i = 0; i < 256; ++i) {
      char s[4] = {b[i & 3], b[(i >> 2) & 3], b[(i >> 4) & 3], b[(i >> 6) & 3]};
      std::memcpy(&v[i], s, 4);
    }
  }
};
const UnpackTable kUnpack;

}  // namespace

Status DecodeFasta2Bit(std::string_view payload, size_t raw_len, char* out, NtCoding coding,
                       const NeuralChain* chain, std::span<const uint8_t> prime, CmStreamCoder* cm_coder) {
  Reader r(payload);
  uint8_t version, flags;
  if (!r.GetByte(&version) || !r.GetByte(&flags)) return Status::Corruption("fasta2bit: truncated");
  if (version != kVersion) return Status::Corruption("fasta2bit: unknown version");
  if (flags & ~15u) return Status::Corruption("fasta2bit: unknown flags");
  const bool cm = coding == NtCoding::kCm || coding == NtCoding::kCmPrimed;
  if (((flags & 2) != 0) != cm || ((flags & 4) != 0) != (coding == NtCoding::kNeural) ||
      ((flags & 8) != 0) != (coding == NtCoding::kCmPrimed))
    return Status::Corruption("fasta2bit: payload flag does not match the codec id");
  std::string meta;
  // Metadata costs at most a few bytes per input byte (a run is >= 1 residue).
  PMKLC_RETURN_IF_ERROR(fasta::GetPackedSection(&r, &meta, 4 * uint64_t{raw_len} + 256));
  fasta::LinesToRender lines;
  std::vector<std::string> text;
  std::string_view rest;
  PMKLC_RETURN_IF_ERROR(fasta::ReadLineStreams(meta, raw_len, &lines, &text, &rest));
  Reader m2(rest);
  uint64_t n_nt, n_res;
  std::string_view case_runs, exc;
  if (!m2.GetSection(&case_runs) || !m2.GetSection(&exc) ||
      !m2.GetVarint(&n_nt) || !m2.GetVarint(&n_res) || m2.remaining() != 0)
    return Status::Corruption("fasta2bit: bad metadata");
  if (n_nt > n_res || n_res > raw_len) return Status::Corruption("fasta2bit: bad residue counts");
  std::string_view packed = r.rest();
  std::string cm_packed;
  if (coding != NtCoding::kPacked) {
    std::string codes(static_cast<size_t>(n_nt), '\0');
    if (cm) {
      size_t used = 0;
      auto params = CmParams::Parse(packed, &used);
      if (!params.ok()) return params.status();
      if (coding == NtCoding::kCmPrimed) {
        if (prime.empty()) return Status::Corruption("fasta2bit: primed payload without its reference");
        PMKLC_RETURN_IF_ERROR(CmDecodePrimed(*params, prime, packed.substr(used), static_cast<size_t>(n_nt),
                                             reinterpret_cast<uint8_t*>(codes.data())));
      } else {
        auto* c = reinterpret_cast<uint8_t*>(codes.data());
        const size_t n = static_cast<size_t>(n_nt);
        PMKLC_RETURN_IF_ERROR(cm_coder ? cm_coder->Decode(*params, packed.substr(used), n, c)
                                       : CmDecode(*params, packed.substr(used), n, c));
      }
    } else {
      PMKLC_RETURN_IF_ERROR(
          NeuralDecode(packed, static_cast<size_t>(n_nt), reinterpret_cast<uint8_t*>(codes.data()), 0, chain,
                       cm_coder ? cm_coder->Neural() : nullptr));
    }
    cm_packed.resize((n_nt + 3) / 4);
    for (uint64_t i = 0; i < n_nt; ++i)
      cm_packed[i / 4] = static_cast<char>(static_cast<uint8_t>(cm_packed[i / 4]) | (codes[i] << (2 * (i % 4))));
    packed = cm_packed;
  }
  if (packed.size() != (n_nt + 3) / 4) return Status::Corruption("fasta2bit: packed length");

  // 1. Nucleotides, upper case.
  std::string res(static_cast<size_t>(n_res) + 4, '\0');
  std::string ntbuf;
  const bool has_exc = !exc.empty();
  char* nt = has_exc ? (ntbuf.resize(static_cast<size_t>(n_nt) + 4), ntbuf.data()) : res.data();
  const uint8_t* pk = reinterpret_cast<const uint8_t*>(packed.data());
  for (size_t i = 0; i < packed.size(); ++i) std::memcpy(nt + 4 * i, &kUnpack.v[pk[i]], 4);
  // 2. Lower-case runs.
  {
    Reader cr(case_runs);
    uint64_t pos = 0, run;
    bool lower = false;
    while (cr.remaining()) {
      if (!cr.GetVarint(&run) || run > n_nt - pos) return Status::Corruption("fasta2bit: case runs");
      if (lower)
        for (uint64_t i = pos; i < pos + run; ++i) nt[i] |= 0x20;
      pos += run;
      lower = !lower;
    }
    if (pos != n_nt) return Status::Corruption("fasta2bit: case runs do not cover the nucleotides");
  }
  // 3. Merge non-ACGT runs.
  if (has_exc) {
    Reader er(exc);
    uint64_t ni = 0, ri = 0;
    while (er.remaining()) {
      uint64_t gap, run;
      uint8_t b;
      if (!er.GetVarint(&gap) || !er.GetByte(&b) || !er.GetVarint(&run) || run == 0)
        return Status::Corruption("fasta2bit: bad run");
      if (gap > n_nt - ni || gap > n_res - ri) return Status::Corruption("fasta2bit: run gap");
      std::memcpy(res.data() + ri, nt + ni, static_cast<size_t>(gap));
      ni += gap;
      ri += gap;
      if (run > n_res - ri) return Status::Corruption("fasta2bit: run length");
      std::memset(res.data() + ri, b, static_cast<size_t>(run));
      ri += run;
    }
    uint64_t tail = n_nt - ni;
    if (tail != n_res - ri) return Status::Corruption("fasta2bit: residue count");
    std::memcpy(res.data() + ri, nt + ni, static_cast<size_t>(tail));
  } else if (n_nt != n_res) {
    return Status::Corruption("fasta2bit: residue count");
  }
  // 4. Lines.
  lines.unterminated = flags & 1;
  lines.residues = std::string_view(res.data(), static_cast<size_t>(n_res));
  return fasta::RenderLines(lines, raw_len, out);
}

}  // namespace pmklc
