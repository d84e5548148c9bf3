// Robustness of the file loaders: hundreds of randomly corrupted or truncated IDX
// (plain and gzip) and CSV files must each load or fail with an error, never crash.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <zlib.h>

#include "worker/engine/dataset.h"
#include "worker/engine/random.h"

namespace actgrid::engine {
namespace {

namespace fs = std::filesystem;

std::string Idx(const std::vector<uint32_t>& dims, const std::string& payload) {
  std::string out = {0, 0, 0x08, static_cast<char>(dims.size())};
  for (uint32_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((d >> shift) & 0xff);
  return out + payload;
}

void Write(const std::string& path, const std::string& bytes, bool gzip) {
  if (!gzip) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
    return;
  }
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, bytes.data(), unsigned(bytes.size()));
  gzclose(f);
}

// Flips, overwrites or drops a few random bytes; sometimes truncates.
std::string Corrupt(std::string bytes, Rng& rng) {
  const int edits = 1 + int(rng.Below(4));
  for (int e = 0; e < edits && !bytes.empty(); ++e) {
    const size_t at = rng.Below(bytes.size());
    switch (rng.Below(4)) {
      case 0: bytes[at] = char(rng.Below(256)); break;
      case 1: bytes[at] ^= char(1 << rng.Below(8)); break;
      case 2: bytes.erase(at, 1 + rng.Below(8)); break;
      default: bytes.resize(at); break;
    }
  }
  return bytes;
}

class CorruptInput : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::path(::testing::TempDir()) / ("actgrid_corrupt_" + std::to_string(getpid()))).string();
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_;
};

TEST_F(CorruptInput, IdxFilesLoadOrFailCleanly) {
  std::string pixels, labels;
  for (int i = 0; i < 30; ++i) {
    labels += char(i % 3);
    pixels += std::string(4, char(10 * (i % 3) + 1));
  }
  const std::string images = Idx({30, 2, 2}, pixels), label_file = Idx({30}, labels);
  Rng rng(2024);
  int failures = 0;
  for (int round = 0; round < 300; ++round) {
    const bool gzip = round % 2 == 1;
    const std::string ext = gzip ? ".gz" : "";
    const bool corrupt_images = rng.Below(2) == 0;
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    Write(dir_ + "/train-images-idx3-ubyte" + ext, corrupt_images ? Corrupt(images, rng) : images, gzip);
    Write(dir_ + "/train-labels-idx1-ubyte" + ext, corrupt_images ? label_file : Corrupt(label_file, rng), gzip);
    v1::DatasetSpec spec;
    spec.set_kind(v1::DATASET_KIND_IDX);
    spec.set_path(dir_);
    spec.set_test_fraction(0.25);
    spec.set_scaling(v1::SCALING_STANDARDIZE);
    const auto loaded = LoadDataset(spec);
    if (loaded.ok()) {
      EXPECT_EQ((*loaded)->train_x.cols(), long((*loaded)->train_y.size()));
      for (int32_t y : (*loaded)->train_y) EXPECT_LT(y, (*loaded)->classes);
    } else {
      ++failures;
      EXPECT_NE(loaded.status().message().find(dir_), std::string::npos) << loaded.status();
    }
  }
  EXPECT_GT(failures, 100);  // most corruptions must be noticed
}

TEST_F(CorruptInput, CsvFilesLoadOrFailCleanly) {
  std::string csv = "x,y,label\n";
  for (int i = 0; i < 40; ++i) csv += std::to_string(i * 0.5) + "," + std::to_string(i % 7) + "," + (i % 2 ? "a" : "b") + "\n";
  Rng rng(7);
  for (int round = 0; round < 300; ++round) {
    const std::string path = dir_ + "/data.csv";
    Write(path, Corrupt(csv, rng), false);
    v1::DatasetSpec spec;
    spec.set_kind(v1::DATASET_KIND_CSV);
    spec.set_path(path);
    spec.set_test_fraction(0.25);
    spec.set_scaling(v1::SCALING_STANDARDIZE);
    const auto loaded = LoadDataset(spec);
    if (loaded.ok()) {
      EXPECT_EQ((*loaded)->train_x.cols(), long((*loaded)->train_y.size()));
      EXPECT_GE((*loaded)->classes, 2);
    } else {
      EXPECT_NE(loaded.status().message().find("data.csv"), std::string::npos) << loaded.status();
    }
  }
}

}  // namespace
}  // namespace actgrid::engine

namespace actgrid::engine {
namespace {

// Runs `fn` in a child process whose address space may grow by at most `headroom`
// bytes; returns the child's exit code (or 128 + signal).
int InBoundedChild(size_t headroom, const std::function<int()>& fn) {
  const pid_t pid = fork();
  if (pid == 0) {
    size_t pages = 0;
    std::ifstream("/proc/self/statm") >> pages;
    rlimit limit;
    limit.rlim_cur = limit.rlim_max = pages * size_t(sysconf(_SC_PAGESIZE)) + headroom;
    setrlimit(RLIMIT_AS, &limit);
    _exit(fn());
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Found by tests/fuzz/idx_fuzz: a 40-byte file whose header claims a 2 GB payload
// made the reader allocate all of it before finding the file truncated.
TEST_F(CorruptInput, AHeaderClaimingMoreThanTheFileHoldsAllocatesNoMoreThanItReads) {
  const std::string fuzzed =
      std::string(ACTGRID_SOURCE_DIR) + "/tests/fuzz/regressions/idx/oom-42c557f8e7f6cf58872b5ab885489f50cf943895";
  const std::string claims = dir_ + "/claims-2g.idx";
  Write(claims, Idx({2000, 1000, 1000}, "only a few bytes"), false);
  for (const std::string& path : {fuzzed, claims}) {
    const int code = InBoundedChild(size_t{512} << 20, [&] {
      auto array = ReadIdx(path);
      return absl::IsDataLoss(array.status()) ? 0 : 1;
    });
    EXPECT_EQ(code, 0) << path;
  }
}

}  // namespace
}  // namespace actgrid::engine
