// cm_slim.h — the balanced shapes of the nucleotide coder (one to three
// direct context models, one forward repeat model, one mixer, one APM;
// engine/models/nucleotide_cm.h, CmUsesSlimPath) as one flat-state step
// (kernels; issue #18).
//
// A stream's whole state is a `State<K>` (plain data, no owned heap memory)
// plus one zeroed arena (the context tables, the repeat k-mer table and the
// history; Layout). Begin / P / Learn / End advance it by one base, exactly
// as the coder's integer arithmetic is defined (docs/format.md §fasta-cm):
// they are `PMKLC_HD`, so the CPU coder (nucleotide_cm.cc) and the CUDA batch
// (kernels/cuda/cm_slim.cu, one stream a thread) run this one definition and
// write the same bytes. No virtual calls, exceptions, STL containers or
// floating point.
//
// The arithmetic coder that turns the step's probabilities into bytes is
// BinaryEncoder's (engine/coder/binary_coder.h); Encoder/Decoder here are the
// same operations over a caller's fixed buffer, for the device.
// Thread safety: a State belongs to one thread; the functions are reentrant.
// Errors: none here; the caller sizes the arena (Layout) and the output.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/hd.h"

namespace pmklc::kernels::cmslim {

// Lookup tables, built once by the caller from the coder's integer stretch
// and squash (engine/models/logistic.h) and, for a device, copied as they are.
struct Tables {
  int16_t st[65536];   // stretch of a 16-bit probability
  uint32_t sq[4095];   // squash of a logit in -2047..2047
  int16_t st12[4096];  // stretch of 12-bit bucket midpoints (16 i + 8)
  uint16_t sq16[4095]; // squash as 16 bits (the fast path)
  uint32_t recip[256]; // 131072 / (2 n + 3): a counter's rate 1/(n + 1.5), Q16
};

// Three counters (decision nodes) of one context; chk identifies the context
// in hashed tables (unused by direct ones). Stored as P(1) ^ 0x8000, so that
// zeroed memory means P = 1/2.
struct Slot {
  uint16_t p[3];
  uint8_t n[3];
  uint8_t chk;
};
static_assert(sizeof(Slot) == 10);

struct MEntry {
  uint32_t pos, chk;  // end of the latest occurrence; hash check (0: empty)
};

PMKLC_HD uint64_t Hash(uint64_t x, uint8_t k) { return Hash64(x, k); }

PMKLC_HD uint32_t Prob(uint16_t stored) { return stored ^ 0x8000u; }

// p moves toward the bit by 1/(n + 1.5), n capped at limit.
PMKLC_HD void Update(uint16_t& p, uint8_t& n, int bit, uint8_t limit, const Tables* t) {
  const int target = bit ? 65535 : 0;
  int v = static_cast<int>(Prob(p));
  const int delta = static_cast<int>((static_cast<int64_t>(target - v) * t->recip[n]) >> 16);
  v += delta;
  if (v < 32) v = 32;
  if (v > 65503) v = 65503;
  p = static_cast<uint16_t>(v ^ 0x8000);
  if (n < limit) n++;
}

PMKLC_HD int St(uint32_t p16, const Tables* t) { return t->st[p16 > 65535 ? 65535 : p16]; }
PMKLC_HD uint32_t Sq(int x, const Tables* t) { return t->sq[(x > 2047 ? 2047 : (x < -2047 ? -2047 : x)) + 2047]; }
PMKLC_HD uint32_t ClampP(uint32_t p) { return p < 1 ? 1 : (p > 65535 ? 65535 : p); }

// What a stream's shape is made of (from CmParams; see nucleotide_cm.h).
struct Shape {
  int k = 1;                      // context models (1..3)
  bool fast = false;              // flags bit 5
  bool hist64 = false;            // flags bit 4: the mixer keyed by 3 bases (else 2)
  uint8_t order[3] = {0, 0, 0};   // their orders (<= 12)
  bool phased[3] = {false, false, false};
  uint8_t limit[3] = {0, 0, 0};   // counter limits
  uint8_t match_min = 18, match_bits = 22, tolerance = 12, lr = 16;
};

// Where a stream's zeroed arena holds what (byte offsets; each 64-aligned).
struct Layout {
  size_t slots[3] = {0, 0, 0};
  size_t mm = 0, seq = 0, bytes = 0;
};
// Arena of a stream of at most n bases.
PMKLC_HD Layout LayoutFor(const Shape& s, size_t n) {
  Layout l;
  size_t at = 0;
  for (int i = 0; i < s.k; ++i) {
    l.slots[i] = at;
    at = Align64(at + (s.phased[i] ? 3 : 1) * (size_t{1} << (2 * s.order[i])) * sizeof(Slot));
  }
  l.mm = at;
  at = Align64(at + (size_t{1} << s.match_bits) * sizeof(MEntry));
  l.seq = at;
  l.bytes = Align64(at + n);
  return l;
}

// The one APM: a learned map of the stretched probability, per context (33
// interpolation points a context).
inline constexpr size_t kApmContexts = 3 * 256;

template <int K>
struct State {
  // The arena (borrowed).
  Slot* slots[K];
  MEntry* mm;
  uint8_t* seq;  // the history: seq[0..n)
  // The shape.
  uint64_t mask[K];
  int bits[K];
  bool phased[K];
  uint8_t limit[K];
  uint32_t mm_min, mm_bits, tol;
  uint64_t mm_mask;
  int lr;
  bool hist64;
  // Where the stream is.
  size_t n;              // bases of history
  size_t next_idx[K];    // the slot each model uses for the next base
  size_t cur[K];         // the slot each model uses for this base
  uint64_t hist;
  uint32_t phase;        // position of the next base mod 3
  int st[K + 1];
  int w[3 * 64 * (K + 2)];
  size_t w_sel;
  uint32_t pmix;
  uint16_t apm[kApmContexts * 33];
  size_t apm_sel;
  int apm_w;
  // The repeat model.
  uint32_t rep_ptr, rep_len, rep_miss;
  bool rep_active;
  uint16_t rep_cp[2][16 * 4];
  uint8_t rep_cn[2][16 * 4];
  int pred, rbit, rnode;
  uint32_t rsel;
};

template <bool kFast, int K>
struct Step {
  using S = State<K>;

