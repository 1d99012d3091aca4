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
constexpr size_t kMaxModels = 24;
// Most mixer inputs: models, 8 repeat models, 4 pool inputs, extra
// predictors, the 4-symbol network and the bias.
constexpr size_t kMaxMixerInputs = kMaxModels + 8 + 4 + kMaxExtraPredictors + 2;

// -log2(q / 4096) for q = 1..4096 (the 4-symbol network's loss features),
// computed with our own log (kernels/nn_math.h): the same on every machine.
struct NegLog2 {
  float t[4097];
  NegLog2() {
    t[0] = 12.0f;
    for (int q = 1; q <= 4096; ++q)
      t[q] = -kernels::nn::Log(static_cast<float>(q) * (1.0f / 4096.0f)) * 1.44269504f;
  }
  // -log2 p for p in [0, 1] (at most 12).
  float operator()(float p) const {
    int q = static_cast<int>(p * 4096.0f);
    return t[q < 1 ? 1 : (q > 4096 ? 4096 : q)];
  }
};
const NegLog2 kNegLog2;

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

// One APM: interpolates a learned map of the stretched probability, per context.
class Apm {
 public:
  void Init(size_t contexts) {
    t_.assign(contexts * 33, 0);
    for (size_t c = 0; c < contexts; ++c)
      for (int j = 0; j < 33; ++j) t_[c * 33 + j] = static_cast<uint16_t>(Sq((j - 16) * 128));
  }
  uint32_t P(int st, size_t ctx) {
    int s = st + 2048;  // 1..4095
    int lo = s >> 7;
    w_ = s & 127;
    sel_ = ctx * 33 + static_cast<size_t>(lo);
    return (t_[sel_] * static_cast<uint32_t>(128 - w_) + t_[sel_ + 1] * static_cast<uint32_t>(w_)) >> 7;
  }
  // Brings a context's row towards the cache (no effect on the result).
  void Prefetch(size_t ctx) const {
    const char* r = reinterpret_cast<const char*>(t_.data() + ctx * 33);
    __builtin_prefetch(r, 1, 3);
    __builtin_prefetch(r + 64, 1, 3);
  }
  void Learn(int bit, int shift) {
    int target = bit ? 65535 : 0;
    uint16_t& a0 = t_[sel_];
    uint16_t& a1 = t_[sel_ + 1];
    a0 = static_cast<uint16_t>(a0 + (((target - a0) * (128 - w_)) >> shift));
    a1 = static_cast<uint16_t>(a1 + (((target - a1) * w_) >> shift));
  }

 private:
  std::vector<uint16_t> t_;
  size_t sel_ = 0;
  int w_ = 0;
};

// A repeat model: follows one earlier occurrence forward (dir +1) or as a
// reverse complement (dir -1).
struct Repeat {
  uint32_t ptr = 0;   // index in seq of the base it predicts
  uint32_t len = 0;   // consecutive hits (capped at 31)
  uint32_t miss = 0;  // 1 bits: recent misses (newest in bit 0)
  bool active = false;
  int dir = 1;        // +1 forward, -1 inverted repeat
  int pred = -1;      // predicted base for the current position, -1 if none
  int bit = -1;       // predicted bit for the current node, -1 if none
  uint16_t cp[2][16 * 4];
  uint8_t cn[2][16 * 4];
  size_t csel = 0;
  int cnode = 0;
  Repeat() {
    std::memset(cp, 0, sizeof(cp));
    std::memset(cn, 0, sizeof(cn));
  }
  int MissCount() const { return std::popcount(miss & 0xffffu); }
  size_t Ctx() const {
    int m = MissCount();
    return static_cast<size_t>(std::min<uint32_t>(len, 15)) * 4 + static_cast<size_t>(m > 3 ? 3 : m);
  }
  // Length bucket 0..3 for mixer/APM selection (0: no prediction).
  int Bucket() const {
    if (pred < 0) return 0;
    if (len < 12) return 1;
    if (len < 24) return 2;
    return 3;
  }
};

