// Tests of the datasets: playground generators, split and scaling, IDX files
// (plain and gzip, well-formed and corrupt), CSV files, Fashion-MNIST and the cache.
#include "worker/engine/dataset.h"

#include <unistd.h>
#include <zlib.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace actgrid::engine {
namespace {

namespace fs = std::filesystem;

// ---------------------------------------------------------------- helpers

v1::DatasetSpec Synthetic(v1::DatasetKind kind, int samples = 1000, double noise = 0.0,
                          uint64_t seed = 42) {
  v1::DatasetSpec spec;
  spec.set_kind(kind);
  spec.set_samples(samples);
  spec.set_noise(noise);
  spec.set_test_fraction(0.5);
  spec.set_seed(seed);
  spec.set_scaling(v1::SCALING_STANDARDIZE);
  return spec;
}

std::shared_ptr<const Dataset> MustLoad(const v1::DatasetSpec& spec) {
  absl::StatusOr<std::shared_ptr<const Dataset>> d = LoadDataset(spec);
  EXPECT_TRUE(d.ok()) << d.status();
  return d.ok() ? *d : nullptr;
}

// Success when the status message contains `text`; the message is printed otherwise.
::testing::AssertionResult Mentions(const absl::Status& status, const std::string& text) {
  if (std::string(status.message()).find(text) != std::string::npos)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << status.message() << "\" lacks \"" << text << "\"";
}

int CountOnes(const std::vector<int32_t>& labels) {
  int n = 0;
  for (int32_t l : labels) n += l == 1;
  return n;
}

// A fresh directory per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = (fs::path(::testing::TempDir()) /
             (std::string("actgrid_dataset_") + info->test_suite_name() + "_" + info->name() + "_" +
              std::to_string(getpid())))
                .string();
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string File(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string IdxBytes(uint8_t type, const std::vector<uint32_t>& dims,
                     const std::vector<uint8_t>& payload) {
  std::string out = {0, 0, static_cast<char>(type), static_cast<char>(dims.size())};
  for (uint32_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((d >> shift) & 0xff);
  out.append(payload.begin(), payload.end());
  return out;
}

void WritePlain(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

void WriteGzip(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())),
            static_cast<int>(bytes.size()));
  ASSERT_EQ(gzclose(f), Z_OK);
}

// n images of rows x cols whose pixels all equal 10 * label + 1, labels i % classes;
// the pixel value lets a test check that images and labels stay paired.
struct IdxPair {
  std::string images, labels;
};
IdxPair MakeIdx(uint32_t n, uint32_t rows, uint32_t cols, int classes) {
  std::vector<uint8_t> pixels, labels;
  for (uint32_t i = 0; i < n; ++i) {
    const auto label = static_cast<uint8_t>(i % classes);
    labels.push_back(label);
    pixels.insert(pixels.end(), rows * cols, static_cast<uint8_t>(10 * label + 1));
  }
  return {IdxBytes(0x08, {n, rows, cols}, pixels), IdxBytes(0x08, {n}, labels)};
}

void WriteSet(const TempDir& dir, const std::string& prefix, const IdxPair& set, bool gzip) {
  const std::string ext = gzip ? ".gz" : "";
  auto write = gzip ? WriteGzip : WritePlain;
  write(dir.File(prefix + "-images-idx3-ubyte" + ext), set.images);
  write(dir.File(prefix + "-labels-idx1-ubyte" + ext), set.labels);
}

v1::DatasetSpec IdxSpec(const std::string& dir) {
  v1::DatasetSpec spec;
  spec.set_kind(v1::DATASET_KIND_IDX);
  spec.set_path(dir);
  spec.set_test_fraction(0.25);
  spec.set_seed(3);
  spec.set_scaling(v1::SCALING_NONE);
  return spec;
}

void ExpectPaired(const Eigen::MatrixXf& x, const std::vector<int32_t>& y) {
  ASSERT_EQ(static_cast<size_t>(x.cols()), y.size());
  for (Eigen::Index j = 0; j < x.cols(); ++j) {
    EXPECT_EQ(x.col(j).minCoeff(), 10.0f * y[j] + 1) << "sample " << j;
    EXPECT_EQ(x.col(j).maxCoeff(), 10.0f * y[j] + 1) << "sample " << j;
  }
}

std::string WriteCsv(const TempDir& dir, const std::string& text) {
  const std::string path = dir.File("data.csv");
  WritePlain(path, text);
  return path;
}

v1::DatasetSpec CsvSpec(const std::string& path, const std::string& label_column = "") {
  v1::DatasetSpec spec;
  spec.set_kind(v1::DATASET_KIND_CSV);
  spec.set_path(path);
  spec.set_label_column(label_column);
  spec.set_test_fraction(0.25);
  spec.set_seed(9);
  spec.set_scaling(v1::SCALING_NONE);
  return spec;
}

// ---------------------------------------------------------------- playground