  // A fresh stream over `arena` (zeroed, LayoutFor(shape, n).bytes long).
  static PMKLC_HD void Init(S* s, const Shape& sh, unsigned char* arena, const Layout& l, const Tables* t) {
    for (int i = 0; i < K; ++i) {
      s->slots[i] = reinterpret_cast<Slot*>(arena + l.slots[i]);
      s->bits[i] = 2 * sh.order[i];
      s->phased[i] = sh.phased[i];
      s->mask[i] = (uint64_t{1} << (2 * sh.order[i])) - 1;
      s->limit[i] = sh.limit[i];
      s->next_idx[i] = 0;
      s->cur[i] = 0;
    }
    s->mm = reinterpret_cast<MEntry*>(arena + l.mm);
    s->seq = arena + l.seq;
    s->mm_min = sh.match_min;
    s->mm_mask = sh.match_min >= 32 ? ~uint64_t{0} : ((uint64_t{1} << (2 * sh.match_min)) - 1);
    s->mm_bits = sh.match_bits;
    s->tol = sh.tolerance;
    s->lr = sh.lr;
    s->hist64 = sh.hist64;
    s->n = 0;
    s->hist = 0;
    s->phase = 0;
    for (int i = 0; i <= K; ++i) s->st[i] = 0;
    for (int i = 0; i < 3 * 64 * (K + 2); ++i) s->w[i] = (1 << 16) / (K + 1);
    s->w_sel = 0;
    s->pmix = 32768;
    for (size_t c = 0; c < kApmContexts; ++c)
      for (int j = 0; j < 33; ++j) s->apm[c * 33 + j] = static_cast<uint16_t>(Sq((j - 16) * 128, t));
    s->apm_sel = 0;
    s->apm_w = 0;
    s->rep_ptr = s->rep_len = s->rep_miss = 0;
    s->rep_active = false;
    for (int d = 0; d < 2; ++d)
      for (int j = 0; j < 16 * 4; ++j) {
        s->rep_cp[d][j] = 0;
        s->rep_cn[d][j] = 0;
      }
    s->pred = s->rbit = -1;
    s->rnode = 0;
    s->rsel = 0;
  }

