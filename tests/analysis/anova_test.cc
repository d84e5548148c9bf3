// Balanced factorial ANOVA against a textbook table and against fixtures
// computed independently by least squares.
//
// Fixture method (Python, SciPy 1.10.1 / NumPy 1.24.2; not run by the tests):
// every observation is a row of an effect-coded (sum-to-zero) regression with
// the columns of every main effect and interaction (interaction columns =
// products of the factors' coding columns); SS of a term = RSS(full model
// without that term's columns) − RSS(full model), each fitted with
// np.linalg.lstsq; the pooled row sums the SS and df of the terms of order
// > 2; F = (SS/df) / (SS_err/df_err), p = stats.f.sf(F, df, df_err),
// eta2 = SS / SS_total with SS_total = ((y - y.mean())**2).sum(). That is a
// different computation from the marginal-mean inclusion–exclusion of anova.cc.
// The designs' data are listed with the cell index mixed radix, last factor
// fastest, as BalancedAnova expects.
#include "server/analysis/anova.h"

#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/analysis/stats_test_util.h"

namespace actgrid::analysis {
namespace {

using test_util::RelNear;

// One row of a reference table: SS, df, F, p, eta² (NaN where not applicable).
struct Expected {
  const char* name;
  double ss, df, f, p, eta2;
};

// Checks every row of `table` against `expected` (same order), SS/F/p/eta² to
// relative `rel`, and that the rows above "total" add up to the total.
void ExpectTable(const AnovaTable& table, const std::vector<Expected>& expected, double rel) {
  ASSERT_TRUE(table.error.empty()) << table.error;
  ASSERT_EQ(table.terms.size(), expected.size());
  double ss_sum = 0, df_sum = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    const AnovaTerm& t = table.terms[i];
    const Expected& e = expected[i];
    SCOPED_TRACE(e.name);
    EXPECT_EQ(t.name, e.name);
    EXPECT_EQ(t.df, e.df);
    // Sums of squares that are zero in exact arithmetic are compared absolutely.
    if (e.ss < 1e-20) {
      EXPECT_NEAR(t.ss, 0.0, 1e-12);
    } else {
      EXPECT_TRUE(RelNear(t.ss, e.ss, rel));
    }
    if (std::isnan(e.f)) {
      EXPECT_TRUE(std::isnan(t.f)) << t.f;
      EXPECT_TRUE(std::isnan(t.p)) << t.p;
    } else {
      EXPECT_TRUE(RelNear(t.f, e.f, rel));
      EXPECT_TRUE(RelNear(t.p, e.p, rel));
    }
    if (e.eta2 < 1e-20) {
      EXPECT_NEAR(t.eta2, 0.0, 1e-12);
    } else {
      EXPECT_TRUE(RelNear(t.eta2, e.eta2, rel));
    }
    if (t.df > 0) {
      EXPECT_NEAR(t.ms, t.ss / t.df, 1e-12 * std::fabs(t.ss));
    } else {
      EXPECT_TRUE(std::isnan(t.ms));
    }
    if (i + 1 < expected.size()) {
      ss_sum += t.ss;
      df_sum += t.df;
    }
  }
  const AnovaTerm& total = table.terms.back();
  EXPECT_EQ(total.name, "total");
  EXPECT_NEAR(ss_sum, total.ss, 1e-10 * total.ss);
  EXPECT_EQ(df_sum, total.df);
  EXPECT_EQ(total.eta2, 1.0);
}

const double kNaN = std::nan("");

// Montgomery, Design and Analysis of Experiments, Example 5.1 (Table 5.1):
// battery life (h) for material type 1–3 × temperature 15/70/125 °F, n = 4.
// (Material 3 at 70 °F is 174, 120, 150, 139: cell total 583 and grand total
// 3799 as in the book; with these data every published SS is reproduced.)
const std::vector<std::vector<double>> kBatteryCells = {
    {130, 155, 74, 180}, {34, 40, 80, 75},    {20, 70, 82, 58},   // material 1
    {150, 188, 159, 126}, {136, 122, 106, 115}, {25, 70, 58, 45},  // material 2
    {138, 110, 168, 160}, {174, 120, 150, 139}, {96, 82, 60, 104},  // material 3
};

TEST(BalancedAnova, MontgomeryBatteryLifeTable) {
  const AnovaTable t = BalancedAnova({"material", "temperature"}, {3, 3}, kBatteryCells);
  ASSERT_TRUE(t.error.empty()) << t.error;
  EXPECT_EQ(t.per_cell, 4);
  EXPECT_EQ(t.error_term, "residual");
  EXPECT_NEAR(t.grand_mean, 3799.0 / 36, 1e-12);
  ASSERT_EQ(t.terms.size(), 5u);
  // The published ANOVA table of Example 5.1, to its printed precision.
  const AnovaTerm &material = t.terms[0], &temperature = t.terms[1], &interaction = t.terms[2],
                  &residual = t.terms[3], &total = t.terms[4];
  EXPECT_EQ(material.name, "material");
  EXPECT_EQ(material.factors, std::vector<int>{0});
  EXPECT_NEAR(material.ss, 10683.72, 0.005);
  EXPECT_EQ(material.df, 2);
  EXPECT_NEAR(material.f, 7.91, 0.005);
  EXPECT_NEAR(material.p, 0.0020, 0.00005);
  EXPECT_EQ(temperature.name, "temperature");
  EXPECT_NEAR(temperature.ss, 39118.72, 0.005);
  EXPECT_EQ(temperature.df, 2);
  EXPECT_NEAR(temperature.f, 28.97, 0.005);
  EXPECT_LT(temperature.p, 0.0001);
  EXPECT_EQ(interaction.name, "material x temperature");
  EXPECT_EQ(interaction.factors, (std::vector<int>{0, 1}));
  EXPECT_NEAR(interaction.ss, 9613.78, 0.005);
  EXPECT_EQ(interaction.df, 4);
  EXPECT_NEAR(interaction.f, 3.56, 0.005);
  EXPECT_NEAR(interaction.p, 0.0186, 0.00005);
  EXPECT_EQ(residual.name, "residual");
  EXPECT_TRUE(residual.factors.empty());
  EXPECT_NEAR(residual.ss, 18230.75, 0.005);
  EXPECT_EQ(residual.df, 27);
  EXPECT_NEAR(residual.ms, 675.21, 0.005);
  EXPECT_TRUE(std::isnan(residual.f));
  EXPECT_NEAR(total.ss, 77646.97, 0.005);
  EXPECT_EQ(total.df, 35);
  EXPECT_TRUE(std::isnan(total.p));

  // Full precision, least-squares fixture (see the top of the file).
  ExpectTable(t,
              {{"material", 10683.722222222223, 2, 7.911372269380031, 0.0019760825909075253, 0.13759354571670718},
               {"temperature", 39118.72222222222, 2, 28.967691949042138, 1.9085958974332035e-07, 0.5038022874899251},
               {"material x temperature", 9613.777777777777, 4, 3.559535400353798, 0.01861116818894172,
                0.12381394280595476},
               {"residual", 18230.75, 27, kNaN, kNaN, 0.23479022398741317},
               {"total", 77646.9722222222, 35, kNaN, kNaN, 1.0}},
              1e-9);
}

TEST(BalancedAnova, OneFactorIsOneWayAnova) {
  // scipy: stats.f_oneway([4.1, 5.0, 3.8, 4.6, 4.4], [5.2, 5.9, 6.1, 5.0, 5.6],
  //                        [4.0, 4.9, 4.4, 5.3, 4.7])
  //   -> statistic 8.535928143712578, pvalue 0.004945963393596949
  const AnovaTable t = BalancedAnova(
      {"activation"}, {3}, {{4.1, 5.0, 3.8, 4.6, 4.4}, {5.2, 5.9, 6.1, 5.0, 5.6}, {4.0, 4.9, 4.4, 5.3, 4.7}});
  ASSERT_TRUE(t.error.empty()) << t.error;
  ASSERT_EQ(t.terms.size(), 3u);  // activation, residual, total
  EXPECT_EQ(t.terms[0].name, "activation");
  EXPECT_EQ(t.terms[0].df, 2);
  EXPECT_EQ(t.terms[1].df, 12);
  EXPECT_TRUE(RelNear(t.terms[0].f, 8.535928143712578, 1e-9));
  EXPECT_TRUE(RelNear(t.terms[0].p, 0.004945963393596949, 1e-9));
}

// 3 × 2 × 4 design, n = 2, generated with
//   rng = np.random.default_rng(2024); cell mean Σ_f 0.3·(f+1)·(i_f+1) + 0.2·Π i_f,
//   values np.round(mean + rng.normal(0, 0.5, n), 3)
const std::vector<std::vector<double>> kThreeWayCells = {
    {2.314, 2.621}, {3.273, 2.213}, {2.904, 3.634}, {4.931, 4.755}, {3.305, 2.775}, {3.62, 2.934},
    {3.646, 4.942}, {5.124, 5.506}, {1.412, 1.882}, {2.354, 2.612}, {4.352, 3.16},  {4.533, 4.882},
    {2.366, 2.574}, {3.689, 4.009}, {4.684, 5.036}, {6.028, 6.212}, {2.512, 3.229}, {2.968, 3.9},
    {3.999, 3.721}, {5.706, 4.88},  {2.806, 2.306}, {3.251, 4.617}, {5.017, 5.989}, {7.824, 6.843},
};

TEST(BalancedAnova, ThreeFactorsPoolTheThreeWayInteraction) {
  const AnovaTable t = BalancedAnova({"activation", "depth", "lr"}, {3, 2, 4}, kThreeWayCells);
  EXPECT_EQ(t.per_cell, 2);
  EXPECT_EQ(t.error_term, "residual");
  // The pooled row is tested against the residual too.
  ExpectTable(
      t,
      {{"activation", 4.581939041666668, 2, 8.687726937178418, 0.0014508471137691975, 0.04962824296831829},
       {"depth", 10.412307000000002, 1, 39.48515210676705, 1.703108855038321e-06, 0.11277856317109732},
       {"lr", 64.03163424999997, 3, 80.9394375971346, 1.0823660218751327e-12, 0.6935442556786137},
       {"activation x depth", 0.559968875, 2, 1.0617462683548529, 0.361543064967779, 0.0060651770201393205},
       {"activation x lr", 2.5272366249999996, 6, 1.5972816678685708, 0.19118937878713657, 0.027373195523419852},
       {"depth x lr", 1.7750829999999977, 3, 2.2438006056082247, 0.10908281031798851, 0.019226412575948888},
       {"higher-order interactions", 2.1082191250000006, 6, 1.3324513133836136, 0.2814853653383824,
        0.022834701643673017},
       {"residual", 6.328844000000001, 24, kNaN, kNaN, 0.06854945141878935},
       {"total", 92.32523191666667, 47, kNaN, kNaN, 1.0}},
      1e-9);
  EXPECT_EQ(t.terms[3].factors, (std::vector<int>{0, 1}));
  EXPECT_EQ(t.terms[4].factors, (std::vector<int>{0, 2}));
  EXPECT_EQ(t.terms[5].factors, (std::vector<int>{1, 2}));
  EXPECT_TRUE(t.terms[6].factors.empty());
}

TEST(BalancedAnova, MaxOrderListsTheThreeWayInteraction) {
  const AnovaTable t = BalancedAnova({"activation", "depth", "lr"}, {3, 2, 4}, kThreeWayCells, /*max_order=*/3);
  ASSERT_TRUE(t.error.empty()) << t.error;
  ASSERT_EQ(t.terms.size(), 9u);  // 3 main, 3 two-way, 1 three-way, residual, total: no pool
  EXPECT_EQ(t.terms[6].name, "activation x depth x lr");
  EXPECT_EQ(t.terms[6].factors, (std::vector<int>{0, 1, 2}));
  EXPECT_TRUE(RelNear(t.terms[6].ss, 2.1082191250000006, 1e-9));
  EXPECT_TRUE(RelNear(t.terms[6].p, 0.2814853653383824, 1e-9));
  EXPECT_EQ(t.terms[7].name, "residual");

  // max_order = 1: all interactions (df 2 + 6 + 3 + 6 = 17) pooled.
  const AnovaTable m = BalancedAnova({"activation", "depth", "lr"}, {3, 2, 4}, kThreeWayCells, 1);
  ASSERT_EQ(m.terms.size(), 6u);
  EXPECT_EQ(m.terms[3].name, "higher-order interactions");
  EXPECT_EQ(m.terms[3].df, 17);
  EXPECT_TRUE(RelNear(m.terms[3].ss, 0.559968875 + 2.5272366249999996 + 1.7750829999999977 + 2.1082191250000006,
                      1e-9));
}

TEST(BalancedAnova, UnreplicatedThreeFactorsUseThePoolAsError) {
  // 3 × 2 × 3, n = 1 (same generator as above, continuing the rng stream).
  const AnovaTable t = BalancedAnova({"a", "b", "c"}, {3, 2, 3},
                                     {{1.237}, {2.897}, {3.981}, {2.269}, {3.309}, {4.868}, {2.733}, {3.355}, {3.467},
                                      {2.673}, {4.101}, {4.794}, {2.095}, {2.917}, {3.884}, {2.664}, {4.074}, {6.173}});
  EXPECT_EQ(t.per_cell, 1);
  EXPECT_EQ(t.error_term, "higher-order interactions");
  ExpectTable(t,
              {{"a", 0.9760119999999995, 2, 3.437035796538123, 0.1353117798508507, 0.04247678292635365},
               {"b", 3.8818267222222236, 1, 27.339781478580257, 0.006389156200661832, 0.16894004483300654},
               {"c", 15.184585333333333, 2, 53.47266564986337, 0.001299875983839507, 0.6608446771460736},
               {"a x b", 0.38583244444444453, 2, 1.3587127238408576, 0.35458002989372256, 0.016791720786845942},
               {"a x c", 1.194686666666667, 4, 2.103550386153113, 0.2445567529828864, 0.051993670369840796},
               {"b x c", 0.7866591111111105, 2, 2.7702277477753845, 0.1757849795162544, 0.03423600150377759},
               {"higher-order interactions", 0.5679382222222217, 4, kNaN, kNaN, 0.024717102434101756},
               {"residual", 0, 0, kNaN, kNaN, 0},
               {"total", 22.9775405, 17, kNaN, kNaN, 1.0}},
              1e-9);
}

TEST(BalancedAnova, UnreplicatedFourFactorsPoolEveryOrderAboveTwo) {
  // 2⁴, n = 1: the pool holds the four three-way and the four-way interaction (df 5).
  const AnovaTable t = BalancedAnova({"a", "b", "c", "d"}, {2, 2, 2, 2},
                                     {{2.695}, {4.17}, {3.77}, {5.495}, {3.695}, {4.92}, {4.573}, {6.314}, {3.029},
                                      {4.261}, {4.643}, {5.347}, {4.08}, {4.736}, {4.812}, {6.416}});
  EXPECT_EQ(t.error_term, "higher-order interactions");
  ExpectTable(t,
              {{"a", 0.17892900000000023, 1, 2.8886632290311165, 0.14995278124308026, 0.011244630365196451},
               {"b", 2.3531560000000002, 1, 37.98979041616472, 0.0016362171889578918, 0.14788194988875022},
               {"c", 5.982916000000001, 1, 96.58931448553288, 0.0001857694231741294, 0.3759909177719633},
               {"d", 6.710690249999999, 1, 108.33863804409907, 0.00014103496912916302, 0.4217272289934983},
               {"a x b", 0.023103999999999972, 1, 0.37299529558391736, 0.5680693891303102, 0.001451949879323632},
               {"a x c", 0.01210000000000002, 1, 0.19534466224746422, 0.676966813963866, 0.0007604135015502078},
               {"a x d", 0.24255624999999972, 1, 3.91587344894722, 0.10473108841229384, 0.015243227056643558},
               {"b x c", 0.010815999999999926, 1, 0.17461552618748388, 0.6933810145708086, 0.0006797216886584278},
               {"b x d", 0.0005062499999999835, 1, 0.008172994649816146, 0.9314755790526702, 3.181482108758508e-05},
               {"c x d", 0.08791225000000026, 1, 1.4192718003028644, 0.28698591834961573, 0.00552476544228573},
               {"higher-order interactions", 0.30970900000000107, 5, kNaN, kNaN, 0.019463380591042453},
               {"residual", 0, 0, kNaN, kNaN, 0},
               {"total", 15.912395000000004, 15, kNaN, kNaN, 1.0}},
              // b x d's SS is ~3e-5 of the total, so the fixture's own
              // least-squares rounding limits the agreement.
              1e-8);
}

// 4 × 3, n = 1 (same generator).
const std::vector<std::vector<double>> kTwoWayUnreplicated = {{0.5},   {1.943}, {2.309}, {1.27},  {1.586}, {2.572},
                                                               {2.487}, {2.55},  {3.769}, {2.132}, {3.528}, {4.081}};

TEST(BalancedAnova, UnreplicatedTwoWayAdditiveModel) {
  // max_order = 1: the interaction is pooled and is the error term — the
  // randomized-complete-block / additive two-way analysis.
  const AnovaTable t = BalancedAnova({"treatment", "block"}, {4, 3}, kTwoWayUnreplicated, 1);
  EXPECT_EQ(t.error_term, "higher-order interactions");
  ExpectTable(t,
              {{"treatment", 6.055757583333334, 3, 15.404766740041786, 0.0031727153008548168, 0.5101748510503531},
               {"block", 5.027988666666668, 2, 19.185459007163402, 0.0024726264386914633, 0.42358917671330676},
               {"higher-order interactions", 0.786218666666667, 6, kNaN, kNaN, 0.06623597223634031},
               {"residual", 0, 0, kNaN, kNaN, 0},
               {"total", 11.869964916666667, 11, kNaN, kNaN, 1.0}},
              1e-9);
}

TEST(BalancedAnova, UnreplicatedSaturatedModelHasNoErrorTerm) {
  // max_order = 2 with two factors and n = 1: nothing is left to estimate the
  // error, so every F and p is NaN (the SS are still reported).
  const AnovaTable t = BalancedAnova({"treatment", "block"}, {4, 3}, kTwoWayUnreplicated);
  EXPECT_EQ(t.error_term, "");
  ExpectTable(t,
              {{"treatment", 6.055757583333334, 3, kNaN, kNaN, 0.5101748510503531},
               {"block", 5.027988666666668, 2, kNaN, kNaN, 0.42358917671330676},
               {"treatment x block", 0.786218666666667, 6, kNaN, kNaN, 0.06623597223634031},
               {"residual", 0, 0, kNaN, kNaN, 0},
               {"total", 11.869964916666667, 11, kNaN, kNaN, 1.0}},
              1e-9);
}

TEST(BalancedAnova, SingleLevelFactorHasZeroDf) {
  // A factor with one level contributes nothing: its rows have SS 0, df 0
  // and NaN MS/F/p; the rest equals the one-factor analysis.
  const AnovaTable t = BalancedAnova({"optimizer", "activation"}, {1, 3},
                                     {{4.1, 5.0, 3.8, 4.6, 4.4}, {5.2, 5.9, 6.1, 5.0, 5.6}, {4.0, 4.9, 4.4, 5.3, 4.7}});
  ASSERT_TRUE(t.error.empty()) << t.error;
  ASSERT_EQ(t.terms.size(), 5u);
  EXPECT_EQ(t.terms[0].df, 0);
  EXPECT_NEAR(t.terms[0].ss, 0, 1e-12);
  EXPECT_TRUE(std::isnan(t.terms[0].ms));
  EXPECT_TRUE(std::isnan(t.terms[0].f));
  EXPECT_EQ(t.terms[2].df, 0);
  EXPECT_TRUE(RelNear(t.terms[1].f, 8.535928143712578, 1e-9));
  EXPECT_TRUE(RelNear(t.terms[1].p, 0.004945963393596949, 1e-9));
}

TEST(BalancedAnova, ExactFitGivesInfiniteF) {
  // No within-cell variation but real effects: F = +inf, p = 0.
  const AnovaTable t = BalancedAnova({"a"}, {2}, {{1.0, 1.0}, {3.0, 3.0}});
  ASSERT_TRUE(t.error.empty()) << t.error;
  EXPECT_EQ(t.terms[0].ss, 4.0);
  EXPECT_TRUE(std::isinf(t.terms[0].f));
  EXPECT_EQ(t.terms[0].p, 0.0);
  // Constant data: every SS is 0, eta² and F are NaN.
  const AnovaTable c = BalancedAnova({"a"}, {2}, {{2.0, 2.0}, {2.0, 2.0}});
  ASSERT_TRUE(c.error.empty()) << c.error;
  EXPECT_EQ(c.terms[0].ss, 0.0);
  EXPECT_TRUE(std::isnan(c.terms[0].f));
  EXPECT_TRUE(std::isnan(c.terms[0].eta2));
}

TEST(BalancedAnova, RejectsInvalidDesigns) {
  auto error_of = [](const std::vector<std::string>& names, const std::vector<int>& levels,
                     const std::vector<std::vector<double>>& cells, int max_order = 2) {
    const AnovaTable t = BalancedAnova(names, levels, cells, max_order);
    EXPECT_TRUE(t.terms.empty());
    return t.error;
  };
  // Unbalanced: cell 2 has 3 observations, the others 2.
  EXPECT_NE(error_of({"a", "b"}, {2, 2}, {{1, 2}, {3, 4}, {5, 6, 7}, {8, 9}}).find("unbalanced"), std::string::npos);
  EXPECT_NE(error_of({"a", "b"}, {2, 2}, {{1, 2}, {3, 4}, {5, 6}}), "");            // 3 cells for 2 × 2
  EXPECT_NE(error_of({"a", "b"}, {2, 2}, {{1}, {3}, {5}, {6}, {7}}), "");           // 5 cells for 2 × 2
  EXPECT_NE(error_of({"a", "b"}, {2, 2}, {}), "");                                  // no cells
  EXPECT_NE(error_of({"a", "b"}, {2, 2}, {{}, {}, {}, {}}), "");                    // n = 0
  EXPECT_NE(error_of({"a", "b"}, {1, 1}, {{1, 2}}), "");                            // nothing varies
  EXPECT_NE(error_of({"a"}, {2, 2}, {{1}, {2}, {3}, {4}}), "");                     // names vs levels
  EXPECT_NE(error_of({}, {}, {{1, 2}}), "");                                        // no factors
  EXPECT_NE(error_of({"a"}, {0}, {}), "");                                          // 0 levels
  EXPECT_NE(error_of({"a"}, {2}, {{1, 2}, {3, NAN}}), "");                          // NaN observation
  EXPECT_NE(error_of({"a"}, {2}, {{1, 2}, {3, 4}}, 0), "");                         // max_order 0
  // Level counts whose product overflows size_t are rejected, not wrapped.
  EXPECT_NE(error_of({"a", "b", "c"}, {1 << 30, 1 << 30, 1 << 30}, {{1}, {2}}), "");
}

}  // namespace
}  // namespace actgrid::analysis
