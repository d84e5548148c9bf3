// Helpers the grid-file tests share: a text that must parse, and the error lines of one
// that must not.
#ifndef ACTGRID_TESTS_GRID_GRID_TEST_UTIL_H_
#define ACTGRID_TESTS_GRID_GRID_TEST_UTIL_H_

#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "absl/status/statusor.h"
#include "absl/strings/str_split.h"
#include "client/grid/grid_file.h"

namespace actgrid::grid::test_util {

inline Grid MustParse(const std::string& text) {
  absl::StatusOr<Grid> grid = ParseGridText(text);
  EXPECT_TRUE(grid.ok()) << grid.status();
  return grid.ok() ? *std::move(grid) : Grid{};
}

// The error lines of a text that must not parse.
inline std::vector<std::string> ErrorLines(const std::string& text) {
  absl::StatusOr<Grid> grid = ParseGridText(text);
  EXPECT_FALSE(grid.ok()) << "parsed, but should not have:\n" << text;
  if (grid.ok()) return {};
  EXPECT_EQ(grid.status().code(), absl::StatusCode::kInvalidArgument) << grid.status();
  return absl::StrSplit(std::string(grid.status().message()), '\n');
}

// The single error line of a text with exactly one problem.
inline std::string OneError(const std::string& text) {
  const std::vector<std::string> lines = ErrorLines(text);
  EXPECT_EQ(lines.size(), 1u) << ::testing::PrintToString(lines);
  return lines.empty() ? "" : lines[0];
}

}  // namespace actgrid::grid::test_util

#endif  // ACTGRID_TESTS_GRID_GRID_TEST_UTIL_H_