  static PMKLC_HD int Stretch(uint32_t p16, const Tables* t) { return kFast ? t->st12[p16 >> 4] : St(p16, t); }

  static PMKLC_HD void Begin(S* s) {
    s->pred = s->rep_active ? s->seq[s->rep_ptr] : -1;
    for (int i = 0; i < K; ++i) s->cur[i] = s->next_idx[i];
  }

  // P(bit = 1) of decision node (0: high bit; 1 + hi: low bit given hi).
  static PMKLC_HD uint32_t P(S* s, int node, const Tables* t) {
    for (int i = 0; i < K; ++i) s->st[i] = Stretch(Prob(s->slots[i][s->cur[i]].p[node]), t);
    s->rbit = -1;
    s->st[K] = 0;
    if (s->pred >= 0) {
      int bit = -1;
      if (node == 0) bit = s->pred >> 1;
      else if (node - 1 == (s->pred >> 1)) bit = s->pred & 1;
      if (bit >= 0) {
        s->rbit = bit;
        s->rnode = node ? 1 : 0;
        const int m = Popcount32(s->rep_miss & 0xffffu);
        s->rsel = (s->rep_len < 15 ? s->rep_len : 15) * 4 + static_cast<uint32_t>(m > 3 ? 3 : m);
        const int v = Stretch(Prob(s->rep_cp[s->rnode][s->rsel]), t);
        s->st[K] = bit ? v : -v;
      }
    }
    const size_t ctx = s->hist64 ? static_cast<size_t>(node) * 64 + static_cast<size_t>(s->hist & 63)
                                 : static_cast<size_t>(node) * 16 + static_cast<size_t>(s->hist & 15);
    s->w_sel = ctx * (K + 2);
    const int* w = &s->w[s->w_sel];
    int64_t dot = static_cast<int64_t>(256) * w[K + 1];
    for (int i = 0; i <= K; ++i) dot += static_cast<int64_t>(s->st[i]) * w[i];
    int x = static_cast<int>(dot >> 16);
    x = x > 2047 ? 2047 : (x < -2047 ? -2047 : x);
    s->pmix = t->sq16[x + 2047];
    const uint32_t pa = ApmP(s, kFast ? x : St(s->pmix, t), static_cast<size_t>(node) * 256 + static_cast<size_t>(s->hist & 255));
    return ClampP((s->pmix + 3 * pa) >> 2);
  }

  static PMKLC_HD void Learn(S* s, int node, int bit, const Tables* t) {
    const int64_t e = static_cast<int64_t>((bit << 16) - static_cast<int>(s->pmix)) * s->lr;
    int* w = &s->w[s->w_sel];
    for (int i = 0; i <= K; ++i) w[i] += static_cast<int>((s->st[i] * e) >> 18);
    w[K + 1] += static_cast<int>((256 * e) >> 18);
    ApmLearn(s, bit, 13);
    for (int i = 0; i < K; ++i) {
      Slot& c = s->slots[i][s->cur[i]];
      Update(c.p[node], c.n[node], bit, s->limit[i], t);
    }
    if (s->rbit >= 0) Update(s->rep_cp[s->rnode][s->rsel], s->rep_cn[s->rnode][s->rsel], s->rbit == bit, 255, t);
  }

