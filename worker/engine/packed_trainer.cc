// Packed training (packed_trainer.h). Every loop over lanes is the innermost one, of
// fixed length kPackLanes, and touches lane k's values only: the compiler turns it into
// vector instructions of whatever width the build has, and each lane still performs the
// same scalar operations in the same order. This file is compiled with
// -ffp-contract=off (worker/engine/CMakeLists.txt), so no build fuses a multiply and an
// add where another does not.
#include "worker/engine/packed_trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <type_traits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/spec/names.h"
#include "common/spec/summary.h"
#include "common/spec/trial_key.h"
#include "common/spec/validate.h"
#include "worker/engine/activation.h"
#include "worker/engine/gemm.h"
#include "worker/engine/network.h"
#include "worker/engine/random.h"

// The tests compile this file a second time for baseline x86-64 (no -march=native) into
// namespace `portable` (ACTGRID_PACKED_VARIANT, see packed_trainer.h), to check that
// both builds give the same bits (packed_test.cc).

namespace actgrid::engine {
inline namespace ACTGRID_PACKED_VARIANT {
namespace {

using Clock = std::chrono::steady_clock;

// The random streams of a trial seed, as RunTrial uses them.
constexpr uint64_t kInitStream = 11;
constexpr uint64_t kOrderStream = 12;

// Per-lane scalars.
template <class T, int L>
struct alignas(64) LaneArray {
  T v[L];
  T& operator[](int k) { return v[k]; }
  const T& operator[](int k) const { return v[k]; }
};

// A pack of some width; PackedTrainer's pimpl.
class PackBase {
 public:
  virtual ~PackBase() = default;
  // The shape every lane shares, from `shape` (a Packable, valid spec).
  virtual void Setup(const v1::TrialSpec& shape) = 0;
  virtual int Width() const = 0;
  virtual int FreeLanes() const = 0;
  virtual bool Empty() const = 0;
  virtual absl::Status Admit(int64_t id, const v1::TrialSpec& spec, TrialHooks hooks) = 0;
  virtual std::vector<PackedTrainer::Ended> Advance() = 0;
};

// A pack of L lanes. Every width runs the same scalar operations in every lane, so a
// trial's bits do not depend on the width of the pack it trains in.
template <int L>
class Pack final : public PackBase {
 public:
  template <class T>
  using Lanes = LaneArray<T, L>;

  explicit Pack(const Dataset& data) : data_(data) {}

  void Setup(const v1::TrialSpec& shape) override;
  int Width() const override { return L; }
  int FreeLanes() const override { return L - used_count_; }
  bool Empty() const override { return used_count_ == 0; }
  absl::Status Admit(int64_t id, const v1::TrialSpec& spec, TrialHooks hooks) override;
  std::vector<PackedTrainer::Ended> Advance() override;

 private:
  struct Layer {
    int in = 0, units = 0;
    size_t w = 0, b = 0, p = 0;
    int learnable = 0;
  };
  // What a lane holds besides its interleaved values.
  struct Trial {
    int64_t id = 0;
    v1::TrialSpec spec;
    TrialHooks hooks;
    v1::TrialResult out;
    Rng order_rng{0};
    std::vector<int> order;
    int epoch = 0;          // the epoch measured last (0 once measured at all)
    bool measured = false;  // epoch 0 measured: it trains from the next round
    long steps = 0;
    Clock::time_point start;
  };

  // need_deriv: keep f'(z) of every hidden layer (for Backward and the probe statistics).
  void Forward(int n, bool want_loss, Lanes<double>* loss, Lanes<long>* correct, bool need_deriv = true);
  void Backward(int n, const float* l1_scaled);
  template <bool kMasked>
  void Step(const Lanes<bool>& train);
  void TrainEpoch(const Lanes<bool>& train);
  void ActivationForward(const Layer& layer, int l, int n);
  void LearnableGrads(const Layer& layer, int l, int n, const float* da);
  ActContext<float> LearnableContext(const Layer& layer) const;
  void Evaluate(const Eigen::MatrixXf& x, const std::vector<int32_t>& y, bool probe, std::vector<v1::EpochMetrics>* m,
                Lanes<double>* loss, Lanes<long>* correct);
  void MeasureProbe(int n, std::vector<v1::EpochMetrics>* m);
  void OnParams(int k, int epoch);
  // Ends lane k's trial with `result` (or, when it is OK, the trial's own result) and
  // clears the lane.
  void EndLane(int k, absl::Status status, std::vector<PackedTrainer::Ended>* ended);
  std::vector<float> LaneParams(int k) const;
  void SetLaneParams(int k, const std::vector<float>& params);

  const Dataset& data_;

  // Shape, shared by every lane.
  int features_ = 0, classes_ = 0, depth_ = 0, batch_ = 0, probe_ = 0, capacity_ = 0;
  v1::ActivationKind kind_ = v1::ACTIVATION_KIND_UNSPECIFIED;
  std::vector<double> hyper_;
  NetworkShape shape_;
  std::vector<Layer> layers_;  // hidden layers, then the output layer
  size_t nparams_ = 0;
  std::vector<std::pair<size_t, size_t>> weight_ranges_;
  v1::Optimizer optimizer_ = v1::OPTIMIZER_SGD;

  // Per lane.
  Lanes<float> lr_{}, l2_{}, mu_{}, b1_{}, b2_{}, eps_{}, l1_{};
  Lanes<long> adam_t_{};
  Lanes<bool> used_{};
  int used_count_ = 0;
  std::vector<Trial> trials_ = std::vector<Trial>(L);

  // Lane-interleaved buffers.
  std::vector<float> params_, grads_, m_, v_;
  std::vector<std::vector<float>> z_, a_, d_;  // per hidden layer: capacity x units x L
  std::vector<float> logits_, gout_, da_, dz_, x_;
  std::vector<float> wt_;  // one layer's W^T, for BackInputs in narrow packs
  std::vector<int> probe_active_;  // MeasureProbe's per-unit tallies
  std::vector<double> probe_part_;
  std::vector<long> probe_zero_;
  std::vector<float> shared_x_;  // capacity x features: an input every lane shares
  bool shared_input_ = false;    // whether Forward and Backward read shared_x_
  std::vector<int32_t> y_;                      // capacity x L
  std::vector<float> learn_grad_;  // a layer's learnable parameters' gradients, interleaved
};

template <int L>
void Pack<L>::Setup(const v1::TrialSpec& first) {
  features_ = data_.features;
  classes_ = data_.classes;
  depth_ = first.depth();
  kind_ = first.activation().kind();
  hyper_.assign(first.activation().params().begin(), first.activation().params().end());
  optimizer_ = first.train().optimizer();
  const int n_train = int(data_.train_y.size());
  batch_ = std::max(1, std::min(first.train().batch(), n_train));
  probe_ = std::min(spec::kProbeSamples, n_train);
  capacity_ = std::max(batch_, probe_);

  shape_ = NetworkShape{features_, classes_, depth_, first.model().width(), first.activation(),
                        first.model().hidden().empty() ? std::vector<int>() : spec::HiddenSizes(first)};
  Network<float> layout(shape_);
  for (const auto& nl : layout.layers()) {
    Layer layer;
    layer.in = nl.in;
    layer.units = nl.units;
    layer.w = nl.w;
    layer.b = nl.b;
    layer.p = nl.p;
    layer.learnable = nl.learnable;
    layers_.push_back(layer);
  }
  nparams_ = layout.params().size();
  weight_ranges_ = layout.weight_ranges();
  params_.assign(nparams_ * L, 0.0f);
  grads_.assign(nparams_ * L, 0.0f);
  if (optimizer_ != v1::OPTIMIZER_SGD) m_.assign(nparams_ * L, 0.0f);
  if (optimizer_ == v1::OPTIMIZER_ADAM) v_.assign(nparams_ * L, 0.0f);
  int widest = features_;
  for (int l = 0; l < depth_; ++l) {
    const int units = layers_[size_t(l)].units;
    z_.emplace_back(size_t(capacity_) * units * L);
    a_.emplace_back(size_t(capacity_) * units * L);
    d_.emplace_back(size_t(capacity_) * units * L);
    widest = std::max(widest, units);
  }
  widest = std::max(widest, classes_);
  logits_.assign(size_t(capacity_) * classes_ * L, 0.0f);
  gout_.assign(size_t(capacity_) * classes_ * L, 0.0f);
  da_.assign(size_t(capacity_) * widest * L, 0.0f);
  dz_.assign(size_t(capacity_) * widest * L, 0.0f);
  x_.assign(size_t(capacity_) * features_ * L, 0.0f);
  size_t largest = 0;
  for (const Layer& layer : layers_) largest = std::max(largest, size_t(layer.units) * layer.in);
  wt_.assign(largest * L, 0.0f);
  shared_x_.assign(size_t(capacity_) * features_, 0.0f);
  y_.assign(size_t(capacity_) * L, 0);
}

template <int L>
absl::Status Pack<L>::Admit(int64_t id, const v1::TrialSpec& s, TrialHooks hooks) {
  int k = 0;
  while (k < L && used_[k]) ++k;
  if (k == L) return absl::FailedPreconditionError("no free lane in the pack");
  Network<float> net(shape_);
  Rng init_rng(s.seed(), kInitStream);
  if (absl::Status init = net.Initialize(s.init(), s.bias(), init_rng); !init.ok()) return init;
  SetLaneParams(k, net.params());
  for (std::vector<float>* state : {&m_, &v_})
    for (size_t p = 0; p < state->size() / L; ++p) (*state)[p * L + size_t(k)] = 0.0f;
  lr_[k] = float(s.train().lr());
  l2_[k] = float(s.train().l2());
  mu_[k] = float(s.train().momentum());
  b1_[k] = float(s.train().beta1());
  b2_[k] = float(s.train().beta2());
  eps_[k] = float(s.train().eps());
  l1_[k] = float(s.train().l1_activity());
  adam_t_[k] = 0;
  Trial& t = trials_[size_t(k)];
  t = Trial();
  t.id = id;
  t.spec = s;
  t.hooks = std::move(hooks);
  *t.out.mutable_spec() = s;
  t.order_rng = Rng(s.seed(), kOrderStream);
  t.order.resize(data_.train_y.size());
  std::iota(t.order.begin(), t.order.end(), 0);
  t.start = Clock::now();
  used_[k] = true;
  ++used_count_;
  return absl::OkStatus();
}

template <int L>
std::vector<float> Pack<L>::LaneParams(int k) const {
  std::vector<float> out(nparams_);
  for (size_t p = 0; p < nparams_; ++p) out[p] = params_[p * L + size_t(k)];
  return out;
}

template <int L>
void Pack<L>::SetLaneParams(int k, const std::vector<float>& params) {
  for (size_t p = 0; p < nparams_; ++p) params_[p * L + size_t(k)] = params[p];
}

// z = W in + b for every sample, lane by lane in the innermost loop. `in` is samples x
// in_dim x L, or with kShared samples x in_dim, the same input for every lane (the
// evaluation passes). The sum runs over the inputs in order, starting from the bias.
// The affine pass of a layer, handing each finished row block to store(j, o, acc):
// acc[o][k] is z(o0 + o) of sample j in lane k. Up to kBlock rows at a time keep their
// accumulators in registers while the inputs stream past; W(o, i) for consecutive o
// are consecutive in memory.
constexpr int kBlock = 8;

// Splits 0..count into blocks of kBlock, then one of 4, 2 and 1 as needed, and runs
// body(first, std::integral_constant<int, size>) for each: every loop over a block has
// a trip count the compiler knows, so narrow packs vectorize along it. How the rows are
// grouped changes no sum (each row's runs on its own).
template <class Body>
inline void ForBlocks(int count, Body&& body) {
  int first = 0;
  for (; first + kBlock <= count; first += kBlock) body(first, std::integral_constant<int, kBlock>{});
  if (count - first >= 4) {
    body(first, std::integral_constant<int, 4>{});
    first += 4;
  }
  if (count - first >= 2) {
    body(first, std::integral_constant<int, 2>{});
    first += 2;
  }
  if (count - first >= 1) body(first, std::integral_constant<int, 1>{});
}

template <int L, bool kShared, class Store>
void AffineBlocks(const float* __restrict params, size_t w, size_t b, int rows, int in_dim,
                  const float* __restrict in, int n, Store&& store) {
  for (int j = 0; j < n; ++j) {
    const float* xj = in + size_t(j) * in_dim * (kShared ? 1 : L);
    ForBlocks(rows, [&](int o0, auto block) {
        constexpr int ob = decltype(block)::value;
        float acc[ob][L];
        for (int o = 0; o < ob; ++o)
          for (int k = 0; k < L; ++k) acc[o][k] = params[(b + size_t(o0 + o)) * L + k];
        for (int i = 0; i < in_dim; ++i) {
          const float* wcol = params + (w + size_t(o0) + size_t(rows) * i) * L;
          float xv[L];
          for (int k = 0; k < L; ++k) xv[k] = kShared ? xj[i] : xj[size_t(i) * L + k];
          for (int o = 0; o < ob; ++o)
            for (int k = 0; k < L; ++k) acc[o][k] = acc[o][k] + wcol[size_t(o) * L + k] * xv[k];
        }
        store(j, o0, ob, acc);
      });
  }
}

// z = W in + b for every sample and lane; `in` is samples x in_dim x L, or with kShared
// samples x in_dim, the same input for every lane (the evaluation passes). The sum runs
// over the inputs in order, starting from the bias.
template <int L, bool kShared>
void Affine(const float* __restrict params, size_t w, size_t b, int rows, int in_dim, const float* __restrict in,
            int n, float* __restrict out) {
  AffineBlocks<L, kShared>(params, w, b, rows, in_dim, in, n, [&](int j, int o0, int ob, const float (*acc)[L]) {
    float* zj = out + (size_t(j) * rows + size_t(o0)) * L;
    for (int o = 0; o < ob; ++o)
      for (int k = 0; k < L; ++k) zj[size_t(o) * L + k] = acc[o][k];
  });
}

// The same z, and the activation applied as each block is done: a = f(z) and, with
// kDeriv, d = f'(z). For activations without learnable parameters (one op for every
// lane); z itself is not kept.
template <int L, bool kShared, bool kDeriv, class Op>
void AffineActivate(const Op& op, const float* __restrict params, size_t w, size_t b, int rows, int in_dim,
                    const float* __restrict in, int n, float* __restrict a, float* __restrict d) {
  AffineBlocks<L, kShared>(params, w, b, rows, in_dim, in, n, [&](int j, int o0, int ob, const float (*acc)[L]) {
    float* aj = a + (size_t(j) * rows + size_t(o0)) * L;
    float* dj = d + (size_t(j) * rows + size_t(o0)) * L;
    for (int o = 0; o < ob; ++o)
      for (int k = 0; k < L; ++k) {
        const float z = acc[o][k];
        const float f = op.F(z, 0);
        aj[size_t(o) * L + k] = f;
        if constexpr (kDeriv) dj[size_t(o) * L + k] = op.D(z, f, 0);
      }
  });
}

// An activation with learnable parameters reads value q of unit i at
// learn[q * units + i]; the lane-interleaved buffer holds lane k's at
// (q * units + i) * L + k. So one op over the interleaved buffer, told it has
// units * L units and asked for unit i * L + k, reads lane k's own parameters: the lane
// loop stays the innermost, over consecutive values.
template <int L>
ActContext<float> Pack<L>::LearnableContext(const Layer& layer) const {
  return ActContext<float>{hyper_.data(), params_.data() + layer.p * L, layer.units * L};
}

// a = f(z) and d = f'(z) for an activation with learnable parameters, each lane with
// its own parameters.
template <int L>
void Pack<L>::ActivationForward(const Layer& layer, int l, int n) {
  const float* z = z_[size_t(l)].data();
  float* a = a_[size_t(l)].data();
  float* d = d_[size_t(l)].data();
  VisitActivation<float>(kind_, LearnableContext(layer), [&](const auto& op) {
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < layer.units; ++i)
        for (int k = 0; k < L; ++k) {
          const size_t e = (size_t(j) * layer.units + size_t(i)) * L + size_t(k);
          const float f = op.F(z[e], i * L + k);
          a[e] = f;
          d[e] = op.D(z[e], f, i * L + k);
        }
    return 0;
  });
}

template <int L>
void Pack<L>::Forward(int n, bool want_loss, Lanes<double>* loss, Lanes<long>* correct, bool need_deriv) {
  const float* in = x_.data();
  int in_dim = features_;
  for (int l = 0; l < depth_; ++l) {
    const Layer& layer = layers_[size_t(l)];
    const bool shared = l == 0 && shared_input_;
    const float* input = shared ? shared_x_.data() : in;
    if (layer.learnable == 0) {
      // Affine and activation in one pass over the layer.
      float* a = a_[size_t(l)].data();
      float* d = d_[size_t(l)].data();
      VisitActivation<float>(kind_, ActContext<float>{hyper_.data(), nullptr, layer.units}, [&](const auto& op) {
        if (shared && need_deriv)
          AffineActivate<L, true, true>(op, params_.data(), layer.w, layer.b, layer.units, in_dim, input, n, a, d);
        else if (shared)
          AffineActivate<L, true, false>(op, params_.data(), layer.w, layer.b, layer.units, in_dim, input, n, a, d);
        else if (need_deriv)
          AffineActivate<L, false, true>(op, params_.data(), layer.w, layer.b, layer.units, in_dim, input, n, a, d);
        else
          AffineActivate<L, false, false>(op, params_.data(), layer.w, layer.b, layer.units, in_dim, input, n, a, d);
        return 0;
      });
    } else {
      if (shared)
        Affine<L, true>(params_.data(), layer.w, layer.b, layer.units, in_dim, input, n, z_[0].data());
      else
        Affine<L, false>(params_.data(), layer.w, layer.b, layer.units, in_dim, input, n, z_[size_t(l)].data());
      ActivationForward(layer, l, n);
    }
    in = a_[size_t(l)].data();
    in_dim = layer.units;
  }
  const Layer& out = layers_.back();
  if (depth_ == 0 && shared_input_)
    Affine<L, true>(params_.data(), out.w, out.b, classes_, in_dim, shared_x_.data(), n, logits_.data());
  else
    Affine<L, false>(params_.data(), out.w, out.b, classes_, in_dim, in, n, logits_.data());
  // Softmax cross-entropy per sample and lane: g = softmax - onehot, the lane loops
  // inside (the exponentials and logarithms are libm calls, one per value).
  const int c = classes_;
  for (int j = 0; j < n; ++j) {
    const float* zj = logits_.data() + size_t(j) * c * L;
    float* gj = gout_.data() + size_t(j) * c * L;
    const int32_t* yj = y_.data() + size_t(j) * L;
    float m[L], sum[L], t[L];
    int best[L];
    for (int k = 0; k < L; ++k) {
      m[k] = zj[k];
      best[k] = 0;
      sum[k] = 0.0f;
    }
    for (int i = 1; i < c; ++i)
      for (int k = 0; k < L; ++k) {
        const float v = zj[size_t(i) * L + k];
        const bool greater = v > m[k];
        m[k] = greater ? v : m[k];
        best[k] = greater ? i : best[k];
      }
    for (int i = 0; i < c; ++i) {
      for (int k = 0; k < L; ++k) t[k] = zj[size_t(i) * L + k] - m[k];
      for (int k = 0; k < L; ++k) t[k] = std::exp(t[k]);
      for (int k = 0; k < L; ++k) {
        const float g = i == best[k] ? 1.0f : t[k];
        gj[size_t(i) * L + k] = g;
        sum[k] += g;
      }
    }
    for (int k = 0; k < L; ++k) t[k] = 1.0f / sum[k];
    for (int i = 0; i < c; ++i)
      for (int k = 0; k < L; ++k) gj[size_t(i) * L + k] *= t[k];
    for (int k = 0; k < L; ++k) {
      const int y = yj[k];
      gj[size_t(y) * L + k] -= 1.0f;
      if (want_loss) (*loss)[k] += double(std::log(sum[k]) - (zj[size_t(y) * L + k] - m[k]));
      if (correct) (*correct)[k] += best[k] == y && std::isfinite(sum[k]);
    }
  }
}

// dW += delta in^T and db += row sums of delta, each entry summed over the samples in
// order; `in` as Affine's. A block of rows keeps its gradients in registers while the
// samples stream past.
template <int L, bool kShared>
void LayerGrads(float* __restrict grads, size_t w, size_t b, int rows, int in_dim, const float* __restrict delta,
                const float* __restrict in, int n) {
  ForBlocks(rows, [&](int o0, auto block) {
    constexpr int ob = decltype(block)::value;
    float acc[ob][L];
    for (int i = 0; i < in_dim; ++i) {
      float* g = grads + (w + size_t(o0) + size_t(rows) * i) * L;
      for (int o = 0; o < ob; ++o)
        for (int k = 0; k < L; ++k) acc[o][k] = g[size_t(o) * L + k];
      for (int j = 0; j < n; ++j) {
        const float* dj = delta + (size_t(j) * rows + size_t(o0)) * L;
        float xv[L];
        for (int k = 0; k < L; ++k)
          xv[k] = kShared ? in[size_t(j) * in_dim + size_t(i)] : in[(size_t(j) * in_dim + size_t(i)) * L + k];
        for (int o = 0; o < ob; ++o)
          for (int k = 0; k < L; ++k) acc[o][k] = acc[o][k] + dj[size_t(o) * L + k] * xv[k];
      }
      for (int o = 0; o < ob; ++o)
        for (int k = 0; k < L; ++k) g[size_t(o) * L + k] = acc[o][k];
    }
    float* g = grads + (b + size_t(o0)) * L;
    for (int o = 0; o < ob; ++o)
      for (int k = 0; k < L; ++k) acc[o][k] = g[size_t(o) * L + k];
    for (int j = 0; j < n; ++j) {
      const float* dj = delta + (size_t(j) * rows + size_t(o0)) * L;
      for (int o = 0; o < ob; ++o)
        for (int k = 0; k < L; ++k) acc[o][k] = acc[o][k] + dj[size_t(o) * L + k];
    }
    for (int o = 0; o < ob; ++o)
      for (int k = 0; k < L; ++k) g[size_t(o) * L + k] = acc[o][k];
  });
}

// Narrow packs read W^T for BackInputs: W(o, i) for consecutive i consecutive in
// memory, at (i + in_dim * o) * L, so that a block of inputs is one vector. Wide packs
// read W itself (one lane vector per weight is already a full vector).
template <int L>
constexpr bool kTransposeBack = L < 8;

template <int L>
void TransposeWeights(const float* __restrict params, size_t w, int rows, int in_dim, float* __restrict wt) {
  for (int o = 0; o < rows; ++o)
    for (int i = 0; i < in_dim; ++i)
      for (int k = 0; k < L; ++k) wt[(size_t(i) + size_t(in_dim) * o) * L + k] = params[(w + size_t(o) + size_t(rows) * i) * L + k];
}

// out = W^T delta per sample: each sum over the layer's rows in order, from 0. A block
// of inputs keeps its sums in registers. `wt` is W^T (TransposeWeights) when
// kTransposeBack<L>, else unused.
template <int L>
void BackInputs(const float* __restrict params, size_t w, int rows, int in_dim, const float* __restrict delta, int n,
                const float* __restrict wt, float* __restrict out) {
  for (int j = 0; j < n; ++j) {
    const float* dj = delta + size_t(j) * rows * L;
    float* oj = out + size_t(j) * in_dim * L;
    ForBlocks(in_dim, [&](int i0, auto block) {
      constexpr int ib = decltype(block)::value;
      float acc[ib][L];
      for (int i = 0; i < ib; ++i)
        for (int k = 0; k < L; ++k) acc[i][k] = 0.0f;
      for (int o = 0; o < rows; ++o) {
        const float* dv = dj + size_t(o) * L;
        if constexpr (kTransposeBack<L>) {
          const float* wrow = wt + (size_t(i0) + size_t(in_dim) * o) * L;
          for (int i = 0; i < ib; ++i)
            for (int k = 0; k < L; ++k) acc[i][k] = acc[i][k] + wrow[size_t(i) * L + k] * dv[k];
        } else {
          for (int i = 0; i < ib; ++i) {
            const float* wv = params + (w + size_t(o) + size_t(rows) * size_t(i0 + i)) * L;
            for (int k = 0; k < L; ++k) acc[i][k] = acc[i][k] + wv[k] * dv[k];
          }
        }
      }
      for (int i = 0; i < ib; ++i)
        for (int k = 0; k < L; ++k) oj[size_t(i0 + i) * L + k] = acc[i][k];
    });
  }
}

// The learnable parameters' gradients: each lane's summed over the samples in order into
// a zeroed buffer (interleaved as the parameters), then added to grads_.
template <int L>
void Pack<L>::LearnableGrads(const Layer& layer, int l, int n, const float* da) {
  const float* z = z_[size_t(l)].data();
  const size_t count = size_t(layer.learnable) * layer.units * L;
  learn_grad_.assign(count, 0.0f);
  VisitActivation<float>(kind_, LearnableContext(layer), [&](const auto& op) {
    using Op = std::decay_t<decltype(op)>;
    if constexpr (Op::kLearnable > 0) {
      for (int j = 0; j < n; ++j)
        for (int i = 0; i < layer.units; ++i)
          for (int k = 0; k < L; ++k) {
            const size_t e = (size_t(j) * layer.units + size_t(i)) * L + size_t(k);
            op.Grad(z[e], i * L + k, da[e], learn_grad_.data(), layer.units * L);
          }
    }
    return 0;
  });
  float* g = grads_.data() + layer.p * L;
  for (size_t e = 0; e < count; ++e) g[e] += learn_grad_[e];
}

template <int L>
void Pack<L>::Backward(int n, const float* l1_scaled) {
  std::fill(grads_.begin(), grads_.end(), 0.0f);
  const float inv_n = 1.0f / float(n);
  const Layer& out = layers_.back();
  float* g = gout_.data();
  for (size_t e = 0; e < size_t(n) * classes_ * L; ++e) g[e] = g[e] * inv_n;
  if (depth_ == 0 && shared_input_)
    LayerGrads<L, true>(grads_.data(), out.w, out.b, classes_, out.in, g, shared_x_.data(), n);
  else
    LayerGrads<L, false>(grads_.data(), out.w, out.b, classes_, out.in, g, depth_ > 0 ? a_[size_t(depth_ - 1)].data() : x_.data(), n);
  auto back_inputs = [&](const Layer& layer, const float* delta) {
    if constexpr (kTransposeBack<L>) TransposeWeights<L>(params_.data(), layer.w, layer.units, layer.in, wt_.data());
    BackInputs<L>(params_.data(), layer.w, layer.units, layer.in, delta, n, wt_.data(), da_.data());
  };
  back_inputs(out, g);
  for (int l = depth_ - 1; l >= 0; --l) {
    const Layer& layer = layers_[size_t(l)];
    float* da = da_.data();
    float* dz = dz_.data();
    const float* a = a_[size_t(l)].data();
    const float* d = d_[size_t(l)].data();
    const size_t total = size_t(n) * layer.units;
    if (l1_scaled != nullptr)
      for (size_t e = 0; e < total; ++e)
        for (int k = 0; k < L; ++k) {
          // A lane without the penalty keeps its da untouched (not da + 0, which would
          // turn -0 into +0 depending on its pack-mates).
          const float av = a[e * L + k], s = l1_scaled[k];
          const float add = av > 0.0f ? s : (av < 0.0f ? -s : 0.0f);
          da[e * L + k] = s != 0.0f ? da[e * L + k] + add : da[e * L + k];
        }
    for (size_t e = 0; e < total * L; ++e) dz[e] = da[e] * d[e];
    if (layer.learnable > 0) LearnableGrads(layer, l, n, da);
    if (l == 0 && shared_input_)
      LayerGrads<L, true>(grads_.data(), layer.w, layer.b, layer.units, layer.in, dz, shared_x_.data(), n);
    else
      LayerGrads<L, false>(grads_.data(), layer.w, layer.b, layer.units, layer.in, dz, l > 0 ? a_[size_t(l - 1)].data() : x_.data(), n);
    if (l > 0) back_inputs(layer, dz);
  }
}

// One update of every lane's parameters; with kMasked, lanes not in `train` keep their
// parameters and optimizer state bit for bit (lanes that wait for their first epoch,
// or hold no trial).
template <int L>
template <bool kMasked>
void Pack<L>::Step(const Lanes<bool>& train) {
  float* p = params_.data();
  float* g = grads_.data();
  auto keep = [&](int k, float updated, float old) { return !kMasked || train[k] ? updated : old; };
  bool any_l2 = false;
  for (int k = 0; k < L; ++k) any_l2 = any_l2 || l2_[k] != 0.0f;
  if (any_l2)
    for (const auto& [off, len] : weight_ranges_)
      for (size_t i = off; i < off + len; ++i)
        for (int k = 0; k < L; ++k) {
          const size_t e = i * L + size_t(k);
          g[e] = l2_[k] != 0.0f ? g[e] + l2_[k] * p[e] : g[e];
        }
  switch (optimizer_) {
    case v1::OPTIMIZER_MOMENTUM:
      for (size_t i = 0; i < nparams_; ++i)
        for (int k = 0; k < L; ++k) {
          const size_t e = i * L + size_t(k);
          const float m = mu_[k] * m_[e] + g[e];
          m_[e] = keep(k, m, m_[e]);
          p[e] = keep(k, p[e] - lr_[k] * m, p[e]);
        }
      break;
    case v1::OPTIMIZER_ADAM: {
      Lanes<float> step{}, inv_sqrt_c2{}, one_minus_b1{}, one_minus_b2{};
      for (int k = 0; k < L; ++k) {
        if (kMasked && !train[k]) continue;
        const long t = ++adam_t_[k];
        step[k] = lr_[k] / (1.0f - float(std::pow(double(b1_[k]), double(t))));
        inv_sqrt_c2[k] = 1.0f / float(std::sqrt(1.0 - std::pow(double(b2_[k]), double(t))));
        one_minus_b1[k] = 1.0f - b1_[k];
        one_minus_b2[k] = 1.0f - b2_[k];
      }
      for (size_t i = 0; i < nparams_; ++i)
        for (int k = 0; k < L; ++k) {
          const size_t e = i * L + size_t(k);
          const float m = b1_[k] * m_[e] + one_minus_b1[k] * g[e];
          const float v = b2_[k] * v_[e] + one_minus_b2[k] * g[e] * g[e];
          const float np = p[e] - step[k] * m / (std::sqrt(v) * inv_sqrt_c2[k] + eps_[k]);
          m_[e] = keep(k, m, m_[e]);
          v_[e] = keep(k, v, v_[e]);
          p[e] = keep(k, np, p[e]);
        }
      break;
    }
    default:
      for (size_t i = 0; i < nparams_; ++i)
        for (int k = 0; k < L; ++k) {
          const size_t e = i * L + size_t(k);
          p[e] = keep(k, p[e] - lr_[k] * g[e], p[e]);
        }
      break;
  }
}

// Per-layer probe statistics of the last Forward (n samples) for every lane. Each
// lane's sums run over its values in order (the lane loop is the inner one).
template <int L>
void Pack<L>::MeasureProbe(int n, std::vector<v1::EpochMetrics>* m) {
  Lanes<long> units_total{}, dead_total{}, zeros_total{};
  for (int l = 0; l < depth_; ++l) {
    const Layer& layer = layers_[size_t(l)];
    const float* a = a_[size_t(l)].data();
    const float* d = d_[size_t(l)].data();
    // Per unit and lane: whether any sample activates it, and the sums over the samples
    // in order; then the layer's sums over its units in order. Samples are the outer
    // loop, so units and lanes are one contiguous vector.
    const int units = layer.units;
    std::vector<int>& active = probe_active_;
    std::vector<double>& part = probe_part_;
    std::vector<long>& zero = probe_zero_;
    active.assign(size_t(units) * L, 0);
    part.assign(size_t(units) * L, 0.0);
    zero.assign(size_t(units) * L, 0);
    for (int j = 0; j < n; ++j) {
      const float* dj = d + size_t(j) * units * L;
      const float* aj = a + size_t(j) * units * L;
      for (size_t e = 0; e < size_t(units) * L; ++e) {
        active[e] |= dj[e] != 0.0f;
        const double v = aj[e];
        part[e] += v;
        zero[e] += v == 0.0;
      }
    }
    const size_t total = size_t(units) * n;
    Lanes<long> dead{}, zeros{};
    Lanes<double> sum{}, sq{}, mean{};
    for (int i = 0; i < units; ++i)
      for (int k = 0; k < L; ++k) {
        const size_t e = size_t(i) * L + size_t(k);
        dead[k] += !active[e];
        zeros[k] += zero[e];
        sum[k] += part[e];
      }
    for (int k = 0; k < L; ++k) mean[k] = sum[k] / double(total);
    part.assign(size_t(units) * L, 0.0);
    for (int j = 0; j < n; ++j) {
      const float* aj = a + size_t(j) * units * L;
      for (int i = 0; i < units; ++i)
        for (int k = 0; k < L; ++k) {
          const size_t e = size_t(i) * L + size_t(k);
          const double dv = double(aj[e]) - mean[k];
          part[e] += dv * dv;
        }
    }
    for (int i = 0; i < units; ++i)
      for (int k = 0; k < L; ++k) sq[k] += part[size_t(i) * L + size_t(k)];
    for (int k = 0; k < L; ++k) {
      if (!used_[k]) continue;
      v1::LayerMetrics* lm = (*m)[size_t(k)].add_layers();
      lm->set_layer(l);
      lm->set_dead_fraction(double(dead[k]) / layer.units);
      lm->set_sparsity(zeros[k] / double(total));
      lm->set_act_mean(mean[k]);
      lm->set_act_std(std::sqrt(sq[k] / double(total)));
      units_total[k] += layer.units;
      dead_total[k] += dead[k];
      zeros_total[k] += zeros[k];
    }
  }
  for (int k = 0; k < L; ++k) {
    if (!used_[k]) continue;
    (*m)[size_t(k)].set_dead_fraction(double(dead_total[k]) / units_total[k]);
    (*m)[size_t(k)].set_sparsity(double(zeros_total[k]) / (double(units_total[k]) * n));
  }
}

// Loss and accuracy of every lane over a whole split, in chunks of the capacity; every
// lane sees the same samples. With `probe`, the first chunk is the probe set: its layer
// statistics and gradient norms are measured on the way.
template <int L>
void Pack<L>::Evaluate(const Eigen::MatrixXf& x, const std::vector<int32_t>& y, bool probe,
                    std::vector<v1::EpochMetrics>* m, Lanes<double>* loss, Lanes<long>* correct) {
  const int total = int(y.size());
  for (int start = 0; start < total; start += probe_) {
    const int n = std::min(probe_, total - start);
    std::copy_n(x.data() + size_t(start) * features_, size_t(n) * features_, shared_x_.data());
    for (int j = 0; j < n; ++j)
      for (int k = 0; k < L; ++k) y_[size_t(j) * L + size_t(k)] = y[size_t(start + j)];
    shared_input_ = true;
    Forward(n, /*want_loss=*/true, loss, correct, /*need_deriv=*/probe && start == 0);
    if (probe && start == 0) {
      MeasureProbe(n, m);
      Backward(n, nullptr);
      for (int l = 0; l < depth_; ++l) {
        const Layer& layer = layers_[size_t(l)];
        Lanes<double> sq{};
        for (size_t i = 0; i < size_t(layer.units) * layer.in; ++i)
          for (int k = 0; k < L; ++k) {
            const double gv = grads_[(layer.w + i) * L + size_t(k)];
            sq[k] += gv * gv;
          }
        for (int k = 0; k < L; ++k)
          if (used_[k]) (*m)[size_t(k)].mutable_layers(l)->set_grad_norm(std::sqrt(sq[k]));
      }
      for (int k = 0; k < L; ++k) {
        if (!used_[k]) continue;
        v1::EpochMetrics& em = (*m)[size_t(k)];
        em.set_grad_norm_first(em.layers(0).grad_norm());
        em.set_grad_norm_last(em.layers(depth_ - 1).grad_norm());
      }
    }
  }
}

template <int L>
void Pack<L>::OnParams(int k, int epoch) {
  const TrialHooks& h = trials_[size_t(k)].hooks;
  if (!h.on_params) return;
  std::vector<float> p = LaneParams(k);
  h.on_params(epoch, p);
  SetLaneParams(k, p);
}

template <int L>
void Pack<L>::EndLane(int k, absl::Status status, std::vector<PackedTrainer::Ended>* ended) {
  Trial& t = trials_[size_t(k)];
  if (status.ok()) {
    const double seconds = std::chrono::duration<double>(Clock::now() - t.start).count();
    std::vector<v1::EpochMetrics> epochs(t.out.epochs().begin(), t.out.epochs().end());
    v1::TrialSummary summary = spec::Summarize(t.spec, epochs);
    summary.set_seconds(seconds);
    summary.set_steps_per_second(seconds > 0 ? t.steps / seconds : 0.0);
    summary.set_parameters(long(nparams_));
    *t.out.mutable_summary() = summary;
    ended->push_back({t.id, std::move(t.out)});
  } else {
    ended->push_back({t.id, std::move(status)});
  }
  t = Trial();
  // A free lane holds zeros (never denormals or NaN that could slow its pack-mates).
  for (std::vector<float>* values : {&params_, &m_, &v_})
    for (size_t p = 0; p < values->size() / L; ++p) (*values)[p * L + size_t(k)] = 0.0f;
  used_[k] = false;
  --used_count_;
}

// One epoch of minibatch steps for the lanes in `train`, each in its own data order.
template <int L>
void Pack<L>::TrainEpoch(const Lanes<bool>& train) {
  const int n_train = int(data_.train_y.size());
  bool all = true, any_l1 = false;
  for (int k = 0; k < L; ++k) {
    all = all && train[k];
    any_l1 = any_l1 || (train[k] && l1_[k] != 0.0f);
    if (train[k]) trials_[size_t(k)].order_rng.Shuffle(trials_[size_t(k)].order);
  }
  Lanes<float> l1_scaled{};
  for (int first = 0; first < n_train; first += batch_) {
    const int n = std::min(batch_, n_train - first);
    for (int k = 0; k < L; ++k) {
      if (!train[k]) continue;
      const std::vector<int>& ord = trials_[size_t(k)].order;
      for (int j = 0; j < n; ++j) {
        const int s = ord[size_t(first + j)];
        const float* xs = data_.train_x.data() + size_t(s) * features_;
        for (int f = 0; f < features_; ++f) x_[(size_t(j) * features_ + size_t(f)) * L + size_t(k)] = xs[f];
        y_[size_t(j) * L + size_t(k)] = data_.train_y[size_t(s)];
      }
    }
    shared_input_ = false;
    Forward(n, /*want_loss=*/false, nullptr, nullptr);
    if (any_l1) {
      const float inv_n = 1.0f / float(n);
      for (int k = 0; k < L; ++k) l1_scaled[k] = train[k] ? l1_[k] * inv_n : 0.0f;
    }
    Backward(n, any_l1 ? l1_scaled.v : nullptr);
    if (all)
      Step<false>(train);
    else
      Step<true>(train);
  }
  const long steps = (n_train + batch_ - 1) / batch_;
  for (int k = 0; k < L; ++k)
    if (train[k]) trials_[size_t(k)].steps += steps;
}

template <int L>
std::vector<PackedTrainer::Ended> Pack<L>::Advance() {
  std::vector<PackedTrainer::Ended> ended;
  for (int k = 0; k < L; ++k) {
    const TrialHooks& h = trials_[size_t(k)].hooks;
    if (used_[k] && h.cancel && h.cancel->load(std::memory_order_relaxed))
      EndLane(k, absl::CancelledError("trial cancelled"), &ended);
  }
  if (used_count_ == 0) return ended;
  Lanes<bool> train{};
  bool any = false;
  for (int k = 0; k < L; ++k) {
    train[k] = used_[k] && trials_[size_t(k)].measured;
    any = any || train[k];
  }
  if (any) TrainEpoch(train);
  for (int k = 0; k < L; ++k) {
    if (!used_[k]) continue;
    Trial& t = trials_[size_t(k)];
    if (t.measured) ++t.epoch;
    OnParams(k, t.epoch);
  }

  // Every lane is measured: the ones that trained at their new epoch, the new ones at 0.
  std::vector<v1::EpochMetrics> m(L);
  Lanes<double> train_loss{}, test_loss{};
  Lanes<long> train_correct{}, test_correct{};
  Evaluate(data_.train_x, data_.train_y, /*probe=*/true, &m, &train_loss, &train_correct);
  Evaluate(data_.test_x, data_.test_y, /*probe=*/false, &m, &test_loss, &test_correct);
  const double n_tr = double(data_.train_y.size()), n_te = double(data_.test_y.size());
  const auto now = Clock::now();
  for (int k = 0; k < L; ++k) {
    if (!used_[k]) continue;
    Trial& t = trials_[size_t(k)];
    t.measured = true;
    v1::EpochMetrics& em = m[size_t(k)];
    em.set_epoch(t.epoch);
    em.set_train_loss(train_loss[k] / n_tr);
    em.set_train_acc(train_correct[k] / n_tr);
    em.set_test_loss(n_te > 0 ? test_loss[k] / n_te : std::numeric_limits<double>::quiet_NaN());
    em.set_test_acc(n_te > 0 ? test_correct[k] / n_te : std::numeric_limits<double>::quiet_NaN());
    long nonfinite = 0;
    for (size_t p = 0; p < nparams_; ++p) nonfinite += !std::isfinite(params_[p * L + size_t(k)]);
    em.set_nonfinite_params(nonfinite);
    em.set_seconds(std::chrono::duration<double>(now - t.start).count());
    if (t.hooks.on_epoch) t.hooks.on_epoch(em);
    const bool finite = spec::EpochIsFinite(em);
    *t.out.add_epochs() = std::move(em);
    if (!finite || t.epoch >= t.spec.train().epochs()) EndLane(k, absl::OkStatus(), &ended);
  }
  return ended;
}

absl::Status CheckPackable(const v1::TrialSpec& s, const Dataset& data) {
  if (absl::Status valid = spec::ValidateTrialSpec(s); !valid.ok()) return valid;
  if (!Packable(s)) return absl::InvalidArgumentError("a trial that cannot train packed");
  if (data.train_y.empty()) return absl::InvalidArgumentError("dataset has no training samples");
  return absl::OkStatus();
}

}  // namespace

class PackedTrainer::Impl {
 public:
  std::unique_ptr<PackBase> pack;
};

PackedTrainer::PackedTrainer(std::unique_ptr<Impl> impl, std::string key) : impl_(std::move(impl)), key_(std::move(key)) {}
PackedTrainer::~PackedTrainer() = default;

absl::StatusOr<std::unique_ptr<PackedTrainer>> PackedTrainer::Create(const v1::TrialSpec& shape, const Dataset& data,
                                                                     int trials) {
  if (absl::Status s = CheckPackable(shape, data); !s.ok()) return s;
  PinBlasToOneThread();  // as RunTrial: no BLAS threads spinning next to the pack
  auto impl = std::make_unique<Impl>();
  if (trials <= 1)
    impl->pack = std::make_unique<Pack<1>>(data);
  else if (trials <= 2)
    impl->pack = std::make_unique<Pack<2>>(data);
  else if (trials <= 4)
    impl->pack = std::make_unique<Pack<4>>(data);
  else if (trials <= 8)
    impl->pack = std::make_unique<Pack<8>>(data);
  else
    impl->pack = std::make_unique<Pack<kPackLanes>>(data);
  impl->pack->Setup(shape);
  return std::unique_ptr<PackedTrainer>(new PackedTrainer(std::move(impl), PackKey(shape)));
}

int PackedTrainer::FreeLanes() const { return impl_->pack->FreeLanes(); }
bool PackedTrainer::Empty() const { return impl_->pack->Empty(); }
int PackedTrainer::Width() const { return impl_->pack->Width(); }

absl::Status PackedTrainer::Add(int64_t id, const v1::TrialSpec& spec, TrialHooks hooks) {
  if (absl::Status s = spec::ValidateTrialSpec(spec); !s.ok()) return s;
  if (PackKey(spec) != key_) return absl::InvalidArgumentError("a trial of another shape than the pack's");
  return impl_->pack->Admit(id, spec, std::move(hooks));
}

std::vector<PackedTrainer::Ended> PackedTrainer::Advance() { return impl_->pack->Advance(); }

std::vector<absl::StatusOr<v1::TrialResult>> RunPackedTrials(const std::vector<v1::TrialSpec>& specs,
                                                            const Dataset& data,
                                                            const std::vector<TrialHooks>& hooks) {
  std::vector<absl::StatusOr<v1::TrialResult>> results(specs.size(), absl::UnknownError("not run"));
  auto refuse_all = [&](const absl::Status& s) {
    results.assign(specs.size(), s);
    return results;
  };
  if (specs.empty() || specs.size() > size_t(kPackLanes))
    return refuse_all(absl::InvalidArgumentError(absl::StrCat("a pack holds 1 to ", kPackLanes, " trials, got ", specs.size())));
  if (!hooks.empty() && hooks.size() != specs.size())
    return refuse_all(absl::InvalidArgumentError("one set of hooks per trial, or none"));
  const std::string key = PackKey(specs[0]);
  for (const v1::TrialSpec& s : specs) {
    if (absl::Status packable = CheckPackable(s, data); !packable.ok()) return refuse_all(packable);
    if (PackKey(s) != key) return refuse_all(absl::InvalidArgumentError("trials of different shapes in one pack"));
  }
  auto pack = PackedTrainer::Create(specs[0], data, int(specs.size()));
  if (!pack.ok()) return refuse_all(pack.status());
  for (size_t i = 0; i < specs.size(); ++i)
    if (absl::Status s = (*pack)->Add(int64_t(i), specs[i], hooks.empty() ? TrialHooks() : hooks[i]); !s.ok())
      results[i] = s;
  while (!(*pack)->Empty())
    for (auto& e : (*pack)->Advance()) results[size_t(e.id)] = std::move(e.result);
  return results;
}

}  // namespace ACTGRID_PACKED_VARIANT
}  // namespace actgrid::engine
