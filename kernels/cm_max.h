// cm_max.h — the general model of the nucleotide coder (`max`, the
// reference-primed coder of fasta-ref, and the CM half of `neural`;
// engine/models/nucleotide_cm.h says what it models) as one flat-state step
// (kernels; issue #18).
//
// A stream's state is a `MaxModel` (plain data: fixed arrays and pointers
// into one arena the caller provides, MaxLayoutFor) and the constant tables
// a `MaxTables`. Init, Prime, Begin, P, Learn and End are `PMKLC_HD`: the CPU
// coder (engine/models/nucleotide_cm.cc) runs exactly this code, and a GPU
// batch can run it one stream a thread. docs/format.md §fasta-cm defines the
// bytes; the pinned tests (Nn4.MaxCodesAsPinned, RepeatPool.*AsFirstShipped,
// the variant-3 pin) hold them.
// Extra predictors (the neural profile's networks) stay with the caller:
// it fills `xdist` before Begin and tells them the base after End; the
// final stage that mixes them in is part of the step.
// No virtual calls, exceptions or STL containers.
// Thread safety: a MaxModel belongs to one thread; reentrant.
// Errors: none here; the caller sizes the arena and the history (capacity).
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>

#include "engine/models/codon_frame.h"
#include "kernels/cm_slim.h"
#include "kernels/hd.h"
#include "kernels/nn4.h"
#include "kernels/node_prob.h"
#include "kernels/repeat_pool.h"

