// What every analysis starts from: the grid, its positions filtered by `where`, the
// factors named in a request resolved to columns, the metric chosen, and each
// selected trial's value of it. Shared by compare, curves, effects, test, layers and
// export; no gRPC.
#ifndef ACTGRID_SERVER_ANALYSIS_SELECTION_H_
#define ACTGRID_SERVER_ANALYSIS_SELECTION_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "actgrid/v1/analysis.pb.h"
#include "google/protobuf/repeated_field.h"
#include "server/store/store.h"

namespace actgrid::analysis {

// A factor column: an index into GridRow::factors, or kSeedColumn for the trial seed.
inline constexpr int kSeedColumn = -1;

// How a trial's value is chosen (see MetricChoice in analysis.proto).
struct MetricSpec {
  enum class Kind { kSummary, kFinal, kMin, kMax, kLast, kEpoch };  // best is kMin or kMax
  std::string metric;   // a TrialSummary field, or an EpochMetrics field
  std::string summary;  // canonical text: "" for summary metrics, "final", "last:10", ...
  Kind kind = Kind::kSummary;
  int k = 0;            // K of last:K, N of epoch:N
};

// Errors: InvalidArgument naming the metric or summary and listing the valid ones.
absl::StatusOr<MetricSpec> ParseMetric(const std::string& metric, const std::string& summary);

// Names of the per-epoch metrics (EpochMetrics fields) and per-layer metrics.
const std::vector<std::string>& EpochMetricNames();
const std::vector<std::string>& LayerMetricNames();

// A metric value that counts as missing: NaN, +-Inf, and the -1 "never" of
// epochs_to_target and diverged_epoch.
bool IsMissing(const std::string& metric, double value);

// The grid with every position and the request's filter applied.
class Selection {
 public:
  // Reads the grid's positions (with the summary column of `metric` when it is a
  // summary metric; nullptr reads no values) and applies `where`. Errors: NotFound for
  // an unknown grid; InvalidArgument for an unknown filter factor or value.
  static absl::StatusOr<Selection> Load(store::Store& store, const std::string& grid_ref,
                                        const google::protobuf::RepeatedPtrField<v1::Filter>& where,
                                        const MetricSpec* metric);

  const store::GridRow& grid() const { return grid_; }
  // Selected positions, in position order.
  const std::vector<store::GridValueRow>& rows() const { return rows_; }
  // The filter with canonical factor names and the labels matched.
  const google::protobuf::RepeatedPtrField<v1::Filter>& where() const { return where_; }
  int finished() const;  // selected rows that are SUCCEEDED or DIVERGED

  // The column of factor `name` (short or dotted, or "seed"). `what` prefixes the
  // error ("by", "where"). InvalidArgument when the grid has no such factor.
  absl::StatusOr<int> Column(const std::string& name, const std::string& what) const;
  std::string FactorName(int column) const;
  // The row's label of a column ("relu", "0.1"; the seed as a decimal).
  std::string Label(const store::GridValueRow& row, int column) const;
  // The label of a factor column in cell `cell`.
  const std::string& CellLabel(int cell, int column) const;
  int cells() const { return int(cells_.size()); }
  // The labels of a column in the grid's order (seeds by rank), over all positions.
  std::vector<std::string> Levels(int column) const;
  // Rows matching `filters` as well (InvalidArgument as in Load), and the canonical filter.
  absl::StatusOr<std::vector<const store::GridValueRow*>> Match(
      const google::protobuf::RepeatedPtrField<v1::Filter>& filters, const std::string& what,
      google::protobuf::RepeatedPtrField<v1::Filter>* canonical) const;

  // Replaces row values by `metric` reduced over each finished trial's curve (for
  // per-epoch metrics; a summary metric's values came with Load). Missing values
  // become NaN.
  absl::Status LoadEpochValues(store::Store& store, const MetricSpec& metric);

 private:
  store::GridRow grid_;
  std::vector<std::vector<std::string>> cells_;  // labels by cell
  std::vector<store::GridValueRow> all_;   // every position
  std::vector<store::GridValueRow> rows_;  // selected
  google::protobuf::RepeatedPtrField<v1::Filter> where_;
  mutable std::map<int, std::vector<std::string>> levels_;  // Levels() by column
};

// Groups of rows by the labels of `columns`, ordered by the grid's level order of
// each column in turn.
struct Group {
  std::vector<std::string> labels;
  std::vector<const store::GridValueRow*> rows;
};
std::vector<Group> GroupRows(const Selection& selection, const std::vector<const store::GridValueRow*>& rows,
                             const std::vector<int>& columns);

// Resolves `by` (empty: every grid factor) to columns and canonical names.
absl::StatusOr<std::vector<int>> ResolveBy(const Selection& selection,
                                           const google::protobuf::RepeatedPtrField<std::string>& by,
                                           std::vector<std::string>* names);

void SetGroup(const std::vector<std::string>& names, const std::vector<std::string>& labels,
              google::protobuf::RepeatedPtrField<v1::GroupValue>* out);

bool IsFinished(const store::GridValueRow& row);

}  // namespace actgrid::analysis

#endif  // ACTGRID_SERVER_ANALYSIS_SELECTION_H_
