// The CLI's bounds, checked before anything is sent or expanded: grid references and
// query values past their limits are refused with exit code 2 and a short message
// naming the limit; the grid limit is the coordinator's; a cancel while the grid file
// is read stops the command with 130.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <string>

#include "client/cli/commands.h"
#include "client/cli/run_command.h"
#include "common/spec/echo.h"
#include "client/grid/grid_file.h"
#include "server/scheduler/scheduler.h"
#include "tests/cli/cli_test_util.h"

namespace actgrid::cli {
namespace {

using test_util::ReadAll;

TEST(CliBounds, TheGridLimitIsTheCoordinatorsDefault) {
  EXPECT_EQ(grid::kMaxGridTrials, scheduler::SchedulerOptions().max_trials_per_grid);
}

TEST(CliBounds, LongGridReferencesAreRefusedBeforeAnythingIsAsked) {
  EXPECT_TRUE(CheckGridRef("relu-vs-reflu_2").ok());
  EXPECT_TRUE(CheckGridRef("12").ok());
  for (const std::string& ref : {std::string(), std::string(20000, 'g'), std::string("Bad Name")}) {
    const absl::Status status = CheckGridRef(ref);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << ref.size();
    EXPECT_LT(status.message().size(), 200u);
  }
  EXPECT_EQ(std::string(CheckGridRef(std::string(20000, 'g')).message()),
            "grid: expected a grid id or a name of 1 to 64 characters of [a-z0-9_-], got \"" +
                std::string(spec::kMaxEchoBytes, 'g') + "...\" (20000 bytes)");

  // Every command that names a grid: exit 2 and that message, with no server asked
  // (the address below has nothing listening).
  CommandOptions o;
  o.grid = std::string(20000, 'g');
  o.target.server = "127.0.0.1:1";
  o.target.timeout_s = 0.5;
  for (auto command : {StatusCommand, CancelCommand, CompareCommand, CurvesCommand, EffectsCommand, TestCommand,
                       LayersCommand}) {
    std::FILE* out = std::tmpfile();
    std::FILE* err = std::tmpfile();
    EXPECT_EQ(command(o, out, err), 2);
    const std::string text = ReadAll(err);
    EXPECT_NE(text.find("expected a grid id or a name of 1 to 64 characters"), std::string::npos) << text;
    EXPECT_LT(text.size(), 300u);
    std::fclose(out);
    std::fclose(err);
  }
}

TEST(CliBounds, LongWhereValuesAreRefusedWithTheirLimit) {
  const auto ok = ParseFilters({"depth=4|8,activation=" + std::string(1024, 'r')}, "--where");
  EXPECT_TRUE(ok.ok()) << ok.status();
  const auto long_value = ParseFilters({"activation=" + std::string(20000, 'r')}, "--where");
  ASSERT_FALSE(long_value.ok());
  EXPECT_EQ(long_value.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(long_value.status().message()),
            "--where: the value of activation is 20000 bytes; at most 1024 are allowed");
  const auto long_factor = ParseFilters({std::string(300, 'f') + "=1"}, "--a");
  ASSERT_FALSE(long_factor.ok());
  EXPECT_NE(long_factor.status().message().find("at most 256 are allowed"), absl::string_view::npos);
  std::string many = "depth=0";
  for (int i = 1; i <= 1000; ++i) many += "|" + std::to_string(i);
  const auto too_many = ParseFilters({many}, "--where");
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(std::string(too_many.status().message()), "--where: more than 1000 values; at most 1000 are allowed");

  CommandOptions o;
  o.grid = "g";
  o.target.server = "127.0.0.1:1";
  o.target.timeout_s = 0.5;
  o.where = {"activation=" + std::string(20000, 'r')};
  std::FILE* out = std::tmpfile();
  std::FILE* err = std::tmpfile();
  EXPECT_EQ(CompareCommand(o, out, err), 2);
  const std::string text = ReadAll(err);
  EXPECT_NE(text.find("at most 1024 are allowed"), std::string::npos) << text;
  EXPECT_LT(text.size(), 300u);
  std::fclose(out);
  std::fclose(err);
}

TEST(CliBounds, ACancelWhileTheGridFileIsReadStopsTheRun) {
  const std::string path = ::testing::TempDir() + "/cancel-while-reading.yaml";
  std::ofstream(path) << "name: big\nseeds: 100000\ngrid:\n  depth: [1, 2]\n";
  RunOptions options;
  options.grid_path = path;
  options.dry_run = true;
  std::atomic<bool> cancel{true};  // the signal arrived before or during the reading
  std::FILE* out = std::tmpfile();
  std::FILE* err = std::tmpfile();
  EXPECT_EQ(RunGrid(options, out, err, &cancel), 130);
  const std::string text = ReadAll(err);
  EXPECT_NE(text.find("cancelled while reading"), std::string::npos) << text;
  EXPECT_EQ(text.find("200000 trials"), std::string::npos) << text;  // nothing was expanded
  std::fclose(out);
  std::fclose(err);

  CommandOptions submit;
  submit.grid = path;
  submit.target.server = "127.0.0.1:1";
  out = std::tmpfile();
  err = std::tmpfile();
  EXPECT_EQ(SubmitCommand(submit, out, err, &cancel), 130);
  std::fclose(out);
  std::fclose(err);
}

}  // namespace
}  // namespace actgrid::cli
