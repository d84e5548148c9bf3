// The analysis commands on a finished grid, read from its database file (--db): every
// number compare, curves and effects print agrees with a recomputation from the
// rows `export` prints; bad input is refused with exit code 2.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "client/cli/commands.h"
#include "client/cli/render.h"
#include "client/cli/render_analysis.h"
#include "client/cli/run_command.h"
#include "client/cli/text.h"
#include "tests/cli/cli_test_util.h"

namespace actgrid::cli {
namespace {

using test_util::ReadAll;

// A CSV table: header names and rows of fields (RFC 4180 quoting).
struct Csv {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  size_t Column(const std::string& name) const {
    const auto it = std::find(header.begin(), header.end(), name);
    EXPECT_NE(it, header.end()) << name;
    return size_t(it - header.begin());
  }
};

Csv ParseCsv(const std::string& text) {
  Csv csv;
  std::vector<std::string> row(1);
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        row.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        row.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      row.emplace_back();
    } else if (c == '\n') {
      if (csv.header.empty()) {
        csv.header = row;
      } else {
        csv.rows.push_back(row);
      }
      row.assign(1, "");
    } else {
      row.back() += c;
    }
  }
  return csv;
}

double Number(const std::string& s) { return s.empty() ? NAN : std::stod(s); }

// Mean, sample std and the 95% t-interval, computed here from first principles
// (t quantiles from the table for the degrees of freedom this grid gives).
struct Stats {
  double mean = NAN, std = NAN, low = NAN, high = NAN;
};
Stats Describe(const std::vector<double>& v) {
  Stats s;
  double sum = 0;
  for (double x : v) sum += x;
  s.mean = sum / double(v.size());
  double ss = 0;
  for (double x : v) ss += (x - s.mean) * (x - s.mean);
  s.std = std::sqrt(ss / double(v.size() - 1));
  // t(0.975, df) from the tables: df 2 and 5.
  const double t = v.size() == 3 ? 4.302652729911275 : v.size() == 6 ? 2.570581835636314 : NAN;
  s.low = s.mean - t * s.std / std::sqrt(double(v.size()));
  s.high = s.mean + t * s.std / std::sqrt(double(v.size()));
  return s;
}

class AnalysisCommands : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string grid = ::testing::TempDir() + "/analysis-" + std::to_string(getpid()) + ".yaml";
    std::ofstream(grid) << R"(name: analysis
dataset: {name: circle, samples: 200, noise: 0.1}
model: {width: 4}
train: {epochs: 6}
seeds: 3
grid:
  activation: [relu, tanh]
  depth: [1, 2]
)";
    // Per process: CTest may run this suite's tests in parallel.
    db_ = ::testing::TempDir() + "/analysis-" + std::to_string(getpid()) + ".db";
    for (const char* suffix : {"", "-wal", "-shm"}) std::remove((db_ + suffix).c_str());
    RunOptions run;
    run.grid_path = grid;
    run.db_path = db_;
    run.workers = 2;
    run.progress = false;
    std::FILE* out = std::tmpfile();
    std::FILE* err = std::tmpfile();
    ASSERT_EQ(RunGrid(run, out, err, nullptr), 0) << ReadAll(err);
    std::fclose(out);
    std::fclose(err);
  }

  static void TearDownTestSuite() {
    for (const char* suffix : {"", "-wal", "-shm", ".lock"}) std::remove((db_ + suffix).c_str());
  }

  // Runs a command against the database; returns its exit code, stdout and stderr.
  template <typename Command>
  int Run(Command command, CommandOptions o, std::string* out_text, std::string* err_text = nullptr) {
    o.grid = "analysis";
    o.target.db = db_;
    std::FILE* out = std::tmpfile();
    std::FILE* err = std::tmpfile();
    const int code = command(o, out, err);
    *out_text = ReadAll(out);
    if (err_text) *err_text = ReadAll(err);
    std::fclose(out);
    std::fclose(err);
    return code;
  }

  Csv Export(const std::string& content) {
    CommandOptions o;
    o.format = "csv";
    o.content = content;
    std::string text;
    EXPECT_EQ(Run([](const CommandOptions& c, std::FILE* out, std::FILE* err) {
                return ExportCommand(c, out, err, nullptr);
              },
              o, &text),
              0);
    return ParseCsv(text);
  }

  static std::string db_;
};

