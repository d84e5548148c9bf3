// A database written by the actgrid of before engine versions (schema 4, engine 1:
// tests/store/testdata/schema4-engine1.db, made by `actgrid run` on the .yaml beside
// it) still answers every analysis as that actgrid did (its answers are in
// tests/store/testdata/schema4-engine1/), and a new grid of the same trials measures
// them again instead of reusing them, saying so.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

const std::string kData = ACTGRID_SOURCE_DIR "/tests/store/testdata/";

struct Outcome {
  int code = -1;
  std::string out, err;
};

// Runs the actgrid binary with `args`; returns its exit code and output.
Outcome Actgrid(const std::vector<std::string>& args) {
  const std::string base = ::testing::TempDir() + "/older_db_" + std::to_string(getpid());
  const std::string out_path = base + ".out", err_path = base + ".err";
  const pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argv = {const_cast<char*>(ACTGRID_CLI_BINARY)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    if (!freopen(out_path.c_str(), "w", stdout) || !freopen(err_path.c_str(), "w", stderr)) _exit(126);
    execv(ACTGRID_CLI_BINARY, argv.data());
    _exit(127);
  }
  Outcome run;
  int status = 0;
  if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status)) run.code = WEXITSTATUS(status);
  auto slurp = [](const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  };
  run.out = slurp(out_path);
  run.err = slurp(err_path);
  return run;
}

// Whether two answers say the same: the same text, numbers equal to a relative 1e-12
// (builds of other optimization levels may sum in another order: the last bit moves).
// Empty when they do, else where they part.
std::string Differs(const std::string& got, const std::string& want) {
  size_t i = 0, j = 0;
  auto number_at = [](const std::string& s, size_t at) {
    return at < s.size() && (std::isdigit(static_cast<unsigned char>(s[at])) ||
                             (s[at] == '-' && at + 1 < s.size() && std::isdigit(static_cast<unsigned char>(s[at + 1]))));
  };
  while (i < got.size() && j < want.size()) {
    if (number_at(got, i) && number_at(want, j)) {
      char* end_got = nullptr;
      char* end_want = nullptr;
      const double a = std::strtod(got.c_str() + i, &end_got), b = std::strtod(want.c_str() + j, &end_want);
      if (std::abs(a - b) > 1e-12 * std::max(std::abs(a), std::abs(b)))
        return "at byte " + std::to_string(j) + ": " + std::to_string(a) + " against " + std::to_string(b);
      i = size_t(end_got - got.c_str());
      j = size_t(end_want - want.c_str());
      continue;
    }
    if (got[i] != want[j]) return "at byte " + std::to_string(j) + ": " + want.substr(j, 60);
    ++i;
    ++j;
  }
  if (i != got.size() || j != want.size()) return "the lengths differ";
  return "";
}

std::string Expected(const std::string& name) {
  std::ifstream in(kData + "schema4-engine1/" + name);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class OlderDatabase : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/older_db_dir_" + std::to_string(getpid());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    db_ = dir_ + "/old.db";
    std::filesystem::copy_file(kData + "schema4-engine1.db", db_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Every analysis the answers were recorded for, as that actgrid was asked.
  void ExpectTheRecordedAnswers(const std::string& grid) {
    const std::vector<std::pair<std::string, std::vector<std::string>>> asked = {
        {"compare.json", {"compare", grid, "--by", "activation,depth", "--metric", "best_test_acc"}},
        {"curves.json", {"curves", grid, "--by", "activation", "--metric", "test_acc"}},
        {"effects.json", {"effects", grid, "--metric", "best_test_acc"}},
        {"test.json", {"test", grid, "--metric", "best_test_acc", "--a", "activation=relu", "--b", "activation=tanh"}},
        {"layers.json", {"layers", grid}},
    };
    for (auto [file, args] : asked) {
      args.insert(args.end(), {"--db", db_, "--format", "json"});
      const Outcome run = Actgrid(args);
      ASSERT_EQ(run.code, 0) << args[0] << ": " << run.err;
      EXPECT_EQ(Differs(run.out, Expected(file)), "") << args[0];  // asked by name or by id, the same answer
    }
    const Outcome exported = Actgrid({"export", grid, "--db", db_, "--format", "jsonl"});
    ASSERT_EQ(exported.code, 0) << exported.err;
    // The same rows, with what measured them added to each summary and the (empty)
    // dataset digest to each spec.
    std::string now = exported.out;
    for (const std::string added : {", \"engine_version\": 1, \"build\": \"\"", ",\"digest\":\"\""}) {
      size_t count = 0;
      for (size_t at = now.find(added); at != std::string::npos; at = now.find(added, at)) {
        now.erase(at, added.size());
        ++count;
      }
      EXPECT_EQ(count, 8u) << added;
    }
    EXPECT_EQ(Differs(now, Expected("export.jsonl")), "") << "export differs from what the older actgrid wrote";
  }

  std::string dir_, db_;
};

TEST_F(OlderDatabase, AnswersAsBeforeAndItsTrialsAreMeasuredAgain) {
  ExpectTheRecordedAnswers("before-versions");

  const Outcome status = Actgrid({"status", "before-versions", "--db", db_});
  ASSERT_EQ(status.code, 0) << status.err;
  EXPECT_NE(status.out.find("measured by engine 1, build not recorded (8 trials)"), std::string::npos) << status.out;

  // The same grid again, on this engine: nothing reused, and it says why.
  const Outcome run = Actgrid({"run", kData + "schema4-engine1.yaml", "--db", db_, "--workers", "2", "--no-dashboard"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_NE(run.err.find("reused 0; 8 earlier results were measured by engine version 1 and are measured again"),
            std::string::npos)
      << run.err;
  const Outcome fresh = Actgrid({"status", "2", "--db", db_});
  ASSERT_EQ(fresh.code, 0) << fresh.err;
  EXPECT_NE(fresh.out.find("DONE, 8/8"), std::string::npos) << fresh.out;
  EXPECT_NE(fresh.out.find("measured by engine 3, rev "), std::string::npos) << fresh.out;

  // The old grid's answers are untouched by the new one.
  ExpectTheRecordedAnswers("1");
  // Run once more: now the new results are reused.
  const Outcome again = Actgrid({"run", kData + "schema4-engine1.yaml", "--db", db_, "--workers", "2", "--no-dashboard"});
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.err.find("reused 8"), std::string::npos) << again.err;
  EXPECT_EQ(again.err.find("earlier results"), std::string::npos) << again.err;
}

}  // namespace