class Model {
 public:
  // False when the model tables could not be allocated (nothing may be coded).
  bool ok() const { return alloc_ok_; }
  explicit Model(const CmParams& p, std::span<BasePredictor* const> extra = {}, uint32_t extra_mix = 0)
      : p_(p), extra_(extra) {
    nt_ = p.orders.size();
    for (size_t i = 0; i < nt_; ++i) {
      Table& t = tables_[i];
      uint8_t k = p.orders[i] & 0x7f;
      t.order = k;
      t.phased = (p.orders[i] & 0x80) != 0;
      t.direct = 2 * k <= 24;
      t.bits = t.direct ? 2 * k : p.hash_bits;
      t.limit = k <= 8 ? p.limit_low : (k <= 12 ? p.limit_mid : p.limit_high);
      t.ir = (p.ir_mask >> i) & 1;
      t.mask = (k >= 32) ? ~uint64_t{0} : ((uint64_t{1} << (2 * k)) - 1);
      alloc_ok_ &= t.slots.Alloc((t.direct && t.phased ? PhaseStates(p) : 1) * (size_t{1} << t.bits));
    }
    nph_ = PhaseStates(p);
    framed_ = p.frame != 0;
    if (framed_) frame_ = models::CodonFrame(p.frame);
    nfw_ = p.match_flags & 15;
    nrep_ = nfw_ + (p.match_flags >> 4);
    for (int j = 0; j < nrep_; ++j) rep_[j].dir = j < nfw_ ? 1 : -1;
    mm_min_ = p.match_min;
    mm_mask_ = mm_min_ >= 32 ? ~uint64_t{0} : ((uint64_t{1} << (2 * mm_min_)) - 1);
    mm_bits_ = p.match_bits;
    if (nrep_) alloc_ok_ &= mm_.Alloc(size_t{1} << mm_bits_);
    chained_ = nfw_ > 1 || nrep_ - nfw_ > 1;
    if (p.pool_capacity) {
      npool_ = 4;
      papm_.Init(3 * 8);
      alloc_ok_ &= pool_.Init(PoolParams(p));
    }
    // chain_ is kept by primed models only (see Prime): format 1's unprimed
    // models always followed just the most recent occurrence (their link
    // was written past the end and overwritten), so they keep none.
    // models, repeat models, extra predictors, bias
    xbase_ = nt_ + static_cast<size_t>(nrep_) + npool_;
    n_in_ = xbase_ + extra_.size() + 1;
    if (p.nn_hidden) {
      // The 4-symbol network (kernels/nn4.h): one more mixer input, before
      // the bias, and averaged with the final probability.
      nn_ = std::make_unique<kernels::nn4::Net>();
      nn_in_ = n_in_ - 1;
      ++n_in_;
      kernels::nn4::Init(nn_.get(), NnInputCount());
    }
    // With a phased model and bit2, a fourth mixer keyed by the phase and the
    // first phased model's count.
    phased0_ = -1;
    for (size_t i = 0; i < nt_; ++i)
      if (tables_[i].phased) {
        phased0_ = static_cast<int>(i);
        break;
      }
    nmix_ = 1 + (p.flags & 1) + ((p.flags >> 2) & 1) + ((p.flags & 4) && phased0_ >= 0);
    final_ = (p.flags >> 3) & 1;
    if (!extra_.empty() && (extra_mix & kExtraMixFinal)) {
      xfinal_ = true;
      for (auto& w : ws_) w[0] = 65536, w[1] = w[2] = w[3] = 0;
      if (extra_mix & kExtraMixNeural) {
        nni_ = static_cast<int>(n_in_) - 1 + 7;
        nnw_.assign(static_cast<size_t>(nni_) * kNnHidden, 0.0f);
        uint64_t z = 77;  // LCG; [-0.1, 0.1) from the top 24 bits, exact in float
        for (float& v : nnw_) {
          z = z * 6364136223846793005ull + 1442695040888963407ull;
          v = static_cast<float>(static_cast<int32_t>(z >> 40) - (1 << 23)) * (0.1f / 8388608.0f);
        }
      }
    }
    apm2_ = (p.flags >> 1) & 1;
    lr_ = p.mixer_lr;
    int w0 = (1 << 16) / static_cast<int>(n_in_ - 1);
    for (int m = 0; m < nmix_; ++m) w_[m].assign(3 * nph_ * 64 * n_in_ * (npool_ ? 2 : 1), w0);
    wf_.assign(3 * 4 * 3, 65536 / nmix_);
    apm1_bits_ = (p.flags & 128) ? 12 : 8;
    apm1_.Init(size_t{3} << apm1_bits_);
    apm2c_.Init((p.frame ? nph_ : 1) * 3 * 16 * 16);
    seq_.reserve(1 << 20);
    ComputeNext();
  }

  // Primed coding (CmEncodePrimed): the m bases of r become history that
  // precedes the first coded base. Only the repeat models see them (the
  // k-mer table and, with several repeat models per direction, the chain of
  // earlier occurrences, which is kept exact from here on); no counter,
  // mixer or APM learns. Call once, before the first Begin.
  void Prime(const uint8_t* r, size_t m) {
    primed_ = true;
    seq_.reserve(m + (1 << 20));
    if (chained_) {
      chain_.assign(1, 0);  // chain_[n] is the link of position n
      chain_.reserve(m + (1 << 20));
    }
    // The k-mer tables are written at random places, one per base and
    // table, faster than memory answers: the k-mers ending kAhead bases
    // later are computed here and their slots prefetched (a hint only);
    // the repeat table's slot is kept for RecordKmerAt (ring[j % kAhead]
    // is the slot of the history that ends at base j).
    constexpr size_t kAhead = 32;
    size_t ring[kAhead];
    uint32_t ring_chk[kAhead];
    uint64_t ahead = hist_;  // the history up to base j
    auto look_ahead = [&](size_t j) {
      ahead = (ahead << 2) | static_cast<uint64_t>(r[j] & 3);
      if (nrep_) {
        ring[j % kAhead] = MatchSlot(ahead & mm_mask_, &ring_chk[j % kAhead]);
        Prefetch(&mm_.p[ring[j % kAhead]]);
      }
      if (npool_) pool_.PrefetchKmer(ahead);
    };
    for (size_t j = 0; j < kAhead && j < m; ++j) look_ahead(j);
    for (size_t i = 0; i < m; ++i) {
      const size_t n = AppendBase(r[i] & 3);
      if (nrep_ && n >= mm_min_) RecordKmerAt(n, ring[i % kAhead], ring_chk[i % kAhead]);
      if (npool_) pool_.Record(seq_.data(), n, r[i] & 3, false);
      if (i + kAhead < m) look_ahead(i + kAhead);  // (after ring[i % kAhead] was used)
    }
    ComputeNext();
  }

  // Appends a base to the history; returns the new length n.
  size_t AppendBase(int base) {
    seq_.push_back(static_cast<uint8_t>(base));
    hist_ = (hist_ << 2) | static_cast<uint64_t>(base);
    rcall_ = (rcall_ >> 2) | (static_cast<uint64_t>(3 - base) << 62);
    if (framed_) frame_.Push(static_cast<uint32_t>(seq_.size()), static_cast<unsigned>(hist_ & 63));
    if (primed_ && chained_) chain_.push_back(0);
    return seq_.size();
  }