TEST(Playground, CircleWithoutNoiseSeparatesAtHalfRadius) {
  const Points p = GenerateCircle(1000, 0.0, 7);
  ASSERT_EQ(p.x.size(), 1000u);
  ASSERT_EQ(p.label.size(), 1000u);
  EXPECT_EQ(CountOnes(p.label), 500);
  for (size_t i = 0; i < p.x.size(); ++i) {
    const double r = std::hypot(p.x[i], p.y[i]);
    if (p.label[i] == 1) {
      EXPECT_LT(r, 2.5) << i;
    } else {
      EXPECT_GE(r, 3.5) << i;
      EXPECT_LE(r, 5.0) << i;
    }
  }
}

TEST(Playground, CircleNoiseFlipsLabelsButNotPoints) {
  const Points p = GenerateCircle(2000, 0.5, 7);
  int flipped = 0;
  for (size_t i = 0; i < p.x.size(); ++i) {
    const double r = std::hypot(p.x[i], p.y[i]);
    EXPECT_TRUE(r < 2.5 || (r >= 3.5 && r <= 5.0)) << "stored points carry no noise";
    flipped += (r < 2.5) != (p.label[i] == 1);
  }
  EXPECT_GT(flipped, 50);
}

TEST(Playground, XorLabelsFollowQuadrants) {
  const Points p = GenerateXor(1000, 0.0, 11);
  ASSERT_EQ(p.x.size(), 1000u);
  for (size_t i = 0; i < p.x.size(); ++i) {
    EXPECT_GE(std::abs(p.x[i]), 0.3);
    EXPECT_GE(std::abs(p.y[i]), 0.3);
    EXPECT_LE(std::abs(p.x[i]), 5.3);
    EXPECT_EQ(p.label[i], p.x[i] * p.y[i] >= 0 ? 1 : 0);
  }
  EXPECT_NEAR(CountOnes(p.label), 500, 80);
}

TEST(Playground, GaussCentresAndBalance) {
  const Points p = GenerateGauss(2000, 0.0, 5);
  ASSERT_EQ(p.x.size(), 2000u);
  EXPECT_EQ(CountOnes(p.label), 1000);
  double sx[2] = {0, 0}, sy[2] = {0, 0};
  for (size_t i = 0; i < p.x.size(); ++i) {
    sx[p.label[i]] += p.x[i];
    sy[p.label[i]] += p.y[i];
  }
  EXPECT_NEAR(sx[1] / 1000, 2.0, 0.15);
  EXPECT_NEAR(sy[1] / 1000, 2.0, 0.15);
  EXPECT_NEAR(sx[0] / 1000, -2.0, 0.15);
  EXPECT_NEAR(sy[0] / 1000, -2.0, 0.15);
}

TEST(Playground, SpiralArmsAreOppositeWithoutNoise) {
  const Points p = GenerateSpiral(1000, 0.0, 5);
  ASSERT_EQ(p.x.size(), 1000u);
  EXPECT_EQ(CountOnes(p.label), 500);
  // Point i of the second arm is point i of the first rotated by pi.
  for (size_t i = 0; i < 500; ++i) {
    EXPECT_NEAR(p.x[i], -p.x[500 + i], 1e-9);
    EXPECT_NEAR(p.y[i], -p.y[500 + i], 1e-9);
    EXPECT_NEAR(std::hypot(p.x[i], p.y[i]), i / 500.0 * 5.0, 1e-9);
  }
}

TEST(Playground, OddCountsGiveExactlyThatManyPoints) {
  for (auto gen : {GenerateCircle, GenerateXor, GenerateGauss, GenerateSpiral}) {
    const Points p = gen(101, 0.1, 1);
    EXPECT_EQ(p.x.size(), 101u);
    EXPECT_EQ(p.y.size(), 101u);
    EXPECT_EQ(p.label.size(), 101u);
  }
}

TEST(Playground, SeedChangesPoints) {
  EXPECT_EQ(GenerateCircle(100, 0.1, 1).x, GenerateCircle(100, 0.1, 1).x);
  EXPECT_NE(GenerateCircle(100, 0.1, 1).x, GenerateCircle(100, 0.1, 2).x);
}

// ---------------------------------------------------------------- LoadDataset

TEST(Dataset, SyntheticShapesAndBalance) {
  for (v1::DatasetKind kind : {v1::DATASET_KIND_CIRCLE, v1::DATASET_KIND_XOR,
                               v1::DATASET_KIND_GAUSS, v1::DATASET_KIND_SPIRAL}) {
    v1::DatasetSpec spec = Synthetic(kind, 400);
    spec.set_test_fraction(0.3);
    auto d = MustLoad(spec);
    ASSERT_NE(d, nullptr);
    EXPECT_EQ(d->features, 2);
    EXPECT_EQ(d->classes, 2);
    EXPECT_EQ(d->train_x.rows(), 2);
    EXPECT_EQ(d->test_x.rows(), 2);
    EXPECT_EQ(d->train_x.cols(), 280);
    EXPECT_EQ(d->test_x.cols(), 120);
    EXPECT_EQ(d->train_y.size(), 280u);
    EXPECT_EQ(d->test_y.size(), 120u);
    const int ones = CountOnes(d->train_y) + CountOnes(d->test_y);
    EXPECT_NEAR(ones, 200, kind == v1::DATASET_KIND_XOR ? 50 : 0) << d->description;
  }
}

