#include "engine/models/nucleotide_cm.h"

#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "engine/coder/binary_coder.h"
#include "engine/models/codon_frame.h"
#include "engine/models/logistic.h"
#include "engine/models/repeat_pool.h"
#include "kernels/cm_max.h"
#include "kernels/cm_slim.h"
#include "kernels/nn4.h"
#include "kernels/nn_math.h"

namespace pmklc {

namespace {

using models::Squash;
using models::Stretch;

// Largest model memory a block may ask for (the budget is 2 GiB per
// coding thread).
constexpr uint64_t kMaxModelBytes = uint64_t{1} << 30;
constexpr size_t kMaxModels = kernels::cmmax::kMaxModels;

// The coder's lookup tables (kernels/cm_slim.h), built once from the
// integer stretch and squash; the slim step reads the same object.
struct CoderTables : kernels::cmslim::Tables {
  CoderTables() {
    for (int i = 0; i < 256; ++i) recip[i] = static_cast<uint32_t>((65536u * 2) / (2 * i + 3));
    for (uint32_t p = 0; p < 65536; ++p) st[p] = static_cast<int16_t>(Stretch(p));
    for (int x = -2047; x <= 2047; ++x) sq[x + 2047] = Squash(x);
    // Small enough to stay in L1 (the fast balanced path, flags bit 5):
    // stretch of 12-bit probabilities (bucket midpoints), squash as 16 bits.
    for (uint32_t i = 0; i < 4096; ++i) st12[i] = static_cast<int16_t>(Stretch(i * 16 + 8));
    for (int x = -2047; x <= 2047; ++x) sq16[x + 2047] = static_cast<uint16_t>(Squash(x));
  }
};
const CoderTables kTab;
inline int St(uint32_t p16) { return kTab.st[p16 > 65535 ? 65535 : p16]; }
inline uint32_t Sq(int x) { return kTab.sq[(x > 2047 ? 2047 : (x < -2047 ? -2047 : x)) + 2047]; }

using kernels::cmslim::Hash;
using kernels::cmslim::Prob;
using kernels::cmslim::Slot;
// Adaptive probability: p moves toward the bit by 1/(n+1.5), n capped at
// limit; stored as P(1) ^ 0x8000 so that zeroed memory means P = 1/2.
inline void Update(uint16_t& p, uint8_t& n, int bit, uint8_t limit) {
  kernels::cmslim::Update(p, n, bit, limit, &kTab);
}

// Zeroed, huge-page-advised array (the tables are large and randomly accessed).
template <class T>
struct BigArray {
  T* p = nullptr;
  size_t bytes = 0;
  // False (and nothing allocated) when the memory is not available.
  [[nodiscard]] bool Alloc(size_t n) {
    bytes = (n * sizeof(T) + (2u << 20) - 1) & ~size_t{(2u << 20) - 1};
    void* m = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
      bytes = 0;
      return false;
    }
#ifdef MADV_HUGEPAGE
    madvise(m, bytes, MADV_HUGEPAGE);
#endif
    p = static_cast<T*>(m);
    return true;
  }
  ~BigArray() {
    if (p) munmap(p, bytes);
  }
};

inline void Prefetch(const void* a) { __builtin_prefetch(a, 1, 3); }

models::RepeatPoolParams PoolParams(const CmParams& p) {
  models::RepeatPoolParams q;
  q.capacity = p.pool_capacity;
  q.k = p.pool_k;
  q.index_bits = p.pool_bits;
  q.tolerance = p.pool_tolerance;
  q.gamma = p.pool_gamma;
  q.inverted = p.pool_flags & 1;
  q.probation = (p.pool_flags & 2) != 0;
  return q;
}

// Codon-phase states of p: 3 (position mod 3) or, with frame, 7.
inline size_t PhaseStates(const CmParams& p) { return p.frame ? models::CodonFrame::kStates : 3; }

// The general model's tables (kernels/cm_max.h), built once.
struct MaxTablesBuilt : kernels::cmmax::MaxTables {
  MaxTablesBuilt() {
    coder = &kTab;
    pool = &models::RepeatPool::Tables();
    // -log2(q / 4096) for q = 1..4096 (the 4-symbol network's loss
    // features), with our own log (kernels/nn_math.h): the same everywhere.
    neglog2[0] = 12.0f;
    for (int q = 1; q <= 4096; ++q)
      neglog2[q] = -kernels::nn::Log(static_cast<float>(q) * (1.0f / 4096.0f)) * 1.44269504f;
  }
};
const kernels::cmmax::MaxTables& MaxTab() {
  static const MaxTablesBuilt t;
  return t;
}

// The flat step's shape of p.
kernels::cmmax::MaxShape MaxShapeOf(const CmParams& p, size_t extra, uint32_t extra_mix) {
  kernels::cmmax::MaxShape sh;
  sh.nt = static_cast<int>(p.orders.size());
  for (int i = 0; i < sh.nt; ++i) {
    const uint8_t k = p.orders[i] & 0x7f;
    sh.order[i] = k;
    sh.phased[i] = (p.orders[i] & 0x80) != 0;
    sh.direct[i] = 2 * k <= 24;
    sh.bits[i] = sh.direct[i] ? 2 * k : p.hash_bits;
    sh.limit[i] = k <= 8 ? p.limit_low : (k <= 12 ? p.limit_mid : p.limit_high);
    sh.ir[i] = (p.ir_mask >> i) & 1;
  }
  sh.nph = static_cast<uint32_t>(PhaseStates(p));
  sh.frame = p.frame;
  sh.match_flags = p.match_flags;
  sh.match_min = p.match_min;
  sh.match_bits = p.match_bits;
  sh.match_tolerance = p.match_tolerance;
  sh.mixer_lr = p.mixer_lr;
  sh.flags = p.flags;
  sh.nn_hidden = p.nn_hidden;
  if (p.pool_capacity) sh.pool = PoolParams(p);
  sh.extra = static_cast<int>(extra);
  sh.extra_mix = extra_mix;
  return sh;
}

// The general model: the flat-state step of kernels/cm_max.h (the code a
// GPU batch can run too, issue #18) over one arena, and the extra
// predictors, which stay here (they are objects with virtual calls).
// capacity: the most bases of history (a prime and the coded bases).
class Model {
 public:
  // False when the model tables could not be allocated (nothing may be coded).
  bool ok() const { return ok_; }
  Model(const CmParams& p, size_t capacity, std::span<BasePredictor* const> extra = {}, uint32_t extra_mix = 0)
      : extra_(extra) {
    const kernels::cmmax::MaxShape sh = MaxShapeOf(p, extra.size(), extra_mix);
    const kernels::cmmax::MaxLayout l = kernels::cmmax::MaxLayoutFor(sh, capacity);
    m_.reset(new (std::nothrow) kernels::cmmax::MaxModel);
    ok_ = m_ && arena_.Alloc(l.bytes);
    if (ok_) m_->Init(sh, arena_.p, l, &MaxTab());
  }
  void Prime(const uint8_t* r, size_t m) { m_->Prime(r, m); }
  void Begin() {
    for (size_t k = 0; k < extra_.size(); ++k) extra_[k]->Predict(m_->xdist[k]);
    m_->Begin();
  }
  uint32_t P(int node) { return m_->P(node); }
  void Learn(int node, int bit) { m_->Learn(node, bit); }
  void End(int base) {
    m_->End(base);
    for (BasePredictor* x : extra_) x->Update(base);
  }

