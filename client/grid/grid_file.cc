// Grid files (grid_file.h): YAML is read into a base spec plus a list of factors,
// every problem is collected, then the cartesian product is expanded into canonical,
// validated TrialSpecs with their trial keys.
#include "client/grid/grid_file.h"

#include <algorithm>

#include <openssl/evp.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "client/grid/grid_values.h"
#include "client/grid/suggest.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "worker/engine/spec_names.h"
#include "worker/engine/validate.h"
#include "yaml-cpp/yaml.h"

namespace actgrid::grid {
namespace {

constexpr int64_t kMaxTrials = 1000000;
constexpr size_t kMaxCellProblems = 50;  // distinct validation problems shown
constexpr const char* kFashionMnistPath = "/usr/share/datasets/fashion-mnist";

const std::vector<std::string>& TopLevelKeys() {
  static const std::vector<std::string> keys = {"name", "dataset", "model", "train", "seeds", "grid"};
  return keys;
}

// One grid factor: its field and its parsed values, in file order.
struct Factor {
  std::string name;  // canonical: "depth", "train.lr"
  const Field* field = nullptr;
  std::vector<FieldValue> values;
};

// What the file says, before expansion.
struct GridFile {
  std::string name;
  v1::TrialSpec base = DefaultTrialSpec();
  std::vector<uint64_t> seeds = {0};
  std::vector<Factor> factors;
};

using Problems = std::vector<std::string>;

void Add(Problems* problems, absl::string_view path, absl::string_view problem) {
  problems->push_back(absl::StrCat(path, ": ", problem));
}

std::string Join(absl::string_view parent, absl::string_view key) {
  return parent.empty() ? std::string(key) : absl::StrCat(parent, ".", key);
}

// Calls fn(key, value) for each entry of a map node, reporting non-scalar and
// duplicate keys itself. A null node is an empty map; anything else is a problem.
template <class Fn>
void ForEachEntry(const YAML::Node& node, absl::string_view path, Problems* problems, Fn fn) {
  if (node.IsNull()) return;
  if (!node.IsMap()) {
    Add(problems, path, "expected a map, got " + Describe(node));
    return;
  }
  std::map<std::string, int> first_line;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const int line = it->first.Mark().line + 1;
    if (!it->first.IsScalar()) {
      Add(problems, path.empty() ? "line " + std::to_string(line) : std::string(path), "keys must be names");
      continue;
    }
    const std::string key = it->first.Scalar();
    const auto [seen, inserted] = first_line.emplace(key, line);
    if (!inserted) {
      Add(problems, Join(path, key), absl::StrCat("duplicate key (first on line ", seen->second, ")"));
      continue;
    }
    fn(key, it->second);
  }
}

bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  return true;
}

void ParseName(const YAML::Node& node, GridFile* file, Problems* problems) {
  if (!node.IsScalar() || !ValidName(node.Scalar())) {
    Add(problems, "name", "expected 1 to 64 characters of [a-z0-9_-], got " + Describe(node));
    return;
  }
  file->name = node.Scalar();
}

// An unknown key of a section: the nearest key of that section, or the same key in
// another section ("train.width" -> "model.width"), or the list of valid keys.
std::string UnknownKeyMessage(absl::string_view section, const std::string& key) {
  const std::vector<std::string> keys = SectionKeys(section);
  if (Suggest(key, keys).empty()) {
    for (const Field& f : Fields())
      if (key == f.key) return absl::StrCat("unknown key \"", key, "\"; did you mean \"", FieldPath(f), "\"?");
  }
  return UnknownNameMessage("key", key, keys);
}

// An unknown grid factor: the nearest factor name, or the field whose key it is
// ("lr" -> "train.lr"), or the list of valid factors.
std::string UnknownFactorMessage(const std::string& key) {
  const std::vector<std::string> names = FactorNames();
  if (Suggest(key, names).empty()) {
    for (const Field& f : Fields())
      if (key == f.key) return absl::StrCat("unknown factor \"", key, "\"; did you mean \"", f.factor, "\"?");
  }
  return UnknownNameMessage("factor", key, names);
}