  static PMKLC_HD void End(S* s, int base) {
    if (s->rep_active) {
      const bool hit = s->pred == base;
      s->rep_miss <<= 1;
      if (hit) {
        if (s->rep_len < 31) ++s->rep_len;
        ++s->rep_ptr;
      } else {
        s->rep_miss |= 1;
        s->rep_len = 0;
        if (static_cast<uint32_t>(Popcount32(s->rep_miss & 0xffffu)) > s->tol) s->rep_active = false;
        else ++s->rep_ptr;
      }
    }
    s->seq[s->n++] = static_cast<uint8_t>(base);
    s->hist = (s->hist << 2) | static_cast<uint64_t>(base);
    const size_t n = s->n;
    if (n >= s->mm_min) {
      uint32_t chk;
      MEntry& m = s->mm[MatchSlot(s, s->hist & s->mm_mask, &chk)];
      if ((!s->rep_active || (s->rep_miss & 0xff)) && m.chk == chk) NewRepeat(s, n, m.pos);
      m.pos = static_cast<uint32_t>(n);
      m.chk = chk;
    }
    // Prefetch two bases ahead: the 16 slots whose context shares all but
    // the newest two bases, and the 4 repeat buckets the next-but-one base
    // may use (a hint: no effect on the result, none on a device).
    uint32_t chk;
    for (uint64_t c = 0; c < 4; ++c)
      PMKLC_PREFETCH(&s->mm[MatchSlot(s, ((s->hist << 4) | (c << 2)) & s->mm_mask, &chk)]);
    // Codon phase of the next base and of the one after.
    const uint32_t ph = s->phase = s->phase == 2 ? 0 : s->phase + 1;
    const uint32_t ph2 = ph == 2 ? 0 : ph + 1;
    for (int i = 0; i < K; ++i) {
      s->next_idx[i] = (s->phased[i] ? size_t{ph} << s->bits[i] : 0) + static_cast<size_t>(s->hist & s->mask[i]);
      const char* a = reinterpret_cast<const char*>(
          &s->slots[i][(s->phased[i] ? size_t{ph2} << s->bits[i] : 0) + ((s->hist << 4) & s->mask[i])]);
      PMKLC_PREFETCH(a);
      PMKLC_PREFETCH(a + 64);
      PMKLC_PREFETCH(a + 16 * sizeof(Slot) - 1);
    }
  }

