// SqliteStore's reads. Each runs on a pooled reader connection; reads of more than one
// statement run inside one read transaction, so they see a single committed state.
#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/store/rows.h"
#include "server/store/sqlite_store.h"

namespace actgrid::store {
namespace {

constexpr const char* kBeginRead = "BEGIN";
constexpr const char* kEndRead = "COMMIT";

constexpr const char* kUnfinishedTrials =
    "SELECT " ACTGRID_TRIAL_COLUMNS " FROM trials WHERE state IN (1, 2) ORDER BY id";
constexpr const char* kUnfinishedMembers =
    "SELECT m.grid_id, m.trial_id, m.position, m.cell, m.seed_rank FROM grid_trials m "
    "JOIN trials t ON t.id = m.trial_id JOIN grids g ON g.id = m.grid_id "
    "WHERE t.state IN (1, 2) AND g.cancelled = 0 ORDER BY m.grid_id, m.position";
constexpr const char* kTrialById = "SELECT " ACTGRID_TRIAL_COLUMNS " FROM trials WHERE id = ?1";
constexpr const char* kListGrids =
    "SELECT " ACTGRID_GRID_COLUMNS " FROM grids ORDER BY id DESC LIMIT ?1";
constexpr const char* kGridById = "SELECT " ACTGRID_GRID_COLUMNS " FROM grids WHERE id = ?1";
constexpr const char* kGridByName =
    "SELECT " ACTGRID_GRID_COLUMNS " FROM grids WHERE name = ?1 ORDER BY id DESC LIMIT 1";
constexpr const char* kGridExists = "SELECT 1 FROM grids WHERE id = ?1";
// Finished trials (SUCCEEDED, DIVERGED, FAILED) count all their epochs; others what
// their current attempt stored, never more than the total.
constexpr const char* kProgress =
    "SELECT t.state, count(*), sum(t.epochs_total), "
    "sum(CASE WHEN t.state IN (3, 4, 5) THEN t.epochs_total "
    "ELSE min(t.epochs_done, t.epochs_total) END) "
    "FROM grid_trials m JOIN trials t ON t.id = m.trial_id WHERE m.grid_id = ?1 GROUP BY t.state";
constexpr const char* kGridEngines =
    "SELECT s.engine_version, s.build, count(*) FROM summaries s "
    "WHERE s.trial_id IN (SELECT trial_id FROM grid_trials WHERE grid_id = ?1) "
    "GROUP BY s.engine_version, s.build ORDER BY s.engine_version DESC, s.build";
constexpr const char* kGridTrials =
    "SELECT m.trial_id, t.trial_key, m.position, m.cell, m.seed_rank, m.seed, m.vals, t.state, "
    "t.last_error, s.trial_id IS NOT NULL, " ACTGRID_SUMMARY_COLUMNS
    " FROM grid_trials m JOIN trials t ON t.id = m.trial_id "
    "LEFT JOIN summaries s ON s.trial_id = m.trial_id WHERE m.grid_id = ?1 ORDER BY m.position";
constexpr int kGridTrialsSummaryColumn = 10;
constexpr const char* kTrialExists = "SELECT 1 FROM trials WHERE id = ?1";
// completed: attempts that ended SUCCEEDED or DIVERGED; failed: ended FAILED, or
// counted as a failure (an expired lease or a retried error). Releases count neither.
constexpr const char* kWorkers =
    "SELECT w.worker_id, w.hostname, w.threads, w.first_seen_ms, w.last_seen_ms, "
    "(SELECT count(*) FROM trials t WHERE t.worker_id = w.worker_id AND t.state = 2), "
    "(SELECT count(*) FROM attempts a WHERE a.worker_id = w.worker_id "
    " AND a.ended_ms IS NOT NULL AND a.outcome IN (3, 4)), "
    "(SELECT count(*) FROM attempts a WHERE a.worker_id = w.worker_id "
    " AND a.ended_ms IS NOT NULL AND (a.outcome = 5 OR a.failure = 1)) "
    "FROM workers w ORDER BY w.last_seen_ms DESC, w.worker_id";

// The first row of `stmt` as a GridRow; NotFound when there is none.
absl::StatusOr<GridRow> OneGrid(sql::Stmt& stmt, const std::string& ref) {
  ACTGRID_STORE_ASSIGN_OR_RETURN(const bool found, stmt.Step());
  if (!found) return absl::NotFoundError(absl::StrCat("no grid \"", ref, "\""));
  return ReadGridRow(stmt);
}

}  // namespace

absl::Status BeginRead(sql::Conn& conn) {
  ACTGRID_STORE_ASSIGN_OR_RETURN(sql::Stmt begin, conn.Prepare(kBeginRead));
  return begin.Run();
}

absl::Status EndRead(sql::Conn& conn) {
  ACTGRID_STORE_ASSIGN_OR_RETURN(sql::Stmt end, conn.Prepare(kEndRead));
  return end.Run();
}

absl::Status CheckGridExists(sql::Conn& conn, int64_t grid_id) {
  ACTGRID_STORE_ASSIGN_OR_RETURN(sql::Stmt exists, conn.Prepare(kGridExists));
  exists.Bind(1, grid_id);
  ACTGRID_STORE_ASSIGN_OR_RETURN(const bool found, exists.Step());
  if (!found) return absl::NotFoundError(absl::StrCat("no grid ", grid_id));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<TrialRow>> SqliteStore::LoadUnfinished() {
  std::vector<TrialRow> trials;
  ACTGRID_STORE_RETURN_IF_ERROR(Read([&](sql::Conn& conn) -> absl::Status {
    ACTGRID_STORE_ASSIGN_OR_RETURN(sql::Stmt stmt, conn.Prepare(kUnfinishedTrials));
    for (;;) {
      ACTGRID_STORE_ASSIGN_OR_RETURN(const bool row, stmt.Step());
      if (!row) return absl::OkStatus();
      ACTGRID_STORE_ASSIGN_OR_RETURN(TrialRow trial, ReadTrialRow(stmt));
      trials.push_back(std::move(trial));
    }
  }));
  return trials;
}

absl::StatusOr<std::vector<GridMember>> SqliteStore::LoadUnfinishedMembers() {
  std::vector<GridMember> members;
  ACTGRID_STORE_RETURN_IF_ERROR(Read([&](sql::Conn& conn) -> absl::Status {
    ACTGRID_STORE_ASSIGN_OR_RETURN(sql::Stmt stmt, conn.Prepare(kUnfinishedMembers));
    for (;;) {
      ACTGRID_STORE_ASSIGN_OR_RETURN(const bool row, stmt.Step());
      if (!row) return absl::OkStatus();
      members.push_back({stmt.Int64(0), stmt.Int64(1), stmt.Int(2), stmt.Int(3), stmt.Int(4)});
    }
  }));
  return members;
}

absl::StatusOr<TrialRow> SqliteStore::GetTrial(int64_t trial_id) {
  TrialRow trial;
  ACTGRID_STORE_RETURN_IF_ERROR(Read([&](sql::Conn& conn) -> absl::Status {
    ACTGRID_STORE_ASSIGN_OR_RETURN(sql::Stmt stmt, conn.Prepare(kTrialById));
    stmt.Bind(1, trial_id);
    ACTGRID_STORE_ASSIGN_OR_RETURN(const bool found, stmt.Step());
    if (!found) return absl::NotFoundError(absl::StrCat("no trial ", trial_id));
    ACTGRID_STORE_ASSIGN_OR_RETURN(trial, ReadTrialRow(stmt));
    return absl::OkStatus();
  }));
  return trial;
}

absl::StatusOr<std::vector<GridRow>> SqliteStore::ListGrids(int limit) {
  std::vector<GridRow> grids;
  ACTGRID_STORE_RETURN_IF_ERROR(Read([&](sql::Conn& conn) -> absl::Status {
    ACTGRID_STORE_ASSIGN_OR_RETURN(sql::Stmt stmt, conn.Prepare(kListGrids));
    stmt.Bind(1, limit > 0 ? static_cast<int64_t>(limit) : int64_t{-1});  // -1: no limit
    for (;;) {
      ACTGRID_STORE_ASSIGN_OR_RETURN(const bool row, stmt.Step());
      if (!row) return absl::OkStatus();
      ACTGRID_STORE_ASSIGN_OR_RETURN(GridRow grid, ReadGridRow(stmt));
      grids.push_back(std::move(grid));
    }
  }));
  return grids;
}

absl::StatusOr<GridRow> SqliteStore::FindGrid(const std::string& ref) {
  GridRow grid;
  ACTGRID_STORE_RETURN_IF_ERROR(Read([&](sql::Conn& conn) -> absl::Status {
    // All digits: an id. Names may be digits too ([a-z0-9_-]), so an id that does
    // not exist falls back to the name.
    int64_t id = 0;
    if (!ref.empty() &&
        std::all_of(ref.begin(), ref.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
        absl::SimpleAtoi(ref, &id)) {
      ACTGRID_STORE_ASSIGN_OR_RETURN(sql::Stmt by_id, conn.Prepare(kGridById));
      by_id.Bind(1, id);
      absl::StatusOr<GridRow> found = OneGrid(by_id, ref);
      if (!absl::IsNotFound(found.status())) {
        if (!found.ok()) return found.status();
        grid = std::move(*found);
        return absl::OkStatus();
      }
    }
    ACTGRID_STORE_ASSIGN_OR_RETURN(sql::Stmt by_name, conn.Prepare(kGridByName));
    by_name.Bind(1, ref);
    ACTGRID_STORE_ASSIGN_OR_RETURN(grid, OneGrid(by_name, ref));
    return absl::OkStatus();
  }));
  return grid;
}

absl::StatusOr<std::vector<v1::EngineBuild>> SqliteStore::ListGridEngines(int64_t grid_id) {
  std::vector<v1::EngineBuild> engines;
  ACTGRID_STORE_RETURN_IF_ERROR(Read([&](sql::Conn& conn) -> absl::Status {
    engines.clear();
    ACTGRID_STORE_RETURN_IF_ERROR(BeginRead(conn));
    ACTGRID_STORE_RETURN_IF_ERROR(CheckGridExists(conn, grid_id));
    ACTGRID_STORE_ASSIGN_OR_RETURN(sql::Stmt stmt, conn.Prepare(kGridEngines));
    stmt.Bind(1, grid_id);
    for (;;) {
      ACTGRID_STORE_ASSIGN_OR_RETURN(const bool row, stmt.Step());
      if (!row) break;
      v1::EngineBuild& e = engines.emplace_back();
      e.set_engine_version(stmt.Int(0));
      e.set_build(stmt.Text(1));
      e.set_trials(stmt.Int(2));
    }
    stmt.Reset();
    return EndRead(conn);
  }));
  return engines;
}

absl::StatusOr<GridProgress> SqliteStore::GetProgress(int64_t grid_id) {
  GridProgress progress;
  ACTGRID_STORE_RETURN_IF_ERROR(Read([&](sql::Conn& conn) -> absl::Status {
    ACTGRID_STORE_RETURN_IF_ERROR(BeginRead(conn));
    ACTGRID_STORE_RETURN_IF_ERROR(CheckGridExists(conn, grid_id));
    ACTGRID_STORE_ASSIGN_OR_RETURN(sql::Stmt stmt, conn.Prepare(kProgress));
    stmt.Bind(1, grid_id);
    for (;;) {
      ACTGRID_STORE_ASSIGN_OR_RETURN(const bool row, stmt.Step());
      if (!row) break;
      const int count = stmt.Int(1);
      switch (stmt.Int(0)) {
        case v1::TRIAL_STATE_PENDING:
          progress.counts.set_pending(count);
          break;
        case v1::TRIAL_STATE_LEASED:
          progress.counts.set_leased(count);
          break;
        case v1::TRIAL_STATE_SUCCEEDED:
          progress.counts.set_succeeded(count);
          break;
        case v1::TRIAL_STATE_DIVERGED:
          progress.counts.set_diverged(count);
          break;
        case v1::TRIAL_STATE_FAILED:
          progress.counts.set_failed(count);
          break;
        case v1::TRIAL_STATE_CANCELLED:
          progress.counts.set_cancelled(count);
          break;
        default:
          break;
      }
      progress.epochs_total += stmt.Int64(2);
      progress.epochs_done += stmt.Int64(3);
    }
    stmt.Reset();
    return EndRead(conn);
  }));
  return progress;
}

absl::StatusOr<std::vector<GridTrialRow>> SqliteStore::ListGridTrials(int64_t grid_id) {
  std::vector<GridTrialRow> rows;
  ACTGRID_STORE_RETURN_IF_ERROR(Read([&](sql::Conn& conn) -> absl::Status {
    ACTGRID_STORE_RETURN_IF_ERROR(BeginRead(conn));
    ACTGRID_STORE_RETURN_IF_ERROR(CheckGridExists(conn, grid_id));
    ACTGRID_STORE_ASSIGN_OR_RETURN(sql::Stmt stmt, conn.Prepare(kGridTrials));
    stmt.Bind(1, grid_id);
    for (;;) {
      ACTGRID_STORE_ASSIGN_OR_RETURN(const bool found, stmt.Step());
      if (!found) break;
      GridTrialRow row;
      row.trial_id = stmt.Int64(0);
      row.key = stmt.Text(1);
      row.position = stmt.Int(2);
      row.cell = stmt.Int(3);
      row.seed_rank = stmt.Int(4);
      row.seed = static_cast<uint64_t>(stmt.Int64(5));
      ACTGRID_STORE_ASSIGN_OR_RETURN(row.values, DecodeList(stmt.Text(6)));
      row.state = static_cast<v1::TrialState>(stmt.Int(7));
      row.last_error = stmt.Text(8);
      const bool finished =
          row.state == v1::TRIAL_STATE_SUCCEEDED || row.state == v1::TRIAL_STATE_DIVERGED;
      if (finished && stmt.Int64(9) != 0) row.summary = ReadSummary(stmt, kGridTrialsSummaryColumn);
      rows.push_back(std::move(row));
    }
    stmt.Reset();
    return EndRead(conn);
  }));
  return rows;
}

absl::StatusOr<std::vector<v1::EpochMetrics>> SqliteStore::LoadEpochs(int64_t trial_id) {
  std::vector<v1::EpochMetrics> epochs;
  ACTGRID_STORE_RETURN_IF_ERROR(Read([&](sql::Conn& conn) -> absl::Status {
    ACTGRID_STORE_RETURN_IF_ERROR(BeginRead(conn));
    {
      ACTGRID_STORE_ASSIGN_OR_RETURN(sql::Stmt exists, conn.Prepare(kTrialExists));
      exists.Bind(1, trial_id);
      ACTGRID_STORE_ASSIGN_OR_RETURN(const bool found, exists.Step());
      if (!found) return absl::NotFoundError(absl::StrCat("no trial ", trial_id));
    }
    // Every epoch once, in order (see ForEachStoredEpoch).
    epochs.clear();
    ACTGRID_STORE_RETURN_IF_ERROR(ForEachStoredEpoch(conn, trial_id, [&](const StoredEpoch& e) {
      return ToMetrics(e, &epochs.emplace_back());
    }));
    return EndRead(conn);
  }));
  return epochs;
}

absl::StatusOr<std::vector<v1::WorkerInfo>> SqliteStore::ListWorkers() {
  std::vector<v1::WorkerInfo> workers;
  ACTGRID_STORE_RETURN_IF_ERROR(Read([&](sql::Conn& conn) -> absl::Status {
    ACTGRID_STORE_ASSIGN_OR_RETURN(sql::Stmt stmt, conn.Prepare(kWorkers));
    for (;;) {
      ACTGRID_STORE_ASSIGN_OR_RETURN(const bool row, stmt.Step());
      if (!row) return absl::OkStatus();
      v1::WorkerInfo& worker = workers.emplace_back();
      worker.set_worker_id(stmt.Text(0));
      worker.set_hostname(stmt.Text(1));
      worker.set_threads(stmt.Int(2));
      worker.set_first_seen_ms(stmt.Int64(3));
      worker.set_last_seen_ms(stmt.Int64(4));
      worker.set_leased(stmt.Int(5));
      worker.set_completed(stmt.Int64(6));
      worker.set_failed(stmt.Int64(7));
    }
  }));
  return workers;
}

}  // namespace actgrid::store