void ParseSection(absl::string_view section, const YAML::Node& node, GridFile* file, Problems* problems) {
  ForEachEntry(node, section, problems, [&](const std::string& key, const YAML::Node& value) {
    const std::string path = Join(section, key);
    const Field* field = FindField(section, key);
    if (field == nullptr) return Add(problems, path, UnknownKeyMessage(section, key));
    absl::StatusOr<FieldValue> parsed = ParseFieldValue(*field, value);
    if (!parsed.ok()) return Add(problems, path, parsed.status().message());
    field->apply(*parsed, &file->base);
  });
}

void ParseSeedList(const YAML::Node& node, GridFile* file, Problems* problems) {
  if (node.size() == 0) return Add(problems, "seeds", "expected a count >= 1 or a non-empty list of seeds");
  std::map<uint64_t, size_t> first_index;
  file->seeds.clear();
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string path = absl::StrCat("seeds[", i, "]");
    absl::StatusOr<uint64_t> seed = ParseUnsigned(node[i]);
    if (!seed.ok()) {
      Add(problems, path, seed.status().message());
      continue;
    }
    const auto [seen, inserted] = first_index.emplace(*seed, i);
    if (!inserted) {
      Add(problems, path, absl::StrCat("duplicate seed ", *seed, " (same as seeds[", seen->second, "])"));
      continue;
    }
    file->seeds.push_back(*seed);
  }
}

void ParseSeeds(const YAML::Node& node, GridFile* file, Problems* problems) {
  if (node.IsSequence()) return ParseSeedList(node, file, problems);
  absl::StatusOr<int64_t> count = node.IsScalar() ? ParseInteger(node) : absl::StatusOr<int64_t>(-1);
  if (!count.ok() || *count < 1 || *count > kMaxTrials) {
    return Add(problems, "seeds",
               absl::StrCat("expected a count in 1..", kMaxTrials, " or a list of seeds, got ", Describe(node)));
  }
  file->seeds.clear();
  for (int64_t s = 0; s < *count; ++s) file->seeds.push_back(static_cast<uint64_t>(s));
}

// The values of one factor; problems are reported with the key as written.
void ParseFactorValues(const std::string& path, const YAML::Node& list, Factor* factor, Problems* problems) {
  std::map<std::string, size_t> first_index;  // by label: equal labels are equal values
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string item = absl::StrCat(path, "[", i, "]");
    absl::StatusOr<FieldValue> value = ParseFieldValue(*factor->field, list[i]);
    if (!value.ok()) {
      Add(problems, item, value.status().message());
      continue;
    }
    const auto [seen, inserted] = first_index.emplace(value->label, i);
    if (!inserted) {
      Add(problems, item,
          absl::StrCat("duplicate value ", value->label, " (same as ", path, "[", seen->second, "])"));
      continue;
    }
    factor->values.push_back(*std::move(value));
  }
}

void ParseGrid(const YAML::Node& node, GridFile* file, Problems* problems) {
  std::map<std::string, std::string> written_as;  // canonical factor -> key in the file
  ForEachEntry(node, "grid", problems, [&](const std::string& key, const YAML::Node& list) {
    const std::string path = Join("grid", key);
    const Field* field = FindFactor(key);
    if (field == nullptr) return Add(problems, path, UnknownFactorMessage(key));
    const auto [seen, inserted] = written_as.emplace(field->factor, key);
    if (!inserted)
      return Add(problems, path, absl::StrCat("factor ", field->factor, " is listed twice (also as grid.",
                                              seen->second, ")"));
    if (!list.IsSequence() || list.size() == 0)
      return Add(problems, path, list.IsSequence() ? std::string("expected a non-empty list of values, got an empty list")
                                                   : "expected a non-empty list of values, got " + Describe(list));
    Factor factor{field->factor, field, {}};
    ParseFactorValues(path, list, &factor, problems);
    file->factors.push_back(std::move(factor));
  });
}

