// Trains the benchmark trials of bench/run.sh with the actgrid engine and prints one
// JSON line of throughput figures, for comparison with bench/torch_bench.py.
//   actgrid_bench tiny [EPOCHS [SEEDS]]     circle, 2-8-8-8-2 relu, batch 10, SGD
//   actgrid_bench fashion [EPOCHS [SEEDS]]  Fashion-MNIST, 784-256-256-10 relu, batch 128, Adam
// With several seeds (trial seeds 0..SEEDS-1) the time is their sum and the accuracy
// their mean, so one lucky or unlucky initialization does not decide the comparison.
//   actgrid_bench packed [EPOCHS [NETS]]    the tiny trial, NETS seeds (0..NETS-1) in packs
// of 16 on one thread, as a worker trains them (engine::RunPackedTrials); after a warm-up
// pack, the whole set once; steps counted from the epochs each trial ran.
//   actgrid_bench formula [PAIRS [TINY_EPOCHS [FASHION_EPOCHS [FASHION_TRAIN]]]]
// Formula activations against their built-in equivalents (relu / max(x, 0), tanh /
// tanh(x), reflu / the where() RefLU, silu / x * sigmoid(x)) on the tiny trial and a
// short Fashion-MNIST trial (FASHION_TRAIN training samples, the whole test set): the two
// sides alternate (A, B, A, B ...) for PAIRS pairs (default 7); prints a markdown table
// of the median seconds with their ranges and the ratio formula / built-in, and one JSON
// line per row.
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/spec/formula.h"
#include "common/spec/names.h"
#include "worker/engine/dataset.h"
#include "worker/engine/packed_trainer.h"
#include "worker/engine/trainer.h"
#include "bench/tiny_spec.h"

namespace {

using namespace actgrid;

using bench::TinySpec;

v1::TrialSpec FashionSpec(int epochs) {
  v1::TrialSpec spec;
  auto* d = spec.mutable_dataset();
  d->set_kind(v1::DATASET_KIND_FASHION_MNIST);
  d->set_path("/usr/share/datasets/fashion-mnist");
  d->set_test_fraction(0.5);  // unused: the set has its own test split
  d->set_scaling(v1::SCALING_STANDARDIZE);
  spec.mutable_model()->set_width(256);
  auto* t = spec.mutable_train();
  t->set_optimizer(v1::OPTIMIZER_ADAM);
  t->set_lr(1e-3);
  t->set_batch(128);
  t->set_epochs(epochs);
  t->set_beta1(0.9);
  t->set_beta2(0.999);
  t->set_eps(1e-8);
  t->set_target_accuracy(0.85);
  *spec.mutable_activation() = spec::DefaultActivation(v1::ACTIVATION_KIND_RELU);
  *spec.mutable_init() = spec::DefaultInit(v1::INIT_KIND_HE_UNIFORM);
  spec.set_depth(2);
  return spec;
}

// ---- formula activations against the built-ins -----------------------------------------

struct FormulaPair {
  const char* label;
  v1::ActivationKind builtin;
  const char* name;
  const char* text;
  std::vector<std::string> params;
  std::vector<double> values;
  std::vector<std::string> learnable;
};

std::vector<FormulaPair> FormulaPairs() {
  return {
      {"relu vs max(x, 0)", v1::ACTIVATION_KIND_RELU, "relu_f", "max(x, 0)", {}, {}, {}},
      {"tanh vs tanh(x)", v1::ACTIVATION_KIND_TANH, "tanh_f", "tanh(x)", {}, {}, {}},
      {"reflu vs reflu2", v1::ACTIVATION_KIND_REFLU, "reflu2", "where(x < p, h + l * (x - p), h + r * (x - p))",
       {"l", "r", "p", "h"}, {0.1, 1.0, 0.0, 0.0}, {"l", "r", "p", "h"}},
      {"silu vs x * sigmoid(x)", v1::ACTIVATION_KIND_SILU, "silu_f", "x * sigmoid(x)", {}, {}, {}},
  };
}

// The packed mode (see the top of the file).
int Packed(int epochs, int nets) {
  v1::TrialSpec spec = TinySpec(epochs);
  auto data = engine::LoadDataset(spec.dataset());
  if (!data.ok()) {
    std::fprintf(stderr, "error: %s\n", data.status().ToString().c_str());
    return 1;
  }
  auto run = [&](int count, int run_epochs, long* steps, double* acc) -> bool {
    const long n_train = long((*data)->train_y.size()), batch = spec.train().batch();
    for (int first = 0; first < count; first += engine::kPackLanes) {
      std::vector<v1::TrialSpec> pack;
      for (int seed = first; seed < std::min(count, first + engine::kPackLanes); ++seed) {
        v1::TrialSpec s = TinySpec(run_epochs, uint64_t(seed));
        pack.push_back(s);
      }
      for (const auto& r : engine::RunPackedTrials(pack, **data)) {
        if (!r.ok()) {
          std::fprintf(stderr, "error: %s\n", r.status().ToString().c_str());
          return false;
        }
        if (steps) *steps += long(r->summary().epochs_run()) * ((n_train + batch - 1) / batch);
        if (acc) *acc += r->summary().final_test_acc() / count;
      }
    }
    return true;
  };
  if (!run(engine::kPackLanes, 5, nullptr, nullptr)) return 1;  // warm-up, as the PyTorch side's
  long steps = 0;
  double acc = 0.0;
  const auto start = std::chrono::steady_clock::now();
  if (!run(nets, epochs, &steps, &acc)) return 1;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "{\"side\": \"actgrid-packed\", \"mode\": \"tiny\", \"nets\": %d, \"epochs\": %d, \"steps\": %ld, "
      "\"seconds\": %.6f, \"steps_per_second\": %.1f, \"final_test_acc\": %.4f, \"blas_core\": \"none (packed "
      "kernels)\"}\n",
      nets, epochs, steps, seconds, steps / seconds, acc);
  return 0;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Seconds of one RunTrial, or a negative number (and a message) on an error.
double TimeTrial(const v1::TrialSpec& spec, const engine::Dataset& data, double* acc) {
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<v1::TrialResult> result = engine::RunTrial(spec, data);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!result.ok()) {
    std::fprintf(stderr, "error: %s\n", result.status().ToString().c_str());
    return -1;
  }
  *acc = result->summary().final_test_acc();
  return seconds;
}