TEST(Dataset, Description) {
  auto d = MustLoad(Synthetic(v1::DATASET_KIND_CIRCLE, 1000));
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->description, "circle: 500 train / 500 test, 2 features, 2 classes");
}

TEST(Dataset, TrainingSplitIsShuffled) {
  auto d = MustLoad(Synthetic(v1::DATASET_KIND_CIRCLE, 1000));
  ASSERT_NE(d, nullptr);
  const std::vector<int32_t> head(d->train_y.begin(), d->train_y.begin() + 100);
  EXPECT_NEAR(CountOnes(head), 50, 20);
}

TEST(Dataset, SameSpecSameData) {
  const v1::DatasetSpec spec = Synthetic(v1::DATASET_KIND_SPIRAL, 300, 0.2, 17);
  auto a = MustLoad(spec), b = MustLoad(spec);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(a->train_x, b->train_x);
  EXPECT_EQ(a->test_x, b->test_x);
  EXPECT_EQ(a->train_y, b->train_y);
  EXPECT_EQ(a->test_y, b->test_y);
  auto c = MustLoad(Synthetic(v1::DATASET_KIND_SPIRAL, 300, 0.2, 18));
  ASSERT_NE(c, nullptr);
  EXPECT_NE(a->train_x, c->train_x);
}

TEST(Dataset, StandardizeFitsTrainingSplit) {
  auto d = MustLoad(Synthetic(v1::DATASET_KIND_GAUSS, 1000, 0.3));
  ASSERT_NE(d, nullptr);
  const Eigen::MatrixXd x = d->train_x.cast<double>();
  for (Eigen::Index f = 0; f < 2; ++f) {
    const double mean = x.row(f).mean();
    const double var = (x.row(f).array() - mean).square().mean();
    EXPECT_NEAR(mean, 0.0, 1e-5);
    EXPECT_NEAR(std::sqrt(var), 1.0, 1e-5);
  }
  // The test split uses the training statistics, so it is only roughly standard.
  EXPECT_NEAR(d->test_x.row(0).mean(), 0.0, 0.2);
  EXPECT_GT(std::abs(d->test_x.row(0).mean()), 0.0);
}

TEST(Dataset, UnspecifiedScalingStandardizes) {
  v1::DatasetSpec spec = Synthetic(v1::DATASET_KIND_XOR);
  auto standardized = MustLoad(spec);
  spec.set_scaling(v1::SCALING_UNSPECIFIED);
  auto unspecified = MustLoad(spec);
  ASSERT_NE(standardized, nullptr);
  ASSERT_NE(unspecified, nullptr);
  EXPECT_EQ(standardized->train_x, unspecified->train_x);
}

TEST(Dataset, MinMaxFitsTrainingSplit) {
  v1::DatasetSpec spec = Synthetic(v1::DATASET_KIND_XOR, 1000, 0.1);
  spec.set_scaling(v1::SCALING_MINMAX);
  auto d = MustLoad(spec);
  ASSERT_NE(d, nullptr);
  for (Eigen::Index f = 0; f < 2; ++f) {
    EXPECT_FLOAT_EQ(d->train_x.row(f).minCoeff(), 0.0f);
    EXPECT_FLOAT_EQ(d->train_x.row(f).maxCoeff(), 1.0f);
  }
}

TEST(Dataset, NoScalingKeepsGeneratedPoints) {
  v1::DatasetSpec spec = Synthetic(v1::DATASET_KIND_CIRCLE, 200);
  spec.set_scaling(v1::SCALING_NONE);
  auto d = MustLoad(spec);
  ASSERT_NE(d, nullptr);
  for (Eigen::Index j = 0; j < d->train_x.cols(); ++j) {
    const float r = d->train_x.col(j).norm();
    EXPECT_EQ(r < 2.5f, d->train_y[j] == 1) << j;
  }
}

TEST(Dataset, ConstantFeatureIsOnlyCentred) {
  TempDir dir;
  const std::string path =
      WriteCsv(dir, "7,1,0\n7,2,1\n7,3,0\n7,4,1\n7,5,0\n7,6,1\n7,7,0\n7,8,1\n");
  for (v1::Scaling scaling : {v1::SCALING_STANDARDIZE, v1::SCALING_MINMAX}) {
    v1::DatasetSpec spec = CsvSpec(path);
    spec.set_scaling(scaling);
    auto d = MustLoad(spec);
    ASSERT_NE(d, nullptr);
    EXPECT_EQ(d->train_x.row(0).cwiseAbs().maxCoeff(), 0.0f);
    EXPECT_EQ(d->test_x.row(0).cwiseAbs().maxCoeff(), 0.0f);
    EXPECT_TRUE(d->train_x.allFinite());
  }
}

