// Rendering of the analysis commands (see render_analysis.h).
#include "client/cli/render_analysis.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/cli/text.h"
#include "common/rpc/rpc.h"
#include "server/scheduler/transitions.h"
#include "google/protobuf/descriptor.h"

namespace actgrid::cli {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::RepeatedPtrField;

std::vector<std::string> Labels(const RepeatedPtrField<v1::GroupValue>& group) {
  std::vector<std::string> out;
  for (const auto& g : group) out.push_back(g.value());
  return out;
}

std::string GroupText(const RepeatedPtrField<v1::GroupValue>& group) {
  std::vector<std::string> parts;
  for (const auto& g : group) parts.push_back(absl::StrCat(g.factor(), "=", g.value()));
  return parts.empty() ? "all trials" : absl::StrJoin(parts, ", ");
}

std::string Count(int value) { return absl::StrCat(value); }

// "mean ± half-width" with 4 significant digits, or the mean alone.
std::string MeanPm(const v1::LayerStat& s) {
  if (s.n() == 0) return "-";
  if (!std::isfinite(s.ci95_high())) return Short(s.mean());
  return absl::StrCat(Short(s.mean()), " ± ", Short((s.ci95_high() - s.ci95_low()) / 2));
}

// ---- curves ----

std::vector<int> ShownEpochs(int last) {
  std::vector<int> shown;
  const int step = last <= 20 ? 1 : (last + 9) / 10;
  for (int e = 0; e <= last; e += step) shown.push_back(e);
  if (shown.back() != last) shown.push_back(last);
  return shown;
}

std::string CurvesSvg(const v1::CurvesResponse& c) {
  constexpr double kW = 800, kH = 480, kLeft = 70, kRight = 220, kTop = 40, kBottom = 50;
  static const char* kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                  "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  double x_max = 1, y_min = INFINITY, y_max = -INFINITY;
  for (const auto& g : c.groups())
    for (const auto& p : g.points()) {
      x_max = std::max(x_max, double(p.epoch()));
      for (double v : {p.mean(), p.ci95_low(), p.ci95_high()})
        if (std::isfinite(v)) y_min = std::min(y_min, v), y_max = std::max(y_max, v);
    }
  if (!std::isfinite(y_min)) y_min = 0, y_max = 1;
  if (y_max - y_min < 1e-12) y_min -= 0.5, y_max += 0.5;
  const double pw = kW - kLeft - kRight, ph = kH - kTop - kBottom;
  auto x = [&](double e) { return kLeft + pw * e / x_max; };
  auto y = [&](double v) { return kTop + ph * (1 - (v - y_min) / (y_max - y_min)); };
  std::string title = absl::StrCat(c.metric(), c.has_layer() ? absl::StrCat(" (layer ", c.layer(), ")") : "",
                                   " of grid ", c.grid(), ", mean and 95% band over seeds");
  if (c.finished() < c.trials()) absl::StrAppend(&title, " (partial: ", c.finished(), " of ", c.trials(), " trials)");
  std::string out = absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
      kW, kH, kW, kH);
  auto escape = [](const std::string& s) {  // XML text; control characters are not XML and are shown escaped
    std::string o;
    for (char ch : TerminalText(s))
      o += ch == '<' ? "&lt;" : ch == '>' ? "&gt;" : ch == '&' ? "&amp;" : std::string(1, ch);
    return o;
  };
  absl::StrAppendFormat(&out, "<text x=\"%.0f\" y=\"22\" font-size=\"14\">%s</text>\n", kLeft, escape(title));
  // Axes and ticks.
  absl::StrAppendFormat(&out, "<path d=\"M%.1f %.1f V%.1f H%.1f\" stroke=\"black\" fill=\"none\"/>\n", kLeft, kTop,
                        kTop + ph, kLeft + pw);
  for (int i = 0; i <= 5; ++i) {
    const double e = x_max * i / 5, v = y_min + (y_max - y_min) * i / 5;
    absl::StrAppendFormat(&out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", x(e),
                          kTop + ph + 18, Short(std::round(e)));
    absl::StrAppendFormat(&out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", kLeft - 6, y(v) + 4,
                          Short(v));
    absl::StrAppendFormat(&out, "<path d=\"M%.1f %.1f H%.1f\" stroke=\"#ddd\"/>\n", kLeft, y(v), kLeft + pw);
  }
  absl::StrAppendFormat(&out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">epoch</text>\n", kLeft + pw / 2,
                        kH - 10);
  for (int gi = 0; gi < c.groups_size(); ++gi) {
    const auto& g = c.groups(gi);
    const char* color = kColors[gi % 10];
    std::string upper, lower, line;
    for (const auto& p : g.points()) {
      if (std::isfinite(p.ci95_low())) {
        absl::StrAppendFormat(&upper, "%s%.1f,%.1f", upper.empty() ? "" : " ", x(p.epoch()), y(p.ci95_high()));
        lower = absl::StrFormat("%.1f,%.1f ", x(p.epoch()), y(p.ci95_low())) + lower;
      }
      absl::StrAppendFormat(&line, "%s%.1f,%.1f", line.empty() ? "" : " ", x(p.epoch()), y(p.mean()));
    }
    if (!upper.empty())
      absl::StrAppendFormat(&out, "<polygon points=\"%s %s\" fill=\"%s\" fill-opacity=\"0.18\" stroke=\"none\"/>\n",
                            upper, lower, color);
    absl::StrAppendFormat(&out, "<polyline points=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\"/>\n", line,
                          color);
    const double ly = kTop + 10 + 18 * gi;
    absl::StrAppendFormat(&out, "<path d=\"M%.1f %.1f h18\" stroke=\"%s\" stroke-width=\"3\"/>\n", kW - kRight + 12,
                          ly, color);
    absl::StrAppendFormat(&out, "<text x=\"%.1f\" y=\"%.1f\">%s (n=%d)</text>\n", kW - kRight + 36, ly + 4,
                          escape(GroupText(g.group())), g.trials());
  }
  return out + "</svg>\n";
}

}  // namespace

