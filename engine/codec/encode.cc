// Block encoding: codec selection with raw fallback, header write.
#include <zstd.h>

#include "engine/codec/codec.h"
#include "engine/codec/endian.h"
#include "engine/codec/zstd_ctx.h"
#include "engine/fasta/fasta_codec.h"
#include "engine/fasta/varint.h"

namespace pmklc {

namespace {

Status EncodeZstd(std::string_view raw, int level, std::string* out, size_t offset) {
  ZSTD_CCtx* cctx = ThreadZstdCCtx();
  if (cctx == nullptr) return Status::NoMemory("zstd: cannot allocate a context");
  size_t bound = ZSTD_compressBound(raw.size());
  out->resize(offset + bound);
  size_t n = ZSTD_compressCCtx(cctx, out->data() + offset, bound, raw.data(), raw.size(), level);
  if (ZSTD_isError(n)) return Status::IOError(std::string("zstd: ") + ZSTD_getErrorName(n));
  out->resize(offset + n);
  return Status::OK();
}

void WriteHeader(CodecId codec, uint32_t raw_len, uint64_t checksum, char* p) {
  p[0] = static_cast<char>(format::kBlockVersion);
  p[1] = static_cast<char>(codec);
  StoreLE16(p + 2, 0);
  StoreLE32(p + 4, raw_len);
  StoreLE64(p + 8, checksum);
}
void WriteHeader(CodecId codec, std::string_view raw, char* p) {
  WriteHeader(codec, static_cast<uint32_t>(raw.size()), BlockChecksum(raw), p);
}

}  // namespace

Result<EncodeOptions> ProfileOptions(std::string_view profile) {
  EncodeOptions e;
  if (profile == "fast") return e;
  if (profile == "balanced" || profile == "max" || profile == "neural") {
    e.codec = CodecId::kZstd;  // blocks that are not FASTA
    e.zstd_level = 19;
    e.fasta = true;
    e.use_cm = true;
    e.cm = profile == "balanced" ? CmParams::Balanced() : CmParams::Max();
    e.use_neural = profile == "neural";
    // The shipped public model, parsed on first use (not by every
    // EncodeOptions a process builds).
    if (e.use_neural) e.neural.spum = ShippedPublicModel();
    e.fasta_meta_level = 19;
    e.protein_level = 19;
    e.protein_meta_level = 19;
    return e;
  }
  return Status::InvalidArgument("unknown profile '" + std::string(profile) + "' (fast, balanced, max, neural)");
}

namespace {
// A split block (docs/format.md §split): the parts coded one after another.
Status EncodeSplit(std::string_view raw, const EncodeOptions& opts, std::string* value) {
  const size_t part = opts.split_bytes;
  const size_t n = (raw.size() + part - 1) / part;
  if (n > format::kMaxSplitParts) return Status::InvalidArgument("split: more than kMaxSplitParts parts");
  EncodeOptions one = opts;
  one.split_bytes = 0;
  std::vector<std::string> parts(n);
  size_t total = 0;
  for (size_t i = 0; i < n; ++i) {
    PMKLC_RETURN_IF_ERROR(EncodeBlock(raw.substr(i * part, part), one, &parts[i]));
    total += parts[i].size();
  }
  std::string payload;
  payload.reserve(total + 8 + 4 * n);
  payload.push_back(static_cast<char>(format::kSplitVersion));
  PutVarint(&payload, n);
  for (const std::string& p : parts) PutVarint(&payload, p.size());
  for (const std::string& p : parts) payload += p;
  constexpr size_t H = format::kBlockHeaderSize;
  if (payload.size() >= raw.size()) {  // stored raw, as any block that does not shrink
    value->resize(H + raw.size());
    if (!raw.empty()) std::memcpy(value->data() + H, raw.data(), raw.size());
    WriteHeader(CodecId::kRaw, raw, value->data());
    return Status::OK();
  }
  value->resize(H + payload.size());
  std::memcpy(value->data() + H, payload.data(), payload.size());
  WriteHeader(CodecId::kSplit, raw, value->data());
  return Status::OK();
}
}  // namespace

Status EncodeBlock(std::string_view raw, const EncodeOptions& opts, std::string* value) {
  if (raw.size() > format::kMaxBlockRawLen) return Status::InvalidArgument("block too large");
  if (opts.split_bytes > 0 && raw.size() > opts.split_bytes) {
    if (opts.use_neural && opts.neural.chain.out != nullptr)
      return Status::InvalidArgument("a chained fasta-neural block cannot be split");
    return EncodeSplit(raw, opts, value);
  }
  constexpr size_t H = format::kBlockHeaderSize;
  CodecId used = raw.empty() ? CodecId::kRaw : opts.codec;
  if (used == CodecId::kFasta2Bit || used == CodecId::kFastaProtein) used = CodecId::kZstd;  // fallback
  const bool want_fasta = opts.fasta || opts.codec == CodecId::kFasta2Bit ||
                          opts.codec == CodecId::kFastaProtein;
  if (want_fasta && !raw.empty()) {
    thread_local std::string payload;
    FastaKind kind = FastaKind::kOther;
    const bool ref = !opts.refs.empty();
    if (ref && (opts.refs.size() > format::kMaxBlockRefs || opts.ref_codes.empty() ||
                opts.ref_codes.size() > format::kMaxPrimeBases))
      return Status::InvalidArgument("encode: bad reference segments");
    static const CmParams kRef = CmParams::Reference();
    const CmParams* cm = ref ? (opts.ref_with_cm && opts.use_cm ? &opts.cm : &kRef) : (opts.use_cm ? &opts.cm : nullptr);
    Status s = EncodeFasta2Bit(raw, opts.fasta_meta_level, &payload, &kind, cm,
                               opts.use_neural && !ref ? &opts.neural : nullptr,
                               ref ? std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(opts.ref_codes.data()),
                                                              opts.ref_codes.size())
                                   : std::span<const uint8_t>(),
                               opts.cm_coder);
    if (s.ok() && ref) {
      // fasta-ref: the reference list, then the primed fasta2bit payload.
      std::string list(2 + format::kRefEntryBytes * opts.refs.size(), '\0');
      list[0] = static_cast<char>(format::kRefPayloadVersion);
      list[1] = static_cast<char>(opts.refs.size());
      for (size_t i = 0; i < opts.refs.size(); ++i) {
        char* p = list.data() + 2 + format::kRefEntryBytes * i;
        StoreLE64(p, opts.refs[i].object);
        StoreLE32(p + 8, opts.refs[i].segment);
        StoreLE64(p + 12, opts.refs[i].checksum);
      }
      payload.insert(0, list);
    }
    CodecId fasta_codec = CodecId::kRaw;
    // A neural coder error (out of memory, a failed chain) is the caller's to see.
    if (!s.ok() && kind == FastaKind::kNucleotide && (opts.use_neural || ref)) return s;
    if (s.ok()) {
      fasta_codec = ref ? CodecId::kFastaRef : opts.use_neural ? CodecId::kFastaNeural : (opts.use_cm ? CodecId::kFastaCm : CodecId::kFasta2Bit);
    } else if (kind == FastaKind::kProtein) {
      PMKLC_RETURN_IF_ERROR(EncodeFastaProtein(raw, opts.protein_meta_level, opts.protein_level, &payload));
      fasta_codec = CodecId::kFastaProtein;
    }
    if (fasta_codec != CodecId::kRaw) {
      used = fasta_codec;
      // A chained fasta-neural block has already handed its dynamic models
      // to the next block: it is kept even when not smaller, so that the
      // decoder hands on the same models.
      const bool keep = fasta_codec == CodecId::kFastaNeural && opts.neural.chain.out != nullptr;
      if (payload.size() < raw.size() || keep) {
        value->resize(H + payload.size());
        std::memcpy(value->data() + H, payload.data(), payload.size());
      } else {
        used = CodecId::kRaw;
      }
      if (used != CodecId::kRaw) {
        WriteHeader(used, raw, value->data());
        return Status::OK();
      }
    }
  }
  if (used == CodecId::kZstd) {
    PMKLC_RETURN_IF_ERROR(EncodeZstd(raw, opts.zstd_level, value, H));
    used = CodecId::kZstd;
    if (value->size() - H >= raw.size()) used = CodecId::kRaw;
  } else if (used != CodecId::kRaw) {
    return Status::NotSupported("no encoder for codec id " + std::to_string(static_cast<int>(opts.codec)));
  }
  if (used == CodecId::kRaw) {
    value->resize(H + raw.size());
    if (!raw.empty()) std::memcpy(value->data() + H, raw.data(), raw.size());
  }
  WriteHeader(used, raw, value->data());
  return Status::OK();
}

std::string RefLinkValue(const RefSegmentKey& key, uint32_t raw_len) {
  constexpr size_t H = format::kBlockHeaderSize;
  std::string v(H + format::kRefLinkPayloadBytes, '\0');
  WriteHeader(CodecId::kRefLink, raw_len, key.checksum, v.data());
  v[H] = static_cast<char>(format::kRefPayloadVersion);
  StoreLE64(v.data() + H + 1, key.object);
  StoreLE32(v.data() + H + 9, key.segment);
  return v;
}

}  // namespace pmklc