TEST(Dataset, LimitsKeepTheFirstSamples) {
  v1::DatasetSpec spec = Synthetic(v1::DATASET_KIND_CIRCLE, 1000);
  spec.set_scaling(v1::SCALING_NONE);
  auto all = MustLoad(spec);
  spec.set_train_limit(100);
  spec.set_test_limit(30);
  auto limited = MustLoad(spec);
  ASSERT_NE(all, nullptr);
  ASSERT_NE(limited, nullptr);
  EXPECT_EQ(limited->train_x.cols(), 100);
  EXPECT_EQ(limited->test_y.size(), 30u);
  EXPECT_EQ(limited->train_x, all->train_x.leftCols(100));
  EXPECT_EQ(limited->description, "circle: 100 train / 30 test, 2 features, 2 classes");
}

TEST(Dataset, RejectsBadSpecs) {
  auto expect_invalid = [](const v1::DatasetSpec& spec, const char* what) {
    absl::StatusOr<std::shared_ptr<const Dataset>> d = LoadDataset(spec);
    EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument) << what << ": " << d.status();
  };
  v1::DatasetSpec spec = Synthetic(v1::DATASET_KIND_CIRCLE);
  spec.set_kind(v1::DATASET_KIND_UNSPECIFIED);
  expect_invalid(spec, "unspecified kind");
  spec.set_kind(static_cast<v1::DatasetKind>(99));
  expect_invalid(spec, "unknown kind");
  spec = Synthetic(v1::DATASET_KIND_CIRCLE, 3);
  expect_invalid(spec, "samples < 4");
  for (double f : {0.0, 1.0, -0.1, std::nan("")}) {
    spec = Synthetic(v1::DATASET_KIND_XOR);
    spec.set_test_fraction(f);
    expect_invalid(spec, "test_fraction");
  }
  spec = Synthetic(v1::DATASET_KIND_GAUSS, 100, -0.1);
  expect_invalid(spec, "negative noise");
  spec = Synthetic(v1::DATASET_KIND_GAUSS);
  spec.set_train_limit(-1);
  expect_invalid(spec, "negative train_limit");
  spec = Synthetic(v1::DATASET_KIND_GAUSS);
  spec.set_test_limit(-1);
  expect_invalid(spec, "negative test_limit");
  spec = IdxSpec("");
  expect_invalid(spec, "idx without path");
}

TEST(Dataset, TinySplitKeepsBothSides) {
  v1::DatasetSpec spec = Synthetic(v1::DATASET_KIND_CIRCLE, 4);
  spec.set_test_fraction(0.01);
  auto d = MustLoad(spec);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->train_x.cols(), 3);
  EXPECT_EQ(d->test_x.cols(), 1);
}

TEST(Dataset, CacheReturnsTheSameCopy) {
  DatasetCache cache;
  const v1::DatasetSpec spec = Synthetic(v1::DATASET_KIND_CIRCLE, 200);
  absl::StatusOr<std::shared_ptr<const Dataset>> a = cache.Get(spec);
  absl::StatusOr<std::shared_ptr<const Dataset>> b = cache.Get(spec);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(a->get(), b->get());
  absl::StatusOr<std::shared_ptr<const Dataset>> c =
      cache.Get(Synthetic(v1::DATASET_KIND_CIRCLE, 200, 0.0, 43));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_NE(a->get(), c->get());
  EXPECT_FALSE(cache.Get(Synthetic(v1::DATASET_KIND_CIRCLE, 2)).ok());
}

TEST(Dataset, FashionMnist) {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!fs::is_directory(dir)) GTEST_SKIP() << dir << " is absent";
  v1::DatasetSpec spec;
  spec.set_kind(v1::DATASET_KIND_FASHION_MNIST);
  spec.set_seed(1);
  spec.set_train_limit(2000);
  spec.set_test_limit(500);
  spec.set_scaling(v1::SCALING_MINMAX);
  auto d = MustLoad(spec);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->features, 784);
  EXPECT_EQ(d->classes, 10);
  EXPECT_EQ(d->train_x.rows(), 784);
  EXPECT_EQ(d->train_x.cols(), 2000);
  EXPECT_EQ(d->test_x.cols(), 500);
  EXPECT_EQ(d->train_y.size(), 2000u);
  EXPECT_EQ(d->test_y.size(), 500u);
  EXPECT_EQ(d->description, "fashion_mnist: 2000 train / 500 test, 784 features, 10 classes");
  std::vector<int> per_class(10, 0);
  for (int32_t y : d->train_y) {
    ASSERT_GE(y, 0);
    ASSERT_LT(y, 10);
    ++per_class[y];
  }
  for (int count : per_class) EXPECT_GT(count, 100) << "the shuffle should mix the classes";
  EXPECT_GE(d->train_x.minCoeff(), 0.0f);
  EXPECT_LE(d->train_x.maxCoeff(), 1.0f);
}

// ---------------------------------------------------------------- IDX

