// Encoder of the neural nucleotide stream: model selection by trial encodes,
// sub-block split and the SMP schedule (mirrored by neural_stream_decode.cc).
#include <algorithm>
#include <thread>

#include "engine/models/neural_schedule.h"

namespace pmklc {

namespace {

constexpr uint64_t kDmSeed = 0x706d6b6c63646d31ull;  // "pmklcdm1"

// Selection: a sample of min(n / 8, kSampleBases) bases from the middle of the
// stream is coded with the context models alone, then greedily with each
// candidate kind of knowledge added to what was kept so far (the DMs, then
// SPuM, then SPrM); a candidate is kept if it makes the sample at least
// kMinGain (0.05%) smaller than without it.
// (The DMs learn as they go, so their gain on a whole block is larger than on
// the sample: the low bar keeps them wherever they help at all.) Streams
// shorter than kMinSelectBases use every candidate, and streams shorter than
// kMinNetworkBases none: the networks need data to learn (lambda, 48 k
// bases: +0.12% with them).
constexpr size_t kSampleBases = 192 * 1024;
constexpr size_t kMinSelectBases = 256 * 1024;
constexpr size_t kMinNetworkBases = 64 * 1024;
constexpr double kMinGain = 0.0005;

neural::Header MakeHeader(const NeuralOptions& o, uint8_t models) {
  neural::Header h;
  h.models = models;
  h.cm = o.cm;
  if (models & kUseDm) {
    h.dms = o.dms;
    for (size_t d = 0; d < o.dms.size(); ++d) h.dm_seeds.push_back(kDmSeed + d);
    h.extra_mix = static_cast<uint8_t>(o.extra_mix);
  }
  if (models & kUseSpum) h.spum_id = o.spum->id;
  if (models & kUseSprm) h.sprm_id = o.sprm->id;
  h.smp_percent = (models & kUseDm) ? o.smp_percent : 0;
  return h;
}

// The coded size of n bases as one sub-block with these models (DMs from
// their initial weights).
Result<size_t> TrialSize(const NeuralOptions& o, uint8_t models, const uint8_t* codes, size_t n) {
  neural::Header h = MakeHeader(o, models);
  h.sub_n = {n};
  h.smp_percent = 0;
  std::string out;
  if (o.coder) {
    PMKLC_RETURN_IF_ERROR(neural::RunStreamOn(o.coder, h, nullptr, nullptr, (models & kUseSpum) ? o.spum.get() : nullptr,
                                              (models & kUseSprm) ? o.sprm.get() : nullptr, [&](neural::SubJob* job) {
                                                job->codes = codes;
                                                job->bytes = &out;
                                              }));
    return out.size();
  }
  PMKLC_RETURN_IF_ERROR(neural::RunStream(
      h, {}, nullptr, 1, (models & kUseSpum) ? o.spum.get() : nullptr, (models & kUseSprm) ? o.sprm.get() : nullptr,
      [&](size_t, std::span<BasePredictor* const> extra) {
        return CmEncode(h.cm.FitTo(n), codes, n, &out, extra, h.extra_mix);
      }));
  return out.size();
}

}  // namespace

Status NeuralEncode(const NeuralOptions& o, const uint8_t* codes, size_t n, std::string* out) {
  using namespace neural;
  if (o.workers < 1 || o.smp_percent > 100 || o.dms.size() > kMaxDms || (o.extra_mix & ~3u))
    return Status::InvalidArgument("neural: bad options");
  for (const DmSpec& d : o.dms)
    if (!d.shape.Valid() || !(d.lr > 0.0f) || !(d.lr <= kMaxDmLr) || d.shape.weight_count() > kMaxDmWeights)
      return Status::InvalidArgument("neural: bad DM");
  const uint8_t cand = (o.dm && !o.dms.empty() ? kUseDm : 0) | (o.spum ? kUseSpum : 0) | (o.sprm ? kUseSprm : 0);
  if (cand > kUseDm && 1 + o.dms.size() + 2 > kMaxExtraPredictors + 1)
    return Status::InvalidArgument("neural: too many networks");
  uint8_t models = cand;
  if (o.select && n < kMinNetworkBases) models = 0;
  if (o.select && cand && n >= kMinSelectBases) {
    const size_t m = std::min(n / 8, kSampleBases);
    const uint8_t* sample = codes + (n - m) / 2;
    auto base = TrialSize(o, 0, sample, m);
    if (!base.ok()) return base.status();
    models = 0;
    size_t best = *base;
    for (uint8_t b : {kUseDm, kUseSpum, kUseSprm}) {
      if (!(cand & b)) continue;
      auto r = TrialSize(o, static_cast<uint8_t>(models | b), sample, m);
      if (!r.ok()) return r.status();
      if (*r < best * (1.0 - kMinGain)) {
        models |= b;
        best = *r;
      }
    }
  }
  Header h = MakeHeader(o, models);
  h.chain_pos = o.chain.pos;
  size_t S = std::max<size_t>(1, std::min<size_t>({static_cast<size_t>(o.workers), kMaxSubBlocks,
                                                    n / std::max<size_t>(1, o.min_sub_bases)}));
  h.sub_n.resize(S);
  for (size_t j = 0; j < S; ++j) h.sub_n[j] = n / S + (j < n % S ? 1 : 0);
  std::vector<size_t> n_at(S + 1, 0);
  for (size_t j = 0; j < S; ++j) n_at[j + 1] = n_at[j] + h.sub_n[j];
  std::vector<std::string> part(S);
  const TokNetModel* spum = (models & kUseSpum) ? o.spum.get() : nullptr;
  const TokNetModel* sprm = (models & kUseSprm) ? o.sprm.get() : nullptr;
  std::vector<std::vector<float>> start;
  Status st;
  if (o.coder) {
    st = RunStreamOn(o.coder, h, o.chain.in, o.chain.out, spum, sprm, [&](SubJob* job) {
      job->codes = codes + n_at[job->j];
      job->bytes = &part[job->j];
    });
  } else {
    st = StartWeights(h, &o.chain, &start);
  }
  if (st.ok() && !o.coder)
    st = RunStream(h, start, o.chain.out, o.threads > 0 ? o.threads : o.workers, spum, sprm,
                   [&](size_t j, std::span<BasePredictor* const> extra) {
                     return CmEncode(h.cm.FitTo(h.sub_n[j]), codes + n_at[j], h.sub_n[j], &part[j], extra,
                                     h.extra_mix);
                   });
  if (o.chain.out) o.chain.out->PublishRest(st.ok());
  PMKLC_RETURN_IF_ERROR(st);
  h.sub_len.resize(S);
  for (size_t j = 0; j < S; ++j) h.sub_len[j] = part[j].size();
  PutHeader(h, out);
  for (auto& p : part) out->append(p);
  return Status::OK();
}

}  // namespace pmklc
