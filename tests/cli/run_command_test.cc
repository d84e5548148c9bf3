// `actgrid run` end to end: a small grid trains and prints one row per cell; an invalid
// grid file runs nothing; cancellation still prints the finished trials.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "client/cli/run_command.h"
#include "tests/cli/cli_test_util.h"

namespace actgrid::cli {
namespace {

using test_util::ReadAll;

std::string WriteGrid(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

int CountLines(const std::string& s) { return int(std::count(s.begin(), s.end(), '\n')); }

// A fresh database per test: trials finished in one run are reused by the next.
std::string TempDb(const std::string& name) {
  const std::string path = ::testing::TempDir() + "/" + name + ".db";
  for (const char* suffix : {"", "-wal", "-shm"}) std::remove((path + suffix).c_str());
  return path;
}

TEST(RunCommand, TrainsTheGridAndPrintsOneRowPerCell) {
  const std::string path = WriteGrid("small.yaml", R"(name: small
dataset: {name: circle, samples: 200, noise: 0.0}
model: {width: 4}
train: {epochs: 5}
seeds: 2
grid:
  activation: [relu, tanh, reflu]
  depth: [1, 2]
)");
  RunOptions options;
  options.grid_path = path;
  options.db_path = TempDb(::testing::UnitTest::GetInstance()->current_test_info()->name());
  options.workers = 2;
  std::FILE* out = std::tmpfile();
  std::FILE* err = std::tmpfile();
  EXPECT_EQ(RunGrid(options, out, err, nullptr), 0);
  const std::string table = ReadAll(out), log = ReadAll(err);
  EXPECT_NE(log.find("6 cells x 2 seeds = 12 trials"), std::string::npos) << log;
  EXPECT_NE(log.find("12/12 trials"), std::string::npos) << log;
  EXPECT_NE(table.find("final_test_acc (mean ± std)"), std::string::npos) << table;
  EXPECT_NE(table.find("reflu"), std::string::npos);
  EXPECT_EQ(CountLines(table), 1 + 2 + 6);  // blank line, header, rule, 6 cells
  std::fclose(out);
  std::fclose(err);
}

TEST(RunCommand, JsonlHasOneLinePerTrialWithItsCurve) {
  const std::string path = WriteGrid("jsonl.yaml", R"(name: jsonl
dataset: {name: xor, samples: 100}
train: {epochs: 3}
seeds: 2
grid:
  activation: [relu, elu]
)");
  RunOptions options;
  options.grid_path = path;
  options.db_path = TempDb(::testing::UnitTest::GetInstance()->current_test_info()->name());
  options.jsonl_path = ::testing::TempDir() + "/results.jsonl";
  std::remove(options.jsonl_path.c_str());
  std::FILE* out = std::tmpfile();
  std::FILE* err = std::tmpfile();
  ASSERT_EQ(RunGrid(options, out, err, nullptr), 0);
  std::ifstream in(options.jsonl_path);
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    ++lines;
    EXPECT_NE(line.find("\"trial_key\""), std::string::npos);
    EXPECT_NE(line.find("\"epoch\":3"), std::string::npos) << line.substr(0, 200);
    EXPECT_NE(line.find("\"final_test_acc\""), std::string::npos);
  }
  EXPECT_EQ(lines, 4);
  std::fclose(out);
  std::fclose(err);
}

TEST(RunCommand, InvalidGridRunsNothing) {
  const std::string path = WriteGrid("bad.yaml", "name: bad\ngrid:\n  activation: [relux]\n");
  RunOptions options;
  options.grid_path = path;
  options.db_path = TempDb(::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::FILE* out = std::tmpfile();
  std::FILE* err = std::tmpfile();
  EXPECT_EQ(RunGrid(options, out, err, nullptr), 2);
  EXPECT_EQ(ReadAll(out), "");
  EXPECT_NE(ReadAll(err).find("did you mean \"relu\""), std::string::npos);
  std::fclose(out);
  std::fclose(err);
}

TEST(RunCommand, MissingFileAndUnknownMetricAreErrors) {
  RunOptions options;
  options.grid_path = "/nonexistent/grid.yaml";
  std::FILE* out = std::tmpfile();
  std::FILE* err = std::tmpfile();
  EXPECT_EQ(RunGrid(options, out, err, nullptr), 2);
  options.grid_path = WriteGrid("ok.yaml", "name: ok\n");
  options.metric = "final_tset_acc";
  EXPECT_EQ(RunGrid(options, out, err, nullptr), 2);
  EXPECT_NE(ReadAll(err).find("unknown metric"), std::string::npos);
  std::fclose(out);
  std::fclose(err);
}

TEST(RunCommand, CancelledRunStillPrintsTheTable) {
  const std::string path = WriteGrid("long.yaml", R"(name: long
dataset: {name: circle, samples: 200}
train: {epochs: 100000}
seeds: 2
)");
  RunOptions options;
  options.grid_path = path;
  options.db_path = TempDb(::testing::UnitTest::GetInstance()->current_test_info()->name());
  // Ctrl-C once the run has begun: the database file exists only after the grid file
  // has been read (a cancel before that stops the reading; see the next test).
  std::atomic<bool> cancel{false};
  std::thread ctrl_c([&] {
    for (int i = 0; i < 12000 && !std::filesystem::exists(options.db_path); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    cancel = true;
  });
  std::FILE* out = std::tmpfile();
  std::FILE* err = std::tmpfile();
  EXPECT_EQ(RunGrid(options, out, err, &cancel), 130);
  ctrl_c.join();
  EXPECT_NE(ReadAll(out).find("final_test_acc"), std::string::npos);
  EXPECT_NE(ReadAll(err).find("cancelled"), std::string::npos);
  std::fclose(out);
  std::fclose(err);
}

}  // namespace
}  // namespace actgrid::cli