TEST(Idx, ReadsPlainAndGzip) {
  TempDir dir;
  const std::string bytes = IdxBytes(0x08, {2, 3}, {1, 2, 3, 4, 5, 255});
  WritePlain(dir.File("plain"), bytes);
  WriteGzip(dir.File("packed.gz"), bytes);
  for (const char* name : {"plain", "packed.gz"}) {
    absl::StatusOr<IdxArray> a = ReadIdx(dir.File(name));
    ASSERT_TRUE(a.ok()) << a.status();
    EXPECT_EQ(a->dims, (std::vector<int32_t>{2, 3}));
    EXPECT_EQ(a->data, (std::vector<uint8_t>{1, 2, 3, 4, 5, 255}));
  }
}

TEST(Idx, LoadsTrainAndTestFiles) {
  TempDir dir;
  WriteSet(dir, "train", MakeIdx(40, 3, 2, 4), true);
  WriteSet(dir, "t10k", MakeIdx(12, 3, 2, 4), false);
  auto d = MustLoad(IdxSpec(dir.path()));
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->features, 6);
  EXPECT_EQ(d->classes, 4);
  EXPECT_EQ(d->train_x.rows(), 6);
  EXPECT_EQ(d->train_x.cols(), 40);
  EXPECT_EQ(d->test_x.cols(), 12);
  ExpectPaired(d->train_x, d->train_y);
  ExpectPaired(d->test_x, d->test_y);
  EXPECT_NE(d->train_y[0] * 1000 + d->train_y[1] * 100 + d->train_y[2] * 10 + d->train_y[3], 123)
      << "training split should be shuffled";
}

TEST(Idx, LimitsAndSeedStreams) {
  TempDir dir;
  WriteSet(dir, "train", MakeIdx(40, 2, 2, 3), false);
  WriteSet(dir, "t10k", MakeIdx(40, 2, 2, 3), false);
  v1::DatasetSpec spec = IdxSpec(dir.path());
  auto all = MustLoad(spec);
  spec.set_train_limit(10);
  spec.set_test_limit(5);
  auto limited = MustLoad(spec);
  ASSERT_NE(all, nullptr);
  ASSERT_NE(limited, nullptr);
  EXPECT_EQ(limited->train_y,
            std::vector<int32_t>(all->train_y.begin(), all->train_y.begin() + 10));
  EXPECT_EQ(limited->test_y, std::vector<int32_t>(all->test_y.begin(), all->test_y.begin() + 5));
  EXPECT_NE(all->train_y, all->test_y) << "train and test use different shuffle streams";
}

TEST(Idx, SplitsTrainFilesWithoutTestFiles) {
  TempDir dir;
  WriteSet(dir, "train", MakeIdx(40, 2, 2, 2), true);
  auto d = MustLoad(IdxSpec(dir.path()));
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->train_x.cols(), 30);
  EXPECT_EQ(d->test_x.cols(), 10);
  ExpectPaired(d->train_x, d->train_y);
  ExpectPaired(d->test_x, d->test_y);
}

TEST(Idx, FashionKindNeedsTestFiles) {
  TempDir dir;
  WriteSet(dir, "train", MakeIdx(10, 2, 2, 2), false);
  v1::DatasetSpec spec = IdxSpec(dir.path());
  spec.set_kind(v1::DATASET_KIND_FASHION_MNIST);
  absl::StatusOr<std::shared_ptr<const Dataset>> d = LoadDataset(spec);
  EXPECT_EQ(d.status().code(), absl::StatusCode::kNotFound) << d.status();
  EXPECT_TRUE(Mentions(d.status(), "t10k-images-idx3-ubyte"));
}

TEST(Idx, TruncatedPayloadIsDataLoss) {
  TempDir dir;
  std::string bytes = IdxBytes(0x08, {10, 4}, std::vector<uint8_t>(40, 7));
  bytes.resize(bytes.size() - 5);
  WritePlain(dir.File("plain"), bytes);
  WriteGzip(dir.File("packed.gz"), bytes);
  for (const char* name : {"plain", "packed.gz"}) {
    absl::StatusOr<IdxArray> a = ReadIdx(dir.File(name));
    EXPECT_EQ(a.status().code(), absl::StatusCode::kDataLoss) << a.status();
    EXPECT_TRUE(Mentions(a.status(), name));
  }
}

TEST(Idx, TruncatedGzipStreamIsDataLoss) {
  TempDir dir;
  std::vector<uint8_t> payload(5000);
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<uint8_t>(i * 7919 >> 3);
  WriteGzip(dir.File("a.gz"), IdxBytes(0x08, {5000}, payload));
  const auto size = fs::file_size(dir.File("a.gz"));
  fs::resize_file(dir.File("a.gz"), size / 2);
  absl::StatusOr<IdxArray> a = ReadIdx(dir.File("a.gz"));
  EXPECT_EQ(a.status().code(), absl::StatusCode::kDataLoss) << a.status();
}

