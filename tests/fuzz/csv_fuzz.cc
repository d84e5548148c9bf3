// Fuzzes the CSV dataset loader: any bytes must give a dataset whose shapes agree, or
// an error naming the file and line.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "worker/engine/dataset.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/actgrid-csv-fuzz-" + std::to_string(getpid()) + ".csv";
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  actgrid::v1::DatasetSpec spec;
  spec.set_kind(actgrid::v1::DATASET_KIND_CSV);
  spec.set_path(path);
  spec.set_test_fraction(0.25);
  spec.set_scaling(actgrid::v1::SCALING_STANDARDIZE);
  auto loaded = actgrid::engine::LoadDataset(spec);
  if (loaded.ok()) {
    const auto& d = **loaded;
    if (d.train_x.cols() != Eigen::Index(d.train_y.size()) || d.test_x.cols() != Eigen::Index(d.test_y.size()))
      __builtin_trap();
    for (int32_t y : d.train_y)
      if (y < 0 || y >= d.classes) __builtin_trap();
  }
  return 0;
}