namespace pmklc::kernels::cmmax {

using cmslim::Slot;
using models::CodonFrame;

inline constexpr int kMaxModels = 24;
inline constexpr int kMaxExtra = 4;
// Most mixer inputs: models, 8 repeat models, 4 pool inputs, extra
// predictors, the 4-symbol network and the bias.
inline constexpr int kMaxMixerInputs = kMaxModels + 8 + 4 + kMaxExtra + 2;
inline constexpr int kNnHidden = 16;       // the neural profile's final-stage network
inline constexpr float kNnRate = 0.002f;
inline constexpr int kPrimedKeep = 1;      // primed: a miss halves a repeat model's run
// Bases the 4-symbol network learns before the final average weighs it 1/2
// instead of 1/4 (2^18: on yeast chromosomes and lambda the cold network
// cost up to 0.18%, and 2^18 or 2^20 leave E. coli and human within 0.01%).
inline constexpr uint64_t kNnRampBases = uint64_t{1} << 18;

struct MaxTables {
  const cmslim::Tables* coder;    // stretch, squash, counter rates
  const pool::PoolTables* pool;
  float neglog2[4097];            // -log2(q / 4096), q = 1..4096 (our own log; t[0] = 12)
};

// -log2 p for p in [0, 1] (at most 12).
PMKLC_HD float NegLog2(const MaxTables* t, float p) {
  const int q = static_cast<int>(p * 4096.0f);
  return t->neglog2[q < 1 ? 1 : (q > 4096 ? 4096 : q)];
}

// What a stream's shape is made of (from CmParams, see nucleotide_cm.h).
struct MaxShape {
  int nt = 0;
  uint8_t order[kMaxModels] = {};
  bool phased[kMaxModels] = {}, direct[kMaxModels] = {}, ir[kMaxModels] = {};
  uint8_t bits[kMaxModels] = {}, limit[kMaxModels] = {};
  uint32_t nph = 3;                 // codon-phase states (3, or CodonFrame's 7)
  uint8_t frame = 0;                // CmParams::frame
  uint8_t match_flags = 0, match_min = 18, match_bits = 22, match_tolerance = 12;
  uint8_t mixer_lr = 32, flags = 0, nn_hidden = 0;
  pool::PoolParams pool;            // capacity 0: none
  int extra = 0;                    // extra predictors
  uint32_t extra_mix = 0;           // kExtraMixFinal 1, kExtraMixNeural 2
};

// Sizes a stream's parts from its shape: mixer inputs, mixers, and so on.
struct MaxDims {
  int nfw, nrep, npool, nmix, phased0, nni;
  size_t xbase, n_in, nn_in, w_len, apm1_bits;
};
PMKLC_HD MaxDims DimsOf(const MaxShape& s) {
  MaxDims d;
  d.nfw = s.match_flags & 15;
  d.nrep = d.nfw + (s.match_flags >> 4);
  d.npool = s.pool.capacity ? 4 : 0;
  d.xbase = static_cast<size_t>(s.nt) + static_cast<size_t>(d.nrep) + static_cast<size_t>(d.npool);
  d.n_in = d.xbase + static_cast<size_t>(s.extra) + 1;
  d.nn_in = 0;
  if (s.nn_hidden) {
    d.nn_in = d.n_in - 1;
    ++d.n_in;
  }
  d.phased0 = -1;
  for (int i = 0; i < s.nt; ++i)
    if (s.phased[i]) {
      d.phased0 = i;
      break;
    }
  d.nmix = 1 + (s.flags & 1) + ((s.flags >> 2) & 1) + ((s.flags & 4) && d.phased0 >= 0);
  d.nni = s.extra && (s.extra_mix & 1) && (s.extra_mix & 2) ? static_cast<int>(d.n_in) - 1 + 7 : 0;
  d.w_len = 3 * s.nph * 64 * d.n_in * (d.npool ? 2 : 1);
  d.apm1_bits = (s.flags & 128) ? 12 : 8;
  return d;
}

// Where a stream's arena (zeroed, MaxLayout::bytes) holds what; capacity:
// the most bases of history (a prime plus the coded ones).
struct MaxLayout {
  size_t slots[kMaxModels] = {};
  size_t mm = 0, seq = 0, chain = 0, pool_index = 0, pool_cand = 0, pool_set = 0;
  size_t w[4] = {}, wf = 0, apm1 = 0, apm2 = 0, papm = 0, nnw = 0, net = 0;
  size_t bytes = 0;
};
PMKLC_HD MaxLayout MaxLayoutFor(const MaxShape& s, size_t capacity) {
  const MaxDims d = DimsOf(s);
  MaxLayout l;
  size_t at = 0;
  auto take = [&at](size_t n) {
    const size_t r = at;
    at = Align64(at + n);
    return r;
  };
  // the big, randomly read tables first (the caller may ask for huge pages)
  for (int i = 0; i < s.nt; ++i)
    l.slots[i] = take((s.direct[i] && s.phased[i] ? s.nph : 1) * (size_t{1} << s.bits[i]) * sizeof(Slot));
  l.mm = take(d.nrep ? (size_t{1} << s.match_bits) * 8 : 0);
  const pool::PoolLayout pl = pool::PoolLayoutFor(s.pool);
  l.pool_index = take(pl.index_bytes);
  l.pool_cand = take(pl.cand_bytes);
  l.pool_set = take(pl.set_bytes);
  l.seq = take(capacity + 1);
  const bool chained = d.nfw > 1 || d.nrep - d.nfw > 1;
  l.chain = take(chained ? (capacity + 2) * sizeof(uint32_t) : 0);
  for (int m = 0; m < 4; ++m) l.w[m] = take(m < d.nmix ? d.w_len * sizeof(int) : 0);
  l.wf = take(3 * 4 * 3 * sizeof(int));
  l.apm1 = take((size_t{3} << d.apm1_bits) * 33 * 2);
  l.apm2 = take((s.frame ? s.nph : 1) * 3 * 16 * 16 * 33 * 2);
  l.papm = take(d.npool ? 3 * 8 * 33 * 2 : 0);
  l.nnw = take(static_cast<size_t>(d.nni) * kNnHidden * sizeof(float));
  l.net = take(s.nn_hidden ? sizeof(nn4::Net) : 0);
  l.bytes = at;
  return l;
}

// One APM over a table in the arena: a learned map of the stretched
// probability, per context (33 points a context).
struct Apm {
  uint16_t* t;
  size_t sel;
  int w;
  PMKLC_HD void Init(uint16_t* table, size_t contexts, const cmslim::Tables* tb) {
    t = table;
    sel = 0;
    w = 0;
    for (size_t c = 0; c < contexts; ++c)
      for (int j = 0; j < 33; ++j) t[c * 33 + j] = static_cast<uint16_t>(cmslim::Sq((j - 16) * 128, tb));
  }
  PMKLC_HD uint32_t P(int st, size_t ctx) {
    const int s = st + 2048;  // 1..4095
    const int lo = s >> 7;
    w = s & 127;
    sel = ctx * 33 + static_cast<size_t>(lo);
    return (t[sel] * static_cast<uint32_t>(128 - w) + t[sel + 1] * static_cast<uint32_t>(w)) >> 7;
  }
  PMKLC_HD void Prefetch(size_t ctx) const {
    const char* r = reinterpret_cast<const char*>(t + ctx * 33);
    PMKLC_PREFETCH(r);
    PMKLC_PREFETCH(r + 64);
  }
  PMKLC_HD void Learn(int bit, int shift) {
    const int target = bit ? 65535 : 0;
    uint16_t& a0 = t[sel];
    uint16_t& a1 = t[sel + 1];
    a0 = static_cast<uint16_t>(a0 + (((target - a0) * (128 - w)) >> shift));
    a1 = static_cast<uint16_t>(a1 + (((target - a1) * w) >> shift));
  }
};

// A repeat model: follows one earlier occurrence forward (dir +1) or as a
// reverse complement (dir -1).
struct Repeat {
  uint32_t ptr;   // index in seq of the base it predicts
  uint32_t len;   // consecutive hits (capped at 31)
  uint32_t miss;  // 1 bits: recent misses (newest in bit 0)
  bool active;
  int dir;        // +1 forward, -1 inverted repeat
  int pred;       // predicted base for the current position, -1 if none
  int bit;        // predicted bit for the current node, -1 if none
  uint16_t cp[2][16 * 4];
  uint8_t cn[2][16 * 4];
  size_t csel;
  int cnode;
  PMKLC_HD void Reset(int d) {
    ptr = len = miss = 0;
    active = false;
    dir = d;
    pred = bit = -1;
    for (int a = 0; a < 2; ++a)
      for (int b = 0; b < 16 * 4; ++b) {
        cp[a][b] = 0;
        cn[a][b] = 0;
      }
    csel = 0;
    cnode = 0;
  }
  PMKLC_HD int MissCount() const { return Popcount32(miss & 0xffffu); }
  PMKLC_HD size_t Ctx() const {
    const int m = MissCount();
    return static_cast<size_t>(len < 15 ? len : 15) * 4 + static_cast<size_t>(m > 3 ? 3 : m);
  }
  // Length bucket 0..3 for mixer/APM selection (0: no prediction).
  PMKLC_HD int Bucket() const {
    if (pred < 0) return 0;
    if (len < 12) return 1;
    if (len < 24) return 2;
    return 3;
  }
};

struct Table {
  uint8_t order, bits, limit;
  bool direct, ir, phased;
  uint64_t mask;
  Slot* slots;
};

struct MEntry {
  uint32_t pos, chk;  // end of the latest occurrence; hash check (0: empty)
};

PMKLC_HD int Clamp2047(int x) { return x > 2047 ? 2047 : (x < -2047 ? -2047 : x); }
PMKLC_HD float ClampF(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }

struct MaxModel {
  const MaxTables* tab;
  MaxShape sh;
  bool primed, chained, framed;
  uint32_t nph, phase;
  CodonFrame frame;
  // extra predictors: their four-base distributions, filled by the caller
  int nextra;
  uint32_t xdist[kMaxExtra][4];
  size_t nt, n_in;
  Table tables[kMaxModels];
  Slot* cur[kMaxModels];
  size_t next_idx[kMaxModels];
  uint8_t next_chk[kMaxModels];
  size_t ir_idx[kMaxModels];
  uint8_t ir_chk[kMaxModels];
  int ir_sym[kMaxModels];
  int st[kMaxMixerInputs];
  int* w[4];
  int* wf;
  // final stage with extra predictors and the neural mixer
  bool xfinal;
  int rs;
  int ws[3 * 16 * 4][4];
  int sin[4], xs;
  size_t ssel;
  int nni, nny;
  float* nnw;  // [nni][kNnHidden]
  float nnv[kNnHidden + 1];
  float nnx[kMaxMixerInputs + 7];
  float nnh[kNnHidden];
  int phased0;
  Apm apm1, apm2c;
  int apm1_bits;
  int nmix;
  bool final_, apm2;
  int lr;
  size_t sel[4], fsel;
  int xm[4], xf;
  uint32_t pmix;
  uint64_t hist, rcall;
  // repeat models
  int nfw, nrep;
  uint32_t* chain;  // chain[n]: the link of position n (primed and chained only)
  uint32_t mm_min, mm_bits;
  uint64_t mm_mask;
  uint8_t* seq;  // the history, seq[0..nseq)
  size_t nseq;
  MEntry* mm;
  Repeat rep[8];
  // the repeat pool: four mixer inputs before the extra predictors
  size_t npool, xbase;
  pool::PoolState pool;
  Apm papm;
  bool papm_used;
  // the 4-symbol network
  nn4::Net* nn;
  size_t nn_in;
  uint32_t nnp[3];
  float nnq[kMaxModels + 1][4];
  float nnhit[kMaxModels + 1], nnbest[kMaxModels + 1], nnbits[kMaxModels + 1];
  float nnloss, nnsum;
  uint64_t nn_steps;

