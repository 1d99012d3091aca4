#include "engine/models/cm_batch.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "engine/common/parse.h"
#include "engine/models/neural_batch.h"
#include "kernels/cm_max_batch.h"
#include "kernels/cm_slim_batch.h"
#include "kernels/cpu/run_threads.h"
#include "kernels/device.h"

namespace pmklc {

std::string DeviceChoice::Name() const {
  switch (kind) {
    case kCpu: return "cpu";
    case kCuda: return gpu < 0 ? "cuda" : "cuda:" + std::to_string(gpu);
    default: return "auto";
  }
}

Result<DeviceChoice> ParseDevice(std::string_view s) {
  DeviceChoice d;
  if (s == "auto") return d;
  if (s == "cpu") {
    d.kind = DeviceChoice::kCpu;
    return d;
  }
  if (s == "cuda") {
    d.kind = DeviceChoice::kCuda;
    return d;
  }
  if (s.substr(0, 5) == "cuda:" && s.size() > 5 && s.size() <= 8) {
    int v = 0;
    for (char c : s.substr(5)) {
      if (c < '0' || c > '9') return Status::InvalidArgument("device: expected auto, cpu, cuda or cuda:N, got '" + std::string(s) + "'");
      v = v * 10 + (c - '0');
    }
    d.kind = DeviceChoice::kCuda;
    d.gpu = v;
    return d;
  }
  return Status::InvalidArgument("device: expected auto, cpu, cuda or cuda:N, got '" + std::string(s) + "'");
}

Result<std::vector<int>> ResolveDevice(const DeviceChoice& d) {
  std::vector<int> out;
  if (d.kind == DeviceChoice::kCpu) return out;
  auto g = kernels::ListGpus();
  if (!g.ok()) {
    if (d.kind == DeviceChoice::kAuto) return out;
    return Status::NotSupported("device " + d.Name() + ": no usable GPU (" + g.status().message() + ")");
  }
  for (const kernels::GpuInfo& i : *g)
    if (d.gpu < 0 || i.index == d.gpu) out.push_back(i.index);
  if (out.empty()) return Status::NotSupported("device " + d.Name() + ": no such GPU (" + std::to_string(g->size()) + " found)");
  return out;
}

namespace {

// fn() as a Status, whatever it throws.
template <class Fn>
Status Guard(Fn&& fn) {
  try {
    return fn();
  } catch (const std::exception& e) {
    return Status::NoMemory(std::string("cm batch: ") + e.what());
  } catch (...) {
    return Status::NoMemory("cm batch: unknown exception");
  }
}

// Runs fn(i) for i in [0, n) on `threads` threads; returns the status of the
// lowest failing i.
template <class Fn>
Status ParallelFor(size_t n, int threads, Fn&& fn) {
  std::vector<Status> st(n);
  std::atomic<size_t> next{0};
  // (nothing thrown may end a thread: an exception is that item's status)
  kernels::RunOnThreads(n, threads, [&] {
    for (size_t i; (i = next.fetch_add(1)) < n;) st[i] = Guard([&] { return fn(i); });
  });
  for (Status& s : st)
    if (!s.ok()) return s;
  return Status::OK();
}

// The kernel a stream runs on a GPU: the slim step for its (K, fast), or
// the general model's (kMaxKernel).
constexpr int kMaxKernel = -1;
int KernelOf(const CmParams& p) {
  if (!CmUsesSlimPath(p)) return kMaxKernel;
  const auto sh = CmSlimShape(p);
  return sh.k * 2 + (sh.fast ? 1 : 0);
}

// The items split by kernel (one launch each) and over the GPUs.
struct GpuPlan {
  // gpu -> kernel -> item indices
  std::map<int, std::map<int, std::vector<size_t>>> work;
};

template <class Item>
GpuPlan PlanGpus(std::span<const Item> items, const std::vector<int>& gpus, std::vector<bool>* on_gpu) {
  GpuPlan plan;
  on_gpu->assign(items.size(), false);
  if (gpus.empty()) return plan;
  size_t rr = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    plan.work[gpus[rr++ % gpus.size()]][KernelOf(items[i].params)].push_back(i);
    (*on_gpu)[i] = true;
  }
  return plan;
}

// Runs the plan, one host thread a GPU; the items of a GPU that failed are
// marked back to the CPU.
template <class RunOne>
void RunPlan(const GpuPlan& plan, std::vector<bool>* on_gpu, CmBatchReport* report, RunOne&& run) {
  std::mutex mu;
  std::vector<std::thread> th;
  for (const auto& [gpu, groups] : plan.work) {
    auto body = [&, gpu = gpu, &groups = groups] {
      for (const auto& item : groups) {
        // (named, not a structured binding: clang before 16 cannot capture those)
        const auto& kernel = std::get<0>(item);
        const auto& idx = std::get<1>(item);
        Status s = Guard([&] { return run(gpu, kernel, idx); });
        if (!s.ok()) {
          std::lock_guard<std::mutex> l(mu);
          for (size_t i : idx) (*on_gpu)[i] = false;
          if (report && report->gpu_error.empty()) report->gpu_error = s.ToString();
        }
      }
    };
    try {
      th.emplace_back(body);
    } catch (...) {
      body();  // (no thread to be had: this GPU's batches run here)
    }
  }
  for (auto& t : th) t.join();
}

// Runs gpu() on a thread of its own (when there is GPU work) while cpu()
// runs here, and returns when both have; gpu() runs inline first when no
// thread can be started.
template <class Gpu, class Cpu>
void Beside(bool any_gpu, Gpu&& gpu, Cpu&& cpu) {
  std::thread t;
  if (any_gpu) {
    try {
      t = std::thread(gpu);
    } catch (...) {
      gpu();
    }
  }
  cpu();
  if (t.joinable()) t.join();
}

// Counts where the items ran, keeps their statuses, returns the first failure.
Status Finish(const std::vector<bool>& on_gpu, std::vector<Status> st, CmBatchReport* report) {
  Status first;
  for (Status& s : st)
    if (!s.ok() && first.ok()) first = s;
  if (report) {
    size_t g = 0;
    for (bool b : on_gpu) g += b;
    report->on_gpu += g;
    report->on_cpu += st.size() - g;
    report->each = std::move(st);
  }
  return first;
}

}  // namespace

