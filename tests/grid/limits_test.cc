// Hostile grid files: every one is refused by a bound that its error names, before
// the work that grows with it; errors stay a screenful of short, inert lines; a
// cancel stops the reading.
#include <atomic>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/spec/echo.h"
#include "client/grid/grid_file.h"
#include "common/spec/suggest.h"
#include "gtest/gtest.h"

namespace actgrid::grid {
namespace {

std::vector<std::string> ErrorLines(const std::string& text) {
  const absl::StatusOr<Grid> grid = ParseGridText(text);
  EXPECT_FALSE(grid.ok()) << "parsed, but should not have";
  if (grid.ok()) return {};
  EXPECT_EQ(grid.status().code(), absl::StatusCode::kInvalidArgument) << grid.status().message().substr(0, 500);
  return absl::StrSplit(std::string(grid.status().message()), '\n');
}

// The single error line of a text with exactly one problem.
std::string OneError(const std::string& text) {
  const std::vector<std::string> lines = ErrorLines(text);
  EXPECT_EQ(lines.size(), 1u) << (lines.empty() ? "" : lines[0].substr(0, 300)) << " ... "
                              << (lines.size() > 1 ? lines[1].substr(0, 300) : "");
  return lines.empty() ? "" : lines[0];
}

bool Has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// "[*a, *a, ...]" with `n` aliases.
std::string Aliases(int n) {
  std::string list = "[";
  for (int i = 0; i < n; ++i) absl::StrAppend(&list, i ? ", " : "", "*a");
  return list + "]";
}

TEST(GridLimits, AnAliasedLongValueIsRefusedBeforeTheTreeIsWalked) {
  const std::string anchor = "a: &a \"" + std::string(100 * 1024, 'r') + "\"\n";
  for (const std::string& where : {std::string("grid:\n  activation: "), std::string("seeds: ")}) {
    const std::string line = OneError("name: x\n" + anchor + where + Aliases(3000) + "\n");
    EXPECT_TRUE(Has(line, "file: larger than 2097152 bytes with its aliases (*name) replaced")) << line;
    EXPECT_TRUE(Has(line, "at most 2097152 bytes")) << line;
  }
}

TEST(GridLimits, ManyAliasesAreRefused) {
  for (const std::string& where : {std::string("grid:\n  activation: "), std::string("seeds: ")}) {
    const std::string line = OneError("name: x\na: &a relu\n" + where + Aliases(1500) + "\n");
    EXPECT_TRUE(Has(line, "file: more than 1000 aliases (*name)")) << line;
    EXPECT_TRUE(Has(line, "a grid file may use at most 1000")) << line;
  }
  // Up to the bound, aliases work as YAML says.
  const absl::StatusOr<Grid> grid =
      ParseGridText("name: x\ngrid:\n  train.lr: &lrs [0.01, 0.1]\n  train.l2: *lrs\n");
  ASSERT_TRUE(grid.ok()) << grid.status().message();
  EXPECT_EQ(grid->trials.size(), 4u);
}

TEST(GridLimits, NestedAliasesCountWhatTheyExpandTo) {
  // Each level doubles the one before: 2^40 values from a few hundred bytes.
  std::string text = "name: x\nl0: &l0 [leaky_relu(alpha=0.2), leaky_relu(alpha=0.2)]\n";
  for (int i = 1; i <= 40; ++i) absl::StrAppend(&text, "l", i, ": &l", i, " [*l", i - 1, ", *l", i - 1, "]\n");
  const std::string line = OneError(text + "grid:\n  activation: *l40\n");
  EXPECT_TRUE(Has(line, "file: larger than 2097152 bytes with its aliases")) << line;
}

TEST(GridLimits, ManyValuesAreRefusedBeforeTheTreeIsLoaded) {
  std::string zeros = "[";
  for (int i = 0; i < 300000; ++i) absl::StrAppend(&zeros, i ? "," : "", "0");
  const std::string line = OneError("name: x\ngrid:\n  bias: " + zeros + "]\n");
  EXPECT_TRUE(Has(line, "file: more than 250000 values (scalars, lists and maps)")) << line;
  EXPECT_TRUE(Has(line, "a grid file may have at most 250000")) << line;
}

TEST(GridLimits, AnAliasInsideTheValueItNamesIsRefused) {
  const std::string line = OneError("name: x\ngrid: &g\n  activation: [relu, *g]\n");
  EXPECT_TRUE(Has(line, "file: an alias is used inside the value it names")) << line;
}

TEST(GridLimits, DeepNestingIsRefused) {
  const std::string line = OneError("name: x\ngrid:\n  hidden: " + std::string(40, '[') + std::string(40, ']') + "\n");
  EXPECT_TRUE(Has(line, "file: lists and maps nested more than 32 deep")) << line;
}

TEST(GridLimits, ALargeFileIsRefusedWithItsSize) {
  const std::string text = "name: x\n# " + std::string(kMaxGridFileBytes, 'c') + "\n";
  EXPECT_EQ(OneError(text), absl::StrCat("file: ", text.size(),
                                         " bytes; a grid file may have at most 1048576 bytes (1 MiB)"));
}

TEST(GridLimits, TrialCountsAreCheckedBeforeAnyValueIsRead) {
  EXPECT_EQ(OneError("name: x\nseeds: 1000000\n"),
            "seeds: expected a count in 1..200000 or a list of seeds, got 1000000");
  // Lists too long for the limit are refused by their length alone: no value of them
  // is read, so their bad values are not reported.
  std::string seeds = "[";
  for (int i = 0; i < 200001; ++i) absl::StrAppend(&seeds, i ? "," : "", "x");
  EXPECT_EQ(OneError("name: x\nseeds: " + seeds + "]\n"),
            "grid: 1 cells x 200001 seeds = 200001 trials; at most 200000 are allowed");
  EXPECT_EQ(OneError("name: x\ngrid:\n  depth: " + seeds + "]\n"),
            "grid: 200001 cells x 1 seeds = 200001 trials; at most 200000 are allowed");
  // Products far past 2^64 are counted without overflow.
  std::string grid = "name: x\nseeds: 1000\ngrid:\n";
  for (const char* factor : {"depth", "bias", "train.lr", "train.l2", "train.batch", "model.width", "train.epochs"}) {
    std::string list = "[";
    for (int i = 0; i < 1000; ++i) absl::StrAppend(&list, i ? "," : "", "q");
    absl::StrAppend(&grid, "  ", factor, ": ", list, "]\n");
  }
  EXPECT_EQ(OneError(grid), "grid: 1e+21 cells x 1000 seeds = 1e+24 trials; at most 200000 are allowed");
}

TEST(GridLimits, TheLargestGridExpandsWithItsSeedRanks) {
  const absl::StatusOr<Grid> grid = ParseGridText("name: x\nseeds: 100000\ngrid:\n  depth: [1, 2]\n");
  ASSERT_TRUE(grid.ok()) << grid.status();
  ASSERT_EQ(grid->trials.size(), size_t(kMaxGridTrials));
  const v1::SubmitGridRequest request = ToSubmitRequest(*grid, true);
  ASSERT_EQ(request.trials_size(), kMaxGridTrials);
  for (int i : {0, 1, 2, 3, 199998, 199999}) {
    EXPECT_EQ(request.trials(i).seed_rank(), i / 2);
    EXPECT_EQ(request.trials(i).spec().seed(), uint64_t(i / 2));
    EXPECT_EQ(request.trials(i).cell(), i % 2);
  }
}

TEST(GridLimits, ALongValueIsEchoedCutWithItsLength) {
  const std::string line = OneError("name: " + std::string(100 * 1024, 'N') + "\n");
  EXPECT_EQ(line, "name: expected 1 to 64 characters of [a-z0-9_-], got \"" + std::string(spec::kMaxEchoBytes, 'N') +
                      "...\" (102400 bytes)");
  const std::string activation = OneError("name: x\ngrid:\n  activation: [relu" + std::string(5000, 'x') + "]\n");
  EXPECT_EQ(activation, "grid.activation[0]: unknown activation \"relu" + std::string(spec::kMaxEchoBytes - 4, 'x') +
                            "...\" (5004 bytes); valid: linear, sigmoid, tanh, relu, leaky_relu, prelu, elu, selu, "
                            "gelu, silu, mish, softplus, softsign, maxout, reflu, gaussian, sinc");
  const std::string key = OneError("name: x\ntrain:\n  " + std::string(1000, 'k') + ": 1\n");
  EXPECT_LT(key.size(), 600u) << key;
  EXPECT_TRUE(Has(key, "train." + std::string(spec::kMaxEchoBytes, 'k') + "... (1000 bytes): unknown key \"")) << key;
}

TEST(GridLimits, ManyProblemsAreListedUpToTwentyThenCounted) {
  std::string zeros = "[";
  for (int i = 0; i < 200000; ++i) absl::StrAppend(&zeros, i ? "," : "", "0");
  const std::vector<std::string> lines = ErrorLines("name: x\ngrid:\n  bias: " + zeros + "]\n");
  ASSERT_EQ(lines.size(), kMaxErrorsListed + 1);
  EXPECT_EQ(lines[0], "grid.bias[1]: duplicate value 0 (same as grid.bias[0])");
  EXPECT_EQ(lines[19], "grid.bias[20]: duplicate value 0 (same as grid.bias[0])");
  EXPECT_EQ(lines[20], "... and 199979 more problems");
  // Long values each cut: no line is longer than a few hundred bytes.
  std::string paths = "[";
  for (int i = 0; i < 100; ++i) absl::StrAppend(&paths, i ? ", " : "", "\"", std::string(5000, 'p'), "\"");
  const std::vector<std::string> duplicates = ErrorLines("name: x\ngrid:\n  dataset.path: " + paths + "]\n");
  ASSERT_EQ(duplicates.size(), kMaxErrorsListed + 1);
  for (const std::string& line : duplicates) EXPECT_LE(line.size(), 200u) << line;
  EXPECT_EQ(duplicates.back(), "... and 79 more problems");
}

TEST(GridLimits, ControlCharactersAreEchoedEscaped) {
  const std::string line = OneError("name: \"\\e[31mred\\u009b\"\n");
  EXPECT_EQ(line, "name: expected 1 to 64 characters of [a-z0-9_-], got \"\\x1b[31mred\\u009b\"");
  EXPECT_EQ(spec::EscapeControls("\x07tab\there \xff ok \xc3\xa9"), "\\x07tab\\x09here \\xff ok \xc3\xa9");
  EXPECT_EQ(spec::Shown(std::string(70, 'a'), 64), std::string(64, 'a') + "... (70 bytes)");
  EXPECT_EQ(spec::Shown(std::string(spec::kMaxEchoBytes, 'a')), std::string(spec::kMaxEchoBytes, 'a'));
  EXPECT_EQ(spec::Quoted("\xc3\xa9", 1), "\"...\" (2 bytes)");  // never cut inside a character
}

TEST(GridLimits, SuggestionsAreOnlyLookedForShortWords) {
  EXPECT_EQ(spec::Suggest("relux", {"relu", "tanh"}), "relu");
  EXPECT_EQ(spec::Suggest("relu" + std::string(40, 'x'), {"relu"}), "relu");  // a prefix
  EXPECT_EQ(spec::Suggest("relu" + std::string(61, 'x'), {"relu"}), "");      // past kMaxSuggestWordBytes
}

TEST(GridLimits, ACancelStopsTheReading) {
  std::atomic<bool> cancel{true};
  const absl::StatusOr<Grid> grid = ParseGridText("name: x\nseeds: 1000\ngrid:\n  depth: [1, 2]\n", &cancel);
  ASSERT_FALSE(grid.ok());
  EXPECT_EQ(grid.status().code(), absl::StatusCode::kCancelled) << grid.status();
  cancel = false;
  EXPECT_TRUE(ParseGridText("name: x\nseeds: 1000\ngrid:\n  depth: [1, 2]\n", &cancel).ok());
}

}  // namespace
}  // namespace actgrid::grid