 private:
  static PMKLC_HD uint32_t ApmP(S* s, int st, size_t ctx) {
    const int v = st + 2048;  // 1..4095
    const int lo = v >> 7;
    s->apm_w = v & 127;
    s->apm_sel = ctx * 33 + static_cast<size_t>(lo);
    return (s->apm[s->apm_sel] * static_cast<uint32_t>(128 - s->apm_w) +
            s->apm[s->apm_sel + 1] * static_cast<uint32_t>(s->apm_w)) >>
           7;
  }
  static PMKLC_HD void ApmLearn(S* s, int bit, int shift) {
    const int target = bit ? 65535 : 0;
    uint16_t& a0 = s->apm[s->apm_sel];
    uint16_t& a1 = s->apm[s->apm_sel + 1];
    a0 = static_cast<uint16_t>(a0 + (((target - a0) * (128 - s->apm_w)) >> shift));
    a1 = static_cast<uint16_t>(a1 + (((target - a1) * s->apm_w) >> shift));
  }
  static PMKLC_HD size_t MatchSlot(const S* s, uint64_t kmer, uint32_t* chk) {
    const uint64_t h = Hash(kmer >> 2, 99);
    *chk = static_cast<uint32_t>(h) | 1;
    return (static_cast<size_t>(h >> (66 - s->mm_bits)) << 2) | static_cast<size_t>(kmer & 3);
  }
  static PMKLC_HD void NewRepeat(S* s, size_t n, uint32_t e) {
    if (e >= n) return;
    uint32_t l = 0;
    while (l < 32 && l < e && s->seq[e - 1 - l] == s->seq[n - 1 - l]) ++l;
    if (l < s->mm_min) return;
    if (s->rep_active && s->rep_ptr == e) return;
    s->rep_active = true;
    s->rep_ptr = e;
    s->rep_len = l;
    s->rep_miss = 0;
  }
};

// BinaryEncoder's arithmetic (engine/coder/binary_coder.h) over a fixed
// buffer: bytes past `cap` are counted, not written (`len > cap`: the
// caller's buffer was too small and the stream must be coded again).
struct Encoder {
  unsigned char* out;
  size_t cap, len;
  uint32_t x1, x2;
};
PMKLC_HD void EncoderInit(Encoder* e, unsigned char* out, size_t cap) {
  e->out = out;
  e->cap = cap;
  e->len = 0;
  e->x1 = 0;
  e->x2 = 0xffffffffu;
}
PMKLC_HD void Put(Encoder* e, uint32_t byte) {
  if (e->len < e->cap) e->out[e->len] = static_cast<unsigned char>(byte);
  ++e->len;
}
PMKLC_HD void Encode(Encoder* e, int bit, uint32_t p1) {
  p1 = ClampP(p1);
  const uint32_t r = e->x2 - e->x1;
  const uint32_t xmid = e->x1 + (r >> 16) * p1 + (((r & 0xffff) * p1) >> 16);
  if (bit) e->x2 = xmid;
  else e->x1 = xmid + 1;
  while (((e->x1 ^ e->x2) & 0xff000000u) == 0) {
    Put(e, e->x2 >> 24);
    e->x1 <<= 8;
    e->x2 = (e->x2 << 8) | 255;
  }
}
PMKLC_HD void Finish(Encoder* e) {
  for (int i = 0; i < 4; ++i) {
    Put(e, e->x1 >> 24);
    e->x1 <<= 8;
  }
}

struct Decoder {
  const unsigned char* p;
  const unsigned char* end;
  uint32_t x1, x2, x;
  int overrun;
};
PMKLC_HD uint32_t Next(Decoder* d) {
  if (d->p < d->end) return *d->p++;
  ++d->overrun;
  return 0;
}
PMKLC_HD void DecoderInit(Decoder* d, const unsigned char* in, size_t n) {
  d->p = in;
  d->end = in + n;
  d->x1 = 0;
  d->x2 = 0xffffffffu;
  d->x = 0;
  d->overrun = 0;
  for (int i = 0; i < 4; ++i) d->x = (d->x << 8) | Next(d);
}
PMKLC_HD int Decode(Decoder* d, uint32_t p1) {
  p1 = ClampP(p1);
  const uint32_t r = d->x2 - d->x1;
  const uint32_t xmid = d->x1 + (r >> 16) * p1 + (((r & 0xffff) * p1) >> 16);
  const int bit = d->x <= xmid;
  if (bit) d->x2 = xmid;
  else d->x1 = xmid + 1;
  while (((d->x1 ^ d->x2) & 0xff000000u) == 0) {
    d->x1 <<= 8;
    d->x2 = (d->x2 << 8) | 255;
    d->x = (d->x << 8) | Next(d);
  }
  return bit;
}
// False if the decoder read past the end of its input (corruption).
PMKLC_HD bool DecoderOk(const Decoder* d) { return d->overrun <= 4; }

// A whole stream: n bases (0..3; higher bits ignored) coded into e.
template <bool kFast, int K>
PMKLC_HD void EncodeStream(State<K>* s, const uint8_t* codes, size_t n, Encoder* e, const Tables* t) {
  using St = Step<kFast, K>;
  for (size_t i = 0; i < n; ++i) {
    const int b = codes[i] & 3, hi = b >> 1, lo = b & 1;
    St::Begin(s);
    Encode(e, hi, St::P(s, 0, t));
    St::Learn(s, 0, hi, t);
    Encode(e, lo, St::P(s, 1 + hi, t));
    St::Learn(s, 1 + hi, lo, t);
    St::End(s, b);
  }
  Finish(e);
}

// n bases decoded from d into codes; false if the input ran out.
template <bool kFast, int K>
PMKLC_HD bool DecodeStream(State<K>* s, Decoder* d, size_t n, uint8_t* codes, const Tables* t) {
  using St = Step<kFast, K>;
  for (size_t i = 0; i < n; ++i) {
    St::Begin(s);
    const int hi = Decode(d, St::P(s, 0, t));
    St::Learn(s, 0, hi, t);
    const int lo = Decode(d, St::P(s, 1 + hi, t));
    St::Learn(s, 1 + hi, lo, t);
    const int b = hi * 2 + lo;
    St::End(s, b);
    codes[i] = static_cast<uint8_t>(b);
    if ((i & 0xffff) == 0 && !DecoderOk(d)) return false;
  }
  return DecoderOk(d);
}

}  // namespace pmklc::kernels::cmslim
