// LoadDataset and DatasetCache: validates a DatasetSpec, builds the playground sets
// or calls the IDX / CSV loaders, then applies the limits and the feature scaling.
#include "worker/engine/dataset.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/spec/trial_key.h"
#include "worker/engine/random.h"
#include "common/spec/names.h"
#include "common/spec/validate.h"

namespace actgrid::engine {
namespace dataset_internal {

std::vector<Eigen::Index> ShuffledOrder(Eigen::Index n, uint64_t seed, uint64_t stream) {
  std::vector<Eigen::Index> order(static_cast<size_t>(std::max<Eigen::Index>(n, 0)));
  std::iota(order.begin(), order.end(), Eigen::Index{0});
  Rng rng(seed, stream);
  rng.Shuffle(order);
  return order;
}

Eigen::MatrixXf GatherColumns(const Eigen::MatrixXf& x, const std::vector<Eigen::Index>& order,
                              Eigen::Index begin, Eigen::Index end) {
  Eigen::MatrixXf out(x.rows(), end - begin);
  for (Eigen::Index j = begin; j < end; ++j) out.col(j - begin) = x.col(order[j]);
  return out;
}

absl::Status CheckTestFraction(const v1::DatasetSpec& spec) {
  const double f = spec.test_fraction();
  if (f > 0.0 && f < 1.0) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("dataset test_fraction must be in (0, 1), got ", spec::FormatNumber(f)));
}

namespace {

// round(n * fraction), kept within [1, n - 1] so that neither split is empty.
Eigen::Index TestCount(Eigen::Index n, double fraction) {
  const auto count = static_cast<Eigen::Index>(std::llround(static_cast<double>(n) * fraction));
  return std::clamp<Eigen::Index>(count, 1, n - 1);
}

std::vector<int32_t> GatherLabels(const std::vector<int32_t>& y,
                                  const std::vector<Eigen::Index>& order, Eigen::Index begin,
                                  Eigen::Index end) {
  std::vector<int32_t> out;
  out.reserve(static_cast<size_t>(end - begin));
  for (Eigen::Index j = begin; j < end; ++j) out.push_back(y[static_cast<size_t>(order[j])]);
  return out;
}

// Per-feature offset and factor: scaled = (x - offset) * factor.
struct Affine {
  Eigen::VectorXf offset;
  Eigen::VectorXf factor;
};

struct FeatureStats {
  Eigen::VectorXd mean, std, min, max;
};

// Mean, population std, min and max of each row of x (in double for accuracy).
FeatureStats Fit(const Eigen::MatrixXf& x) {
  const Eigen::Index d = x.rows(), n = x.cols();
  FeatureStats s;
  s.mean = Eigen::VectorXd::Zero(d);
  s.min = Eigen::VectorXd::Constant(d, std::numeric_limits<double>::infinity());
  s.max = Eigen::VectorXd::Constant(d, -std::numeric_limits<double>::infinity());
  for (Eigen::Index j = 0; j < n; ++j) {
    const Eigen::VectorXd c = x.col(j).cast<double>();
    s.mean += c;
    s.min = s.min.cwiseMin(c);
    s.max = s.max.cwiseMax(c);
  }
  s.mean /= static_cast<double>(std::max<Eigen::Index>(n, 1));
  Eigen::VectorXd sq = Eigen::VectorXd::Zero(d);
  for (Eigen::Index j = 0; j < n; ++j) sq += (x.col(j).cast<double>() - s.mean).cwiseAbs2();
  s.std = (sq / static_cast<double>(std::max<Eigen::Index>(n, 1))).cwiseSqrt();
  return s;
}

// A constant feature (max == min, tested exactly so rounding in the std cannot
// produce a huge factor) is only centred.
Affine StandardizeAffine(const FeatureStats& s) {
  Affine a{s.mean.cast<float>(), Eigen::VectorXf::Ones(s.mean.size())};
  for (Eigen::Index i = 0; i < s.mean.size(); ++i)
    if (s.max[i] > s.min[i] && s.std[i] > 0) a.factor[i] = static_cast<float>(1.0 / s.std[i]);
  return a;
}

// A constant feature maps to 0 in both splits.
Affine MinMaxAffine(const FeatureStats& s) {
  Affine a{s.min.cast<float>(), Eigen::VectorXf::Zero(s.min.size())};
  for (Eigen::Index i = 0; i < s.min.size(); ++i)
    if (s.max[i] > s.min[i]) a.factor[i] = static_cast<float>(1.0 / (s.max[i] - s.min[i]));
  return a;
}

void Apply(const Affine& a, Eigen::MatrixXf& x) {
  for (Eigen::Index j = 0; j < x.cols(); ++j)
    x.col(j) = (x.col(j) - a.offset).cwiseProduct(a.factor);
}

}  // namespace

void SplitShuffled(const Eigen::MatrixXf& x, const std::vector<int32_t>& y, double test_fraction,
                   uint64_t seed, Dataset* out) {
  const Eigen::Index n = x.cols();
  const std::vector<Eigen::Index> order = ShuffledOrder(n, seed, 2);
  const Eigen::Index train = n - TestCount(n, test_fraction);
  out->train_x = GatherColumns(x, order, 0, train);
  out->train_y = GatherLabels(y, order, 0, train);
  out->test_x = GatherColumns(x, order, train, n);
  out->test_y = GatherLabels(y, order, train, n);
}

void ScaleFeatures(v1::Scaling scaling, Dataset* data) {
  if (scaling == v1::SCALING_NONE || data->train_x.cols() == 0) return;
  const FeatureStats stats = Fit(data->train_x);
  const Affine a = scaling == v1::SCALING_MINMAX ? MinMaxAffine(stats) : StandardizeAffine(stats);
  Apply(a, data->train_x);
  Apply(a, data->test_x);
}

}  // namespace dataset_internal

