// Helpers shared by the CLI tests.
#ifndef ACTGRID_TESTS_CLI_CLI_TEST_UTIL_H_
#define ACTGRID_TESTS_CLI_CLI_TEST_UTIL_H_

#include <cstdio>
#include <string>

namespace actgrid::cli::test_util {

// Everything written to `f` so far (a std::tmpfile standing in for stdout or stderr).
inline std::string ReadAll(std::FILE* f) {
  std::rewind(f);
  std::string s;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
  return s;
}

}  // namespace actgrid::cli::test_util

#endif  // ACTGRID_TESTS_CLI_CLI_TEST_UTIL_H_
