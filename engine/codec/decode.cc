// Block decoding: header parse, codec dispatch, checksum verification.
// Links only decoders (zstd decompress, raw copy).
#include <xxhash.h>
#include <zstd.h>

#include <cstring>

#include "engine/codec/codec.h"
#include "engine/codec/endian.h"
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
  thread_local ZSTD_DCtx* dctx = ZSTD_createDCtx();
  if (dctx == nullptr) return Status::IOError("zstd: cannot allocate context");
  size_t n = ZSTD_decompressDCtx(dctx, out, raw_len, payload.data(), payload.size());
  if (ZSTD_isError(n)) return Status::Corruption(std::string("zstd: ") + ZSTD_getErrorName(n));
  if (n != raw_len) return Status::Corruption("zstd: decoded length differs from header");
  return Status::OK();
}

}  // namespace

Status DecodeBlock(std::string_view value, std::string* out, const NeuralChain* chain) {
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
      s = DecodeFasta2Bit(payload, h.raw_len, buf.data(), NtCoding::kCm);
      break;
    case CodecId::kFastaNeural:
      s = DecodeFasta2Bit(payload, h.raw_len, buf.data(), NtCoding::kNeural, chain);
      break;
    default:
      s = Status::Corruption("unknown codec id " + std::to_string(static_cast<int>(h.codec)));
  }
  if (!s.ok()) return s;
  if (BlockChecksum(buf) != h.checksum) return Status::Corruption("checksum mismatch");
  *out = std::move(buf);
  return Status::OK();
}

}  // namespace pmklc
