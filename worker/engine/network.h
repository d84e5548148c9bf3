// The MLP: `depth` hidden layers (of `width` units, or of the sizes `hidden` lists), a
// linear output layer and softmax cross-entropy. Parameters and their gradients live in one flat buffer each
// (per layer: W, b, activation parameters), so optimizers are single loops.
// Templated on the scalar: float trains, double checks gradients.
#ifndef ACTGRID_WORKER_ENGINE_NETWORK_H_
#define ACTGRID_WORKER_ENGINE_NETWORK_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "actgrid/v1/spec.pb.h"
#include "common/spec/formula.h"
#include "common/spec/names.h"
#include "worker/engine/activation.h"
#include "worker/engine/formula_eval.h"
#include "worker/engine/gemm.h"
#include "worker/engine/init.h"
#include "worker/engine/random.h"

namespace actgrid::engine {

struct NetworkShape {
  int inputs = 0;
  int classes = 0;
  int depth = 1;
  int width = 1;
  v1::ActivationSpec activation;
  std::vector<int> hidden;  // per hidden layer sizes; empty = `depth` layers of `width`
};


template <class T>
class Network {
 public:
  // Where one layer's pieces sit in the flat parameter buffer.
  struct Layer {
    int in = 0;     // inputs
    int rows = 0;   // pre-activations (units * k for maxout)
    int units = 0;  // outputs
    size_t w = 0, b = 0, p = 0;  // offsets of W (rows x in), b (rows), activation params
    int learnable = 0;           // activation parameters per unit
  };

  // Scratch memory for batches of up to `capacity` samples; allocated once.
  struct Workspace {
    int capacity = 0;
    std::vector<std::vector<T>> z, a, d;  // per hidden layer, rows/units x capacity
    std::vector<std::vector<int>> arg;    // maxout: winning piece per unit and sample
    std::vector<T> logits, grad_out, da, dz, x;
  };

  // Sum of the per-sample losses and number of correct predictions of a batch.
  struct BatchStats {
    double loss_sum = 0.0;
    int correct = 0;
  };

  explicit Network(const NetworkShape& shape) : shape_(shape) {
    kind_ = shape.activation.kind();
    pieces_ = kind_ == v1::ACTIVATION_KIND_MAXOUT ? int(shape.activation.params(0)) : 1;
    hyper_.assign(shape.activation.params().begin(), shape.activation.params().end());
    int learnable = spec::LearnablePerNeuron(kind_);
    for (int q = 0; q < learnable; ++q) learn_init_.push_back(hyper_[size_t(q)]);
    if (kind_ == v1::ACTIVATION_KIND_FORMULA) CompileFormula(shape.activation, &learnable);
    size_t off = 0;
    int in = shape.inputs;
    for (int l = 0; l <= shape.depth; ++l) {
      const bool out = l == shape.depth;
      Layer layer;
      layer.in = in;
      const int width = shape.hidden.empty() ? shape.width : shape.hidden[size_t(l)];
      layer.units = out ? shape.classes : width;
      layer.rows = out ? shape.classes : width * pieces_;
      layer.learnable = out ? 0 : learnable;
      layer.w = off;
      weight_ranges_.push_back({off, size_t(layer.rows) * in});
      off += size_t(layer.rows) * in;
      layer.b = off;
      off += layer.rows;
      layer.p = off;
      off += size_t(layer.learnable) * layer.units;
      layers_.push_back(layer);
      in = layer.units;
    }
    params_.assign(off, T(0));
    grads_.assign(off, T(0));
  }

  const NetworkShape& shape() const { return shape_; }
  const std::vector<Layer>& layers() const { return layers_; }
  int hidden_layers() const { return shape_.depth; }
  std::vector<T>& params() { return params_; }
  const std::vector<T>& params() const { return params_; }
  std::vector<T>& grads() { return grads_; }
  const std::vector<T>& grads() const { return grads_; }
  // (offset, length) of every weight matrix: the entries L2 decay applies to.
  const std::vector<std::pair<size_t, size_t>>& weight_ranges() const { return weight_ranges_; }

