// The actgrid program's exit codes for usage errors: whatever CLI11 finds wrong with
// the command line (an unknown option, a value out of range, an extra argument, a
// missing one) exits 2, as docs/running.md documents; --help exits 0.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace {

// Runs the actgrid binary with `args`, its output discarded; returns its exit code,
// or -1 when it did not exit normally.
int ExitCode(const std::vector<std::string>& args) {
  const pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argv = {const_cast<char*>(ACTGRID_CLI_BINARY)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr)) _exit(126);
    execv(ACTGRID_CLI_BINARY, argv.data());
    _exit(127);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(ExitCodes, EveryUsageErrorExits2) {
  const std::vector<std::vector<std::string>> usage_errors = {
      {},                                                   // no subcommand
      {"frobnicate"},                                       // unknown subcommand
      {"run", "grid.yaml", "--workers", "0"},               // out of range (CLI11: 105)
      {"grids", "extra"},                                   // an extra argument (CLI11: 109)
      {"compare"},                                          // a required argument missing (CLI11: 106)
      {"grids", "--bogus"},                                 // an unknown option
      {"run", "grid.yaml", "--workers", "many"},            // not a number (CLI11: 101)
      {"curves", "g", "--layer", "-1"},                     // out of range
      {"compare", "g", "--timeout", "0"},                   // out of range
  };
  for (const auto& args : usage_errors) {
    std::string line;
    for (const auto& a : args) line += " " + a;
    EXPECT_EQ(ExitCode(args), 2) << "actgrid" << line;
  }
}

TEST(ExitCodes, HelpExits0) {
  EXPECT_EQ(ExitCode({"--help"}), 0);
  EXPECT_EQ(ExitCode({"run", "--help"}), 0);
  EXPECT_EQ(ExitCode({"compare", "-h"}), 0);
}

}  // namespace