Status CmEncodeBatch(std::span<const CmEncodeItem> items, const CmBatchOptions& opts, CmBatchReport* report) {
  auto gpus = ResolveDevice(opts.device);
  if (!gpus.ok()) return gpus.status();
  std::vector<bool> on_gpu;
  const GpuPlan plan = PlanGpus(items, *gpus, &on_gpu);
  // The GPUs' outputs land here first (an item's out is appended to only
  // once, by whoever coded it).
  std::vector<std::string> gpu_out(items.size());
  std::vector<size_t> cpu;  // (before the GPU thread may change on_gpu)
  for (size_t i = 0; i < items.size(); ++i)
    if (!on_gpu[i]) cpu.push_back(i);
  auto gpu_part = [&] {
    RunPlan(plan, &on_gpu, report, [&](int gpu, int kernel, const std::vector<size_t>& idx) {
      if (kernel == kMaxKernel) {
        std::vector<kernels::cmmax::EncodeJob> jobs(idx.size());
        for (size_t j = 0; j < idx.size(); ++j) {
          const CmEncodeItem& it = items[idx[j]];
          jobs[j].shape = CmMaxShape(it.params);
          jobs[j].codes = it.codes;
          jobs[j].n = it.n;
          jobs[j].out = &gpu_out[idx[j]];
        }
        return kernels::cmmax::EncodeBatchCuda(jobs.data(), jobs.size(), CmMaxTables(), gpu);
      }
      std::vector<kernels::cmslim::EncodeJob> jobs(idx.size());
      for (size_t j = 0; j < idx.size(); ++j) {
        const CmEncodeItem& it = items[idx[j]];
        jobs[j].shape = CmSlimShape(it.params);
        jobs[j].codes = it.codes;
        jobs[j].n = it.n;
        jobs[j].out = &gpu_out[idx[j]];
      }
      return kernels::cmslim::EncodeBatchCuda(jobs.data(), jobs.size(), CmSlimTables(), gpu);
    });
  };
  // Meanwhile the CPU threads code what no GPU takes.
  std::vector<Status> st(items.size());
  Beside(!plan.work.empty(), gpu_part, [&] {
    (void)ParallelFor(cpu.size(), opts.threads, [&](size_t k) {
      const CmEncodeItem& it = items[cpu[k]];
      st[cpu[k]] = CmEncode(it.params, it.codes, it.n, it.out);
      return Status::OK();
    });
  });
  // Streams a failed GPU held: on the CPU now.
  std::vector<size_t> late;
  for (size_t i = 0; i < items.size(); ++i) {
    if (gpus->empty()) continue;
    if (on_gpu[i]) items[i].out->append(gpu_out[i]);
    else late.push_back(i);
  }
  (void)ParallelFor(late.size(), opts.threads, [&](size_t k) {
    const CmEncodeItem& it = items[late[k]];
    st[late[k]] = CmEncode(it.params, it.codes, it.n, it.out);
    return Status::OK();
  });
  return Finish(on_gpu, std::move(st), report);
}

