// See analysis_db.h.
#include "bench/analysis_db.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/store/store.h"

namespace actgrid::bench {
namespace {

constexpr const char* kActivations[] = {"relu", "leaky_relu", "prelu", "elu", "selu",
                                        "gelu", "silu", "tanh", "sigmoid", "reflu"};
constexpr const char* kInits[] = {"xavier_uniform", "xavier_normal", "he_uniform", "he_normal",
                                  "lecun_normal", "orthogonal"};
constexpr const char* kBiases[] = {"0.0", "0.01", "0.1", "0.5", "1.0", "2.0"};

// A reproducible value in [0, 1) from two integers (splitmix64).
double Noise(uint64_t a, uint64_t b) {
  uint64_t z = a * 0x9E3779B97F4A7C15ULL + b + 0x632BE59BD9B4E019ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  return double(z >> 11) * 0x1.0p-53;
}

v1::EpochMetrics Epoch(int epoch, int depth, double level, uint64_t trial) {
  v1::EpochMetrics m;
  m.set_epoch(epoch);
  const double progress = 1.0 - std::exp(-0.05 * epoch);
  const double jitter = 0.02 * (Noise(trial, epoch) - 0.5);
  m.set_train_loss(0.7 * (1.0 - progress * level) + jitter);
  m.set_test_loss(0.72 * (1.0 - progress * level) + jitter);
  m.set_train_acc(0.5 + 0.45 * progress * level + jitter);
  m.set_test_acc(0.5 + 0.44 * progress * level + jitter);
  m.set_dead_fraction(0.1 * progress);
  m.set_sparsity(0.5 + 0.2 * progress);
  m.set_grad_norm_first(1.0 / (1 + epoch));
  m.set_grad_norm_last(2.0 / (1 + epoch));
  m.set_seconds(0.01 * epoch);
  for (int l = 0; l < depth; ++l) {
    v1::LayerMetrics* layer = m.add_layers();
    layer->set_layer(l);
    layer->set_dead_fraction(0.02 * l * progress);
    layer->set_sparsity(0.5 + 0.01 * l);
    layer->set_grad_norm(std::pow(0.7, depth - 1 - l) / (1 + epoch));
    layer->set_act_mean(0.1 * l);
    layer->set_act_std(1.0 / (1 + l));
  }
  return m;
}

}  // namespace

absl::Status WriteSyntheticGrid(const std::string& path, const SyntheticGrid& g) {
  auto store = store::Store::Open({path, false});
  if (!store.ok()) return store.status();
  store::NewGrid grid;
  grid.name = g.name;
  grid.factors = {"activation", "init", "bias", "depth"};
  grid.cells = g.activations * g.inits * g.biases * g.depths;
  grid.created_ms = 1;
  std::vector<double> level;  // the cell's "quality", in (0, 1]
  std::vector<int> depth_of;
  for (int seed = 0; seed < g.seeds; ++seed) {
    for (int cell = 0; cell < grid.cells; ++cell) {
      int rest = cell;
      const int d = rest % g.depths;
      rest /= g.depths;
      const int b = rest % g.biases;
      rest /= g.biases;
      const int i = rest % g.inits;
      const int a = rest / g.inits;
      store::NewGridTrial t;
      t.spec.set_seed(seed);
      t.spec.set_depth(d + 1);
      t.spec.mutable_model()->set_width(8);
      t.spec.mutable_train()->set_epochs(g.epochs);
      t.key = absl::StrCat(g.name, "-", cell, "-", seed);
      t.cell = cell;
      t.seed_rank = seed;
      t.values = {kActivations[a % 10], kInits[i % 6], kBiases[b % 6], absl::StrCat(d + 1)};
      grid.trials.push_back(std::move(t));
      level.push_back(0.5 + 0.05 * a + 0.02 * i - 0.03 * b - 0.04 * d);
      depth_of.push_back(d + 1);
    }
  }
  auto created = (*store)->CreateGrid(grid);
  if (!created.ok()) return created.status();
  const std::vector<int64_t>& ids = created->trial_ids;

  std::vector<store::LeaseGrant> grants;
  for (int64_t id : ids) grants.push_back({id, 1, "bench", int64_t{1} << 50});
  if (auto leased = (*store)->Lease(grants, 1); !leased.ok()) return leased.status();

  // Epoch reports in batches of about 20,000 rows, then the ends of their trials.
  const size_t per_batch = std::max<size_t>(1, 20000 / size_t(g.epochs + 1));
  for (size_t first = 0; first < ids.size(); first += per_batch) {
    const size_t last = std::min(ids.size(), first + per_batch);
    std::vector<store::EpochRow> rows;
    for (size_t t = first; t < last; ++t)
      for (int e = 0; e <= g.epochs; ++e)
        rows.push_back({ids[t], 1, Epoch(e, depth_of[t], level[t], ids[t])});
    auto verdicts = (*store)->AppendEpochs(rows, {}, int64_t{1} << 50);
    if (!verdicts.ok()) return verdicts.status();
    for (size_t t = first; t < last; ++t) {
      const double noise = Noise(ids[t], 1u << 20) - 0.5;
      v1::TrialSummary s;
      s.set_outcome(v1::TRIAL_OUTCOME_SUCCEEDED);
      s.set_final_test_acc(0.5 + 0.44 * level[t] + 0.05 * noise);
      s.set_best_test_acc(s.final_test_acc() + 0.01);
      s.set_best_epoch(g.epochs);
      s.set_final_test_loss(0.72 * (1.0 - level[t]) + 0.05 * noise);
      s.set_final_train_loss(0.7 * (1.0 - level[t]) + 0.05 * noise);
      s.set_epochs_to_target(level[t] > 0.7 ? g.epochs / 2 : -1);
      s.set_auc_test_acc(0.4 + 0.4 * level[t]);
      s.set_final_sparsity(0.7);
      s.set_final_dead_fraction(0.1 + 0.1 * noise);
      s.set_grad_ratio(std::pow(0.7, -(depth_of[t] - 1)));
      s.set_diverged_epoch(-1);
      s.set_seconds(1.5);
      s.set_steps_per_second(1e6);
      s.set_epochs_run(g.epochs);
      s.set_parameters(100);
      store::AttemptEnd end;
      end.trial_id = ids[t];
      end.attempt = 1;
      end.to = v1::TRIAL_STATE_SUCCEEDED;
      end.summary = s;
      end.now_ms = 2;
      if (absl::Status st = (*store)->EndAttempt(end); !st.ok()) return st;
    }
  }
  return absl::OkStatus();
}

}  // namespace actgrid::bench
