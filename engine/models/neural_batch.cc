#include "engine/models/neural_batch.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <memory>
#include <set>
#include <thread>
#include <utility>

namespace pmklc {

namespace kn = kernels::neuralk;
using neural::SubJob;

namespace {

// The step's shape for a job: the context models with the job's networks
// (DMs, SPuM, SPrM: RunSubBlock's order) as extra predictors.
kn::NeuralShape ShapeOf(const SubJob& j) {
  const neural::Header& h = *j.h;
  kn::NeuralShape s;
  if (h.models & kUseDm) {
    for (const DmSpec& d : h.dms) {
      s.net[s.nets] = d.shape;
      s.lr[s.nets] = d.lr;
      s.reverse[s.nets] = d.learn_reverse;
      ++s.nets;
    }
    s.dms = s.nets;
  }
  for (const TokNetModel* m : {j.spum, j.sprm})
    if (m) s.net[s.nets++] = m->shape;
  s.cm = CmMaxShape(h.cm.FitTo(j.n), static_cast<size_t>(s.nets), h.extra_mix);
  s.snap_at = j.out && s.dms ? j.snap_at : kn::kNoSnap;
  return s;
}

// The DMs' start weights of a job whose `in` (if any) is complete.
Status StartOf(const SubJob& j, std::vector<std::vector<float>>* w) {
  std::vector<std::vector<float>> given;
  if (j.in && !j.in->Wait(&given))
    return Status::Corruption(j.j > 0 ? "fasta-neural: previous sub-block failed" : "fasta-neural: the previous block failed");
  const neural::Header& h = *j.h;
  w->clear();
  if (!(h.models & kUseDm)) return Status::OK();
  for (size_t d = 0; d < h.dms.size(); ++d) {
    w->push_back(d < given.size() && !given[d].empty() ? std::move(given[d])
                                                       : TokNetInitialWeights(h.dms[d].shape, h.dm_seeds[d]));
    if (w->back().size() != h.dms[d].shape.weight_count())
      return Status::Corruption("fasta-neural: passed weights do not fit the DM");
  }
  return Status::OK();
}

enum class JobState : uint8_t { kWaiting, kActive, kDone };

}  // namespace

Status RunNeuralJobs(std::span<SubJob* const> jobs, kn::Slices* slices, size_t slice, std::vector<bool>* done) {
  const size_t N = jobs.size();
  done->assign(N, false);
  std::vector<JobState> state(N, JobState::kWaiting);
  std::vector<size_t> handle(N, 0);
  std::vector<bool> sent(N, false);  // snapshot handed on
  std::set<const DmLink*> inside;    // links some job here publishes
  for (SubJob* j : jobs)
    if (j->out) inside.insert(j->out);
  if (slice == 0) slice = 1;

  // A job is over: its status, and its out link completed.
  auto finish = [&](size_t i, Status st) {
    SubJob& j = *jobs[i];
    j.st = std::move(st);
    if (j.out) j.out->PublishRest(j.st.ok());
    state[i] = JobState::kDone;
    (*done)[i] = true;
  };
  // Hands a published snapshot on.
  auto hand_on = [&](size_t i, const kn::SliceProgress& p) -> Status {
    SubJob& j = *jobs[i];
    if (sent[i] || !p.published || !j.out) return Status::OK();
    const neural::Header& h = *j.h;
    for (size_t d = 0; d < h.dms.size(); ++d) {
      std::vector<float> w(h.dms[d].shape.weight_count());
      PMKLC_RETURN_IF_ERROR(slices->Snapshot(handle[i], static_cast<int>(d), w.data()));
      j.out->Publish(d, std::move(w), true);
    }
    sent[i] = true;
    return Status::OK();
  };

  for (;;) {
    // Start every waiting job whose start is known.
    size_t active = 0;
    for (size_t i = 0; i < N; ++i) active += state[i] == JobState::kActive;
    for (size_t i = 0; i < N; ++i) {
      if (state[i] != JobState::kWaiting) continue;
      SubJob& j = *jobs[i];
      if (j.in && !j.in->complete()) continue;
      std::vector<std::vector<float>> w;
      Status st = StartOf(j, &w);
      if (!st.ok()) {
        finish(i, st);
        continue;
      }
      kn::SliceStream s;
      s.shape = ShapeOf(j);
      s.n = j.n;
      s.encode = j.encode;
      s.codes = j.codes;
      s.in = reinterpret_cast<const unsigned char*>(j.in_bytes.data());
      s.in_len = j.in_bytes.size();
      for (size_t d = 0; d < w.size(); ++d) s.dm_start[d] = w[d].data();
      int k = s.shape.dms;
      for (const TokNetModel* m : {j.spum, j.sprm})
        if (m) s.static_w[k++] = m->weights.data();
      auto h = slices->Add(s);
      if (!h.ok()) {
        if (h.status().code() == Status::Code::kNoMemory && active > 0) break;  // (later, when some finished)
        if (h.status().code() == Status::Code::kIOError) return h.status();
        finish(i, h.status());
        continue;
      }
      handle[i] = *h;
      state[i] = JobState::kActive;
      ++active;
      PMKLC_RETURN_IF_ERROR(hand_on(i, slices->Progress(*h)));
    }
    if (active == 0) {
      // Nothing runs: done, or every waiting job waits for a link that is
      // published outside this batch (by a job another caller runs). The
      // wait is short and the start pass runs again: another of the
      // links may complete first, and a job of this batch it starts may be
      // what the other batch waits for (two batches of one chain, each
      // waiting on the other, would otherwise deadlock).
      DmLink* ext = nullptr;
      for (size_t i = 0; i < N && !ext; ++i)
        if (state[i] == JobState::kWaiting && jobs[i]->in && !inside.count(jobs[i]->in)) ext = jobs[i]->in;
      if (!ext) {
        for (size_t i = 0; i < N; ++i)  // (a cycle cannot be: links point forward)
          if (state[i] == JobState::kWaiting) finish(i, Status::Corruption("fasta-neural: a sub-block waits for itself"));
        return Status::OK();
      }
      (void)ext->WaitFor(10);  // (no lock held)
      continue;
    }
    // The step: a slice, or less where a snapshot someone waits for is
    // nearer (so a chain's next stream starts at 5% of this one, not at
    // the end of a slice).
    std::vector<size_t> run;
    std::vector<size_t> idx;
    size_t budget = slice;
    for (size_t i = 0; i < N; ++i)
      if (state[i] == JobState::kActive) {
        run.push_back(handle[i]);
        idx.push_back(i);
        if (!sent[i] && jobs[i]->out && (jobs[i]->h->models & kUseDm)) {
          const size_t done_i = slices->Progress(handle[i]).done;
          if (jobs[i]->snap_at > done_i) budget = std::min<size_t>(budget, jobs[i]->snap_at - done_i);
        }
      }
    PMKLC_RETURN_IF_ERROR(slices->Advance(run.data(), run.size(), budget));
    for (size_t k = 0; k < idx.size(); ++k) {
      const size_t i = idx[k];
      const kn::SliceProgress p = slices->Progress(handle[i]);
      PMKLC_RETURN_IF_ERROR(hand_on(i, p));
      if (!p.finished) continue;
      SubJob& j = *jobs[i];
      Status st = slices->Take(handle[i], j.bytes, j.dcodes);
      if (st.code() == Status::Code::kIOError) return st;
      if (j.encode && st.code() == Status::Code::kNoMemory) {
        state[i] = JobState::kDone;  // (its output outgrew the device's buffer: not done, the CPU codes it)
        continue;
      }
      finish(i, st);
    }
  }
}

// ---- NeuralBatcher

NeuralBatcher::NeuralBatcher(DeviceChoice device, size_t width, int threads, int linger_ms, size_t slice)
    : device_(device), threads_(threads < 1 ? 1 : threads), slice_(slice), gather_(width, linger_ms) {}

Status NeuralBatcher::Run(std::span<SubJob* const> jobs) {
  Req r;
  r.jobs = jobs;
  gather_.Submit(&r, [this](std::vector<Req*>& batch) { RunBatch(batch); },
                 [](std::vector<Req*>& batch, const std::string& why) {
                   for (Req* q : batch)
                     for (SubJob* j : q->jobs) {
                       j->st = Status::NoMemory("neural batch: " + why);
                       if (j->out) j->out->PublishRest(false);
                     }
                 });
  for (SubJob* j : jobs)
    if (!j->st.ok()) return j->st;
  return Status::OK();
}

void NeuralBatcher::RunBatch(std::vector<Req*>& batch) {
  std::vector<SubJob*> jobs;
  for (Req* q : batch) jobs.insert(jobs.end(), q->jobs.begin(), q->jobs.end());
  std::vector<bool> done(jobs.size(), false);
  std::string gpu_error;
  size_t on_gpu = 0;
  auto gpus = ResolveDevice(device_);
  if (gpus.ok() && !gpus->empty()) {
    int gpu;
    {
      std::lock_guard<std::mutex> l(mu_);
      gpu = (*gpus)[next_gpu_++ % gpus->size()];
    }
    auto slices = kn::NewCudaSlices(CmMaxTables(), gpu);
    Status s = slices.ok() ? RunNeuralJobs(jobs, slices->get(), slice_, &done) : slices.status();
    if (!s.ok()) gpu_error = s.ToString();
    for (bool d : done) on_gpu += d;
  } else if (!gpus.ok()) {
    gpu_error = gpus.status().ToString();
  }
  // What no GPU finished: on the CPU (the same bytes).
  std::vector<SubJob*> rest;
  for (size_t i = 0; i < jobs.size(); ++i)
    if (!done[i]) rest.push_back(jobs[i]);
  if (!rest.empty()) {
    auto cpu = kn::NewCpuSlices(&CmMaxTables(), threads_);
    std::vector<bool> cdone;
    Status s = RunNeuralJobs(rest, cpu.get(), slice_, &cdone);
    for (size_t i = 0; i < rest.size(); ++i)
      if (!cdone[i]) {
        rest[i]->st = s.ok() ? Status::Corruption("neural batch: a job did not run") : s;
        if (rest[i]->out) rest[i]->out->PublishRest(false);
      }
  }
  std::lock_guard<std::mutex> l(mu_);
  ++stats_.batches;
  stats_.on_gpu += on_gpu;
  stats_.on_cpu += jobs.size() - on_gpu;
  if (stats_.gpu_error.empty()) stats_.gpu_error = gpu_error;
}

NeuralBatcher::Stats NeuralBatcher::stats() {
  std::lock_guard<std::mutex> l(mu_);
  return stats_;
}

}  // namespace pmklc
