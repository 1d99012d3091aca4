#include "engine/models/toknet_model.h"

#include <xxhash.h>

#include <cstring>
#include <map>
#include <mutex>

#include "kernels/nn_math.h"

namespace pmklc {

namespace {

constexpr char kMagic[8] = {'P', 'M', 'K', 'L', 'C', 'N', 'N', '\0'};

void Put16(std::string* o, uint16_t v) {
  o->push_back(static_cast<char>(v));
  o->push_back(static_cast<char>(v >> 8));
}
void Put32(std::string* o, uint32_t v) {
  for (int i = 0; i < 4; ++i) o->push_back(static_cast<char>(v >> (8 * i)));
}
void Put64(std::string* o, uint64_t v) {
  for (int i = 0; i < 8; ++i) o->push_back(static_cast<char>(v >> (8 * i)));
}
uint64_t Get(const char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= uint64_t{static_cast<uint8_t>(p[i])} << (8 * i);
  return v;
}

std::mutex g_mu;
std::map<uint64_t, std::shared_ptr<const TokNetModel>>& Registry() {
  static auto* m = new std::map<uint64_t, std::shared_ptr<const TokNetModel>>();
  return *m;
}

}  // namespace

std::string SerializeModel(TokNetModel* m) {
  std::string o(kMagic, 8);
  o.push_back(static_cast<char>(kModelVersion));
  o.push_back(static_cast<char>(m->shape.k));
  o.push_back(static_cast<char>(m->shape.s));
  o.push_back(0);
  Put16(&o, static_cast<uint16_t>(m->shape.ctx));
  Put16(&o, static_cast<uint16_t>(m->shape.hidden));
  Put32(&o, static_cast<uint32_t>(m->name.size()));
  o += m->name;
  Put32(&o, static_cast<uint32_t>(m->card.size()));
  o += m->card;
  Put64(&o, m->weights.size());
  o.reserve(o.size() + 4 * m->weights.size() + 8);
  for (float f : m->weights) Put32(&o, kernels::nn::FloatToBits(f));
  m->id = XXH64(o.data(), o.size(), 0);
  Put64(&o, m->id);
  return o;
}

Result<TokNetModel> ParseModel(std::string_view b) {
  if (b.size() < 36 || std::memcmp(b.data(), kMagic, 8) != 0)
    return Status::Corruption("model: not a pmklc model file");
  if (static_cast<uint8_t>(b[8]) != kModelVersion) return Status::Corruption("model: unknown version");
  TokNetModel m;
  m.id = Get(b.data() + b.size() - 8, 8);
  if (XXH64(b.data(), b.size() - 8, 0) != m.id) return Status::Corruption("model: checksum mismatch");
  m.shape.k = static_cast<uint8_t>(b[9]);
  m.shape.s = static_cast<uint8_t>(b[10]);
  m.shape.ctx = static_cast<int>(Get(b.data() + 12, 2));
  m.shape.hidden = static_cast<int>(Get(b.data() + 14, 2));
  if (!m.shape.Valid()) return Status::Corruption("model: bad shape");
  size_t at = 16;
  const size_t end = b.size() - 8;
  for (std::string* s : {&m.name, &m.card}) {
    if (end - at < 4) return Status::Corruption("model: truncated");
    const uint64_t len = Get(b.data() + at, 4);
    at += 4;
    if (len > end - at || len > (1u << 20)) return Status::Corruption("model: truncated");
    s->assign(b.data() + at, len);
    at += len;
  }
  if (end - at < 8) return Status::Corruption("model: truncated");
  const uint64_t count = Get(b.data() + at, 8);
  at += 8;
  if (count != m.shape.weight_count() || (end - at) != 4 * count)
    return Status::Corruption("model: weight count does not match its shape");
  m.weights.resize(count);
  for (size_t i = 0; i < count; ++i) {
    const uint32_t u = static_cast<uint32_t>(Get(b.data() + at + 4 * i, 4));
    if ((u & 0x7f800000u) == 0x7f800000u) return Status::Corruption("model: a weight is not finite");
    m.weights[i] = kernels::nn::BitsToFloat(u);
  }
  return m;
}

void RegisterModel(std::shared_ptr<const TokNetModel> m) {
  std::lock_guard<std::mutex> l(g_mu);
  Registry().emplace(m->id, std::move(m));
}

std::shared_ptr<const TokNetModel> FindModel(uint64_t id) {
  (void)ShippedPublicModel();  // registers the built-in models on first use
  std::lock_guard<std::mutex> l(g_mu);
  auto it = Registry().find(id);
  return it == Registry().end() ? nullptr : it->second;
}

}  // namespace pmklc
