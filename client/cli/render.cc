// Rendering of CLI output (see render.h).
#include "client/cli/render.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/cli/text.h"
#include "common/spec/echo.h"

namespace actgrid::cli {
namespace {

long DisplayWidth(const std::string& s) {  // UTF-8 code points ("±" is one column)
  return std::count_if(s.begin(), s.end(), [](char ch) { return (ch & 0xC0) != 0x80; });
}

}  // namespace

absl::StatusOr<Format> ParseFormat(const std::string& name, const std::vector<Format>& allowed) {
  static const std::pair<const char*, Format> kNames[] = {{"table", Format::kTable}, {"csv", Format::kCsv},
                                                          {"json", Format::kJson},   {"svg", Format::kSvg},
                                                          {"jsonl", Format::kJsonl}, {"matrix", Format::kMatrix}};
  std::vector<std::string> valid;
  for (const auto& [text, format] : kNames) {
    if (std::find(allowed.begin(), allowed.end(), format) == allowed.end()) continue;
    if (name == text) return format;
    valid.push_back(text);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--format: ", spec::Quoted(name), " is not one of ", absl::StrJoin(valid, ", ")));
}

std::string AlignColumns(const std::vector<std::string>& raw_header,
                         const std::vector<std::vector<std::string>>& raw_rows, size_t left) {
  // Cells are escaped before they are measured, so escaped text stays aligned.
  std::vector<std::string> header;
  for (const auto& cell : raw_header) header.push_back(spec::EscapeControls(cell));
  std::vector<std::vector<std::string>> rows;
  for (const auto& raw : raw_rows) {
    rows.emplace_back();
    for (const auto& cell : raw) rows.back().push_back(spec::EscapeControls(cell));
  }
  std::vector<long> w(header.size());
  for (size_t i = 0; i < header.size(); ++i) {
    w[i] = DisplayWidth(header[i]);
    for (const auto& r : rows) w[i] = std::max(w[i], DisplayWidth(r[i]));
  }
  auto render = [&](const std::vector<std::string>& r) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      const std::string pad(w[i] - DisplayWidth(r[i]), ' ');
      line += i < left ? r[i] + (i + 1 < r.size() ? pad : "") : pad + r[i];
      if (i + 1 < r.size()) line += "  ";
    }
    return line + "\n";
  };
  std::string out = render(header);
  long total = 0;
  for (long x : w) total += x + 2;
  out += std::string(std::max(0L, total - 2), '-') + "\n";
  for (const auto& r : rows) out += render(r);
  return out;
}

std::string MetricTitle(const std::string& metric, const std::string& summary) {
  return summary.empty() ? metric : absl::StrCat(metric, " (", summary, ")");
}

std::string WhereText(const google::protobuf::RepeatedPtrField<v1::Filter>& where) {
  std::vector<std::string> parts;
  for (const auto& f : where) parts.push_back(absl::StrCat(f.factor(), "=", absl::StrJoin(f.values(), "|")));
  return absl::StrJoin(parts, ",");
}

std::string JsonWhere(const google::protobuf::RepeatedPtrField<v1::Filter>& where) {
  std::vector<std::pair<std::string, std::string>> fields;
  for (const auto& f : where) {
    std::vector<std::string> values;
    for (const auto& v : f.values()) values.push_back(JsonLabel(v));
    fields.emplace_back(f.factor(), JsonArray(values));
  }
  return JsonObject(fields);
}

std::string JsonGroup(const google::protobuf::RepeatedPtrField<v1::GroupValue>& group) {
  std::vector<std::pair<std::string, std::string>> fields;
  for (const auto& g : group) fields.emplace_back(g.factor(), JsonLabel(g.value()));
  return JsonObject(fields);
}

std::string Heading(const std::string& what, const std::string& grid, int64_t grid_id,
                    const google::protobuf::RepeatedPtrField<v1::Filter>& where, int finished, int trials) {
  std::string out = absl::StrCat(what, " of grid ", grid, " (", grid_id, ")");
  if (!where.empty()) absl::StrAppend(&out, " where ", WhereText(where));
  if (finished < trials) absl::StrAppend(&out, ": partial, ", finished, " of ", trials, " trials finished");
  return out + "\n";
}