  // A fresh stream over `arena` (zeroed, MaxLayoutFor(shape, capacity)).
  PMKLC_HD void Init(const MaxShape& shape, unsigned char* arena, const MaxLayout& l, const MaxTables* t) {
    tab = t;
    sh = shape;
    const MaxDims d = DimsOf(shape);
    primed = false;
    nt = static_cast<size_t>(shape.nt);
    for (size_t i = 0; i < nt; ++i) {
      Table& tb = tables[i];
      tb.order = shape.order[i];
      tb.phased = shape.phased[i];
      tb.direct = shape.direct[i];
      tb.bits = shape.bits[i];
      tb.limit = shape.limit[i];
      tb.ir = shape.ir[i];
      tb.mask = (tb.order >= 32) ? ~uint64_t{0} : ((uint64_t{1} << (2 * tb.order)) - 1);
      tb.slots = reinterpret_cast<Slot*>(arena + l.slots[i]);
      cur[i] = tb.slots;
      next_idx[i] = ir_idx[i] = 0;
      next_chk[i] = ir_chk[i] = 0;
      ir_sym[i] = -1;
    }
    nph = shape.nph;
    phase = 0;
    framed = shape.frame != 0;
    frame = CodonFrame(framed ? shape.frame : 200);
    nfw = d.nfw;
    nrep = d.nrep;
    for (int j = 0; j < 8; ++j) rep[j].Reset(j < nfw ? 1 : -1);
    mm_min = shape.match_min;
    mm_mask = mm_min >= 32 ? ~uint64_t{0} : ((uint64_t{1} << (2 * mm_min)) - 1);
    mm_bits = shape.match_bits;
    mm = reinterpret_cast<MEntry*>(arena + l.mm);
    chained = nfw > 1 || nrep - nfw > 1;
    chain = reinterpret_cast<uint32_t*>(arena + l.chain);
    seq = arena + l.seq;
    nseq = 0;
    npool = static_cast<size_t>(d.npool);
    papm_used = false;
    if (npool) {
      papm.Init(reinterpret_cast<uint16_t*>(arena + l.papm), 3 * 8, t->coder);
      pool::PoolInit(&pool, shape.pool, reinterpret_cast<uint32_t*>(arena + l.pool_index),
                     reinterpret_cast<pool::Cand*>(arena + l.pool_cand),
                     reinterpret_cast<uint64_t*>(arena + l.pool_set));
    } else {
      pool::PoolInit(&pool, shape.pool, nullptr, nullptr, nullptr);
    }
    nextra = shape.extra;
    for (int k = 0; k < kMaxExtra; ++k)
      for (int s = 0; s < 4; ++s) xdist[k][s] = 0;
    xbase = d.xbase;
    n_in = d.n_in;
    nn = nullptr;
    nn_in = d.nn_in;
    for (int k = 0; k < 3; ++k) nnp[k] = 32768;
    for (int i = 0; i <= kMaxModels; ++i) {
      for (int s = 0; s < 4; ++s) nnq[i][s] = 0.0f;
      nnhit[i] = nnbest[i] = nnbits[i] = 0.0f;
    }
    nnloss = 0.0f;
    nnsum = 1.0f;
    nn_steps = 0;
    if (shape.nn_hidden) {
      nn = new (arena + l.net) nn4::Net();  // (its defaults: the SGD rate)
      nn4::Init(nn, NnInputCount());
    }
    phased0 = d.phased0;
    nmix = d.nmix;
    final_ = (shape.flags >> 3) & 1;
    xfinal = false;
    rs = 0;
    for (int i = 0; i < 4; ++i) sin[i] = 0;
    xs = 0;
    ssel = 0;
    nni = 0;
    nny = 0;
    nnw = reinterpret_cast<float*>(arena + l.nnw);
    for (int j = 0; j <= kNnHidden; ++j) nnv[j] = 0.0f;
    for (int j = 0; j < kMaxMixerInputs + 7; ++j) nnx[j] = 0.0f;
    for (int j = 0; j < kNnHidden; ++j) nnh[j] = 0.0f;
    if (shape.extra && (shape.extra_mix & 1)) {
      xfinal = true;
      for (auto& v : ws) v[0] = 65536, v[1] = v[2] = v[3] = 0;
      if (shape.extra_mix & 2) {
        nni = d.nni;
        uint64_t z = 77;  // LCG; [-0.1, 0.1) from the top 24 bits, exact in float
        for (size_t i = 0; i < static_cast<size_t>(nni) * kNnHidden; ++i) {
          z = z * 6364136223846793005ull + 1442695040888963407ull;
          nnw[i] = static_cast<float>(static_cast<int32_t>(z >> 40) - (1 << 23)) * (0.1f / 8388608.0f);
        }
      }
    }
    apm2 = (shape.flags >> 1) & 1;
    lr = shape.mixer_lr;
    const int w0 = (1 << 16) / static_cast<int>(n_in - 1);
    for (int m = 0; m < 4; ++m) {
      w[m] = reinterpret_cast<int*>(arena + l.w[m]);
      if (m < nmix)
        for (size_t i = 0; i < d.w_len; ++i) w[m][i] = w0;
    }
    wf = reinterpret_cast<int*>(arena + l.wf);
    for (int i = 0; i < 3 * 4 * 3; ++i) wf[i] = 65536 / nmix;
    apm1_bits = static_cast<int>(d.apm1_bits);
    apm1.Init(reinterpret_cast<uint16_t*>(arena + l.apm1), size_t{3} << apm1_bits, t->coder);
    apm2c.Init(reinterpret_cast<uint16_t*>(arena + l.apm2), (shape.frame ? nph : 1) * 3 * 16 * 16, t->coder);
    for (int m = 0; m < 4; ++m) {
      sel[m] = 0;
      xm[m] = 0;
    }
    fsel = 0;
    xf = 0;
    pmix = 32768;
    hist = rcall = 0;
    for (int i = 0; i < kMaxMixerInputs; ++i) st[i] = 0;
    ComputeNext();
  }