  // Weights from `init` (fan_in = inputs, fan_out = pre-activations of the layer), every
  // bias = `bias`, activation parameters at their spec values. InvalidArgument for an
  // activation or init kind the engine does not know (no stand-in for either), in which
  // case the network must not be used.
  absl::Status Initialize(const v1::InitSpec& init, double bias, Rng& rng) {
    if (kind_ == v1::ACTIVATION_KIND_FORMULA) {
      if (!formula_) return formula_error_;
    } else if (spec::FindActivation(kind_) == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown activation kind ", int(kind_)));
    }
    for (const Layer& layer : layers_) {
      absl::StatusOr<std::vector<double>> w = InitWeights(init, layer.in, layer.rows, rng);
      if (!w.ok()) return w.status();
      for (size_t i = 0; i < w->size(); ++i) params_[layer.w + i] = T((*w)[i]);
      for (int i = 0; i < layer.rows; ++i) params_[layer.b + i] = T(bias);
      for (int q = 0; q < layer.learnable; ++q)
        for (int i = 0; i < layer.units; ++i)
          params_[layer.p + size_t(q) * layer.units + i] = T(learn_init_[size_t(q)]);
    }
    return absl::OkStatus();
  }

  Workspace MakeWorkspace(int capacity) const {
    Workspace ws;
    ws.capacity = capacity;
    int widest = shape_.inputs;
    for (int l = 0; l < shape_.depth; ++l) {
      const Layer& layer = layers_[l];
      ws.z.emplace_back(size_t(layer.rows) * capacity);
      ws.a.emplace_back(size_t(layer.units) * capacity);
      ws.d.emplace_back(size_t(layer.rows) * capacity);
      ws.arg.emplace_back(pieces_ > 1 ? size_t(layer.units) * capacity : 0);
      widest = std::max(widest, layer.rows);
    }
    widest = std::max(widest, shape_.classes);
    ws.logits.resize(size_t(shape_.classes) * capacity);
    ws.grad_out.resize(size_t(shape_.classes) * capacity);
    ws.da.resize(size_t(widest) * capacity);
    ws.dz.resize(size_t(widest) * capacity);
    ws.x.resize(size_t(shape_.inputs) * capacity);
    return ws;
  }

  // Runs n <= capacity samples (columns of x, inputs x n) forward. With labels, also
  // leaves softmax - onehot in grad_out and counts correct predictions; the loss sum
  // (logarithms) is computed only when `want_loss`.
  BatchStats Forward(const T* x, const int32_t* labels, int n, Workspace& ws,
                     bool want_loss = true) const {
    const T* in = x;
    for (int l = 0; l < shape_.depth; ++l) {
      ForwardHidden(l, in, n, ws);
      in = ws.a[l].data();
    }
    const Layer& out = layers_.back();
    Affine<T>(Weights(out), ConstMatMap<T>(in, out.in, n), params_.data() + out.b,
              MatMap<T>(ws.logits.data(), out.rows, n));
    return labels ? SoftmaxLoss(labels, n, ws, want_loss) : BatchStats{};
  }

  // After Forward(x, labels, n): writes into grads() the gradient of
  //   mean cross-entropy + l1 * mean over samples of sum |hidden activations|.
  void Backward(const T* x, int n, double l1, Workspace& ws) {
    std::fill(grads_.begin(), grads_.end(), T(0));
    const T inv_n = T(1) / T(n);
    const Layer& out = layers_.back();
    MatMap<T> g(ws.grad_out.data(), out.rows, n);
    g *= inv_n;
    const T* top = shape_.depth > 0 ? ws.a[shape_.depth - 1].data() : x;
    AccumulateLayerGrads(out, g.data(), top, n);
    MatMap<T> da(ws.da.data(), out.in, n);
    Gemm<T>(true, false, Weights(out), ConstMatMap<T>(g.data(), out.rows, n), da);
    for (int l = shape_.depth - 1; l >= 0; --l) {
      const Layer& layer = layers_[l];
      T* dz = ws.dz.data();
      HiddenDeltas(l, n, T(l1) * inv_n, ws, dz);
      const T* below = l > 0 ? ws.a[l - 1].data() : x;
      AccumulateLayerGrads(layer, dz, below, n);
      if (l > 0) {
        MatMap<T> prev(ws.da.data(), layer.in, n);
        Gemm<T>(true, false, Weights(layer), ConstMatMap<T>(dz, layer.rows, n), prev);
      }
    }
  }