std::string RenderCompareMatrix(const v1::CompareResponse& c) {
  std::vector<std::string> rows, columns;
  std::map<std::pair<std::string, std::string>, std::string> cells;
  for (const auto& r : c.rows()) {
    if (r.group_size() != 2) continue;
    const std::string& row = r.group(0).value();
    const std::string& column = r.group(1).value();
    if (std::find(rows.begin(), rows.end(), row) == rows.end()) rows.push_back(row);
    if (std::find(columns.begin(), columns.end(), column) == columns.end()) columns.push_back(column);
    cells[{row, column}] = r.n() > 0 ? Short(r.mean()) : "-";
  }
  std::string out = absl::StrCat("| ", c.by_size() == 2 ? absl::StrCat(c.by(0), " \\ ", c.by(1)) : "", " |");
  for (const auto& column : columns) absl::StrAppend(&out, " ", column, " |");
  absl::StrAppend(&out, "\n|---|");
  for (size_t i = 0; i < columns.size(); ++i) absl::StrAppend(&out, "---|");
  out += "\n";
  for (const auto& row : rows) {
    absl::StrAppend(&out, "| ", row, " |");
    for (const auto& column : columns) {
      const auto it = cells.find({row, column});
      absl::StrAppend(&out, " ", it == cells.end() ? "-" : it->second, " |");
    }
    out += "\n";
  }
  return TerminalText(out);
}

std::string RenderCompare(const v1::CompareResponse& c, Format format) {
  if (format == Format::kMatrix) return RenderCompareMatrix(c);
  if (format == Format::kJson) {
    std::vector<std::string> by, rows;
    for (const auto& f : c.by()) by.push_back(JsonString(f));
    for (const auto& r : c.rows()) {
      rows.push_back(JsonObject({{"group", JsonGroup(r.group())},
                                 {"n", absl::StrCat(r.n())},
                                 {"mean", JsonNumber(r.mean())},
                                 {"std", JsonNumber(r.std())},
                                 {"ci95_low", JsonNumber(r.ci95_low())},
                                 {"ci95_high", JsonNumber(r.ci95_high())},
                                 {"median", JsonNumber(r.median())},
                                 {"min", JsonNumber(r.min())},
                                 {"max", JsonNumber(r.max())},
                                 {"diverged", absl::StrCat(r.diverged())},
                                 {"missing", absl::StrCat(r.missing())},
                                 {"trials", absl::StrCat(r.trials())}}));
    }
    return JsonObject({{"grid", JsonString(c.grid())},
                       {"grid_id", absl::StrCat(c.grid_id())},
                       {"metric", JsonString(c.metric())},
                       {"summary", c.summary().empty() ? "null" : JsonString(c.summary())},
                       {"by", JsonArray(by)},
                       {"where", JsonWhere(c.where())},
                       {"finished", absl::StrCat(c.finished())},
                       {"trials", absl::StrCat(c.trials())},
                       {"rows", JsonArray(rows)}}) +
           "\n";
  }
  if (format == Format::kCsv) {
    std::vector<std::string> header(c.by().begin(), c.by().end());
    for (const char* h : {"n", "mean", "std", "ci95_low", "ci95_high", "median", "min", "max", "diverged", "missing",
                          "trials"})
      header.push_back(h);
    std::string out = CsvLine(header);
    for (const auto& r : c.rows()) {
      std::vector<std::string> f;
      for (const auto& g : r.group()) f.push_back(g.value());
      f.insert(f.end(), {absl::StrCat(r.n()), CsvNumber(r.mean()), CsvNumber(r.std()), CsvNumber(r.ci95_low()),
                         CsvNumber(r.ci95_high()), CsvNumber(r.median()), CsvNumber(r.min()), CsvNumber(r.max()),
                         absl::StrCat(r.diverged()), absl::StrCat(r.missing()), absl::StrCat(r.trials())});
      out += CsvLine(f);
    }
    return out;
  }
  std::vector<std::string> header(c.by().begin(), c.by().end());
  for (const char* h : {"n", "mean", "std", "95% CI", "median", "min", "max", "diverged"}) header.push_back(h);
  std::vector<std::vector<std::string>> rows;
  bool missing = false;
  for (const auto& r : c.rows()) {
    std::vector<std::string> row;
    for (const auto& g : r.group()) row.push_back(g.value());
    missing |= r.missing() > 0;
    row.push_back(r.missing() ? absl::StrCat(r.n(), "/", r.n() + r.missing()) : absl::StrCat(r.n()));
    row.push_back(Fixed(r.mean()));
    row.push_back(Fixed(r.std()));
    row.push_back(Interval(r.ci95_low(), r.ci95_high()));
    row.push_back(Fixed(r.median()));
    row.push_back(Fixed(r.min()));
    row.push_back(Fixed(r.max()));
    row.push_back(absl::StrCat(r.diverged()));
    rows.push_back(std::move(row));
  }
  std::string out = Heading(MetricTitle(c.metric(), c.summary()), c.grid(), c.grid_id(), c.where(), c.finished(),
                            c.trials());
  out += AlignColumns(header, rows, c.by_size());
  if (missing)
    absl::StrAppend(&out, "n = k/m: only k of the m finished trials have a value of ", c.metric(),
                    " (e.g. a target never reached)\n");
  return TerminalText(out);
}