TEST(Idx, CorruptGzipIsDataLoss) {
  TempDir dir;
  WriteGzip(dir.File("a.gz"), IdxBytes(0x08, {3000}, std::vector<uint8_t>(3000, 1)));
  std::fstream f(dir.File("a.gz"), std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(-8, std::ios::end);  // the CRC-32 of the gzip trailer
  f.write("\x55\x55\x55\x55", 4);
  f.close();
  absl::StatusOr<IdxArray> a = ReadIdx(dir.File("a.gz"));
  EXPECT_EQ(a.status().code(), absl::StatusCode::kDataLoss) << a.status();
  EXPECT_TRUE(Mentions(a.status(), "gzip error"));

  WritePlain(dir.File("not-gzip.gz"), std::string("\x1f\x8b\x08\x00garbage-garbage-garbage", 27));
  EXPECT_EQ(ReadIdx(dir.File("not-gzip.gz")).status().code(), absl::StatusCode::kDataLoss);
}

TEST(Idx, PayloadLongerThanDimsIsDataLoss) {
  TempDir dir;
  WritePlain(dir.File("long"), IdxBytes(0x08, {3}, {1, 2, 3, 4}));
  EXPECT_EQ(ReadIdx(dir.File("long")).status().code(), absl::StatusCode::kDataLoss);
}

TEST(Idx, BadMagicIsDataLoss) {
  TempDir dir;
  std::string bytes = IdxBytes(0x08, {2}, {1, 2});
  bytes[0] = 0x1f;
  WritePlain(dir.File("bad"), bytes);
  absl::StatusOr<IdxArray> a = ReadIdx(dir.File("bad"));
  EXPECT_EQ(a.status().code(), absl::StatusCode::kDataLoss) << a.status();
  EXPECT_TRUE(Mentions(a.status(), "magic"));
  EXPECT_TRUE(Mentions(a.status(), dir.File("bad")));
}

TEST(Idx, UnsupportedTypeIsDataLoss) {
  TempDir dir;
  WritePlain(dir.File("floats"), IdxBytes(0x0D, {1}, {0, 0, 128, 63}));
  absl::StatusOr<IdxArray> a = ReadIdx(dir.File("floats"));
  EXPECT_EQ(a.status().code(), absl::StatusCode::kDataLoss) << a.status();
  EXPECT_TRUE(Mentions(a.status(), "unsupported IDX type"));
}

TEST(Idx, HugeDimensionsAreRejectedBeforeAllocating) {
  TempDir dir;
  WritePlain(dir.File("huge"), IdxBytes(0x08, {60000, 60000, 60000}, {1, 2, 3}));
  WritePlain(dir.File("negative"), IdxBytes(0x08, {0x80000000u}, {1}));
  for (const char* name : {"huge", "negative"}) {
    absl::StatusOr<IdxArray> a = ReadIdx(dir.File(name));
    EXPECT_EQ(a.status().code(), absl::StatusCode::kDataLoss) << a.status();
  }
}

TEST(Idx, MissingFileIsNotFound) {
  TempDir dir;
  absl::StatusOr<IdxArray> a = ReadIdx(dir.File("nothing-here"));
  EXPECT_EQ(a.status().code(), absl::StatusCode::kNotFound) << a.status();
  EXPECT_TRUE(Mentions(a.status(), "nothing-here"));

  WritePlain(dir.File("train-images-idx3-ubyte"), MakeIdx(4, 2, 2, 2).images);
  absl::StatusOr<std::shared_ptr<const Dataset>> d = LoadDataset(IdxSpec(dir.path()));
  EXPECT_EQ(d.status().code(), absl::StatusCode::kNotFound) << d.status();
  EXPECT_TRUE(Mentions(d.status(), "train-labels-idx1-ubyte"));

  d = LoadDataset(IdxSpec(dir.File("no-such-dir")));
  EXPECT_EQ(d.status().code(), absl::StatusCode::kNotFound) << d.status();
}

TEST(Idx, CountMismatchIsDataLoss) {
  TempDir dir;
  const IdxPair a = MakeIdx(10, 2, 2, 2), b = MakeIdx(9, 2, 2, 2);
  WritePlain(dir.File("train-images-idx3-ubyte"), a.images);
  WritePlain(dir.File("train-labels-idx1-ubyte"), b.labels);
  absl::StatusOr<std::shared_ptr<const Dataset>> d = LoadDataset(IdxSpec(dir.path()));
  EXPECT_EQ(d.status().code(), absl::StatusCode::kDataLoss) << d.status();
  EXPECT_TRUE(Mentions(d.status(), "10 images but 9 labels"));
}

TEST(Idx, TrainAndTestFeatureMismatchIsDataLoss) {
  TempDir dir;
  WriteSet(dir, "train", MakeIdx(10, 2, 2, 2), false);
  WriteSet(dir, "t10k", MakeIdx(10, 3, 2, 2), false);
  absl::StatusOr<std::shared_ptr<const Dataset>> d = LoadDataset(IdxSpec(dir.path()));
  EXPECT_EQ(d.status().code(), absl::StatusCode::kDataLoss) << d.status();
}

TEST(Idx, SingleClassIsDataLoss) {
  TempDir dir;
  WriteSet(dir, "train", MakeIdx(10, 2, 2, 1), false);
  absl::StatusOr<std::shared_ptr<const Dataset>> d = LoadDataset(IdxSpec(dir.path()));
  EXPECT_EQ(d.status().code(), absl::StatusCode::kDataLoss) << d.status();
}

// ---------------------------------------------------------------- CSV

TEST(Csv, HeaderWithLabelByName) {
  TempDir dir;
  std::string text = "width,kind,height\n";
  for (int i = 0; i < 20; ++i)
    text += std::to_string(i) + "," + std::to_string(i % 3) + "," + std::to_string(2 * i) + "\n";
  auto d = MustLoad(CsvSpec(WriteCsv(dir, text), "kind"));
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->features, 2);
  EXPECT_EQ(d->classes, 3);
  EXPECT_EQ(d->train_x.cols(), 15);
  EXPECT_EQ(d->test_x.cols(), 5);
  for (Eigen::Index j = 0; j < d->train_x.cols(); ++j) {
    const int i = static_cast<int>(d->train_x(0, j));
    EXPECT_EQ(d->train_x(1, j), 2.0f * i);
    EXPECT_EQ(d->train_y[j], i % 3);
  }
  EXPECT_EQ(d->description, "csv: 15 train / 5 test, 2 features, 3 classes");
}

