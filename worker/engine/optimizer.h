// Optimizers over the network's flat parameter buffer (PyTorch's conventions):
//   sgd:      w -= lr * g
//   momentum: v = mu * v + g;  w -= lr * v
//   adam:     m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
//             w -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
// with coupled L2 decay on weight matrices only: g += l2 * w.
#ifndef ACTGRID_WORKER_ENGINE_OPTIMIZER_H_
#define ACTGRID_WORKER_ENGINE_OPTIMIZER_H_

#include <cmath>
#include <utility>
#include <vector>

#include "actgrid/v1/spec.pb.h"

namespace actgrid::engine {

template <class T>
class Optimizer {
 public:
  Optimizer(const v1::TrainSpec& train, size_t size,
            const std::vector<std::pair<size_t, size_t>>& weight_ranges)
      : kind_(train.optimizer()),
        lr_(T(train.lr())),
        l2_(T(train.l2())),
        mu_(T(train.momentum())),
        b1_(T(train.beta1())),
        b2_(T(train.beta2())),
        eps_(T(train.eps())),
        weight_ranges_(weight_ranges) {
    if (kind_ != v1::OPTIMIZER_SGD) m_.assign(size, T(0));
    if (kind_ == v1::OPTIMIZER_ADAM) v_.assign(size, T(0));
  }

  // One update of `params` from `grads` (grads are modified when L2 is on).
  void Step(std::vector<T>& params, std::vector<T>& grads) {
    if (l2_ != T(0))
      for (const auto& [off, len] : weight_ranges_)
        for (size_t i = off; i < off + len; ++i) grads[i] += l2_ * params[i];
    T* p = params.data();
    const T* g = grads.data();
    const size_t n = params.size();
    switch (kind_) {
      case v1::OPTIMIZER_MOMENTUM:
        for (size_t i = 0; i < n; ++i) {
          m_[i] = mu_ * m_[i] + g[i];
          p[i] -= lr_ * m_[i];
        }
        break;
      case v1::OPTIMIZER_ADAM: {
        ++t_;
        const T step = lr_ / (T(1) - T(std::pow(double(b1_), double(t_))));
        const T inv_sqrt_c2 = T(1) / T(std::sqrt(1.0 - std::pow(double(b2_), double(t_))));
        for (size_t i = 0; i < n; ++i) {
          m_[i] = b1_ * m_[i] + (T(1) - b1_) * g[i];
          v_[i] = b2_ * v_[i] + (T(1) - b2_) * g[i] * g[i];
          p[i] -= step * m_[i] / (std::sqrt(v_[i]) * inv_sqrt_c2 + eps_);
        }
        break;
      }
      default:
        for (size_t i = 0; i < n; ++i) p[i] -= lr_ * g[i];
        break;
    }
  }

 private:
  v1::Optimizer kind_;
  T lr_, l2_, mu_, b1_, b2_, eps_;
  long t_ = 0;
  std::vector<std::pair<size_t, size_t>> weight_ranges_;
  std::vector<T> m_, v_;
};

}  // namespace actgrid::engine

#endif  // ACTGRID_WORKER_ENGINE_OPTIMIZER_H_