 private:
  std::span<BasePredictor* const> extra_;
  std::unique_ptr<kernels::cmmax::MaxModel> m_;
  BigArray<unsigned char> arena_;
  bool ok_ = false;
};

// The balanced shapes (one to three direct order-k models, phased or not,
// without inverted repeats, one forward repeat model, one mixer, one APM) on a
// dedicated path: the same operations as Model in the same order, so the
// coded bytes are identical, with fixed-size state and no loops over model
// lists. Flags bit 5 selects the cheaper variant only this path implements.
bool IsSlim(const CmParams& p) {
  if (p.orders.empty() || p.orders.size() > 3) return false;
  for (uint8_t v : p.orders)
    if (2 * (v & 0x7f) > 24) return false;
  return p.ir_mask == 0 && p.match_flags == 0x01 && (p.flags & ~(16 | 32)) == 0 && p.frame == 0 &&
         p.pool_capacity == 0 && p.nn_hidden == 0;
}

Status NoTables(const CmParams& p);

// The balanced shapes run the flat-state step of kernels/cm_slim.h, the
// code a GPU batch runs too (issue #18): its Shape from the params.
kernels::cmslim::Shape SlimShape(const CmParams& p) {
  kernels::cmslim::Shape sh;
  sh.k = static_cast<int>(p.orders.size());
  sh.fast = (p.flags & 32) != 0;
  sh.hist64 = (p.flags & 16) != 0;
  for (int i = 0; i < sh.k; ++i) {
    const uint8_t k = p.orders[i] & 0x7f;
    sh.order[i] = k;
    sh.phased[i] = (p.orders[i] & 0x80) != 0;
    sh.limit[i] = k <= 8 ? p.limit_low : (k <= 12 ? p.limit_mid : p.limit_high);
  }
  sh.match_min = p.match_min;
  sh.match_bits = p.match_bits;
  sh.tolerance = p.match_tolerance;
  sh.lr = p.mixer_lr;
  return sh;
}

// One slim stream of at most n bases: its state and zeroed arena.
template <int K>
struct SlimStream {
  BigArray<unsigned char> arena;
  std::unique_ptr<kernels::cmslim::State<K>> state;
  template <bool kFast>
  [[nodiscard]] bool Open(const CmParams& p, size_t n) {
    const kernels::cmslim::Shape sh = SlimShape(p);
    const kernels::cmslim::Layout l = kernels::cmslim::LayoutFor(sh, n);
    state.reset(new (std::nothrow) kernels::cmslim::State<K>);
    if (!state || !arena.Alloc(l.bytes)) return false;
    kernels::cmslim::Step<kFast, K>::Init(state.get(), sh, arena.p, l, &kTab);
    return true;
  }
};

template <bool kFast, int K>
Status SlimEncode(const CmParams& p, const uint8_t* codes, size_t n, std::string* out) {
  // Real DNA codes at <= 2 bits a base; the first buffer holds 4, and a
  // stream that needs more (each decision costs at most 16 bits) is coded
  // again into its bound.
  const size_t start = out->size();
  for (size_t cap : {n / 2 + 1024, 4 * n + 64}) {
    SlimStream<K> st;
    if (!st.template Open<kFast>(p, n)) return NoTables(p);
    out->resize(start + cap);
    kernels::cmslim::Encoder e;
    kernels::cmslim::EncoderInit(&e, reinterpret_cast<unsigned char*>(out->data() + start), cap);
    kernels::cmslim::EncodeStream<kFast, K>(st.state.get(), codes, n, &e, &kTab);
    if (e.len <= cap) {
      out->resize(start + e.len);
      return Status::OK();
    }
  }
  out->resize(start);
  return Status::Corruption("cm: coded stream exceeds its bound");  // (cannot happen)
}

template <bool kFast, int K>
Status SlimDecode(const CmParams& p, std::string_view in, size_t n, uint8_t* codes) {
  SlimStream<K> st;
  if (!st.template Open<kFast>(p, n)) return NoTables(p);
  kernels::cmslim::Decoder d;
  kernels::cmslim::DecoderInit(&d, reinterpret_cast<const unsigned char*>(in.data()), in.size());
  if (!kernels::cmslim::DecodeStream<kFast, K>(st.state.get(), &d, n, codes, &kTab))
    return Status::Corruption("cm: input too short");
  return Status::OK();
}

// Bytes of the model tables of p (slots and the repeat k-mer table).
uint64_t ModelBytes(const CmParams& p) {
  uint64_t slots = 0;
  for (uint8_t v : p.orders) {
    const uint8_t k = v & 0x7f;
    slots += 2 * k <= 24 ? uint64_t{(v & 0x80) ? PhaseStates(p) : 1u} << (2 * k) : uint64_t{1} << p.hash_bits;
  }
  return slots * sizeof(Slot) + (p.match_flags ? uint64_t{8} << p.match_bits : 0) +
         models::RepeatPool::MemoryBytes(PoolParams(p));
}

Status NoTables(const CmParams& p) {
  return Status::NoMemory("cm: cannot allocate the model tables (" + std::to_string(ModelBytes(p) >> 20) +
                          " MiB)");
}

// The coding loops, shared by every model class and by primed coding.
template <class M>
Status EncodeLoop(M* m, const uint8_t* codes, size_t n, std::string* out) {
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
  return Status::OK();
}

template <class M>
Status DecodeLoop(M* m, std::string_view in, size_t n, uint8_t* codes) {
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

template <class M, class... Extra>
Status EncodeWith(const CmParams& p, const uint8_t* codes, size_t n, std::string* out, Extra... extra) {
  auto m = std::make_unique<M>(p, n, extra...);
  if (!m->ok()) return NoTables(p);
  return EncodeLoop(m.get(), codes, n, out);
}

template <class M, class... Extra>
Status DecodeWith(const CmParams& p, std::string_view in, size_t n, uint8_t* codes, Extra... extra) {
  auto m = std::make_unique<M>(p, n, extra...);
  if (!m->ok()) return NoTables(p);
  return DecodeLoop(m.get(), in, n, codes);
}

}  // namespace

// With the repeat pool (issue #17), orders 1, 3, 14 and 16 and a second
// repeat model per direction no longer pay for their time: on HePy, E. coli
// and 1 MiB of human chrX removing them changed the size by at most 0.02%.
// Probation (pool_flags bit 1) ends chance seeds early: human chrX 4 MiB
// -0.10%, E. coli -0.06%, HaHi -0.06%, HePy and AeCa within 0.01%, and
// the pool's time on E. coli about halves.
CmParams CmParams::Max() {
  CmParams p;
  p.orders = {2, 4, 6, 8, 11, 20, 0x80 | 5};
  p.ir_mask = 0x3f;
  p.match_flags = 0x11;
  p.pool_capacity = 64;
  p.pool_k = 11;
  p.pool_bits = 22;
  p.pool_tolerance = 12;
  p.pool_gamma = 224;
  p.pool_flags = 3;
  p.nn_hidden = 16;
  return p;
}

CmParams CmParams::Reference() {
  CmParams p;
  p.orders = {2, 6, 12, 20, 0x80 | 5};
  p.ir_mask = 0;
  p.flags = 64 | 2 | 1;  // frame-keyed mixers: recent bases, repeat state; both APMs
  return p;
}

CmParams CmParams::Balanced() {
  CmParams p;
  p.mixer_lr = 16;
  p.orders = {11};
  p.ir_mask = 0;
  p.match_flags = 0x01;  // forward repeat model only
  p.flags = 32;          // one mixer, one APM, fast path
  p.frame = 0;           // (the fast path has no frame)
  return p;
}

CmParams CmParams::FitTo(size_t n) const {
  int need = 0;
  while (need < 40 && (size_t{1} << need) < n) ++need;  // ceil(log2 n)
  const int bits = std::max(16, need - 1);
  CmParams q = *this;
  q.hash_bits = static_cast<uint8_t>(std::min<int>(hash_bits, bits));
  q.match_bits = static_cast<uint8_t>(std::min<int>(match_bits, bits));
  // (the pool's buckets hold 7 positions each: an eighth of n buckets
  // loses little and keeps the index in cache; 2^17 buckets cost E. coli
  // 0.03% against 2^20 and ran 1.5x faster)
  q.pool_bits = static_cast<uint8_t>(std::min<int>(pool_bits, std::max(16, need - 3)));
  return q;
}

std::string CmParams::Serialize() const {
  std::string s;
  s.push_back(static_cast<char>(nn_hidden ? kVariantNn
                                          : (pool_capacity ? kVariantPool : (frame ? kVariant : kVariantNoFrame))));
  s.push_back(static_cast<char>(orders.size()));
  for (uint8_t k : orders) s.push_back(static_cast<char>(k));
  for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>(ir_mask >> (8 * i)));
  for (uint8_t v : {hash_bits, limit_low, limit_mid, limit_high, match_min, match_bits, match_flags,
                    match_tolerance, mixer_lr, flags})
    s.push_back(static_cast<char>(v));
  if (frame || pool_capacity || nn_hidden) s.push_back(static_cast<char>(frame));
  if (pool_capacity || nn_hidden) {
    // (no pool, in variant 4: the defaults, whatever the unused fields hold)
    const CmParams d;
    const CmParams& q = pool_capacity ? *this : d;
    s.push_back(static_cast<char>(pool_capacity & 0xff));
    s.push_back(static_cast<char>(pool_capacity >> 8));
    for (uint8_t v : {q.pool_k, q.pool_bits, q.pool_tolerance, q.pool_gamma, q.pool_flags})
      s.push_back(static_cast<char>(v));
  }
  if (nn_hidden) s.push_back(static_cast<char>(nn_hidden));
  return s;
}

