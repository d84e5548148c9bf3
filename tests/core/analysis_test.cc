// Compare over hand-built rows: grouping by any subset of factors, n/mean/std/CI per
// group, trials without a value counted apart, bad metrics and factors refused.
#include <cmath>

#include <gtest/gtest.h>

#include "server/core/analysis.h"
#include "server/core/summary_metric.h"

namespace actgrid::core {
namespace {

store::GridTrialRow Row(int cell, std::vector<std::string> values, std::optional<double> acc,
                        bool diverged = false) {
  store::GridTrialRow r;
  r.cell = cell;
  r.values = std::move(values);
  if (acc) {
    v1::TrialSummary s;
    s.set_final_test_acc(*acc);
    s.set_diverged(diverged);
    s.set_epochs_to_target(*acc > 0.8 ? 3 : -1);
    r.summary = s;
  }
  return r;
}

class CompareTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grid_.id = 4;
    grid_.name = "g";
    grid_.factors = {"activation", "depth"};
    rows_ = {Row(0, {"relu", "1"}, 0.5), Row(1, {"relu", "2"}, 0.9), Row(2, {"tanh", "1"}, 0.7),
             Row(3, {"tanh", "2"}, std::nullopt),  // still running
             Row(0, {"relu", "1"}, 0.9), Row(1, {"relu", "2"}, 0.7, true), Row(2, {"tanh", "1"}, 0.6),
             Row(3, {"tanh", "2"}, 0.85)};
  }
  store::GridRow grid_;
  std::vector<store::GridTrialRow> rows_;
};

TEST_F(CompareTest, EveryFactorByDefault) {
  v1::CompareRequest request;
  auto c = CompareRows(grid_, rows_, request);
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
  EXPECT_NEAR(relu1.std(), std::sqrt(0.08), 1e-12);
  EXPECT_NEAR(relu1.ci95_high() - relu1.mean(), 12.7062047 * std::sqrt(0.08) / std::sqrt(2.0), 1e-6);
  EXPECT_EQ(relu1.min(), 0.5);
  EXPECT_EQ(relu1.max(), 0.9);
  EXPECT_EQ(c->rows(1).diverged(), 1);
  EXPECT_EQ(c->rows(3).n(), 1);
  EXPECT_TRUE(std::isnan(c->rows(3).std()));
}

TEST_F(CompareTest, GroupsByASubsetAndCountsMissingValues) {
  v1::CompareRequest request;
  request.add_by("depth");
  request.set_metric("epochs_to_target");
  auto c = CompareRows(grid_, rows_, request);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->rows_size(), 2);
  EXPECT_EQ(c->rows(0).group(0).factor(), "depth");
  EXPECT_EQ(c->rows(0).group(0).value(), "1");
  // depth 1: accs 0.5, 0.7, 0.9, 0.6 -> only 0.9 reached the target.
  EXPECT_EQ(c->rows(0).n(), 1);
  EXPECT_EQ(c->rows(0).missing(), 3);
  EXPECT_EQ(c->rows(0).mean(), 3);
}

TEST_F(CompareTest, UnknownMetricOrFactorIsInvalid) {
  v1::CompareRequest request;
  request.set_metric("final_tset_acc");
  auto bad_metric = CompareRows(grid_, rows_, request);
  EXPECT_TRUE(absl::IsInvalidArgument(bad_metric.status()));
  EXPECT_NE(bad_metric.status().message().find("final_test_acc"), std::string::npos);  // lists valid names
  request.set_metric("final_test_acc");
  request.add_by("width");
  auto bad_factor = CompareRows(grid_, rows_, request);
  EXPECT_TRUE(absl::IsInvalidArgument(bad_factor.status()));
  EXPECT_NE(bad_factor.status().message().find("activation, depth"), std::string::npos);
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
}  // namespace actgrid::core
