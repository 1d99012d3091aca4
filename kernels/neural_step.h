// neural_step.h — one sub-block of a fasta-neural stream
// (engine/models/neural_stream.h) as a flat-state step that a GPU runs one
// stream a thread (issue #18): the general model's step (kernels/cm_max.h)
// with the token networks (kernels/toknet_step.h) as its extra predictors,
// in the order and with the calls of the CPU coder (nucleotide_cm.cc's
// Model with neural_schedule.h's predictors), so the bytes are the same.
//
// A stream runs in slices (EncodeSome / DecodeSome code at most `budget`
// more bases and return): the batch driver (engine/models/neural_batch.h)
// runs every stream a slice at a time, and between slices hands the
// dynamic networks' snapshots (step-wise model passing) from the streams
// that took them to the streams that start from them.
// Snapshot: once the dynamic networks have learnt `snap_at` bases, their
// weights are copied to `snap` (where the CPU coder's SmpPredictor
// publishes them) and `published` is set; snap_at = kNoSnap: never.
// State: a NeuralStream (plain data) and one arena (NeuralLayoutFor); a
// dynamic network's start weights are written into its arena
// (TokNet::OwnWeights at net[d]) before Init.
// Thread safety: one NeuralStream per thread. No virtual calls, exceptions
// or STL containers.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/cm_max.h"
#include "kernels/hd.h"
#include "kernels/toknet_step.h"

namespace pmklc::kernels::neuralk {

inline constexpr int kMaxNets = cmmax::kMaxExtra;  // the DMs (<= 2), SPuM, SPrM
inline constexpr uint64_t kNoSnap = ~uint64_t{0};

struct NeuralShape {
  cmmax::MaxShape cm;  // extra = nets
  int nets = 0, dms = 0;  // networks 0..dms-1 are dynamic
  TokNetShape net[kMaxNets];
  float lr[kMaxNets] = {};
  bool reverse[kMaxNets] = {};
  uint64_t snap_at = kNoSnap;
};

struct NeuralLayout {
  cmmax::MaxLayout cm;
  size_t cm_at = 0;
  size_t net[kMaxNets] = {};   // each network's arena
  size_t snap[kMaxNets] = {};  // each DM's snapshot (weight_count floats)
  size_t bytes = 0;
};

// n: the bases of the sub-block (the model's history capacity).
PMKLC_HD NeuralLayout NeuralLayoutFor(const NeuralShape& s, size_t n) {
  NeuralLayout l;
  l.cm = cmmax::MaxLayoutFor(s.cm, n);
  size_t at = Align64(l.cm.bytes);
  for (int k = 0; k < s.nets; ++k) {
    l.net[k] = at;
    at += Align64(TokNetArenaBytes(s.net[k], s.lr[k] > 0.0f, s.reverse[k]));
  }
  for (int k = 0; k < s.dms; ++k) {
    l.snap[k] = at;
    at += Align64(s.snap_at == kNoSnap ? 0 : s.net[k].weight_count() * 4);
  }
  l.bytes = at;
  return l;
}

struct NeuralStream {
  cmmax::MaxModel m;
  TokNet net[kMaxNets];
  int nets, dms;
  uint64_t snap_at;
  bool published;
  float* snap[kMaxNets];
  size_t i;  // bases done
  bool ok;   // decode: the input has not run out
  cmslim::Encoder e;
  cmslim::Decoder d;

  // arena: zeroed, NeuralLayoutFor(s, n) bytes, with the DMs' start weights
  // in place. static_w[k]: the weights of static network k (k >= dms).
  PMKLC_HD void Init(const NeuralShape& s, unsigned char* arena, const NeuralLayout& l, const cmmax::MaxTables* t,
                     const float* const* static_w) {
    m.Init(s.cm, arena + l.cm_at, l.cm, t);
    nets = s.nets;
    dms = s.dms;
    for (int k = 0; k < nets; ++k)
      net[k].Init(s.net[k], k < dms ? nullptr : static_w[k], s.lr[k], s.reverse[k], arena + l.net[k]);
    for (int k = 0; k < dms; ++k) snap[k] = reinterpret_cast<float*>(arena + l.snap[k]);
    snap_at = s.snap_at;
    published = false;
    i = 0;
    ok = true;
    MaybeSnap();
  }
  PMKLC_HD void MaybeSnap() {
    if (published || snap_at == kNoSnap || dms == 0 || net[0].pos < snap_at) return;
    for (int k = 0; k < dms; ++k) {
      const size_t c = net[k].sh.weight_count();
      for (size_t x = 0; x < c; ++x) snap[k][x] = net[k].w[x];
    }
    published = true;
  }
  PMKLC_HD void Begin() {
    for (int k = 0; k < nets; ++k) net[k].Predict(m.xdist[k]);
    m.Begin();
  }
  PMKLC_HD void End(int b) {
    m.End(b);
    for (int k = 0; k < nets; ++k) net[k].Update(b);
    MaybeSnap();
  }
  // Codes bases i .. min(n, i + budget); finishes the coder at n.
  PMKLC_HD void EncodeSome(const uint8_t* codes, size_t n, size_t budget) {
    const size_t end = n - i < budget ? n : i + budget;
    for (; i < end; ++i) {
      const int b = codes[i] & 3, hi = b >> 1, lo = b & 1;
      Begin();
      cmslim::Encode(&e, hi, m.P(0));
      m.Learn(0, hi);
      cmslim::Encode(&e, lo, m.P(1 + hi));
      m.Learn(1 + hi, lo);
      End(b);
    }
    if (i == n) cmslim::Finish(&e);
  }
  PMKLC_HD void DecodeSome(uint8_t* codes, size_t n, size_t budget) {
    const size_t end = n - i < budget ? n : i + budget;
    for (; i < end && ok; ++i) {
      Begin();
      const int hi = cmslim::Decode(&d, m.P(0));
      m.Learn(0, hi);
      const int lo = cmslim::Decode(&d, m.P(1 + hi));
      m.Learn(1 + hi, lo);
      const int b = hi * 2 + lo;
      End(b);
      codes[i] = static_cast<uint8_t>(b);
      if ((i & 0xffff) == 0 && !cmslim::DecoderOk(&d)) ok = false;
    }
    if (i == n && ok) ok = cmslim::DecoderOk(&d);
  }
};

}  // namespace pmklc::kernels::neuralk
