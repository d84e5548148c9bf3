// The engine version must move with the engine's numbers: trial keys include it, so a
// database reuses a result only when the same engine would measure it again.
//
// This test trains a fixed set of small trials that touch every activation, every
// init, every optimizer, L2, L1 activity, biases and depth, and compares every stored
// metric of every epoch (wall time aside) with the fingerprint recorded for
// kEngineVersion in tests/engine/testdata/engine-v<N>.txt. When a change moves them,
// it fails and asks whoever made it to decide: a bug, or a new engine version (bump
// kEngineVersion in common/spec/engine_version.h, record the fingerprint with
//   ACTGRID_RECORD_ENGINE_FINGERPRINT=1 build/tests/engine/engine_test
//     --gtest_filter='EngineVersion.*'
// delete the old file, and rerun the studies whose numbers it touches).
//
// Values are compared to a relative 1e-3 (plus 1e-9 for values at 0): far below what
// any change of a formula, an init, an optimizer or a metric's definition does over
// three epochs, and far above the last-bit differences between instruction sets (a
// native and a portable build agree). A change only in the last bits (summation order) is not caught here; the
// determinism tests pin those within one build.
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/spec/engine_version.h"
#include "worker/engine/dataset.h"
#include "common/spec/names.h"
#include "worker/engine/packed_trainer.h"
#include "worker/engine/trainer.h"

