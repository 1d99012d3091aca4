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
// The pool's state and behaviour are kernels/repeat_pool.h (flat state,
// `PMKLC_HD`: the code a GPU batch runs too, issue #18); this class owns
// its memory and keeps the coder's interface.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/repeat_pool.h"

namespace pmklc::models {

using RepeatPoolParams = kernels::pool::PoolParams;  // (kernels/repeat_pool.h)

class RepeatPool {
 public:
  static constexpr int kSlots = kernels::pool::kSlots;
  static constexpr int kPositions = kernels::pool::kPositions;
  static constexpr int kSeedsPerBase = kernels::pool::kSeedsPerBase;
  static constexpr int kReplaceBits = kernels::pool::kReplaceBits;
  static constexpr uint16_t kMaxCapacity = kernels::pool::kMaxCapacity;
  static constexpr unsigned kProbation = kernels::pool::kProbation;
  static constexpr unsigned kProbationMisses = kernels::pool::kProbationMisses;

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
  void Predict(const uint8_t* seq) { kernels::pool::Predict(&s_, seq, tables_); }
  // P(bit = 1) of decision node (0: high bit; 1 + hi: low bit), 16-bit, or
  // 0 when the pool predicts nothing.
  uint32_t NodeP(int node) const { return kernels::pool::NodeP(&s_, node); }
  // The same from the forward (dir 0) or the reverse-complement (dir 1)
  // candidates alone; 0 when none of them predicts.
  uint32_t NodePDir(int node, int dir) const { return kernels::pool::NodePDir(&s_, node, dir); }
  // Confidence bucket 0..7 of the current prediction (0: nothing).
  int Bucket() const { return s_.bucket; }
  int Active() const { return s_.n; }

  // After the base at position n was coded: learns from it and advances the
  // candidates (before the base is appended to the history).
  void Learn(int base) { kernels::pool::Learn(&s_, base, tables_); }
  // After the base was appended (seq holds n bases, n >= 1): records the
  // k-mer ending at n and, when coding (seed = true), starts candidates at
  // its earlier occurrences. Priming calls it with seed = false.
  void Record(const uint8_t* seq, size_t n, int base, bool seed) { kernels::pool::Record(&s_, seq, n, base, seed); }
  // A hint, no state: the index bucket that Record will write for the k-mer
  // `kmer` (its 2k low bits, newest base lowest) is brought into the cache.
  // Priming, which knows the bases ahead, calls it a few dozen bases early.
  void PrefetchKmer(uint64_t kmer) const { kernels::pool::PrefetchKmer(&s_, kmer); }

  // The integer tables every pool reads (built once).
  static const kernels::pool::PoolTables& Tables();

 private:
  kernels::pool::PoolState s_{};
  const kernels::pool::PoolTables* tables_ = nullptr;
  size_t index_bytes_ = 0;
  kernels::pool::Cand* cand_ = nullptr;
  uint64_t* set_ = nullptr;
};

}  // namespace pmklc::models
