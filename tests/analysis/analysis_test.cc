// The analyses over a hand-built database: a 2 x 2 grid (activation x depth) with
// two or three seeds whose summaries, curves and layers are written through the
// store's own write path, and every answer checked against values worked out by hand.
#include <cmath>
#include <map>

#include <gtest/gtest.h>

#include "server/analysis/analysis.h"
#include "server/analysis/hypothesis.h"
#include "server/analysis/stats.h"
#include "server/analysis/summary_metric.h"

namespace actgrid::analysis {
namespace {

// One finished trial: its final accuracy, its test_acc curve (epochs 0..n-1) and
// whether it diverged. Layer l of every epoch has grad_norm = grad * (l + 1).
struct Outcome {
  double final_acc;
  std::vector<double> curve;
  bool diverged = false;
  double grad = 1.0;
};

class AnalysisTest : public ::testing::Test {
 protected:
  // Positions are seed-major: position = seed_rank * 4 + cell, cells
  // (relu,1) (relu,2) (tanh,1) (tanh,2).
  void Build(int seeds) {
    auto opened = store::Store::Open({":memory:", false});
    ASSERT_TRUE(opened.ok()) << opened.status();
    store_ = std::move(*opened);
    store::NewGrid grid;
    grid.name = "g";
    grid.factors = {"activation", "depth"};
    grid.cells = 4;
    for (int s = 0; s < seeds; ++s)
      for (int cell = 0; cell < 4; ++cell) {
        store::NewGridTrial t;
        t.spec.set_seed(100 + s);
        t.spec.set_depth(cell % 2 + 1);
        t.spec.mutable_train()->set_epochs(9);
        t.key = absl::StrCat("k", s, "-", cell);
        t.cell = cell;
        t.seed_rank = s;
        t.values = {cell < 2 ? "relu" : "tanh", cell % 2 ? "2" : "1"};
        grid.trials.push_back(std::move(t));
      }
    auto created = store_->CreateGrid(grid);
    ASSERT_TRUE(created.ok()) << created.status();
    ids_ = created->trial_ids;
  }

  void Finish(int position, const Outcome& o) {
    const int64_t id = ids_[size_t(position)];
    ASSERT_TRUE(store_->Lease({{id, 1, "w", 1 << 30}}, 1).ok());
    std::vector<store::EpochRow> rows;
    const int depth = position % 2 + 1;
    for (size_t e = 0; e < o.curve.size(); ++e) {
      v1::EpochMetrics m;
      m.set_epoch(int(e));
      m.set_test_acc(o.curve[e]);
      m.set_train_loss(1.0 - o.curve[e]);
      for (int l = 0; l < depth; ++l) {
        v1::LayerMetrics* layer = m.add_layers();
        layer->set_layer(l);
        layer->set_grad_norm(o.grad * (l + 1));
        layer->set_dead_fraction(0.1 * l);
      }
      rows.push_back({id, 1, m});
    }
    ASSERT_TRUE(store_->AppendEpochs(rows, {}, 1 << 30).ok());
    v1::TrialSummary s;
    s.set_outcome(o.diverged ? v1::TRIAL_OUTCOME_DIVERGED : v1::TRIAL_OUTCOME_SUCCEEDED);
    s.set_final_test_acc(o.final_acc);
    s.set_diverged(o.diverged);
    s.set_epochs_to_target(o.final_acc > 0.8 ? 3 : -1);
    s.set_diverged_epoch(-1);
    s.set_epochs_run(int(o.curve.size()) - 1);
    store::AttemptEnd end;
    end.trial_id = id;
    end.attempt = 1;
    end.to = o.diverged ? v1::TRIAL_STATE_DIVERGED : v1::TRIAL_STATE_SUCCEEDED;
    end.summary = s;
    end.now_ms = 2;
    const absl::Status st = store_->EndAttempt(end);
    ASSERT_TRUE(st.ok()) << st;
  }