Result<CmParams> CmParams::Parse(std::string_view in, size_t* used) {
  if (in.size() < 2) return Status::Corruption("cm params: truncated");
  const uint8_t variant = static_cast<uint8_t>(in[0]);
  if (variant != kVariant && variant != kVariantNoFrame && variant != kVariantPool && variant != kVariantNn)
    return Status::Corruption("cm params: unknown variant");
  size_t n = static_cast<uint8_t>(in[1]);
  const size_t total = 2 + n + 4 + 10 + (variant == kVariant ? 1 : 0) + (variant == kVariantPool ? 8 : 0) +
                       (variant == kVariantNn ? 9 : 0);
  if (n == 0 || n > kMaxModels || in.size() < total) return Status::Corruption("cm params: bad model count");
  CmParams p;
  p.orders.clear();
  for (size_t i = 0; i < n; ++i) {
    uint8_t v = static_cast<uint8_t>(in[2 + i]);
    uint8_t k = v & 0x7f;
    if (k == 0 || k > 24) return Status::Corruption("cm params: bad order");
    p.orders.push_back(v);
  }
  const uint8_t* b = reinterpret_cast<const uint8_t*>(in.data()) + 2 + n;
  p.ir_mask = uint32_t{b[0]} | uint32_t{b[1]} << 8 | uint32_t{b[2]} << 16 | uint32_t{b[3]} << 24;
  if (p.ir_mask >> n) return Status::Corruption("cm params: bad inverted-repeat mask");
  for (size_t i = 0; i < n; ++i)
    if ((p.orders[i] & 0x80) && ((p.ir_mask >> i) & 1))
      return Status::Corruption("cm params: inverted repeats on a phased model");
  b += 4;
  p.hash_bits = b[0];
  p.limit_low = b[1];
  p.limit_mid = b[2];
  p.limit_high = b[3];
  p.match_min = b[4];
  p.match_bits = b[5];
  p.match_flags = b[6];
  p.match_tolerance = b[7];
  p.mixer_lr = b[8];
  p.flags = b[9];
  // Variant 1 has no frame byte; variant 2 never carries 0 (one encoding
  // per params).
  p.frame = variant == kVariantNoFrame ? 0 : b[10];
  if (variant == kVariant && p.frame == 0) return Status::Corruption("cm params: bad frame");
  if (variant == kVariantNn) {
    p.nn_hidden = b[18];
    if (p.nn_hidden != kernels::nn4::kHidden) return Status::Corruption("cm params: bad network size");
  }
  if (variant == kVariantNn && b[11] == 0 && b[12] == 0) {
    // (no pool: its bytes must be the defaults, one encoding per params)
    const CmParams d;
    const uint8_t* q = b + 11;
    if (q[2] != d.pool_k || q[3] != d.pool_bits || q[4] != d.pool_tolerance || q[5] != d.pool_gamma ||
        q[6] != d.pool_flags)
      return Status::Corruption("cm params: bad repeat pool");
  } else if (variant == kVariantPool || variant == kVariantNn) {
    const uint8_t* q = b + 11;
    p.pool_capacity = static_cast<uint16_t>(q[0] | q[1] << 8);
    p.pool_k = q[2];
    p.pool_bits = q[3];
    p.pool_tolerance = q[4];
    p.pool_gamma = q[5];
    p.pool_flags = q[6];
    if (p.pool_capacity == 0 || p.pool_capacity > models::RepeatPool::kMaxCapacity)
      return Status::Corruption("cm params: bad repeat pool size");
    if (p.pool_k < 11 || p.pool_k > 16 || p.pool_bits < 16 || p.pool_bits > 24 || p.pool_tolerance == 0 ||
        p.pool_tolerance > 16 || p.pool_gamma == 0 || p.pool_flags > 3)
      return Status::Corruption("cm params: bad repeat pool");
  }
  if (p.hash_bits < 10 || p.hash_bits > 26) return Status::Corruption("cm params: bad table size");
  if (p.limit_low == 0 || p.limit_mid == 0 || p.limit_high == 0 || p.limit_low == 255 || p.limit_mid == 255 ||
      p.limit_high == 255)
    return Status::Corruption("cm params: bad counter limit");
  if (p.match_min < 12 || p.match_min > 32) return Status::Corruption("cm params: bad repeat length");
  if (p.match_bits < 16 || p.match_bits > 26) return Status::Corruption("cm params: bad repeat table size");
  if ((p.match_flags & 15) > 4 || (p.match_flags >> 4) > 4) return Status::Corruption("cm params: bad repeat flags");
  if (p.match_tolerance > 16) return Status::Corruption("cm params: bad repeat tolerance");
  if (p.mixer_lr == 0 || p.mixer_lr > 64) return Status::Corruption("cm params: bad mixer rate");
  if (((p.flags & 32) && !IsSlim(p))) return Status::Corruption("cm params: bad flags");
  // Bound the memory a (possibly corrupt) header can make the decoder take.
  // (+ 1 byte per base of history and, with several repeat models per
  // direction, 4 bytes per base of chain)
  if (ModelBytes(p) > kMaxModelBytes) return Status::Corruption("cm params: models too large");
  *used = total;
  return p;
}