std::string RenderCurves(const v1::CurvesResponse& c, Format format) {
  if (format == Format::kSvg) return CurvesSvg(c);
  if (format == Format::kJson) {
    std::vector<std::string> groups;
    for (const auto& g : c.groups()) {
      std::vector<std::string> epoch, n, mean, std, low, high;
      for (const auto& p : g.points()) {
        epoch.push_back(Count(p.epoch()));
        n.push_back(Count(p.n()));
        mean.push_back(JsonNumber(p.mean()));
        std.push_back(JsonNumber(p.std()));
        low.push_back(JsonNumber(p.ci95_low()));
        high.push_back(JsonNumber(p.ci95_high()));
      }
      groups.push_back(JsonObject({{"group", JsonGroup(g.group())},
                                   {"trials", Count(g.trials())},
                                   {"diverged", Count(g.diverged())},
                                   {"epoch", JsonArray(epoch)},
                                   {"n", JsonArray(n)},
                                   {"mean", JsonArray(mean)},
                                   {"std", JsonArray(std)},
                                   {"ci95_low", JsonArray(low)},
                                   {"ci95_high", JsonArray(high)}}));
    }
    std::vector<std::string> by;
    for (const auto& f : c.by()) by.push_back(JsonString(f));
    return JsonObject({{"grid", JsonString(c.grid())},
                       {"grid_id", absl::StrCat(c.grid_id())},
                       {"metric", JsonString(c.metric())},
                       {"layer", c.has_layer() ? Count(c.layer()) : "null"},
                       {"by", JsonArray(by)},
                       {"where", JsonWhere(c.where())},
                       {"finished", Count(c.finished())},
                       {"trials", Count(c.trials())},
                       {"groups", JsonArray(groups)}}) +
           "\n";
  }
  std::vector<std::string> header(c.by().begin(), c.by().end());
  if (format == Format::kCsv) {
    for (const char* h : {"epoch", "n", "mean", "std", "ci95_low", "ci95_high"}) header.push_back(h);
    std::string out = CsvLine(header);
    for (const auto& g : c.groups()) {
      const std::vector<std::string> labels = Labels(g.group());
      for (const auto& p : g.points()) {
        std::vector<std::string> f = labels;
        f.insert(f.end(), {Count(p.epoch()), Count(p.n()), CsvNumber(p.mean()), CsvNumber(p.std()),
                           CsvNumber(p.ci95_low()), CsvNumber(p.ci95_high())});
        out += CsvLine(f);
      }
    }
    return out;
  }
  for (const char* h : {"epoch", "n", "mean", "95% CI"}) header.push_back(h);
  std::vector<std::vector<std::string>> rows;
  bool thinned = false;
  for (const auto& g : c.groups()) {
    if (g.points().empty()) continue;
    const int last = g.points(g.points_size() - 1).epoch();
    const std::vector<int> shown = ShownEpochs(last);
    thinned |= int(shown.size()) < g.points_size();
    size_t next = 0;
    for (const auto& p : g.points()) {
      while (next < shown.size() && shown[next] < p.epoch()) ++next;
      if (next == shown.size() || shown[next] != p.epoch()) continue;
      std::vector<std::string> row = Labels(g.group());
      row.insert(row.end(), {Count(p.epoch()), Count(p.n()), Fixed(p.mean()), Interval(p.ci95_low(), p.ci95_high())});
      rows.push_back(std::move(row));
    }
  }
  std::string what = c.metric();
  if (c.has_layer()) absl::StrAppend(&what, " of layer ", c.layer());
  std::string out = Heading(absl::StrCat(what, " by epoch"), c.grid(), c.grid_id(), c.where(), c.finished(),
                            c.trials()) +
                    AlignColumns(header, rows, c.by_size());
  if (thinned) out += "some epochs left out of this table; --format csv or json has every epoch\n";
  return TerminalText(out);
}

