// Grid files (grid_file.h): the text is held to its bounds (its size, then one pass
// over the YAML events: aliases, expanded size, values, nesting) before it is loaded;
// the lengths of its lists before any value is read; then it is read into a base spec
// plus a list of factors with the problems found (the formulas of `activations:` first,
// so that model and grid may name them), and the cartesian product is
// expanded into canonical, validated TrialSpecs with their trial keys.
#include "client/grid/grid_file.h"

#include <algorithm>


#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "client/grid/yaml_bounds.h"
#include "client/grid/yaml_values.h"
#include "common/spec/echo.h"
#include "common/spec/fields.h"
#include "common/spec/formula.h"
#include "common/spec/names.h"
#include "common/spec/suggest.h"
#include "common/spec/trial_key.h"
#include "common/spec/validate.h"
#include "worker/engine/dataset.h"
#include "yaml-cpp/yaml.h"

namespace actgrid::grid {
namespace {

// The spec library's field table, value parsers and message helpers, by their names.
using spec::DefaultTrialSpec;
using spec::Field;
using spec::FieldPath;
using spec::FactorNames;
using spec::FieldValue;
using spec::Fields;
using spec::FindFactor;
using spec::FindField;
using spec::Quoted;
using spec::SectionKeys;
using spec::Shown;
using spec::Suggest;
using spec::UnknownNameMessage;

constexpr const char* kFashionMnistPath = "/usr/share/datasets/fashion-mnist";

const std::vector<std::string>& TopLevelKeys() {
  static const std::vector<std::string> keys = {"name", "dataset", "model", "train", "seeds", "grid", "activations"};
  return keys;
}

// The keys of one entry of `activations:`.
const std::vector<std::string>& FormulaKeys() {
  static const std::vector<std::string> keys = {"f", "params", "learnable"};
  return keys;
}

// How a formula's parameter values are read: finite numbers, as the file's other numbers.
const Field& FormulaParamField() {
  static const Field field{"activations", "params", "params", spec::FieldType::kNumber, nullptr};
  return field;
}

bool Stopped(const std::atomic<bool>* cancel) { return cancel != nullptr && cancel->load(std::memory_order_relaxed); }

absl::Status CancelledWhileReading() { return absl::CancelledError("cancelled while reading the grid file"); }

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

// The problems of a file, in the order found: the first kMaxErrorsListed lines, each
// at most kMaxErrorLineBytes, and a count of the rest.
class Problems {
 public:
  void Add(absl::string_view path, absl::string_view problem) { AddLine(absl::StrCat(path, ": ", problem)); }
  void AddLine(absl::string_view line) {
    if (lines_.size() < kMaxErrorsListed) {
      lines_.push_back(Shown(line, kMaxErrorLineBytes));
    } else {
      ++more_;
    }
  }
  bool empty() const { return lines_.empty(); }
  size_t count() const { return lines_.size() + more_; }
  absl::Status ToStatus() const {
    std::string text = absl::StrJoin(lines_, "\n");
    if (more_ > 0) absl::StrAppend(&text, "\n... and ", more_, " more problems");
    return absl::InvalidArgumentError(text);
  }