  PMKLC_HD int St(uint32_t p16) const { return cmslim::St(p16, tab->coder); }
  PMKLC_HD uint32_t Sq(int x) const { return cmslim::Sq(x, tab->coder); }
  PMKLC_HD void Update(uint16_t& p, uint8_t& n, int bit, uint8_t limit) const {
    cmslim::Update(p, n, bit, limit, tab->coder);
  }

  // Primed coding (fasta-ref): the m bases of r become history that
  // precedes the first coded base. Only the repeat models see them (the
  // k-mer table and, with several repeat models per direction, the chain
  // of earlier occurrences, which is kept exact from here on); no counter,
  // mixer or APM learns. Call once, before the first Begin.
  PMKLC_HD void Prime(const uint8_t* r, size_t m) {
    primed = true;
    if (chained) chain[0] = 0;  // chain[n] is the link of position n
    // The k-mer tables are written at random places, one per base and
    // table, faster than memory answers: the k-mers ending kAhead bases
    // later are computed here and their slots prefetched (a hint only);
    // the repeat table's slot is kept for RecordKmerAt (ring[j % kAhead]
    // is the slot of the history that ends at base j).
    constexpr size_t kAhead = 32;
    size_t ring[kAhead];
    uint32_t ring_chk[kAhead];
    uint64_t ahead = hist;  // the history up to base j
    for (size_t j = 0; j < kAhead && j < m; ++j) LookAhead(r, j, &ahead, ring, ring_chk);
    for (size_t i = 0; i < m; ++i) {
      const size_t n = AppendBase(r[i] & 3);
      if (nrep && n >= mm_min) RecordKmerAt(n, ring[i % kAhead], ring_chk[i % kAhead]);
      if (npool) pool::Record(&pool, seq, n, r[i] & 3, false);
      if (i + kAhead < m) LookAhead(r, i + kAhead, &ahead, ring, ring_chk);  // (after ring[i % kAhead] was used)
    }
    ComputeNext();
  }
  PMKLC_HD void LookAhead(const uint8_t* r, size_t j, uint64_t* ahead, size_t* ring, uint32_t* ring_chk) {
    constexpr size_t kAhead = 32;
    *ahead = (*ahead << 2) | static_cast<uint64_t>(r[j] & 3);
    if (nrep) {
      ring[j % kAhead] = MatchSlot(*ahead & mm_mask, &ring_chk[j % kAhead]);
      PMKLC_PREFETCH(&mm[ring[j % kAhead]]);
    }
    if (npool) pool::PrefetchKmer(&pool, *ahead);
  }

  // Appends a base to the history; returns the new length n.
  PMKLC_HD size_t AppendBase(int base) {
    seq[nseq++] = static_cast<uint8_t>(base);
    hist = (hist << 2) | static_cast<uint64_t>(base);
    rcall = (rcall >> 2) | (static_cast<uint64_t>(3 - base) << 62);
    if (framed) frame.Push(static_cast<uint32_t>(nseq), static_cast<unsigned>(hist & 63));
    if (primed && chained) chain[nseq] = 0;
    return nseq;
  }

  // Records the k-mer ending at position n in the repeat table (and, primed,
  // links n to its previous occurrence).
  PMKLC_HD void RecordKmer(size_t n) {
    uint32_t chk;
    const size_t slot = MatchSlot(hist & mm_mask, &chk);
    RecordKmerAt(n, slot, chk);
  }
  PMKLC_HD void RecordKmerAt(size_t n, size_t slot, uint32_t chk) {
    MEntry& e = mm[slot];
    if (primed && chained) chain[n] = e.chk == chk ? e.pos : 0;
    e.pos = static_cast<uint32_t>(n);
    e.chk = chk;
  }

  // Prepares the slots of the current context (once per base). The caller
  // has filled xdist (extra predictors) for this base.
  PMKLC_HD void Begin() {
    for (int j = 0; j < nrep; ++j) {
      Repeat& r = rep[j];
      r.pred = r.active ? (r.dir > 0 ? seq[r.ptr] : 3 - seq[r.ptr]) : -1;
    }
    if (npool) pool::Predict(&pool, seq, tab->pool);
    // (the rows the three nodes' first APM will use)
    const size_t h1 = static_cast<size_t>(hist & ((uint64_t{1} << apm1_bits) - 1));
    for (size_t node = 0; node < 3; ++node) apm1.Prefetch((node << apm1_bits) + h1);
    for (size_t i = 0; i < nt; ++i) {
      Table& t = tables[i];
      cur[i] = t.direct ? &t.slots[next_idx[i]] : Find(t, next_idx[i], next_chk[i]);
    }
    if (nn) NnForward();
  }

