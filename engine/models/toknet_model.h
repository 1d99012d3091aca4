// toknet_model.h — a token-network weight file (SPuM, SPrM), its on-disk
// format (docs/format.md §Model file) and the process-wide registry through
// which decoders find a static model by id.
//
// File layout, little-endian:
//   [0..7]   "PMKLCNN\0"
//   [8]      u8  format version (kModelVersion = 1)
//   [9]      u8  k     [10] u8 s     [11] u8 0
//   [12..13] u16 ctx   [14..15] u16 hidden
//   [16..19] u32 name length L, then L bytes of name (UTF-8, <= 255)
//   then     u32 card length C, then C bytes (free text: how it was trained)
//   then     u64 weight count (must equal the shape's), then the weights as
//            IEEE binary32 (kernels/toknet.h order)
//   last 8   u64 XXH64 (seed 0) of every byte before it
// A model's id is that trailing XXH64: blocks record the ids of the static
// models they were coded with, and equal ids mean equal bytes.
// Thread safety: the registry is internally locked; models are immutable
// once registered and shared by pointer.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/status.h"
#include "kernels/toknet.h"

namespace pmklc {

inline constexpr uint8_t kModelVersion = 1;
// Largest model file anything reads or writes (containers, stores, the daemon).
inline constexpr uint64_t kMaxModelFileBytes = 64u << 20;

struct TokNetModel {
  std::string name;
  std::string card;  // training data, epochs, loss (informational)
  kernels::TokNetShape shape;
  std::vector<float> weights;
  uint64_t id = 0;  // set by Serialize/Parse
};

// Serialises *m and sets m->id.
std::string SerializeModel(TokNetModel* m);
// Corruption on a bad magic, version, shape, size or checksum.
Result<TokNetModel> ParseModel(std::string_view bytes);

// Registry of static models available to decoders in this process: the
// shipped public models (registered at first use) and private models loaded
// from a store or a container. Registering an id twice keeps the first.
void RegisterModel(std::shared_ptr<const TokNetModel> m);
// The model with this id, or nullptr.
std::shared_ptr<const TokNetModel> FindModel(uint64_t id);
// The shipped public model (SPuM) built into this binary, or nullptr when the
// build has none.
std::shared_ptr<const TokNetModel> ShippedPublicModel();

}  // namespace pmklc
