// Rendering of CLI output (see render.h).
#include "client/cli/render.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace actgrid::cli {
namespace {

// Shortest decimal that reads back as the same double.
std::string Exact(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, r.ptr);
}

std::string JsonNumber(double v) { return std::isfinite(v) ? Exact(v) : "null"; }

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) out += absl::StrFormat("\\u%04x", c);
        else out += c;
    }
  }
  return out + "\"";
}

// A factor label that is a number ("4", "0.1") is a JSON number, others strings.
std::string JsonLabel(const std::string& label) {
  double v;
  if (absl::SimpleAtod(label, &v) && std::isfinite(v) && label.find_first_of("xX") == std::string::npos)
    return label.find_first_not_of("0123456789.-+eE") == std::string::npos ? label : JsonString(label);
  return JsonString(label);
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string CsvNumber(double v) { return std::isfinite(v) ? Exact(v) : ""; }

std::string Fixed(double v, int digits = 4) { return std::isfinite(v) ? absl::StrFormat("%.*f", digits, v) : "-"; }

long DisplayWidth(const std::string& s) {  // UTF-8 code points ("±" is one column)
  return std::count_if(s.begin(), s.end(), [](char ch) { return (ch & 0xC0) != 0x80; });
}

}  // namespace

absl::StatusOr<Format> ParseFormat(const std::string& name) {
  if (name == "table") return Format::kTable;
  if (name == "csv") return Format::kCsv;
  if (name == "json") return Format::kJson;
  return absl::InvalidArgumentError(absl::StrCat("--format: \"", name, "\" is not one of table, csv, json"));
}

std::string AlignColumns(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
                         size_t left) {
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

std::string RenderCompare(const v1::CompareResponse& c, Format format) {
  if (format == Format::kJson) {
    std::vector<std::string> by, rows;
    for (const auto& f : c.by()) by.push_back(JsonString(f));
    for (const auto& r : c.rows()) {
      std::vector<std::string> group;
      for (const auto& g : r.group()) group.push_back(JsonString(g.factor()) + ": " + JsonLabel(g.value()));
      rows.push_back(absl::StrCat("{\"group\": {", absl::StrJoin(group, ", "), "}, \"n\": ", r.n(),
                                  ", \"mean\": ", JsonNumber(r.mean()), ", \"std\": ", JsonNumber(r.std()),
                                  ", \"ci95_low\": ", JsonNumber(r.ci95_low()), ", \"ci95_high\": ",
                                  JsonNumber(r.ci95_high()), ", \"min\": ", JsonNumber(r.min()),
                                  ", \"max\": ", JsonNumber(r.max()), ", \"diverged\": ", r.diverged(),
                                  ", \"missing\": ", r.missing(), "}"));
    }
    return absl::StrCat("{\"grid\": ", JsonString(c.grid()), ", \"grid_id\": ", c.grid_id(),
                        ", \"metric\": ", JsonString(c.metric()), ", \"by\": [", absl::StrJoin(by, ", "),
                        "], \"finished\": ", c.finished(), ", \"trials\": ", c.trials(), ", \"rows\": [",
                        absl::StrJoin(rows, ", "), "]}\n");
  }
  if (format == Format::kCsv) {
    std::vector<std::string> header(c.by().begin(), c.by().end());
    for (const char* h : {"n", "mean", "std", "ci95_low", "ci95_high", "min", "max", "diverged", "missing"})
      header.push_back(h);
    std::string out;
    for (size_t i = 0; i < header.size(); ++i) out += (i ? "," : "") + CsvField(header[i]);
    out += "\n";
    for (const auto& r : c.rows()) {
      std::vector<std::string> f;
      for (const auto& g : r.group()) f.push_back(CsvField(g.value()));
      f.insert(f.end(), {absl::StrCat(r.n()), CsvNumber(r.mean()), CsvNumber(r.std()), CsvNumber(r.ci95_low()),
                         CsvNumber(r.ci95_high()), CsvNumber(r.min()), CsvNumber(r.max()),
                         absl::StrCat(r.diverged()), absl::StrCat(r.missing())});
      out += absl::StrJoin(f, ",") + "\n";
    }
    return out;
  }
  std::vector<std::string> header(c.by().begin(), c.by().end());
  for (const char* h : {"n", "mean", "std", "95% CI", "min", "max", "diverged"}) header.push_back(h);
  std::vector<std::vector<std::string>> rows;
  bool missing = false;
  for (const auto& r : c.rows()) {
    std::vector<std::string> row;
    for (const auto& g : r.group()) row.push_back(g.value());
    missing |= r.missing() > 0;
    row.push_back(r.missing() ? absl::StrCat(r.n(), "/", r.n() + r.missing()) : absl::StrCat(r.n()));
    row.push_back(Fixed(r.mean()));
    row.push_back(Fixed(r.std()));
    row.push_back(std::isfinite(r.ci95_low()) ? absl::StrFormat("[%.4f, %.4f]", r.ci95_low(), r.ci95_high()) : "-");
    row.push_back(Fixed(r.min()));
    row.push_back(Fixed(r.max()));
    row.push_back(absl::StrCat(r.diverged()));
    rows.push_back(std::move(row));
  }
  std::string out = absl::StrCat(c.metric(), " of grid ", c.grid(), " (", c.grid_id(), ")");
  if (c.finished() < c.trials())
    absl::StrAppend(&out, ": partial, ", c.finished(), " of ", c.trials(), " trials finished");
  out += "\n" + AlignColumns(header, rows, c.by_size());
  if (missing)
    absl::StrAppend(&out, "n = k/m: only k of the m finished trials have a value of ", c.metric(),
                    " (e.g. a target never reached)\n");
  return out;
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
  return out;
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
  return absl::StrCat("grid ", g.id(), " ", g.name(), ": ", GridStateName(g.state()), ", ", CountsText(g), ", ",
                      Percent(g), " of epochs");
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