Status CmDecodeBatch(std::span<const CmDecodeItem> items, const CmBatchOptions& opts, CmBatchReport* report) {
  auto gpus = ResolveDevice(opts.device);
  if (!gpus.ok()) return gpus.status();
  std::vector<bool> on_gpu;
  const GpuPlan plan = PlanGpus(items, *gpus, &on_gpu);
  std::vector<char> gpu_ok(items.size(), 0);
  std::vector<size_t> cpu;
  for (size_t i = 0; i < items.size(); ++i)
    if (!on_gpu[i]) cpu.push_back(i);
  auto gpu_part = [&] {
    RunPlan(plan, &on_gpu, report, [&](int gpu, int kernel, const std::vector<size_t>& idx) {
      if (kernel == kMaxKernel) {
        std::vector<kernels::cmmax::DecodeJob> jobs(idx.size());
        for (size_t j = 0; j < idx.size(); ++j) {
          const CmDecodeItem& it = items[idx[j]];
          jobs[j].shape = CmMaxShape(it.params);
          jobs[j].in = reinterpret_cast<const unsigned char*>(it.in.data());
          jobs[j].in_len = it.in.size();
          jobs[j].n = it.n;
          jobs[j].codes = it.codes;
        }
        Status s = kernels::cmmax::DecodeBatchCuda(jobs.data(), jobs.size(), CmMaxTables(), gpu);
        if (s.ok())
          for (size_t j = 0; j < idx.size(); ++j) gpu_ok[idx[j]] = jobs[j].ok;
        return s;
      }
      std::vector<kernels::cmslim::DecodeJob> jobs(idx.size());
      for (size_t j = 0; j < idx.size(); ++j) {
        const CmDecodeItem& it = items[idx[j]];
        jobs[j].shape = CmSlimShape(it.params);
        jobs[j].in = reinterpret_cast<const unsigned char*>(it.in.data());
        jobs[j].in_len = it.in.size();
        jobs[j].n = it.n;
        jobs[j].codes = it.codes;
      }
      Status s = kernels::cmslim::DecodeBatchCuda(jobs.data(), jobs.size(), CmSlimTables(), gpu);
      if (s.ok())
        for (size_t j = 0; j < idx.size(); ++j) gpu_ok[idx[j]] = jobs[j].ok;
      return s;
    });
  };
  std::vector<Status> st(items.size());
  Beside(!plan.work.empty(), gpu_part, [&] {
    (void)ParallelFor(cpu.size(), opts.threads, [&](size_t k) {
      const CmDecodeItem& it = items[cpu[k]];
      st[cpu[k]] = CmDecode(it.params, it.in, it.n, it.codes);
      return Status::OK();
    });
  });
  std::vector<size_t> late;
  for (size_t i = 0; i < items.size(); ++i) {
    if (gpus->empty()) continue;
    if (on_gpu[i]) st[i] = gpu_ok[i] ? Status::OK() : Status::Corruption("cm: input too short");
    else late.push_back(i);
  }
  (void)ParallelFor(late.size(), opts.threads, [&](size_t k) {
    const CmDecodeItem& it = items[late[k]];
    st[late[k]] = CmDecode(it.params, it.in, it.n, it.codes);
    return Status::OK();
  });
  return Finish(on_gpu, std::move(st), report);
}


