// The csv dataset: one sample per row of numbers, the label in one column (chosen
// by header name or 0-based index, last by default), an optional header row.
#include <algorithm>
#include <cfloat>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "worker/engine/dataset.h"

namespace actgrid::engine {
namespace {

// Larger files are refused rather than read into memory.
constexpr uintmax_t kMaxFileBytes = uintmax_t{1} << 31;
// Integer labels name classes directly, so they must stay small enough for an output layer.
constexpr double kMaxIntegerLabel = 65535;

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

bool IsBlank(std::string_view line) { return Trim(line).empty(); }

// The file's lines without line ends ("\n" or "\r\n") and without trailing blank lines.
absl::StatusOr<std::vector<std::string>> ReadLines(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  const uintmax_t size = std::filesystem::file_size(path, ec);
  if (!ec && size > kMaxFileBytes)
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": larger than ", kMaxFileBytes, " bytes"));
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
  }
  if (in.bad()) return absl::DataLossError(absl::StrCat(path, ": read error"));
  while (!lines.empty() && IsBlank(lines.back())) lines.pop_back();
  return lines;
}

// Splits at commas; a double-quoted span may hold commas, "" in it is a quote.
// Fields are trimmed of surrounding whitespace.
std::vector<std::string> SplitFields(std::string_view line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted && c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
      fields.back() += '"';
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  for (std::string& f : fields) f = std::string(Trim(f));
  return fields;
}

// The whole field as a finite number that fits a float (locale-independent).
std::optional<double> ParseNumber(std::string_view s) {
  if (s.size() > 1 && s[0] == '+' && s[1] != '-') s.remove_prefix(1);
  if (s.empty()) return std::nullopt;
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v) || std::abs(v) > FLT_MAX)
    return std::nullopt;
  return v;
}

// A label_column made only of digits is an index; anything else is a header name.
std::optional<size_t> AsIndex(std::string_view s) {
  size_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

bool AllNumericExcept(const std::vector<std::string>& fields, size_t skip) {
  for (size_t i = 0; i < fields.size(); ++i)
    if (i != skip && !ParseNumber(fields[i])) return false;
  return true;
}

// The first row is a header when a feature field is not a number. When only its
// label field is not a number, it is a header if the next row's label is a number,
// and otherwise the first of a file with string labels.
bool LooksLikeHeader(const std::vector<std::string>& lines, size_t label) {
  const std::vector<std::string> first = SplitFields(lines[0]);
  if (!AllNumericExcept(first, label)) return true;
  if (ParseNumber(first[label])) return false;
  if (lines.size() < 2) return true;
  const std::vector<std::string> second = SplitFields(lines[1]);
  return label < second.size() && ParseNumber(second[label]).has_value();
}

struct Layout {
  size_t width = 0;  // fields per row
  size_t label = 0;  // index of the label column
  bool header = false;
  std::vector<std::string> names;  // header fields, empty without a header
};

absl::StatusOr<Layout> ResolveLayout(const std::string& path, const std::string& label_column,
                                     const std::vector<std::string>& lines) {
  Layout l;
  const std::vector<std::string> first = SplitFields(lines[0]);
  l.width = first.size();
  if (l.width < 2)
    return absl::DataLossError(
        absl::StrCat(path, ":1: need at least 2 columns (a feature and the label)"));
  const std::optional<size_t> index = label_column.empty() ? l.width - 1 : AsIndex(label_column);
  if (index) {
    if (*index >= l.width)
      return absl::InvalidArgumentError(absl::StrCat(path, ": label column ", *index,
                                                     " is out of range (", l.width, " columns)"));
    l.label = *index;
    l.header = LooksLikeHeader(lines, l.label);
  } else {
    l.header = true;
    l.label = l.width;
    for (size_t i = 0; i < l.width; ++i)
      if (first[i] == label_column) l.label = i;
    if (l.label == l.width)
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": no column named \"", label_column, "\" in the header"));
  }
  if (l.header) l.names = first;
  return l;
}

// "data.csv:7: column 3 (\"petal\"): <what>", with 1-based line and column.
absl::Status FieldError(const std::string& path, size_t line, size_t column, const Layout& l,
                        const std::string& what) {
  const std::string name = l.names.empty() ? "" : absl::StrCat(" (\"", l.names[column], "\")");
  return absl::DataLossError(
      absl::StrCat(path, ":", line, ": column ", column + 1, name, ": ", what));
}

struct Parsed {
  Eigen::MatrixXf x;                // features x rows
  std::vector<std::string> labels;  // raw label fields, one per row
};