  // P(bit = 1) for decision node (0: high bit; 1/2: low bit given high 0/1).
  PMKLC_HD uint32_t P(int node) {
    for (size_t i = 0; i < nt; ++i) st[i] = St(cmslim::Prob(cur[i]->p[node]));
    int fb = 0, ib = 0;
    for (int j = 0; j < nrep; ++j) {
      st[nt + j] = RepeatInput(node, rep[j]);
      const int b = rep[j].Bucket();
      if (j < nfw) fb = fb > b ? fb : b;
      else ib = ib > b ? ib : b;
    }
    for (int k = 0; k < nextra; ++k) st[xbase + k] = St(NodeProbability4(xdist[k], node));
    st[n_in - 1] = 256;  // bias
    if (nn) st[nn_in] = St(nnp[node]);
    const int rsv = fb * 4 + ib;
    if (npool) {
      const uint32_t pp = pool::NodeP(&pool, node);
      // Four inputs: the pool's stretched probability, the same refined by
      // an APM keyed by node and the pool's confidence bucket, and the
      // stretched probabilities of its forward and of its reverse-complement
      // candidates alone (0 when none predicts).
      papm_used = pp != 0;
      st[xbase - npool] = pp ? St(pp) : 0;
      st[xbase - npool + 1] =
          pp ? St(papm.P(st[xbase - npool], static_cast<size_t>(node) * 8 + static_cast<size_t>(pool.bucket))) : 0;
      for (int dd = 0; dd < 2; ++dd) {
        const uint32_t q = pool::NodePDir(&pool, node, dd);
        st[xbase - 2 + dd] = q ? St(q) : 0;
      }
    }
    size_t ctx[4];
    int nc = 0;
    // Codon phase of this base (position mod 3, or the frame state), when
    // flags bit 6 is set.
    const size_t ph = (sh.flags & 64) ? phase : 0;
    const size_t np = nph;
    ctx[nc++] = (sh.flags & 16) ? (static_cast<size_t>(node) * np + ph) * 64 + static_cast<size_t>(hist & 63)
                                : (static_cast<size_t>(node) * np + ph) * 16 + static_cast<size_t>(hist & 15);
    if (sh.flags & 1) {
      ctx[nc] = (static_cast<size_t>(node) * np + ph) * 16 + static_cast<size_t>(rsv);
      if (npool) ctx[nc] = ctx[nc] * 8 + static_cast<size_t>(pool.bucket);
      ++nc;
    }
    if (sh.flags & 4) {
      // Highest-order model that has seen this context, and whether it is sure.
      // (with a phased model: the last non-phased model in `orders`)
      size_t h = 0;
      for (size_t i = nt; i-- > 0;)
        if (cur[i]->n[node] && !(phased0 >= 0 && tables[i].phased)) {
          h = (i + 1) * 2 + (cur[i]->n[node] >= 3);
          break;
        }
      ctx[nc++] = (static_cast<size_t>(node) * np + ph) * 64 + h;
      if (phased0 >= 0) {
        const uint32_t c = cur[phased0]->n[node];
        const size_t hb = c == 0 ? 0 : (c < 3 ? 1 : (c < 16 ? 2 : 3));
        ctx[nc++] = (static_cast<size_t>(node) * np + ph) * 4 + hb;
      }
    }
    int x = 0;
    for (int m = 0; m < nmix; ++m) {
      sel[m] = ctx[m] * n_in;
      const int* wm = &w[m][sel[m]];
      int64_t dot = 0;
      for (size_t i = 0; i < n_in; ++i) dot += static_cast<int64_t>(st[i]) * wm[i];
      xm[m] = Clamp2047(static_cast<int>(dot >> 16));
    }
    if (nmix == 1) {
      x = xm[0];
    } else if (final_) {
      fsel = static_cast<size_t>(node) * 4 * 3;
      int64_t dot = 0;
      for (int m = 0; m < nmix; ++m) dot += static_cast<int64_t>(xm[m]) * wf[fsel + m];
      xf = x = Clamp2047(static_cast<int>(dot >> 16));
    } else {
      int sum = 0;
      for (int m = 0; m < nmix; ++m) sum += xm[m];
      x = nmix == 2 ? sum >> 1 : (nmix == 4 ? sum >> 2 : sum / 3);
    }
    pmix = Sq(x);
    const int s = St(pmix);
    if (xfinal) rs = rsv;
    const uint32_t pa =
        apm1.P(s, (static_cast<size_t>(node) << apm1_bits) + static_cast<size_t>(hist & ((uint64_t{1} << apm1_bits) - 1)));
    uint32_t p;
    if (apm2) {
      // (with frame: also keyed by the frame state)
      const size_t fk = sh.frame ? phase * 3 : 0;
      const uint32_t pb =
          apm2c.P(s, ((fk + static_cast<size_t>(node)) * 16 + static_cast<size_t>(rsv)) * 16 + static_cast<size_t>(hist & 15));
      p = (2 * pmix + 3 * pa + 3 * pb) >> 3;
    } else {
      p = (pmix + 3 * pa) >> 2;
    }
    if (xfinal) p = FinalExtra(node, cmslim::ClampP(p));
    // (a cold network weighs less: 1/4 for its first kNnRampBases bases)
    if (nn)
      p = nn_steps < kNnRampBases ? (3 * cmslim::ClampP(p) + nnp[node]) >> 2 : (cmslim::ClampP(p) + nnp[node]) >> 1;
    return cmslim::ClampP(p);
  }

  // Final stage with extra predictors (kExtraMixFinal): a 4-input mixer of
  // stretch(p), the first extra predictor's stretch, a bias and (with
  // kExtraMixNeural, else 0) the neural mixer's logit, its weights selected
  // by node, a 16-level bucket of the first predictor's stretch (sign and
  // |st| >> 7) and the forward repeat bucket; the result is averaged with p.
  PMKLC_HD uint32_t FinalExtra(int node, uint32_t p) {
    const int sx = st[xbase];
    int cb = (sx < 0 ? -sx : sx) >> 7;
    cb = cb > 7 ? 7 : cb;
    cb = sx < 0 ? 7 - cb : 8 + cb;
    ssel = (static_cast<size_t>(node) * 16 + static_cast<size_t>(cb)) * 4 + static_cast<size_t>(rs >> 2);
    sin[0] = St(p);
    sin[1] = sx;
    sin[2] = 256;
    sin[3] = nni ? NeuralMix(node) : 0;
    int64_t dot = 0;
    for (int i = 0; i < 4; ++i) dot += static_cast<int64_t>(sin[i]) * ws[ssel][i];
    xs = Clamp2047(static_cast<int>(dot >> 16));
    return (p + Sq(xs)) >> 1;
  }