std::string RenderEffects(const v1::EffectsResponse& e, Format format) {
  if (format == Format::kJson) {
    std::vector<std::string> mains, anova, notes, factors, seeds;
    for (const auto& m : e.main_effects()) {
      std::vector<std::string> levels;
      for (const auto& l : m.levels())
        levels.push_back(JsonObject({{"value", JsonLabel(l.value())},
                                     {"n", Count(l.n())},
                                     {"mean", JsonNumber(l.mean())},
                                     {"std", JsonNumber(l.std())},
                                     {"ci95_low", JsonNumber(l.ci95_low())},
                                     {"ci95_high", JsonNumber(l.ci95_high())}}));
      mains.push_back(JsonObject(
          {{"factor", JsonString(m.factor())}, {"range", JsonNumber(m.range())}, {"levels", JsonArray(levels)}}));
    }
    for (const auto& a : e.anova()) {
      std::vector<std::string> fs;
      for (const auto& f : a.factors()) fs.push_back(JsonString(f));
      anova.push_back(JsonObject({{"term", JsonString(a.term())},
                                  {"factors", JsonArray(fs)},
                                  {"ss", JsonNumber(a.ss())},
                                  {"df", JsonNumber(a.df())},
                                  {"ms", JsonNumber(a.ms())},
                                  {"f", JsonNumber(a.f())},
                                  {"p", JsonNumber(a.p())},
                                  {"eta2", JsonNumber(a.eta2())}}));
    }
    for (const auto& n : e.notes()) notes.push_back(JsonString(n));
    for (const auto& f : e.factors()) factors.push_back(JsonString(f));
    for (int s : e.seed_ranks()) seeds.push_back(Count(s));
    return JsonObject({{"grid", JsonString(e.grid())},
                       {"grid_id", absl::StrCat(e.grid_id())},
                       {"metric", JsonString(e.metric())},
                       {"summary", e.summary().empty() ? "null" : JsonString(e.summary())},
                       {"where", JsonWhere(e.where())},
                       {"factors", JsonArray(factors)},
                       {"per_cell", Count(e.per_cell())},
                       {"seed_ranks", JsonArray(seeds)},
                       {"used", Count(e.used())},
                       {"finished", Count(e.finished())},
                       {"trials", Count(e.trials())},
                       {"error_term", JsonString(e.error_term())},
                       {"main_effects", JsonArray(mains)},
                       {"anova", JsonArray(anova)},
                       {"notes", JsonArray(notes)}}) +
           "\n";
  }
  if (format == Format::kCsv) {
    std::string out = CsvLine({"kind", "term", "value", "n", "mean", "std", "ci95_low", "ci95_high", "ss", "df", "ms",
                               "f", "p", "eta2"});
    for (const auto& m : e.main_effects())
      for (const auto& l : m.levels())
        out += CsvLine({"level", m.factor(), l.value(), Count(l.n()), CsvNumber(l.mean()), CsvNumber(l.std()),
                        CsvNumber(l.ci95_low()), CsvNumber(l.ci95_high()), "", "", "", "", "", ""});
    for (const auto& a : e.anova())
      out += CsvLine({"anova", a.term(), "", "", "", "", "", "", CsvNumber(a.ss()), CsvNumber(a.df()),
                      CsvNumber(a.ms()), CsvNumber(a.f()), CsvNumber(a.p()), CsvNumber(a.eta2())});
    return out;
  }
  std::string out = Heading(absl::StrCat("effects on ", MetricTitle(e.metric(), e.summary())), e.grid(), e.grid_id(),
                            e.where(), e.finished(), e.trials());
  absl::StrAppend(&out, "balanced design: ", e.per_cell(), " seed", e.per_cell() == 1 ? "" : "s", " in each cell, ",
                  e.used(), " trials\n");
  for (const auto& m : e.main_effects()) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& l : m.levels())
      rows.push_back({l.value(), Count(l.n()), Fixed(l.mean()), Interval(l.ci95_low(), l.ci95_high())});
    absl::StrAppend(&out, "\n", AlignColumns({m.factor(), "n", "mean", "95% CI"}, rows, 1));
    absl::StrAppend(&out, "range of the level means: ", Fixed(m.range()), "\n");
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& a : e.anova())
    rows.push_back({a.term(), Short(a.ss()), Short(a.df()), Short(a.ms()), Short(a.f()), PValue(a.p()),
                    std::isfinite(a.eta2()) ? absl::StrFormat("%.1f%%", 100 * a.eta2()) : "-"});
  absl::StrAppend(&out, "\nANOVA", e.error_term().empty() ? "" : absl::StrCat(" (F tests against ", e.error_term(), ")"),
                  "\n", AlignColumns({"term", "SS", "df", "MS", "F", "p", "eta²"}, rows, 1));
  for (const auto& n : e.notes()) absl::StrAppend(&out, "note: ", n, "\n");
  return TerminalText(out);
}