std::string AnalysisCommands::db_;

TEST_F(AnalysisCommands, CompareAgreesWithTheExportedTrials) {
  const Csv trials = Export("trials");
  ASSERT_EQ(trials.rows.size(), 12u);
  std::map<std::pair<std::string, std::string>, std::vector<double>> groups;
  for (const auto& r : trials.rows)
    groups[{r[trials.Column("activation")], r[trials.Column("depth")]}].push_back(
        Number(r[trials.Column("final_test_acc")]));

  CommandOptions o;
  o.format = "csv";
  o.by = {"activation", "depth"};
  std::string text;
  ASSERT_EQ(Run(CompareCommand, o, &text), 0);
  const Csv compare = ParseCsv(text);
  ASSERT_EQ(compare.rows.size(), 4u);
  for (const auto& r : compare.rows) {
    const std::vector<double>& values = groups[{r[0], r[1]}];
    ASSERT_EQ(values.size(), 3u) << r[0] << " " << r[1];
    const Stats s = Describe(values);
    EXPECT_EQ(std::stoi(r[compare.Column("n")]), 3);
    EXPECT_NEAR(Number(r[compare.Column("mean")]), s.mean, 1e-12);
    EXPECT_NEAR(Number(r[compare.Column("std")]), s.std, 1e-12);
    EXPECT_NEAR(Number(r[compare.Column("ci95_low")]), s.low, 1e-9);
    EXPECT_NEAR(Number(r[compare.Column("ci95_high")]), s.high, 1e-9);
    std::vector<double> sorted = values;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(Number(r[compare.Column("median")]), sorted[1]);
    EXPECT_EQ(Number(r[compare.Column("min")]), sorted[0]);
    EXPECT_EQ(Number(r[compare.Column("max")]), sorted[2]);
  }
}

TEST_F(AnalysisCommands, CurvesAgreeWithTheExportedEpochs) {
  const Csv epochs = Export("curves");
  ASSERT_EQ(epochs.rows.size(), 12u * 7);  // epochs 0..6 of 12 trials
  std::map<std::pair<std::string, int>, std::vector<double>> points;
  for (const auto& r : epochs.rows)
    points[{r[epochs.Column("activation")], std::stoi(r[epochs.Column("epoch")])}].push_back(
        Number(r[epochs.Column("test_loss")]));

  CommandOptions o;
  o.format = "csv";
  o.by = {"activation"};
  o.metric = "test_loss";
  std::string text;
  ASSERT_EQ(Run(CurvesCommand, o, &text), 0);
  const Csv curves = ParseCsv(text);
  ASSERT_EQ(curves.rows.size(), 2u * 7);
  for (const auto& r : curves.rows) {
    const std::vector<double>& values = points[{r[0], std::stoi(r[curves.Column("epoch")])}];
    ASSERT_EQ(values.size(), 6u);
    const Stats s = Describe(values);
    EXPECT_NEAR(Number(r[curves.Column("mean")]), s.mean, 1e-12);
    EXPECT_NEAR(Number(r[curves.Column("ci95_high")]), s.high, 1e-9);
  }
}