  // The compare fixture: seed 0 and seed 1, one trial (tanh, 2, seed 0) still pending.
  void BuildCompare() {
    Build(2);
    Finish(0, {0.5, {0.1, 0.3, 0.5}});
    Finish(1, {0.9, {0.2, 0.8, 0.9}});
    Finish(2, {0.7, {0.3, 0.6, 0.7}});
    Finish(4, {0.9, {0.3, 0.7, 0.9}});
    Finish(5, {0.7, {0.4, NAN}, true});
    Finish(6, {0.6, {0.2, 0.4, 0.6}});
    Finish(7, {0.85, {0.5, 0.8, 0.85}});
  }

  static v1::Filter Where(const std::string& factor, std::vector<std::string> values) {
    v1::Filter f;
    f.set_factor(factor);
    for (auto& v : values) f.add_values(v);
    return f;
  }

  std::unique_ptr<store::Store> store_;
  std::vector<int64_t> ids_;
};

TEST_F(AnalysisTest, CompareGroupsEveryFactorByDefault) {
  BuildCompare();
  v1::CompareRequest request;
  request.set_grid("g");
  auto c = Compare(*store_, request);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->metric(), "final_test_acc");
  EXPECT_EQ(c->trials(), 8);
  EXPECT_EQ(c->finished(), 7);
  ASSERT_EQ(c->rows_size(), 4);
  const auto& relu1 = c->rows(0);
  EXPECT_EQ(relu1.group(0).value(), "relu");
  EXPECT_EQ(relu1.group(1).value(), "1");
  EXPECT_EQ(relu1.n(), 2);
  EXPECT_DOUBLE_EQ(relu1.mean(), 0.7);
  EXPECT_DOUBLE_EQ(relu1.median(), 0.7);
  EXPECT_NEAR(relu1.std(), std::sqrt(0.08), 1e-12);
  EXPECT_NEAR(relu1.ci95_high() - relu1.mean(), 12.7062047 * std::sqrt(0.08) / std::sqrt(2.0), 1e-6);
  EXPECT_EQ(relu1.min(), 0.5);
  EXPECT_EQ(relu1.max(), 0.9);
  EXPECT_EQ(c->rows(1).diverged(), 1);
  EXPECT_EQ(c->rows(3).n(), 1);  // (tanh, 2): one finished, one pending
  EXPECT_EQ(c->rows(3).trials(), 2);
  EXPECT_TRUE(std::isnan(c->rows(3).std()));
}

TEST_F(AnalysisTest, CompareBySubsetCountsMissingValues) {
  BuildCompare();
  v1::CompareRequest request;
  request.set_grid("g");
  request.add_by("model.depth");  // the dotted path names the same factor
  request.set_metric("epochs_to_target");
  auto c = Compare(*store_, request);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->rows_size(), 2);
  EXPECT_EQ(c->by(0), "depth");
  EXPECT_EQ(c->rows(0).group(0).value(), "1");
  // depth 1: accs 0.5, 0.7, 0.9, 0.6 -> only 0.9 reached the target.
  EXPECT_EQ(c->rows(0).n(), 1);
  EXPECT_EQ(c->rows(0).missing(), 3);
  EXPECT_EQ(c->rows(0).mean(), 3);
}

TEST_F(AnalysisTest, CompareFiltersAndSorts) {
  BuildCompare();
  v1::CompareRequest request;
  request.set_grid("g");
  request.add_by("activation");
  *request.add_where() = Where("depth", {"1.0"});  // matches the label "1" as a number
  request.set_sort("-mean");
  auto c = Compare(*store_, request);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->trials(), 4);
  ASSERT_EQ(c->where_size(), 1);
  EXPECT_EQ(c->where(0).values(0), "1");
  ASSERT_EQ(c->rows_size(), 2);
  EXPECT_EQ(c->rows(0).group(0).value(), "relu");  // 0.7 > 0.65
  EXPECT_DOUBLE_EQ(c->rows(1).mean(), 0.65);
  request.set_sort("mean");
  c = Compare(*store_, request);
  EXPECT_EQ(c->rows(0).group(0).value(), "tanh");
  request.set_sort("activation");
  c = Compare(*store_, request);
  EXPECT_EQ(c->rows(0).group(0).value(), "relu");

  // An activation spelled with its parameters matches its label.
  request.set_sort("");
  *request.mutable_where(0) = Where("activation", {"relu()"});
  c = Compare(*store_, request);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->trials(), 4);
  EXPECT_EQ(c->where(0).values(0), "relu");
  *request.mutable_where(0) = Where("depth", {"1.0"});

  request.set_sort("average");
  EXPECT_TRUE(absl::IsInvalidArgument(Compare(*store_, request).status()));
  request.set_sort("");
  *request.mutable_where(0) = Where("depth", {"3"});
  auto bad = Compare(*store_, request);
  ASSERT_TRUE(absl::IsInvalidArgument(bad.status()));
  EXPECT_NE(bad.status().message().find("its values: 1, 2"), std::string::npos) << bad.status();
  *request.mutable_where(0) = Where("dept", {"1"});
  bad = Compare(*store_, request);
  EXPECT_NE(bad.status().message().find("did you mean \"depth\""), std::string::npos) << bad.status();
}

