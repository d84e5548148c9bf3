// What the analysis commands print: curves, effects, test, layers (table, CSV, JSON,
// and SVG for curves) and the streamed rows of export (CSV, JSON lines). Numbers in
// CSV and JSON are the shortest decimals that read back as the same double; NaN is
// empty in CSV and null in JSON.
#ifndef ACTGRID_CLIENT_CLI_RENDER_ANALYSIS_H_
#define ACTGRID_CLIENT_CLI_RENDER_ANALYSIS_H_

#include <string>
#include <vector>

#include "actgrid/v1/analysis.pb.h"
#include "client/cli/render.h"

namespace actgrid::cli {

// Table: per group, every epoch up to 20 epochs, else about 10 evenly spaced and the
// last. CSV: one row per group and epoch. JSON: per group, parallel arrays
// ("epoch", "n", "mean", "std", "ci95_low", "ci95_high"), ready to plot. SVG: one
// line per group with its 95% band.
std::string RenderCurves(const v1::CurvesResponse& curves, Format format);

// Table: each factor's level means with CIs, then the ANOVA table and the notes.
// CSV: one row per level ("level") and per ANOVA term ("anova").
std::string RenderEffects(const v1::EffectsResponse& effects, Format format);

// Table: the two groups, Welch's t, Mann-Whitney U, the paired t when there is one,
// the effect sizes with bootstrap intervals, and the assumptions. CSV: one row per
// test or estimate.
std::string RenderTest(const v1::TestResponse& test, Format format);

// Table: per group and layer, mean and 95% CI half-width of dead fraction,
// sparsity, gradient norm, activation mean and std. CSV: one row per group and layer.
std::string RenderLayers(const v1::LayersResponse& layers, Format format);

// Export rows as they stream in: Header() once from the first chunk, then Rows() for
// each chunk. CSV (trials): one row per trial, every summary field in its own column
// and the spec as one JSON column. CSV (curves): one row per trial and epoch with the
// per-epoch metrics. JSON lines: one object per trial (trials) or per trial and
// epoch, with its layers (curves).
class ExportWriter {
 public:
  ExportWriter(Format format, bool curves) : format_(format), curves_(curves) {}
  std::string Header(const v1::ExportChunk& first);
  std::string Rows(const v1::ExportChunk& chunk) const;

 private:
  Format format_;
  bool curves_;
  std::vector<std::string> factors_;
};

}  // namespace actgrid::cli

#endif  // ACTGRID_CLIENT_CLI_RENDER_ANALYSIS_H_
