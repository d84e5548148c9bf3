// The run command's comparison table (see table.h).
#include "client/cli/table.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/descriptor.h"

namespace actgrid::cli {
namespace {

using google::protobuf::FieldDescriptor;

bool IsNumeric(const FieldDescriptor* f) {
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_INT32:
    case FieldDescriptor::CPPTYPE_INT64:
    case FieldDescriptor::CPPTYPE_BOOL:
      return !f->is_repeated();
    default:
      return false;
  }
}

}  // namespace

std::vector<std::string> SummaryMetricNames() {
  std::vector<std::string> names;
  const auto* desc = v1::TrialSummary::descriptor();
  for (int i = 0; i < desc->field_count(); ++i)
    if (IsNumeric(desc->field(i))) names.push_back(desc->field(i)->name());
  return names;
}

absl::StatusOr<double> SummaryMetric(const v1::TrialSummary& summary, const std::string& name) {
  const FieldDescriptor* f = v1::TrialSummary::descriptor()->FindFieldByName(name);
  if (!f || !IsNumeric(f))
    return absl::NotFoundError(absl::StrFormat("unknown metric \"%s\"; valid metrics: %s", name,
                                               absl::StrJoin(SummaryMetricNames(), ", ")));
  const auto* r = summary.GetReflection();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_DOUBLE: return r->GetDouble(summary, f);
    case FieldDescriptor::CPPTYPE_INT32: {
      const int32_t v = r->GetInt32(summary, f);
      const bool sentinel = name == "epochs_to_target" || name == "diverged_epoch";
      return sentinel && v < 0 ? NAN : double(v);
    }
    case FieldDescriptor::CPPTYPE_INT64: return double(r->GetInt64(summary, f));
    default: return r->GetBool(summary, f) ? 1.0 : 0.0;
  }
}

std::vector<CellStats> AggregateCells(const grid::Grid& grid,
                                      const std::vector<std::optional<v1::TrialResult>>& results,
                                      const std::string& metric) {
  std::vector<CellStats> cells(grid.cells);
  std::vector<std::vector<double>> values(grid.cells), dead(grid.cells);
  for (size_t i = 0; i < grid.trials.size(); ++i) {
    const grid::GridTrial& t = grid.trials[i];
    CellStats& c = cells[t.cell];
    c.values = t.values;
    if (i >= results.size() || !results[i]) continue;
    const v1::TrialSummary& s = results[i]->summary();
    ++c.n;
    c.diverged += s.diverged();
    const auto v = SummaryMetric(s, metric);
    if (v.ok() && !std::isnan(*v)) {
      values[t.cell].push_back(*v);
      ++c.valued;
    }
    dead[t.cell].push_back(s.final_dead_fraction());
  }
  for (int k = 0; k < grid.cells; ++k) {
    const auto& v = values[k];
    CellStats& c = cells[k];
    c.mean = NAN;
    c.std = NAN;
    if (!v.empty()) {
      double sum = 0;
      for (double x : v) sum += x;
      c.mean = sum / v.size();
      double ss = 0;
      for (double x : v) ss += (x - c.mean) * (x - c.mean);
      c.std = v.size() > 1 ? std::sqrt(ss / (v.size() - 1)) : NAN;  // sample std (n - 1)
    }
    double dsum = 0;
    for (double x : dead[k]) dsum += x;
    c.dead_mean = dead[k].empty() ? NAN : dsum / dead[k].size();
  }
  return cells;
}

std::string RenderTable(const grid::Grid& grid, const std::vector<CellStats>& cells,
                        const std::string& metric) {
  std::vector<std::string> header = grid.factors;
  header.push_back(metric + " (mean ± std)");
  header.push_back("n");
  header.push_back("diverged");
  header.push_back("dead (final)");
  std::vector<std::vector<std::string>> rows;
  for (const CellStats& c : cells) {
    std::vector<std::string> row = c.values;
    row.resize(grid.factors.size());
    // A single seed has no spread to show.
    row.push_back(std::isnan(c.mean)  ? "-"
                  : std::isnan(c.std) ? absl::StrFormat("%.4f         ", c.mean)
                                      : absl::StrFormat("%.4f ± %.4f", c.mean, c.std));
    row.push_back(c.valued == c.n ? absl::StrCat(c.n) : absl::StrCat(c.valued, "/", c.n));
    row.push_back(absl::StrCat(c.diverged));
    row.push_back(std::isnan(c.dead_mean) ? "-" : absl::StrFormat("%.3f", c.dead_mean));
    rows.push_back(std::move(row));
  }
  // Display width counts UTF-8 code points ("±" is one column, two bytes).
  auto width = [](const std::string& s) {
    return std::count_if(s.begin(), s.end(), [](char ch) { return (ch & 0xC0) != 0x80; });
  };
  std::vector<long> w(header.size());
  for (size_t i = 0; i < header.size(); ++i) {
    w[i] = width(header[i]);
    for (const auto& r : rows) w[i] = std::max(w[i], long(width(r[i])));
  }
  auto render = [&](const std::vector<std::string>& r) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      const bool left = i < grid.factors.size();
      const std::string pad(w[i] - width(r[i]), ' ');
      line += left ? r[i] + pad : pad + r[i];
      if (i + 1 < r.size()) line += "  ";
    }
    return line + "\n";
  };
  std::string out = render(header);
  long total = 0;
  for (long x : w) total += x + 2;
  out += std::string(std::max(0L, total - 2), '-') + "\n";
  for (const auto& r : rows) out += render(r);
  const bool partial = std::any_of(cells.begin(), cells.end(), [](const CellStats& c) { return c.valued < c.n; });
  if (partial)
    out += absl::StrFormat("n = k/n: only k of the n trials have a value of %s (-1 or NaN, e.g. a target "
                           "never reached, is left out)\n", metric);
  return out;
}

}  // namespace actgrid::cli