TEST_F(AnalysisCommands, EffectsAgreeWithTheExportedTrials) {
  const Csv trials = Export("trials");
  std::map<std::string, std::vector<double>> by_activation;
  double sum = 0, total_ss = 0;
  std::vector<double> all;
  for (const auto& r : trials.rows) {
    const double v = Number(r[trials.Column("best_test_acc")]);
    by_activation[r[trials.Column("activation")]].push_back(v);
    all.push_back(v);
    sum += v;
  }
  const double grand = sum / double(all.size());
  for (double v : all) total_ss += (v - grand) * (v - grand);
  double ss = 0;  // balanced: SS_A = sum over levels of n_level (mean_level - grand)^2
  for (const auto& [level, values] : by_activation) {
    double m = 0;
    for (double v : values) m += v;
    m /= double(values.size());
    ss += double(values.size()) * (m - grand) * (m - grand);
  }

  CommandOptions o;
  o.format = "csv";
  o.metric = "best_test_acc";
  std::string text;
  ASSERT_EQ(Run(EffectsCommand, o, &text), 0);
  const Csv effects = ParseCsv(text);
  bool seen_activation = false, seen_total = false;
  for (const auto& r : effects.rows) {
    if (r[0] != "anova") continue;
    if (r[1] == "activation") {
      seen_activation = true;
      EXPECT_NEAR(Number(r[effects.Column("ss")]), ss, 1e-12);
      EXPECT_EQ(Number(r[effects.Column("df")]), 1);
    }
    if (r[1] == "total") {
      seen_total = true;
      EXPECT_NEAR(Number(r[effects.Column("ss")]), total_ss, 1e-12);
    }
  }
  EXPECT_TRUE(seen_activation && seen_total) << text;
}

TEST_F(AnalysisCommands, EveryFormatAndTheTestAnswer) {
  std::string text, err;
  CommandOptions o;
  o.a = {"activation=relu"};
  o.b = {"activation=tanh"};
  o.resamples = 500;
  ASSERT_EQ(Run(TestCommand, o, &text), 0);
  EXPECT_NE(text.find("Welch's t"), std::string::npos) << text;
  EXPECT_NE(text.find("paired t:        t ="), std::string::npos) << text;  // same seeds and depths
  EXPECT_NE(text.find("assumptions:"), std::string::npos) << text;
  o.format = "json";
  ASSERT_EQ(Run(TestCommand, o, &text), 0);
  EXPECT_NE(text.find("\"paired\": true"), std::string::npos) << text;

  CommandOptions layers;
  layers.by = {"depth"};
  ASSERT_EQ(Run(LayersCommand, layers, &text), 0);
  EXPECT_NE(text.find("dead fraction"), std::string::npos) << text;
  layers.format = "json";
  ASSERT_EQ(Run(LayersCommand, layers, &text), 0);
  EXPECT_NE(text.find("\"layers\": [{\"layer\": 0"), std::string::npos) << text;

  CommandOptions curves;
  curves.metric = "test_acc";
  curves.format = "svg";
  ASSERT_EQ(Run(CurvesCommand, curves, &text), 0);
  EXPECT_EQ(text.rfind("<svg", 0), 0u);
  EXPECT_NE(text.find("</svg>"), std::string::npos);

  CommandOptions compare;
  compare.format = "json";
  compare.where = {"depth=2"};
  compare.sort = "-mean";
  ASSERT_EQ(Run(CompareCommand, compare, &text), 0);
  EXPECT_NE(text.find("\"where\": {\"depth\": [2]}"), std::string::npos) << text;
  EXPECT_NE(text.find("\"trials\": 6"), std::string::npos) << text;

  // The matrix: activation levels as rows, depths as columns, each cell the group's mean.
  CommandOptions matrix;
  matrix.by = {"activation", "depth"};
  matrix.format = "csv";
  ASSERT_EQ(Run(CompareCommand, matrix, &text), 0);
  const Csv csv = ParseCsv(text);
  matrix.format = "matrix";
  ASSERT_EQ(Run(CompareCommand, matrix, &text), 0);
  const std::vector<std::string> lines = absl::StrSplit(text, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 4u) << text;
  EXPECT_EQ(lines[0], "| activation \\ depth | 1 | 2 |");
  EXPECT_EQ(lines[1], "|---|---|---|");
  for (const auto& row : csv.rows) {
    const std::string& line = row[0] == "relu" ? lines[2] : lines[3];
    const std::vector<std::string> cells = absl::StrSplit(line, " | ");
    ASSERT_EQ(cells.size(), 3u) << line;
    EXPECT_EQ(cells[row[1] == "1" ? 1 : 2].substr(0, 4), Short(Number(row[csv.Column("mean")])).substr(0, 4)) << line;
  }
  matrix.by = {"activation"};
  EXPECT_EQ(Run(CompareCommand, matrix, &text, &err), 2);
  EXPECT_NE(err.find("--format matrix needs --by with two factors"), std::string::npos) << err;
}

