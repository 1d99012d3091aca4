#include "engine/models/nucleotide_cm.h"

#include <algorithm>
#include <memory>

#include "engine/coder/binary_coder.h"
#include "engine/models/logistic.h"

namespace pmklc {

namespace {

using models::Squash;
using models::Stretch;

// Largest model memory a block may ask for (the budget is 2 GiB per
// coding thread).
constexpr uint64_t kMaxModelBytes = uint64_t{1} << 30;

// Adaptive probability: p moves toward the bit by 1/(n+1.5), n capped.
struct Counter {
  uint16_t p = 32768;
  uint8_t n = 0;
};

struct Recip {
  uint32_t v[256];
  Recip() {
    for (int i = 0; i < 256; ++i) v[i] = static_cast<uint32_t>((65536u * 2) / (2 * i + 3));
  }
};
const Recip kRecip;

inline void Update(Counter& c, int bit, uint8_t limit) {
  int target = bit ? 65535 : 0;
  int delta = static_cast<int>((static_cast<int64_t>(target - c.p) * kRecip.v[c.n]) >> 16);
  c.p = static_cast<uint16_t>(c.p + delta);
  if (c.p < 32) c.p = 32;
  if (c.p > 65503) c.p = 65503;
  if (c.n < limit) c.n++;
}

inline uint64_t Hash(uint64_t x, uint8_t k) {
  x = (x + k) * 0x9E3779B97F4A7C15ull;
  x ^= x >> 29;
  x *= 0xBF58476D1CE4E5B9ull;
  return x ^ (x >> 32);
}

class Model {
 public:
  Model(const CmParams& p) : params_(p) {
    for (uint8_t k : p.orders) {
      Table t;
      t.order = k;
      t.direct = 2 * k <= 24;
      t.bits = t.direct ? 2 * k : p.hash_bits;
      t.limit = k <= 8 ? 250 : (k <= 12 ? 60 : 20);
      t.slots.assign(size_t{1} << t.bits, Slot{});
      tables_.push_back(std::move(t));
    }
    n_in_ = tables_.size() + 3;  // models, forward match, inverted-repeat match, bias
    mm_.assign(size_t{1} << kMatchBits, 0);
    weights_.assign(3 * 16 * n_in_, 0);
    for (size_t i = 0; i < weights_.size(); ++i) weights_[i] = (1 << 16) / static_cast<int>(n_in_ - 1 > 0 ? n_in_ - 1 : 1);
    apm_.assign(3 * 256 * 33, 0);
    for (size_t c = 0; c < 3 * 256; ++c)
      for (int j = 0; j < 33; ++j) apm_[c * 33 + j] = static_cast<uint16_t>(Squash((j - 16) * 128));
    st_.resize(n_in_);
    cur_.resize(tables_.size());
  }

  // Prepares the slots of the current context (once per base).
  void Begin() {
    const size_t n = seq_.size();
    if (n >= kMatchMin) {
      if (flen_ == 0) {  // forward repeat: the last kMatchMin bases seen before
        uint32_t p = mm_[MatchSlot(hist_ & kMatchMask)];
        if (p > 0 && p < n) {
          uint32_t l = 0;
          while (l < 32 && l < p && seq_[p - 1 - l] == seq_[n - 1 - l]) ++l;
          if (l >= kMatchMin) { fptr_ = p; flen_ = l; }
        }
      }
      if (ilen_ == 0) {  // inverted repeat: the reverse complement seen before
        uint32_t e1 = mm_[MatchSlot(rc_)];
        if (e1 >= kMatchMin + 1 && e1 <= n) {
          uint32_t p = e1 - kMatchMin;  // first base of the occurrence
          uint32_t l = 0;
          while (l < 32 && p + l < n && seq_[p + l] == 3 - seq_[n - 1 - l]) ++l;
          if (l >= kMatchMin) { iptr_ = p - 1; ilen_ = l; }
        }
      }
    }
    for (size_t i = 0; i < tables_.size(); ++i) {
      Table& t = tables_[i];
      uint64_t ctx = t.order >= 32 ? hist_ : (hist_ & ((uint64_t{1} << (2 * t.order)) - 1));
      size_t idx = t.direct ? static_cast<size_t>(ctx) : static_cast<size_t>(Hash(ctx, t.order) >> (64 - t.bits));
      cur_[i] = &t.slots[idx];
    }
  }