// ---- CmBatcher

struct CmBatcher::Req {
  bool encode = true;
  const CmParams* p = nullptr;
  const uint8_t* codes = nullptr;  // encode
  std::string* out = nullptr;
  std::string_view in;             // decode
  uint8_t* dcodes = nullptr;
  size_t n = 0;
  Status st;
  bool done = false;
};

CmBatcher::CmBatcher(DeviceChoice device, size_t width, int linger_ms)
    : device_(device), width_(width < 1 ? 1 : width), gather_(width_, linger_ms) {
  if (device.kind != DeviceChoice::kCpu)
    neural_ = std::make_unique<NeuralBatcher>(device, width_,
                                              static_cast<int>(std::max<unsigned>(1, std::thread::hardware_concurrency())),
                                              linger_ms);
}

CmBatcher::~CmBatcher() = default;

neural::SubCoder* CmBatcher::Neural() { return neural_.get(); }

Status CmBatcher::Encode(const CmParams& p, const uint8_t* codes, size_t n, std::string* out) {
  if (device_.kind == DeviceChoice::kCpu) {
    {
      std::lock_guard<std::mutex> l(mu_);
      ++stats_.on_cpu;
    }
    return CmEncode(p, codes, n, out);
  }
  Req r;
  r.p = &p;
  r.codes = codes;
  r.n = n;
  r.out = out;
  return Submit(&r);
}

Status CmBatcher::Decode(const CmParams& p, std::string_view in, size_t n, uint8_t* codes) {
  if (device_.kind == DeviceChoice::kCpu) {
    {
      std::lock_guard<std::mutex> l(mu_);
      ++stats_.on_cpu;
    }
    return CmDecode(p, in, n, codes);
  }
  Req r;
  r.encode = false;
  r.p = &p;
  r.in = in;
  r.n = n;
  r.dcodes = codes;
  return Submit(&r);
}

Status CmBatcher::Submit(Req* r) {
  // (no lock held while a batch codes; nothing thrown leaves a caller waiting)
  gather_.Submit(r, [this](std::vector<Req*>& batch) { Run(batch); },
                 [](std::vector<Req*>& batch, const std::string& why) {
                   for (Req* q : batch) q->st = Status::NoMemory("cm batch: " + why);
                 });
  return r->st;
}

void CmBatcher::Run(std::vector<Req*>& batch) {
  CmBatchOptions o;
  o.device = device_;
  o.threads = static_cast<int>(std::max<unsigned>(1, std::thread::hardware_concurrency()));
  std::vector<CmEncodeItem> enc;
  std::vector<CmDecodeItem> dec;
  std::vector<Req*> er, dr;
  for (Req* q : batch) {
    if (q->encode) {
      enc.push_back({*q->p, q->codes, q->n, q->out});
      er.push_back(q);
    } else {
      dec.push_back({*q->p, q->in, q->n, q->dcodes});
      dr.push_back(q);
    }
  }
  CmBatchReport re, rd;
  const Status se = enc.empty() ? Status::OK() : CmEncodeBatch(enc, o, &re);
  const Status sd = dec.empty() ? Status::OK() : CmDecodeBatch(dec, o, &rd);
  for (size_t i = 0; i < er.size(); ++i) er[i]->st = re.each.size() == er.size() ? re.each[i] : se;
  for (size_t i = 0; i < dr.size(); ++i) dr[i]->st = rd.each.size() == dr.size() ? rd.each[i] : sd;
  std::lock_guard<std::mutex> l(mu_);
  ++stats_.batches;
  stats_.on_gpu += re.on_gpu + rd.on_gpu;
  stats_.on_cpu += re.on_cpu + rd.on_cpu;
  if (stats_.gpu_error.empty()) stats_.gpu_error = !re.gpu_error.empty() ? re.gpu_error : rd.gpu_error;
}

CmBatcher::Stats CmBatcher::stats() {
  std::lock_guard<std::mutex> l(mu_);
  return stats_;
}

}  // namespace pmklc