namespace {
// Runs fn.template operator()<kFast, K>() for the slim shape of p
// (IsSlim(p)).
template <class Fn>
Status WithSlim(const CmParams& p, Fn&& fn) {
  const bool f = p.flags & 32;
  switch (p.orders.size()) {
    case 1: return f ? fn.template operator()<true, 1>() : fn.template operator()<false, 1>();
    case 2: return f ? fn.template operator()<true, 2>() : fn.template operator()<false, 2>();
    default: return f ? fn.template operator()<true, 3>() : fn.template operator()<false, 3>();
  }
}
}  // namespace

Status CmEncode(const CmParams& p, const uint8_t* codes, size_t n, std::string* out,
                std::span<BasePredictor* const> extra, uint32_t extra_mix) {
  if (extra.size() > kMaxExtraPredictors) return Status::InvalidArgument("cm: too many extra predictors");
  if (!extra.empty()) return EncodeWith<Model>(p, codes, n, out, extra, extra_mix);
  // (the balanced shapes: the flat-state step; extra predictors always use the general model)
  if (IsSlim(p)) return WithSlim(p, [&]<bool kFast, int K>() { return SlimEncode<kFast, K>(p, codes, n, out); });
  return EncodeWith<Model>(p, codes, n, out);
}

Status CmEncodeGeneralForTest(const CmParams& p, const uint8_t* codes, size_t n, std::string* out) {
  if (p.flags & 32) return Status::InvalidArgument("cm: flags bit 5 exists only on the slim path");
  return EncodeWith<Model>(p, codes, n, out);
}