TEST_F(AnalysisTest, CompareUnknownMetricOrFactorIsInvalid) {
  BuildCompare();
  v1::CompareRequest request;
  request.set_grid("g");
  request.set_metric("final_tset_acc");
  auto bad = Compare(*store_, request);
  EXPECT_TRUE(absl::IsInvalidArgument(bad.status()));
  EXPECT_NE(bad.status().message().find("final_test_acc"), std::string::npos);
  request.set_metric("final_test_acc");
  request.add_by("width");
  bad = Compare(*store_, request);
  EXPECT_TRUE(absl::IsInvalidArgument(bad.status()));
  EXPECT_NE(bad.status().message().find("activation, depth, seed"), std::string::npos) << bad.status();
  request.clear_by();
  request.set_summary("best");  // a summary metric takes no curve summary
  EXPECT_TRUE(absl::IsInvalidArgument(Compare(*store_, request).status()));
  request.set_grid("nope");
  request.set_summary("");
  EXPECT_TRUE(absl::IsNotFound(Compare(*store_, request).status()));
}

TEST_F(AnalysisTest, CompareSummarizesCurvesAsAsked) {
  BuildCompare();
  v1::CompareRequest request;
  request.set_grid("g");
  request.add_by("activation");
  request.set_metric("test_acc");
  auto value = [&](const std::string& summary, int row) {
    request.set_summary(summary);
    auto c = Compare(*store_, request);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? c->rows(row) : v1::CompareRow();
  };
  // relu: curves {.1,.3,.5} {.2,.8,.9} {.3,.7,.9} and the diverged {.4, NaN}.
  v1::CompareRow r = value("final", 0);
  EXPECT_EQ(r.n(), 3);
  EXPECT_EQ(r.missing(), 1);  // the diverged trial's last value is NaN
  EXPECT_DOUBLE_EQ(r.mean(), (0.5 + 0.9 + 0.9) / 3);
  r = value("best", 0);
  EXPECT_EQ(r.n(), 4);  // best of the diverged curve is 0.4
  EXPECT_DOUBLE_EQ(r.mean(), (0.5 + 0.9 + 0.9 + 0.4) / 4);
  r = value("last:2", 0);
  EXPECT_EQ(r.n(), 3);
  EXPECT_DOUBLE_EQ(r.mean(), ((0.3 + 0.5) / 2 + (0.8 + 0.9) / 2 + (0.7 + 0.9) / 2) / 3);
  r = value("epoch:0", 0);
  EXPECT_EQ(r.n(), 4);
  EXPECT_DOUBLE_EQ(r.mean(), (0.1 + 0.2 + 0.3 + 0.4) / 4);
  r = value("min", 1);  // tanh: {.3,.6,.7} {.2,.4,.6} {.5,.8,.85}
  EXPECT_DOUBLE_EQ(r.mean(), (0.3 + 0.2 + 0.5) / 3);
  request.set_summary("last:0");
  EXPECT_TRUE(absl::IsInvalidArgument(Compare(*store_, request).status()));
  request.set_metric("dead_fraction");
  request.set_summary("best");  // best is for accuracy and loss only
  EXPECT_TRUE(absl::IsInvalidArgument(Compare(*store_, request).status()));
}