namespace actgrid::engine {
namespace {

struct Case {
  std::string name;
  v1::TrialSpec spec;
};

v1::TrialSpec Base() {
  v1::TrialSpec spec;
  auto* d = spec.mutable_dataset();
  d->set_kind(v1::DATASET_KIND_SPIRAL);
  d->set_samples(200);
  d->set_noise(0.1);
  d->set_test_fraction(0.5);
  d->set_seed(5);
  d->set_scaling(v1::SCALING_STANDARDIZE);
  spec.mutable_model()->set_width(5);
  auto* t = spec.mutable_train();
  t->set_optimizer(v1::OPTIMIZER_SGD);
  t->set_lr(0.05);
  t->set_batch(8);
  t->set_epochs(3);
  t->set_target_accuracy(0.6);
  t->set_momentum(0.9);
  t->set_beta1(0.9);
  t->set_beta2(0.999);
  t->set_eps(1e-8);
  *spec.mutable_activation() = spec::DefaultActivation(v1::ACTIVATION_KIND_TANH);
  *spec.mutable_init() = spec::DefaultInit(v1::INIT_KIND_XAVIER_UNIFORM);
  spec.set_bias(0.1);
  spec.set_depth(2);
  spec.set_seed(3);
  return spec;
}

std::vector<Case> Cases() {
  std::vector<Case> cases;
  for (const spec::ActivationInfo& a : spec::Activations()) {
    v1::TrialSpec spec = Base();
    *spec.mutable_activation() = spec::DefaultActivation(a.kind);
    *spec.mutable_init() = spec::DefaultInit(v1::INIT_KIND_HE_NORMAL);
    cases.push_back({absl::StrCat("activation_", a.name), spec});
  }
  for (const spec::InitInfo& i : spec::Inits()) {
    v1::TrialSpec spec = Base();
    *spec.mutable_init() = spec::DefaultInit(i.kind);
    if (i.kind == v1::INIT_KIND_CONSTANT || i.kind == v1::INIT_KIND_UNIFORM || i.kind == v1::INIT_KIND_NORMAL)
      spec.mutable_init()->set_params(0, 0.3);
    cases.push_back({absl::StrCat("init_", i.name), spec});
  }
  for (v1::Optimizer o : {v1::OPTIMIZER_MOMENTUM, v1::OPTIMIZER_ADAM}) {
    v1::TrialSpec spec = Base();
    spec.mutable_train()->set_optimizer(o);
    spec.mutable_train()->set_lr(o == v1::OPTIMIZER_ADAM ? 0.01 : 0.02);
    spec.mutable_train()->set_l2(1e-3);
    *spec.mutable_activation() = spec::DefaultActivation(v1::ACTIVATION_KIND_REFLU);
    cases.push_back({absl::StrCat("optimizer_", spec::NameOf(spec::OptimizerNames(), o), "_reflu_l2"), spec});
  }
  {
    v1::TrialSpec spec = Base();
    spec.mutable_train()->set_l1_activity(1e-3);
    *spec.mutable_activation() = spec::DefaultActivation(v1::ACTIVATION_KIND_RELU);
    spec.set_depth(4);
    spec.mutable_model()->clear_width();
    for (int h : {7, 5, 4, 3}) spec.mutable_model()->add_hidden(h);
    cases.push_back({"relu_l1_hidden_7x5x4x3", spec});
  }
  {
    v1::TrialSpec spec = Base();  // wider than a pack takes: the BLAS path
    spec.mutable_model()->set_width(kMaxPackedUnits + 1);
    *spec.mutable_activation() = spec::DefaultActivation(v1::ACTIVATION_KIND_RELU);
    cases.push_back({"relu_wide_blas", spec});
  }
  {
    v1::TrialSpec spec = Base();
    spec.mutable_train()->set_lr(100);  // diverges: the epoch and the outcome are part of it
    *spec.mutable_activation() = spec::DefaultActivation(v1::ACTIVATION_KIND_LINEAR);
    spec.set_depth(4);
    cases.push_back({"linear_diverging", spec});
  }
  return cases;
}

// "name epoch metric" -> value, for every per-epoch and per-layer metric but wall time,
// and every summary field that follows from the curve.
std::map<std::string, double> Fingerprint() {
  std::map<std::string, double> out;
  for (const Case& c : Cases()) {
    auto data = LoadDataset(c.spec.dataset());
    EXPECT_TRUE(data.ok()) << data.status();
    if (!data.ok()) continue;
    // As a worker trains it: small networks on the packed path, the rest with RunTrial.
    auto result = Packable(c.spec) ? std::move(RunPackedTrials({c.spec}, **data)[0]) : RunTrial(c.spec, **data);
    EXPECT_TRUE(result.ok()) << c.name << ": " << result.status();
    if (!result.ok()) continue;
    for (const v1::EpochMetrics& m : result->epochs()) {
      const std::string at = absl::StrCat(c.name, " ", m.epoch(), " ");
      out[at + "train_loss"] = m.train_loss();
      out[at + "test_loss"] = m.test_loss();
      out[at + "train_acc"] = m.train_acc();
      out[at + "test_acc"] = m.test_acc();
      out[at + "dead_fraction"] = m.dead_fraction();
      out[at + "sparsity"] = m.sparsity();
      out[at + "grad_norm_first"] = m.grad_norm_first();
      out[at + "grad_norm_last"] = m.grad_norm_last();
      out[at + "nonfinite_params"] = double(m.nonfinite_params());
      for (const v1::LayerMetrics& l : m.layers()) {
        const std::string layer = absl::StrCat(at, "layer", l.layer(), "_");
        out[layer + "dead_fraction"] = l.dead_fraction();
        out[layer + "sparsity"] = l.sparsity();
        out[layer + "grad_norm"] = l.grad_norm();
        out[layer + "act_mean"] = l.act_mean();
        out[layer + "act_std"] = l.act_std();
      }
    }
    const v1::TrialSummary& s = result->summary();
    const std::string at = c.name + " summary ";
    out[at + "outcome"] = s.outcome();
    out[at + "epochs_run"] = s.epochs_run();
    out[at + "diverged_epoch"] = s.diverged_epoch();
    out[at + "best_epoch"] = s.best_epoch();
    out[at + "epochs_to_target"] = s.epochs_to_target();
    out[at + "auc_test_acc"] = s.auc_test_acc();
    // A constant init makes every unit of a layer the same: their gradients cancel to
    // rounding noise, and the ratio of two noises (0/0 in one build) is no fingerprint.
    if (c.spec.init().kind() != v1::INIT_KIND_CONSTANT) out[at + "grad_ratio"] = s.grad_ratio();
    out[at + "born_dead"] = s.born_dead();
    out[at + "parameters"] = double(s.parameters());
  }
  return out;
}

std::string FingerprintPath() {
  return absl::StrCat(ACTGRID_SOURCE_DIR, "/tests/engine/testdata/engine-v", spec::kEngineVersion, ".txt");
}

bool Agree(double recorded, double now) {
  if (std::isnan(recorded) || std::isnan(now)) return std::isnan(recorded) && std::isnan(now);
  if (std::isinf(recorded) || std::isinf(now)) return recorded == now;
  return std::abs(recorded - now) <= 1e-3 * std::abs(recorded) + 1e-9;
}

TEST(EngineVersion, FingerprintIsRecordedForThisVersion) {
  const std::map<std::string, double> now = Fingerprint();
  ASSERT_GT(now.size(), 1000u);
  const std::string path = FingerprintPath();
  const char* record = std::getenv("ACTGRID_RECORD_ENGINE_FINGERPRINT");
  if (record != nullptr && std::string(record) == "1") {
    std::ofstream out(path);
    out << "# The numbers of engine version " << spec::kEngineVersion
        << " (tests/engine/engine_version_test.cc); written by the test, not by hand.\n";
    for (const auto& [key, value] : now) out << key << " " << absl::StrFormat("%.17g", value) << "\n";
    ASSERT_TRUE(out.good()) << "cannot write " << path;
    GTEST_SKIP() << "recorded " << now.size() << " values in " << path;
  }
  std::ifstream in(path);
  ASSERT_TRUE(in.good()) << "No fingerprint of engine version " << spec::kEngineVersion << " (" << path
                         << "). After bumping kEngineVersion, record it: ACTGRID_RECORD_ENGINE_FINGERPRINT=1 "
                            "build/tests/engine/engine_test --gtest_filter='EngineVersion.*'";
  std::map<std::string, double> recorded;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t cut = line.rfind(' ');
    ASSERT_NE(cut, std::string::npos) << line;
    recorded[line.substr(0, cut)] = std::strtod(line.c_str() + cut + 1, nullptr);
  }
  int moved = 0;
  std::string first;
  for (const auto& [key, value] : now) {
    auto it = recorded.find(key);
    const bool same = it != recorded.end() && Agree(it->second, value);
    if (!same && moved++ == 0)
      first = it == recorded.end() ? absl::StrCat(key, " is new")
                                   : absl::StrCat(key, " was ", absl::StrFormat("%.9g", it->second), ", now ",
                                                  absl::StrFormat("%.9g", value));
  }
  if (recorded.size() != now.size() && moved == 0) {
    ++moved;
    first = absl::StrCat(recorded.size(), " values recorded, ", now.size(), " measured");
  }
  EXPECT_EQ(moved, 0) << "The engine's numbers moved without a new engine version: " << moved
                      << " values differ (" << first << "). A bug, or an intended change of numerics or of "
                      << "a metric's definition? If intended, bump kEngineVersion in "
                         "common/spec/engine_version.h (results measured by the old engine are then not "
                         "reused), record the fingerprint (see the head of this file), and rerun the studies "
                         "whose numbers it touches.";
}

}  // namespace
}  // namespace actgrid::engine