  // The training objective on n samples (for checks): mean CE + l1 activity penalty.
  double Objective(const T* x, const int32_t* labels, int n, double l1, Workspace& ws) const {
    const BatchStats stats = Forward(x, labels, n, ws);
    double penalty = 0.0;
    for (int l = 0; l < shape_.depth; ++l)
      for (size_t i = 0; i < size_t(layers_[l].units) * n; ++i) penalty += std::abs(double(ws.a[l][i]));
    return stats.loss_sum / n + l1 * penalty / n;
  }

  // Whether hidden unit (l, i) had a nonzero derivative for sample j of the last Forward.
  bool UnitActive(const Workspace& ws, int l, int i, int j) const {
    if (pieces_ > 1) return true;  // maxout always passes gradient to its winning piece
    return ws.d[l][size_t(j) * layers_[l].rows + i] != T(0);
  }

 private:
  ConstMatMap<T> Weights(const Layer& layer) const {
    return ConstMatMap<T>(params_.data() + layer.w, layer.rows, layer.in);
  }

  ActContext<T> Context(const Layer& layer, const T* learn) const {
    return ActContext<T>{hyper_.data(), learn, layer.units};
  }

  // A formula activation's programs, compiled for this spec's parameter values. A spec
  // that does not compile (ValidateTrialSpec refuses it first) leaves formula_ empty and
  // Initialize reports why.
  void CompileFormula(const v1::ActivationSpec& a, int* learnable) {
    const v1::FormulaSpec& f = a.formula();
    const std::vector<std::string> names(f.params().begin(), f.params().end());
    absl::StatusOr<spec::Formula> parsed = spec::Formula::Parse(f.text(), names);
    if (!parsed.ok()) {
      formula_error_ = parsed.status();
      return;
    }
    std::vector<int> slots;
    for (size_t i = 0; i < names.size(); ++i)
      if (std::find(f.learnable().begin(), f.learnable().end(), names[i]) != f.learnable().end())
        slots.push_back(int(i));
    absl::StatusOr<spec::CompiledActivation> compiled = parsed->Compile(hyper_, slots);
    if (!compiled.ok()) {
      formula_error_ = compiled.status();
      return;
    }
    formula_.emplace(*std::move(compiled));
    *learnable = formula_->learnable();
    learn_init_.clear();
    for (int q = 0; q < *learnable; ++q) learn_init_.push_back(hyper_[size_t(formula_->learnable_param(q))]);
  }

  void ForwardHidden(int l, const T* in, int n, Workspace& ws) const {
    const Layer& layer = layers_[l];
    const T* b = params_.data() + layer.b;
    T* __restrict z = ws.z[l].data();
    Affine<T>(Weights(layer), ConstMatMap<T>(in, layer.in, n), b, MatMap<T>(z, layer.rows, n));
    T* __restrict a = ws.a[l].data();
    if (pieces_ > 1) {
      MaxoutForward(layer, n, z, a, ws.arg[l].data());
      return;
    }
    T* __restrict d = ws.d[l].data();
    const int rows = layer.rows;
    if (formula_) {
      formula_->Forward(z, rows, n, params_.data() + layer.p, a, d);
      return;
    }
    VisitActivation<T>(kind_, Context(layer, params_.data() + layer.p), [&](const auto& op) {
      using Op = std::decay_t<decltype(op)>;
      // Activation and derivative in one pass over the pre-activations (bias is already
      // in z); one flat loop when no parameter depends on the unit.
      if constexpr (Op::kLearnable == 0) {
        const size_t total = size_t(rows) * n;
        for (size_t e = 0; e < total; ++e) {
          const T f = op.F(z[e], 0);
          a[e] = f;
          d[e] = op.D(z[e], f, 0);
        }
      } else {
        for (int j = 0; j < n; ++j)
          for (int i = 0; i < rows; ++i) {
            const size_t e = size_t(j) * rows + i;
            const T f = op.F(z[e], i);
            a[e] = f;
            d[e] = op.D(z[e], f, i);
          }
      }
      return 0;
    });
  }

  // Maxout: unit u outputs max over its pieces u*k .. u*k+k-1 (after bias). A NaN piece
  // wins (and keeps winning: nothing compares greater than NaN), so it is not skipped.
  void MaxoutForward(const Layer& layer, int n, const T* z, T* a, int* arg) const {
    const int k = pieces_;
    for (int j = 0; j < n; ++j) {
      const T* zc = z + size_t(j) * layer.rows;
      for (int u = 0; u < layer.units; ++u) {
        int best = u * k;
        for (int q = 1; q < k; ++q) {
          const T v = zc[u * k + q];
          if (v > zc[best] || std::isnan(v)) best = u * k + q;
        }
        a[size_t(j) * layer.units + u] = zc[best];
        arg[size_t(j) * layer.units + u] = best;
      }
    }
  }