// Parses data row `row` (file line `line`) into column `row` of out.x.
absl::Status ParseRow(const std::string& path, const Layout& l, size_t line, Eigen::Index row,
                      const std::string& text, Parsed& out) {
  const std::vector<std::string> fields = SplitFields(text);
  if (fields.size() != l.width)
    return absl::DataLossError(
        absl::StrCat(path, ":", line, ": ", fields.size(), " fields, expected ", l.width));
  Eigen::Index feature = 0;
  for (size_t c = 0; c < l.width; ++c) {
    if (fields[c].empty()) return FieldError(path, line, c, l, "empty field");
    if (c == l.label) continue;
    const std::optional<double> v = ParseNumber(fields[c]);
    if (!v) return FieldError(path, line, c, l, absl::StrCat("not a number: \"", fields[c], "\""));
    out.x(feature++, row) = static_cast<float>(*v);
  }
  out.labels.push_back(fields[l.label]);
  return absl::OkStatus();
}

absl::StatusOr<Parsed> ParseRows(const std::string& path, const Layout& l,
                                 const std::vector<std::string>& lines) {
  const size_t first = l.header ? 1 : 0;
  const auto rows = static_cast<Eigen::Index>(lines.size() - first);
  if (rows < 2)
    return absl::DataLossError(absl::StrCat(path, ": need at least 2 data rows, got ", rows));
  Parsed out;
  out.x.resize(static_cast<Eigen::Index>(l.width - 1), rows);
  out.labels.reserve(static_cast<size_t>(rows));
  for (Eigen::Index r = 0; r < rows; ++r) {
    const size_t i = first + static_cast<size_t>(r);
    if (absl::Status s = ParseRow(path, l, i + 1, r, lines[i], out); !s.ok()) return s;
  }
  return out;
}

struct Labels {
  std::vector<int32_t> y;
  int classes = 0;
};

// Integers >= 0 are the class numbers; nullopt when some label is not one.
std::optional<Labels> IntegerLabels(const std::vector<std::string>& raw) {
  Labels out;
  out.y.reserve(raw.size());
  for (const std::string& s : raw) {
    const std::optional<double> v = ParseNumber(s);
    if (!v || *v < 0 || *v != std::floor(*v)) return std::nullopt;
    out.y.push_back(*v > kMaxIntegerLabel ? -1 : static_cast<int32_t>(*v));
    out.classes = std::max(out.classes, out.y.back() + 1);
  }
  return out;
}

// Each distinct string is a class, numbered in sorted (byte) order.
Labels StringLabels(const std::vector<std::string>& raw) {
  std::map<std::string, int32_t> index;
  for (const std::string& s : raw) index.emplace(s, 0);
  int32_t next = 0;
  for (auto& [name, i] : index) i = next++;
  Labels out;
  out.classes = next;
  for (const std::string& s : raw) out.y.push_back(index[s]);
  return out;
}

absl::StatusOr<Labels> EncodeLabels(const std::string& path, const Layout& l,
                                    const std::vector<std::string>& raw) {
  std::optional<Labels> labels = IntegerLabels(raw);
  if (!labels) labels = StringLabels(raw);
  const size_t first_line = l.header ? 2 : 1;
  int32_t lo = labels->y.front(), hi = lo;
  for (size_t r = 0; r < labels->y.size(); ++r) {
    if (labels->y[r] < 0)
      return FieldError(path, first_line + r, l.label, l,
                        absl::StrCat("integer label ", raw[r], " is above ", kMaxIntegerLabel));
    lo = std::min(lo, labels->y[r]);
    hi = std::max(hi, labels->y[r]);
  }
  if (lo == hi)
    return absl::DataLossError(absl::StrCat(path, ": every row has the label \"", raw.front(),
                                            "\"; need at least 2 classes"));
  return *std::move(labels);
}

}  // namespace

namespace dataset_internal {

absl::StatusOr<Dataset> LoadCsvDataset(const v1::DatasetSpec& spec) {
  const std::string& path = spec.path();
  if (path.empty()) return absl::InvalidArgumentError("the csv dataset needs a path (a CSV file)");
  if (absl::Status s = CheckTestFraction(spec); !s.ok()) return s;
  absl::StatusOr<std::vector<std::string>> lines = ReadLines(path);
  if (!lines.ok()) return lines.status();
  if (lines->empty()) return absl::DataLossError(absl::StrCat(path, ": empty file"));
  absl::StatusOr<Layout> layout = ResolveLayout(path, spec.label_column(), *lines);
  if (!layout.ok()) return layout.status();
  absl::StatusOr<Parsed> parsed = ParseRows(path, *layout, *lines);
  if (!parsed.ok()) return parsed.status();
  absl::StatusOr<Labels> labels = EncodeLabels(path, *layout, parsed->labels);
  if (!labels.ok()) return labels.status();
  Dataset data;
  data.features = static_cast<int>(layout->width - 1);
  data.classes = labels->classes;
  SplitShuffled(parsed->x, labels->y, spec.test_fraction(), spec.seed(), &data);
  return data;
}

}  // namespace dataset_internal
}  // namespace actgrid::engine