std::string RenderRunTable(const v1::CompareResponse& metric, const v1::CompareResponse& dead) {
  std::vector<std::string> header(metric.by().begin(), metric.by().end());
  for (const std::string& h : {metric.metric() + " (mean ± std)", std::string("95% CI"), std::string("n"),
                              std::string("diverged"), std::string("dead (final)")})
    header.push_back(h);
  std::vector<std::vector<std::string>> rows;
  bool missing = false;
  for (int i = 0; i < metric.rows_size(); ++i) {
    const auto& r = metric.rows(i);
    std::vector<std::string> row;
    for (const auto& g : r.group()) row.push_back(g.value());
    // A single seed has no spread to show.
    row.push_back(!std::isfinite(r.mean()) ? "-"
                  : !std::isfinite(r.std()) ? absl::StrFormat("%.4f         ", r.mean())
                                            : absl::StrFormat("%.4f ± %.4f", r.mean(), r.std()));
    row.push_back(std::isfinite(r.ci95_low()) ? absl::StrFormat("[%.4f, %.4f]", r.ci95_low(), r.ci95_high()) : "-");
    missing |= r.missing() > 0;
    row.push_back(r.missing() ? absl::StrCat(r.n(), "/", r.n() + r.missing()) : absl::StrCat(r.n()));
    row.push_back(absl::StrCat(r.diverged()));
    row.push_back(i < dead.rows_size() ? Fixed(dead.rows(i).mean(), 3) : "-");
    rows.push_back(std::move(row));
  }
  std::string out = AlignColumns(header, rows, metric.by_size());
  if (missing)
    absl::StrAppend(&out, "n = k/m: only k of the m finished trials have a value of ", metric.metric(),
                    " (-1 or NaN, e.g. a target never reached, is left out)\n");
  return TerminalText(out);
}

namespace {

const char* GridStateName(v1::GridState s) {
  switch (s) {
    case v1::GRID_STATE_RUNNING: return "RUNNING";
    case v1::GRID_STATE_DONE: return "DONE";
    case v1::GRID_STATE_CANCELLED: return "CANCELLED";
    default: return "UNKNOWN";
  }
}

std::string CountsText(const v1::Grid& g) {
  const auto& c = g.counts();
  const int finished = c.succeeded() + c.diverged() + c.failed() + c.cancelled();
  std::string out = absl::StrCat(finished, "/", g.trials(), " trials");
  std::vector<std::string> parts;
  if (c.leased()) parts.push_back(absl::StrCat(c.leased(), " leased"));
  if (c.diverged()) parts.push_back(absl::StrCat(c.diverged(), " diverged"));
  if (c.failed()) parts.push_back(absl::StrCat(c.failed(), " failed"));
  if (c.cancelled()) parts.push_back(absl::StrCat(c.cancelled(), " cancelled"));
  if (!parts.empty()) absl::StrAppend(&out, " (", absl::StrJoin(parts, ", "), ")");
  return out;
}

std::string Percent(const v1::Grid& g) {
  return g.epochs_total() > 0 ? absl::StrFormat("%.0f%%", 100.0 * g.epochs_done() / g.epochs_total()) : "-";
}

}  // namespace

std::string GridLine(const v1::Grid& g) {
  return TerminalText(absl::StrCat("grid ", g.id(), " ", g.name(), ": ", GridStateName(g.state()), ", ",
                                   CountsText(g), ", ", Percent(g), " of epochs"));
}

std::string EnginesLine(const v1::Grid& g) {
  if (g.engines_size() == 0) return "";
  std::vector<std::string> parts;
  for (const v1::EngineBuild& e : g.engines())
    parts.push_back(absl::StrCat(e.build().empty() ? absl::StrCat("engine ", e.engine_version(), ", build not recorded")
                                                   : e.build(),
                                 " (", e.trials(), e.trials() == 1 ? " trial)" : " trials)"));
  return TerminalText(absl::StrCat("measured by ", absl::StrJoin(parts, "; ")));
}

std::string RenderGrids(const std::vector<v1::Grid>& grids) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& g : grids) {
    char when[32] = "-";
    const std::time_t t = g.created_ms() / 1000;
    std::strftime(when, sizeof(when), "%Y-%m-%d %H:%M", std::localtime(&t));
    rows.push_back({absl::StrCat(g.id()), g.name(), GridStateName(g.state()), CountsText(g), Percent(g), when});
  }
  return AlignColumns({"id", "name", "state", "trials", "epochs", "submitted"}, rows, 3);
}

std::string RenderWorkers(const std::vector<v1::WorkerInfo>& workers, int64_t now_ms) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& w : workers) {
    const double ago = (now_ms - w.last_seen_ms()) / 1000.0;
    rows.push_back({w.worker_id(), w.hostname(), absl::StrCat(w.threads()), absl::StrCat(w.leased()),
                    absl::StrCat(w.completed()), absl::StrCat(w.failed()),
                    ago < 1 ? "now" : absl::StrFormat("%.0fs ago", ago)});
  }
  return AlignColumns({"worker", "host", "slots", "leased", "completed", "failed", "last seen"}, rows, 2);
}

}  // namespace actgrid::cli
