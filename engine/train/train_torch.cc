// LibTorch trainer of the static token networks (contract in train.h). The
// network matches kernels/toknet.h exactly: per-position embedding tables
// summed (layer 1), ReLU, a linear output layer, softmax; exported with W2
// transposed.
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <random>

#include "engine/train/train.h"

namespace pmklc {

void AppendTrainingCodes(std::string_view in, std::vector<uint8_t>* codes) {
  bool header = false, line_start = true;
  for (char ch : in) {
    if (line_start && ch == '>') header = true;
    if (ch == '\n') {
      line_start = true;
      if (header) {
        header = false;
        if (!codes->empty() && codes->back() != 4) codes->push_back(4);
      }
      continue;
    }
    line_start = false;
    if (header || ch == '\r') continue;
    int c;
    switch (ch | 0x20) {
      case 'a': c = 0; break;
      case 'c': c = 1; break;
      case 'g': c = 2; break;
      case 't': c = 3; break;
      default: c = 4;
    }
    if (c == 4 && (codes->empty() || codes->back() == 4)) continue;
    codes->push_back(static_cast<uint8_t>(c));
  }
  if (!codes->empty() && codes->back() != 4) codes->push_back(4);
}

namespace {

struct Net : torch::nn::Module {
  Net(const kernels::TokNetShape& sh, uint64_t seed) : sh(sh) {
    torch::manual_seed(seed);
    const int64_t rows = int64_t(sh.ctx) * (sh.vocab() + 1);
    E = register_parameter("E", torch::empty({rows, sh.hidden}).uniform_(-0.05, 0.05));
    b1 = register_parameter("b1", torch::zeros({sh.hidden}));
    W2 = register_parameter("W2", torch::empty({sh.outputs(), sh.hidden}).uniform_(-0.05, 0.05));
    b2 = register_parameter("b2", torch::zeros({sh.outputs()}));
  }
  // idx: [B, ctx] row indices c*(vocab+1)+token
  torch::Tensor forward(const torch::Tensor& idx) {
    auto h = torch::embedding(E, idx).sum(1) + b1;
    return torch::relu(h).matmul(W2.t()) + b2;
  }
  kernels::TokNetShape sh;
  torch::Tensor E, b1, W2, b2;
};

}  // namespace

Result<TokNetModel> TrainTokNet(const std::vector<uint8_t>& codes, const TrainOptions& o, TrainReport* rep) {
  const auto& sh = o.shape;
  if (!sh.Valid()) return Status::InvalidArgument("train: bad shape");
  const auto t0 = std::chrono::steady_clock::now();
  if (o.threads > 0) torch::set_num_threads(o.threads);
  // Every step start of every run, as (position of step start, run start).
  std::vector<std::pair<uint32_t, uint32_t>> steps;
  size_t bases = 0;
  {
    size_t run = 0;
    for (size_t i = 0; i <= codes.size(); ++i) {
      if (i == codes.size() || codes[i] == 4) {
        for (size_t p = run; p + sh.s <= i; p += sh.s) steps.emplace_back(uint32_t(p), uint32_t(run));
        bases += i - run;
        run = i + 1;
      }
    }
  }
  if (codes.size() >= (size_t{1} << 32)) return Status::InvalidArgument("train: at most 4 Gi bases");
  if (steps.size() < 10000) return Status::InvalidArgument("train: too little sequence (fewer than 10000 steps)");
  std::mt19937_64 rng(o.seed);
  const size_t N = std::min(o.max_examples, steps.size());
  const int64_t V1 = sh.vocab() + 1;
  auto make_batch = [&](const std::vector<size_t>& pick, size_t from, size_t count, torch::Tensor* idx,
                        torch::Tensor* tgt) {
    *idx = torch::empty({int64_t(count), sh.ctx}, torch::kLong);
    *tgt = torch::empty({int64_t(count)}, torch::kLong);
    auto ia = idx->accessor<int64_t, 2>();
    auto ta = tgt->accessor<int64_t, 1>();
    for (size_t b = 0; b < count; ++b) {
      const auto [pos, run] = steps[pick[from + b]];
      // Tokens complete by pos: token j (from run start) covers [run + j*s, +k).
      const int64_t t = (pos - run) / sh.s;
      const int64_t newest = t - (sh.k + sh.s - 1) / sh.s;  // j*s + k <= t*s
      for (int c = 0; c < sh.ctx; ++c) {
        const int64_t j = newest - c;
        int64_t tok = sh.vocab();
        if (j >= 0) {
          tok = 0;
          for (int i = 0; i < sh.k; ++i) tok = (tok << 2) | codes[run + j * sh.s + i];
        }
        ia[b][c] = c * V1 + tok;
      }
      int64_t y = 0;
      for (int i = 0; i < sh.s; ++i) y = (y << 2) | codes[pos + i];
      ta[b] = y;
    }
  };
  auto net = std::make_shared<Net>(sh, o.seed);
  torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(o.lr));
  double last = 0;
  std::vector<size_t> pick(N);
  for (int ep = 0; ep < o.epochs; ++ep) {
    // A fresh uniform sample of steps each epoch.
    if (N == steps.size()) {
      for (size_t i = 0; i < N; ++i) pick[i] = i;
      std::shuffle(pick.begin(), pick.end(), rng);
    } else {
      std::uniform_int_distribution<size_t> d(0, steps.size() - 1);
      for (auto& p : pick) p = d(rng);
    }
    if (ep == o.epochs - 1 && o.epochs > 1)
      for (auto& g : opt.param_groups()) static_cast<torch::optim::AdamOptions&>(g.options()).lr(o.lr * 0.3);
    double sum = 0;
    size_t seen = 0;
    for (size_t at = 0; at < N; at += o.batch) {
      const size_t cnt = std::min<size_t>(o.batch, N - at);
      torch::Tensor idx, tgt;
      make_batch(pick, at, cnt, &idx, &tgt);
      opt.zero_grad();
      auto loss = torch::nn::functional::cross_entropy(net->forward(idx), tgt);
      loss.backward();
      opt.step();
      sum += loss.item<double>() * cnt;
      seen += cnt;
      if (o.log && (at / o.batch) % 1000 == 999) {
        char buf[128];
        snprintf(buf, sizeof buf, "epoch %d: %zu/%zu steps, loss %.4f bits/base", ep + 1, seen, N,
                 sum / seen / std::log(2.0) / sh.s);
        o.log(buf);
      }
    }
    last = sum / seen / std::log(2.0) / sh.s;
    if (o.log) {
      char buf[128];
      snprintf(buf, sizeof buf, "epoch %d done: loss %.4f bits/base", ep + 1, last);
      o.log(buf);
    }
  }
  TokNetModel m;
  m.shape = sh;
  m.weights.resize(sh.weight_count());
  {
    torch::NoGradGuard ng;
    auto E = net->E.contiguous();
    std::memcpy(m.weights.data(), E.data_ptr<float>(), sh.embed_floats() * 4);
    std::memcpy(m.weights.data() + sh.b1_at(), net->b1.data_ptr<float>(), sh.hidden * 4);
    auto W2T = net->W2.t().contiguous();
    std::memcpy(m.weights.data() + sh.w2_at(), W2T.data_ptr<float>(), size_t(sh.hidden) * sh.outputs() * 4);
    std::memcpy(m.weights.data() + sh.b2_at(), net->b2.data_ptr<float>(), sh.outputs() * 4);
  }
  if (rep) {
    rep->bases = bases;
    rep->examples = N;
    rep->parameters = sh.weight_count();
    rep->epochs = o.epochs;
    rep->final_loss_bits_per_base = last;
    rep->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  return m;
}

}  // namespace pmklc