  // Records the k-mer ending at position n in the repeat table (and, primed,
  // links n to its previous occurrence).
  void RecordKmer(size_t n) {
    uint32_t chk;
    const size_t slot = MatchSlot(hist_ & mm_mask_, &chk);
    RecordKmerAt(n, slot, chk);
  }
  // The same with the slot of hist_'s k-mer already computed.
  void RecordKmerAt(size_t n, size_t slot, uint32_t chk) {
    MEntry& e = mm_.p[slot];
    if (primed_ && chained_) chain_[n] = e.chk == chk ? e.pos : 0;
    e.pos = static_cast<uint32_t>(n);
    e.chk = chk;
  }

  // Prepares the slots of the current context (once per base).
  void Begin() {
    for (int j = 0; j < nrep_; ++j) {
      Repeat& r = rep_[j];
      r.pred = r.active ? (r.dir > 0 ? seq_[r.ptr] : 3 - seq_[r.ptr]) : -1;
    }
    if (npool_) pool_.Predict(seq_.data());
    // (the rows the three nodes' first APM will use)
    const size_t h1 = static_cast<size_t>(hist_ & ((uint64_t{1} << apm1_bits_) - 1));
    for (size_t node = 0; node < 3; ++node) apm1_.Prefetch((node << apm1_bits_) + h1);
    for (size_t k = 0; k < extra_.size(); ++k) extra_[k]->Predict(xdist_[k]);
    for (size_t i = 0; i < nt_; ++i) {
      Table& t = tables_[i];
      cur_[i] = t.direct ? &t.slots.p[next_idx_[i]] : Find(t, next_idx_[i], next_chk_[i]);
    }
    if (nn_) NnForward();
  }

  // P(bit = 1) for decision node (0: high bit; 1/2: low bit given high 0/1).
  uint32_t P(int node) {
    for (size_t i = 0; i < nt_; ++i) st_[i] = St(Prob(cur_[i]->p[node]));
    int fb = 0, ib = 0;
    for (int j = 0; j < nrep_; ++j) {
      st_[nt_ + j] = RepeatInput(node, rep_[j]);
      if (j < nfw_) fb = std::max(fb, rep_[j].Bucket());
      else ib = std::max(ib, rep_[j].Bucket());
    }
    for (size_t k = 0; k < extra_.size(); ++k) st_[xbase_ + k] = St(NodeProbability(xdist_[k], node));
    st_[n_in_ - 1] = 256;  // bias
    if (nn_) st_[nn_in_] = St(nnp_[node]);
    int rs = fb * 4 + ib;
    if (npool_) {
      const uint32_t pp = pool_.NodeP(node);
      // Four inputs: the pool's stretched probability, the same refined by
      // an APM keyed by node and the pool's confidence bucket, and the
      // stretched probabilities of its forward and of its reverse-complement
      // candidates alone (0 when none predicts).
      papm_used_ = pp != 0;
      st_[xbase_ - npool_] = pp ? St(pp) : 0;
      st_[xbase_ - npool_ + 1] = pp ? St(papm_.P(st_[xbase_ - npool_], static_cast<size_t>(node) * 8 +
                                                            static_cast<size_t>(pool_.Bucket())))
                           : 0;
      for (int d = 0; d < 2; ++d) {
        const uint32_t q = pool_.NodePDir(node, d);
        st_[xbase_ - 2 + d] = q ? St(q) : 0;
      }
    }
    size_t ctx[4];
    int nc = 0;
    // Codon phase of this base (position mod 3, or the frame state), when
    // flags bit 6 is set.
    const size_t ph = (p_.flags & 64) ? phase_ : 0;
    const size_t np = nph_;
    ctx[nc++] = (p_.flags & 16) ? (static_cast<size_t>(node) * np + ph) * 64 + static_cast<size_t>(hist_ & 63)
                                : (static_cast<size_t>(node) * np + ph) * 16 + static_cast<size_t>(hist_ & 15);
    if (p_.flags & 1) {
      ctx[nc] = (static_cast<size_t>(node) * np + ph) * 16 + static_cast<size_t>(rs);
      if (npool_) ctx[nc] = ctx[nc] * 8 + static_cast<size_t>(pool_.Bucket());
      ++nc;
    }
    if (p_.flags & 4) {
      // Highest-order model that has seen this context, and whether it is sure.
      // (with a phased model: the last non-phased model in `orders`)
      size_t h = 0;
      for (size_t i = nt_; i-- > 0;)
        if (cur_[i]->n[node] && !(phased0_ >= 0 && tables_[i].phased)) {
          h = (i + 1) * 2 + (cur_[i]->n[node] >= 3);
          break;
        }
      ctx[nc++] = (static_cast<size_t>(node) * np + ph) * 64 + h;
      if (phased0_ >= 0) {
        const uint32_t c = cur_[phased0_]->n[node];
        const size_t hb = c == 0 ? 0 : (c < 3 ? 1 : (c < 16 ? 2 : 3));
        ctx[nc++] = (static_cast<size_t>(node) * np + ph) * 4 + hb;
      }
    }
    int x = 0;
    for (int m = 0; m < nmix_; ++m) {
      sel_[m] = ctx[m] * n_in_;
      const int* w = &w_[m][sel_[m]];
      int64_t dot = 0;
      for (size_t i = 0; i < n_in_; ++i) dot += static_cast<int64_t>(st_[i]) * w[i];
      xm_[m] = Clamp(static_cast<int>(dot >> 16));
    }
    if (nmix_ == 1) {
      x = xm_[0];
    } else if (final_) {
      fsel_ = static_cast<size_t>(node) * 4 * 3;
      int64_t dot = 0;
      for (int m = 0; m < nmix_; ++m) dot += static_cast<int64_t>(xm_[m]) * wf_[fsel_ + m];
      xf_ = x = Clamp(static_cast<int>(dot >> 16));
    } else {
      int sum = 0;
      for (int m = 0; m < nmix_; ++m) sum += xm_[m];
      x = nmix_ == 2 ? sum >> 1 : (nmix_ == 4 ? sum >> 2 : sum / 3);
    }
    pmix_ = Sq(x);
    int s = St(pmix_);
    if (xfinal_) rs_ = rs;
    uint32_t pa = apm1_.P(s, (static_cast<size_t>(node) << apm1_bits_) +
                                 static_cast<size_t>(hist_ & ((uint64_t{1} << apm1_bits_) - 1)));
    uint32_t p;
    if (apm2_) {
      // (with frame: also keyed by the frame state)
      const size_t fk = p_.frame ? phase_ * 3 : 0;
      uint32_t pb = apm2c_.P(s, ((fk + static_cast<size_t>(node)) * 16 + static_cast<size_t>(rs)) * 16 +
                                    static_cast<size_t>(hist_ & 15));
      p = (2 * pmix_ + 3 * pa + 3 * pb) >> 3;
    } else {
      p = (pmix_ + 3 * pa) >> 2;
    }
    if (xfinal_) p = FinalExtra(node, ClampP(p));
    // (a cold network weighs less: 1/4 for its first kNnRampBases bases)
    if (nn_)
      p = nn_steps_ < kNnRampBases ? (3 * ClampP(p) + nnp_[node]) >> 2 : (ClampP(p) + nnp_[node]) >> 1;
    return ClampP(p);
  }