TEST_F(AnalysisCommands, BadInputIsRefusedWithExitCode2) {
  std::string text, err;
  CommandOptions o;
  o.where = {"depth=3"};
  EXPECT_EQ(Run(CompareCommand, o, &text, &err), 2);
  EXPECT_NE(err.find("depth has no value \"3\"; its values: 1, 2"), std::string::npos) << err;
  o.where = {"depth"};
  EXPECT_EQ(Run(CompareCommand, o, &text, &err), 2);
  EXPECT_NE(err.find("is not FACTOR=VALUE"), std::string::npos) << err;
  o.where.clear();
  o.metric = "accuracy";
  EXPECT_EQ(Run(CompareCommand, o, &text, &err), 2);
  o.metric = "test_acc";
  o.summary = "avg";
  EXPECT_EQ(Run(CompareCommand, o, &text, &err), 2);
  EXPECT_NE(err.find("unknown summary"), std::string::npos) << err;
  CommandOptions curves;
  curves.metric = "final_test_acc";  // a summary, not a curve
  EXPECT_EQ(Run(CurvesCommand, curves, &text, &err), 2);
  CommandOptions test;
  test.a = {"activation=relu"};
  test.b = {"activation=relu"};
  EXPECT_EQ(Run(TestCommand, test, &text, &err), 2);
  EXPECT_NE(err.find("share"), std::string::npos) << err;
  CommandOptions exporting;
  exporting.format = "xml";
  EXPECT_EQ(Run([](const CommandOptions& c, std::FILE* out, std::FILE* e) { return ExportCommand(c, out, e, nullptr); },
                exporting, &text, &err),
            2);
}

TEST(Render, APartialAnswerSaysSo) {
  v1::CompareResponse c;
  c.set_grid("g");
  c.set_grid_id(3);
  c.set_metric("final_test_acc");
  c.set_finished(7);
  c.set_trials(8);
  EXPECT_NE(RenderCompare(c, Format::kTable).find("partial, 7 of 8 trials finished"), std::string::npos);
  EXPECT_NE(RenderCompare(c, Format::kJson).find("\"finished\": 7, \"trials\": 8"), std::string::npos);
  v1::CurvesResponse curves;
  curves.set_finished(1);
  curves.set_trials(2);
  EXPECT_NE(RenderCurves(curves, Format::kSvg).find("partial: 1 of 2 trials"), std::string::npos);
}

TEST(ParseFilters, CommasInsideParenthesesBelongToTheLabel) {
  auto f = ParseFilters({"activation=reflu(left=0.1, right=1)|relu,depth=8", "depth=4"}, "--where");
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_EQ(f->size(), 2u);
  EXPECT_EQ((*f)[0].first, "activation");
  EXPECT_EQ((*f)[0].second, (std::vector<std::string>{"reflu(left=0.1, right=1)", "relu"}));
  EXPECT_EQ((*f)[1].second, (std::vector<std::string>{"8", "4"}));
  EXPECT_FALSE(ParseFilters({"depth="}, "--where").ok());
  EXPECT_FALSE(ParseFilters({"=8"}, "--where").ok());
}

}  // namespace
}  // namespace actgrid::cli