void ParseTopLevel(const YAML::Node& root, GridFile* file, Problems* problems) {
  if (!root.IsNull() && !root.IsMap()) {
    Add(problems, "file", "expected a map of top-level keys, got " + Describe(root));
    return;
  }
  bool has_name = false;
  ForEachEntry(root, "", problems, [&](const std::string& key, const YAML::Node& value) {
    if (key == "name") {
      has_name = true;
      ParseName(value, file, problems);
    } else if (key == "dataset" || key == "model" || key == "train") {
      ParseSection(key, value, file, problems);
    } else if (key == "seeds") {
      ParseSeeds(value, file, problems);
    } else if (key == "grid") {
      ParseGrid(value, file, problems);
    } else {
      Add(problems, key, UnknownNameMessage("key", key, TopLevelKeys()));
    }
  });
  if (!has_name) Add(problems, "name", "missing (required: 1 to 64 characters of [a-z0-9_-])");
}

std::string YamlErrorMessage(const YAML::Exception& e) {
  if (e.mark.is_null()) return e.msg;
  return absl::StrCat("line ", e.mark.line + 1, ", column ", e.mark.column + 1, ": ", e.msg);
}

absl::Status Invalid(const Problems& problems) { return absl::InvalidArgumentError(absl::StrJoin(problems, "\n")); }

// ---- expansion ---------------------------------------------------------------

// Validation problems of the cells, each reported once with the first cell where it
// occurs; a problem of every cell (a scalar setting) is reported without a cell.
class CellProblems {
 public:
  void Add(const std::string& line, int cell) {
    const auto [it, inserted] = index_.emplace(line, entries_.size());
    if (inserted) entries_.push_back({line, cell, 0});
    ++entries_[it->second].count;
  }
  bool empty() const { return entries_.empty(); }

  Problems Lines(int cells, const std::vector<std::string>& cell_names) const {
    Problems lines;
    for (const Entry& e : entries_) {
      if (lines.size() == kMaxCellProblems) {
        lines.push_back(absl::StrCat("... and ", entries_.size() - kMaxCellProblems, " more problems"));
        break;
      }
      if (e.count == cells) {
        lines.push_back(e.line);
        continue;
      }
      std::string line = absl::StrCat("grid cell ", cell_names[e.first_cell], ": ", e.line);
      if (e.count > 1) absl::StrAppend(&line, " (and ", e.count - 1, " more cells)");
      lines.push_back(std::move(line));
    }
    return lines;
  }

 private:
  struct Entry {
    std::string line;
    int first_cell;
    int count;
  };
  std::vector<Entry> entries_;
  std::map<std::string, size_t> index_;
};

// The factor value indices of `cell`: the last factor varies fastest.
std::vector<size_t> CellIndices(const std::vector<Factor>& factors, int cell) {
  std::vector<size_t> indices(factors.size());
  size_t rest = static_cast<size_t>(cell);
  for (size_t f = factors.size(); f-- > 0;) {
    indices[f] = rest % factors[f].values.size();
    rest /= factors[f].values.size();
  }
  return indices;
}

// The defaults that depend on other fields, filled in after the factors are applied.
void Canonicalize(v1::TrialSpec* spec) {
  v1::DatasetSpec* d = spec->mutable_dataset();
  if (d->kind() == v1::DATASET_KIND_FASHION_MNIST && d->path().empty()) d->set_path(kFashionMnistPath);
}

std::string CountText(double count) {
  return count < 9e18 ? std::to_string(static_cast<long long>(count)) : engine::FormatNumber(count);
}

// At most kMaxTrials trials, counted in double so that huge products cannot overflow.
absl::Status CheckSize(const GridFile& file) {
  double cells = 1;
  for (const Factor& f : file.factors) cells *= static_cast<double>(f.values.size());
  const double trials = cells * static_cast<double>(file.seeds.size());
  if (trials <= static_cast<double>(kMaxTrials)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("grid: ", CountText(cells), " cells x ", file.seeds.size(),
                                                 " seeds = ", CountText(trials), " trials; at most ",
                                                 kMaxTrials, " are allowed"));
}

struct Cell {
  v1::TrialSpec spec;
  std::vector<std::string> labels;
};

