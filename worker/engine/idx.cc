// ReadIdx and the fashion_mnist / idx datasets: MNIST-style IDX files, gzip or
// plain, read with zlib and checked against their headers before allocating.
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <numeric>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "worker/engine/dataset.h"

namespace actgrid::engine {
namespace {

// A payload larger than this is treated as a corrupt header, not allocated.
constexpr uint64_t kMaxPayloadBytes = uint64_t{1} << 31;
constexpr uint8_t kUnsignedByte = 0x08;


struct GzClose {
  void operator()(gzFile_s* f) const { gzclose(f); }
};
using GzFile = std::unique_ptr<gzFile_s, GzClose>;

// DataLoss for a read that came back short: zlib's message if the stream is
// corrupt, otherwise "truncated <what>".
absl::Status ShortRead(gzFile f, const std::string& path, const char* what) {
  int err = Z_OK;
  const char* msg = gzerror(f, &err);
  if (err != Z_OK && err != Z_STREAM_END)
    return absl::DataLossError(absl::StrCat(path, ": gzip error: ", msg ? msg : "unknown"));
  return absl::DataLossError(absl::StrCat(path, ": truncated ", what));
}

// Reads exactly n bytes (gzread takes at most UINT_MAX at a time).
absl::Status ReadExact(gzFile f, const std::string& path, uint8_t* dst, uint64_t n,
                       const char* what) {
  while (n > 0) {
    const auto chunk = static_cast<unsigned>(std::min<uint64_t>(n, uint64_t{1} << 30));
    const int got = gzread(f, dst, chunk);
    if (got <= 0) return ShortRead(f, path, what);
    dst += got;
    n -= static_cast<uint64_t>(got);
  }
  return absl::OkStatus();
}

// Reading past the payload makes zlib verify the gzip trailer (CRC and length);
// a byte there means the header's dimensions undercount the payload.
absl::Status CheckEnd(gzFile f, const std::string& path) {
  uint8_t extra = 0;
  const int got = gzread(f, &extra, 1);
  if (got < 0) return ShortRead(f, path, "IDX payload");
  if (got > 0)
    return absl::DataLossError(
        absl::StrCat(path, ": data after the payload the IDX header describes"));
  return absl::OkStatus();
}

uint32_t BigEndian32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// Reads ndims big-endian sizes; DataLoss when one is negative as an int32 or
// their product exceeds kMaxPayloadBytes.
absl::StatusOr<std::vector<int32_t>> ReadDims(gzFile f, const std::string& path, int ndims,
                                              uint64_t* bytes) {
  std::vector<uint8_t> raw(static_cast<size_t>(ndims) * 4);
  if (absl::Status s = ReadExact(f, path, raw.data(), raw.size(), "IDX header"); !s.ok()) return s;
  std::vector<int32_t> dims;
  *bytes = 1;
  for (int i = 0; i < ndims; ++i) {
    const uint32_t d = BigEndian32(&raw[static_cast<size_t>(i) * 4]);
    if (d > static_cast<uint32_t>(INT32_MAX))
      return absl::DataLossError(absl::StrCat(path, ": IDX dimension ", i, " is negative"));
    if (d != 0 && *bytes > kMaxPayloadBytes / d)
      return absl::DataLossError(
          absl::StrCat(path, ": IDX dimensions exceed ", kMaxPayloadBytes, " bytes"));
    *bytes *= d;
    dims.push_back(static_cast<int32_t>(d));
  }
  return dims;
}

std::string DimsText(const std::vector<int32_t>& dims) { return absl::StrJoin(dims, " x "); }

using dataset_internal::FindFile;
using dataset_internal::kDefaultFashionDir;

absl::StatusOr<IdxArray> ReadIdxIn(const std::string& dir, const std::string& name) {
  const std::string path = FindFile(dir, name);
  if (path.empty())
    return absl::NotFoundError(absl::StrCat(dir, "/", name, ".gz not found (nor without .gz)"));
  return ReadIdx(path);
}

// Images (n x d1 x ... ) with their labels (n); paths kept for messages.
struct IdxSet {
  IdxArray images, labels;
  std::string name;  // "dir/train" or "dir/t10k"
  Eigen::Index count = 0, features = 0;
};

absl::Status CheckShapes(IdxSet& set) {
  const std::vector<int32_t>& im = set.images.dims;
  if (im.size() < 2)
    return absl::DataLossError(
        absl::StrCat(set.name, " images: need at least 2 dimensions, got ", DimsText(im)));
  if (set.labels.dims.size() != 1)
    return absl::DataLossError(
        absl::StrCat(set.name, " labels: need 1 dimension, got ", DimsText(set.labels.dims)));
  if (im[0] != set.labels.dims[0])
    return absl::DataLossError(
        absl::StrCat(set.name, ": ", im[0], " images but ", set.labels.dims[0], " labels"));
  set.count = im[0];
  set.features = 1;
  for (size_t i = 1; i < im.size(); ++i) set.features *= im[i];
  if (set.count == 0 || set.features == 0)
    return absl::DataLossError(absl::StrCat(set.name, " images: empty (", DimsText(im), ")"));
  return absl::OkStatus();
}

// Reads <prefix>-images-idx3-ubyte and <prefix>-labels-idx1-ubyte from dir.
absl::StatusOr<IdxSet> ReadSet(const std::string& dir, const std::string& prefix) {
  IdxSet set;
  set.name = absl::StrCat(dir, "/", prefix);
  absl::StatusOr<IdxArray> images = ReadIdxIn(dir, prefix + "-images-idx3-ubyte");
  if (!images.ok()) return images.status();
  absl::StatusOr<IdxArray> labels = ReadIdxIn(dir, prefix + "-labels-idx1-ubyte");
  if (!labels.ok()) return labels.status();
  set.images = std::move(*images);
  set.labels = std::move(*labels);
  if (absl::Status s = CheckShapes(set); !s.ok()) return s;
  return set;
}

// Samples order[0, count) of the set as float pixels 0..255, one per column.
void Gather(const IdxSet& set, const std::vector<Eigen::Index>& order, Eigen::Index count,
            Eigen::MatrixXf* x, std::vector<int32_t>* y) {
  using Bytes = Eigen::Matrix<uint8_t, Eigen::Dynamic, 1>;
  *x = Eigen::MatrixXf(set.features, count);
  y->resize(static_cast<size_t>(count));
  for (Eigen::Index j = 0; j < count; ++j) {
    const Eigen::Index s = order[j];
    x->col(j) = Eigen::Map<const Bytes>(set.images.data.data() + s * set.features, set.features)
                    .cast<float>();
    (*y)[static_cast<size_t>(j)] = set.labels.data[static_cast<size_t>(s)];
  }
}

// classes = largest label + 1 over every set; DataLoss when only one label occurs.
absl::StatusOr<int> CountClasses(const std::vector<const IdxSet*>& sets) {
  int lo = 255, hi = 0;
  for (const IdxSet* set : sets)
    for (uint8_t label : set->labels.data) {
      lo = std::min<int>(lo, label);
      hi = std::max<int>(hi, label);
    }
  if (lo == hi)
    return absl::DataLossError(
        absl::StrCat(sets.front()->name, " labels: a single class (", hi, ")"));
  return hi + 1;
}

// Keeps `limit` (> 0) of n samples, all when limit is 0.
Eigen::Index Keep(int limit, Eigen::Index n) {
  return limit > 0 ? std::min<Eigen::Index>(limit, n) : n;
}

// The idx kind without t10k files: the training files split by test_fraction.
absl::StatusOr<Dataset> SplitTrainFiles(const v1::DatasetSpec& spec, const IdxSet& train) {
  if (absl::Status s = dataset_internal::CheckTestFraction(spec); !s.ok()) return s;
  if (train.count < 2)
    return absl::DataLossError(absl::StrCat(train.name, ": need at least 2 samples to split"));
  absl::StatusOr<int> classes = CountClasses({&train});
  if (!classes.ok()) return classes.status();
  Dataset data;
  data.features = static_cast<int>(train.features);
  data.classes = *classes;
  Eigen::MatrixXf x;
  std::vector<int32_t> y;
  std::vector<Eigen::Index> file_order(static_cast<size_t>(train.count));
  std::iota(file_order.begin(), file_order.end(), Eigen::Index{0});
  Gather(train, file_order, train.count, &x, &y);
  dataset_internal::SplitShuffled(x, y, spec.test_fraction(), spec.seed(), &data);
  return data;
}

// Separate train and test files: each shuffled with its own stream, then limited.
absl::StatusOr<Dataset> UseTestFiles(const v1::DatasetSpec& spec, const IdxSet& train,
                                     const IdxSet& test) {
  if (train.features != test.features)
    return absl::DataLossError(absl::StrCat(train.name, " images have ", train.features,
                                            " features but ", test.name, " images have ",
                                            test.features));
  absl::StatusOr<int> classes = CountClasses({&train, &test});
  if (!classes.ok()) return classes.status();
  Dataset data;
  data.features = static_cast<int>(train.features);
  data.classes = *classes;
  Gather(train, dataset_internal::ShuffledOrder(train.count, spec.seed(), 2),
         Keep(spec.train_limit(), train.count), &data.train_x, &data.train_y);
  Gather(test, dataset_internal::ShuffledOrder(test.count, spec.seed(), 3),
         Keep(spec.test_limit(), test.count), &data.test_x, &data.test_y);
  return data;
}

}  // namespace

absl::StatusOr<IdxArray> ReadIdx(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  GzFile f(gzopen(path.c_str(), "rb"));
  if (!f) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  uint8_t magic[4];
  if (absl::Status s = ReadExact(f.get(), path, magic, 4, "IDX header"); !s.ok()) return s;
  if (magic[0] != 0 || magic[1] != 0 || magic[3] == 0)
    return absl::DataLossError(absl::StrFormat("%s: bad IDX magic %02x %02x %02x %02x", path,
                                               magic[0], magic[1], magic[2], magic[3]));
  if (magic[2] != kUnsignedByte)
    return absl::DataLossError(absl::StrFormat(
        "%s: unsupported IDX type 0x%02x (only unsigned byte, 0x08)", path, magic[2]));
  uint64_t bytes = 0;
  IdxArray out;
  absl::StatusOr<std::vector<int32_t>> dims = ReadDims(f.get(), path, magic[3], &bytes);
  if (!dims.ok()) return dims.status();
  out.dims = std::move(*dims);
  // The payload is read in chunks, the array growing as they arrive: a header that
  // claims more than the file holds fails as truncated without first allocating all
  // it claims.
  constexpr uint64_t kChunk = uint64_t{64} << 20;
  for (uint64_t have = 0; have < bytes;) {
    const uint64_t n = std::min(bytes - have, kChunk);
    out.data.resize(have + n);
    if (absl::Status s = ReadExact(f.get(), path, out.data.data() + have, n, "IDX payload"); !s.ok()) return s;
    have += n;
  }
  if (absl::Status s = CheckEnd(f.get(), path); !s.ok()) return s;
  return out;
}

namespace dataset_internal {

std::string FindFile(const std::string& dir, const std::string& name) {
  std::error_code ec;
  for (const std::string& candidate :
       {absl::StrCat(dir, "/", name, ".gz"), absl::StrCat(dir, "/", name)})
    if (std::filesystem::is_regular_file(candidate, ec)) return candidate;
  return "";
}

absl::StatusOr<Dataset> LoadIdxDataset(const v1::DatasetSpec& spec) {
  const bool fashion = spec.kind() == v1::DATASET_KIND_FASHION_MNIST;
  if (spec.path().empty() && !fashion)
    return absl::InvalidArgumentError("the idx dataset needs a path (a directory of IDX files)");
  const std::string dir = spec.path().empty() ? kDefaultFashionDir : spec.path();
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    return absl::NotFoundError(absl::StrCat(dir, ": no such directory"));
  absl::StatusOr<IdxSet> train = ReadSet(dir, "train");
  if (!train.ok()) return train.status();
  const bool has_test = !FindFile(dir, "t10k-images-idx3-ubyte").empty() ||
                        !FindFile(dir, "t10k-labels-idx1-ubyte").empty();
  if (!fashion && !has_test) return SplitTrainFiles(spec, *train);
  absl::StatusOr<IdxSet> test = ReadSet(dir, "t10k");
  if (!test.ok()) return test.status();
  return UseTestFiles(spec, *train, *test);
}

}  // namespace dataset_internal
}  // namespace actgrid::engine
