// repeat_pool.h — a pool of many repeat candidates, weighted by their recent
// success and combined into one prediction (engine/models; issue #17).
//
// Interspersed repeats (Alu, L1, ...) have thousands of diverged earlier
// copies. One repeat model follows one of them; the pool follows up to
// `capacity` at once, forward and (optionally) as reverse complements:
//  * Seeding. A hashed index maps each k-mer (k = 11..16) to the last
//    kPositions positions that followed it, with 4 check bits each. The
//    occurrences of the last k bases (and of their reverse complement) that
//    no candidate follows start new candidates (at most kSeedsPerBase per
//    direction and base, each verified against the history: the k-mers must
//    really match, so hash collisions never start one). Seeding is a short
//    pipeline that keeps memory latency off the coding path: a bucket is
//    prefetched one base before it is read, and an occurrence's history is
//    prefetched one base before it is verified. A candidate is identified by
//    its diagonal (the offset between its position and the coded one),
//    which never changes while it is followed. A full pool replaces its
//    weakest candidate when that one is at least kReplaceBits below the best.
//  * Prediction. Each candidate predicts the base it points at (complemented
//    for reverse candidates) with a probability of being right learnt online
//    and shared by all candidates, keyed by its last 12 outcomes (hit/miss)
//    and its direction. The pool's distribution over the four bases is the
//    weighted sum of the candidates' distributions (the missing probability
//    spread evenly over the three other bases).
//  * Weights. Each candidate's log2 weight (1/256 bit units) decays by
//    gamma/256 per base and adds log2 of the probability it gave the coded
//    base (a Bayesian mixture with forgetting, as in the XM and JARVIS
//    repeat models); weights are kept relative to the best candidate.
//  * A candidate stops after more than `tolerance` misses in its last 16
//    predictions, or when its weight falls below 2^-24 of the best. With
//    probation, also after more than 4 misses in its first 8: on bacteria
//    most seeds are chance 11-mer matches (E. coli: 32 candidates active on
//    average, 4/5 of the pool's time), and they go after 5 bases instead of
//    about 16.
// The work per base follows the number of active candidates, not the
// index's size. Everything is integer arithmetic in a fixed order (own
// log2/exp2 tables built with integer arithmetic): the same input gives the
// same predictions on every machine.
// Thread safety: one pool per coder (not shared). Memory: 4 * kSlots bytes
// per index bucket (2^index_bits buckets) and about 56 bytes per candidate.
// Format: docs/format.md §fasta-cm, "Repeat pool" (params variant 3).
#pragma once

#include <cstddef>
#include <cstdint>

namespace pmklc::models {

struct RepeatPoolParams {
  uint16_t capacity = 0;    // most active candidates (0: no pool)
  uint8_t k = 12;           // seed k-mer length (11..16)
  uint8_t index_bits = 22;  // index buckets = 2^index_bits (16..24)
  uint8_t tolerance = 8;    // misses in the last 16 predictions a candidate survives (1..16)
  uint8_t gamma = 224;      // weight decay per base, /256 (1..255)
  bool inverted = true;     // also follow reverse complements
  bool probation = false;   // a candidate stops after more than kProbationMisses misses in its first kProbation predictions
};

class RepeatPool {
 public:
  static constexpr int kSlots = 8;           // words per index bucket:
  static constexpr int kPositions = 7;       // positions kept, newest first, and their 4-bit checks
  static constexpr int kSeedsPerBase = 2;    // new candidates per direction and base
  static constexpr int kReplaceBits = 6;     // weakest replaced when this far below the best
  static constexpr uint16_t kMaxCapacity = 1024;
  static constexpr unsigned kProbation = 8;        // (probation) predictions on trial
  static constexpr unsigned kProbationMisses = 4;  // misses allowed on trial

  RepeatPool() = default;
  RepeatPool(const RepeatPool&) = delete;
  RepeatPool& operator=(const RepeatPool&) = delete;
  ~RepeatPool();

