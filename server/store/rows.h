// How the store's values map to columns: string lists, summaries, epochs and trial
// rows. Shared by the store's writes and reads so each mapping is written once.
// Internal to server/store.
#ifndef ACTGRID_SERVER_STORE_ROWS_H_
#define ACTGRID_SERVER_STORE_ROWS_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "actgrid/v1/metrics.pb.h"
#include "server/store/sql.h"
#include "server/store/store.h"

namespace actgrid::store {

// A list of strings as one TEXT value: each element as "<byte length>:<bytes>", so
// labels may hold any character (commas, colons, quotes) without escaping.
std::string EncodeList(const std::vector<std::string>& items);
// DataLoss when `text` is not an EncodeList result.
absl::StatusOr<std::vector<std::string>> DecodeList(absl::string_view text);

// The summaries columns after trial_id, in TrialSummary field order. A macro so that
// SQL statements can be composed as string literals (the statement cache keys on
// their addresses).
// The numeric ones (ACTGRID_SUMMARY_METRIC_COLUMNS) are what analyses may select by name;
// engine_version and build say what measured the trial.
#define ACTGRID_SUMMARY_METRIC_COLUMNS                                                      \
  "outcome, final_test_acc, best_test_acc, best_epoch, final_test_loss, final_train_loss, " \
  "epochs_to_target, auc_test_acc, init_sparsity, final_sparsity, init_dead_fraction, "     \
  "final_dead_fraction, max_dead_fraction, grad_ratio, diverged, diverged_epoch, seconds, " \
  "steps_per_second, epochs_run, parameters, born_dead"
#define ACTGRID_SUMMARY_COLUMNS ACTGRID_SUMMARY_METRIC_COLUMNS ", engine_version, build"
inline constexpr int kSummaryColumnCount = 23;

// Binds the summary's kSummaryColumnCount values to parameters first..first+22.
void BindSummary(sql::Stmt& stmt, int first, const v1::TrialSummary& summary);
// Reads a summary from columns first..first+22 (NULL reals read back as NaN).
v1::TrialSummary ReadSummary(const sql::Stmt& stmt, int first);

// The epochs metric columns after (trial_id, epoch), in EpochMetrics field order; the
// per-layer metrics are one BLOB per epoch row (see EncodeLayers).
#define ACTGRID_EPOCH_COLUMNS                                                              \
  "train_loss, test_loss, train_acc, test_acc, dead_fraction, sparsity, grad_norm_first, " \
  "grad_norm_last, seconds, layers"
inline constexpr int kEpochColumnCount = 10;
void BindEpoch(sql::Stmt& stmt, int first, const v1::EpochMetrics& metrics);
// DataLoss when the layers BLOB is corrupt.
absl::Status ReadEpoch(const sql::Stmt& stmt, int first, v1::EpochMetrics* metrics);

// An epoch's per-layer metrics as one BLOB: per layer, in order, the layer index as a
// little-endian int32 and dead_fraction, sparsity, grad_norm, act_mean, act_std as
// little-endian IEEE doubles (44 bytes a layer). One row per epoch instead of one per
// layer keeps ingest cheap; NaN and Inf survive as they are.
std::string EncodeLayers(const v1::EpochMetrics& metrics);
absl::Status DecodeLayers(absl::string_view blob, v1::EpochMetrics* metrics);

// The trials columns a TrialRow is read from, in ReadTrialRow's order.
#define ACTGRID_TRIAL_COLUMNS                                                                \
  "id, trial_key, spec, state, attempt, failures, worker_id, deadline_ms, last_error, epochs_done, " \
  "lease_secret, key_engine"
// DataLoss when the stored spec does not parse.
absl::StatusOr<TrialRow> ReadTrialRow(const sql::Stmt& stmt);

// The grids columns a GridRow is read from, in ReadGridRow's order.
#define ACTGRID_GRID_COLUMNS "id, name, factors, cells, trials, created_ms, cancelled"
absl::StatusOr<GridRow> ReadGridRow(const sql::Stmt& stmt);

// The per-epoch metric columns of epochs and curves (ACTGRID_EPOCH_COLUMNS less layers).
#define ACTGRID_CURVE_COLUMNS                                                              \
  "train_loss, test_loss, train_acc, test_acc, dead_fraction, sparsity, grad_norm_first, " \
  "grad_norm_last, seconds"
inline constexpr int kCurveColumnCount = 9;

// A curve as a BLOB: the values of epochs 0..E in order as little-endian IEEE doubles.
std::string PackCurve(const std::vector<double>& values);
// NaN for every value when the BLOB's size is not a multiple of 8 (it never is).
std::vector<double> UnpackCurve(absl::string_view blob);

// The index of a per-epoch metric among ACTGRID_CURVE_COLUMNS; -1 when it is none.
int CurveColumnIndex(absl::string_view name);

// Epochs are stored in chunks (schema version 3): one epoch_chunks row per trial and
// report call, holding that call's epochs of the trial in order, each as a record of
// the epoch (int32), its layer count n (int32), the kCurveColumnCount values
// (ACTGRID_CURVE_COLUMNS order, IEEE doubles) and n layers as in EncodeLayers, all
// little-endian. One row per report instead of one per epoch is what lets a single
// SQLite writer take a hundred thousand epochs a second. An epoch with non-finite
// parameters (schema version 5) sets kRecordExtended in its layer count and stores
// nonfinite_params as an int64 right after the values; other records are as before.
inline constexpr int32_t kRecordExtended = int32_t{1} << 30;
void AppendEpochRecord(const v1::EpochMetrics& metrics, std::string* chunk);

// One stored epoch as read back; `layers` points into the row being read.
struct StoredEpoch {
  int epoch = 0;
  double values[kCurveColumnCount] = {};  // ACTGRID_CURVE_COLUMNS order
  int64_t nonfinite_params = 0;
  absl::string_view layers;               // EncodeLayers format
};
// The metrics of a stored epoch; DataLoss when its layers are corrupt.
absl::Status ToMetrics(const StoredEpoch& stored, v1::EpochMetrics* metrics);

// Calls `fn` for every stored epoch of `trial_id`: rows of the epochs table (written
// before schema version 3) first, then the chunks, in epoch order within each. The
// epochs a trial has in one never repeat in the other. DataLoss on a corrupt chunk;
// `fn`'s error stops the walk and is returned.
absl::Status ForEachStoredEpoch(sql::Conn& conn, int64_t trial_id,
                                const std::function<absl::Status(const StoredEpoch&)>& fn);

// The chunk holding epoch `epoch` of `trial_id`, or the epochs row of it: false when
// the trial has no such epoch stored.
absl::StatusOr<bool> FindStoredEpoch(sql::Conn& conn, int64_t trial_id, int epoch, v1::EpochMetrics* metrics);

// Reads of several statements run between BeginRead and EndRead, one read transaction.
absl::Status BeginRead(sql::Conn& conn);
absl::Status EndRead(sql::Conn& conn);
// NotFound("no grid N") when the grid does not exist.
absl::Status CheckGridExists(sql::Conn& conn, int64_t grid_id);

// The value of field `field` (0 dead_fraction, 1 sparsity, 2 grad_norm, 3 act_mean,
// 4 act_std) of hidden layer `layer` in a layers BLOB; NaN when the layer is absent.
double LayerValue(absl::string_view blob, int layer, int field);

}  // namespace actgrid::store

#endif  // ACTGRID_SERVER_STORE_ROWS_H_
