// Range checks of a TrialSpec (validate.h). Each check appends "path: problem";
// comparisons are written so that NaN fails them.
#include "common/spec/validate.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/spec/formula.h"
#include "common/spec/names.h"

namespace actgrid::spec {
namespace {

using Problems = std::vector<std::string>;

void Add(Problems* problems, const char* path, const std::string& problem) {
  problems->push_back(absl::StrCat(path, ": ", problem));
}

void IntIn(Problems* p, const char* path, int64_t value, int64_t lo, int64_t hi) {
  if (value < lo || value > hi) Add(p, path, absl::StrCat("must be in ", lo, "..", hi, ", got ", value));
}

void Finite(Problems* p, const char* path, double value) {
  if (!std::isfinite(value)) Add(p, path, "must be a finite number, got " + FormatNumber(value));
}

void NonNegative(Problems* p, const char* path, double value) {
  if (!(std::isfinite(value) && value >= 0))
    Add(p, path, "must be a finite number >= 0, got " + FormatNumber(value));
}

void Positive(Problems* p, const char* path, double value) {
  if (!(std::isfinite(value) && value > 0)) Add(p, path, "must be a finite number > 0, got " + FormatNumber(value));
}

// `range` is the interval as written in the message ("[0, 1)"): the bounds are not
// formatted from doubles, so they read as the user would write them.
void NumberIn(Problems* p, const char* path, double value, double lo, double hi, bool hi_open,
              const char* range) {
  const bool ok = value >= lo && (hi_open ? value < hi : value <= hi);
  if (!ok) Add(p, path, absl::StrCat("must be in ", range, ", got ", FormatNumber(value)));
}

bool IsSynthetic(v1::DatasetKind kind) {
  return kind == v1::DATASET_KIND_CIRCLE || kind == v1::DATASET_KIND_XOR || kind == v1::DATASET_KIND_GAUSS ||
         kind == v1::DATASET_KIND_SPIRAL;
}

// A kind that must be set and must name an entry of `table`.
void KnownEnum(Problems* p, const char* path, const char* what, int value, const std::vector<EnumName>& table) {
  if (value == 0)
    Add(p, path, absl::StrCat("must be set (", what, " is unspecified)"));
  else if (std::string(NameOf(table, value)) == "?")
    Add(p, path, absl::StrCat("unknown ", what, " ", value));
}

void CheckDataset(const v1::DatasetSpec& d, Problems* p) {
  KnownEnum(p, "dataset.name", "dataset kind", d.kind(), DatasetKindNames());
  if (IsSynthetic(d.kind())) IntIn(p, "dataset.samples", d.samples(), kMinSyntheticSamples, kMaxSyntheticSamples);
  NumberIn(p, "dataset.noise", d.noise(), 0, kMaxNoise, /*hi_open=*/false, "[0, 10]");
  static_assert(kMaxNoise == 10.0, "the range text above says 10");
  if (!(d.test_fraction() > 0 && d.test_fraction() < 1))
    Add(p, "dataset.test_fraction", "must be in (0, 1), got " + FormatNumber(d.test_fraction()));
  KnownEnum(p, "dataset.scaling", "scaling", d.scaling(), ScalingNames());
  if (d.train_limit() < 0) Add(p, "dataset.train_limit", absl::StrCat("must be >= 0, got ", d.train_limit()));
  if (d.test_limit() < 0) Add(p, "dataset.test_limit", absl::StrCat("must be >= 0, got ", d.test_limit()));
  if ((d.kind() == v1::DATASET_KIND_IDX || d.kind() == v1::DATASET_KIND_CSV) && d.path().empty())
    Add(p, "dataset.path", absl::StrCat("must be set for dataset ", NameOf(DatasetKindNames(), d.kind())));
}

// The parameter list must match the registry entry one to one, and be finite.
void CheckParams(Problems* p, const char* path, const char* name, const std::vector<ParamInfo>& expected,
                 const google::protobuf::RepeatedField<double>& params) {
  if (static_cast<size_t>(params.size()) != expected.size()) {
    Add(p, path, absl::StrCat(name, " takes ", expected.size(), " parameter(s), got ", params.size()));
    return;
  }
  for (int i = 0; i < params.size(); ++i)
    if (!std::isfinite(params[i]))
      Add(p, path, absl::StrCat(name, " parameter ", expected[i].name, " must be finite, got ",
                                FormatNumber(params[i])));
}

void CheckActivation(const v1::ActivationSpec& a, Problems* p) {
  if (a.kind() == v1::ACTIVATION_KIND_FORMULA) {
    if (!a.has_formula()) {
      Add(p, "model.activation", "a formula activation needs its formula");
      return;
    }
    for (std::string& problem : FormulaProblems(a)) p->push_back(std::move(problem));
    return;
  }
  if (a.has_formula()) Add(p, "model.activation", "only a formula activation (kind FORMULA) carries a formula");
  const ActivationInfo* info = FindActivation(a.kind());
  if (a.kind() == v1::ACTIVATION_KIND_UNSPECIFIED || info == nullptr) {
    Add(p, "model.activation", a.kind() == 0 ? "must be set (activation kind is unspecified)"
                                             : absl::StrCat("unknown activation kind ", a.kind()));
    return;
  }
  const size_t before = p->size();
  CheckParams(p, "model.activation", info->name, info->params, a.params());
  if (p->size() != before || a.kind() != v1::ACTIVATION_KIND_MAXOUT) return;
  const double k = a.params(0);
  if (!(k >= 2 && k <= 16 && std::trunc(k) == k))
    Add(p, "model.activation", "maxout k must be an integer in 2..16, got " + FormatNumber(k));
}

void CheckInit(const v1::InitSpec& init, Problems* p) {
  const InitInfo* info = FindInit(init.kind());
  if (init.kind() == v1::INIT_KIND_UNSPECIFIED || info == nullptr) {
    Add(p, "model.init", init.kind() == 0 ? "must be set (init kind is unspecified)"
                                          : absl::StrCat("unknown init kind ", init.kind()));
    return;
  }
  CheckParams(p, "model.init", info->name, info->params, init.params());
}

}  // namespace

std::vector<int> HiddenSizes(const v1::TrialSpec& spec) {
  if (!spec.model().hidden().empty()) return {spec.model().hidden().begin(), spec.model().hidden().end()};
  // A depth past the bound gives no layers rather than billions of them: callers
  // validate first, and this never allocates what a request asks for unchecked.
  if (spec.depth() < 1 || spec.depth() > kMaxDepth) return {};
  return std::vector<int>(size_t(spec.depth()), spec.model().width());
}

namespace {

void CheckModel(const v1::TrialSpec& spec, Problems* p) {
  const auto& hidden = spec.model().hidden();
  if (hidden.empty()) {
    IntIn(p, "model.width", spec.model().width(), 1, kMaxWidth);
  } else {
    if (hidden.size() > kMaxDepth)
      Add(p, "model.hidden", absl::StrCat("at most ", kMaxDepth, " hidden layers, got ", hidden.size()));
    else
      for (int i = 0; i < hidden.size(); ++i)
        IntIn(p, absl::StrCat("model.hidden[", i, "]").c_str(), hidden[i], 1, kMaxWidth);
    if (spec.model().width() != 0)
      Add(p, "model.width", "model.hidden gives the layer sizes: leave model.width out");
    if (spec.depth() != hidden.size())
      Add(p, "model.depth", absl::StrCat("model.hidden gives ", hidden.size(), " hidden layers: leave depth out (got ",
                                         spec.depth(), ")"));
  }
  IntIn(p, "model.depth", spec.depth(), 1, kMaxDepth);
  CheckActivation(spec.activation(), p);
  CheckInit(spec.init(), p);
  Finite(p, "model.bias", spec.bias());
  // Size limits keep one trial's memory bounded (weights, optimizer state and the
  // per-layer buffers of a 1000-sample probe); the input layer is not counted here.
  const int64_t pieces = spec.activation().kind() == v1::ACTIVATION_KIND_MAXOUT &&
                                 spec.activation().params_size() == 1
                             ? int64_t(spec.activation().params(0))
                             : 1;
  // The size checks below walk the layers: only a depth within its bound gets there.
  if (spec.depth() < 1 || spec.depth() > kMaxDepth || hidden.size() > kMaxDepth) return;
  const std::vector<int> sizes = HiddenSizes(spec);
  if (sizes.empty() || pieces < 1) return;
  int64_t units = 0, weights = 0;
  for (size_t l = 0; l < sizes.size(); ++l) {
    if (sizes[l] < 1) return;
    units += int64_t(sizes[l]) * pieces;
    if (l > 0) weights += int64_t(sizes[l - 1]) * sizes[l] * pieces;
  }
  const int64_t step_values = units * (int64_t(std::max(1, spec.train().batch())) + int64_t(kProbeSamples));
  const bool uniform = hidden.empty();
  const char* maxout = pieces > 1 ? " x maxout k" : "";
  if (units > kMaxHiddenUnits)
    Add(p, "model", absl::StrCat(uniform ? "width x depth" : "sum of model.hidden", maxout, " = ", units,
                                 " hidden units; at most ", kMaxHiddenUnits, " are allowed"));
  else if (weights > kMaxHiddenWeights)
    Add(p, "model", absl::StrCat(uniform ? "width^2 x (depth - 1)" : "weights between hidden layers", maxout, " = ",
                                 weights, " hidden weights; at most ", kMaxHiddenWeights, " are allowed"));
  else if (step_values > kMaxActivationValues)
    Add(p, "train.batch", absl::StrCat("hidden units x (batch + ", kProbeSamples, " probe samples) = ",
                                       step_values, " activations to keep; at most ",
                                       kMaxActivationValues, " are allowed (lower batch, width or depth)"));
}

void CheckTrain(const v1::TrainSpec& t, Problems* p) {
  KnownEnum(p, "train.optimizer", "optimizer", t.optimizer(), OptimizerNames());
  Positive(p, "train.lr", t.lr());
  if (t.lr() > 100) Add(p, "train.lr", "must be at most 100, got " + FormatNumber(t.lr()));
  IntIn(p, "train.batch", t.batch(), 1, 65536);
  IntIn(p, "train.epochs", t.epochs(), 0, 100000);
  NonNegative(p, "train.l2", t.l2());
  NonNegative(p, "train.l1_activity", t.l1_activity());
  NumberIn(p, "train.target_accuracy", t.target_accuracy(), 0, 1, /*hi_open=*/false, "[0, 1]");
  NumberIn(p, "train.momentum", t.momentum(), 0, 1, /*hi_open=*/true, "[0, 1)");
  NumberIn(p, "train.beta1", t.beta1(), 0, 1, /*hi_open=*/true, "[0, 1)");
  NumberIn(p, "train.beta2", t.beta2(), 0, 1, /*hi_open=*/true, "[0, 1)");
  Positive(p, "train.eps", t.eps());
}

}  // namespace

absl::Status ValidateTrialSpec(const v1::TrialSpec& spec) {
  Problems problems;
  CheckDataset(spec.dataset(), &problems);
  CheckModel(spec, &problems);
  CheckTrain(spec.train(), &problems);
  if (problems.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(problems, "\n"));
}

}  // namespace actgrid::spec
