// Block decoding: header parse, codec dispatch, checksum verification.
// Links only decoders (zstd decompress, raw copy).
#include <xxhash.h>
#include <zstd.h>

#include <cstring>

#include "engine/codec/codec.h"
#include "engine/codec/endian.h"
#include "engine/codec/zstd_ctx.h"
#include "engine/fasta/fasta_codec.h"

namespace pmklc {

const char* CodecName(CodecId id) {
  switch (id) {
    case CodecId::kRaw: return "raw";
    case CodecId::kZstd: return "zstd";
    case CodecId::kFasta2Bit: return "fasta2bit";
    case CodecId::kFastaProtein: return "fasta-protein";
    case CodecId::kFastaCm: return "fasta-cm";
    case CodecId::kFastaNeural: return "fasta-neural";
    case CodecId::kFastaRef: return "fasta-ref";
    case CodecId::kRefLink: return "ref-link";
  }
  return nullptr;
}

Result<CodecId> CodecFromName(std::string_view name) {
  if (name == "raw") return CodecId::kRaw;
  if (name == "zstd") return CodecId::kZstd;
  if (name == "fasta2bit") return CodecId::kFasta2Bit;
  if (name == "fasta-protein") return CodecId::kFastaProtein;
  if (name == "fasta-cm") return CodecId::kFastaCm;
  if (name == "fasta-neural") return CodecId::kFastaNeural;
  if (name == "fasta-ref") return CodecId::kFastaRef;
  if (name == "ref-link") return CodecId::kRefLink;
  return Status::NotFound("unknown codec '" + std::string(name) + "'");
}

uint64_t BlockChecksum(std::string_view raw) { return XXH3_64bits(raw.data(), raw.size()); }

Result<BlockHeader> ParseBlockHeader(std::string_view v) {
  if (v.size() < format::kBlockHeaderSize)
    return Status::Corruption("block value shorter than its header");
  BlockHeader h;
  h.version = static_cast<uint8_t>(v[0]);
  h.codec = static_cast<CodecId>(static_cast<uint8_t>(v[1]));
  h.flags = LoadLE16(v.data() + 2);
  h.raw_len = LoadLE32(v.data() + 4);
  h.checksum = LoadLE64(v.data() + 8);
  if (h.version != format::kBlockVersion)
    return Status::Corruption("unknown block format version " + std::to_string(h.version));
  if (h.flags != 0) return Status::Corruption("unknown block flags");
  if (h.raw_len > format::kMaxBlockRawLen) return Status::Corruption("block raw length too large");
  return h;
}

namespace {

Status DecodeZstd(std::string_view payload, size_t raw_len, char* out) {
  ZSTD_DCtx* dctx = ThreadZstdDCtx();
  if (dctx == nullptr) return Status::NoMemory("zstd: cannot allocate a context");
  size_t n = ZSTD_decompressDCtx(dctx, out, raw_len, payload.data(), payload.size());
  if (ZSTD_isError(n)) return Status::Corruption(std::string("zstd: ") + ZSTD_getErrorName(n));
  if (n != raw_len) return Status::Corruption("zstd: decoded length differs from header");
  return Status::OK();
}

// The reference list at the start of a fasta-ref payload; *used = its size.
Status ParseRefList(std::string_view payload, std::vector<RefSegmentKey>* refs, size_t* used) {
  refs->clear();
  if (payload.size() < 2) return Status::Corruption("fasta-ref: truncated reference list");
  if (static_cast<uint8_t>(payload[0]) != format::kRefPayloadVersion)
    return Status::Corruption("fasta-ref: unknown version");
  const size_t n = static_cast<uint8_t>(payload[1]);
  if (n == 0 || n > format::kMaxBlockRefs) return Status::Corruption("fasta-ref: bad reference count");
  if (payload.size() < 2 + n * format::kRefEntryBytes) return Status::Corruption("fasta-ref: truncated reference list");
  for (size_t i = 0; i < n; ++i) {
    const char* p = payload.data() + 2 + i * format::kRefEntryBytes;
    refs->push_back({LoadLE64(p), LoadLE32(p + 8), LoadLE64(p + 12)});
  }
  *used = 2 + n * format::kRefEntryBytes;
  return Status::OK();
}

Status ParseRefLink(std::string_view payload, const BlockHeader& h, RefSegmentKey* key) {
  if (payload.size() != format::kRefLinkPayloadBytes || static_cast<uint8_t>(payload[0]) != format::kRefPayloadVersion)
    return Status::Corruption("ref-link: malformed payload");
  *key = {LoadLE64(payload.data() + 1), LoadLE32(payload.data() + 9), h.checksum};
  return Status::OK();
}

// Fetches a reference segment and checks it is the one the block names.
Result<std::shared_ptr<const RefSegment>> GetRef(RefSource* src, const RefSegmentKey& k) {
  auto r = src->Get(k);
  if (!r.ok()) {
    if (r.status().IsNotFound())
      return Status::Corruption("reference segment " + std::to_string(k.object) + "/" + std::to_string(k.segment) +
                                " is missing");
    return r.status();
  }
  if (*r == nullptr || BlockChecksum((*r)->raw) != k.checksum)
    return Status::Corruption("reference segment " + std::to_string(k.object) + "/" + std::to_string(k.segment) +
                              " does not match its checksum");
  return r;
}

}  // namespace

bool IsNucleotideFastaCodec(CodecId c) {
  return c == CodecId::kFasta2Bit || c == CodecId::kFastaCm || c == CodecId::kFastaNeural ||
         c == CodecId::kFastaRef || c == CodecId::kRefLink;
}

std::string NucleotideCodes(std::string_view raw) {
  static const struct Map {
    int8_t v[256];
    Map() {
      std::memset(v, -1, sizeof(v));
      v['A'] = v['a'] = 0;
      v['C'] = v['c'] = 1;
      v['G'] = v['g'] = 2;
      v['T'] = v['t'] = 3;
    }
  } kMap;
  std::string codes;
  codes.reserve(raw.size());
  bool bol = true, text = false;
  for (char c : raw) {
    if (bol) text = c == '>' || c == ';';
    bol = c == '\n';
    if (text) continue;
    const int8_t v = kMap.v[static_cast<uint8_t>(c)];
    if (v >= 0) codes.push_back(static_cast<char>(v));
  }
  return codes;
}

Status BlockRefs(std::string_view value, std::vector<RefSegmentKey>* refs) {
  refs->clear();
  auto hr = ParseBlockHeader(value);
  if (!hr.ok()) return hr.status();
  std::string_view payload = value.substr(format::kBlockHeaderSize);
  if (hr->codec == CodecId::kFastaRef) {
    size_t used = 0;
    return ParseRefList(payload, refs, &used);
  }
  if (hr->codec == CodecId::kRefLink) {
    RefSegmentKey k;
    PMKLC_RETURN_IF_ERROR(ParseRefLink(payload, *hr, &k));
    refs->push_back(k);
  }
  return Status::OK();
}

Status DecodeBlock(std::string_view value, std::string* out, const NeuralChain* chain, RefSource* refs,
                   CmStreamCoder* cm) {
  out->clear();
  auto hr = ParseBlockHeader(value);
  if (!hr.ok()) return hr.status();
  const BlockHeader& h = *hr;
  std::string_view payload = value.substr(format::kBlockHeaderSize);
  std::string buf;
  buf.resize(h.raw_len);
  Status s;
  switch (h.codec) {
    case CodecId::kRaw:
      if (payload.size() != h.raw_len) s = Status::Corruption("raw block length mismatch");
      else if (h.raw_len) std::memcpy(buf.data(), payload.data(), h.raw_len);
      break;
    case CodecId::kZstd:
      s = DecodeZstd(payload, h.raw_len, buf.data());
      break;
    case CodecId::kFasta2Bit:
      s = DecodeFasta2Bit(payload, h.raw_len, buf.data());
      break;
    case CodecId::kFastaProtein:
      s = DecodeFastaProtein(payload, h.raw_len, buf.data());
      break;
    case CodecId::kFastaCm:
      s = DecodeFasta2Bit(payload, h.raw_len, buf.data(), NtCoding::kCm, nullptr, {}, cm);
      break;
    case CodecId::kFastaNeural:
      s = DecodeFasta2Bit(payload, h.raw_len, buf.data(), NtCoding::kNeural, chain);
      break;
    case CodecId::kFastaRef: {
      if (refs == nullptr) return Status::NotSupported("the block depends on reference segments it was not given");
      std::vector<RefSegmentKey> keys;
      size_t used = 0;
      s = ParseRefList(payload, &keys, &used);
      if (!s.ok()) break;
      std::string prime;
      for (const RefSegmentKey& k : keys) {
        auto seg = GetRef(refs, k);
        if (!seg.ok()) return seg.status();
        if (prime.size() + (*seg)->codes.size() > format::kMaxPrimeBases)
          return Status::Corruption("fasta-ref: references exceed the prime limit");
        prime += (*seg)->codes;
      }
      if (prime.empty()) return Status::Corruption("fasta-ref: references hold no bases");
      s = DecodeFasta2Bit(payload.substr(used), h.raw_len, buf.data(), NtCoding::kCmPrimed, nullptr,
                          {reinterpret_cast<const uint8_t*>(prime.data()), prime.size()});
      break;
    }
    case CodecId::kRefLink: {
      if (refs == nullptr) return Status::NotSupported("the block is a link to a reference segment it was not given");
      RefSegmentKey k;
      s = ParseRefLink(payload, h, &k);
      if (!s.ok()) break;
      auto seg = GetRef(refs, k);
      if (!seg.ok()) return seg.status();
      if ((*seg)->raw.size() != h.raw_len) return Status::Corruption("ref-link: segment length differs");
      buf = (*seg)->raw;
      break;
    }
    default:
      s = Status::Corruption("unknown codec id " + std::to_string(static_cast<int>(h.codec)));
  }
  if (!s.ok()) return s;
  if (BlockChecksum(buf) != h.checksum) return Status::Corruption("checksum mismatch");
  *out = std::move(buf);
  return Status::OK();
}

}  // namespace pmklc
