// DatasetDigest (see dataset.h): what a trial key knows of a dataset read from files.
#include <openssl/evp.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/spec/trial_key.h"
#include "worker/engine/dataset.h"

namespace actgrid::engine {
namespace {

struct MdFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

// Adds "<name>\n<size>\n<bytes>" of the file at `path` to the digest.
absl::Status AddFile(EVP_MD_CTX* ctx, const std::string& name, const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  if (!std::filesystem::is_regular_file(path, ec))
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a regular file"));
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open: ", std::strerror(errno)));
  const uintmax_t size = std::filesystem::file_size(path, ec);
  const std::string head = absl::StrCat(name, "\n", size, "\n");
  EVP_DigestUpdate(ctx, head.data(), head.size());
  std::vector<char> buffer(1 << 20);
  uintmax_t read = 0;
  while (in) {
    in.read(buffer.data(), std::streamsize(buffer.size()));
    const std::streamsize got = in.gcount();
    if (got > 0) EVP_DigestUpdate(ctx, buffer.data(), size_t(got));
    read += uintmax_t(got);
  }
  if (in.bad() || read != size) return absl::DataLossError(absl::StrCat(path, ": read error, or the file changed while read"));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> DatasetDigest(const v1::DatasetSpec& spec) {
  std::unique_ptr<EVP_MD_CTX, MdFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1)
    return absl::InternalError("cannot start a SHA-256 digest");
  switch (spec.kind()) {
    case v1::DATASET_KIND_FASHION_MNIST:
    case v1::DATASET_KIND_IDX: {
      const std::string dir = spec.path().empty() ? std::string(dataset_internal::kDefaultFashionDir) : spec.path();
      std::error_code ec;
      if (!std::filesystem::is_directory(dir, ec)) return absl::NotFoundError(absl::StrCat(dir, ": no such directory"));
      int found = 0;
      for (const char* name : {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                               "t10k-labels-idx1-ubyte"}) {
        const std::string path = dataset_internal::FindFile(dir, name);
        if (path.empty()) continue;
        ++found;
        const std::string shown = path.substr(dir.size() + 1);  // the name with its .gz, if any
        if (absl::Status s = AddFile(ctx.get(), shown, path); !s.ok()) return s;
      }
      if (found == 0) return absl::NotFoundError(absl::StrCat(dir, ": no IDX files (train-images-idx3-ubyte[.gz], ...)"));
      break;
    }
    case v1::DATASET_KIND_CSV:
      if (absl::Status s = AddFile(ctx.get(), "csv", spec.path()); !s.ok()) return s;
      break;
    default:
      return std::string();
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &length);
  return actgrid::spec::Hex(digest, length);
}

}  // namespace actgrid::engine