namespace {

using dataset_internal::CheckTestFraction;

// The spec's bounds (common/spec/validate.h) keep what a generator is asked for
// small enough that a typo cannot exhaust memory.
using spec::kMaxNoise;
using spec::kMaxSyntheticSamples;
using spec::kMinSyntheticSamples;

bool IsSynthetic(v1::DatasetKind kind) {
  return kind == v1::DATASET_KIND_CIRCLE || kind == v1::DATASET_KIND_XOR ||
         kind == v1::DATASET_KIND_GAUSS || kind == v1::DATASET_KIND_SPIRAL;
}

// Checks that apply to every kind: a known kind and scaling, limits >= 0.
absl::Status CheckCommon(const v1::DatasetSpec& spec) {
  if (!v1::DatasetKind_IsValid(spec.kind()) || spec.kind() == v1::DATASET_KIND_UNSPECIFIED)
    return absl::InvalidArgumentError(absl::StrCat("unknown dataset kind ", spec.kind()));
  if (!v1::Scaling_IsValid(spec.scaling()))
    return absl::InvalidArgumentError(absl::StrCat("unknown scaling ", spec.scaling()));
  if (spec.train_limit() < 0 || spec.test_limit() < 0)
    return absl::InvalidArgumentError(absl::StrCat("dataset limits must be >= 0, got train_limit ",
                                                   spec.train_limit(), ", test_limit ",
                                                   spec.test_limit()));
  return absl::OkStatus();
}

absl::Status CheckSynthetic(const v1::DatasetSpec& spec) {
  if (spec.samples() < kMinSyntheticSamples || spec.samples() > kMaxSyntheticSamples)
    return absl::InvalidArgumentError(absl::StrCat("dataset samples must be in [", kMinSyntheticSamples, ", ",
                                                   kMaxSyntheticSamples, "], got ", spec.samples()));
  if (!(spec.noise() >= 0.0 && spec.noise() <= kMaxNoise))
    return absl::InvalidArgumentError(absl::StrCat("dataset noise must be in [0, ", kMaxNoise, "], got ",
                                                   spec::FormatNumber(spec.noise())));
  return CheckTestFraction(spec);
}

Points Generate(const v1::DatasetSpec& spec) {
  switch (spec.kind()) {
    case v1::DATASET_KIND_CIRCLE:
      return GenerateCircle(spec.samples(), spec.noise(), spec.seed());
    case v1::DATASET_KIND_XOR:
      return GenerateXor(spec.samples(), spec.noise(), spec.seed());
    case v1::DATASET_KIND_GAUSS:
      return GenerateGauss(spec.samples(), spec.noise(), spec.seed());
    default:
      return GenerateSpiral(spec.samples(), spec.noise(), spec.seed());
  }
}

absl::StatusOr<Dataset> LoadSynthetic(const v1::DatasetSpec& spec) {
  if (absl::Status s = CheckSynthetic(spec); !s.ok()) return s;
  const Points p = Generate(spec);
  Eigen::MatrixXf x(2, static_cast<Eigen::Index>(p.x.size()));
  for (size_t j = 0; j < p.x.size(); ++j) {
    x(0, static_cast<Eigen::Index>(j)) = static_cast<float>(p.x[j]);
    x(1, static_cast<Eigen::Index>(j)) = static_cast<float>(p.y[j]);
  }
  Dataset data;
  data.features = 2;
  data.classes = 2;
  dataset_internal::SplitShuffled(x, p.label, spec.test_fraction(), spec.seed(), &data);
  return data;
}

absl::StatusOr<Dataset> LoadSplit(const v1::DatasetSpec& spec) {
  if (IsSynthetic(spec.kind())) return LoadSynthetic(spec);
  if (spec.kind() == v1::DATASET_KIND_CSV) return dataset_internal::LoadCsvDataset(spec);
  return dataset_internal::LoadIdxDataset(spec);
}

// Keeps the first `limit` samples of a split (limit 0 keeps all).
void Limit(int limit, Eigen::MatrixXf& x, std::vector<int32_t>& y) {
  if (limit <= 0 || limit >= x.cols()) return;
  x.conservativeResize(Eigen::NoChange, limit);
  y.resize(static_cast<size_t>(limit));
}

std::string Describe(const v1::DatasetSpec& spec, const Dataset& d) {
  return absl::StrCat(spec::NameOf(spec::DatasetKindNames(), spec.kind()), ": ", d.train_y.size(), " train / ",
                      d.test_y.size(), " test, ", d.features, " features, ", d.classes, " classes");
}

// Equal specs give equal keys.
std::string CacheKey(const v1::DatasetSpec& spec) { return actgrid::spec::DeterministicBytes(spec); }

}  // namespace