  // dz = (da + l1' sign(a)) * f'(z); also accumulates the activation-parameter grads.
  void HiddenDeltas(int l, int n, T l1_scaled, Workspace& ws, T* dz) {
    const Layer& layer = layers_[l];
    T* da = ws.da.data();
    const T* a = ws.a[l].data();
    if (l1_scaled != T(0))
      for (size_t i = 0; i < size_t(layer.units) * n; ++i)
        da[i] += a[i] > T(0) ? l1_scaled : (a[i] < T(0) ? -l1_scaled : T(0));
    if (pieces_ > 1) {
      std::fill(dz, dz + size_t(layer.rows) * n, T(0));
      const int* arg = ws.arg[l].data();
      for (int j = 0; j < n; ++j)
        for (int u = 0; u < layer.units; ++u)
          dz[size_t(j) * layer.rows + arg[size_t(j) * layer.units + u]] = da[size_t(j) * layer.units + u];
      return;
    }
    const T* d = ws.d[l].data();
    for (size_t i = 0; i < size_t(layer.rows) * n; ++i) dz[i] = da[i] * d[i];
    if (layer.learnable == 0) return;
    const T* z = ws.z[l].data();
    T* pg = grads_.data() + layer.p;
    if (formula_) {
      formula_->ParamGrads(z, da, layer.rows, n, params_.data() + layer.p, pg);
      return;
    }
    VisitActivation<T>(kind_, Context(layer, params_.data() + layer.p), [&](const auto& op) {
      using Op = std::decay_t<decltype(op)>;
      if constexpr (Op::kLearnable > 0) {
        for (int j = 0; j < n; ++j)
          for (int i = 0; i < layer.rows; ++i) {
            const size_t e = size_t(j) * layer.rows + i;
            op.Grad(z[e], i, da[e], pg, layer.units);
          }
      }
      return 0;
    });
  }

  // dW = delta * input^T, db = row sums of delta.
  void AccumulateLayerGrads(const Layer& layer, const T* delta, const T* input, int n) {
    ConstMatMap<T> dm(delta, layer.rows, n);
    Gemm<T>(false, true, dm, ConstMatMap<T>(input, layer.in, n),
            MatMap<T>(grads_.data() + layer.w, layer.rows, layer.in));
    AddRowSums<T>(layer.rows, n, delta, grads_.data() + layer.b);
  }

  // Per sample: loss = log sum exp(z) - z_y (shifted by max z); grad_out = softmax - onehot.
  BatchStats SoftmaxLoss(const int32_t* labels, int n, Workspace& ws, bool want_loss) const {
    BatchStats stats;
    const int c = shape_.classes;
    for (int j = 0; j < n; ++j) {
      const T* z = ws.logits.data() + size_t(j) * c;
      T* g = ws.grad_out.data() + size_t(j) * c;
      int best = 0;
      for (int i = 1; i < c; ++i)
        if (z[i] > z[best]) best = i;
      const T m = z[best];
      T sum = T(0);
      for (int i = 0; i < c; ++i) {
        g[i] = i == best ? T(1) : std::exp(z[i] - m);
        sum += g[i];
      }
      const T inv = T(1) / sum;
      for (int i = 0; i < c; ++i) g[i] *= inv;
      const int y = labels[j];
      g[y] -= T(1);
      if (want_loss) stats.loss_sum += double(std::log(sum) - (z[y] - m));
      stats.correct += best == y && std::isfinite(sum);  // non-finite outputs predict nothing
    }
    return stats;
  }

  NetworkShape shape_;
  v1::ActivationKind kind_;
  int pieces_ = 1;
  std::vector<double> hyper_;
  std::vector<double> learn_init_;  // the initial value of each learnable parameter slot
  // A formula activation's programs (mutable: they keep their block registers).
  mutable std::optional<FormulaRunner<T>> formula_;
  absl::Status formula_error_ = absl::InvalidArgumentError("no formula");
  std::vector<Layer> layers_;
  std::vector<std::pair<size_t, size_t>> weight_ranges_;
  std::vector<T> params_, grads_;
};

}  // namespace actgrid::engine

#endif  // ACTGRID_WORKER_ENGINE_NETWORK_H_