TEST_F(AnalysisTest, CurvesAverageOverSeedsPerEpoch) {
  BuildCompare();
  v1::CurvesRequest request;
  request.set_grid("g");
  request.add_by("activation");
  request.set_metric("test_acc");
  auto c = Curves(*store_, request);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->groups_size(), 2);
  const auto& relu = c->groups(0);
  EXPECT_EQ(relu.trials(), 4);
  EXPECT_EQ(relu.diverged(), 1);
  ASSERT_EQ(relu.points_size(), 3);
  EXPECT_EQ(relu.points(0).n(), 4);
  EXPECT_DOUBLE_EQ(relu.points(0).mean(), (0.1 + 0.2 + 0.3 + 0.4) / 4);
  EXPECT_EQ(relu.points(1).n(), 3);  // the diverged trial's NaN is left out
  EXPECT_DOUBLE_EQ(relu.points(2).mean(), (0.5 + 0.9 + 0.9) / 3);
  const Describe d = DescribeSample({0.3, 0.8, 0.7});
  EXPECT_DOUBLE_EQ(relu.points(1).ci95_low(), d.ci95_low);

  request.set_layer(1);
  request.set_metric("grad_norm");
  c = Curves(*store_, request);
  ASSERT_TRUE(c.ok()) << c.status();
  // Only depth-2 trials have a layer 1: grad_norm = 1.0 * 2 at every epoch.
  EXPECT_EQ(c->groups(0).points(0).n(), 2);
  EXPECT_DOUBLE_EQ(c->groups(0).points(0).mean(), 2.0);
  request.set_metric("test_acc");  // not a per-layer metric
  EXPECT_TRUE(absl::IsInvalidArgument(Curves(*store_, request).status()));
}

TEST_F(AnalysisTest, LayersByGroupAtTheFinalOrAGivenEpoch) {
  Build(2);
  Finish(1, {0.9, {0.5, 0.9}, false, 1.0});
  Finish(5, {0.8, {0.5, 0.8}, false, 3.0});
  v1::LayersRequest request;
  request.set_grid("g");
  request.add_by("depth");
  auto l = Layers(*store_, request);
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(l->finished(), 2);
  ASSERT_EQ(l->groups_size(), 1);  // only depth 2 has finished trials
  const auto& g = l->groups(0);
  ASSERT_EQ(g.layers_size(), 2);
  EXPECT_EQ(g.layers(1).grad_norm().n(), 2);
  EXPECT_DOUBLE_EQ(g.layers(1).grad_norm().mean(), (2.0 + 6.0) / 2);
  EXPECT_DOUBLE_EQ(g.layers(1).dead_fraction().mean(), 0.1);
  request.set_epoch(5);  // no trial has epoch 5
  l = Layers(*store_, request);
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(l->groups_size(), 0);
}