  // P(bit = 1) for decision node (0: high bit; 1/2: low bit given high 0/1).
  uint32_t P(int node) {
    for (size_t i = 0; i < tables_.size(); ++i) st_[i] = Stretch(cur_[i]->c[node].p);
    const size_t nt = tables_.size();
    fbit_ = MatchInput(node, flen_ ? seq_[fptr_] : -1, flen_, fconf_, &st_[nt]);
    ibit_ = MatchInput(node, ilen_ ? 3 - seq_[iptr_] : -1, ilen_, iconf_, &st_[nt + 1]);
    st_[nt + 2] = 256;  // bias
    wsel_ = (static_cast<size_t>(node) * 16 + static_cast<size_t>(hist_ & 15)) * n_in_;
    int64_t dot = 0;
    for (size_t i = 0; i < n_in_; ++i) dot += static_cast<int64_t>(st_[i]) * weights_[wsel_ + i];
    int x = static_cast<int>(dot >> 16);
    pmix_ = Squash(x);
    // APM on (node, last 4 bases) and the mixed logit, interpolated.
    int s = Stretch(pmix_) + 2048;  // 1..4095
    int lo = s >> 7, w = s & 127;
    asel_ = (static_cast<size_t>(node) * 256 + static_cast<size_t>(hist_ & 255)) * 33 + static_cast<size_t>(lo);
    aw_ = w;
    uint32_t pa = (apm_[asel_] * static_cast<uint32_t>(128 - w) + apm_[asel_ + 1] * static_cast<uint32_t>(w)) >> 7;
    uint32_t p = (pmix_ + 3 * pa) >> 2;
    return ClampP(p);
  }

  void Learn(int node, int bit) {
    int err = ((bit << 16) - static_cast<int>(pmix_));  // in 1/65536
    for (size_t i = 0; i < n_in_; ++i)
      weights_[wsel_ + i] += static_cast<int>((static_cast<int64_t>(st_[i]) * err) >> 14);
    int target = bit ? 65535 : 0;
    uint16_t& a0 = apm_[asel_];
    uint16_t& a1 = apm_[asel_ + 1];
    a0 = static_cast<uint16_t>(a0 + (((target - a0) * (128 - aw_)) >> 13));
    a1 = static_cast<uint16_t>(a1 + (((target - a1) * aw_) >> 13));
    for (size_t i = 0; i < tables_.size(); ++i) Update(cur_[i]->c[node], bit, tables_[i].limit);
    if (fbit_ >= 0) Update(fconf_[std::min<uint32_t>(flen_, 31)], fbit_ == bit, 255);
    if (ibit_ >= 0) Update(iconf_[std::min<uint32_t>(ilen_, 31)], ibit_ == bit, 255);
  }

  void End(int base) {
    if (flen_) {
      if (seq_[fptr_] == base) { ++flen_; ++fptr_; } else flen_ = 0;
    }
    if (ilen_) {
      if (3 - seq_[iptr_] == base && iptr_ > 0) { ++ilen_; --iptr_; } else ilen_ = 0;
    }
    seq_.push_back(static_cast<uint8_t>(base));
    hist_ = (hist_ << 2) | static_cast<uint64_t>(base);
    rc_ = (rc_ >> 2) | (static_cast<uint64_t>(3 - base) << (2 * kMatchMin - 2));
    if (seq_.size() >= kMatchMin) mm_[MatchSlot(hist_ & kMatchMask)] = static_cast<uint32_t>(seq_.size());
  }

 private:
  static constexpr uint32_t kMatchMin = 20;  // bases hashed to find repeats
  static constexpr uint64_t kMatchMask = (uint64_t{1} << (2 * kMatchMin)) - 1;
  static constexpr int kMatchBits = 22;
  static size_t MatchSlot(uint64_t kmer) { return static_cast<size_t>(Hash(kmer, 99) >> (64 - kMatchBits)); }
  // Mixer input of a match model: +/- the stretched confidence of its
  // predicted bit for this node; 0 (and -1 returned) when it predicts nothing.
  static int MatchInput(int node, int pred, uint32_t len, const Counter* conf, int* st) {
    *st = 0;
    if (pred < 0) return -1;
    int bit;
    if (node == 0) bit = pred >> 1;
    else if (node - 1 == (pred >> 1)) bit = pred & 1;
    else return -1;
    int s = Stretch(conf[std::min<uint32_t>(len, 31)].p);
    *st = bit ? s : -s;
    return bit;
  }

