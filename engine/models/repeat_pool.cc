#include "engine/models/repeat_pool.h"

#include <sys/mman.h>

#include <bit>
#include <cstring>
#include <new>

namespace pmklc::models {

namespace {

using u128 = unsigned __int128;

// 256 * log2(x) for 1 <= x < 2^62, by repeated squaring (integer only).
int32_t Log2Q8(uint64_t x) {
  const int e = 63 - std::countl_zero(x);
  u128 m = static_cast<u128>(x) << (62 - e);  // [1, 2) in Q62
  int32_t r = e * 256;
  for (int b = 128; b >= 1; b >>= 1) {
    m = (m * m) >> 62;
    if (m >= (u128{1} << 63)) {
      r += b;
      m >>= 1;
    }
  }
  return r;
}

struct Tables {
  int16_t log2p[4096];  // 256 * log2(p / 65536) for p = 16 i + 8
  uint32_t exp2[256];   // 65536 * 2^(-f/256), rounded down
  int32_t recip[256];   // 131072 / (2 n + 3): the adaptation rate 1/(n + 1.5), Q16
  Tables() {
    for (int n = 0; n < 256; ++n) recip[n] = 131072 / (2 * n + 3);
    for (uint32_t i = 0; i < 4096; ++i) log2p[i] = static_cast<int16_t>(Log2Q8(16 * i + 8) - 16 * 256);
    for (int f = 0; f < 256; ++f) {
      // Meant as the largest y (Q32) with y^256 <= 2^-f, by bisection (8
      // squarings each). The values are part of the format (they weight the
      // candidates), and they are not that: y^256 underflows Q32 beyond
      // f = 32 (exp2[f] stays 60096 from there), and the first shipped code
      // shifted by f itself, which C++ leaves undefined from 128 on and
      // which x86 compilers computed as a shift by f mod 128 (exp2[128] =
      // 65535 again). The shift is written mod 128 so that every compiler
      // and flag set computes exactly those shipped values. (A true 2^-f/256
      // table codes human chrX and E. coli within 0.03% of this one.)
      uint64_t lo = 0, hi = uint64_t{1} << 32;
      while (hi - lo > 1) {
        const uint64_t mid = (lo + hi) / 2;
        u128 y = mid;
        for (int s = 0; s < 8; ++s) y = (y * y) >> 32;
        if (y <= (u128{1} << 32) >> (f & 127)) lo = mid;
        else hi = mid;
      }
      exp2[f] = static_cast<uint32_t>(lo >> 16);
    }
  }
};
const Tables kT;

constexpr int32_t kLog2Of3 = 406;            // 256 * log2(3), rounded
constexpr int32_t kDropBits = 24;  // candidates this far below the best stop
constexpr int32_t kInitBits = 4;   // a new candidate starts this far below the best
constexpr int32_t kSeeds = RepeatPool::kSeedsPerBase, kRepl = RepeatPool::kReplaceBits;
constexpr unsigned kYoung = RepeatPool::kProbation, kYoungMisses = RepeatPool::kProbationMisses;

inline int32_t Log2P(uint32_t p16) { return kT.log2p[p16 >> 4]; }
// 65536 * 2^(lw/256) for lw <= 0 (0 below -kDropBits bits).
inline uint64_t Weight(int32_t lw) {
  const uint32_t d = static_cast<uint32_t>(-lw);
  return (d >> 8) >= 32 ? 0 : kT.exp2[d & 255] >> (d >> 8);
}

inline uint64_t Hash(uint64_t x) {
  x = (x + 0x51) * 0x9E3779B97F4A7C15ull;
  x ^= x >> 29;
  x *= 0xBF58476D1CE4E5B9ull;
  return x ^ (x >> 32);
}

inline void Adapt(uint16_t& p, uint8_t& n, int bit) {
  const int target = bit ? 65535 : 0;
  int v = p;
  v += static_cast<int>((static_cast<int64_t>(target - v) * kT.recip[n]) >> 16);
  if (v < 32) v = 32;
  if (v > 65503) v = 65503;
  p = static_cast<uint16_t>(v);
  if (n < 255) ++n;
}

}  // namespace


RepeatPool::~RepeatPool() {
  if (index_) munmap(index_, index_bytes_);
  delete[] cand_;
  delete[] set_;
}

uint64_t RepeatPool::MemoryBytes(const RepeatPoolParams& p) {
  if (!p.capacity) return 0;
  return (uint64_t{4} * kSlots << p.index_bits) + uint64_t{p.capacity} * (sizeof(Cand) + 4 * 8);
}

bool RepeatPool::Init(const RepeatPoolParams& p) {
  p_ = p;
  if (!p.capacity) return true;
  index_bytes_ = (size_t{4} * kSlots) << p.index_bits;
  void* m = mmap(nullptr, index_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) {
    index_bytes_ = 0;
    return false;
  }
#ifdef MADV_HUGEPAGE
  madvise(m, index_bytes_, MADV_HUGEPAGE);
#endif
  index_ = static_cast<uint32_t*>(m);
  cand_ = new (std::nothrow) Cand[p.capacity];
  set_mask_ = std::bit_ceil(uint32_t{p.capacity} * 4u) - 1;
  set_ = new (std::nothrow) uint64_t[set_mask_ + 1];
  if (!cand_ || !set_) return false;
  std::memset(set_, 0, sizeof(uint64_t) * (set_mask_ + 1));
  kmask_ = (uint64_t{1} << (2 * p.k)) - 1;
  for (auto& v : ph_) v = 49152;  // a hit is likely: the candidate matched k bases
  std::memset(pn_, 0, sizeof(pn_));
  return true;
}

// ---- the set of followed diagonals (linear probing, backward-shift delete)

inline uint32_t RepeatPool::Home(uint64_t key) const {
  return static_cast<uint32_t>((key * 0x9E3779B97F4A7C15ull) >> 40) & set_mask_;
}

bool RepeatPool::Has(uint64_t key) const {
  for (uint32_t i = Home(key);; i = (i + 1) & set_mask_) {
    if (set_[i] == key) return true;
    if (set_[i] == 0) return false;
  }
}

void RepeatPool::Insert(uint64_t key) {
  uint32_t i = Home(key);
  while (set_[i] != 0) i = (i + 1) & set_mask_;
  set_[i] = key;
}

void RepeatPool::Erase(uint64_t key) {
  uint32_t i = Home(key);
  while (set_[i] != key) {
    if (set_[i] == 0) return;
    i = (i + 1) & set_mask_;
  }
  for (uint32_t j = (i + 1) & set_mask_; set_[j] != 0; j = (j + 1) & set_mask_) {
    const uint32_t h = Home(set_[j]);
    // move set_[j] into the hole at i if its home is not in (i, j]
    const bool between = i <= j ? (h > i && h <= j) : (h > i || h <= j);
    if (!between) {
      set_[i] = set_[j];
      i = j;
    }
  }
  set_[i] = 0;
}

// Hash of a k-mer; its bucket (32 bytes: 7 positions and their checks) and
// its 4 check bits (bits of the hash the bucket does not use).
uint64_t RepeatPool::KmerHash(uint64_t kmer) { return Hash(kmer); }

uint32_t* RepeatPool::Bucket(uint64_t h) const {
  return &index_[static_cast<size_t>(h >> (64 - p_.index_bits)) * kSlots];
}

uint32_t RepeatPool::Check(uint64_t h) { return static_cast<uint32_t>(h) & 15; }

// ---- prediction

void RepeatPool::Predict(const uint8_t* seq) {
  // Per direction and predicted base k = 4 rev + pred: a[k] = sum of w p and
  // tw[k] = sum of w (so that sum of w (65536 - p) = 65536 tw[k] - a[k]).
  // Accumulated without data-dependent stores or branches (the sums are
  // exact integers, so their order does not matter).
  uint64_t a[8] = {}, tw[8] = {};
  for (int i = 0; i < n_; ++i) {
    Cand& c = cand_[i];
    const unsigned rev = c.rev;
    const unsigned pred = static_cast<unsigned>(seq[c.ptr]) ^ (rev * 3u);
    c.pred = static_cast<uint8_t>(pred);
    c.ctx = (rev << 12) | (c.hist & 4095u);
    const uint64_t w = Weight(c.lw - best_);
    const uint64_t wp = w * ph_[c.ctx];
    const unsigned key = rev * 4 + pred;
    for (unsigned k = 0; k < 8; ++k) {
      const uint64_t m = -static_cast<uint64_t>(k == key);
      a[k] += wp & m;
      tw[k] += w & m;
    }
  }
  uint64_t as[4], bs[4];
  for (int d = 0; d < 2; ++d) {
    uint64_t b[4];
    for (int s = 0; s < 4; ++s) b[s] = (tw[4 * d + s] << 16) - a[4 * d + s];
    const uint64_t ud = b[0] + b[1] + b[2] + b[3];
    qsum_[d] = 0;
    for (int s = 0; s < 4; ++s) {
      qd_[d][s] = a[4 * d + s] + (ud - b[s]) / 3;
      qsum_[d] += qd_[d][s];
    }
  }
  for (int s = 0; s < 4; ++s) {
    as[s] = a[s] + a[4 + s];
    bs[s] = ((tw[s] + tw[4 + s]) << 16) - as[s];
  }
  const uint64_t u = bs[0] + bs[1] + bs[2] + bs[3];
  uint64_t sum = 0, most = 0;
  for (int s = 0; s < 4; ++s) {
    q_[s] = as[s] + (u - bs[s]) / 3;
    sum += q_[s];
    most = q_[s] > most ? q_[s] : most;
  }
  if (sum == 0) {
    bucket_ = 0;
    return;
  }
  const uint64_t r = (most << 8) / sum;  // 64..256
  bucket_ = r < 128 ? 1 : r < 179 ? 2 : r < 217 ? 3 : r < 240 ? 4 : r < 250 ? 5 : r < 254 ? 6 : 7;
}

namespace {
// P(bit = 1) of decision node from a distribution over the four bases.
uint32_t NodeOf(const uint64_t* q, int node) {
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
}  // namespace

uint32_t RepeatPool::NodePDir(int node, int d) const { return qsum_[d] ? NodeOf(qd_[d], node) : 0; }

uint32_t RepeatPool::NodeP(int node) const { return bucket_ ? NodeOf(q_, node) : 0; }

// ---- learning

void RepeatPool::Learn(int base) {
  // One pass: weights are made relative to the previous base's best (the
  // drop test uses that), updated, and the new best is kept for Predict.
  // (branch-free but for the rare stop: directions and hits are random)
  const int32_t prev = best_;
  const int32_t gamma = p_.gamma;
  const unsigned tol = p_.tolerance;
  const unsigned young = p_.probation ? kYoung : 0;
  int32_t best = INT32_MIN;
  int out = 0;
  for (int i = 0; i < n_; ++i) {
    Cand c = cand_[i];
    const unsigned hit = c.pred == base;
    const uint32_t p = ph_[c.ctx];
    c.lw -= prev;
    unsigned stop = c.lw < -kDropBits * 256;
    const int32_t gain = hit ? Log2P(p) : Log2P(65536 - p) - kLog2Of3;
    c.lw = (c.lw * gamma) / 256 + gain;
    Adapt(ph_[c.ctx], pn_[c.ctx], static_cast<int>(hit));
    c.misses = static_cast<uint8_t>(c.misses + (hit ^ 1u) - ((c.hist >> 15) ^ 1u));
    c.hist = static_cast<uint16_t>((c.hist << 1) | hit);
    stop |= c.misses > tol;
    // (probation: the first predictions since the start are its only ones)
    stop |= (c.age < young) & (c.misses > kYoungMisses);
    c.age = static_cast<uint8_t>(c.age + (c.age < young));
    stop |= c.rev & (c.ptr == 0);
    c.ptr += 1u - 2u * c.rev;
    if (__builtin_expect(stop, 0)) {
      Erase(Key(c.diag, c.rev));
      continue;
    }
    best = c.lw > best ? c.lw : best;
    cand_[out++] = c;
  }
  n_ = out;
  best_ = out ? best : 0;
}

// ---- seeding

// Seeding is a pipeline that keeps memory latency off the coding path:
// the buckets of the k-mer ending at n are prefetched at n and read at
// n + kDelay (when the position n is also recorded); an occurrence found
// there has the history around it prefetched and is verified, and started,
// one base later. Candidates are named by their diagonal, which does not
// change in between.
void RepeatPool::Record(const uint8_t* seq, size_t n, int base, bool seed) {
  fkey_ = ((fkey_ << 2) | static_cast<uint64_t>(base)) & kmask_;
  rkey_ = (rkey_ >> 2) | (static_cast<uint64_t>(3 - base) << (2 * p_.k - 2));
  // the hashes of the k-mers ending at n (n = 1, 2, ...), once each
  keys_[n & 3] = {Hash(fkey_), Hash(rkey_)};
  if (seed) Verify(seq, n);
  if (n >= size_t{p_.k} + kDelay) {
    const size_t m = n - kDelay;  // the k-mer ending at m (both hashes kept kDelay bases)
    const Keys& k = keys_[m & 3];
    if (seed) {
      Lookup(seq, n, m, k.fwd, false);
      if (p_.inverted) Lookup(seq, n, m, k.rev, true);
    }
    uint32_t* b = Bucket(k.fwd);
    // (shifted through registers: std::memmove of 24 bytes is a libc call)
    uint32_t t[kPositions - 1];
    for (int i = 0; i < kPositions - 1; ++i) t[i] = b[i];
    for (int i = 0; i < kPositions - 1; ++i) b[i + 1] = t[i];
    b[0] = static_cast<uint32_t>(m);
    b[kPositions] = ((b[kPositions] << 4) | Check(k.fwd)) & ((1u << (4 * kPositions)) - 1);
  }
  if (n >= p_.k) {
    const Keys& k = keys_[n & 3];
    __builtin_prefetch(Bucket(k.fwd), 1, 3);
    if (seed && p_.inverted) __builtin_prefetch(Bucket(k.rev), 0, 3);
  }
}

// Occurrences of the k-mer ending at m (forward) or of its reverse
// complement (rev) that no candidate follows: their history is prefetched
// and they wait for Verify. n: the current history length (m + kDelay).
void RepeatPool::Lookup(const uint8_t* seq, size_t n, size_t m, uint64_t h, bool rev) {
  const uint32_t* b = Bucket(h);
  const uint32_t chk = Check(h), checks = b[kPositions];
  int found = 0;
  for (int s = 0; s < kPositions && b[s] != 0 && found < kSeeds && npending_ < kMaxPending; ++s) {
    if (((checks >> (4 * s)) & 15) != chk) continue;
    const uint32_t e = b[s];
    uint32_t diag;
    int64_t ptr;  // the base it would predict at n
    if (!rev) {
      diag = static_cast<uint32_t>(m - e);
      ptr = static_cast<int64_t>(n) - diag;
    } else {
      if (e < p_.k + 1u) continue;
      diag = static_cast<uint32_t>(m + (e - p_.k - 1));  // the first base before the occurrence, at m
      ptr = static_cast<int64_t>(diag) - static_cast<int64_t>(n);
      if (ptr < 1) continue;
    }
    if (Has(Key(diag, rev))) continue;
    const int64_t lo = rev ? ptr : (ptr > 32 ? ptr - 32 : 0);
    __builtin_prefetch(seq + lo, 0, 3);
    __builtin_prefetch(seq + lo + 32, 0, 3);
    pending_[npending_++] = {diag, static_cast<uint32_t>(m), rev};
    ++found;
  }
}

// Starts the pending occurrences whose k-mer really matches the one ending
// at their m (the index keeps 4 check bits only); n: history length, the
// candidates predict base n.
void RepeatPool::Verify(const uint8_t* seq, size_t n) {
  const int np = npending_;
  npending_ = 0;
  for (int i = 0; i < np; ++i) {
    const Pending pd = pending_[i];
    if (Has(Key(pd.diag, pd.rev))) continue;  // started meanwhile (same diagonal twice)
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
    if (l < p_.k) continue;
    if (!Start(ptr, pd.diag, pd.rev)) return;
  }
}

bool RepeatPool::Start(uint32_t ptr, uint32_t diag, bool rev) {
  int slot = n_;
  if (n_ == p_.capacity) {
    // replace the weakest (the first of equals) if it is far below the best
    slot = 0;
    for (int i = 1; i < n_; ++i)
      if (cand_[i].lw < cand_[slot].lw) slot = i;
    if (cand_[slot].lw - best_ > -kRepl * 256) return false;
    Erase(Key(cand_[slot].diag, cand_[slot].rev));
  } else {
    ++n_;
  }
  Cand& c = cand_[slot];
  c.ptr = ptr;
  c.diag = diag;
  c.lw = best_ - kInitBits * 256;
  c.hist = 0xffff;
  c.misses = 0;
  c.age = 0;
  c.rev = rev;
  c.pred = 0;
  c.ctx = 0;
  Insert(Key(diag, rev));
  return true;
}

}  // namespace pmklc::models
