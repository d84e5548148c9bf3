// Datasets a trial trains on: TF-Playground generators, IDX (Fashion-MNIST) and CSV
// loaders, the train/test split and feature scaling, and a cache shared by trials.
#ifndef ACTGRID_WORKER_ENGINE_DATASET_H_
#define ACTGRID_WORKER_ENGINE_DATASET_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "absl/status/statusor.h"
#include "actgrid/v1/spec.pb.h"

namespace actgrid::engine {

// Samples are columns: x is features x n. Labels are 0..classes-1.
// The training split is shuffled with the data seed, so its first samples
// form an unbiased probe set.
struct Dataset {
  int features = 0;
  int classes = 0;
  Eigen::MatrixXf train_x;
  std::vector<int32_t> train_y;
  Eigen::MatrixXf test_x;
  std::vector<int32_t> test_y;
  std::string description;  // e.g. "circle: 500 train / 500 test, 2 features, 2 classes"
};

// Raw 2-D points of a TF-Playground generator (before split and scaling);
// labels are 0/1 (the playground's -1 maps to 0).
struct Points {
  std::vector<double> x, y;
  std::vector<int32_t> label;
};
Points GenerateCircle(int samples, double noise, uint64_t seed);
Points GenerateXor(int samples, double noise, uint64_t seed);
Points GenerateGauss(int samples, double noise, uint64_t seed);
Points GenerateSpiral(int samples, double noise, uint64_t seed);

// An IDX file (big-endian magic 0x0000TTDD, dims, payload), gzip or plain.
struct IdxArray {
  std::vector<int32_t> dims;
  std::vector<uint8_t> data;  // unsigned byte payload (type 0x08)
};
absl::StatusOr<IdxArray> ReadIdx(const std::string& path);

// Loads the dataset a spec describes, split and scaled. InvalidArgument for a bad
// spec; FailedPrecondition for files whose content is not the one spec.digest names
// (when set: another worker may hold the right ones); NotFound for a missing file,
// DataLoss for a malformed or truncated file.
absl::StatusOr<std::shared_ptr<const Dataset>> LoadDataset(const v1::DatasetSpec& spec);

// The content digest of the files a dataset reads (lowercase hex SHA-256; see
// DatasetSpec.digest): for fashion_mnist and idx the IDX files the loader would open
// ({train,t10k}-{images-idx3,labels-idx1}-ubyte, .gz or not, those present), for csv the
// file; each file's name within the dataset, size and bytes, in a fixed order. Empty
// for the generated sets. NotFound for a missing file or directory, InvalidArgument
// for a path that is not a regular file.
absl::StatusOr<std::string> DatasetDigest(const v1::DatasetSpec& spec);

// Whether a dataset `path` may be read by a process confined to `roots` (directories):
// OK when its real path (symlinks and ".." resolved) lies inside the real path of one
// of them, or when `roots` is empty (unconfined). InvalidArgument naming the path and
// the roots otherwise; NotFound when the path does not exist.
absl::Status CheckDataPath(const std::string& path, const std::vector<std::string>& roots);

// Loads each distinct DatasetSpec once and hands the same copy to every trial.
// Thread-safe; errors are not cached.
class DatasetCache {
 public:
  absl::StatusOr<std::shared_ptr<const Dataset>> Get(const v1::DatasetSpec& spec);

 private:
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<const Dataset>> loaded_;  // GUARDED_BY(mu_)
};

// Building blocks of LoadDataset shared by dataset.cc, idx.cc and csv.cc; not for
// other callers.
namespace dataset_internal {

// A permutation of 0..n-1 drawn by Fisher-Yates with Rng(seed, stream).
std::vector<Eigen::Index> ShuffledOrder(Eigen::Index n, uint64_t seed, uint64_t stream);

// Columns order[begin, end) of x, in that order.
Eigen::MatrixXf GatherColumns(const Eigen::MatrixXf& x, const std::vector<Eigen::Index>& order,
                              Eigen::Index begin, Eigen::Index end);

// InvalidArgument unless spec.test_fraction() is in (0, 1).
absl::Status CheckTestFraction(const v1::DatasetSpec& spec);

// Shuffles the n >= 2 samples (columns of x) with Rng(seed, 2), then puts the last
// round(n * test_fraction) of them, clamped to [1, n - 1], into the test split and
// the rest, in shuffled order, into the training split. Sets only the four arrays.
void SplitShuffled(const Eigen::MatrixXf& x, const std::vector<int32_t>& y, double test_fraction,
                   uint64_t seed, Dataset* out);

// Fits `scaling` on the training split and applies it to both splits.
void ScaleFeatures(v1::Scaling scaling, Dataset* data);

// Where fashion_mnist reads from without a path: Debian's dataset-fashion-mnist.
inline constexpr char kDefaultFashionDir[] = "/usr/share/datasets/fashion-mnist";

// `name` in dir with .gz, else without; empty when neither is a regular file.
std::string FindFile(const std::string& dir, const std::string& name);

// The fashion_mnist and idx loaders (idx.cc) and the csv loader (csv.cc): split,
// with features and classes set, but neither limited nor scaled nor described.
absl::StatusOr<Dataset> LoadIdxDataset(const v1::DatasetSpec& spec);
absl::StatusOr<Dataset> LoadCsvDataset(const v1::DatasetSpec& spec);

}  // namespace dataset_internal

}  // namespace actgrid::engine

#endif  // ACTGRID_WORKER_ENGINE_DATASET_H_