  // Allocates the index and candidate arrays; false if the memory is not
  // available (nothing else may be called then).
  [[nodiscard]] bool Init(const RepeatPoolParams& p);
  static uint64_t MemoryBytes(const RepeatPoolParams& p);

  // Before coding the base at position n (= bases of history): computes the
  // pool's distribution from the candidates. seq holds the n earlier bases
  // (0..3).
  void Predict(const uint8_t* seq);
  // P(bit = 1) of decision node (0: high bit; 1 + hi: low bit), 16-bit, or
  // 0 when the pool predicts nothing.
  uint32_t NodeP(int node) const;
  // The same from the forward (dir 0) or the reverse-complement (dir 1)
  // candidates alone; 0 when none of them predicts.
  uint32_t NodePDir(int node, int dir) const;
  // Confidence bucket 0..7 of the current prediction (0: nothing).
  int Bucket() const { return bucket_; }
  int Active() const { return n_; }

  // After the base at position n was coded: learns from it and advances the
  // candidates (before the base is appended to the history).
  void Learn(int base);
  // After the base was appended (seq holds n bases, n >= 1): records the
  // k-mer ending at n and, when coding (seed = true), starts candidates at
  // its earlier occurrences. Priming calls it with seed = false.
  void Record(const uint8_t* seq, size_t n, int base, bool seed);
  // A hint, no state: the index bucket that Record will write for the k-mer
  // `kmer` (its 2k low bits, newest base lowest) is brought into the cache.
  // Priming, which knows the bases ahead, calls it a few dozen bases early.
  void PrefetchKmer(uint64_t kmer) const {
    if (index_) __builtin_prefetch(Bucket(KmerHash(kmer & kmask_)), 1, 3);
  }

 private:
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
  static constexpr int kDelay = 2;  // bases between a bucket's prefetch and its use
  struct Keys {
    uint64_t fwd, rev;  // KmerHash of the forward k-mer and of its reverse complement
  };
  struct Pending {
    uint32_t diag;
    uint32_t m;  // end of the k-mer that found it
    bool rev;
  };
  void Lookup(const uint8_t* seq, size_t n, size_t m, uint64_t h, bool rev);  // h: KmerHash
  void Verify(const uint8_t* seq, size_t n);
  // False when the pool is full of candidates too strong to replace.
  bool Start(uint32_t ptr, uint32_t diag, bool rev);
  // The set of followed diagonals (key never 0).
  static uint64_t Key(uint32_t diag, bool rev) { return (uint64_t{diag} << 1 | uint64_t{rev}) + 1; }
  uint32_t Home(uint64_t key) const;
  static uint64_t KmerHash(uint64_t kmer);
  uint32_t* Bucket(uint64_t h) const;  // h: KmerHash
  static uint32_t Check(uint64_t h);
  bool Has(uint64_t key) const;
  void Insert(uint64_t key);
  void Erase(uint64_t key);

  RepeatPoolParams p_;
  uint32_t* index_ = nullptr;  // [buckets][kSlots], newest first
  size_t index_bytes_ = 0;
  Cand* cand_ = nullptr;
  int n_ = 0;
  uint64_t* set_ = nullptr;
  uint32_t set_mask_ = 0;
  uint64_t fkey_ = 0, rkey_ = 0, kmask_ = 0;
  static_assert(kDelay < 4);
  static constexpr int kMaxPending = 16;
  Keys keys_[4] = {};  // the k-mers ending at the last 4 positions (n & 3)
  Pending pending_[kMaxPending] = {};  // found by Lookup, verified by the next Verify
  int npending_ = 0;
  uint16_t ph_[2 * 4096];  // P(hit) per direction and outcome history, 16-bit
  uint8_t pn_[2 * 4096];
  uint64_t q_[4] = {0, 0, 0, 0};  // distribution (unnormalised)
  int bucket_ = 0;
  uint64_t qd_[2][4] = {}, qsum_[2] = {};  // per direction
  int32_t best_ = 0;
  // the best candidate's log2 weight after the last Learn
};

}  // namespace pmklc::models