// A balanced 2 x 2 design with 2 seeds per cell: cell means, marginal means and
// sums of squares worked out by hand.
TEST_F(AnalysisTest, EffectsOfABalancedGrid) {
  Build(3);
  // cell:            (relu,1)  (relu,2)  (tanh,1)  (tanh,2)
  const double v[2][4] = {{1, 3, 5, 11}, {3, 5, 7, 13}};
  for (int s = 0; s < 2; ++s)
    for (int c = 0; c < 4; ++c) Finish(s * 4 + c, {v[s][c], {v[s][c]}});
  Finish(8, {2.0, {2.0}});  // a third seed, complete in one cell only
  v1::EffectsRequest request;
  request.set_grid("g");
  auto e = Effects(*store_, request);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->per_cell(), 2);
  EXPECT_EQ(e->used(), 8);
  EXPECT_EQ(e->finished(), 9);
  ASSERT_EQ(e->notes_size(), 2);  // the left-out trial, and how level CIs are made
  EXPECT_NE(e->notes(0).find("left out 1"), std::string::npos);
  // Cell means 2, 4, 6, 12; grand mean 6. activation: relu 3, tanh 9 -> SS = 8 * 9 = 72.
  // depth: 1 -> 4, 2 -> 8 -> SS = 8 * 4 = 32. Interaction: cell - row - col + grand:
  // (2-3-4+6)=1, (4-3-8+6)=-1, (6-9-4+6)=-1, (12-9-8+6)=1 -> SS = 2 * 4 = 8.
  // Residual: each cell has values m-1, m+1 -> 8 * 1 = 8, df 4, MS 2.
  ASSERT_EQ(e->anova_size(), 5);
  EXPECT_EQ(e->anova(0).term(), "activation");
  EXPECT_NEAR(e->anova(0).ss(), 72, 1e-9);
  EXPECT_NEAR(e->anova(0).f(), 36, 1e-9);
  EXPECT_NEAR(e->anova(0).p(), FDistSf(36, 1, 4), 1e-15);
  EXPECT_NEAR(e->anova(1).ss(), 32, 1e-9);
  EXPECT_EQ(e->anova(2).term(), "activation x depth");
  EXPECT_NEAR(e->anova(2).ss(), 8, 1e-9);
  EXPECT_EQ(e->anova(3).term(), "residual");
  EXPECT_NEAR(e->anova(3).ss(), 8, 1e-9);
  EXPECT_NEAR(e->anova(4).ss(), 120, 1e-9);
  EXPECT_NEAR(e->anova(0).eta2(), 0.6, 1e-12);
  ASSERT_EQ(e->main_effects_size(), 2);
  const auto& relu = e->main_effects(0).levels(0);
  EXPECT_EQ(relu.n(), 4);
  EXPECT_DOUBLE_EQ(relu.mean(), 3);
  EXPECT_NEAR(relu.ci95_high() - 3, StudentTQuantile(0.975, 4) * std::sqrt(2.0 / 4), 1e-12);
  EXPECT_DOUBLE_EQ(e->main_effects(0).range(), 6);

  // Narrowed to one depth, depth drops out and one factor remains.
  *request.add_where() = Where("depth", {"2"});
  e = Effects(*store_, request);
  ASSERT_TRUE(e.ok()) << e.status();
  ASSERT_EQ(e->factors_size(), 1);
  EXPECT_EQ(e->factors(0), "activation");
}

TEST_F(AnalysisTest, EffectsRefusesWhenNoSeedCoversEveryCell) {
  Build(2);
  Finish(0, {1, {1}});
  Finish(5, {2, {2}});
  v1::EffectsRequest request;
  request.set_grid("g");
  auto e = Effects(*store_, request);
  ASSERT_TRUE(absl::IsFailedPrecondition(e.status())) << e.status();
  EXPECT_NE(e.status().message().find("balanced"), std::string::npos);
  EXPECT_NE(e.status().message().find("2 of 8 trials finished"), std::string::npos) << e.status();
}

TEST_F(AnalysisTest, TestPairsTrialsThatShareSeedsAndOtherFactors) {
  Build(3);
  const double relu[] = {0.90, 0.80, 0.85, 0.70, 0.95, 0.88};  // (relu,1) (relu,2) per seed
  const double tanh[] = {0.80, 0.75, 0.70, 0.72, 0.85, 0.80};
  for (int s = 0; s < 3; ++s)
    for (int d = 0; d < 2; ++d) {
      Finish(s * 4 + d, {relu[s * 2 + d], {relu[s * 2 + d]}});
      Finish(s * 4 + 2 + d, {tanh[s * 2 + d], {tanh[s * 2 + d]}});
    }
  v1::TestRequest request;
  request.set_grid("g");
  *request.add_a() = Where("activation", {"relu"});
  *request.add_b() = Where("activation", {"tanh"});
  request.set_resamples(2000);
  auto t = analysis::Test(*store_, request);
  ASSERT_TRUE(t.ok()) << t.status();
  const std::vector<double> a(std::begin(relu), std::end(relu)), b(std::begin(tanh), std::end(tanh));
  EXPECT_EQ(t->a().n(), 6);
  EXPECT_TRUE(t->paired());
  EXPECT_EQ(t->pairs(), 6);
  const TTestResult welch = WelchTTest(a, b);
  EXPECT_DOUBLE_EQ(t->welch().t(), welch.t);
  EXPECT_DOUBLE_EQ(t->welch().df(), welch.df);
  // Pairs are matched by key (depth, seed), so the paired t is the same whatever
  // their order.
  EXPECT_NEAR(t->paired_t().t(), PairedTTest(a, b).t, 1e-12);
  EXPECT_DOUBLE_EQ(t->mann_whitney().u(), MannWhitneyU(a, b).u);
  EXPECT_EQ(t->mean_diff().resamples(), 2000);
  EXPECT_LE(t->mean_diff().ci95_low(), t->mean_diff().estimate());
  EXPECT_GE(t->mean_diff().ci95_high(), t->mean_diff().estimate());
  EXPECT_FALSE(t->assumptions().empty());
  auto again = analysis::Test(*store_, request);  // the same seed gives the same intervals
  EXPECT_EQ(again->cohens_d().ci95_low(), t->cohens_d().ci95_low());

  // Groups that differ in depth as well are not paired across the depths.
  request.clear_a();
  *request.add_a() = Where("depth", {"1"});
  request.clear_b();
  *request.add_b() = Where("depth", {"2"});
  t = analysis::Test(*store_, request);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_TRUE(t->paired());  // (activation, seed) matches across depth
  // Overlapping groups are refused.
  request.clear_b();
  *request.add_b() = Where("activation", {"relu"});
  EXPECT_TRUE(absl::IsInvalidArgument(analysis::Test(*store_, request).status()));
}