absl::StatusOr<std::shared_ptr<const Dataset>> LoadDataset(const v1::DatasetSpec& spec) {
  if (absl::Status s = CheckCommon(spec); !s.ok()) return s;
  absl::StatusOr<Dataset> data = LoadSplit(spec);
  if (!data.ok()) return data.status();
  if (!spec.digest().empty()) {
    // The files are the ones the grid was expanded with, or the trial would be filed
    // under a key that names other data.
    absl::StatusOr<std::string> digest = DatasetDigest(spec);
    if (!digest.ok()) return digest.status();
    if (*digest != spec.digest())
      return absl::FailedPreconditionError(absl::StrCat(
          "dataset.path ", spec.path().empty() ? dataset_internal::kDefaultFashionDir : spec.path(),
          ": the files are not the ones the grid was expanded with (SHA-256 ", digest->substr(0, 16),
          "..., the grid's ", spec.digest().substr(0, 16),
          "...); put those files back, or submit the grid again to measure these"));
  }
  Limit(spec.train_limit(), data->train_x, data->train_y);
  Limit(spec.test_limit(), data->test_x, data->test_y);
  dataset_internal::ScaleFeatures(spec.scaling(), &*data);
  data->description = Describe(spec, *data);
  return std::make_shared<const Dataset>(std::move(*data));
}

// The lock is held while loading so that concurrent trials load a spec only once.
absl::StatusOr<std::shared_ptr<const Dataset>> DatasetCache::Get(const v1::DatasetSpec& spec) {
  const std::string key = CacheKey(spec);
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = loaded_.find(key); it != loaded_.end()) return it->second;
  absl::StatusOr<std::shared_ptr<const Dataset>> data = LoadDataset(spec);
  if (data.ok()) loaded_.emplace(key, *data);
  return data;
}

absl::Status CheckDataPath(const std::string& path, const std::vector<std::string>& roots) {
  if (roots.empty()) return absl::OkStatus();
  char resolved[PATH_MAX];
  if (realpath(path.c_str(), resolved) == nullptr)
    return absl::NotFoundError(absl::StrCat("dataset path ", path, ": ", std::strerror(errno)));
  const std::string real(resolved);
  std::vector<std::string> shown;
  for (const std::string& root : roots) {
    char root_resolved[PATH_MAX];
    if (realpath(root.c_str(), root_resolved) == nullptr) continue;
    std::string r(root_resolved);
    shown.push_back(r);
    if (real == r || (real.compare(0, r.size(), r) == 0 && (r == "/" || real[r.size()] == '/')))
      return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "dataset path ", path, " (", real, ") is outside the data directories this worker may read (",
      shown.empty() ? "none exists" : absl::StrJoin(shown, ", "), "); give the worker --data-dir"));
}

}  // namespace actgrid::engine