 private:
  std::vector<std::string> lines_;
  size_t more_ = 0;
};

// A key as paths show it: escaped, and cut when long.
std::string Join(absl::string_view parent, absl::string_view key) {
  return parent.empty() ? Shown(key) : absl::StrCat(parent, ".", Shown(key));
}

// Calls fn(key, value) for each entry of a map node, reporting non-scalar and
// duplicate keys itself. A null node is an empty map; anything else is a problem.
template <class Fn>
void ForEachEntry(const YAML::Node& node, absl::string_view path, Problems* problems, Fn fn) {
  if (node.IsNull()) return;
  if (!node.IsMap()) {
    problems->Add(path, "expected a map, got " + Describe(node));
    return;
  }
  std::map<std::string, int> first_line;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const int line = it->first.Mark().line + 1;
    if (!it->first.IsScalar()) {
      problems->Add(path.empty() ? "line " + std::to_string(line) : std::string(path), "keys must be names");
      continue;
    }
    const std::string key = it->first.Scalar();
    const auto [seen, inserted] = first_line.emplace(key, line);
    if (!inserted) {
      problems->Add(Join(path, key), absl::StrCat("duplicate key (first on line ", seen->second, ")"));
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

std::string CountText(double count) {
  return count < 9e18 ? std::to_string(static_cast<long long>(count)) : spec::FormatNumber(count);
}

// At most kMaxGridTrials trials, counted in double so that huge products cannot overflow.
absl::Status CheckTrialCount(double cells, double seeds) {
  const double trials = cells * seeds;
  if (trials <= static_cast<double>(kMaxGridTrials)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("grid: ", CountText(cells), " cells x ", CountText(seeds),
                                                 " seeds = ", CountText(trials), " trials; at most ", kMaxGridTrials,
                                                 " are allowed"));
}

// The number of trials the file asks for, from the lengths of its lists alone, so a
// grid too large is refused before any of its values is read. A seed count out of
// range counts as one seed here (ParseSeeds reports it).
absl::Status CheckListLengths(const YAML::Node& root) {
  if (!root.IsMap()) return absl::OkStatus();
  double seeds = 1, cells = 1;
  bool seeds_seen = false, grid_seen = false;
  for (auto it = root.begin(); it != root.end(); ++it) {
    // Copies: the iterator's pair is a temporary, so references into it would dangle.
    const YAML::Node key_node = it->first, value = it->second;
    if (!key_node.IsScalar()) continue;
    const std::string key = key_node.Scalar();
    if (key == "seeds" && !seeds_seen) {
      seeds_seen = true;
      if (value.IsSequence()) seeds = std::max<double>(1, value.size());
      if (absl::StatusOr<int64_t> n = value.IsScalar() ? ParseInteger(value) : absl::StatusOr<int64_t>(-1);
          n.ok() && *n >= 1 && *n <= kMaxGridTrials)
        seeds = static_cast<double>(*n);
    } else if (key == "grid" && !grid_seen && value.IsMap()) {
      grid_seen = true;
      for (auto f = value.begin(); f != value.end(); ++f)
        if (f->second.IsSequence()) cells *= std::max<double>(1, f->second.size());
    }
  }
  return CheckTrialCount(cells, seeds);
}

// Reads a loaded grid file into a GridFile, collecting every problem.
class FileReader {
 public:
  explicit FileReader(const std::atomic<bool>* cancel) : cancel_(cancel) {}

  absl::StatusOr<GridFile> Read(const YAML::Node& root) {
    if (absl::Status counts = CheckListLengths(root); !counts.ok()) return counts;
    ParseTopLevel(root);
    if (Stopped(cancel_)) return CancelledWhileReading();
    if (!problems_.empty()) return problems_.ToStatus();
    return std::move(file_);
  }

 private:
  void ParseTopLevel(const YAML::Node& root) {
    if (!root.IsNull() && !root.IsMap()) {
      problems_.Add("file", "expected a map of top-level keys, got " + Describe(root));
      return;
    }
    // The formulas first, wherever the section stands: model and grid name them. A second
    // `activations:` is reported as a duplicate key below.
    if (root.IsMap()) {
      for (auto it = root.begin(); it != root.end(); ++it) {
        const YAML::Node key = it->first, value = it->second;
        if (key.IsScalar() && key.Scalar() == "activations") {
          ParseActivations(value);
          break;
        }
      }
    }
    bool has_name = false;
    ForEachEntry(root, "", &problems_, [&](const std::string& key, const YAML::Node& value) {
      if (key == "name") {
        has_name = true;
        ParseName(value);
      } else if (key == "activations") {
        // read above
      } else if (key == "dataset" || key == "model" || key == "train") {
        ParseSection(key, value);
      } else if (key == "seeds") {
        ParseSeeds(value);
      } else if (key == "grid") {
        ParseGrid(value);
      } else {
        problems_.Add(Shown(key), UnknownNameMessage("key", key, TopLevelKeys()));
      }
    });
    if (!has_name) problems_.Add("name", "missing (required: 1 to 64 characters of [a-z0-9_-])");
  }

  void ParseName(const YAML::Node& node) {
    if (!node.IsScalar() || !ValidName(node.Scalar())) {
      problems_.Add("name", "expected 1 to 64 characters of [a-z0-9_-], got " + Describe(node));
      return;
    }
    file_.name = node.Scalar();
  }

  // ---- activations: formulas ----

  void ParseActivations(const YAML::Node& node) {
    if (node.IsMap() && node.size() > static_cast<size_t>(kMaxFormulas)) {
      // None is defined; the values that name them are not reported as unknown too.
      for (auto it = node.begin(); it != node.end(); ++it)
        if (it->first.IsScalar()) broken_formulas_.insert(it->first.Scalar());
      return problems_.Add("activations", absl::StrCat(node.size(), " formulas; at most ", kMaxFormulas,
                                                       " are allowed"));
    }
    ForEachEntry(node, "activations", &problems_,
                 [&](const std::string& name, const YAML::Node& value) { ParseFormula(name, value); });
  }

  // One entry {f: TEXT, params: {NAME: VALUE, ...}, learnable: [NAME, ...]}.
  void ParseFormula(const std::string& name, const YAML::Node& node) {
    const std::string path = Join("activations", name);
    broken_formulas_.insert(name);  // until it is defined
    if (!node.IsNull() && !node.IsMap())
      return problems_.Add(path, "expected a map {f: formula, params: {name: value, ...}, learnable: [name, ...]}, got " +
                                     Describe(node));
    const size_t before = problems_.count();
    std::optional<std::string> text;
    std::vector<std::string> params, learnable;
    std::vector<double> defaults;
    ForEachEntry(node, path, &problems_, [&](const std::string& key, const YAML::Node& value) {
      const std::string at = Join(path, key);
      if (key == "f") {
        if (!value.IsScalar())
          return problems_.Add(at, "expected a formula in x (text such as \"max(x, 0)\"), got " + Describe(value));
        text = value.Scalar();
      } else if (key == "params") {
        ParseFormulaParams(at, value, &params, &defaults);
      } else if (key == "learnable") {
        ParseLearnable(at, value, &learnable);
      } else {
        problems_.Add(at, UnknownNameMessage("key", key, FormulaKeys()));
      }
    });
    if (!text && problems_.count() == before)
      problems_.Add(Join(path, "f"), "missing (required: the formula in x and the parameters, e.g. \"max(x, 0)\")");
    if (problems_.count() != before) return;
    absl::StatusOr<v1::ActivationSpec> spec = spec::FormulaActivation(name, *text, params, defaults, learnable);
    if (!spec.ok()) {
      for (absl::string_view line : absl::StrSplit(spec.status().message(), '\n', absl::SkipEmpty()))
        AddFormulaProblem(path, line);
      return;
    }
    // The spec holds the canonical text, which every trial is checked with: report here,
    // at the definition, what fails in that form (numbers written in full can make it
    // longer than what was written).
    const std::vector<std::string> canonical = spec::FormulaProblems(*spec);
    if (!canonical.empty()) {
      for (absl::string_view line : canonical) {
        absl::ConsumePrefix(&line, "model.activation: ");
        AddFormulaProblem(path, absl::StrCat(line, " (in canonical form: ", Quoted(spec->formula().text(), 80), ")"));
      }
      return;
    }
    formulas_.push_back(*std::move(spec));
    broken_formulas_.erase(name);
  }

  void ParseFormulaParams(const std::string& path, const YAML::Node& node, std::vector<std::string>* names,
                          std::vector<double>* values) {
    if (!node.IsNull() && !node.IsMap())
      return problems_.Add(path, "expected a map of parameter names to numbers ({a: 0.1}), got " + Describe(node));
    ForEachEntry(node, path, &problems_, [&](const std::string& key, const YAML::Node& value) {
      absl::StatusOr<FieldValue> number = ParseFieldValue(FormulaParamField(), value);
      if (!number.ok()) return problems_.Add(Join(path, key), number.status().message());
      names->push_back(key);
      values->push_back(number->number);
    });
  }

  void ParseLearnable(const std::string& path, const YAML::Node& node, std::vector<std::string>* names) {
    if (node.IsNull()) return;
    if (!node.IsSequence())
      return problems_.Add(path, "expected a list of parameter names ([a, b]), got " + Describe(node));
    for (size_t i = 0; i < node.size(); ++i) {
      if (!node[i].IsScalar()) {
        problems_.Add(absl::StrCat(path, "[", i, "]"), "expected a parameter name, got " + Describe(node[i]));
        continue;
      }
      names->push_back(node[i].Scalar());
    }
  }

  // A problem of spec::FormulaActivation ("f: 1:14: ...", "params: ...", "learnable: ...",
  // "name ...") under the entry's path: activations.bent.f, activations.bent.
  void AddFormulaProblem(const std::string& path, absl::string_view line) {
    const size_t colon = line.find(": ");
    const absl::string_view head = colon == absl::string_view::npos ? absl::string_view() : line.substr(0, colon);
    const bool is_path = !head.empty() && head != "name" && std::all_of(head.begin(), head.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
    });
    if (!is_path) return problems_.Add(path, line);
    problems_.Add(absl::StrCat(path, ".", head), line.substr(colon + 2));
  }

  // Whether `node` names a formula whose definition failed (already reported there).
  bool NamesBrokenFormula(const Field& field, const YAML::Node& node) const {
    if (field.type != spec::FieldType::kActivation || broken_formulas_.empty() || !node.IsScalar()) return false;
    absl::string_view name = node.Scalar();
    name = absl::StripAsciiWhitespace(name.substr(0, name.find('(')));
    return broken_formulas_.count(std::string(name)) > 0;
  }

  // ---- sections, seeds and the grid ----

  void ParseSection(absl::string_view section, const YAML::Node& node) {
    ForEachEntry(node, section, &problems_, [&](const std::string& key, const YAML::Node& value) {
      const std::string path = Join(section, key);
      const Field* field = FindField(section, key);
      if (field == nullptr) return problems_.Add(path, UnknownKeyMessage(section, key));
      absl::StatusOr<FieldValue> parsed = ParseFieldValue(*field, value, &formulas_);
      if (!parsed.ok() && NamesBrokenFormula(*field, value)) return;
      if (!parsed.ok()) return problems_.Add(path, parsed.status().message());
      field->apply(*parsed, &file_.base);
    });
  }

  void ParseSeedList(const YAML::Node& node) {
    if (node.size() == 0) return problems_.Add("seeds", "expected a count >= 1 or a non-empty list of seeds");
    std::map<uint64_t, size_t> first_index;
    file_.seeds.clear();
    for (size_t i = 0; i < node.size() && !Stopped(cancel_); ++i) {
      const std::string path = absl::StrCat("seeds[", i, "]");
      absl::StatusOr<uint64_t> seed = ParseUnsigned(node[i]);
      if (!seed.ok()) {
        problems_.Add(path, seed.status().message());
        continue;
      }
      const auto [seen, inserted] = first_index.emplace(*seed, i);
      if (!inserted) {
        problems_.Add(path, absl::StrCat("duplicate seed ", *seed, " (same as seeds[", seen->second, "])"));
        continue;
      }
      file_.seeds.push_back(*seed);
    }
  }

  void ParseSeeds(const YAML::Node& node) {
    if (node.IsSequence()) return ParseSeedList(node);
    absl::StatusOr<int64_t> count = node.IsScalar() ? ParseInteger(node) : absl::StatusOr<int64_t>(-1);
    if (!count.ok() || *count < 1 || *count > kMaxGridTrials) {
      return problems_.Add("seeds", absl::StrCat("expected a count in 1..", kMaxGridTrials,
                                                 " or a list of seeds, got ", Describe(node)));
    }
    file_.seeds.clear();
    for (int64_t s = 0; s < *count; ++s) file_.seeds.push_back(static_cast<uint64_t>(s));
  }

  // The values of one factor; problems are reported with the key as written.
  void ParseFactorValues(const std::string& path, const YAML::Node& list, Factor* factor) {
    std::map<std::string, size_t> first_index;  // by label: equal labels are equal values
    for (size_t i = 0; i < list.size() && !Stopped(cancel_); ++i) {
      const std::string item = absl::StrCat(path, "[", i, "]");
      absl::StatusOr<FieldValue> value = ParseFieldValue(*factor->field, list[i], &formulas_);
      if (!value.ok() && NamesBrokenFormula(*factor->field, list[i])) continue;
      if (!value.ok()) {
        problems_.Add(item, value.status().message());
        continue;
      }
      const auto [seen, inserted] = first_index.emplace(value->label, i);
      if (!inserted) {
        problems_.Add(item, absl::StrCat("duplicate value ", Shown(value->label), " (same as ", path, "[",
                                         seen->second, "])"));
        continue;
      }
      factor->values.push_back(*std::move(value));
    }
  }

  void ParseGrid(const YAML::Node& node) {
    std::map<std::string, std::string> written_as;  // canonical factor -> key in the file
    ForEachEntry(node, "grid", &problems_, [&](const std::string& key, const YAML::Node& list) {
      const std::string path = Join("grid", key);
      const Field* field = FindFactor(key);
      if (field == nullptr) return problems_.Add(path, UnknownFactorMessage(key));
      const auto [seen, inserted] = written_as.emplace(field->factor, key);
      if (!inserted)
        return problems_.Add(path, absl::StrCat("factor ", field->factor, " is listed twice (also as grid.",
                                                seen->second, ")"));
      if (!list.IsSequence() || list.size() == 0)
        return problems_.Add(path, list.IsSequence()
                                       ? std::string("expected a non-empty list of values, got an empty list")
                                       : "expected a non-empty list of values, got " + Describe(list));
      Factor factor{field->factor, field, {}};
      ParseFactorValues(path, list, &factor);
      file_.factors.push_back(std::move(factor));
    });
  }

  const std::atomic<bool>* cancel_;
  GridFile file_;
  Problems problems_;
  spec::FormulaTable formulas_;            // the file's formula activations, as defined
  std::set<std::string> broken_formulas_;  // names whose definition failed
};

std::string YamlErrorMessage(const YAML::Exception& e) {
  if (e.mark.is_null()) return Shown(e.msg, kMaxErrorLineBytes);
  return Shown(absl::StrCat("line ", e.mark.line + 1, ", column ", e.mark.column + 1, ": ", e.msg),
               kMaxErrorLineBytes);
}

// ---- expansion ---------------------------------------------------------------

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

// "activation=relu, depth=300": labels shown escaped and cut.
std::string CellName(const GridFile& file, int cell) {
  const std::vector<size_t> indices = CellIndices(file.factors, cell);
  std::vector<std::string> assignment;
  for (size_t f = 0; f < file.factors.size(); ++f)
    assignment.push_back(absl::StrCat(file.factors[f].name, "=", Shown(file.factors[f].values[indices[f]].label)));
  return absl::StrJoin(assignment, ", ");
}

// Validation problems of the cells, each reported once with the first cell where it
// occurs; a problem of every cell (a scalar setting) is reported without a cell. The
// first kMaxErrorsListed distinct problems are listed, the others counted.
class CellProblems {
 public:
  void Add(const std::string& line, int cell) {
    if (const auto it = index_.find(line); it != index_.end()) {
      ++entries_[it->second].count;
    } else if (entries_.size() < kMaxErrorsListed) {
      index_.emplace(line, entries_.size());
      entries_.push_back({line, cell, 1});
    } else {
      others_.insert(std::hash<std::string>()(line));
    }
  }
  bool empty() const { return entries_.empty(); }

  absl::Status ToStatus(const GridFile& file, int cells) const {
    Problems lines;
    for (const Entry& e : entries_) {
      if (e.count == cells) {
        lines.AddLine(e.line);
        continue;
      }
      std::string line = absl::StrCat("grid cell ", CellName(file, e.first_cell), ": ", e.line);
      if (e.count > 1) absl::StrAppend(&line, " (and ", e.count - 1, " more cells)");
      lines.AddLine(line);
    }
    absl::Status status = lines.ToStatus();
    if (others_.empty()) return status;
    return absl::InvalidArgumentError(absl::StrCat(status.message(), "\n... and ", others_.size(), " more problems"));
  }

 private:
  struct Entry {
    std::string line;
    int first_cell;
    int count;
  };
  std::vector<Entry> entries_;
  std::map<std::string, size_t> index_;
  std::set<size_t> others_;  // hashes of the problems past the listed ones
};

// The defaults that depend on other fields, filled in after the factors are applied.
void Canonicalize(v1::TrialSpec* spec) {
  v1::DatasetSpec* d = spec->mutable_dataset();
  if (d->kind() == v1::DATASET_KIND_FASHION_MNIST && d->path().empty()) d->set_path(kFashionMnistPath);
}

struct Cell {
  v1::TrialSpec spec;
  std::vector<std::string> labels;
};

// Builds and validates every cell; fails with the distinct problems found.
absl::StatusOr<std::vector<Cell>> BuildCells(const GridFile& file, int cells, const std::atomic<bool>* cancel) {
  std::vector<Cell> out(cells);
  CellProblems problems;
  for (int c = 0; c < cells; ++c) {
    if (Stopped(cancel)) return CancelledWhileReading();
    Cell& cell = out[c];
    cell.spec = file.base;
    const std::vector<size_t> indices = CellIndices(file.factors, c);
    for (size_t f = 0; f < file.factors.size(); ++f) {
      const FieldValue& value = file.factors[f].values[indices[f]];
      file.factors[f].field->apply(value, &cell.spec);
      cell.labels.push_back(value.label);
    }
    Canonicalize(&cell.spec);
    const absl::Status status = spec::ValidateTrialSpec(cell.spec);
    if (status.ok()) continue;
    for (absl::string_view line : absl::StrSplit(status.message(), '\n')) problems.Add(std::string(line), c);
  }
  if (!problems.empty()) return problems.ToStatus(file, cells);
  return out;
}

absl::StatusOr<Grid> Expand(GridFile file, const std::atomic<bool>* cancel) {
  double cells = 1;
  for (const Factor& f : file.factors) cells *= static_cast<double>(f.values.size());
  if (absl::Status size = CheckTrialCount(cells, static_cast<double>(file.seeds.size())); !size.ok()) return size;
  Grid grid;
  grid.name = file.name;
  grid.cells = static_cast<int>(cells);
  for (const Factor& f : file.factors) grid.factors.push_back(f.name);
  absl::StatusOr<std::vector<Cell>> built = BuildCells(file, grid.cells, cancel);
  if (!built.ok()) return built.status();
  grid.seeds = std::move(file.seeds);
  grid.trials.reserve(grid.seeds.size() * built->size());
  for (size_t s = 0; s < grid.seeds.size(); ++s) {
    const bool last = s + 1 == grid.seeds.size();  // the cells are not needed after this seed
    for (int c = 0; c < grid.cells; ++c) {
      if (Stopped(cancel)) return CancelledWhileReading();
      Cell& cell = (*built)[c];
      GridTrial trial;
      trial.spec = last ? std::move(cell.spec) : cell.spec;
      trial.spec.set_seed(grid.seeds[s]);
      trial.key = spec::TrialKey(trial.spec);
      trial.cell = c;
      trial.seed_rank = static_cast<int>(s);
      trial.values = last ? std::move(cell.labels) : cell.labels;
      grid.trials.push_back(std::move(trial));
    }
  }
  return grid;
}

absl::StatusOr<Grid> ParseRoot(const YAML::Node& root, const std::atomic<bool>* cancel) {
  absl::StatusOr<GridFile> file = FileReader(cancel).Read(root);
  if (!file.ok()) return file.status();
  return Expand(*std::move(file), cancel);
}

absl::Status TooLarge(uint64_t bytes) {
  return absl::InvalidArgumentError(absl::StrCat("file: ", bytes, " bytes; a grid file may have at most ",
                                                 kMaxGridFileBytes, " bytes (1 MiB)"));
}

}  // namespace

absl::StatusOr<Grid> ParseGridText(const std::string& yaml_text, const std::atomic<bool>* cancel) {
  if (yaml_text.size() > kMaxGridFileBytes) return TooLarge(yaml_text.size());
  const YamlBounds bounds{kMaxYamlAliases, kMaxYamlExpandedBytes, kMaxYamlValues, kMaxYamlDepth};
  if (absl::Status bounded = CheckYamlBounds(yaml_text, bounds); !bounded.ok())
    return absl::InvalidArgumentError(Shown(bounded.message(), kMaxErrorLineBytes));
  if (Stopped(cancel)) return CancelledWhileReading();
  try {
    return ParseRoot(YAML::Load(yaml_text), cancel);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(YamlErrorMessage(e));
  }
}

absl::StatusOr<Grid> ParseGridFile(const std::string& path, const std::atomic<bool>* cancel) {
  std::error_code error;
  if (!std::filesystem::exists(path, error)) return absl::NotFoundError("grid file not found: " + path);
  if (std::filesystem::is_directory(path, error))
    return absl::InvalidArgumentError("grid file is a directory: " + path);
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::ErrnoToStatus(errno, "cannot open grid file " + path);
  // At most one byte past the bound is read: a device or pipe without end is refused too.
  std::string text(kMaxGridFileBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) return absl::ErrnoToStatus(errno, "cannot read grid file " + path);
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxGridFileBytes) {
    const uint64_t size = std::filesystem::is_regular_file(path, error) ? std::filesystem::file_size(path, error) : 0;
    if (size > kMaxGridFileBytes) return TooLarge(size);
    return absl::InvalidArgumentError(absl::StrCat("file: more than ", kMaxGridFileBytes,
                                                   " bytes; a grid file may have at most ", kMaxGridFileBytes,
                                                   " bytes (1 MiB)"));
  }
  absl::StatusOr<Grid> grid = ParseGridText(text, cancel);
  if (!grid.ok()) return grid;
  if (absl::Status s = AttachDatasetDigests(&*grid); !s.ok()) return s;
  return grid;
}

absl::Status AttachDatasetDigests(Grid* grid) {
  std::map<std::pair<int, std::string>, std::string> digests;  // (kind, path) -> digest
  for (GridTrial& trial : grid->trials) {
    v1::DatasetSpec* dataset = trial.spec.mutable_dataset();
    const auto where = std::make_pair(int(dataset->kind()), dataset->path());
    auto it = digests.find(where);
    if (it == digests.end()) {
      absl::StatusOr<std::string> digest = engine::DatasetDigest(*dataset);
      if (!digest.ok())
        return absl::Status(digest.status().code(),
                            absl::StrCat("dataset.path: ", digest.status().message(),
                                         " (the machine that expands a grid hashes its dataset files, so that "
                                         "results are filed under their content)"));
      it = digests.emplace(where, *std::move(digest)).first;
    }
    if (it->second.empty()) continue;
    dataset->set_digest(it->second);
    trial.key = spec::TrialKey(trial.spec);
  }
  return absl::OkStatus();
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
    out->set_seed_rank(t.seed_rank);
  }
  return request;
}

absl::StatusOr<v1::SubmitGridRequest> SubmitRequestFromText(const std::string& text, bool dry_run,
                                                            const std::atomic<bool>* cancel) {
  absl::StatusOr<Grid> grid = ParseGridText(text, cancel);
  if (!grid.ok()) return grid.status();
  for (const GridTrial& trial : grid->trials) {
    const v1::DatasetKind kind = trial.spec.dataset().kind();
    if (kind == v1::DATASET_KIND_CIRCLE || kind == v1::DATASET_KIND_XOR || kind == v1::DATASET_KIND_GAUSS ||
        kind == v1::DATASET_KIND_SPIRAL)
      continue;
    return absl::InvalidArgumentError(absl::StrCat(
        "dataset.name: ", spec::NameOf(spec::DatasetKindNames(), kind),
        " is read from files; a grid file sent as text may use circle, xor, gauss and spiral only. "
        "Submit it with `actgrid submit FILE --server ...`, which attaches the content digests of its files"));
  }
  return ToSubmitRequest(*grid, dry_run);
}

}  // namespace actgrid::grid
