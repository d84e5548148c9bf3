// Fuzzes the grid-file parser, on both of its doors (a file the CLI reads, a text a
// coordinator receives): any text must give a Grid or an error, never a crash, a hang
// or unbounded memory.
#include <cstddef>
#include <cstdint>
#include <string>

#include "client/grid/grid_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  // As `actgrid submit` reads a file, and as a coordinator reads a grid file sent as
  // text (SubmitGridRequest.grid_file) from anyone who may submit.
  auto grid = actgrid::grid::ParseGridText(text);
  if (grid.ok()) (void)actgrid::grid::ToSubmitRequest(*grid, true);
  (void)actgrid::grid::SubmitRequestFromText(text, size % 2 == 0);
  return 0;
}
