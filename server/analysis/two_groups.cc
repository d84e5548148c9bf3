// Test (see analysis.h): two groups of a grid compared on one metric.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/analysis/analysis.h"
#include "server/analysis/hypothesis.h"
#include "server/analysis/selection.h"
#include "server/analysis/stats.h"

namespace actgrid::analysis {
namespace {

constexpr int kDefaultResamples = 10000;
constexpr int kMaxResamples = 1000000;

using Rows = std::vector<const store::GridValueRow*>;

void SetTTest(const TTestResult& r, v1::TTest* out) {
  out->set_t(r.t);
  out->set_df(r.df);
  out->set_p(r.p);
  out->set_mean_diff(r.mean_diff);
  out->set_ci95_low(r.ci95_low);
  out->set_ci95_high(r.ci95_high);
}

void SetInterval(const BootstrapCI& b, v1::BootstrapInterval* out) {
  out->set_estimate(b.estimate);
  out->set_ci95_low(b.ci95_low);
  out->set_ci95_high(b.ci95_high);
  out->set_resamples(b.resamples);
}

// The values of the finished trials of `rows`; counts those without one.
std::vector<double> Values(const Rows& rows, int* missing) {
  std::vector<double> values;
  *missing = 0;
  for (const auto* r : rows) {
    if (!IsFinished(*r)) continue;
    if (std::isnan(r->value)) {
      ++*missing;
    } else {
      values.push_back(r->value);
    }
  }
  return values;
}

void SetStats(const std::vector<double>& values, int missing, const google::protobuf::RepeatedPtrField<v1::Filter>& sel,
              v1::SampleStats* out) {
  const Describe d = DescribeSample(values);
  *out->mutable_selection() = sel;
  out->set_n(d.n);
  out->set_missing(missing);
  out->set_mean(d.mean);
  out->set_std(d.std);
  out->set_median(Median(values));
}

// The pairing key of a row: its labels of every grid factor not named by the
// groups' filters, and its seed.
std::vector<std::string> PairKey(const Selection& selection, const store::GridValueRow& row,
                                 const std::set<int>& treatment, size_t factors) {
  std::vector<std::string> key;
  for (size_t c = 0; c < factors; ++c)
    if (!treatment.count(int(c))) key.push_back(selection.CellLabel(row.cell, int(c)));
  key.push_back(absl::StrCat(row.seed));
  return key;
}

}  // namespace

absl::StatusOr<v1::TestResponse> Test(store::Store& store, const v1::TestRequest& request) {
  if (request.a().empty() || request.b().empty())
    return absl::InvalidArgumentError("test needs two groups: --a FACTOR=VALUE and --b FACTOR=VALUE");
  if (request.resamples() < 0 || request.resamples() > kMaxResamples)
    return absl::InvalidArgumentError(absl::StrCat("resamples ", request.resamples(), ": between 1 and ",
                                                   kMaxResamples, " (0 = ", kDefaultResamples, ")"));
  auto metric = ParseMetric(request.metric(), request.summary());
  if (!metric.ok()) return metric.status();
  auto selection = Selection::Load(store, request.grid(), request.where(), &*metric);
  if (!selection.ok()) return selection.status();
  if (auto st = selection->LoadEpochValues(store, *metric); !st.ok()) return st;

  v1::TestResponse response;
  google::protobuf::RepeatedPtrField<v1::Filter> sel_a, sel_b;
  auto rows_a = selection->Match(request.a(), "a", &sel_a);
  if (!rows_a.ok()) return rows_a.status();
  auto rows_b = selection->Match(request.b(), "b", &sel_b);
  if (!rows_b.ok()) return rows_b.status();
  std::set<int> positions_a;
  for (const auto* r : *rows_a) positions_a.insert(r->position);
  int shared = 0;
  for (const auto* r : *rows_b) shared += positions_a.count(r->position);
  if (shared > 0)
    return absl::InvalidArgumentError(absl::StrCat("the groups share ", shared, " trials; --a and --b must select "
                                                   "disjoint trials (differ in at least one factor)"));
  if (rows_a->empty() || rows_b->empty())
    return absl::InvalidArgumentError(absl::StrCat("group ", rows_a->empty() ? "a" : "b",
                                                   " selects no trials (check --where)"));

  response.set_grid_id(selection->grid().id);
  response.set_grid(selection->grid().name);
  response.set_metric(metric->metric);
  response.set_summary(metric->summary);
  *response.mutable_where() = selection->where();
  response.set_trials(int(rows_a->size() + rows_b->size()));
  int finished = 0;
  for (const auto* rows : {&*rows_a, &*rows_b})
    for (const auto* r : *rows) finished += IsFinished(*r);
  response.set_finished(finished);

  int missing_a = 0, missing_b = 0;
  const std::vector<double> a = Values(*rows_a, &missing_a);
  const std::vector<double> b = Values(*rows_b, &missing_b);
  SetStats(a, missing_a, sel_a, response.mutable_a());
  SetStats(b, missing_b, sel_b, response.mutable_b());
  if (a.size() < 2 || b.size() < 2)
    return absl::FailedPreconditionError(absl::StrCat(
        "group ", a.size() < 2 ? "a" : "b", " has ", std::min(a.size(), b.size()), " value",
        std::min(a.size(), b.size()) == 1 ? "" : "s", " of ", metric->metric, "; a test needs at least 2 per group (",
        finished, " of ", response.trials(), " trials of the groups finished)"));

  SetTTest(WelchTTest(a, b), response.mutable_welch());
  const MannWhitneyResult u = MannWhitneyU(a, b);
  v1::UTest* ut = response.mutable_mann_whitney();
  ut->set_u(u.u);
  ut->set_z(u.z);
  ut->set_p(u.p);
  ut->set_exact(u.exact);
  ut->set_rank_biserial(u.rank_biserial);

  // Pairing: the same seed and the same levels of every factor the groups do not name.
  std::set<int> treatment;
  for (const auto* sel : {&sel_a, &sel_b})
    for (const auto& f : *sel) {
      auto column = selection->Column(f.factor(), "a");
      if (column.ok()) treatment.insert(*column);
    }
  const size_t factors = selection->grid().factors.size();
  std::string reason;
  std::vector<double> pa, pb;
  if (treatment.count(kSeedColumn)) {
    reason = "the groups are chosen by seed";
  } else {
    std::map<std::vector<std::string>, double> va, vb;
    bool duplicate = false;
    for (const auto& [rows, values] : {std::make_pair(&*rows_a, &va), std::make_pair(&*rows_b, &vb)})
      for (const auto* r : *rows)
        if (IsFinished(*r) && !std::isnan(r->value))
          duplicate |= !values->emplace(PairKey(*selection, *r, treatment, factors), r->value).second;
    if (duplicate) {
      reason = "a group holds several trials with the same seed and other factors";
    } else {
      for (const auto& [key, value] : va)
        if (const auto it = vb.find(key); it != vb.end()) pa.push_back(value), pb.push_back(it->second);
      if (pa.size() != a.size() || pb.size() != b.size())
        reason = absl::StrCat(a.size() - pa.size(), " of ", a.size(), " values of a and ", b.size() - pb.size(), " of ",
                              b.size(), " of b have no partner with the same seed and other factors");
      else if (pa.size() < 2)
        reason = "fewer than 2 pairs";
    }
  }
  const int resamples = request.resamples() == 0 ? kDefaultResamples : request.resamples();
  const uint64_t seed = request.seed();
  response.add_assumptions(
      "Welch's t: trials are independent and each group's mean is roughly normal (seeds average out); "
      "variances may differ");
  response.add_assumptions(
      "Mann-Whitney U: trials are independent; tests whether one group tends to give larger values, "
      "no normality assumed");
  if (reason.empty()) {
    response.set_paired(true);
    response.set_pairs(int(pa.size()));
    SetTTest(PairedTTest(pa, pb), response.mutable_paired_t());
    SetInterval(BootstrapPairedMeanDiff(pa, pb, resamples, seed), response.mutable_mean_diff());
    SetInterval(BootstrapPairedCohensDz(pa, pb, resamples, seed), response.mutable_cohens_d());
    response.add_assumptions(
        "paired t: pairs share seed and every other factor; the differences are roughly normal. Prefer it: "
        "it removes the seed-to-seed variation the groups share");
    response.add_assumptions(absl::StrCat("effect sizes: mean of the differences and d_z = mean/sd of the "
                                          "differences, percentile bootstrap over pairs (",
                                          resamples, " resamples, seed ", seed, ")"));
  } else {
    response.set_unpaired_reason(reason);
    SetInterval(BootstrapMeanDiff(a, b, resamples, seed), response.mutable_mean_diff());
    SetInterval(BootstrapCohensD(a, b, resamples, seed), response.mutable_cohens_d());
    response.add_assumptions(absl::StrCat("effect sizes: difference of means and Cohen's d (pooled sd), "
                                          "percentile bootstrap resampling each group (",
                                          resamples, " resamples, seed ", seed, ")"));
  }
  response.add_assumptions("p values are two-sided and not corrected for multiple comparisons");
  return response;
}

}  // namespace actgrid::analysis
