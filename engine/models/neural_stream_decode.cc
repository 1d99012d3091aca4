// Decoder of the neural nucleotide stream and the parts of the format shared
// with the encoder (neural_schedule.h).
#include <chrono>
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
  PutVarint(out, h.chain_pos);
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
      if (!m.shape.Valid() || !(m.lr > 0.0f) || !(m.lr <= kMaxDmLr) || (flags & ~1u) ||
          m.shape.weight_count() > kMaxDmWeights)
        return Status::Corruption("fasta-neural: bad DM shape");
    }
  } else if (h->extra_mix) {
    return Status::Corruption("fasta-neural: mixing bits without a DM");
  }
  if ((h->models & kUseSpum) && !GetLE(&r, 8, &h->spum_id)) return Status::Corruption("fasta-neural: truncated header");
  if ((h->models & kUseSprm) && !GetLE(&r, 8, &h->sprm_id)) return Status::Corruption("fasta-neural: truncated header");
  uint64_t pos;
  if (!r.GetByte(&h->smp_percent) || h->smp_percent > 100 || !r.GetVarint(&pos) || pos > 0xffffffffu ||
      !r.GetVarint(&v) || v == 0 || v > kMaxSubBlocks)
    return Status::Corruption("fasta-neural: bad schedule");
  h->chain_pos = static_cast<uint32_t>(pos);
  // Every sub-block holds its own copy of the DMs while it runs.
  size_t dm_floats = 0;
  for (const DmSpec& m : h->dms) dm_floats += m.shape.weight_count();
  if (dm_floats * v > kMaxDmWeights * 4) return Status::Corruption("fasta-neural: DMs too large for the sub-blocks");
  h->sub_n.resize(v);
  h->sub_len.resize(v);
  for (size_t j = 0; j < v; ++j)
    if (!r.GetVarint(&h->sub_n[j]) || !r.GetVarint(&h->sub_len[j]))
      return Status::Corruption("fasta-neural: truncated schedule");
  *used = in.size() - r.remaining();
  return Status::OK();
}

Status RunSubBlock(const Header& h, size_t j, const std::vector<std::vector<float>>& start,
                   std::vector<DmLink*>& link, const TokNetModel* spum, const TokNetModel* sprm,
                   const std::function<Status(std::span<BasePredictor* const>)>& code) {
  BasePredictor* extra[kMaxExtraPredictors];
  size_t ne = 0;
  std::vector<std::unique_ptr<SmpPredictor>> dms;
  DmLink* next = link[j + 1];
  // Whatever happens below, the next sub-block's link gets completed (with
  // ok = false on failure), so no one waits for this one forever.
  struct Guard {
    DmLink* l;
    bool ok = false;
    ~Guard() {
      if (l) l->PublishRest(ok);
    }
  } guard{next};
  if (h.models & kUseDm) {
    std::vector<std::vector<float>> w;
    if (j > 0 && h.smp_percent) {
      if (!link[j]->Wait(&w)) return Status::Corruption("fasta-neural: previous sub-block failed");
    } else {
      w = start;
    }
    const uint64_t snap = h.smp_percent ? SnapshotAt(h.sub_n[j], h.smp_percent) : 0;
    for (size_t d = 0; d < h.dms.size(); ++d) {
      const std::vector<float> init = d < w.size() && !w[d].empty() ? w[d] : TokNetInitialWeights(h.dms[d].shape, h.dm_seeds[d]);
      if (init.size() != h.dms[d].shape.weight_count())
        return Status::Corruption("fasta-neural: passed weights do not fit the DM");
      dms.push_back(std::make_unique<SmpPredictor>(d, h.dms[d], init.data(), next, snap));
      extra[ne++] = dms.back().get();
    }
  }
  std::unique_ptr<TokNetPredictor> pu, pr;
  if (spum) extra[ne++] = (pu = std::make_unique<TokNetPredictor>(spum->shape, spum->weights.data(), 0.0f)).get();
  if (sprm) extra[ne++] = (pr = std::make_unique<TokNetPredictor>(sprm->shape, sprm->weights.data(), 0.0f)).get();
  Status st = code(std::span<BasePredictor* const>(extra, ne));
  for (auto& d : dms) d->Finish(st.ok());
  guard.ok = st.ok();
  return st;
}

