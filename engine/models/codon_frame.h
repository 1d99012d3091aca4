// codon_frame.h — the coding frame of a nucleotide stream, inferred as it is
// coded (engine/models, internal to the context-mixing coder; CmParams::frame,
// docs/format.md §Codon phase).
//
// Most of a bacterial genome is genes, read in codons on either strand at
// any offset. Position mod 3 cannot tell genes of different offsets apart;
// this tracker names, for each base, the frame a gene covering it would
// have, so that the coder's phased models and mixers share codon statistics
// across genes:
//  * six hypotheses (three frames per strand) each keep a score, a decaying
//    sum (1/32 per codon) of the log-odds of their codons being coding;
//  * the log-odds come from codon counts learnt on the fly: coding codons
//    are those of open reading frames at least `train_codons` long (the
//    longest stretch without a stop codon among the six frames), the
//    background is every triplet on both strands;
//  * a stop codon halves its frame's score.
// The best score, if at least half a bit, gives strand and codon position
// (6 states), else state 6, "no frame". Integer arithmetic only (our own
// log2), so every machine infers the same frames.
// Thread safety: one per coder. Memory: about 1.3 KB. Its functions are
// PMKLC_HD (kernels/hd.h): the max step of a GPU batch runs them too.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/hd.h"

namespace pmklc::models {

class CodonFrame {
 public:
  // States: strand * 3 + codon position, or kNoFrame.
  static constexpr size_t kStates = 7;
  static constexpr size_t kNoFrame = 6;

  // train_codons: the open length (in codons) that makes a frame a training
  // example of coding codons (> 0).
  PMKLC_HD explicit CodonFrame(uint32_t train_codons = 200) : train_(3 * train_codons) {}

  // Call after each base is appended: n = history length (>= 1), last3 = the
  // last three bases, oldest in bits 5..4 (codes A0 C1 G2 T3).
  PMKLC_HD void Push(uint32_t n, unsigned last3) {
    if (n < 3) return;
    const unsigned t = last3 & 63, r = Rc(t);
    const int c = static_cast<int>(n % 3);
    const bool stop_fw = t == 48 || t == 50 || t == 56;  // TAA TAG TGA
    const bool stop_rc = t == 60 || t == 28 || t == 52;  // TTA CTA TCA
    if (stop_fw | stop_rc) {
      if (stop_fw) stop_[c] = n;
      if (stop_rc) stop_[3 + c] = n;
      // The longest open frame is the one whose last stop is earliest (the
      // lowest hypothesis on ties); it changes only at a stop.
      open_ = 0;
      for (int i = 1; i < 6; ++i)
        if (stop_[i] < stop_[open_]) open_ = i;
    }
    score_[c] += lodds_[t] - (score_[c] >> 5);
    score_[3 + c] += lodds_[r] - (score_[3 + c] >> 5);
    if (stop_fw) score_[c] /= 2;
    if (stop_rc) score_[3 + c] /= 2;
    ++bg_[t];
    ++bg_[r];
    bg_total_ += 2;
    // The longest open frame, if long enough and its codon ends here, is a
    // coding example (in its own strand's reading).
    if (open_ % 3 == c && n - stop_[open_] >= train_) {
      ++coding_[open_ < 3 ? t : r];
      ++coding_total_;
    }
    if ((bg_total_ & 2047) == 0) Relearn();
  }

  // State of the base at position n, given the bases before it.
  PMKLC_HD size_t State(size_t n) const {
    int h = 0;
    for (int i = 1; i < 6; ++i)
      if (score_[i] > score_[h]) h = i;
    if (score_[h] < kMinScore) return kNoFrame;
    return static_cast<size_t>(h >= 3 ? 3 : 0) + (n + 3 - static_cast<size_t>(h % 3)) % 3;
  }

  // log2(x) * 256, rounded down, for x >= 1 (x = 0 gives 0): integer
  // squaring, the same on every machine.
  PMKLC_HD static int Log2Q8(uint64_t x) {
    if (x == 0) return 0;
    const int k = 63 - kernels::Clz64(x);
    uint64_t y = k <= 30 ? x << (30 - k) : x >> (k - 30);  // [2^30, 2^31)
    int frac = 0;
    for (int i = 0; i < 8; ++i) {
      y = (y * y) >> 30;
      frac <<= 1;
      if (y >= (uint64_t{1} << 31)) {
        y >>= 1;
        frac |= 1;
      }
    }
    return k * 256 + frac;
  }

 private:
  static constexpr int32_t kMinScore = 128;  // half a bit
  // Reverse complement of a codon.
  PMKLC_HD static unsigned Rc(unsigned t) { return ((3 - (t & 3)) << 4) | ((3 - ((t >> 2) & 3)) << 2) | (3 - (t >> 4)); }

  // log-odds (1/256 bit) of each codon: coding counts (+1) against
  // background counts (+1), each over its total (+64), clamped to +-2047.
  PMKLC_HD void Relearn() {
    const int lc = Log2Q8(coding_total_ + 64), lb = Log2Q8(bg_total_ + 64);
    for (int x = 0; x < 64; ++x) {
      const int v = (Log2Q8(coding_[x] + 1) - lc) - (Log2Q8(bg_[x] + 1) - lb);
      lodds_[x] = v > 2047 ? 2047 : (v < -2047 ? -2047 : v);
    }
  }

  uint32_t train_;
  uint32_t stop_[6] = {0, 0, 0, 0, 0, 0};  // history length at each frame's last stop codon
  int open_ = 0;                           // the hypothesis with the earliest stop_
  int32_t score_[6] = {0, 0, 0, 0, 0, 0};
  int32_t lodds_[64] = {};
  uint64_t coding_[64] = {}, bg_[64] = {};
  uint64_t coding_total_ = 0, bg_total_ = 0;
};

}  // namespace pmklc::models