std::string RenderTest(const v1::TestResponse& t, Format format) {
  const auto& w = t.welch();
  const auto& u = t.mann_whitney();
  const auto& pt = t.paired_t();
  if (format == Format::kJson) {
    auto sample = [](const v1::SampleStats& s) {
      return JsonObject({{"selection", JsonWhere(s.selection())},
                         {"n", Count(s.n())},
                         {"missing", Count(s.missing())},
                         {"mean", JsonNumber(s.mean())},
                         {"std", JsonNumber(s.std())},
                         {"median", JsonNumber(s.median())}});
    };
    auto ttest = [](const v1::TTest& x) {
      return JsonObject({{"t", JsonNumber(x.t())},
                         {"df", JsonNumber(x.df())},
                         {"p", JsonNumber(x.p())},
                         {"mean_diff", JsonNumber(x.mean_diff())},
                         {"ci95_low", JsonNumber(x.ci95_low())},
                         {"ci95_high", JsonNumber(x.ci95_high())}});
    };
    auto interval = [](const v1::BootstrapInterval& b) {
      return JsonObject({{"estimate", JsonNumber(b.estimate())},
                         {"ci95_low", JsonNumber(b.ci95_low())},
                         {"ci95_high", JsonNumber(b.ci95_high())},
                         {"resamples", Count(b.resamples())}});
    };
    std::vector<std::string> assumptions;
    for (const auto& a : t.assumptions()) assumptions.push_back(JsonString(a));
    return JsonObject({{"grid", JsonString(t.grid())},
                       {"grid_id", absl::StrCat(t.grid_id())},
                       {"metric", JsonString(t.metric())},
                       {"summary", t.summary().empty() ? "null" : JsonString(t.summary())},
                       {"where", JsonWhere(t.where())},
                       {"finished", Count(t.finished())},
                       {"trials", Count(t.trials())},
                       {"a", sample(t.a())},
                       {"b", sample(t.b())},
                       {"welch", ttest(w)},
                       {"mann_whitney", JsonObject({{"u", JsonNumber(u.u())},
                                                    {"z", JsonNumber(u.z())},
                                                    {"p", JsonNumber(u.p())},
                                                    {"exact", u.exact() ? "true" : "false"},
                                                    {"rank_biserial", JsonNumber(u.rank_biserial())}})},
                       {"paired", t.paired() ? "true" : "false"},
                       {"pairs", Count(t.pairs())},
                       {"paired_t", t.paired() ? ttest(pt) : "null"},
                       {"unpaired_reason", t.paired() ? "null" : JsonString(t.unpaired_reason())},
                       {"mean_diff", interval(t.mean_diff())},
                       {"cohens_d", interval(t.cohens_d())},
                       {"assumptions", JsonArray(assumptions)}}) +
           "\n";
  }
  if (format == Format::kCsv) {
    std::string out = CsvLine({"test", "statistic", "df", "p", "estimate", "ci95_low", "ci95_high"});
    out += CsvLine({"welch_t", CsvNumber(w.t()), CsvNumber(w.df()), CsvNumber(w.p()), CsvNumber(w.mean_diff()),
                    CsvNumber(w.ci95_low()), CsvNumber(w.ci95_high())});
    out += CsvLine({u.exact() ? "mann_whitney_u_exact" : "mann_whitney_u", CsvNumber(u.u()), "", CsvNumber(u.p()),
                    CsvNumber(u.rank_biserial()), "", ""});
    if (t.paired())
      out += CsvLine({"paired_t", CsvNumber(pt.t()), CsvNumber(pt.df()), CsvNumber(pt.p()), CsvNumber(pt.mean_diff()),
                      CsvNumber(pt.ci95_low()), CsvNumber(pt.ci95_high())});
    out += CsvLine({"bootstrap_mean_diff", "", "", "", CsvNumber(t.mean_diff().estimate()),
                    CsvNumber(t.mean_diff().ci95_low()), CsvNumber(t.mean_diff().ci95_high())});
    out += CsvLine({t.paired() ? "bootstrap_cohens_dz" : "bootstrap_cohens_d", "", "", "",
                    CsvNumber(t.cohens_d().estimate()), CsvNumber(t.cohens_d().ci95_low()),
                    CsvNumber(t.cohens_d().ci95_high())});
    return out;
  }
  std::string out = Heading(MetricTitle(t.metric(), t.summary()), t.grid(), t.grid_id(), t.where(), t.finished(),
                            t.trials());
  std::vector<std::vector<std::string>> rows;
  for (const auto* s : {&t.a(), &t.b()})
    rows.push_back({s == &t.a() ? "a" : "b", WhereText(s->selection()), Count(s->n()), Fixed(s->mean()),
                    Fixed(s->std()), Fixed(s->median()), Count(s->missing())});
  out += AlignColumns({"group", "selection", "n", "mean", "std", "median", "missing"}, rows, 2);
  auto ttext = [](const v1::TTest& x) {
    return absl::StrCat("t = ", Short(x.t()), ", df = ", Short(x.df()), ", p = ", PValue(x.p()),
                        "; difference a - b ", Fixed(x.mean_diff()), " ", Interval(x.ci95_low(), x.ci95_high()));
  };
  absl::StrAppend(&out, "\nWelch's t:       ", ttext(w), "\n");
  absl::StrAppend(&out, "Mann-Whitney U:  U = ", Short(u.u()), ", p = ", PValue(u.p()),
                  u.exact() ? " (exact)" : absl::StrCat(" (normal approximation, z = ", Short(u.z()), ")"),
                  "; rank-biserial r = ", Fixed(u.rank_biserial(), 3), "\n");
  if (t.paired()) {
    absl::StrAppend(&out, "paired t:        ", ttext(pt), " (", t.pairs(), " pairs)\n");
  } else {
    absl::StrAppend(&out, "paired t:        not applicable: ", t.unpaired_reason(), "\n");
  }
  const auto& md = t.mean_diff();
  const auto& d = t.cohens_d();
  absl::StrAppend(&out, "effect size:     ", t.paired() ? "mean difference " : "difference of means ",
                  Fixed(md.estimate()), " ", Interval(md.ci95_low(), md.ci95_high()), ", ",
                  t.paired() ? "d_z " : "Cohen's d ", Fixed(d.estimate(), 3), " ",
                  Interval(d.ci95_low(), d.ci95_high(), 3), " (95% bootstrap intervals)\n");
  out += "assumptions:\n";
  for (const auto& a : t.assumptions()) absl::StrAppend(&out, "  - ", a, "\n");
  return TerminalText(out);
}