  // Final stage with extra predictors (kExtraMixFinal): a 4-input mixer of
  // stretch(p), the first extra predictor's stretch, a bias and (with
  // kExtraMixNeural, else 0) the neural mixer's logit, its weights selected
  // by node, a 16-level bucket of the first predictor's stretch (sign and
  // |st| >> 7) and the forward repeat bucket; the result is averaged with p.
  uint32_t FinalExtra(int node, uint32_t p) {
    const int sx = st_[xbase_];
    int cb = (sx < 0 ? -sx : sx) >> 7;
    cb = cb > 7 ? 7 : cb;
    cb = sx < 0 ? 7 - cb : 8 + cb;
    ssel_ = (static_cast<size_t>(node) * 16 + static_cast<size_t>(cb)) * 4 + static_cast<size_t>(rs_ >> 2);
    sin_[0] = St(p);
    sin_[1] = sx;
    sin_[2] = 256;
    sin_[3] = nni_ ? NeuralMix(node) : 0;
    int64_t dot = 0;
    for (int i = 0; i < 4; ++i) dot += static_cast<int64_t>(sin_[i]) * ws_[ssel_][i];
    xs_ = Clamp(static_cast<int>(dot >> 16));
    return (p + Sq(xs_)) >> 1;
  }

  // Neural mixer (kExtraMixNeural): x = the mixer inputs but the bias
  // (stretch / 256), one-hot node (3), one-hot codon phase (3), 1;
  // a_j = sum_i W[i][j] x_i (i ascending from 0), y = b + sum_{j: a_j > 0}
  // a_j v_j (j ascending); logit = clamp(y * 256, +-2047) truncated to int.
  // Every float operation a single IEEE binary32 add or multiply, in this order.
  int NeuralMix(int node) {
    const int ni = static_cast<int>(n_in_) - 1;
    for (int i = 0; i < ni; ++i) nnx_[i] = static_cast<float>(st_[i]) * (1.0f / 256.0f);
    for (int i = 0; i < 6; ++i) nnx_[ni + i] = 0.0f;
    nnx_[ni + node] = 1.0f;
    nnx_[ni + 3 + static_cast<int>(seq_.size() % 3)] = 1.0f;
    nnx_[ni + 6] = 1.0f;
    float a[kNnHidden];
    for (int j = 0; j < kNnHidden; ++j) a[j] = 0.0f;
    for (int i = 0; i < nni_; ++i) {
      const float* w = &nnw_[static_cast<size_t>(i) * kNnHidden];
      const float xi = nnx_[i];
      for (int j = 0; j < kNnHidden; ++j) a[j] = a[j] + w[j] * xi;
    }
    float y = nnv_[kNnHidden];
    for (int j = 0; j < kNnHidden; ++j) {
      nnh_[j] = a[j];
      if (a[j] > 0.0f) y = y + a[j] * nnv_[j];
    }
    y = y * 256.0f;
    y = y > 2047.0f ? 2047.0f : (y < -2047.0f ? -2047.0f : y);
    if (!(y == y)) y = 0.0f;  // NaN: a defined value on every machine
    nny_ = static_cast<int>(y);
    return nny_;
  }

  // Integer update of the final stage; the neural mixer's SGD step on the log
  // loss of squash(logit): g = ((Sq(logit) - bit * 65536) / 65536) * rate;
  // for j ascending with a_j > 0: d_j = g v_j, v_j -= g a_j (else d_j = 0);
  // b -= g; W[i][j] -= d_j x_i.
  void LearnFinalExtra(int bit) {
    const int64_t e = static_cast<int64_t>((bit << 16) - static_cast<int>(Sq(xs_))) * lr_;
    for (int i = 0; i < 4; ++i) ws_[ssel_][i] += static_cast<int>((sin_[i] * e) >> 20);
    if (!nni_) return;
    const float g = (static_cast<float>(static_cast<int>(Sq(nny_)) - (bit << 16)) * (1.0f / 65536.0f)) * kNnRate;
    float d[kNnHidden];
    for (int j = 0; j < kNnHidden; ++j) {
      const float a = nnh_[j];
      if (a > 0.0f) {
        d[j] = g * nnv_[j];
        nnv_[j] = nnv_[j] - g * a;
      } else {
        d[j] = 0.0f;
      }
    }
    nnv_[kNnHidden] = nnv_[kNnHidden] - g;
    for (int i = 0; i < nni_; ++i) {
      float* w = &nnw_[static_cast<size_t>(i) * kNnHidden];
      const float xi = nnx_[i];
      for (int j = 0; j < kNnHidden; ++j) w[j] = w[j] - d[j] * xi;
    }
  }