  struct Slot { Counter c[3]; };
  struct Table {
    uint8_t order = 0, bits = 0, limit = 0;
    bool direct = false;
    std::vector<Slot> slots;
  };
  const CmParams& params_;
  std::vector<Table> tables_;
  std::vector<Slot*> cur_;
  std::vector<int> st_;
  std::vector<int> weights_;
  std::vector<uint16_t> apm_;
  size_t n_in_ = 0, wsel_ = 0, asel_ = 0;
  int aw_ = 0;
  uint32_t pmix_ = 32768;
  uint64_t hist_ = 0;
  // Repeat models.
  std::vector<uint8_t> seq_;
  std::vector<uint32_t> mm_;
  uint64_t rc_ = 0;
  uint32_t fptr_ = 0, flen_ = 0, iptr_ = 0, ilen_ = 0;
  int fbit_ = -1, ibit_ = -1;
  Counter fconf_[32], iconf_[32];
};

}  // namespace

std::string CmParams::Serialize() const {
  std::string s;
  s.push_back(static_cast<char>(orders.size()));
  for (uint8_t k : orders) s.push_back(static_cast<char>(k));
  s.push_back(static_cast<char>(hash_bits));
  return s;
}

Result<CmParams> CmParams::Parse(std::string_view in, size_t* used) {
  if (in.empty()) return Status::Corruption("cm params: empty");
  size_t n = static_cast<uint8_t>(in[0]);
  if (n == 0 || n > 32 || in.size() < n + 2) return Status::Corruption("cm params: bad model count");
  CmParams p;
  p.orders.clear();
  for (size_t i = 0; i < n; ++i) {
    uint8_t k = static_cast<uint8_t>(in[1 + i]);
    if (k == 0 || k > 32) return Status::Corruption("cm params: bad order");
    p.orders.push_back(k);
  }
  p.hash_bits = static_cast<uint8_t>(in[1 + n]);
  if (p.hash_bits < 10 || p.hash_bits > 26) return Status::Corruption("cm params: bad table size");
  // Bound the memory a (possibly corrupt) header can make the decoder take.
  uint64_t slots = 0;
  for (uint8_t k : p.orders) slots += 2 * k <= 24 ? uint64_t{1} << (2 * k) : uint64_t{1} << p.hash_bits;
  if (slots * sizeof(Counter) * 3 > kMaxModelBytes) return Status::Corruption("cm params: models too large");
  *used = n + 2;
  return p;
}

void CmEncode(const CmParams& p, const uint8_t* codes, size_t n, std::string* out) {
  auto m = std::make_unique<Model>(p);
  BinaryEncoder e(out);
  for (size_t i = 0; i < n; ++i) {
    int b = codes[i] & 3, hi = b >> 1, lo = b & 1;
    m->Begin();
    e.Encode(hi, m->P(0));
    m->Learn(0, hi);
    e.Encode(lo, m->P(1 + hi));
    m->Learn(1 + hi, lo);
    m->End(b);
  }
  e.Finish();
}

Status CmDecode(const CmParams& p, std::string_view in, size_t n, uint8_t* codes) {
  auto m = std::make_unique<Model>(p);
  BinaryDecoder d(in);
  for (size_t i = 0; i < n; ++i) {
    m->Begin();
    int hi = d.Decode(m->P(0));
    m->Learn(0, hi);
    int lo = d.Decode(m->P(1 + hi));
    m->Learn(1 + hi, lo);
    int b = hi * 2 + lo;
    m->End(b);
    codes[i] = static_cast<uint8_t>(b);
    if ((i & 0xffff) == 0 && !d.ok()) return Status::Corruption("cm: input too short");
  }
  if (!d.ok()) return Status::Corruption("cm: input too short");
  return Status::OK();
}

}  // namespace pmklc
