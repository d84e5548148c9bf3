// `actgrid report`: the page carries the bundle and the answers of the dashboard's
// default views, each equal to what the Analysis call answers; the data cannot close
// its script element early; the default axes follow the dashboard's rule.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>

#include "client/cli/commands.h"
#include "client/cli/report.h"
#include "client/cli/run_command.h"
#include "client/dashboard/assets.h"
#include "server/analysis/analysis.h"
#include "server/store/store.h"
#include "tests/cli/cli_test_util.h"

namespace actgrid::cli {
namespace {

using test_util::ReadAll;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The JSON value at `path` of `root`, as JSON text.
std::string At(const google::protobuf::Struct& root, const std::vector<std::string>& path) {
  const google::protobuf::Value* value = nullptr;
  const google::protobuf::Struct* object = &root;
  for (const auto& key : path) {
    const auto it = object->fields().find(key);
    if (it == object->fields().end()) {
      ADD_FAILURE() << "no " << key;
      return "null";
    }
    value = &it->second;
    object = &value->struct_value();
  }
  std::string json;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(*value, &json).ok());
  return json;
}

template <typename Message>
Message Parse(const std::string& json) {
  Message m;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &m).ok()) << json.substr(0, 200);
  return m;
}

TEST(Report, DefaultAxesFollowTheDashboardsRule) {
  using Axes = std::pair<std::string, std::string>;
  EXPECT_EQ(DefaultHeatmapAxes({"init", "activation", "bias", "depth"}), Axes("activation", "depth"));
  EXPECT_EQ(DefaultHeatmapAxes({"depth", "init"}), Axes("depth", "init"));
  EXPECT_EQ(DefaultHeatmapAxes({"bias", "train.lr"}), Axes("bias", "train.lr"));
  EXPECT_EQ(DefaultHeatmapAxes({"activation"}), Axes("activation", ""));
  EXPECT_EQ(DefaultHeatmapAxes({}), Axes("", ""));
}

TEST(Report, TheDataCannotCloseItsScriptElement) {
  const std::string page = dashboard::ReportPage("a <b> & \"c\"", R"({"label": "</script><script>alert(1)</script>"})",
                                                 "var s = \"</script>\";", "p::after{content:\"</style>\"}");
  EXPECT_EQ(page.find("<script>alert"), std::string::npos);
  EXPECT_NE(page.find("\\u003c/script>\\u003cscript>alert(1)"), std::string::npos);
  EXPECT_NE(page.find("var s = \"<\\/script>\";"), std::string::npos);
  EXPECT_NE(page.find("content:\"<\\/style>\""), std::string::npos);
  EXPECT_NE(page.find("<title>a &lt;b&gt; &amp; &quot;c&quot;</title>"), std::string::npos) << page;
  // Exactly the two script elements and one style element the page is made of.
  size_t scripts = 0;
  for (size_t at = page.find("</script>"); at != std::string::npos; at = page.find("</script>", at + 1)) ++scripts;
  EXPECT_EQ(scripts, 2u);
}

TEST(Report, HoldsTheAnswersOfTheDashboardsDefaultViews) {
  const std::string base = ::testing::TempDir() + "/report-" + std::to_string(getpid());
  const std::string db = base + ".db", html = base + ".html";
  for (const char* suffix : {"", "-wal", "-shm"}) std::remove((db + suffix).c_str());
  std::ofstream(base + ".yaml") << "name: reported\ndataset: {name: circle, samples: 200}\nmodel: {width: 4}\n"
                                   "train: {epochs: 5}\nseeds: 2\ngrid:\n  depth: [1, 2]\n  activation: [relu, tanh]\n"
                                   "  bias: [0, 0.1]\n";
  RunOptions run;
  run.grid_path = base + ".yaml";
  run.db_path = db;
  run.progress = false;
  run.http.clear();
  std::FILE* out = std::tmpfile();
  std::FILE* err = std::tmpfile();
  ASSERT_EQ(RunGrid(run, out, err, nullptr), 0) << ReadAll(err);

  CommandOptions o;
  o.grid = "reported";
  o.target.db = db;
  std::FILE* out2 = std::tmpfile();
  std::FILE* err2 = std::tmpfile();
  ASSERT_EQ(ReportCommand(o, html, out2, err2), 0) << ReadAll(err2);
  EXPECT_NE(ReadAll(err2).find("16 of 16 trials finished"), std::string::npos) << ReadAll(err2);
  o.grid = "nope";
  EXPECT_EQ(ReportCommand(o, base + "-nope.html", out2, err2), 2);
  EXPECT_FALSE(std::ifstream(base + "-nope.html").good());

  const std::string page = ReadFile(html);
  EXPECT_NE(page.find(std::string(dashboard::AppJs()).substr(0, 200)), std::string::npos);
  const std::string open = "<script type=\"application/json\" id=\"actgrid-report\">";
  const size_t begin = page.find(open);
  ASSERT_NE(begin, std::string::npos);
  const size_t end = page.find("</script>", begin);
  const auto data = Parse<google::protobuf::Struct>(page.substr(begin + open.size(), end - begin - open.size()));
  EXPECT_EQ(At(data, {"heatmap", "y"}), "\"activation\"");
  EXPECT_EQ(At(data, {"heatmap", "x"}), "\"depth\"");
  EXPECT_EQ(At(data, {"curves", "by"}), "\"activation\"");
  EXPECT_EQ(Parse<v1::Grid>(At(data, {"grid"})).name(), "reported");
  EXPECT_EQ(data.fields().at("heatmap").struct_value().fields().at("answers").struct_value().fields_size(),
            int(ReportSummaryMetrics().size()));
  EXPECT_EQ(data.fields().at("curves").struct_value().fields().at("answers").struct_value().fields_size(),
            int(ReportCurveMetrics().size()));

  store::StoreOptions options;
  options.path = db;
  options.read_only = true;
  auto store = store::Store::Open(options);
  ASSERT_TRUE(store.ok()) << store.status();
  v1::CompareRequest compare;
  compare.set_grid("1");
  compare.set_metric("final_dead_fraction");
  compare.add_by("activation");
  compare.add_by("depth");
  auto expected = analysis::Compare(**store, compare);
  ASSERT_TRUE(expected.ok()) << expected.status();
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(
      Parse<v1::CompareResponse>(At(data, {"heatmap", "answers", "final_dead_fraction"})), *expected));
  compare.add_by("bias");
  compare.clear_by();
  for (const char* f : {"depth", "activation", "bias"}) compare.add_by(f);
  compare.set_sort("mean");  // lower is better: the best first
  expected = analysis::Compare(**store, compare);
  ASSERT_TRUE(expected.ok());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(
      Parse<v1::CompareResponse>(At(data, {"table", "answers", "final_dead_fraction"})), *expected));
  v1::CurvesRequest curves;
  curves.set_grid("1");
  curves.set_metric("train_loss");
  curves.add_by("activation");
  auto expected_curves = analysis::Curves(**store, curves);
  ASSERT_TRUE(expected_curves.ok());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(
      Parse<v1::CurvesResponse>(At(data, {"curves", "answers", "train_loss"})), *expected_curves));
  EXPECT_EQ(Parse<v1::EffectsResponse>(At(data, {"effects", "answers", "final_test_acc"})).main_effects_size(), 3);
  EXPECT_EQ(Parse<v1::LayersResponse>(At(data, {"layers", "answer"})).groups_size(), 2);
  for (const char* suffix : {"", "-wal", "-shm", ".lock"}) std::remove((db + suffix).c_str());
  std::remove(html.c_str());
}

}  // namespace
}  // namespace actgrid::cli