std::string RenderLayers(const v1::LayersResponse& l, Format format) {
  static const char* kNames[] = {"dead_fraction", "sparsity", "grad_norm", "act_mean", "act_std"};
  auto stats = [](const v1::LayerRow& r) {
    return std::vector<const v1::LayerStat*>{&r.dead_fraction(), &r.sparsity(), &r.grad_norm(), &r.act_mean(),
                                             &r.act_std()};
  };
  if (format == Format::kJson) {
    std::vector<std::string> groups;
    for (const auto& g : l.groups()) {
      std::vector<std::string> layers;
      for (const auto& r : g.layers()) {
        std::vector<std::pair<std::string, std::string>> fields = {{"layer", Count(r.layer())}};
        const auto s = stats(r);
        for (size_t i = 0; i < s.size(); ++i)
          fields.emplace_back(kNames[i], JsonObject({{"n", Count(s[i]->n())},
                                                     {"mean", JsonNumber(s[i]->mean())},
                                                     {"ci95_low", JsonNumber(s[i]->ci95_low())},
                                                     {"ci95_high", JsonNumber(s[i]->ci95_high())}}));
        layers.push_back(JsonObject(fields));
      }
      groups.push_back(JsonObject(
          {{"group", JsonGroup(g.group())}, {"trials", Count(g.trials())}, {"layers", JsonArray(layers)}}));
    }
    std::vector<std::string> by;
    for (const auto& f : l.by()) by.push_back(JsonString(f));
    return JsonObject({{"grid", JsonString(l.grid())},
                       {"grid_id", absl::StrCat(l.grid_id())},
                       {"epoch", l.has_epoch() ? Count(l.epoch()) : "\"final\""},
                       {"by", JsonArray(by)},
                       {"where", JsonWhere(l.where())},
                       {"finished", Count(l.finished())},
                       {"trials", Count(l.trials())},
                       {"groups", JsonArray(groups)}}) +
           "\n";
  }
  std::vector<std::string> header(l.by().begin(), l.by().end());
  if (format == Format::kCsv) {
    header.push_back("layer");
    for (const char* n : kNames)
      for (const char* s : {"n", "mean", "ci95_low", "ci95_high"}) header.push_back(absl::StrCat(n, "_", s));
    std::string out = CsvLine(header);
    for (const auto& g : l.groups())
      for (const auto& r : g.layers()) {
        std::vector<std::string> f = Labels(g.group());
        f.push_back(Count(r.layer()));
        for (const auto* s : stats(r))
          f.insert(f.end(), {Count(s->n()), CsvNumber(s->mean()), CsvNumber(s->ci95_low()), CsvNumber(s->ci95_high())});
        out += CsvLine(f);
      }
    return out;
  }
  for (const char* h : {"layer", "n", "dead fraction", "sparsity", "grad norm", "act mean", "act std"})
    header.push_back(h);
  std::vector<std::vector<std::string>> rows;
  for (const auto& g : l.groups())
    for (const auto& r : g.layers()) {
      std::vector<std::string> row = Labels(g.group());
      row.push_back(Count(r.layer()));
      row.push_back(Count(r.grad_norm().n()));
      for (const auto* s : stats(r)) row.push_back(MeanPm(*s));
      rows.push_back(std::move(row));
    }
  return TerminalText(
      Heading(absl::StrCat("layers at ", l.has_epoch() ? absl::StrCat("epoch ", l.epoch()) : "the final epoch"),
              l.grid(), l.grid_id(), l.where(), l.finished(), l.trials()) +
      AlignColumns(header, rows, l.by_size()) + "mean ± 95% CI half-width over the group's trials\n");
}

