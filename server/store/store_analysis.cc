// SqliteStore's analysis reads: one summary column per grid position, one metric's
// curves over a grid's finished trials, one epoch of each, and specs for export.
//
// How they stay fast: grid_trials is clustered by (grid_id, position), so a grid's
// positions are one range scan; trials and summaries are found by their integer keys;
// a finished trial's curves are one packed row, and its epochs a few chunk rows
// clustered by (trial_id, first_epoch). Each query reads one column where it can (a summary column is chosen by
// name from a fixed list, never pasted from input).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "server/store/rows.h"
#include "server/store/sqlite_store.h"

namespace actgrid::store {
namespace {

// Column names that may be selected by name, and the statements using each. The
// statements live as long as the process (the connection's statement cache keys on
// their addresses).
const std::vector<std::string>& SummaryFields() {
  static const std::vector<std::string> fields = [] {
    std::vector<std::string> out;
    for (absl::string_view f : absl::StrSplit(ACTGRID_SUMMARY_METRIC_COLUMNS, ", ")) out.emplace_back(f);
    return out;
  }();
  return fields;
}

constexpr const char* kEpochFields[] = {"train_loss",    "test_loss", "train_acc",
                                        "test_acc",      "dead_fraction", "sparsity",
                                        "grad_norm_first", "grad_norm_last", "seconds"};
constexpr const char* kLayerFields[] = {"dead_fraction", "sparsity", "grad_norm", "act_mean", "act_std"};

std::string GridValuesSql(const std::string& column) {
  return absl::StrCat(
      "SELECT m.trial_id, m.position, m.cell, m.seed_rank, m.seed, m.vals, t.state, "
      "coalesce(s.diverged, 0), ",
      column.empty() ? "NULL" : absl::StrCat("s.", column),
      " FROM grid_trials m JOIN trials t ON t.id = m.trial_id "
      "LEFT JOIN summaries s ON s.trial_id = m.trial_id WHERE m.grid_id = ?1 ORDER BY m.position");
}

// The finished trials of grid ?1, each once.
#define ACTGRID_FINISHED_TRIALS                                                 \
  "(SELECT DISTINCT m.trial_id AS trial_id FROM grid_trials m JOIN trials t " \
  "ON t.id = m.trial_id WHERE m.grid_id = ?1 AND t.state IN (3, 4)) f"

// Per-layer curves: the finished trials, then each one's epoch rows.
constexpr const char* kFinishedTrials = "SELECT f.trial_id FROM " ACTGRID_FINISHED_TRIALS;

// Per-epoch curves: one packed row per finished trial (NULL for a trial that finished
// before the curves table existed), and that trial's epochs as the fallback.
std::string PackedCurveSql(const std::string& column) {
  return absl::StrCat("SELECT f.trial_id, c.", column, " FROM " ACTGRID_FINISHED_TRIALS
                      " LEFT JOIN curves c ON c.trial_id = f.trial_id");
}

// The finished trials of a grid with the epoch to read of each: ?2, or its last when ?2 < 0.
constexpr const char* kGridEpochTargets =
    "SELECT f.trial_id, CASE WHEN ?2 < 0 THEN s.epochs_run ELSE ?2 END FROM " ACTGRID_FINISHED_TRIALS
    " JOIN summaries s ON s.trial_id = f.trial_id";

constexpr const char* kGridSpecs =
    "SELECT t.spec FROM grid_trials m JOIN trials t ON t.id = m.trial_id "
    "WHERE m.grid_id = ?1 AND m.position >= ?2 AND m.position < ?3 ORDER BY m.position";

// The statement text `text`, kept for the process's life (one copy per distinct text).
const char* Statement(std::string text) {
  static std::mutex mu;
  static std::set<std::string>* statements = new std::set<std::string>();
  std::lock_guard<std::mutex> lock(mu);
  return statements->insert(std::move(text)).first->c_str();
}

// values[epoch] = value, growing the curve with NaN (an epoch not stored).
void SetEpoch(int epoch, double value, std::vector<double>* values) {
  if (epoch < 0) return;
  if (size_t(epoch) >= values->size()) values->resize(size_t(epoch) + 1, NAN);
  (*values)[size_t(epoch)] = value;
}

template <size_t N>
int IndexOf(const char* const (&names)[N], const std::string& name) {
  for (size_t i = 0; i < N; ++i)
    if (name == names[i]) return int(i);
  return -1;
}

}  // namespace

absl::StatusOr<GridValues> SqliteStore::ListGridValues(int64_t grid_id, const std::string& summary_field) {
  if (!summary_field.empty()) {
    const auto& fields = SummaryFields();
    if (std::find(fields.begin(), fields.end(), summary_field) == fields.end())
      return absl::InvalidArgumentError(absl::StrCat("unknown summary field \"", summary_field,
                                                     "\"; valid: ", absl::StrJoin(fields, ", ")));
  }
  const char* sql = Statement(GridValuesSql(summary_field));
  GridValues out;
  ACTGRID_STORE_RETURN_IF_ERROR(Read([&](sql::Conn& conn) -> absl::Status {
    ACTGRID_STORE_RETURN_IF_ERROR(BeginRead(conn));
    ACTGRID_STORE_RETURN_IF_ERROR(CheckGridExists(conn, grid_id));
    {
      ACTGRID_STORE_ASSIGN_OR_RETURN(sql::Stmt stmt, conn.Prepare(sql));
      stmt.Bind(1, grid_id);
      std::vector<bool> decoded;  // by cell
      for (;;) {
        ACTGRID_STORE_ASSIGN_OR_RETURN(const bool found, stmt.Step());
        if (!found) break;
        GridValueRow& row = out.rows.emplace_back();
        row.trial_id = stmt.Int64(0);
        row.position = stmt.Int(1);
        row.cell = stmt.Int(2);
        row.seed_rank = stmt.Int(3);
        row.seed = static_cast<uint64_t>(stmt.Int64(4));
        if (row.cell < 0) return absl::DataLossError(absl::StrCat("negative cell in grid ", grid_id));
        // The labels are the same for every position of a cell: decoded once each.
        const size_t cell = size_t(row.cell);
        if (cell >= decoded.size()) decoded.resize(cell + 1, false), out.cells.resize(cell + 1);
        if (!decoded[cell]) {
          ACTGRID_STORE_ASSIGN_OR_RETURN(out.cells[cell], DecodeList(stmt.Text(5)));
          decoded[cell] = true;
        }
        row.state = static_cast<v1::TrialState>(stmt.Int(6));
        const bool finished =
            row.state == v1::TRIAL_STATE_SUCCEEDED || row.state == v1::TRIAL_STATE_DIVERGED;
        row.diverged = finished && stmt.Int64(7) != 0;
        // NULL: a field this trial's schema did not have yet (born_dead before version 4).
        row.value = finished && !stmt.IsNull(8) ? stmt.Double(8) : NAN;
      }
    }
    return EndRead(conn);
  }));
  return out;
}

absl::StatusOr<std::vector<TrialCurve>> SqliteStore::LoadGridCurves(int64_t grid_id, const EpochField& field) {
  const bool layer = field.layer >= 0;
  const int index = layer ? IndexOf(kLayerFields, field.metric) : IndexOf(kEpochFields, field.metric);
  if (index < 0) {
    return absl::InvalidArgumentError(
        layer ? absl::StrCat("unknown per-layer metric \"", field.metric,
                             "\"; valid: ", absl::StrJoin(kLayerFields, ", "))
              : absl::StrCat("unknown per-epoch metric \"", field.metric,
                             "\"; valid: ", absl::StrJoin(kEpochFields, ", ")));
  }
  std::vector<TrialCurve> curves;
  if (layer) {
    // Per-layer values live in each epoch row's layers BLOB: the finished trials are
    // read in contiguous slices on parallel reader connections (a finished trial's
    // epochs never change, so the slices agree with the list).
    std::vector<int64_t> ids;
    ACTGRID_STORE_RETURN_IF_ERROR(Read([&](sql::Conn& conn) -> absl::Status {
      ACTGRID_STORE_RETURN_IF_ERROR(BeginRead(conn));
      ACTGRID_STORE_RETURN_IF_ERROR(CheckGridExists(conn, grid_id));
      {
        ACTGRID_STORE_ASSIGN_OR_RETURN(sql::Stmt stmt, conn.Prepare(kFinishedTrials));
        stmt.Bind(1, grid_id);
        for (;;) {
          ACTGRID_STORE_ASSIGN_OR_RETURN(const bool found, stmt.Step());
          if (!found) break;
          ids.push_back(stmt.Int64(0));
        }
      }
      return EndRead(conn);
    }));
    curves.resize(ids.size());
    const size_t parts =
        std::max<size_t>(1, std::min<size_t>({std::thread::hardware_concurrency(), 4, ids.size() / 256}));
    std::vector<absl::Status> status(parts);
    auto read_slice = [&](size_t part) {
      const size_t first = ids.size() * part / parts, last = ids.size() * (part + 1) / parts;
      status[part] = Read([&](sql::Conn& conn) -> absl::Status {
        for (size_t i = first; i < last; ++i) {
          curves[i].trial_id = ids[i];
          std::vector<double>& values = curves[i].values;
          ACTGRID_STORE_RETURN_IF_ERROR(ForEachStoredEpoch(conn, ids[i], [&](const StoredEpoch& e) {
            SetEpoch(e.epoch, LayerValue(e.layers, field.layer, index), &values);
            return absl::OkStatus();
          }));
        }
        return absl::OkStatus();
      });
    };
    std::vector<std::thread> threads;
    for (size_t part = 1; part < parts; ++part) threads.emplace_back(read_slice, part);
    read_slice(0);
    for (auto& t : threads) t.join();
    for (const absl::Status& st : status) ACTGRID_STORE_RETURN_IF_ERROR(st);
    return curves;
  }
  const char* packed_sql = Statement(PackedCurveSql(field.metric));
  const int column = CurveColumnIndex(field.metric);
  if (column < 0) return absl::InvalidArgumentError(absl::StrCat("unknown per-epoch metric \"", field.metric, "\""));
  ACTGRID_STORE_RETURN_IF_ERROR(Read([&](sql::Conn& conn) -> absl::Status {
    ACTGRID_STORE_RETURN_IF_ERROR(BeginRead(conn));
    ACTGRID_STORE_RETURN_IF_ERROR(CheckGridExists(conn, grid_id));
    std::vector<size_t> unpacked;  // curves to read from epochs
    {
      ACTGRID_STORE_ASSIGN_OR_RETURN(sql::Stmt stmt, conn.Prepare(packed_sql));
      stmt.Bind(1, grid_id);
      for (;;) {
        ACTGRID_STORE_ASSIGN_OR_RETURN(const bool found, stmt.Step());
        if (!found) break;
        curves.push_back({stmt.Int64(0), {}});
        if (stmt.IsNull(1)) {
          unpacked.push_back(curves.size() - 1);
        } else {
          curves.back().values = UnpackCurve(stmt.Blob(1));
        }
      }
    }
    for (size_t i : unpacked) {
      std::vector<double>& values = curves[i].values;
      ACTGRID_STORE_RETURN_IF_ERROR(ForEachStoredEpoch(conn, curves[i].trial_id, [&](const StoredEpoch& e) {
        SetEpoch(e.epoch, e.values[column], &values);
        return absl::OkStatus();
      }));
    }
    return EndRead(conn);
  }));
  return curves;
}

absl::StatusOr<std::vector<std::pair<int64_t, v1::EpochMetrics>>> SqliteStore::LoadGridEpoch(int64_t grid_id,
                                                                                             int epoch) {
  std::vector<std::pair<int64_t, v1::EpochMetrics>> out;
  ACTGRID_STORE_RETURN_IF_ERROR(Read([&](sql::Conn& conn) -> absl::Status {
    ACTGRID_STORE_RETURN_IF_ERROR(BeginRead(conn));
    ACTGRID_STORE_RETURN_IF_ERROR(CheckGridExists(conn, grid_id));
    std::vector<std::pair<int64_t, int>> targets;
    {
      ACTGRID_STORE_ASSIGN_OR_RETURN(sql::Stmt stmt, conn.Prepare(kGridEpochTargets));
      stmt.Bind(1, grid_id);
      stmt.Bind(2, int64_t{epoch < 0 ? -1 : epoch});
      for (;;) {
        ACTGRID_STORE_ASSIGN_OR_RETURN(const bool found, stmt.Step());
        if (!found) break;
        targets.emplace_back(stmt.Int64(0), stmt.Int(1));
      }
    }
    out.clear();
    for (const auto& [trial, target] : targets) {
      v1::EpochMetrics metrics;
      ACTGRID_STORE_ASSIGN_OR_RETURN(const bool found, FindStoredEpoch(conn, trial, target, &metrics));
      if (found) out.emplace_back(trial, std::move(metrics));  // a trial without that epoch is left out
    }
    return EndRead(conn);
  }));
  return out;
}

absl::StatusOr<std::vector<v1::TrialSpec>> SqliteStore::ListGridSpecs(int64_t grid_id, int first, int count) {
  std::vector<v1::TrialSpec> specs;
  ACTGRID_STORE_RETURN_IF_ERROR(Read([&](sql::Conn& conn) -> absl::Status {
    ACTGRID_STORE_RETURN_IF_ERROR(BeginRead(conn));
    ACTGRID_STORE_RETURN_IF_ERROR(CheckGridExists(conn, grid_id));
    {
      ACTGRID_STORE_ASSIGN_OR_RETURN(sql::Stmt stmt, conn.Prepare(kGridSpecs));
      stmt.Bind(1, grid_id);
      stmt.Bind(2, int64_t{first});
      stmt.Bind(3, int64_t{first} + count);
      for (;;) {
        ACTGRID_STORE_ASSIGN_OR_RETURN(const bool found, stmt.Step());
        if (!found) break;
        const absl::string_view blob = stmt.Blob(0);
        if (!specs.emplace_back().ParseFromArray(blob.data(), static_cast<int>(blob.size())))
          return absl::DataLossError(absl::StrCat("corrupt spec at position ", first + int(specs.size()) - 1,
                                                  " of grid ", grid_id, " in the store"));
      }
    }
    return EndRead(conn);
  }));
  return specs;
}

}  // namespace actgrid::store