  void Learn(int node, int bit) {
    if (xfinal_) LearnFinalExtra(bit);
    for (int m = 0; m < nmix_; ++m) {
      int err = ((bit << 16) - static_cast<int>(Sq(xm_[m])));
      int64_t e = static_cast<int64_t>(err) * lr_;
      int* w = &w_[m][sel_[m]];
      for (size_t i = 0; i < n_in_; ++i) w[i] += static_cast<int>((st_[i] * e) >> 18);
    }
    if (nmix_ > 1 && final_) {
      int err = ((bit << 16) - static_cast<int>(Sq(xf_)));
      for (int m = 0; m < nmix_; ++m) wf_[fsel_ + m] += static_cast<int>((static_cast<int64_t>(xm_[m]) * err) >> 16);
    }
    apm1_.Learn(bit, 13);
    if (apm2_) apm2c_.Learn(bit, 13);
    if (papm_used_) papm_.Learn(bit, 13);
    for (size_t i = 0; i < nt_; ++i) Update(cur_[i]->p[node], cur_[i]->n[node], bit, tables_[i].limit);
    for (int j = 0; j < nrep_; ++j) LearnRepeat(rep_[j], bit);
  }

  void End(int base) {
    if (nn_) NnTrain(base);
    for (int j = 0; j < nrep_; ++j) StepRepeat(rep_[j], base);
    if (npool_) pool_.Learn(base);
    for (BasePredictor* x : extra_) x->Update(base);
    // Deferred inverted-repeat updates (their slots were prefetched a base ago).
    for (size_t i = 0; i < nt_; ++i) {
      Table& t = tables_[i];
      if (!t.ir || ir_sym_[i] < 0) continue;
      Slot* s = t.direct ? &t.slots.p[ir_idx_[i]] : Find(t, ir_idx_[i], ir_chk_[i]);
      int sym = ir_sym_[i], hi = sym >> 1;
      Update(s->p[0], s->n[0], hi, t.limit);
      Update(s->p[1 + hi], s->n[1 + hi], sym & 1, t.limit);
    }
    const size_t n = AppendBase(base);
    if (npool_) pool_.Record(seq_.data(), n, base, true);
    if (nrep_ && n >= mm_min_) {
      // Look for new repeats before this position's k-mer is recorded.
      FindRepeats(n, 0, nfw_);
      FindRepeats(n, nfw_, nrep_);
      RecordKmer(n);
    }
    if (nrep_) {
      // Prefetch the buckets the next base's look-ups will use: forward
      // k-mers are bucketed by their k-1 oldest bases; for the reverse
      // complement, one bucket per possible next base.
      uint32_t chk;
      const uint64_t fkey = (hist_ << 2) & mm_mask_;
      Prefetch(&mm_.p[MatchSlot(fkey, &chk)]);
      if (nrep_ > nfw_) {
        const uint64_t rnext = rcall_ >> (64 - 2 * mm_min_ + 2);
        for (uint64_t c = 0; c < 4; ++c) Prefetch(&mm_.p[MatchSlot(rnext | (c << (2 * mm_min_ - 2)), &chk)]);
      }
    }
    ComputeNext();
  }

 private:
  struct Table {
    uint8_t order = 0, bits = 0, limit = 0;
    bool direct = false, ir = false, phased = false;
    uint64_t mask = 0;
    BigArray<Slot> slots;
  };

  static int Clamp(int x) { return x > 2047 ? 2047 : (x < -2047 ? -2047 : x); }

