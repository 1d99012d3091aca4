// Decoder of the neural nucleotide stream and the parts of the format shared
// with the encoder (neural_schedule.h).
#include <thread>

#include "engine/fasta/varint.h"
#include "engine/models/neural_schedule.h"
#include "kernels/nn_math.h"

namespace pmklc::neural {

namespace {
void PutLE(std::string* o, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) o->push_back(static_cast<char>(v >> (8 * i)));
}
bool GetLE(Reader* r, int bytes, uint64_t* v) {
  std::string_view b;
  if (!r->GetBytes(static_cast<size_t>(bytes), &b)) return false;
  *v = 0;
  for (int i = 0; i < bytes; ++i) *v |= uint64_t{static_cast<uint8_t>(b[i])} << (8 * i);
  return true;
}
}  // namespace

void PutHeader(const Header& h, std::string* out) {
  out->push_back(static_cast<char>(kNeuralStreamVersion));
  out->push_back(static_cast<char>(h.models));
  out->push_back(static_cast<char>(h.extra_mix));
  out->append(h.cm.Serialize());
  if (h.models & kUseDm) {
    out->push_back(static_cast<char>(h.dms.size()));
    for (size_t d = 0; d < h.dms.size(); ++d) {
      const DmSpec& m = h.dms[d];
      out->push_back(static_cast<char>(m.shape.k));
      out->push_back(static_cast<char>(m.shape.s));
      PutLE(out, static_cast<uint64_t>(m.shape.ctx), 2);
      PutLE(out, static_cast<uint64_t>(m.shape.hidden), 2);
      PutLE(out, kernels::nn::FloatToBits(m.lr), 4);
      out->push_back(static_cast<char>(m.learn_reverse ? 1 : 0));
      PutLE(out, h.dm_seeds[d], 8);
    }
  }
  if (h.models & kUseSpum) PutLE(out, h.spum_id, 8);
  if (h.models & kUseSprm) PutLE(out, h.sprm_id, 8);
  out->push_back(static_cast<char>(h.smp_percent));
  PutVarint(out, h.sub_n.size());
  for (size_t j = 0; j < h.sub_n.size(); ++j) {
    PutVarint(out, h.sub_n[j]);
    PutVarint(out, h.sub_len[j]);
  }
}

Status ParseHeader(std::string_view in, Header* h, size_t* used) {
  Reader r(in);
  uint8_t version;
  if (!r.GetByte(&version) || version != kNeuralStreamVersion)
    return Status::Corruption("fasta-neural: unknown stream version");
  if (!r.GetByte(&h->models) || (h->models & ~7u)) return Status::Corruption("fasta-neural: bad model bits");
  if (!r.GetByte(&h->extra_mix) || (h->extra_mix & ~3u)) return Status::Corruption("fasta-neural: bad mixing bits");
  size_t cm_used = 0;
  auto cm = CmParams::Parse(r.rest(), &cm_used);
  if (!cm.ok()) return cm.status();
  h->cm = *cm;
  std::string_view skip;
  (void)r.GetBytes(cm_used, &skip);
  uint64_t v;
  if (h->models & kUseDm) {
    uint8_t nd;
    if (!r.GetByte(&nd) || nd == 0 || nd > kMaxDms) return Status::Corruption("fasta-neural: bad DM count");
    h->dms.resize(nd);
    h->dm_seeds.resize(nd);
    for (size_t d = 0; d < nd; ++d) {
      uint8_t k, s, flags;
      uint64_t ctx, hidden, lr;
      if (!r.GetByte(&k) || !r.GetByte(&s) || !GetLE(&r, 2, &ctx) || !GetLE(&r, 2, &hidden) ||
          !GetLE(&r, 4, &lr) || !r.GetByte(&flags) || !GetLE(&r, 8, &h->dm_seeds[d]))
        return Status::Corruption("fasta-neural: truncated header");
      DmSpec& m = h->dms[d];
      m.shape = kernels::TokNetShape{k, s, static_cast<int>(ctx), static_cast<int>(hidden)};
      m.lr = kernels::nn::BitsToFloat(static_cast<uint32_t>(lr));
      m.learn_reverse = flags & 1;
      if (!m.shape.Valid() || !(m.lr > 0.0f) || !(m.lr < 1.0f) || (flags & ~1u) ||
          m.shape.weight_count() > (size_t{64} << 20))
        return Status::Corruption("fasta-neural: bad DM shape");
    }
  } else if (h->extra_mix) {
    return Status::Corruption("fasta-neural: mixing bits without a DM");
  }
  if ((h->models & kUseSpum) && !GetLE(&r, 8, &h->spum_id)) return Status::Corruption("fasta-neural: truncated header");
  if ((h->models & kUseSprm) && !GetLE(&r, 8, &h->sprm_id)) return Status::Corruption("fasta-neural: truncated header");
  if (!r.GetByte(&h->smp_percent) || h->smp_percent > 100 || !r.GetVarint(&v) || v == 0 || v > kMaxSubBlocks)
    return Status::Corruption("fasta-neural: bad schedule");
  h->sub_n.resize(v);
  h->sub_len.resize(v);
  for (size_t j = 0; j < v; ++j)
    if (!r.GetVarint(&h->sub_n[j]) || !r.GetVarint(&h->sub_len[j]))
      return Status::Corruption("fasta-neural: truncated schedule");
  *used = in.size() - r.remaining();
  return Status::OK();
}