// ---- export ----

namespace {


// The scalar fields of a message as (name, rendered value) in field order: doubles
// exact (NaN empty for CSV, null for JSON), integers, booleans 0/1 (CSV) or
// true/false (JSON), enums by name, strings as they are (CsvLine / JsonString quote).
std::vector<std::pair<std::string, std::string>> Scalars(const google::protobuf::Message& m, bool json) {
  std::vector<std::pair<std::string, std::string>> out;
  const auto* desc = m.GetDescriptor();
  const auto* refl = m.GetReflection();
  for (int i = 0; i < desc->field_count(); ++i) {
    const FieldDescriptor* f = desc->field(i);
    if (f->is_repeated()) continue;
    std::string v;
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_DOUBLE: {
        const double d = refl->GetDouble(m, f);
        v = json ? JsonNumber(d) : CsvNumber(d);
        break;
      }
      case FieldDescriptor::CPPTYPE_INT32: v = absl::StrCat(refl->GetInt32(m, f)); break;
      case FieldDescriptor::CPPTYPE_INT64: v = absl::StrCat(refl->GetInt64(m, f)); break;
      case FieldDescriptor::CPPTYPE_UINT32: v = absl::StrCat(refl->GetUInt32(m, f)); break;
      case FieldDescriptor::CPPTYPE_UINT64: v = absl::StrCat(refl->GetUInt64(m, f)); break;
      case FieldDescriptor::CPPTYPE_BOOL: v = refl->GetBool(m, f) ? (json ? "true" : "1") : (json ? "false" : "0"); break;
      case FieldDescriptor::CPPTYPE_ENUM:
        v = json ? JsonString(refl->GetEnum(m, f)->name()) : refl->GetEnum(m, f)->name();
        break;
      case FieldDescriptor::CPPTYPE_STRING:
        v = json ? JsonString(refl->GetString(m, f)) : refl->GetString(m, f);
        break;
      default: continue;
    }
    out.emplace_back(f->name(), std::move(v));
  }
  return out;
}

