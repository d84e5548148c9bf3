// Fuzzes the IDX reader (plain or gzip-compressed files): any bytes must give an
// array or an error naming the file.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "worker/engine/dataset.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/actgrid-idx-fuzz-" + std::to_string(getpid()) + ".idx";
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  auto array = actgrid::engine::ReadIdx(path);
  if (array.ok()) {
    size_t cells = 1;
    for (int d : array->dims) cells *= size_t(d);
    if (cells != array->data.size()) __builtin_trap();  // the reader's own promise
  }
  return 0;
}
