// repeat_pool.h (kernels) — the repeat pool of `max` (engine/models/
// repeat_pool.h says what it models) as flat state and `PMKLC_HD` steps
// (issue #18): one definition the CPU coder runs and a GPU batch can run.
//
// A pool's state is a `PoolState` (plain data) whose three arrays live in
// memory the caller provides (PoolLayout: the k-mer index, zeroed; the
// candidates; the set of followed diagonals, zeroed), and the constant
// tables are a `PoolTables` built once (BuildPoolTables, integer only).
// The functions are the pool's whole behaviour, in the order the coder
// calls them; docs/format.md §fasta-cm "Repeat pool" defines the bytes.
// No virtual calls, exceptions, STL containers or floating point.
// Thread safety: a PoolState belongs to one thread; reentrant.
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/common/status.h"
#include "kernels/hd.h"

namespace pmklc::kernels::pool {

inline constexpr int kSlots = 8;           // words per index bucket:
inline constexpr int kPositions = 7;       // positions kept, newest first, and their 4-bit checks
inline constexpr int kSeedsPerBase = 2;    // new candidates per direction and base
inline constexpr int kReplaceBits = 6;     // weakest replaced when this far below the best
inline constexpr uint16_t kMaxCapacity = 1024;
inline constexpr unsigned kProbation = 8;        // (probation) predictions on trial
inline constexpr unsigned kProbationMisses = 4;  // misses allowed on trial
inline constexpr int kDelay = 2;  // bases between a bucket's prefetch and its use
inline constexpr int kMaxPending = 16;
inline constexpr int32_t kLog2Of3 = 406;  // 256 * log2(3), rounded
inline constexpr int32_t kDropBits = 24;  // candidates this far below the best stop
inline constexpr int32_t kInitBits = 4;   // a new candidate starts this far below the best

struct PoolParams {
  uint16_t capacity = 0;    // most active candidates (0: no pool)
  uint8_t k = 12;           // seed k-mer length (11..16)
  uint8_t index_bits = 22;  // index buckets = 2^index_bits (16..24)
  uint8_t tolerance = 8;    // misses in the last 16 predictions a candidate survives (1..16)
  uint8_t gamma = 224;      // weight decay per base, /256 (1..255)
  bool inverted = true;     // also follow reverse complements
  bool probation = false;   // stop after > kProbationMisses misses in the first kProbation predictions
};

// Integer tables (their values are part of the format).
struct PoolTables {
  int16_t log2p[4096];  // 256 * log2(p / 65536) for p = 16 i + 8
  uint32_t exp2[256];   // 65536 * 2^(-f/256) as first shipped (BuildPoolTables)
  int32_t recip[256];   // 131072 / (2 n + 3): the adaptation rate 1/(n + 1.5), Q16
};
void BuildPoolTables(PoolTables* t);  // host only (kernels/cpu/repeat_pool.cc)

struct Cand {
  uint32_t ptr;   // position of the base it predicts
  uint32_t diag;  // forward: n - ptr; reverse: n + ptr (constant while followed)
  int32_t lw;     // log2 weight relative to the best, 1/256 bit
  uint16_t hist;  // outcomes, newest in bit 0 (1: hit)
  uint8_t rev;    // 1: reverse complement
  uint8_t pred;   // predicted base for the current position
  uint8_t misses; // zero bits in hist
  uint8_t age;    // predictions made, up to kProbation
  uint32_t ctx;   // probability context of the current prediction
};

// Sizes of the three arrays of a pool (bytes).
struct PoolLayout {
  size_t index_bytes = 0, cand_bytes = 0, set_bytes = 0;
  uint32_t set_mask = 0;
};
PMKLC_HD uint32_t BitCeil32(uint32_t x) {
  uint32_t v = 1;
  while (v < x) v <<= 1;
  return v;
}
PMKLC_HD PoolLayout PoolLayoutFor(const PoolParams& p) {
  PoolLayout l;
  if (!p.capacity) return l;
  l.index_bytes = (size_t{4} * kSlots) << p.index_bits;
  l.cand_bytes = size_t{p.capacity} * sizeof(Cand);
  l.set_mask = BitCeil32(uint32_t{p.capacity} * 4u) - 1;
  l.set_bytes = size_t{l.set_mask + 1} * sizeof(uint64_t);
  return l;
}

struct PoolState {
  PoolParams p;
  uint32_t* index;  // [buckets][kSlots], newest first (zeroed)
  Cand* cand;       // [capacity]
  uint64_t* set;    // [set_mask + 1] followed diagonals, 0 = empty (zeroed)
  uint32_t set_mask;
  int n;  // active candidates
  uint64_t fkey, rkey, kmask;
  uint64_t keys_fwd[4], keys_rev[4];  // hashes of the k-mers ending at the last 4 positions (n & 3)
  struct Pending {
    uint32_t diag;
    uint32_t m;  // end of the k-mer that found it
    bool rev;
  } pending[kMaxPending];  // found by Lookup, verified by the next Verify
  int npending;
  uint16_t ph[2 * 4096];  // P(hit) per direction and outcome history, 16-bit
  uint8_t pn[2 * 4096];
  uint64_t q[4];  // distribution (unnormalised)
  int bucket;
  uint64_t qd[2][4], qsum[2];  // per direction
  int32_t best;  // the best candidate's log2 weight after the last Learn
};

// A fresh pool over the caller's arrays (index and set zeroed).
PMKLC_HD void PoolInit(PoolState* s, const PoolParams& p, uint32_t* index, Cand* cand, uint64_t* set) {
  const PoolLayout l = PoolLayoutFor(p);
  s->p = p;
  s->index = index;
  s->cand = cand;
  s->set = set;
  s->set_mask = l.set_mask;
  s->n = 0;
  s->fkey = s->rkey = 0;
  s->kmask = (uint64_t{1} << (2 * p.k)) - 1;
  for (int i = 0; i < 4; ++i) s->keys_fwd[i] = s->keys_rev[i] = 0;
  for (int i = 0; i < kMaxPending; ++i) s->pending[i] = {0, 0, false};
  s->npending = 0;
  for (int i = 0; i < 2 * 4096; ++i) {
    s->ph[i] = 49152;  // a hit is likely: the candidate matched k bases
    s->pn[i] = 0;
  }
  for (int i = 0; i < 4; ++i) s->q[i] = 0;
  s->bucket = 0;
  for (int d = 0; d < 2; ++d) {
    s->qsum[d] = 0;
    for (int i = 0; i < 4; ++i) s->qd[d][i] = 0;
  }
  s->best = 0;
}

PMKLC_HD int32_t Log2P(uint32_t p16, const PoolTables* t) { return t->log2p[p16 >> 4]; }
// 65536 * 2^(lw/256) for lw <= 0 (0 below -kDropBits bits).
PMKLC_HD uint64_t Weight(int32_t lw, const PoolTables* t) {
  const uint32_t d = static_cast<uint32_t>(-lw);
  return (d >> 8) >= 32 ? 0 : t->exp2[d & 255] >> (d >> 8);
}
PMKLC_HD uint64_t KmerHash(uint64_t x) { return Hash64(x, 0x51); }
PMKLC_HD void Adapt(uint16_t& p, uint8_t& n, int bit, const PoolTables* t) {
  const int target = bit ? 65535 : 0;
  int v = p;
  v += static_cast<int>((static_cast<int64_t>(target - v) * t->recip[n]) >> 16);
  if (v < 32) v = 32;
  if (v > 65503) v = 65503;
  p = static_cast<uint16_t>(v);
  if (n < 255) ++n;
}

// ---- the set of followed diagonals (linear probing, backward-shift delete)

PMKLC_HD uint64_t Key(uint32_t diag, bool rev) { return (uint64_t{diag} << 1 | uint64_t{rev}) + 1; }
PMKLC_HD uint32_t Home(const PoolState* s, uint64_t key) {
  return static_cast<uint32_t>((key * 0x9E3779B97F4A7C15ull) >> 40) & s->set_mask;
}
PMKLC_HD bool Has(const PoolState* s, uint64_t key) {
  for (uint32_t i = Home(s, key);; i = (i + 1) & s->set_mask) {
    if (s->set[i] == key) return true;
    if (s->set[i] == 0) return false;
  }
}
PMKLC_HD void Insert(PoolState* s, uint64_t key) {
  uint32_t i = Home(s, key);
  while (s->set[i] != 0) i = (i + 1) & s->set_mask;
  s->set[i] = key;
}
PMKLC_HD void Erase(PoolState* s, uint64_t key) {
  uint32_t i = Home(s, key);
  while (s->set[i] != key) {
    if (s->set[i] == 0) return;
    i = (i + 1) & s->set_mask;
  }
  for (uint32_t j = (i + 1) & s->set_mask; s->set[j] != 0; j = (j + 1) & s->set_mask) {
    const uint32_t h = Home(s, s->set[j]);
    // move set[j] into the hole at i if its home is not in (i, j]
    const bool between = i <= j ? (h > i && h <= j) : (h > i || h <= j);
    if (!between) {
      s->set[i] = s->set[j];
      i = j;
    }
  }
  s->set[i] = 0;
}

// A k-mer hash's bucket (32 bytes: 7 positions and their checks) and its 4
// check bits (bits of the hash the bucket does not use).
PMKLC_HD uint32_t* Bucket(const PoolState* s, uint64_t h) {
  return &s->index[static_cast<size_t>(h >> (64 - s->p.index_bits)) * kSlots];
}
PMKLC_HD uint32_t Check(uint64_t h) { return static_cast<uint32_t>(h) & 15; }

// A hint, no state: the bucket Record will write for `kmer` (2k low bits).
PMKLC_HD void PrefetchKmer(const PoolState* s, uint64_t kmer) {
  if (s->index) PMKLC_PREFETCH(Bucket(s, KmerHash(kmer & s->kmask)));
}

// ---- prediction

// Before coding the base at position n: the pool's distribution. seq holds
// the n earlier bases (0..3).
PMKLC_HD void Predict(PoolState* s, const uint8_t* seq, const PoolTables* t) {
  // Per direction and predicted base k = 4 rev + pred: a[k] = sum of w p and
  // tw[k] = sum of w (so that sum of w (65536 - p) = 65536 tw[k] - a[k]).
  // Accumulated without data-dependent stores or branches (the sums are
  // exact integers, so their order does not matter).
  uint64_t a[8] = {}, tw[8] = {};
  for (int i = 0; i < s->n; ++i) {
    Cand& c = s->cand[i];
    const unsigned rev = c.rev;
    const unsigned pred = static_cast<unsigned>(seq[c.ptr]) ^ (rev * 3u);
    c.pred = static_cast<uint8_t>(pred);
    c.ctx = (rev << 12) | (c.hist & 4095u);
    const uint64_t w = Weight(c.lw - s->best, t);
    const uint64_t wp = w * s->ph[c.ctx];
    const unsigned key = rev * 4 + pred;
    for (unsigned k = 0; k < 8; ++k) {
      const uint64_t m = uint64_t{0} - static_cast<uint64_t>(k == key);
      a[k] += wp & m;
      tw[k] += w & m;
    }
  }
  uint64_t as[4], bs[4];
  for (int d = 0; d < 2; ++d) {
    uint64_t b[4];
    for (int x = 0; x < 4; ++x) b[x] = (tw[4 * d + x] << 16) - a[4 * d + x];
    const uint64_t ud = b[0] + b[1] + b[2] + b[3];
    s->qsum[d] = 0;
    for (int x = 0; x < 4; ++x) {
      s->qd[d][x] = a[4 * d + x] + (ud - b[x]) / 3;
      s->qsum[d] += s->qd[d][x];
    }
  }
  for (int x = 0; x < 4; ++x) {
    as[x] = a[x] + a[4 + x];
    bs[x] = ((tw[x] + tw[4 + x]) << 16) - as[x];
  }
  const uint64_t u = bs[0] + bs[1] + bs[2] + bs[3];
  uint64_t sum = 0, most = 0;
  for (int x = 0; x < 4; ++x) {
    s->q[x] = as[x] + (u - bs[x]) / 3;
    sum += s->q[x];
    most = s->q[x] > most ? s->q[x] : most;
  }
  if (sum == 0) {
    s->bucket = 0;
    return;
  }
  const uint64_t r = (most << 8) / sum;  // 64..256
  s->bucket = r < 128 ? 1 : r < 179 ? 2 : r < 217 ? 3 : r < 240 ? 4 : r < 250 ? 5 : r < 254 ? 6 : 7;
}

// P(bit = 1) of decision node from a distribution over the four bases.
PMKLC_HD uint32_t NodeOf(const uint64_t* q, int node) {
  uint64_t num, den;
  if (node == 0) {
    num = q[2] + q[3];
    den = num + q[0] + q[1];
  } else {
    const int h = (node - 1) * 2;
    num = q[h + 1];
    den = q[h] + q[h + 1];
  }
  if (den == 0) return 32768;
  // (den < 2^52: at most 1024 candidates of weight < 2^16 times p < 2^16)
  const uint64_t p = (num << 16) / den;
  return static_cast<uint32_t>(p < 32 ? 32 : (p > 65503 ? 65503 : p));
}
// P(bit = 1) of decision node, 16-bit, or 0 when the pool predicts nothing.
PMKLC_HD uint32_t NodeP(const PoolState* s, int node) { return s->bucket ? NodeOf(s->q, node) : 0; }
// The same from the forward (dir 0) or reverse-complement (dir 1) candidates alone.
PMKLC_HD uint32_t NodePDir(const PoolState* s, int node, int d) { return s->qsum[d] ? NodeOf(s->qd[d], node) : 0; }

// ---- learning

// After the base at position n was coded: learns from it and advances the
// candidates (before the base is appended to the history).
PMKLC_HD void Learn(PoolState* s, int base, const PoolTables* t) {
  // One pass: weights are made relative to the previous base's best (the
  // drop test uses that), updated, and the new best is kept for Predict.
  // (branch-free but for the rare stop: directions and hits are random)
  const int32_t prev = s->best;
  const int32_t gamma = s->p.gamma;
  const unsigned tol = s->p.tolerance;
  const unsigned young = s->p.probation ? kProbation : 0;
  int32_t best = INT32_MIN;
  int out = 0;
  for (int i = 0; i < s->n; ++i) {
    Cand c = s->cand[i];
    const unsigned hit = c.pred == base;
    const uint32_t p = s->ph[c.ctx];
    c.lw -= prev;
    unsigned stop = c.lw < -kDropBits * 256;
    const int32_t gain = hit ? Log2P(p, t) : Log2P(65536 - p, t) - kLog2Of3;
    c.lw = (c.lw * gamma) / 256 + gain;
    Adapt(s->ph[c.ctx], s->pn[c.ctx], static_cast<int>(hit), t);
    c.misses = static_cast<uint8_t>(c.misses + (hit ^ 1u) - ((c.hist >> 15) ^ 1u));
    c.hist = static_cast<uint16_t>((c.hist << 1) | hit);
    stop |= c.misses > tol;
    // (probation: the first predictions since the start are its only ones)
    stop |= (c.age < young) & (c.misses > kProbationMisses);
    c.age = static_cast<uint8_t>(c.age + (c.age < young));
    stop |= c.rev & (c.ptr == 0);
    c.ptr += 1u - 2u * c.rev;
    if (__builtin_expect(stop, 0)) {
      Erase(s, Key(c.diag, c.rev));
      continue;
    }
    best = c.lw > best ? c.lw : best;
    s->cand[out++] = c;
  }
  s->n = out;
  s->best = out ? best : 0;
}

// ---- seeding

// False when the pool is full of candidates too strong to replace.
PMKLC_HD bool Start(PoolState* s, uint32_t ptr, uint32_t diag, bool rev) {
  int slot = s->n;
  if (s->n == s->p.capacity) {
    // replace the weakest (the first of equals) if it is far below the best
    slot = 0;
    for (int i = 1; i < s->n; ++i)
      if (s->cand[i].lw < s->cand[slot].lw) slot = i;
    if (s->cand[slot].lw - s->best > -kReplaceBits * 256) return false;
    Erase(s, Key(s->cand[slot].diag, s->cand[slot].rev));
  } else {
    ++s->n;
  }
  Cand& c = s->cand[slot];
  c.ptr = ptr;
  c.diag = diag;
  c.lw = s->best - kInitBits * 256;
  c.hist = 0xffff;
  c.misses = 0;
  c.age = 0;
  c.rev = rev;
  c.pred = 0;
  c.ctx = 0;
  Insert(s, Key(diag, rev));
  return true;
}

// Occurrences of the k-mer ending at m (forward) or of its reverse
// complement (rev) that no candidate follows: their history is prefetched
// and they wait for Verify. n: the current history length (m + kDelay).
PMKLC_HD void Lookup(PoolState* s, const uint8_t* seq, size_t n, size_t m, uint64_t h, bool rev) {
  const uint32_t* b = Bucket(s, h);
  const uint32_t chk = Check(h), checks = b[kPositions];
  int found = 0;
  for (int x = 0; x < kPositions && b[x] != 0 && found < kSeedsPerBase && s->npending < kMaxPending; ++x) {
    if (((checks >> (4 * x)) & 15) != chk) continue;
    const uint32_t e = b[x];
    uint32_t diag;
    int64_t ptr;  // the base it would predict at n
    if (!rev) {
      diag = static_cast<uint32_t>(m - e);
      ptr = static_cast<int64_t>(n) - diag;
    } else {
      if (e < s->p.k + 1u) continue;
      diag = static_cast<uint32_t>(m + (e - s->p.k - 1));  // the first base before the occurrence, at m
      ptr = static_cast<int64_t>(diag) - static_cast<int64_t>(n);
      if (ptr < 1) continue;
    }
    if (Has(s, Key(diag, rev))) continue;
    const int64_t lo = rev ? ptr : (ptr > 32 ? ptr - 32 : 0);
    PMKLC_PREFETCH(seq + lo);
    PMKLC_PREFETCH(seq + lo + 32);
    s->pending[s->npending++] = {diag, static_cast<uint32_t>(m), rev};
    ++found;
  }
}

// Starts the pending occurrences whose k-mer really matches the one ending
// at their m (the index keeps 4 check bits only); n: history length, the
// candidates predict base n.
PMKLC_HD void Verify(PoolState* s, const uint8_t* seq, size_t n) {
  const int np = s->npending;
  s->npending = 0;
  for (int i = 0; i < np; ++i) {
    const PoolState::Pending pd = s->pending[i];
    if (Has(s, Key(pd.diag, pd.rev))) continue;  // started meanwhile (same diagonal twice)
    const uint32_t m = pd.m;
    uint32_t l = 0, ptr;
    if (!pd.rev) {
      const uint32_t e = m - pd.diag;  // the occurrence ended at e
      while (l < 32 && l < e && seq[e - 1 - l] == seq[m - 1 - l]) ++l;
      ptr = static_cast<uint32_t>(n - pd.diag);
    } else {
      const uint32_t q = pd.diag - m + 1;  // its first base
      while (l < 32 && q + l < m && seq[q + l] == 3 - seq[m - 1 - l]) ++l;
      ptr = static_cast<uint32_t>(pd.diag - n);
    }
    if (l < s->p.k) continue;
    if (!Start(s, ptr, pd.diag, pd.rev)) return;
  }
}

// After the base was appended (seq holds n bases, n >= 1): records the
// k-mer ending at n and, when coding (seed = true), starts candidates at
// its earlier occurrences. Priming calls it with seed = false.
// Seeding is a pipeline that keeps memory latency off the coding path: the
// buckets of the k-mer ending at n are prefetched at n and read at
// n + kDelay (when the position n is also recorded); an occurrence found
// there has the history around it prefetched and is verified, and started,
// one base later. Candidates are named by their diagonal, which does not
// change in between.
PMKLC_HD void Record(PoolState* s, const uint8_t* seq, size_t n, int base, bool seed) {
  s->fkey = ((s->fkey << 2) | static_cast<uint64_t>(base)) & s->kmask;
  s->rkey = (s->rkey >> 2) | (static_cast<uint64_t>(3 - base) << (2 * s->p.k - 2));
  // the hashes of the k-mers ending at n (n = 1, 2, ...), once each
  s->keys_fwd[n & 3] = KmerHash(s->fkey);
  s->keys_rev[n & 3] = KmerHash(s->rkey);
  if (seed) Verify(s, seq, n);
  if (n >= size_t{s->p.k} + kDelay) {
    const size_t m = n - kDelay;  // the k-mer ending at m (both hashes kept kDelay bases)
    const uint64_t kf = s->keys_fwd[m & 3], kr = s->keys_rev[m & 3];
    if (seed) {
      Lookup(s, seq, n, m, kf, false);
      if (s->p.inverted) Lookup(s, seq, n, m, kr, true);
    }
    uint32_t* b = Bucket(s, kf);
    // (shifted through registers: a memmove of 24 bytes is a libc call)
    uint32_t t[kPositions - 1];
    for (int i = 0; i < kPositions - 1; ++i) t[i] = b[i];
    for (int i = 0; i < kPositions - 1; ++i) b[i + 1] = t[i];
    b[0] = static_cast<uint32_t>(m);
    b[kPositions] = ((b[kPositions] << 4) | Check(kf)) & ((1u << (4 * kPositions)) - 1);
  }
  if (n >= s->p.k) {
    PMKLC_PREFETCH(Bucket(s, s->keys_fwd[n & 3]));
    if (seed && s->p.inverted) PMKLC_PREFETCH(Bucket(s, s->keys_rev[n & 3]));
  }
}

}  // namespace pmklc::kernels::pool

