// What the CLI prints: comparison tables (aligned text, CSV, the JSON of DESIGN.md),
// grid and worker listings. Text meant for a terminal (tables, Markdown, grid lines)
// shows control characters escaped (TerminalText); CSV neutralizes formulas
// (CsvField); JSON escapes every control character (JsonString).
#ifndef ACTGRID_CLIENT_CLI_RENDER_H_
#define ACTGRID_CLIENT_CLI_RENDER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "actgrid/v1/analysis.pb.h"
#include "actgrid/v1/grids.pb.h"

namespace actgrid::cli {

enum class Format { kTable, kCsv, kJson, kSvg, kJsonl, kMatrix };
// "table" | "csv" | "json" | "svg" | "jsonl" | "matrix", when among `allowed`.
absl::StatusOr<Format> ParseFormat(const std::string& name,
                                   const std::vector<Format>& allowed = {Format::kTable, Format::kCsv, Format::kJson});

// One row per group: n, mean, std, 95% CI, median, min, max, diverged (and how many
// trials had no value). Numbers in CSV and JSON are the shortest that read back
// exactly; NaN is empty in CSV and null in JSON. JSON:
//   {"grid": "name", "grid_id": 3, "metric": "...", "summary": null, "by": [...],
//    "where": {"depth": [8]}, "finished": 10, "trials": 10,
//    "rows": [{"group": {"activation": "relu", "depth": 4}, "n": 5, "mean": ..,
//              "std": .., "ci95_low": .., "ci95_high": .., "median": .., "min": .., "max": ..,
//              "diverged": 0, "missing": 0, "trials": 5}]}
std::string RenderCompare(const v1::CompareResponse& compare, Format format);
// kMatrix: the means of a comparison by exactly two factors as a Markdown table, the
// first factor's levels as rows and the second's as columns (up to 4 significant
// digits; "-" where a group has no value).
std::string RenderCompareMatrix(const v1::CompareResponse& compare);

// Pieces shared by the analysis renderers.
std::string MetricTitle(const std::string& metric, const std::string& summary);  // "test_acc (last:5)"
std::string WhereText(const google::protobuf::RepeatedPtrField<v1::Filter>& where);  // "depth=4|8,init=he_normal"
std::string JsonWhere(const google::protobuf::RepeatedPtrField<v1::Filter>& where);  // {"depth": [4, 8]}
std::string JsonGroup(const google::protobuf::RepeatedPtrField<v1::GroupValue>& group);
// "<what> of grid NAME (ID) where ...: partial, F of T trials finished\n"
std::string Heading(const std::string& what, const std::string& grid, int64_t grid_id,
                    const google::protobuf::RepeatedPtrField<v1::Filter>& where, int finished, int trials);

// The table `actgrid run` ends with: per cell the mean ± std of the metric, its 95%
// CI, n, diverged, and the mean final dead fraction from `dead` (same groups).
std::string RenderRunTable(const v1::CompareResponse& metric, const v1::CompareResponse& dead);

// "grid 12 relu-vs-reflu: RUNNING, 40/84 trials (2 leased, 1 failed), 48% of epochs"
std::string GridLine(const v1::Grid& grid);
// What measured the grid's finished trials ("measured by engine 3, rev 0123456789ab,
// native (120 trials)"); empty when none has finished or the grid came from ListGrids.
std::string EnginesLine(const v1::Grid& grid);
std::string RenderGrids(const std::vector<v1::Grid>& grids);
std::string RenderWorkers(const std::vector<v1::WorkerInfo>& workers, int64_t now_ms);

// Aligned text columns; `left` columns are left-aligned, the others right-aligned.
// Control characters in cells (newlines too) are shown escaped: "\x1b".
std::string AlignColumns(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
                         size_t left);

}  // namespace actgrid::cli

#endif  // ACTGRID_CLIENT_CLI_RENDER_H_
