// Fuzzes the grid-file parser: any text must give a Grid or an error, never a crash,
// a hang or unbounded memory.
#include <cstddef>
#include <cstdint>
#include <string>

#include "client/grid/grid_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto grid = actgrid::grid::ParseGridText(text);
  if (grid.ok()) (void)actgrid::grid::ToSubmitRequest(*grid, true);
  return 0;
}