TEST_F(AnalysisTest, TestNeedsTwoValuesPerGroup) {
  Build(2);
  Finish(0, {0.9, {0.9}});
  Finish(2, {0.8, {0.8}});
  Finish(4, {0.85, {0.85}});
  v1::TestRequest request;
  request.set_grid("g");
  *request.add_a() = Where("activation", {"relu"});
  *request.add_b() = Where("activation", {"tanh"});
  auto t = analysis::Test(*store_, request);
  ASSERT_TRUE(absl::IsFailedPrecondition(t.status())) << t.status();
  EXPECT_NE(t.status().message().find("group b has 1 value"), std::string::npos) << t.status();
}

TEST_F(AnalysisTest, ExportStreamsEveryPositionWithSpecsSummariesAndCurves) {
  BuildCompare();
  v1::ExportRequest request;
  request.set_grid("g");
  request.set_content(v1::EXPORT_CONTENT_CURVES);
  *request.add_where() = Where("activation", {"relu"});
  std::vector<v1::ExportChunk> chunks;
  const absl::Status st = Export(*store_, request, [&](const v1::ExportChunk& c) {
    chunks.push_back(c);
    return true;
  });
  ASSERT_TRUE(st.ok()) << st;
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].grid(), "g");
  EXPECT_EQ(chunks[0].factors_size(), 2);
  EXPECT_EQ(chunks[0].trials(), 4);
  ASSERT_EQ(chunks[1].rows_size(), 4);
  const auto& first = chunks[1].rows(0);
  EXPECT_EQ(first.position(), 0);
  EXPECT_EQ(first.spec().seed(), 100u);
  EXPECT_EQ(first.factors(0).value(), "relu");
  EXPECT_DOUBLE_EQ(first.summary().final_test_acc(), 0.5);
  ASSERT_EQ(first.epochs_size(), 3);
  EXPECT_DOUBLE_EQ(first.epochs(1).test_acc(), 0.3);
  EXPECT_EQ(chunks[1].rows(3).state(), v1::TRIAL_STATE_DIVERGED);
  // A consumer that stops early ends the export without an error.
  int calls = 0;
  EXPECT_TRUE(Export(*store_, request, [&](const v1::ExportChunk&) { return ++calls < 1; }).ok());
  EXPECT_EQ(calls, 1);
}

TEST(SummaryMetric, NumericFieldsByName) {
  v1::TrialSummary s;
  s.set_final_test_acc(0.75);
  s.set_best_epoch(4);
  s.set_diverged(true);
  EXPECT_EQ(*SummaryMetric(s, "final_test_acc"), 0.75);
  EXPECT_EQ(*SummaryMetric(s, "best_epoch"), 4.0);
  EXPECT_EQ(*SummaryMetric(s, "diverged"), 1.0);
  EXPECT_FALSE(SummaryMetric(s, "outcome").ok());  // an enum, not a number
  s.set_epochs_to_target(-1);
  EXPECT_TRUE(std::isnan(*SummaryMetric(s, "epochs_to_target")));
  s.set_epochs_to_target(7);
  EXPECT_EQ(*SummaryMetric(s, "epochs_to_target"), 7.0);
  EXPECT_FALSE(SummaryMetric(s, "nope").ok());
}

}  // namespace
}  // namespace actgrid::analysis