  // Neural mixer (kExtraMixNeural): x = the mixer inputs but the bias
  // (stretch / 256), one-hot node (3), one-hot codon phase (3), 1;
  // a_j = sum_i W[i][j] x_i (i ascending from 0), y = b + sum_{j: a_j > 0}
  // a_j v_j (j ascending); logit = clamp(y * 256, +-2047) truncated to int.
  // Every float operation a single IEEE binary32 add or multiply, in this order.
  PMKLC_HD int NeuralMix(int node) {
    const int ni = static_cast<int>(n_in) - 1;
    for (int i = 0; i < ni; ++i) nnx[i] = static_cast<float>(st[i]) * (1.0f / 256.0f);
    for (int i = 0; i < 6; ++i) nnx[ni + i] = 0.0f;
    nnx[ni + node] = 1.0f;
    nnx[ni + 3 + static_cast<int>(nseq % 3)] = 1.0f;
    nnx[ni + 6] = 1.0f;
    float a[kNnHidden];
    for (int j = 0; j < kNnHidden; ++j) a[j] = 0.0f;
    for (int i = 0; i < nni; ++i) {
      const float* wr = &nnw[static_cast<size_t>(i) * kNnHidden];
      const float xi = nnx[i];
      for (int j = 0; j < kNnHidden; ++j) a[j] = a[j] + wr[j] * xi;
    }
    float y = nnv[kNnHidden];
    for (int j = 0; j < kNnHidden; ++j) {
      nnh[j] = a[j];
      if (a[j] > 0.0f) y = y + a[j] * nnv[j];
    }
    y = y * 256.0f;
    y = y > 2047.0f ? 2047.0f : (y < -2047.0f ? -2047.0f : y);
    if (!(y == y)) y = 0.0f;  // NaN: a defined value on every machine
    nny = static_cast<int>(y);
    return nny;
  }

  // Integer update of the final stage; the neural mixer's SGD step on the log
  // loss of squash(logit): g = ((Sq(logit) - bit * 65536) / 65536) * rate;
  // for j ascending with a_j > 0: d_j = g v_j, v_j -= g a_j (else d_j = 0);
  // b -= g; W[i][j] -= d_j x_i.
  PMKLC_HD void LearnFinalExtra(int bit) {
    const int64_t e = static_cast<int64_t>((bit << 16) - static_cast<int>(Sq(xs))) * lr;
    for (int i = 0; i < 4; ++i) ws[ssel][i] += static_cast<int>((sin[i] * e) >> 20);
    if (!nni) return;
    const float g = (static_cast<float>(static_cast<int>(Sq(nny)) - (bit << 16)) * (1.0f / 65536.0f)) * kNnRate;
    float dd[kNnHidden];
    for (int j = 0; j < kNnHidden; ++j) {
      const float a = nnh[j];
      if (a > 0.0f) {
        dd[j] = g * nnv[j];
        nnv[j] = nnv[j] - g * a;
      } else {
        dd[j] = 0.0f;
      }
    }
    nnv[kNnHidden] = nnv[kNnHidden] - g;
    for (int i = 0; i < nni; ++i) {
      float* wr = &nnw[static_cast<size_t>(i) * kNnHidden];
      const float xi = nnx[i];
      for (int j = 0; j < kNnHidden; ++j) wr[j] = wr[j] - dd[j] * xi;
    }
  }

  PMKLC_HD void Learn(int node, int bit) {
    if (xfinal) LearnFinalExtra(bit);
    for (int m = 0; m < nmix; ++m) {
      const int err = ((bit << 16) - static_cast<int>(Sq(xm[m])));
      const int64_t e = static_cast<int64_t>(err) * lr;
      int* wm = &w[m][sel[m]];
      for (size_t i = 0; i < n_in; ++i) wm[i] += static_cast<int>((st[i] * e) >> 18);
    }
    if (nmix > 1 && final_) {
      const int err = ((bit << 16) - static_cast<int>(Sq(xf)));
      for (int m = 0; m < nmix; ++m) wf[fsel + m] += static_cast<int>((static_cast<int64_t>(xm[m]) * err) >> 16);
    }
    apm1.Learn(bit, 13);
    if (apm2) apm2c.Learn(bit, 13);
    if (papm_used) papm.Learn(bit, 13);
    for (size_t i = 0; i < nt; ++i) Update(cur[i]->p[node], cur[i]->n[node], bit, tables[i].limit);
    for (int j = 0; j < nrep; ++j) LearnRepeat(rep[j], bit);
  }

  // After the base: the caller then tells the extra predictors.
  PMKLC_HD void End(int base) {
    if (nn) NnTrain(base);
    for (int j = 0; j < nrep; ++j) StepRepeat(rep[j], base);
    if (npool) pool::Learn(&pool, base, tab->pool);
    // Deferred inverted-repeat updates (their slots were prefetched a base ago).
    for (size_t i = 0; i < nt; ++i) {
      Table& t = tables[i];
      if (!t.ir || ir_sym[i] < 0) continue;
      Slot* s = t.direct ? &t.slots[ir_idx[i]] : Find(t, ir_idx[i], ir_chk[i]);
      const int sym = ir_sym[i], hi = sym >> 1;
      Update(s->p[0], s->n[0], hi, t.limit);
      Update(s->p[1 + hi], s->n[1 + hi], sym & 1, t.limit);
    }
    const size_t n = AppendBase(base);
    if (npool) pool::Record(&pool, seq, n, base, true);
    if (nrep && n >= mm_min) {
      // Look for new repeats before this position's k-mer is recorded.
      FindRepeats(n, 0, nfw);
      FindRepeats(n, nfw, nrep);
      RecordKmer(n);
    }
    if (nrep) {
      // Prefetch the buckets the next base's look-ups will use: forward
      // k-mers are bucketed by their k-1 oldest bases; for the reverse
      // complement, one bucket per possible next base.
      uint32_t chk;
      const uint64_t fkey = (hist << 2) & mm_mask;
      PMKLC_PREFETCH(&mm[MatchSlot(fkey, &chk)]);
      if (nrep > nfw) {
        const uint64_t rnext = rcall >> (64 - 2 * mm_min + 2);
        for (uint64_t c = 0; c < 4; ++c) PMKLC_PREFETCH(&mm[MatchSlot(rnext | (c << (2 * mm_min - 2)), &chk)]);
      }
    }
    ComputeNext();
  }

