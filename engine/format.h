// format.h — every on-disk format constant of pmklcfs, in one place.
//
// docs/format.md (block and container formats) and docs/store.md (RocksDB
// schema) describe the layouts these constants belong to. Changing any value
// here is a format change: bump the matching version byte.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pmklc::format {

// ---- Block value (docs/format.md §Block) ---------------------------------
// [0]     u8   block format version (kBlockVersion)
// [1]     u8   codec id (CodecId)
// [2..3]  u16  flags, little-endian; must be 0 in version 1
// [4..7]  u32  raw (decoded) length, little-endian
// [8..15] u64  XXH3-64 (seed 0) of the raw bytes, little-endian
// [16..]       codec payload
inline constexpr uint8_t kBlockVersion = 1;
inline constexpr size_t kBlockHeaderSize = 16;
inline constexpr uint32_t kMaxBlockRawLen = 64u << 20;  // sanity bound on decode

// Codec ids. Ids are never reused; an unknown id is a decode error.
enum class CodecId : uint8_t {
  kRaw = 0,           // payload is the raw bytes
  kZstd = 1,          // zstd frame of the raw bytes
  kFasta2Bit = 2,     // FASTA streams, 2-bit nucleotides (docs/format.md §fasta2bit)
  kFastaProtein = 3,  // FASTA streams, zstd residues (docs/format.md §fasta-protein)
  kFastaCm = 4,       // fasta2bit streams, nucleotides context-mixed (docs/format.md §fasta-cm)
  kFastaNeural = 5,   // fasta2bit streams, nucleotides CM + token networks (docs/format.md §fasta-neural)
  kFastaRef = 6,      // fasta-cm primed with reference segments (docs/format.md §fasta-ref)
  kRefLink = 7,       // the raw bytes of one reference segment (docs/format.md §ref-link)
  kSplit = 8,         // consecutive parts, each a block value decoded alone (docs/format.md §split)
};

// Split blocks (docs/format.md §split; issue #19): version byte of the
// payload, and the most parts one block may have.
inline constexpr uint8_t kSplitVersion = 1;
inline constexpr uint32_t kMaxSplitParts = 4096;

// References (docs/format.md §fasta-ref; issue #6). Version byte of the
// fasta-ref and ref-link payloads.
inline constexpr uint8_t kRefPayloadVersion = 1;
// Most reference segments one block may depend on. Reading the block decodes
// them too (docs/store.md §References gives the cost).
inline constexpr uint32_t kMaxBlockRefs = 4;
// One entry of a fasta-ref reference list: u64 object, u32 segment, u64 checksum.
inline constexpr size_t kRefEntryBytes = 20;
// A ref-link payload: u8 version, u64 object, u32 segment.
inline constexpr size_t kRefLinkPayloadBytes = 13;
// Most bases of reference one block may be primed with.
inline constexpr uint64_t kMaxPrimeBases = 256u << 20;

// Cross-block step-wise model passing in containers written with -j W
// (docs/format.md §fasta-neural): block b's dynamic models continue block
// b-1's unless b is a multiple of this, so reading block b needs at most
// this many - 1 earlier blocks' first smp_percent.
inline constexpr uint32_t kNeuralChainBlocks = 16;

// ---- Store (docs/store.md) ------------------------------------------------
// 2: adds the "cold" column family (archived groups) and meta group_blocks.
// 3: adds the "refs" column family (reference objects, holds, sketches).
// 4: adds the "sizes" column family (stored size, raw size and codec of
//    every block, group and segment: du and stat read it, not the values).
// Version 1, 2 and 3 stores are upgraded in place when opened read-write.
inline constexpr uint32_t kStoreVersion = 5;
// Version byte of a reference object record (docs/store.md §References).
inline constexpr uint8_t kRefObjectVersion = 1;
// Archived (cold-tier) group: by default this many bytes of a file, i.e.
// group_blocks = kGroupBytes / block_size logical blocks, coded as one block
// value; fixed per store at creation (meta group_blocks). Default 4 MiB: see
// docs/store.md §Archive (ratio vs. random-read cost).
inline constexpr uint32_t kGroupBytes = 4u << 20;
inline constexpr uint64_t kMaxGroupBytes = 64u << 20;
// Logical block size of file data. Default 128 KiB: see docs/store.md §Block size.
inline constexpr uint32_t kDefaultBlockSize = 128u << 10;
inline constexpr uint32_t kMinBlockSize = 4u << 10;
inline constexpr uint32_t kMaxBlockSize = 16u << 20;

inline constexpr uint64_t kRootIno = 1;
inline constexpr size_t kMaxNameLen = 255;
inline constexpr size_t kMaxSymlinkLen = 4095;
inline constexpr uint32_t kMaxLinks = 65000;
inline constexpr size_t kMaxXattrValue = 64u << 10;
inline constexpr size_t kMaxXattrName = 255;
// Largest file: 2^63-1 bytes is what off_t allows; we cap at 2^53 so block
// indices and byte counts stay exact everywhere.
inline constexpr uint64_t kMaxFileSize = uint64_t{1} << 53;

// Inode record version byte (first byte of every value in the inodes CF).
inline constexpr uint8_t kInodeRecordVersion = 1;

}  // namespace pmklc::format