std::string SpecJson(const v1::TrialSpec& spec) { return rpc::ProtoJson(spec); }

std::vector<std::string> SummaryColumns() {
  std::vector<std::string> names;
  for (const auto& [name, value] : Scalars(v1::TrialSummary(), false)) names.push_back(name);
  return names;
}

// The scalar fields of EpochMetrics in field order, read without reflection: export
// writes one line per epoch, millions of them.
struct EpochField {
  const char* name;
  double (*get)(const v1::EpochMetrics&);
};
const std::vector<EpochField>& EpochFields() {
  static const std::vector<EpochField> fields = {
      {"train_loss", [](const v1::EpochMetrics& e) { return e.train_loss(); }},
      {"test_loss", [](const v1::EpochMetrics& e) { return e.test_loss(); }},
      {"train_acc", [](const v1::EpochMetrics& e) { return e.train_acc(); }},
      {"test_acc", [](const v1::EpochMetrics& e) { return e.test_acc(); }},
      {"dead_fraction", [](const v1::EpochMetrics& e) { return e.dead_fraction(); }},
      {"sparsity", [](const v1::EpochMetrics& e) { return e.sparsity(); }},
      {"grad_norm_first", [](const v1::EpochMetrics& e) { return e.grad_norm_first(); }},
      {"grad_norm_last", [](const v1::EpochMetrics& e) { return e.grad_norm_last(); }},
      {"seconds", [](const v1::EpochMetrics& e) { return e.seconds(); }},
      {"nonfinite_params", [](const v1::EpochMetrics& e) { return double(e.nonfinite_params()); }},
  };
  return fields;
}

std::vector<std::string> EpochColumns() {
  std::vector<std::string> names = {"epoch"};
  for (const auto& f : EpochFields()) names.push_back(f.name);
  return names;
}