Status RunSubBlock(const Header& h, size_t j, const std::vector<std::vector<float>>& init,
                   std::vector<std::vector<Handoff>>* handoff, const TokNetModel* spum, const TokNetModel* sprm,
                   const std::function<Status(std::span<BasePredictor* const>)>& code) {
  const size_t S = h.sub_n.size();
  BasePredictor* extra[kMaxExtraPredictors];
  size_t ne = 0;
  std::vector<std::unique_ptr<SmpPredictor>> dms;
  if (h.models & kUseDm) {
    for (size_t d = 0; d < h.dms.size(); ++d) {
      std::vector<float> w;
      if (j > 0 && h.smp_percent) {
        if (!(*handoff)[j][d].Wait(&w)) return Status::Corruption("fasta-neural: previous sub-block failed");
      } else {
        w = init[d];
      }
      Handoff* next = (j + 1 < S && h.smp_percent) ? &(*handoff)[j + 1][d] : nullptr;
      dms.push_back(std::make_unique<SmpPredictor>(h.dms[d], w.data(), next, SnapshotAt(h.sub_n[j], h.smp_percent)));
      extra[ne++] = dms.back().get();
    }
  }
  std::unique_ptr<TokNetPredictor> pu, pr;
  if (spum) extra[ne++] = (pu = std::make_unique<TokNetPredictor>(spum->shape, spum->weights.data(), 0.0f)).get();
  if (sprm) extra[ne++] = (pr = std::make_unique<TokNetPredictor>(sprm->shape, sprm->weights.data(), 0.0f)).get();
  Status st = code(std::span<BasePredictor* const>(extra, ne));
  for (auto& d : dms) d->Finish(st.ok());
  return st;
}

std::vector<std::vector<float>> InitialDmWeights(const Header& h) {
  std::vector<std::vector<float>> init;
  if (h.models & kUseDm)
    for (size_t d = 0; d < h.dms.size(); ++d) init.push_back(TokNetInitialWeights(h.dms[d].shape, h.dm_seeds[d]));
  return init;
}

Status RunSubBlocks(size_t S, int threads, const std::function<Status(size_t)>& fn) {
  std::vector<Status> st(S);
  const size_t T = std::min<size_t>(S, threads <= 0 ? S : static_cast<size_t>(threads));
  if (T <= 1) {
    for (size_t j = 0; j < S; ++j) st[j] = fn(j);
  } else {
    std::mutex mu;
    size_t next = 0;
    std::vector<std::thread> pool;
    for (size_t t = 0; t < T; ++t)
      pool.emplace_back([&] {
        for (;;) {
          size_t j;
          {
            std::lock_guard<std::mutex> l(mu);
            if (next == S) return;
            j = next++;
          }
          st[j] = fn(j);
        }
      });
    for (auto& th : pool) th.join();
  }
  for (auto& s : st)
    if (!s.ok()) return s;
  return Status::OK();
}

Status ResolveStatic(const Header& h, std::shared_ptr<const TokNetModel>* spum,
                     std::shared_ptr<const TokNetModel>* sprm) {
  char buf[64];
  if (h.models & kUseSpum) {
    *spum = FindModel(h.spum_id);
    if (!*spum) {
      snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h.spum_id));
      return Status::NotFound(std::string("fasta-neural: public model ") + buf + " is not in this build");
    }
  }
  if (h.models & kUseSprm) {
    *sprm = FindModel(h.sprm_id);
    if (!*sprm) {
      snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h.sprm_id));
      return Status::NotFound(std::string("fasta-neural: private model ") + buf +
                              " is not loaded (it lives in the store or container that holds this data)");
    }
  }
  return Status::OK();
}

}  // namespace pmklc::neural

namespace pmklc {

Status NeuralDecode(std::string_view in, size_t n, uint8_t* codes, int max_threads) {
  using namespace neural;
  Header h;
  size_t used = 0;
  PMKLC_RETURN_IF_ERROR(ParseHeader(in, &h, &used));
  const size_t S = h.sub_n.size();
  std::vector<size_t> n_at(S + 1, 0), c_at(S + 1, used);
  for (size_t j = 0; j < S; ++j) {
    n_at[j + 1] = n_at[j] + h.sub_n[j];
    c_at[j + 1] = c_at[j] + h.sub_len[j];
    if (n_at[j + 1] > n || c_at[j + 1] > in.size() || c_at[j + 1] < c_at[j])
      return Status::Corruption("fasta-neural: sub-blocks exceed the stream");
  }
  if (n_at[S] != n || c_at[S] != in.size()) return Status::Corruption("fasta-neural: sub-block sizes do not add up");
  std::shared_ptr<const TokNetModel> spum, sprm;
  PMKLC_RETURN_IF_ERROR(ResolveStatic(h, &spum, &sprm));
  const auto init = InitialDmWeights(h);
  std::vector<std::vector<Handoff>> handoff(S);
  for (auto& v : handoff) v = std::vector<Handoff>(h.dms.size());
  return RunSubBlocks(S, max_threads, [&](size_t j) -> Status {
    return RunSubBlock(h, j, init, &handoff, spum.get(), sprm.get(), [&](std::span<BasePredictor* const> extra) {
      return CmDecode(h.cm.FitTo(h.sub_n[j]), in.substr(c_at[j], h.sub_len[j]), h.sub_n[j], codes + n_at[j], extra,
                      h.extra_mix);
    });
  });
}

Result<NeuralStreamInfo> InspectNeuralStream(std::string_view in) {
  neural::Header h;
  size_t used = 0;
  PMKLC_RETURN_IF_ERROR(neural::ParseHeader(in, &h, &used));
  NeuralStreamInfo i;
  i.models = h.models;
  i.sub_blocks = static_cast<uint32_t>(h.sub_n.size());
  i.smp_percent = h.smp_percent;
  i.spum_id = h.spum_id;
  i.sprm_id = h.sprm_id;
  return i;
}

}  // namespace pmklc
