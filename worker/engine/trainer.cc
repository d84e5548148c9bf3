// The training loop and the metric passes behind RunTrial (see trainer.h).
#include "worker/engine/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>

#include "common/spec/summary.h"
#include "common/spec/validate.h"
#include "worker/engine/gemm.h"
#include "worker/engine/network.h"
#include "worker/engine/optimizer.h"
#include "worker/engine/random.h"

namespace actgrid::engine {
namespace {

using Net = Network<float>;
using Clock = std::chrono::steady_clock;

// Random streams of a trial seed; the data seed has its own (dataset.cc).
constexpr uint64_t kInitStream = 11;
constexpr uint64_t kOrderStream = 12;

struct Counts {
  double loss_sum = 0.0;
  long correct = 0;
};

// A block of floats as double lanes.
Rows<double> Widen(const Rows<float>& v) { return __builtin_convertvector(v, Rows<double>); }

// Accumulates the per-layer probe statistics of one Forward over the probe set.
void MeasureProbe(const Net& net, const Net::Workspace& ws, int n, v1::EpochMetrics& m) {
  long units_total = 0, dead_total = 0, zeros_total = 0;
  for (int l = 0; l < net.hidden_layers(); ++l) {
    const auto& layer = net.layers()[l];
    long dead = 0;
    for (int i = 0; i < layer.units; ++i) {
      bool active = false;
      for (int j = 0; j < n && !active; ++j) active = net.UnitActive(ws, l, i, j);
      dead += !active;
    }
    const size_t total = size_t(layer.units) * n;
    const ActivationStats stats = MeasureActivations(ws.a[l].data(), total);
    v1::LayerMetrics* lm = m.add_layers();
    lm->set_layer(l);
    lm->set_dead_fraction(double(dead) / layer.units);
    lm->set_sparsity(stats.zeros / double(total));
    lm->set_act_mean(stats.mean);
    lm->set_act_std(stats.std);
    units_total += layer.units;
    dead_total += dead;
    zeros_total += stats.zeros;
  }
  m.set_dead_fraction(double(dead_total) / units_total);
  m.set_sparsity(double(zeros_total) / (double(units_total) * n));
}

// Parameters that are NaN or infinite: one pass, once per epoch.
long NonFiniteCount(const std::vector<float>& params) {
  long count = 0;
  for (const float v : params) count += !std::isfinite(v);
  return count;
}

// Gradient norms of the mean probe loss per hidden layer (needs a Forward on the probe).
void MeasureGradients(Net& net, const float* x, int n, Net::Workspace& ws, v1::EpochMetrics& m) {
  net.Backward(x, n, 0.0, ws);
  for (int l = 0; l < net.hidden_layers(); ++l) {
    const auto& layer = net.layers()[l];
    double sq = 0.0;
    for (size_t i = 0; i < size_t(layer.rows) * layer.in; ++i) {
      const double g = net.grads()[layer.w + i];
      sq += g * g;
    }
    m.mutable_layers(l)->set_grad_norm(std::sqrt(sq));
  }
  m.set_grad_norm_first(m.layers(0).grad_norm());
  m.set_grad_norm_last(m.layers(net.hidden_layers() - 1).grad_norm());
}

// Loss and accuracy over a whole split in chunks; the first chunk of the training
// split is the probe set, measured on the way.
Counts EvaluateSplit(Net& net, const Eigen::MatrixXf& x, const std::vector<int32_t>& y,
                     Net::Workspace& ws, v1::EpochMetrics* probe) {
  Counts c;
  const int total = int(y.size()), features = int(x.rows());
  for (int start = 0; start < total; start += ws.capacity) {
    const int n = std::min(ws.capacity, total - start);
    const float* xs = x.data() + size_t(start) * features;
    const auto stats = net.Forward(xs, y.data() + start, n, ws);
    c.loss_sum += stats.loss_sum;
    c.correct += stats.correct;
    if (probe && start == 0) {
      MeasureProbe(net, ws, n, *probe);
      MeasureGradients(net, xs, n, ws, *probe);
    }
  }
  return c;
}

v1::EpochMetrics MeasureEpoch(int epoch, Net& net, const Dataset& data, Net::Workspace& ws,
                              Clock::time_point start) {
  v1::EpochMetrics m;
  m.set_epoch(epoch);
  const Counts train = EvaluateSplit(net, data.train_x, data.train_y, ws, &m);
  const Counts test = EvaluateSplit(net, data.test_x, data.test_y, ws, nullptr);
  const double n_train = double(data.train_y.size()), n_test = double(data.test_y.size());
  m.set_train_loss(train.loss_sum / n_train);
  m.set_train_acc(train.correct / n_train);
  m.set_test_loss(n_test > 0 ? test.loss_sum / n_test : std::numeric_limits<double>::quiet_NaN());
  m.set_test_acc(n_test > 0 ? test.correct / n_test : std::numeric_limits<double>::quiet_NaN());
  m.set_nonfinite_params(NonFiniteCount(net.params()));
  m.set_seconds(std::chrono::duration<double>(Clock::now() - start).count());
  return m;
}

}  // namespace

// Two vectorized passes in double lanes (one SIMD lane per position, no serial chain;
// float lanes lose digits once a lane has summed thousands of activations): the mean
// and zero count, then the squared deviations from the mean, which stay accurate when
// the spread is small next to the mean (saturated units, large biases).
ActivationStats MeasureActivations(const float* a, size_t count) {
  ActivationStats s;
  if (count == 0) return s;
  const size_t whole = count - count % kRowBlock;
  Rows<double> lane_sum{}, lane_zero{};
  for (size_t e = 0; e < whole; e += kRowBlock) {
    const Rows<double> v = Widen(LoadRows(a + e));
    lane_sum += v;
    lane_zero += v == Rows<double>{} ? Broadcast(1.0) : Rows<double>{};
  }
  double sum = 0.0, zeros = 0.0;
  for (int k = 0; k < kRowBlock; ++k) {
    sum += lane_sum[k];
    zeros += lane_zero[k];
  }
  for (size_t e = whole; e < count; ++e) {
    sum += a[e];
    zeros += a[e] == 0.0f;
  }
  s.mean = sum / double(count);
  s.zeros = long(zeros);
  const Rows<double> mean_lanes = Broadcast(s.mean);
  Rows<double> lane_sq{};
  for (size_t e = 0; e < whole; e += kRowBlock) {
    const Rows<double> dv = Widen(LoadRows(a + e)) - mean_lanes;
    lane_sq += dv * dv;
  }
  double sumsq = 0.0;
  for (int k = 0; k < kRowBlock; ++k) sumsq += lane_sq[k];
  for (size_t e = whole; e < count; ++e) sumsq += (a[e] - s.mean) * (a[e] - s.mean);
  s.std = std::sqrt(sumsq / double(count));
  return s;
}

absl::StatusOr<v1::TrialResult> RunTrial(const v1::TrialSpec& spec, const Dataset& data,
                                         const TrialHooks& hooks) {
  PinBlasToOneThread();
  if (absl::Status valid = spec::ValidateTrialSpec(spec); !valid.ok()) return valid;
  if (data.train_y.empty()) return absl::InvalidArgumentError("dataset has no training samples");

  const auto start = Clock::now();
  NetworkShape shape{data.features, data.classes, spec.depth(), spec.model().width(), spec.activation(),
                     spec.model().hidden().empty() ? std::vector<int>() : spec::HiddenSizes(spec)};
  Net net(shape);
  Rng init_rng(spec.seed(), kInitStream);
  if (absl::Status init = net.Initialize(spec.init(), spec.bias(), init_rng); !init.ok()) return init;

  const int n_train = int(data.train_y.size());
  const int batch = std::max(1, std::min(spec.train().batch(), n_train));
  const int probe = std::min(spec::kProbeSamples, n_train);
  Net::Workspace train_ws = net.MakeWorkspace(batch);
  Net::Workspace eval_ws = net.MakeWorkspace(probe);
  Optimizer<float> opt(spec.train(), net.params().size(), net.weight_ranges());
  Rng order_rng(spec.seed(), kOrderStream);
  std::vector<int> order(n_train);
  std::iota(order.begin(), order.end(), 0);
  std::vector<int32_t> batch_y(batch);
  const int features = data.features;

  v1::TrialResult result;
  *result.mutable_spec() = spec;
  auto record = [&](v1::EpochMetrics m) -> bool {
    if (hooks.on_epoch) hooks.on_epoch(m);
    const bool finite = spec::EpochIsFinite(m);
    *result.add_epochs() = std::move(m);
    return finite;
  };

  long steps = 0;
  if (hooks.on_params) hooks.on_params(0, net.params());
  bool ok = record(MeasureEpoch(0, net, data, eval_ws, start));
  for (int epoch = 1; ok && epoch <= spec.train().epochs(); ++epoch) {
    if (hooks.cancel && hooks.cancel->load(std::memory_order_relaxed))
      return absl::CancelledError("trial cancelled");
    order_rng.Shuffle(order);
    for (int first = 0; first < n_train; first += batch) {
      const int n = std::min(batch, n_train - first);
      float* bx = train_ws.x.data();
      for (int j = 0; j < n; ++j) {
        const int s = order[first + j];
        std::copy_n(data.train_x.data() + size_t(s) * features, features, bx + size_t(j) * features);
        batch_y[j] = data.train_y[s];
      }
      net.Forward(bx, batch_y.data(), n, train_ws, /*want_loss=*/false);
      net.Backward(bx, n, spec.train().l1_activity(), train_ws);
      opt.Step(net.params(), net.grads());
      ++steps;
    }
    if (hooks.on_params) hooks.on_params(epoch, net.params());
    ok = record(MeasureEpoch(epoch, net, data, eval_ws, start));
  }

  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<v1::EpochMetrics> epochs(result.epochs().begin(), result.epochs().end());
  v1::TrialSummary summary = spec::Summarize(spec, epochs);
  summary.set_seconds(seconds);
  summary.set_steps_per_second(seconds > 0 ? steps / seconds : 0.0);
  summary.set_parameters(long(net.params().size()));
  *result.mutable_summary() = summary;
  return result;
}

}  // namespace actgrid::engine
