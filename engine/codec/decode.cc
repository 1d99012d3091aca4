// Block decoding: header parse, codec dispatch, checksum verification.
// Links only decoders (zstd decompress, raw copy).
#include <xxhash.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>

#include "engine/codec/codec.h"
#include "engine/codec/endian.h"
#include "engine/codec/zstd_ctx.h"
#include "engine/fasta/fasta_codec.h"
#include "engine/fasta/varint.h"

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
    case CodecId::kSplit: return "split";
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
  if (name == "split") return CodecId::kSplit;
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

Status BlockParts(std::string_view value, std::vector<BlockPart>* parts) {
  parts->clear();
  auto hr = ParseBlockHeader(value);
  if (!hr.ok()) return hr.status();
  if (hr->codec != CodecId::kSplit) {
    parts->push_back({0, hr->raw_len, hr->checksum, value});
    return Status::OK();
  }
  Reader r(value.substr(format::kBlockHeaderSize));
  uint8_t version;
  uint64_t n;
  if (!r.GetByte(&version) || version != format::kSplitVersion) return Status::Corruption("split: unknown version");
  if (!r.GetVarint(&n) || n < 2 || n > format::kMaxSplitParts) return Status::Corruption("split: bad part count");
  std::vector<uint64_t> lens(n);
  for (auto& l : lens)
    if (!r.GetVarint(&l) || l > r.remaining()) return Status::Corruption("split: truncated part table");
  uint64_t off = 0;
  for (uint64_t len : lens) {
    std::string_view v;
    if (!r.GetBytes(static_cast<size_t>(len), &v)) return Status::Corruption("split: truncated part");
    auto ph = ParseBlockHeader(v);
    if (!ph.ok()) return Status::Corruption("split: part " + std::to_string(parts->size()) + ": " + ph.status().message());
    if (ph->codec == CodecId::kSplit) return Status::Corruption("split: a part is itself split");
    if (ph->raw_len == 0) return Status::Corruption("split: an empty part");
    parts->push_back({off, ph->raw_len, ph->checksum, v});
    off += ph->raw_len;
  }
  if (r.remaining() != 0) return Status::Corruption("split: bytes after the last part");
  if (off != hr->raw_len) return Status::Corruption("split: the parts' lengths do not add up to the block's");
  return Status::OK();
}

Status BlockRefs(std::string_view value, std::vector<RefSegmentKey>* refs) {
  refs->clear();
  auto hr = ParseBlockHeader(value);
  if (!hr.ok()) return hr.status();
  if (hr->codec == CodecId::kSplit) {  // every part's, each once, in order of first use
    std::vector<BlockPart> parts;
    PMKLC_RETURN_IF_ERROR(BlockParts(value, &parts));
    for (const BlockPart& p : parts) {
      std::vector<RefSegmentKey> own;
      PMKLC_RETURN_IF_ERROR(BlockRefs(p.value, &own));
      for (const RefSegmentKey& k : own)
        if (std::find(refs->begin(), refs->end(), k) == refs->end()) refs->push_back(k);
    }
    return Status::OK();
  }
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
    case CodecId::kSplit: {
      // Each part decodes alone and checks its own checksum; the whole
      // block's checksum is checked below as for every codec.
      std::vector<BlockPart> parts;
      s = BlockParts(value, &parts);
      if (!s.ok()) break;
      std::string part;
      for (const BlockPart& p : parts) {
        s = DecodeBlock(p.value, &part, nullptr, refs, cm);
        if (s.IsCorruption()) return Status::Corruption("split part at byte " + std::to_string(p.offset) + ": " + s.message());
        if (!s.ok()) return s;
        std::memcpy(buf.data() + p.offset, part.data(), part.size());
      }
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
