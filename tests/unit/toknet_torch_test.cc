// The CPU token-network kernels against LibTorch on the same weights: the
// forward pass and one SGD step agree within 1e-5 relative. (LibTorch is the
// reference here and the trainer of the static models; it never runs in
// encode or decode.) A separate test binary: only it and the trainer include
// LibTorch.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <random>
#include <vector>

#include "engine/models/toknet_predictor.h"
#include "kernels/toknet.h"

namespace pmklc {
namespace {

using kernels::TokNetShape;

double MaxRelDiff(const float* a, const float* b, size_t n) {
  double scale = 0, diff = 0;
  for (size_t i = 0; i < n; ++i) {
    scale = std::max(scale, std::fabs(double(b[i])));
    diff = std::max(diff, std::fabs(double(a[i]) - double(b[i])));
  }
  return scale > 0 ? diff / scale : diff;
}

TEST(TokNetVsTorch, ForwardAndSgdStepAgree) {
  for (auto sh : {TokNetShape{3, 3, 16, 128}, TokNetShape{2, 1, 10, 40}, TokNetShape{4, 2, 6, 64}}) {
    std::vector<float> w = TokNetInitialWeights(sh, 21, 0.2f, 0.2f);
    std::mt19937 g(5);
    for (int i = 0; i < sh.hidden; ++i) w[sh.b1_at() + i] = (int(g() % 200) - 100) * 1e-3f;
    std::vector<uint32_t> tok(sh.ctx);
    for (auto& t : tok) t = g() % (sh.vocab() + 1);
    const int target = static_cast<int>(g() % sh.outputs());
    const float lr = 0.05f;

    std::vector<float> h(sh.hidden), z(sh.outputs()), p(sh.outputs()), scratch(sh.hidden);
    kernels::TokNetForwardCpu(sh, w.data(), tok.data(), h.data(), z.data(), p.data());
    std::vector<float> w1 = w;
    kernels::TokNetUpdateCpu(sh, w1.data(), tok.data(), h.data(), p.data(), target, lr, scratch.data());

    // The same network in LibTorch.
    const int64_t rows = int64_t(sh.ctx) * (sh.vocab() + 1);
    auto W = torch::from_blob(w.data(), {int64_t(w.size())}, torch::kFloat).clone();
    auto E = W.narrow(0, 0, rows * sh.hidden).view({rows, sh.hidden}).clone().requires_grad_(true);
    auto b1 = W.narrow(0, sh.b1_at(), sh.hidden).clone().requires_grad_(true);
    auto W2 = W.narrow(0, sh.w2_at(), int64_t(sh.hidden) * sh.outputs())
                  .view({sh.hidden, sh.outputs()}).t().contiguous().requires_grad_(true);
    auto b2 = W.narrow(0, sh.b2_at(), sh.outputs()).clone().requires_grad_(true);
    auto idx = torch::empty({1, sh.ctx}, torch::kLong);
    for (int c = 0; c < sh.ctx; ++c) idx[0][c] = int64_t(c) * (sh.vocab() + 1) + tok[c];
    auto hid = torch::embedding(E, idx).sum(1) + b1;
    auto logits = torch::relu(hid).matmul(W2.t()) + b2;
    auto probs = torch::softmax(logits, 1).contiguous();
    EXPECT_LT(MaxRelDiff(p.data(), probs.data_ptr<float>(), sh.outputs()), 1e-5);
    auto loss = torch::nn::functional::cross_entropy(logits, torch::full({1}, target, torch::kLong));
    loss.backward();
    torch::NoGradGuard ng;
    auto E1 = (E - lr * E.grad()).contiguous();
    auto b11 = (b1 - lr * b1.grad()).contiguous();
    auto W21 = (W2 - lr * W2.grad()).t().contiguous();
    auto b21 = (b2 - lr * b2.grad()).contiguous();
    EXPECT_LT(MaxRelDiff(w1.data(), E1.data_ptr<float>(), sh.embed_floats()), 1e-5);
    EXPECT_LT(MaxRelDiff(w1.data() + sh.b1_at(), b11.data_ptr<float>(), sh.hidden), 1e-5);
    EXPECT_LT(MaxRelDiff(w1.data() + sh.w2_at(), W21.data_ptr<float>(), size_t(sh.hidden) * sh.outputs()), 1e-5);
    EXPECT_LT(MaxRelDiff(w1.data() + sh.b2_at(), b21.data_ptr<float>(), sh.outputs()), 1e-5);
  }
}

}  // namespace
}  // namespace pmklc
