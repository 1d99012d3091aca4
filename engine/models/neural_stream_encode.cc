// Encoder of the neural nucleotide stream: model selection by trial encodes,
// sub-block split and the SMP schedule (mirrored by neural_stream_decode.cc).
#include <algorithm>
#include <thread>

#include "engine/models/neural_schedule.h"

namespace pmklc {

namespace {

constexpr uint64_t kDmSeed = 0x706d6b6c63646d31ull;  // "pmklcdm1"

// Codes n bases with the given networks (no SMP, one thread); the size.
Result<size_t> TrialSize(const CmParams& cm, const NeuralOptions& o, uint8_t models, const uint8_t* codes,
                         size_t n, const std::vector<float>& init) {
  std::string out;
  BasePredictor* extra[3];
  size_t ne = 0;
  std::unique_ptr<TokNetPredictor> dm, pu, pr;
  if (models & kUseDm) extra[ne++] = (dm = std::make_unique<TokNetPredictor>(o.dm_shape, init.data(), o.dm_lr)).get();
  if (models & kUseSpum)
    extra[ne++] = (pu = std::make_unique<TokNetPredictor>(o.spum->shape, o.spum->weights.data(), 0.0f)).get();
  if (models & kUseSprm)
    extra[ne++] = (pr = std::make_unique<TokNetPredictor>(o.sprm->shape, o.sprm->weights.data(), 0.0f)).get();
  PMKLC_RETURN_IF_ERROR(CmEncode(cm.FitTo(n), codes, n, &out, std::span<BasePredictor* const>(extra, ne)));
  return out.size();
}

}  // namespace

// Selection: a sample of min(n, kSampleBases) bases from the middle of the
// stream is coded with the context models alone, then greedily with each
// candidate network added (DM, SPuM, SPrM in that order); a network stays if
// it makes the sample at least kMinGain (0.05%) smaller. The trials run on up to W
// threads. Streams shorter than kMinSelectBases use every candidate.
static constexpr size_t kSampleBases = 192 * 1024;
static constexpr size_t kMinSelectBases = 64 * 1024;
static constexpr double kMinGain = 0.0005;

Status NeuralEncode(const NeuralOptions& o, const uint8_t* codes, size_t n, std::string* out) {
  using namespace neural;
  if (o.workers < 1 || o.smp_percent > 100 || !o.dm_shape.Valid() || !(o.dm_lr > 0.0f))
    return Status::InvalidArgument("neural: bad options");
  uint8_t cand = (o.dm ? kUseDm : 0) | (o.spum ? kUseSpum : 0) | (o.sprm ? kUseSprm : 0);
  const std::vector<float> init = (cand & kUseDm) ? TokNetInitialWeights(o.dm_shape, kDmSeed) : std::vector<float>{};
  uint8_t models = cand;
  if (o.select && cand && n >= kMinSelectBases) {
    const size_t m = std::min(n, kSampleBases);
    const uint8_t* sample = codes + (n - m) / 2;
    // Baseline and each candidate alone on top of it, in parallel.
    std::vector<uint8_t> sets{0};
    for (uint8_t b : {kUseDm, kUseSpum, kUseSprm})
      if (cand & b) sets.push_back(b);
    std::vector<size_t> size(sets.size());
    PMKLC_RETURN_IF_ERROR(RunSubBlocks(sets.size(), o.workers, [&](size_t i) -> Status {
      auto r = TrialSize(o.cm, o, sets[i], sample, m, init);
      if (!r.ok()) return r.status();
      size[i] = *r;
      return Status::OK();
    }));
    models = 0;
    for (size_t i = 1; i < sets.size(); ++i)
      if (size[i] < size[0] * (1.0 - kMinGain)) models |= sets[i];
  }
  Header h;
  h.models = models;
  h.cm = o.cm;
  h.dm_shape = o.dm_shape;
  h.dm_lr = o.dm_lr;
  h.dm_seed = kDmSeed;
  if (models & kUseSpum) h.spum_id = o.spum->id;
  if (models & kUseSprm) h.sprm_id = o.sprm->id;
  h.smp_percent = (models & kUseDm) ? o.smp_percent : 0;
  size_t S = std::max<size_t>(1, std::min<size_t>({static_cast<size_t>(o.workers), kMaxSubBlocks,
                                                    n / std::max<size_t>(1, o.min_sub_bases)}));
  if (n == 0) S = 1;
  h.sub_n.resize(S);
  for (size_t j = 0; j < S; ++j) h.sub_n[j] = n / S + (j < n % S ? 1 : 0);
  std::vector<std::string> part(S);
  std::vector<Handoff> handoff(S);
  std::shared_ptr<const TokNetModel> spum = (models & kUseSpum) ? o.spum : nullptr;
  std::shared_ptr<const TokNetModel> sprm = (models & kUseSprm) ? o.sprm : nullptr;
  std::vector<size_t> n_at(S + 1, 0);
  for (size_t j = 0; j < S; ++j) n_at[j + 1] = n_at[j] + h.sub_n[j];
  PMKLC_RETURN_IF_ERROR(RunSubBlocks(S, o.threads > 0 ? o.threads : o.workers, [&](size_t j) -> Status {
    std::vector<float> w;
    std::unique_ptr<SmpPredictor> dm;
    BasePredictor* extra[3];
    size_t ne = 0;
    Handoff* next = (j + 1 < S && h.smp_percent) ? &handoff[j + 1] : nullptr;
    if (models & kUseDm) {
      if (j > 0 && h.smp_percent) {
        if (!handoff[j].Wait(&w)) return Status::Corruption("neural: previous sub-block failed");
      } else {
        w = init;
      }
      dm = std::make_unique<SmpPredictor>(h.dm_shape, w.data(), h.dm_lr, next, SnapshotAt(h.sub_n[j], h.smp_percent));
      extra[ne++] = dm.get();
    }
    std::unique_ptr<TokNetPredictor> pu, pr;
    if (spum) extra[ne++] = (pu = std::make_unique<TokNetPredictor>(spum->shape, spum->weights.data(), 0.0f)).get();
    if (sprm) extra[ne++] = (pr = std::make_unique<TokNetPredictor>(sprm->shape, sprm->weights.data(), 0.0f)).get();
    Status st = CmEncode(h.cm.FitTo(h.sub_n[j]), codes + n_at[j], h.sub_n[j], &part[j],
                         std::span<BasePredictor* const>(extra, ne));
    if (dm) dm->Finish(st.ok());
    return st;
  }));
  h.sub_len.resize(S);
  for (size_t j = 0; j < S; ++j) h.sub_len[j] = part[j].size();
  PutHeader(h, out);
  for (auto& p : part) out->append(p);
  return Status::OK();
}

}  // namespace pmklc