// Builds and validates every cell; fails with every distinct problem found.
absl::StatusOr<std::vector<Cell>> BuildCells(const GridFile& file, int cells) {
  std::vector<Cell> out(cells);
  std::vector<std::string> names(cells);
  CellProblems problems;
  for (int c = 0; c < cells; ++c) {
    Cell& cell = out[c];
    cell.spec = file.base;
    const std::vector<size_t> indices = CellIndices(file.factors, c);
    std::vector<std::string> assignment;
    for (size_t f = 0; f < file.factors.size(); ++f) {
      const FieldValue& value = file.factors[f].values[indices[f]];
      file.factors[f].field->apply(value, &cell.spec);
      cell.labels.push_back(value.label);
      assignment.push_back(absl::StrCat(file.factors[f].name, "=", value.label));
    }
    Canonicalize(&cell.spec);
    names[c] = absl::StrJoin(assignment, ", ");
    const absl::Status status = engine::ValidateTrialSpec(cell.spec);
    if (status.ok()) continue;
    for (absl::string_view line : absl::StrSplit(status.message(), '\n')) problems.Add(std::string(line), c);
  }
  if (!problems.empty()) return Invalid(problems.Lines(cells, names));
  return out;
}

absl::StatusOr<Grid> Expand(const GridFile& file) {
  if (absl::Status size = CheckSize(file); !size.ok()) return size;
  Grid grid;
  grid.name = file.name;
  grid.seeds = file.seeds;
  grid.cells = 1;
  for (const Factor& f : file.factors) {
    grid.factors.push_back(f.name);
    grid.cells *= static_cast<int>(f.values.size());
  }
  absl::StatusOr<std::vector<Cell>> cells = BuildCells(file, grid.cells);
  if (!cells.ok()) return cells.status();
  grid.trials.reserve(grid.seeds.size() * cells->size());
  for (uint64_t seed : grid.seeds) {
    for (int c = 0; c < grid.cells; ++c) {
      GridTrial trial;
      trial.spec = (*cells)[c].spec;
      trial.spec.set_seed(seed);
      trial.key = TrialKey(trial.spec);
      trial.cell = c;
      trial.values = (*cells)[c].labels;
      grid.trials.push_back(std::move(trial));
    }
  }
  return grid;
}

absl::StatusOr<Grid> ParseRoot(const YAML::Node& root) {
  GridFile file;
  Problems problems;
  ParseTopLevel(root, &file, &problems);
  if (!problems.empty()) return Invalid(problems);
  return Expand(file);
}

}  // namespace

absl::StatusOr<Grid> ParseGridText(const std::string& yaml_text) {
  try {
    return ParseRoot(YAML::Load(yaml_text));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(YamlErrorMessage(e));
  }
}

absl::StatusOr<Grid> ParseGridFile(const std::string& path) {
  std::error_code error;
  if (!std::filesystem::exists(path, error)) return absl::NotFoundError("grid file not found: " + path);
  if (std::filesystem::is_directory(path, error))
    return absl::InvalidArgumentError("grid file is a directory: " + path);
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::ErrnoToStatus(errno, "cannot open grid file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return absl::ErrnoToStatus(errno, "cannot read grid file " + path);
  return ParseGridText(text.str());
}

std::string TrialKey(const v1::TrialSpec& spec) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    spec.SerializeToCodedStream(&coded);
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr);
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 15]);
  }
  return hex;
}

v1::SubmitGridRequest ToSubmitRequest(const grid::Grid& grid, bool dry_run) {
  v1::SubmitGridRequest request;
  request.set_name(grid.name);
  for (const auto& f : grid.factors) request.add_factors(f);
  request.set_cells(grid.cells);
  request.set_dry_run(dry_run);
  for (const auto& t : grid.trials) {
    auto* out = request.add_trials();
    *out->mutable_spec() = t.spec;
    out->set_cell(t.cell);
    for (const auto& v : t.values) out->add_values(v);
    const auto rank = std::find(grid.seeds.begin(), grid.seeds.end(), t.spec.seed()) - grid.seeds.begin();
    out->set_seed_rank(int(rank));
  }
  return request;
}

}  // namespace actgrid::grid