TEST(Csv, LabelByIndexWithoutHeader) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 12; ++i)
    text += std::to_string(i % 2 ? 4 : 1) + "," + std::to_string(i) + ".5\n";
  auto d = MustLoad(CsvSpec(WriteCsv(dir, text), "0"));
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->features, 1);
  EXPECT_EQ(d->classes, 5) << "integer labels are class numbers: max + 1";
  EXPECT_EQ(d->train_x.cols() + d->test_x.cols(), 12) << "no row taken as a header";
}

TEST(Csv, StringLabelsAreSorted) {
  TempDir dir;
  const std::string text =
      "a,b,species\n"
      "1,0,virginica\n2,0,setosa\n3,0,versicolor\n4,0,setosa\n5,0,virginica\n6,0,versicolor\n";
  auto d = MustLoad(CsvSpec(WriteCsv(dir, text)));
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->classes, 3);
  const std::map<int, int32_t> expected = {{1, 2}, {2, 0}, {3, 1}, {4, 0}, {5, 2}, {6, 1}};
  for (Eigen::Index j = 0; j < d->train_x.cols(); ++j)
    EXPECT_EQ(d->train_y[j], expected.at(static_cast<int>(d->train_x(0, j))));
  for (Eigen::Index j = 0; j < d->test_x.cols(); ++j)
    EXPECT_EQ(d->test_y[j], expected.at(static_cast<int>(d->test_x(0, j))));
}

TEST(Csv, StringLabelsWithoutHeaderKeepFirstRow) {
  TempDir dir;
  const std::string text = "1.5,yes\n2.5,no\n3.5,yes\n4.5,no\r\n\n\n";
  auto d = MustLoad(CsvSpec(WriteCsv(dir, text)));
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->train_y.size() + d->test_y.size(), 4u);
  EXPECT_EQ(d->classes, 2);
}

TEST(Csv, RaggedRowIsDataLossWithLine) {
  TempDir dir;
  const std::string path = WriteCsv(dir, "x,y,label\n1,2,0\n3,4,1\n5,1\n7,8,1\n");
  absl::StatusOr<std::shared_ptr<const Dataset>> d = LoadDataset(CsvSpec(path));
  EXPECT_EQ(d.status().code(), absl::StatusCode::kDataLoss) << d.status();
  EXPECT_TRUE(Mentions(d.status(), path + ":4:"));
}

TEST(Csv, NonNumericValueIsDataLoss) {
  TempDir dir;
  const std::string path = WriteCsv(dir, "x,y,label\n1,2,0\n3,4,1\n5,abc,1\n7,8,1\n");
  absl::StatusOr<std::shared_ptr<const Dataset>> d = LoadDataset(CsvSpec(path));
  EXPECT_EQ(d.status().code(), absl::StatusCode::kDataLoss) << d.status();
  EXPECT_TRUE(Mentions(d.status(), path + ":4: column 2 (\"y\")"));
  EXPECT_TRUE(Mentions(d.status(), "abc"));
}

TEST(Csv, EmptyFieldIsDataLoss) {
  TempDir dir;
  const std::string path = WriteCsv(dir, "1,2,0\n3,,1\n5,6,1\n");
  absl::StatusOr<std::shared_ptr<const Dataset>> d = LoadDataset(CsvSpec(path));
  EXPECT_EQ(d.status().code(), absl::StatusCode::kDataLoss) << d.status();
  EXPECT_TRUE(Mentions(d.status(), ":2: column 2"));
}