  // The 4-symbol network's inputs (docs/format.md §The 4-symbol network), in
  // this order: per context model (in `orders` order) its four bases'
  // probabilities as Stretch4; the pool's four and its confidence bucket / 4
  // (zeros when it has no candidate); per context model and the pool, the
  // running hit, best and loss features; per repeat model and base,
  // 1 + run / 8 where it predicts that base (else 0); per base, its share of
  // the last 8, 16 and 32 bases, as 2 (share - 1/4); the network's own
  // running loss; 1.
  int NnInputCount() const { return static_cast<int>(nt_) * 4 + 5 + 3 * (static_cast<int>(nt_) + 1) + nrep_ * 4 + 14; }
  // Four base probabilities from the three node probabilities (16-bit).
  static void NnFour(uint32_t a, uint32_t b, uint32_t c, float* q) {
    const float p0 = static_cast<float>(a) * (1.0f / 65536.0f), p1 = static_cast<float>(b) * (1.0f / 65536.0f),
                p2 = static_cast<float>(c) * (1.0f / 65536.0f);
    q[0] = (1.0f - p0) * (1.0f - p1);
    q[1] = (1.0f - p0) * p1;
    q[2] = p0 * (1.0f - p2);
    q[3] = p0 * p2;
  }
  // stretch(q) - stretch(1/4) in natural-log units, through the stretch table.
  static float Stretch4(float q) {
    int v = static_cast<int>(q * 65536.0f);
    v = v < 1 ? 1 : (v > 65535 ? 65535 : v);
    return static_cast<float>(St(static_cast<uint32_t>(v))) * (1.0f / 256.0f) + 1.0986123f;
  }
  static uint32_t NnClampP(float v) {
    if (!(v == v)) return 32768;
    const uint32_t x = static_cast<uint32_t>((v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v)) * 65536.0f);
    return x < 32 ? 32u : (x > 65503 ? 65503u : x);
  }

  void NnForward() {
    float* x = nn_->x;
    int k = 0;
    for (size_t i = 0; i < nt_; ++i) {
      NnFour(Prob(cur_[i]->p[0]), Prob(cur_[i]->p[1]), Prob(cur_[i]->p[2]), nnq_[i]);
      for (int s = 0; s < 4; ++s) x[k++] = Stretch4(nnq_[i][s]);
    }
    if (npool_ && pool_.Bucket()) {
      NnFour(pool_.NodeP(0), pool_.NodeP(1), pool_.NodeP(2), nnq_[nt_]);
      for (int s = 0; s < 4; ++s) x[k++] = Stretch4(nnq_[nt_][s]);
      x[k++] = static_cast<float>(pool_.Bucket()) * 0.25f;
    } else {
      for (int s = 0; s < 5; ++s) x[k++] = 0.0f;
      for (int s = 0; s < 4; ++s) nnq_[nt_][s] = 0.25f;
    }
    for (size_t i = 0; i <= nt_; ++i) {
      x[k++] = nnhit_[i];
      x[k++] = nnbest_[i];
      x[k++] = nnbits_[i];
    }
    for (int j = 0; j < nrep_; ++j) {
      const float v = 1.0f + static_cast<float>(rep_[j].len) * 0.125f;
      for (int s = 0; s < 4; ++s) x[k++] = rep_[j].pred == s ? v : 0.0f;
    }
    for (uint64_t b = 0; b < 4; ++b) {
      const uint64_t eq = ~(hist_ ^ (0x5555555555555555ull * b));
      const uint64_t m = eq & (eq >> 1) & 0x5555555555555555ull;
      x[k++] = (static_cast<float>(std::popcount(m & 0xffffull)) * 0.125f - 0.25f) * 2.0f;
      x[k++] = (static_cast<float>(std::popcount(m & 0xffffffffull)) * 0.0625f - 0.25f) * 2.0f;
      x[k++] = (static_cast<float>(std::popcount(m)) * 0.03125f - 0.25f) * 2.0f;
    }
    x[k++] = nnloss_;
    x[k++] = 1.0f;
    kernels::nn4::Forward(nn_.get(), kTab.sq);
    const float* y = nn_->y;
    nnsum_ = ((y[0] + y[1]) + y[2]) + y[3];
    nnp_[0] = NnClampP((y[2] + y[3]) / nnsum_);
    nnp_[1] = NnClampP(y[1] / (y[0] + y[1]));
    nnp_[2] = NnClampP(y[3] / (y[2] + y[3]));
  }

  // Once the base is known: the running features, then the network's SGD step.
  void NnTrain(int base) {
    ++nn_steps_;
    const float* y = nn_->y;
    const float pb = y[base] / nnsum_;
    nnloss_ = 0.85f * nnloss_ + 0.15f * (kNegLog2(pb) - 2.0f);
    float bestp = 0.0f;
    for (size_t i = 0; i <= nt_; ++i) bestp = nnq_[i][base] > bestp ? nnq_[i][base] : bestp;
    for (size_t i = 0; i <= nt_; ++i) {
      const float* q = nnq_[i];
      const float ps = q[base];
      const bool hit = (ps >= q[0]) & (ps >= q[1]) & (ps >= q[2]) & (ps >= q[3]);
      nnbits_[i] = 0.5f * (kNegLog2(ps) - 2.0f) + 0.5f * nnbits_[i];
      // (steps by index, not by a branch: which way they go is not predictable)
      static constexpr float kStep[2] = {-0.1f, 0.1f};
      nnbest_[i] = std::clamp(nnbest_[i] + kStep[ps == bestp], -1.0f, 1.0f);
      nnhit_[i] = std::clamp(nnhit_[i] + kStep[hit], -1.0f, 1.0f);
    }
    kernels::nn4::Train(nn_.get(), base);
  }

  // Entry of a k-mer: bucket by its k-1 oldest bases, entry by the newest.
  size_t MatchSlot(uint64_t kmer, uint32_t* chk) const {
    uint64_t h = Hash(kmer >> 2, 99);
    *chk = static_cast<uint32_t>(h) | 1;
    return (static_cast<size_t>(h >> (66 - mm_bits_)) << 2) | static_cast<size_t>(kmer & 3);
  }

  // Slot group of a hashed context: the 4 contexts that share all but the
  // newest base lie together, so the group of the base after next can be
  // prefetched before that base is known.
  static size_t Group(const Table& t, uint64_t ctx, uint8_t* chk, size_t ph = 0) {
    uint64_t h = Hash((ctx >> 2) ^ (static_cast<uint64_t>(ph) << 60), t.order);
    *chk = static_cast<uint8_t>(h >> 8);
    return static_cast<size_t>(h >> (66 - t.bits)) << 2;
  }
  static void PrefetchGroup(const Table& t, size_t g) {
    const char* a = reinterpret_cast<const char*>(&t.slots.p[g]);
    Prefetch(a);
    Prefetch(a + 4 * sizeof(Slot) - 1);
  }

  // Index (and check byte) of the slots for the next base, and of the
  // inverted-repeat updates; prefetches the groups of the base after next
  // and the inverted-repeat slots (applied one base later).
  void ComputeNext() {
    const size_t n = seq_.size();
    phase_ = framed_ ? frame_.State(n) : n % 3;
    for (size_t i = 0; i < nt_; ++i) {
      Table& t = tables_[i];
      uint64_t ctx = hist_ & t.mask;
      uint64_t nctx = (hist_ << 2) & t.mask;  // next context, newest base 0
      uint8_t chk;
      if (t.phased) {
        // Phase of the next base and of the one after.
        // (with frame, the state after next is not known yet: the prefetch
        // guesses it unchanged)
        const size_t ph = phase_, ph2 = framed_ ? phase_ : (n + 1) % 3;
        if (t.direct) {
          next_idx_[i] = (ph << t.bits) + static_cast<size_t>(ctx);
          PrefetchGroup(t, (ph2 << t.bits) + static_cast<size_t>(nctx));
        } else {
          next_idx_[i] = Group(t, ctx, &next_chk_[i], ph + 1) | static_cast<size_t>(ctx & 3);
          PrefetchGroup(t, Group(t, nctx, &chk, ph2 + 1));
        }
      } else if (t.direct) {
        next_idx_[i] = static_cast<size_t>(ctx);
        PrefetchGroup(t, static_cast<size_t>(nctx));
      } else {
        next_idx_[i] = Group(t, ctx, &next_chk_[i]) | static_cast<size_t>(ctx & 3);
        PrefetchGroup(t, Group(t, nctx, &chk));
      }
      if (t.ir) {
        if (n > t.order) {
          // Reverse strand: context = complement of x[n-1..n-k] read backwards,
          // symbol = complement of x[n-k-1].
          uint64_t rctx = rcall_ >> (64 - 2 * t.order);
          ir_sym_[i] = 3 - static_cast<int>((hist_ >> (2 * t.order)) & 3);
          if (t.direct) {
            ir_idx_[i] = static_cast<size_t>(rctx);
          } else {
            ir_idx_[i] = Group(t, rctx, &ir_chk_[i]) | static_cast<size_t>(rctx & 3);
          }
          Prefetch(&t.slots.p[ir_idx_[i]]);
          Prefetch(reinterpret_cast<const char*>(&t.slots.p[ir_idx_[i]]) + sizeof(Slot) - 1);
        } else {
          ir_sym_[i] = -1;
        }
      }
    }
  }

  // Slot of a hashed context; a slot holding another context is reset.
  static Slot* Find(Table& t, size_t idx, uint8_t chk) {
    Slot* r = &t.slots.p[idx];
    if (r->chk != chk) {
      r->p[0] = r->p[1] = r->p[2] = 0;
      r->n[0] = r->n[1] = r->n[2] = 0;
      r->chk = chk;
    }
    return r;
  }

  // Gives the repeat models [lo, hi) that have none (or just missed) a new
  // earlier occurrence of the last mm_min_ bases (forward models) or of their
  // reverse complement (inverted models), most recent first, skipping
  // alignments already followed.
  void FindRepeats(size_t n, int lo, int hi) {
    if (lo >= hi) return;
    int need = 0;
    for (int j = lo; j < hi; ++j) need += !rep_[j].active || (rep_[j].miss & 0xff);
    if (!need) return;
    const bool fwd = rep_[lo].dir > 0;
    uint64_t key = fwd ? (hist_ & mm_mask_) : (rcall_ >> (64 - 2 * mm_min_));
    uint32_t chk;
    const MEntry& me = mm_.p[MatchSlot(key, &chk)];
    if (me.chk != chk) return;
    uint32_t e = me.pos;
    int j = lo;
    for (int steps = 0; e != 0 && steps < 8 && j < hi; ++steps, e = primed_ && chained_ ? chain_[e] : 0) {
      if (e >= n) continue;
      uint32_t ptr, l = 0;
      if (fwd) {
        while (l < 32 && l < e && seq_[e - 1 - l] == seq_[n - 1 - l]) ++l;
        ptr = e;
      } else {
        if (e < mm_min_ + 1u) continue;
        uint32_t q = e - mm_min_;  // first base of the occurrence
        while (l < 32 && q + l < n && seq_[q + l] == 3 - seq_[n - 1 - l]) ++l;
        ptr = q - 1;
      }
      if (l < mm_min_) continue;
      bool dup = false;
      for (int k = lo; k < hi; ++k) dup |= rep_[k].active && rep_[k].ptr == ptr;
      if (dup) continue;
      while (j < hi && rep_[j].active && !(rep_[j].miss & 0xff)) ++j;
      if (j >= hi) break;
      Repeat& r = rep_[j++];
      r.active = true;
      r.ptr = ptr;
      r.len = l;
      r.miss = 0;
    }
  }

  // Mixer input of a repeat model: +/- the stretched confidence of its
  // predicted bit for this node; 0 when it predicts nothing.
  static int RepeatInput(int node, Repeat& r) {
    r.bit = -1;
    if (r.pred < 0) return 0;
    int bit;
    if (node == 0) bit = r.pred >> 1;
    else if (node - 1 == (r.pred >> 1)) bit = r.pred & 1;
    else return 0;
    r.bit = bit;
    r.cnode = node ? 1 : 0;
    r.csel = r.Ctx();
    int s = St(Prob(r.cp[r.cnode][r.csel]));
    return bit ? s : -s;
  }

  static void LearnRepeat(Repeat& r, int bit) {
    if (r.bit < 0) return;
    Update(r.cp[r.cnode][r.csel], r.cn[r.cnode][r.csel], r.bit == bit, 255);
  }

  void StepRepeat(Repeat& r, int base) {
    if (!r.active) return;
    bool hit = r.pred == base;
    r.miss <<= 1;
    if (hit) {
      if (r.len < 31) ++r.len;
    } else {
      r.miss |= 1;
      r.len = primed_ ? (r.len >> kPrimedKeep) : 0;
    }
    if (!hit && r.MissCount() > p_.match_tolerance) {
      r.active = false;
      r.len = 0;
      return;
    }
    if (r.dir > 0) {
      ++r.ptr;
    } else {
      if (r.ptr == 0) {
        r.active = false;
        r.len = 0;
        return;
      }
      --r.ptr;
    }
  }

  const CmParams& p_;
  bool alloc_ok_ = true;
  bool primed_ = false;
  // Codon phase: states (3, or CodonFrame's 7 with frame) and that of the
  // next base (position mod 3, or the inferred frame).
  size_t nph_ = 3, phase_ = 0;
  bool framed_ = false;
  models::CodonFrame frame_;
  // Primed coding (fasta-ref): a miss halves a repeat model's run length
  // instead of clearing it (a point mutation in a long match with the
  // reference; 0.4% smaller on kpn strains).
  static constexpr int kPrimedKeep = 1;
  std::span<BasePredictor* const> extra_;
  uint32_t xdist_[kMaxExtraPredictors][4] = {};
  size_t nt_ = 0, n_in_ = 0;
  Table tables_[kMaxModels];
  Slot* cur_[kMaxModels];
  size_t next_idx_[kMaxModels];
  uint8_t next_chk_[kMaxModels];
  size_t ir_idx_[kMaxModels];
  uint8_t ir_chk_[kMaxModels];
  int ir_sym_[kMaxModels];
  int st_[kMaxMixerInputs];
  std::vector<int> w_[4], wf_;
  // Final stage with extra predictors (FinalExtra) and the neural mixer.
  static constexpr int kNnHidden = 16;
  static constexpr float kNnRate = 0.002f;
  bool xfinal_ = false;
  int rs_ = 0;
  int ws_[3 * 16 * 4][4];
  int sin_[4] = {0, 0, 0, 0}, xs_ = 0;
  size_t ssel_ = 0;
  int nni_ = 0, nny_ = 0;  // neural mixer inputs (0: none), last logit
  std::vector<float> nnw_;  // [nni_][kNnHidden]
  float nnv_[kNnHidden + 1] = {};
  float nnx_[kMaxMixerInputs + 7] = {};
  float nnh_[kNnHidden] = {};
  int phased0_ = -1;
  Apm apm1_, apm2c_;
  int apm1_bits_ = 8;
  int nmix_ = 1;
  bool final_ = false, apm2_ = false;
  int lr_ = 16;
  size_t sel_[4] = {0, 0, 0, 0}, fsel_ = 0;
  int xm_[4] = {0, 0, 0, 0}, xf_ = 0;
  uint32_t pmix_ = 32768;
  uint64_t hist_ = 0, rcall_ = 0;
  // Repeat models.
  int nfw_ = 0, nrep_ = 0;
  bool chained_ = false;
  std::vector<uint32_t> chain_;
  uint32_t mm_min_ = 20, mm_bits_ = 22;
  uint64_t mm_mask_ = 0;
  std::vector<uint8_t> seq_;
  struct MEntry {
    uint32_t pos, chk;  // end of the latest occurrence; hash check (0: empty)
  };
  BigArray<MEntry> mm_;
  Repeat rep_[8];
  // Repeat pool: four mixer inputs before the extra predictors (xbase_ - 4 .. - 1).
  size_t npool_ = 0, xbase_ = 0;
  models::RepeatPool pool_;
  Apm papm_;
  bool papm_used_ = false;  // the pool predicted at this node (its APM learns)
  // The 4-symbol network (CmParams::nn_hidden): its state, mixer input, node
  // probabilities for this base, and its running features (per context
  // model and the pool: four base probabilities, hit, best, loss).
  std::unique_ptr<kernels::nn4::Net> nn_;
  size_t nn_in_ = 0;
  uint32_t nnp_[3] = {32768, 32768, 32768};
  float nnq_[kMaxModels + 1][4] = {};
  float nnhit_[kMaxModels + 1] = {}, nnbest_[kMaxModels + 1] = {}, nnbits_[kMaxModels + 1] = {};
  float nnloss_ = 0.0f;
  float nnsum_ = 1.0f;  // the network's four outputs summed, for this base
  // Bases the network has learnt (a primed block's prime not counted), and
  // how many it learns before the final average weighs it 1/2 instead of
  // 1/4 (2^18: on yeast chromosomes and lambda the cold network cost up to
  // 0.18%, and 2^18 or 2^20 leave E. coli and human within 0.01%).
  static constexpr uint64_t kNnRampBases = uint64_t{1} << 18;
  uint64_t nn_steps_ = 0;
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
  auto m = std::make_unique<M>(p, extra...);
  if (!m->ok()) return NoTables(p);
  return EncodeLoop(m.get(), codes, n, out);
}

template <class M, class... Extra>
Status DecodeWith(const CmParams& p, std::string_view in, size_t n, uint8_t* codes, Extra... extra) {
  auto m = std::make_unique<M>(p, extra...);
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
  auto m = std::make_unique<Model>(p);
  if (!m->ok()) return NoTables(p);
  m->Prime(prime.data(), prime.size());
  return EncodeLoop(m.get(), codes, n, out);
}

Status CmDecodePrimed(const CmParams& p, std::span<const uint8_t> prime, std::string_view in, size_t n,
                      uint8_t* codes) {
  if (prime.size() + n >= (uint64_t{1} << 31))
    return Status::Corruption("cm: reference and block exceed 2^31 bases");
  auto m = std::make_unique<Model>(p);
  if (!m->ok()) return NoTables(p);
  m->Prime(prime.data(), prime.size());
  return DecodeLoop(m.get(), in, n, codes);
}

}  // namespace pmklc