Status StartWeights(const Header& h, const NeuralChain* chain, std::vector<std::vector<float>>* start) {
  start->clear();
  if (h.chain_pos == 0) return Status::OK();  // empty: each DM's initial weights
  if (!chain || !chain->in)
    return Status::NotSupported("fasta-neural: this block continues the previous block's dynamic models "
                                "(step-wise model passing); decode its container in order");
  if (!chain->in->Wait(start)) return Status::Corruption("fasta-neural: the previous block failed");
  return Status::OK();
}

// fn(j), with an allocation failure (or any exception) turned into a
// status: nothing may escape a coding thread.
static Status Guarded(const std::function<Status(size_t)>& fn, size_t j) {
  try {
    return fn(j);
  } catch (const std::bad_alloc&) {
    return Status::NoMemory("fasta-neural: out of memory");
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("fasta-neural: ") + e.what());
  }
}

Status RunSubBlocks(size_t S, int threads, const std::function<Status(size_t)>& fn) {
  std::vector<Status> st(S);
  const size_t T = std::min<size_t>(S, threads <= 0 ? S : static_cast<size_t>(threads));
  if (T <= 1) {
    for (size_t j = 0; j < S; ++j) st[j] = Guarded(fn, j);
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
          st[j] = Guarded(fn, j);
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

Status RunStream(const Header& h, const std::vector<std::vector<float>>& start, DmLink* out, int threads,
                 const TokNetModel* spum, const TokNetModel* sprm,
                 const std::function<Status(size_t, std::span<BasePredictor* const>)>& code) {
  const size_t S = h.sub_n.size();
  std::vector<DmLink> inner(S);
  std::vector<DmLink*> link(S + 1, nullptr);
  for (size_t j = 1; j < S; ++j)
    if (h.smp_percent && (h.models & kUseDm)) {
      inner[j].Reset(h.dms.size());
      link[j] = &inner[j];
    }
  if (out) {
    if (h.models & kUseDm) {
      out->Reset(h.dms.size());
      link[S] = out;
    } else {
      // No DM here: the next block starts from what this one was given.
      out->Reset(start.size());
      for (size_t d = 0; d < start.size(); ++d) out->Publish(d, start[d], true);
    }
  }
  if (!h.smp_percent) link[S] = nullptr;  // SMP off: the next block starts fresh (PublishRest)
  return RunSubBlocks(S, threads, [&](size_t j) -> Status {
    return RunSubBlock(h, j, start, link, spum, sprm,
                       [&](std::span<BasePredictor* const> extra) { return code(j, extra); });
  });
}

Status RunStreamOn(SubCoder* coder, const Header& h, DmLink* chain_in, DmLink* out, const TokNetModel* spum,
                   const TokNetModel* sprm, const std::function<void(SubJob*)>& io) {
  const size_t S = h.sub_n.size();
  const bool dm = (h.models & kUseDm) != 0;
  if (h.chain_pos > 0 && !chain_in) {
    std::vector<std::vector<float>> none;
    NeuralChain c;
    return StartWeights(h, &c, &none);  // (NotSupported, as on the CPU)
  }
  DmLink* block_in = h.chain_pos > 0 ? chain_in : nullptr;
  if (!dm) {
    // No DM here: the next block starts from what this one was given.
    std::vector<std::vector<float>> start;
    NeuralChain c;
    c.in = block_in;
    PMKLC_RETURN_IF_ERROR(StartWeights(h, &c, &start));
    if (out) {
      out->Reset(start.size());
      for (size_t d = 0; d < start.size(); ++d) out->Publish(d, start[d], true);
    }
  }
  std::vector<DmLink> inner(S);
  std::vector<DmLink*> link(S + 1, nullptr);
  for (size_t j = 1; j < S; ++j)
    if (h.smp_percent && dm) {
      inner[j].Reset(h.dms.size());
      link[j] = &inner[j];
    }
  if (out && dm && h.smp_percent) {
    out->Reset(h.dms.size());
    link[S] = out;
  }
  std::vector<SubJob> jobs(S);
  std::vector<SubJob*> ptr(S);
  for (size_t j = 0; j < S; ++j) {
    SubJob& job = jobs[j];
    job.h = &h;
    job.j = j;
    job.in = dm ? (j > 0 && h.smp_percent ? link[j] : block_in) : nullptr;
    job.out = link[j + 1];
    job.snap_at = job.out ? SnapshotAt(h.sub_n[j], h.smp_percent) : 0;
    job.spum = spum;
    job.sprm = sprm;
    job.n = h.sub_n[j];
    io(&job);
    ptr[j] = &job;
  }
  return coder->Run(ptr);
}

}  // namespace pmklc::neural

namespace pmklc {

void DmLink::Reset(size_t dms) {
  std::lock_guard<std::mutex> l(mu_);
  w_.assign(dms, {});
  done_.assign(dms, false);
  left_ = dms;
  ok_ = true;
  started_ = true;
  if (left_ == 0) cv_.notify_all();
}

void DmLink::Publish(size_t d, std::vector<float> w, bool ok) {
  std::lock_guard<std::mutex> l(mu_);
  if (!started_ || d >= done_.size() || done_[d]) return;
  w_[d] = std::move(w);
  done_[d] = true;
  ok_ = ok_ && ok;
  if (--left_ == 0) cv_.notify_all();
}

void DmLink::PublishRest(bool ok) {
  std::lock_guard<std::mutex> l(mu_);
  if (!started_) {
    started_ = true;
    left_ = 0;
  }
  for (size_t d = 0; d < done_.size(); ++d)
    if (!done_[d]) {
      done_[d] = true;
      --left_;
    }
  ok_ = ok_ && ok;  // a failure reaches the waiter even when every slot was filled
  cv_.notify_all();
}

bool DmLink::Wait(std::vector<std::vector<float>>* w) {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait(l, [&] { return started_ && left_ == 0; });
  if (ok_) *w = w_;
  return ok_;
}

bool DmLink::WaitFor(int ms) {
  std::unique_lock<std::mutex> l(mu_);
  return cv_.wait_for(l, std::chrono::milliseconds(ms), [&] { return started_ && left_ == 0; });
}

void ForwardChain(const NeuralChain& c) {
  if (!c.out || c.out->complete()) return;
  std::vector<std::vector<float>> w;
  bool ok = true;
  if (c.pos > 0 && c.in) ok = c.in->Wait(&w);
  c.out->Reset(w.size());
  for (size_t d = 0; d < w.size(); ++d) c.out->Publish(d, w[d], ok);
  if (!ok) c.out->PublishRest(false);
}

bool DmLink::complete() {
  std::lock_guard<std::mutex> l(mu_);
  return started_ && left_ == 0;
}

}  // namespace pmklc

namespace pmklc {

Status NeuralDecode(std::string_view in, size_t n, uint8_t* codes, int max_threads, const NeuralChain* chain,
                    neural::SubCoder* coder) {
  using namespace neural;
  Header h;
  size_t used = 0;
  PMKLC_RETURN_IF_ERROR(ParseHeader(in, &h, &used));
  const size_t S = h.sub_n.size();
  std::vector<size_t> n_at(S + 1, 0), c_at(S + 1, used);
  for (size_t j = 0; j < S; ++j) {
    if (h.sub_n[j] > n - n_at[j] || h.sub_len[j] > in.size() - c_at[j] || (h.sub_n[j] == 0 && S > 1))
      return Status::Corruption("fasta-neural: sub-blocks exceed the stream");
    n_at[j + 1] = n_at[j] + h.sub_n[j];
    c_at[j + 1] = c_at[j] + h.sub_len[j];
    if (n_at[j + 1] > n || c_at[j + 1] > in.size() || c_at[j + 1] < c_at[j])
      return Status::Corruption("fasta-neural: sub-blocks exceed the stream");
  }
  if (n_at[S] != n || c_at[S] != in.size()) return Status::Corruption("fasta-neural: sub-block sizes do not add up");
  std::shared_ptr<const TokNetModel> spum, sprm;
  Status st = ResolveStatic(h, &spum, &sprm);
  DmLink* out = chain ? chain->out : nullptr;
  if (coder && st.ok()) {
    st = RunStreamOn(coder, h, chain ? chain->in : nullptr, out, spum.get(), sprm.get(), [&](SubJob* job) {
      job->encode = false;
      job->in_bytes = in.substr(c_at[job->j], h.sub_len[job->j]);
      job->dcodes = codes + n_at[job->j];
    });
    if (out) out->PublishRest(st.ok());
    return st;
  }
  std::vector<std::vector<float>> start;
  if (st.ok()) st = StartWeights(h, chain, &start);
  if (st.ok()) st = RunStream(h, start, out, max_threads, spum.get(), sprm.get(),
                              [&](size_t j, std::span<BasePredictor* const> extra) {
                                return CmDecode(h.cm.FitTo(h.sub_n[j]), in.substr(c_at[j], h.sub_len[j]), h.sub_n[j],
                                                codes + n_at[j], extra, h.extra_mix);
                              });
  if (out) out->PublishRest(st.ok());
  return st;
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
  i.chain_pos = h.chain_pos;
  return i;
}

}  // namespace pmklc