// Appends `v` as Exact() does, or (when not finite) `missing`.
void AppendNumber(double v, const char* missing, std::string* out) {
  if (!std::isfinite(v)) {
    out->append(missing);
    return;
  }
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr);
}

}  // namespace

std::string ExportWriter::Header(const v1::ExportChunk& first) {
  factors_.assign(first.factors().begin(), first.factors().end());
  if (format_ != Format::kCsv) return "";
  std::vector<std::string> header = {"trial_id", "trial_key", "position", "cell", "seed_rank", "seed"};
  header.insert(header.end(), factors_.begin(), factors_.end());
  header.push_back("state");
  if (curves_) {
    for (const auto& c : EpochColumns()) header.push_back(c);
  } else {
    for (const auto& c : SummaryColumns()) header.push_back(c);
    header.insert(header.end(), {"last_error", "spec"});
  }
  return CsvLine(header);
}

std::string ExportWriter::Rows(const v1::ExportChunk& chunk) const {
  std::string out;
  for (const v1::ExportTrial& t : chunk.rows()) {
    std::vector<std::string> ids = {absl::StrCat(t.trial_id()), t.trial_key(), absl::StrCat(t.position()),
                                    absl::StrCat(t.cell()), absl::StrCat(t.seed_rank()), absl::StrCat(t.seed())};
    if (format_ == Format::kCsv) {
      std::vector<std::string> base = ids;
      for (const auto& g : t.factors()) base.push_back(g.value());
      base.push_back(scheduler::StateName(t.state()));
      if (curves_) {
        std::string prefix = CsvLine(base);
        prefix.back() = ',';
        for (const auto& e : t.epochs()) {
          out += prefix;
          absl::StrAppend(&out, e.epoch());
          for (const auto& f : EpochFields()) {
            out += ',';
            AppendNumber(f.get(e), "", &out);
          }
          out += '\n';
        }
        continue;
      }
      if (t.has_summary()) {
        for (auto& [name, value] : Scalars(t.summary(), false)) base.push_back(std::move(value));
      } else {
        base.resize(base.size() + SummaryColumns().size());
      }
      base.push_back(t.last_error());
      base.push_back(SpecJson(t.spec()));
      out += CsvLine(base);
      continue;
    }
    std::vector<std::pair<std::string, std::string>> head = {
        {"trial_id", ids[0]},  {"trial_key", JsonString(t.trial_key())}, {"position", ids[2]},
        {"cell", ids[3]},      {"seed_rank", ids[4]},                   {"seed", ids[5]},
        {"factors", JsonGroup(t.factors())}, {"state", JsonString(scheduler::StateName(t.state()))}};
    if (curves_) {
      std::string prefix = JsonObject(head);
      prefix.pop_back();  // the closing brace: each epoch's fields follow
      for (const auto& e : t.epochs()) {
        out += prefix;
        absl::StrAppend(&out, ", \"epoch\": ", e.epoch());
        for (const auto& f : EpochFields()) {
          absl::StrAppend(&out, ", \"", f.name, "\": ");
          AppendNumber(f.get(e), "null", &out);
        }
        out += ", \"layers\": [";
        for (int i = 0; i < e.layers_size(); ++i) {
          const v1::LayerMetrics& l = e.layers(i);
          absl::StrAppend(&out, i ? ", " : "", "{\"layer\": ", l.layer());
          const std::pair<const char*, double> values[] = {{"dead_fraction", l.dead_fraction()},
                                                           {"sparsity", l.sparsity()},
                                                           {"grad_norm", l.grad_norm()},
                                                           {"act_mean", l.act_mean()},
                                                           {"act_std", l.act_std()}};
          for (const auto& [name, v] : values) {
            absl::StrAppend(&out, ", \"", name, "\": ");
            AppendNumber(v, "null", &out);
          }
          out += '}';
        }
        out += "]}\n";
      }
      continue;
    }
    auto fields = head;
    fields.emplace_back("summary", t.has_summary() ? JsonObject(Scalars(t.summary(), true)) : "null");
    fields.emplace_back("last_error", JsonString(t.last_error()));
    fields.emplace_back("spec", SpecJson(t.spec()));
    out += JsonObject(fields) + "\n";
  }
  return out;
}

}  // namespace actgrid::cli