// ---- host entry points (kernels/cpu/repeat_pool.cc, kernels/cuda/repeat_pool.cu)

namespace pmklc::kernels::pool {

// Runs `streams` pools side by side over their own bases (stream i: the n
// bases at codes + i * n), the way the coder drives one (Predict, Learn,
// append, Record with seeding), and writes each base's NodeP(0) and bucket
// to trace[i * n + j] as (bucket << 16) | min(NodeP(0), 65535). The CPU
// variant runs the same steps; RunCuda does it one stream a thread, to
// compare the two bit for bit. NotSupported without CUDA or a GPU.
void RunCpu(const PoolParams& p, const uint8_t* codes, size_t streams, size_t n, uint32_t* trace);
[[nodiscard]] Status RunCuda(const PoolParams& p, const uint8_t* codes, size_t streams, size_t n, uint32_t* trace);

// One stream's run over memory the caller laid out (the shared body).
PMKLC_HD void RunOne(PoolState* s, const PoolTables* t, const uint8_t* codes, size_t n, uint8_t* seq,
                     uint32_t* trace) {
  for (size_t j = 0; j < n; ++j) {
    Predict(s, seq, t);
    const uint32_t p0 = NodeP(s, 0);
    trace[j] = (static_cast<uint32_t>(s->bucket) << 16) | (p0 > 65535 ? 65535 : p0);
    const int b = codes[j] & 3;
    Learn(s, b, t);
    seq[j] = static_cast<uint8_t>(b);
    Record(s, seq, j + 1, b, true);
  }
}

}  // namespace pmklc::kernels::pool