  // The 4-symbol network's inputs (docs/format.md §The 4-symbol network), in
  // this order: per context model (in `orders` order) its four bases'
  // probabilities as Stretch4; the pool's four and its confidence bucket / 4
  // (zeros when it has no candidate); per context model and the pool, the
  // running hit, best and loss features; per repeat model and base,
  // 1 + run / 8 where it predicts that base (else 0); per base, its share of
  // the last 8, 16 and 32 bases, as 2 (share - 1/4); the network's own
  // running loss; 1.
  PMKLC_HD int NnInputCount() const {
    return static_cast<int>(nt) * 4 + 5 + 3 * (static_cast<int>(nt) + 1) + nrep * 4 + 14;
  }
  // Four base probabilities from the three node probabilities (16-bit).
  static PMKLC_HD void NnFour(uint32_t a, uint32_t b, uint32_t c, float* q) {
    const float p0 = static_cast<float>(a) * (1.0f / 65536.0f), p1 = static_cast<float>(b) * (1.0f / 65536.0f),
                p2 = static_cast<float>(c) * (1.0f / 65536.0f);
    q[0] = (1.0f - p0) * (1.0f - p1);
    q[1] = (1.0f - p0) * p1;
    q[2] = p0 * (1.0f - p2);
    q[3] = p0 * p2;
  }
  // stretch(q) - stretch(1/4) in natural-log units, through the stretch table.
  PMKLC_HD float Stretch4(float q) const {
    int v = static_cast<int>(q * 65536.0f);
    v = v < 1 ? 1 : (v > 65535 ? 65535 : v);
    return static_cast<float>(St(static_cast<uint32_t>(v))) * (1.0f / 256.0f) + 1.0986123f;
  }
  static PMKLC_HD uint32_t NnClampP(float v) {
    if (!(v == v)) return 32768;
    const uint32_t x = static_cast<uint32_t>((v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v)) * 65536.0f);
    return x < 32 ? 32u : (x > 65503 ? 65503u : x);
  }

  PMKLC_HD void NnForward() {
    float* x = nn->x;
    int k = 0;
    for (size_t i = 0; i < nt; ++i) {
      NnFour(cmslim::Prob(cur[i]->p[0]), cmslim::Prob(cur[i]->p[1]), cmslim::Prob(cur[i]->p[2]), nnq[i]);
      for (int s = 0; s < 4; ++s) x[k++] = Stretch4(nnq[i][s]);
    }
    if (npool && pool.bucket) {
      NnFour(pool::NodeP(&pool, 0), pool::NodeP(&pool, 1), pool::NodeP(&pool, 2), nnq[nt]);
      for (int s = 0; s < 4; ++s) x[k++] = Stretch4(nnq[nt][s]);
      x[k++] = static_cast<float>(pool.bucket) * 0.25f;
    } else {
      for (int s = 0; s < 5; ++s) x[k++] = 0.0f;
      for (int s = 0; s < 4; ++s) nnq[nt][s] = 0.25f;
    }
    for (size_t i = 0; i <= nt; ++i) {
      x[k++] = nnhit[i];
      x[k++] = nnbest[i];
      x[k++] = nnbits[i];
    }
    for (int j = 0; j < nrep; ++j) {
      const float v = 1.0f + static_cast<float>(rep[j].len) * 0.125f;
      for (int s = 0; s < 4; ++s) x[k++] = rep[j].pred == s ? v : 0.0f;
    }
    for (uint64_t b = 0; b < 4; ++b) {
      const uint64_t eq = ~(hist ^ (0x5555555555555555ull * b));
      const uint64_t m = eq & (eq >> 1) & 0x5555555555555555ull;
      x[k++] = (static_cast<float>(Popcount64(m & 0xffffull)) * 0.125f - 0.25f) * 2.0f;
      x[k++] = (static_cast<float>(Popcount64(m & 0xffffffffull)) * 0.0625f - 0.25f) * 2.0f;
      x[k++] = (static_cast<float>(Popcount64(m)) * 0.03125f - 0.25f) * 2.0f;
    }
    x[k++] = nnloss;
    x[k++] = 1.0f;
    nn4::Forward(nn, tab->coder->sq);
    const float* y = nn->y;
    nnsum = ((y[0] + y[1]) + y[2]) + y[3];
    nnp[0] = NnClampP((y[2] + y[3]) / nnsum);
    nnp[1] = NnClampP(y[1] / (y[0] + y[1]));
    nnp[2] = NnClampP(y[3] / (y[2] + y[3]));
  }

  // Once the base is known: the running features, then the network's SGD step.
  PMKLC_HD void NnTrain(int base) {
    ++nn_steps;
    const float* y = nn->y;
    const float pb = y[base] / nnsum;
    nnloss = 0.85f * nnloss + 0.15f * (NegLog2(tab, pb) - 2.0f);
    float bestp = 0.0f;
    for (size_t i = 0; i <= nt; ++i) bestp = nnq[i][base] > bestp ? nnq[i][base] : bestp;
    for (size_t i = 0; i <= nt; ++i) {
      const float* q = nnq[i];
      const float ps = q[base];
      const bool hit = (ps >= q[0]) & (ps >= q[1]) & (ps >= q[2]) & (ps >= q[3]);
      nnbits[i] = 0.5f * (NegLog2(tab, ps) - 2.0f) + 0.5f * nnbits[i];
      // (steps by index, not by a branch: which way they go is not predictable)
      const float kStep[2] = {-0.1f, 0.1f};
      nnbest[i] = ClampF(nnbest[i] + kStep[ps == bestp], -1.0f, 1.0f);
      nnhit[i] = ClampF(nnhit[i] + kStep[hit], -1.0f, 1.0f);
    }
    nn4::Train(nn, base);
  }

  // Entry of a k-mer: bucket by its k-1 oldest bases, entry by the newest.
  PMKLC_HD size_t MatchSlot(uint64_t kmer, uint32_t* chk) const {
    const uint64_t h = cmslim::Hash(kmer >> 2, 99);
    *chk = static_cast<uint32_t>(h) | 1;
    return (static_cast<size_t>(h >> (66 - mm_bits)) << 2) | static_cast<size_t>(kmer & 3);
  }

  // Slot group of a hashed context: the 4 contexts that share all but the
  // newest base lie together, so the group of the base after next can be
  // prefetched before that base is known.
  static PMKLC_HD size_t Group(const Table& t, uint64_t ctx, uint8_t* chk, size_t ph = 0) {
    const uint64_t h = cmslim::Hash((ctx >> 2) ^ (static_cast<uint64_t>(ph) << 60), t.order);
    *chk = static_cast<uint8_t>(h >> 8);
    return static_cast<size_t>(h >> (66 - t.bits)) << 2;
  }
  static PMKLC_HD void PrefetchGroup(const Table& t, size_t g) {
    const char* a = reinterpret_cast<const char*>(&t.slots[g]);
    PMKLC_PREFETCH(a);
    PMKLC_PREFETCH(a + 4 * sizeof(Slot) - 1);
  }