bool CmUsesSlimPath(const CmParams& p) { return IsSlim(p); }

kernels::cmslim::Shape CmSlimShape(const CmParams& p) { return SlimShape(p); }

const kernels::cmslim::Tables& CmSlimTables() { return kTab; }

kernels::cmmax::MaxShape CmMaxShape(const CmParams& p, size_t extra, uint32_t extra_mix) {
  return MaxShapeOf(p, extra, extra_mix);
}

const kernels::cmmax::MaxTables& CmMaxTables() { return MaxTab(); }

uint64_t CmModelBytes(const CmParams& p) { return ModelBytes(p); }

Status CmDecode(const CmParams& p, std::string_view in, size_t n, uint8_t* codes,
                std::span<BasePredictor* const> extra, uint32_t extra_mix) {
  if (extra.size() > kMaxExtraPredictors) return Status::InvalidArgument("cm: too many extra predictors");
  if (!extra.empty()) return DecodeWith<Model>(p, in, n, codes, extra, extra_mix);
  if (IsSlim(p)) return WithSlim(p, [&]<bool kFast, int K>() { return SlimDecode<kFast, K>(p, in, n, codes); });
  return DecodeWith<Model>(p, in, n, codes);
}

Status CmEncodePrimed(const CmParams& p, std::span<const uint8_t> prime, const uint8_t* codes, size_t n,
                      std::string* out) {
  if (prime.size() + n >= (uint64_t{1} << 31))
    return Status::InvalidArgument("cm: reference and block exceed 2^31 bases");
  auto m = std::make_unique<Model>(p, prime.size() + n);
  if (!m->ok()) return NoTables(p);
  m->Prime(prime.data(), prime.size());
  return EncodeLoop(m.get(), codes, n, out);
}

Status CmDecodePrimed(const CmParams& p, std::span<const uint8_t> prime, std::string_view in, size_t n,
                      uint8_t* codes) {
  if (prime.size() + n >= (uint64_t{1} << 31))
    return Status::Corruption("cm: reference and block exceed 2^31 bases");
  auto m = std::make_unique<Model>(p, prime.size() + n);
  if (!m->ok()) return NoTables(p);
  m->Prime(prime.data(), prime.size());
  return DecodeLoop(m.get(), in, n, codes);
}

}  // namespace pmklc