TEST(Csv, BadFilesAndColumns) {
  TempDir dir;
  v1::DatasetSpec spec = CsvSpec(dir.File("absent.csv"));
  EXPECT_EQ(LoadDataset(spec).status().code(), absl::StatusCode::kNotFound);
  const std::string path = WriteCsv(dir, "a,b\n1,0\n2,1\n3,0\n");
  EXPECT_EQ(LoadDataset(CsvSpec(path, "nope")).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LoadDataset(CsvSpec(path, "2")).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LoadDataset(CsvSpec(WriteCsv(dir, "a,b\n1,0\n"))).status().code(),
            absl::StatusCode::kDataLoss)
      << "one data row";
  EXPECT_EQ(LoadDataset(CsvSpec(WriteCsv(dir, "1\n2\n3\n"))).status().code(),
            absl::StatusCode::kDataLoss)
      << "no feature column";
  EXPECT_EQ(LoadDataset(CsvSpec(WriteCsv(dir, "1,0\n2,0\n3,0\n"))).status().code(),
            absl::StatusCode::kDataLoss)
      << "a single class";
}

// ---------------------------------------------------------------- confinement

TEST(DataPath, OnlyFilesInsideTheDataDirectoriesMayBeRead) {
  TempDir dir;
  fs::create_directories(dir.File("data/sets"));
  fs::create_directories(dir.File("secret"));
  std::ofstream(dir.File("data/sets/a.csv")) << "1,0\n";
  std::ofstream(dir.File("secret/b.csv")) << "1,0\n";
  fs::create_symlink(dir.File("secret/b.csv"), dir.File("data/link.csv"));
  const std::vector<std::string> roots = {dir.File("data")};
  EXPECT_TRUE(CheckDataPath(dir.File("data/sets/a.csv"), roots).ok());
  EXPECT_TRUE(CheckDataPath(dir.File("data/sets"), roots).ok());
  EXPECT_TRUE(CheckDataPath(dir.File("data/sets/a.csv"), {}).ok());  // unconfined
  // "..", a symlink out, and a sibling whose name starts like the root are all outside.
  const absl::Status up = CheckDataPath(dir.File("data/sets/../../secret/b.csv"), roots);
  ASSERT_TRUE(absl::IsInvalidArgument(up)) << up;
  EXPECT_NE(up.message().find("outside the data directories"), std::string::npos) << up;
  EXPECT_TRUE(absl::IsInvalidArgument(CheckDataPath(dir.File("data/link.csv"), roots)));
  fs::create_directories(dir.File("data-evil"));
  std::ofstream(dir.File("data-evil/c.csv")) << "1,0\n";
  EXPECT_TRUE(absl::IsInvalidArgument(CheckDataPath(dir.File("data-evil/c.csv"), roots)));
  EXPECT_TRUE(absl::IsInvalidArgument(CheckDataPath("/etc/passwd", roots)));
  EXPECT_TRUE(absl::IsNotFound(CheckDataPath(dir.File("data/absent.csv"), roots)));
}

// ---------------------------------------------------------------- digests

TEST(DatasetDigest, FollowsTheContentOfTheFilesAndNothingElse) {
  TempDir dir;
  const std::string csv = "x,label\n1,0\n2,1\n3,0\n4,1\n5,0\n6,1\n7,0\n8,1\n";
  const v1::DatasetSpec spec = CsvSpec(WriteCsv(dir, csv));
  auto a = DatasetDigest(spec);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_EQ(a->size(), 64u);
  v1::DatasetSpec other_split = spec;
  other_split.set_test_fraction(0.5);  // the spec's own fields are in the key already
  EXPECT_EQ(*DatasetDigest(other_split), *a);
  WriteCsv(dir, csv + "9,0\n");
  EXPECT_NE(*DatasetDigest(spec), *a);
  v1::DatasetSpec circle;
  circle.set_kind(v1::DATASET_KIND_CIRCLE);
  EXPECT_EQ(*DatasetDigest(circle), "");
  EXPECT_TRUE(absl::IsNotFound(DatasetDigest(CsvSpec(dir.File("missing.csv"))).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(DatasetDigest(CsvSpec(dir.path())).status()));  // a directory

  WriteSet(dir, "train", MakeIdx(20, 2, 2, 2), /*gzip=*/true);
  const v1::DatasetSpec idx = IdxSpec(dir.path());
  auto gz = DatasetDigest(idx);
  ASSERT_TRUE(gz.ok()) << gz.status();
  WriteSet(dir, "t10k", MakeIdx(8, 2, 2, 2), true);  // a test split appears: other data
  EXPECT_NE(*DatasetDigest(idx), *gz);
}

TEST(DatasetDigest, LoadingRefusesFilesThatAreNotTheGrids) {
  TempDir dir;
  const std::string csv = "x,label\n1,0\n2,1\n3,0\n4,1\n5,0\n6,1\n7,0\n8,1\n";
  v1::DatasetSpec spec = CsvSpec(WriteCsv(dir, csv));
  spec.set_digest(*DatasetDigest(spec));
  EXPECT_TRUE(LoadDataset(spec).ok());
  WriteCsv(dir, "x,label\n1,1\n2,1\n3,0\n4,1\n5,0\n6,1\n7,0\n8,1\n");  // one label changed
  auto refused = LoadDataset(spec);
  ASSERT_TRUE(absl::IsFailedPrecondition(refused.status())) << refused.status();
  EXPECT_NE(refused.status().message().find("not the ones the grid was expanded with"), std::string::npos)
      << refused.status();
}

}  // namespace
}  // namespace actgrid::engine