  // Index (and check byte) of the slots for the next base, and of the
  // inverted-repeat updates; prefetches the groups of the base after next
  // and the inverted-repeat slots (applied one base later).
  PMKLC_HD void ComputeNext() {
    const size_t n = nseq;
    phase = framed ? static_cast<uint32_t>(frame.State(n)) : static_cast<uint32_t>(n % 3);
    for (size_t i = 0; i < nt; ++i) {
      Table& t = tables[i];
      const uint64_t ctx = hist & t.mask;
      const uint64_t nctx = (hist << 2) & t.mask;  // next context, newest base 0
      uint8_t chk;
      if (t.phased) {
        // Phase of the next base and of the one after.
        // (with frame, the state after next is not known yet: the prefetch
        // guesses it unchanged)
        const size_t ph = phase, ph2 = framed ? phase : (n + 1) % 3;
        if (t.direct) {
          next_idx[i] = (ph << t.bits) + static_cast<size_t>(ctx);
          PrefetchGroup(t, (ph2 << t.bits) + static_cast<size_t>(nctx));
        } else {
          next_idx[i] = Group(t, ctx, &next_chk[i], ph + 1) | static_cast<size_t>(ctx & 3);
          PrefetchGroup(t, Group(t, nctx, &chk, ph2 + 1));
        }
      } else if (t.direct) {
        next_idx[i] = static_cast<size_t>(ctx);
        PrefetchGroup(t, static_cast<size_t>(nctx));
      } else {
        next_idx[i] = Group(t, ctx, &next_chk[i]) | static_cast<size_t>(ctx & 3);
        PrefetchGroup(t, Group(t, nctx, &chk));
      }
      if (t.ir) {
        if (n > t.order) {
          // Reverse strand: context = complement of x[n-1..n-k] read backwards,
          // symbol = complement of x[n-k-1].
          const uint64_t rctx = rcall >> (64 - 2 * t.order);
          ir_sym[i] = 3 - static_cast<int>((hist >> (2 * t.order)) & 3);
          if (t.direct) {
            ir_idx[i] = static_cast<size_t>(rctx);
          } else {
            ir_idx[i] = Group(t, rctx, &ir_chk[i]) | static_cast<size_t>(rctx & 3);
          }
          PMKLC_PREFETCH(&t.slots[ir_idx[i]]);
          PMKLC_PREFETCH(reinterpret_cast<const char*>(&t.slots[ir_idx[i]]) + sizeof(Slot) - 1);
        } else {
          ir_sym[i] = -1;
        }
      }
    }
  }

  // Slot of a hashed context; a slot holding another context is reset.
  static PMKLC_HD Slot* Find(Table& t, size_t idx, uint8_t chk) {
    Slot* r = &t.slots[idx];
    if (r->chk != chk) {
      r->p[0] = r->p[1] = r->p[2] = 0;
      r->n[0] = r->n[1] = r->n[2] = 0;
      r->chk = chk;
    }
    return r;
  }

  // Gives the repeat models [lo, hi) that have none (or just missed) a new
  // earlier occurrence of the last mm_min bases (forward models) or of their
  // reverse complement (inverted models), most recent first, skipping
  // alignments already followed.
  PMKLC_HD void FindRepeats(size_t n, int lo, int hi) {
    if (lo >= hi) return;
    int need = 0;
    for (int j = lo; j < hi; ++j) need += !rep[j].active || (rep[j].miss & 0xff);
    if (!need) return;
    const bool fwd = rep[lo].dir > 0;
    const uint64_t key = fwd ? (hist & mm_mask) : (rcall >> (64 - 2 * mm_min));
    uint32_t chk;
    const MEntry& me = mm[MatchSlot(key, &chk)];
    if (me.chk != chk) return;
    uint32_t e = me.pos;
    int j = lo;
    for (int steps = 0; e != 0 && steps < 8 && j < hi; ++steps, e = primed && chained ? chain[e] : 0) {
      if (e >= n) continue;
      uint32_t ptr, l = 0;
      if (fwd) {
        while (l < 32 && l < e && seq[e - 1 - l] == seq[n - 1 - l]) ++l;
        ptr = e;
      } else {
        if (e < mm_min + 1u) continue;
        const uint32_t q = e - mm_min;  // first base of the occurrence
        while (l < 32 && q + l < n && seq[q + l] == 3 - seq[n - 1 - l]) ++l;
        ptr = q - 1;
      }
      if (l < mm_min) continue;
      bool dup = false;
      for (int k = lo; k < hi; ++k) dup |= rep[k].active && rep[k].ptr == ptr;
      if (dup) continue;
      while (j < hi && rep[j].active && !(rep[j].miss & 0xff)) ++j;
      if (j >= hi) break;
      Repeat& r = rep[j++];
      r.active = true;
      r.ptr = ptr;
      r.len = l;
      r.miss = 0;
    }
  }

  // Mixer input of a repeat model: +/- the stretched confidence of its
  // predicted bit for this node; 0 when it predicts nothing.
  PMKLC_HD int RepeatInput(int node, Repeat& r) const {
    r.bit = -1;
    if (r.pred < 0) return 0;
    int bit;
    if (node == 0) bit = r.pred >> 1;
    else if (node - 1 == (r.pred >> 1)) bit = r.pred & 1;
    else return 0;
    r.bit = bit;
    r.cnode = node ? 1 : 0;
    r.csel = r.Ctx();
    const int s = St(cmslim::Prob(r.cp[r.cnode][r.csel]));
    return bit ? s : -s;
  }

  PMKLC_HD void LearnRepeat(Repeat& r, int bit) const {
    if (r.bit < 0) return;
    Update(r.cp[r.cnode][r.csel], r.cn[r.cnode][r.csel], r.bit == bit, 255);
  }

  PMKLC_HD void StepRepeat(Repeat& r, int base) const {
    if (!r.active) return;
    const bool hit = r.pred == base;
    r.miss <<= 1;
    if (hit) {
      if (r.len < 31) ++r.len;
    } else {
      r.miss |= 1;
      r.len = primed ? (r.len >> kPrimedKeep) : 0;
    }
    if (!hit && r.MissCount() > sh.match_tolerance) {
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
};

}  // namespace pmklc::kernels::cmmax