int FormulaComparison(int pairs, int tiny_epochs, int fashion_epochs, int fashion_train) {
  struct Model {
    const char* name;
    v1::TrialSpec spec;
  };
  std::vector<Model> models = {{"tiny", TinySpec(tiny_epochs)}, {"fashion", FashionSpec(fashion_epochs)}};
  models[1].spec.mutable_dataset()->set_train_limit(fashion_train);
  std::printf("formula activations vs built-ins: %d alternating pairs per row, median seconds per trial (min-max)\n",
              pairs);
  std::printf("OpenBLAS kernel: %s\n\n", openblas_get_corename());
  std::printf("| trial | pair | built-in s | formula s | formula / built-in | per-pair ratios | test acc (built-in / formula) |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  std::fflush(stdout);
  std::vector<std::string> json;
  for (Model& model : models) {
    auto data = engine::LoadDataset(model.spec.dataset());
    if (!data.ok()) {
      std::fprintf(stderr, "skipping %s: %s\n", model.name, data.status().ToString().c_str());
      continue;
    }
    const std::string trial = std::string(model.name) + (model.name == std::string("tiny")
                                                               ? " (" + std::to_string(tiny_epochs) + " epochs)"
                                                               : " (" + std::to_string(fashion_epochs) + " epoch, " +
                                                                     std::to_string(fashion_train) + " train)");
    for (const FormulaPair& pair : FormulaPairs()) {
      absl::StatusOr<v1::ActivationSpec> formula =
          spec::FormulaActivation(pair.name, pair.text, pair.params, pair.values, pair.learnable);
      if (!formula.ok()) {
        std::fprintf(stderr, "error: %s: %s\n", pair.name, formula.status().ToString().c_str());
        return 1;
      }
      v1::TrialSpec a = model.spec, b = model.spec;
      *a.mutable_activation() = spec::DefaultActivation(pair.builtin);
      *b.mutable_activation() = *formula;
      // Warm-up of both sides: code, caches, the allocator.
      double acc_a = 0, acc_b = 0;
      if (TimeTrial(a, **data, &acc_a) < 0 || TimeTrial(b, **data, &acc_b) < 0) return 1;
      std::vector<double> ta, tb, ratios;
      for (int k = 0; k < pairs; ++k) {
        const double sa = TimeTrial(a, **data, &acc_a);
        const double sb = TimeTrial(b, **data, &acc_b);
        if (sa < 0 || sb < 0) return 1;
        ta.push_back(sa);
        tb.push_back(sb);
        ratios.push_back(sb / sa);
      }
      const double ma = Median(ta), mb = Median(tb);
      auto range = [](const std::vector<double>& v, const char* fmt) {
        char buf[96];
        std::snprintf(buf, sizeof buf, fmt, *std::min_element(v.begin(), v.end()), *std::max_element(v.begin(), v.end()));
        return std::string(buf);
      };
      const bool small = ma < 1;
      std::printf("| %s | %s | %.4f (%s) | %.4f (%s) | **%.2f×** | %s | %.4f / %.4f |\n", trial.c_str(), pair.label, ma,
                  range(ta, small ? "%.4f–%.4f" : "%.3f–%.3f").c_str(), mb,
                  range(tb, small ? "%.4f–%.4f" : "%.3f–%.3f").c_str(), mb / ma, range(ratios, "%.2f–%.2f").c_str(),
                  acc_a, acc_b);
      std::fflush(stdout);
      char line[512];
      std::snprintf(line, sizeof line,
                    "{\"side\": \"actgrid\", \"mode\": \"formula\", \"trial\": \"%s\", \"builtin\": \"%s\", "
                    "\"formula\": \"%s\", \"pairs\": %d, \"builtin_median_s\": %.6f, \"formula_median_s\": %.6f, "
                    "\"ratio\": %.4f, \"blas_core\": \"%s\"}",
                    model.name, spec::ActivationLabel(a.activation()).c_str(), pair.text, pairs, ma, mb,
                    mb / ma, openblas_get_corename());
      json.push_back(line);
    }
  }
  std::printf("\n");
  for (const std::string& line : json) std::printf("%s\n", line.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "tiny";
  if (mode == "formula") {
    const int pairs = argc > 2 ? std::atoi(argv[2]) : 7;
    const int tiny_epochs = argc > 3 ? std::atoi(argv[3]) : 400;
    const int fashion_epochs = argc > 4 ? std::atoi(argv[4]) : 1;
    const int fashion_train = argc > 5 ? std::atoi(argv[5]) : 10000;
    if (pairs < 1 || tiny_epochs < 1 || fashion_epochs < 1 || fashion_train < 1) {
      std::fprintf(stderr, "PAIRS, TINY_EPOCHS, FASHION_EPOCHS and FASHION_TRAIN must be >= 1\n");
      return 2;
    }
    return FormulaComparison(pairs, tiny_epochs, fashion_epochs, fashion_train);
  }
  if (mode == "packed") {
    const int epochs = argc > 2 ? std::atoi(argv[2]) : 400;
    const int nets = argc > 3 ? std::atoi(argv[3]) : 1024;
    if (epochs < 1 || nets < 1) {
      std::fprintf(stderr, "EPOCHS and NETS must be >= 1\n");
      return 2;
    }
    return Packed(epochs, nets);
  }
  const bool tiny = mode == "tiny";
  if (!tiny && mode != "fashion") {
    std::fprintf(stderr, "usage: actgrid_bench tiny|fashion [EPOCHS [SEEDS]]\n"
                         "       actgrid_bench packed [EPOCHS [NETS]]\n"
                         "       actgrid_bench formula [PAIRS [TINY_EPOCHS [FASHION_EPOCHS [FASHION_TRAIN]]]]\n");
    return 2;
  }
  const int epochs = argc > 2 ? std::atoi(argv[2]) : (tiny ? 400 : 3);
  const int seeds = argc > 3 ? std::atoi(argv[3]) : 1;
  if (epochs < 1 || seeds < 1) {
    std::fprintf(stderr, "EPOCHS and SEEDS must be >= 1\n");
    return 2;
  }
  v1::TrialSpec spec = tiny ? TinySpec(epochs) : FashionSpec(epochs);
  auto data = engine::LoadDataset(spec.dataset());
  if (!data.ok()) {
    std::fprintf(stderr, "error: %s\n", data.status().ToString().c_str());
    return 1;
  }
  // Warm-up: code, caches and the allocator, as the PyTorch side does.
  v1::TrialSpec warm = spec;
  warm.mutable_train()->set_epochs(tiny ? 5 : 1);
  if (!tiny) warm.mutable_dataset()->set_train_limit(20 * 128);
  auto warm_data = engine::LoadDataset(warm.dataset());
  if (warm_data.ok()) engine::RunTrial(warm, **warm_data).IgnoreError();

  // A tiny trial takes tens of milliseconds, short enough for a scheduler hiccup to
  // matter: each seed runs `repeats` times and its median time counts (the results are
  // bit-identical across repeats). Fashion-MNIST trials run once.
  const int repeats = tiny ? 5 : 1;
  double seconds = 0.0;
  std::vector<double> accs;
  for (int seed = 0; seed < seeds; ++seed) {
    spec.set_seed(seed);
    std::vector<double> times;
    absl::StatusOr<v1::TrialResult> result;
    for (int r = 0; r < repeats; ++r) {
      const auto start = std::chrono::steady_clock::now();
      result = engine::RunTrial(spec, **data);
      times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      if (!result.ok()) {
        std::fprintf(stderr, "error: %s\n", result.status().ToString().c_str());
        return 1;
      }
    }
    std::sort(times.begin(), times.end());
    seconds += times[times.size() / 2];
    accs.push_back(result->summary().final_test_acc());
  }
  double mean = 0.0;
  std::string per_seed;
  for (double a : accs) {
    mean += a / accs.size();
    per_seed += (per_seed.empty() ? "" : ", ") + std::to_string(a);
  }
  const long n_train = long((*data)->train_y.size());
  const long batch = spec.train().batch();
  const long steps = long(seeds) * epochs * ((n_train + batch - 1) / batch);
  std::printf(
      "{\"side\": \"actgrid\", \"mode\": \"%s\", \"epochs\": %d, \"seeds\": %d, \"steps\": %ld, "
      "\"repeats\": %d, \"seconds\": %.6f, \"steps_per_second\": %.1f, \"samples_per_second\": %.1f, "
      "\"final_test_acc\": %.4f, \"test_acc_per_seed\": [%s], \"blas_core\": \"%s\"}\n",
      mode.c_str(), epochs, seeds, steps, repeats, seconds, steps / seconds,
      double(seeds) * epochs * n_train / seconds, mean, per_seed.c_str(), openblas_get_corename());
  return 0;
}
