// SqliteStore's writes. Each public method prepares what it can on the caller's thread,
// then hands one closure to the writer thread (SqliteStore::Write), which runs it in
// the batch transaction under its own savepoint: an error return undoes all of it.
#include <algorithm>
#include <chrono>
#include <string>
#include <unordered_map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/store/rows.h"
#include "server/store/sqlite_store.h"

namespace actgrid::store {
namespace {

constexpr int kPending = v1::TRIAL_STATE_PENDING;
constexpr int kLeased = v1::TRIAL_STATE_LEASED;
constexpr int kCancelled = v1::TRIAL_STATE_CANCELLED;

// ---- SQL (cached per connection by address) ----
// Trial states appear as their proto numbers (1 PENDING, 2 LEASED, 6 CANCELLED);
// schema.cc asserts that those never change.

constexpr const char* kInsertGrid =
    "INSERT INTO grids(name, factors, cells, trials, created_ms, cancelled) "
    "VALUES(?1, ?2, ?3, ?4, ?5, 0)";
constexpr const char* kTrialByKey = "SELECT id, state FROM trials WHERE trial_key = ?1";
// A FAILED or CANCELLED trial submitted again: a fresh start. Its old epoch rows stay
// until the next Lease deletes them, but no longer count as done.
constexpr const char* kResubmitTrial =
    "UPDATE trials SET state = 1, failures = 0, epochs_done = 0, finished_ms = NULL "
    "WHERE id = ?1";
constexpr const char* kInsertTrial =
    "INSERT INTO trials(trial_key, spec, state, epochs_total, created_ms, spec_key, key_engine) "
    "VALUES(?1, ?2, 1, ?3, ?4, ?5, ?6)";
// The newest other engine version that finished the same spec.
constexpr const char* kEarlierEngine =
    "SELECT max(s.engine_version) FROM trials t JOIN summaries s ON s.trial_id = t.id "
    "WHERE t.spec_key = ?1 AND t.state IN (3, 4) AND s.engine_version <> ?2";
constexpr const char* kInsertGridTrial =
    "INSERT INTO grid_trials(grid_id, position, trial_id, cell, seed_rank, seed, vals) "
    "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)";
constexpr const char* kCancelGrid = "UPDATE grids SET cancelled = 1 WHERE id = ?1";
constexpr const char* kCancelPending =
    "UPDATE trials SET state = 6, finished_ms = ?2 WHERE id = ?1 AND state = 1";
constexpr const char* kLeaseTrial =
    "UPDATE trials SET state = 2, attempt = ?2, worker_id = ?3, deadline_ms = ?4, "
    "epochs_done = 0, lease_secret = ?5 WHERE id = ?1 AND state = 1 AND attempt = ?2 - 1";
constexpr const char* kDeleteEpochs = "DELETE FROM epochs WHERE trial_id = ?1";
constexpr const char* kDeleteChunks = "DELETE FROM epoch_chunks WHERE trial_id = ?1";
constexpr const char* kInsertChunk =
    "INSERT OR REPLACE INTO epoch_chunks(trial_id, seq, first_epoch, last_epoch, data) VALUES(?1, ?2, ?3, ?4, ?5)";
constexpr const char* kInsertAttempt =
    "INSERT OR REPLACE INTO attempts(trial_id, attempt, worker_id, leased_ms) "
    "VALUES(?1, ?2, ?3, ?4)";
constexpr const char* kTrialLease =
    "SELECT state, attempt, epochs_done, epoch_chunks, worker_id, lease_secret, epochs_total FROM trials WHERE id = ?1";
constexpr const char* kRenewTrial =
    "UPDATE trials SET deadline_ms = ?2, epochs_done = ?3, epoch_chunks = ?4 WHERE id = ?1";
constexpr const char* kUpsertCurves =
    "INSERT OR REPLACE INTO curves(trial_id, " ACTGRID_CURVE_COLUMNS
    ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
static_assert(kCurveColumnCount == 9, "kUpsertCurves's VALUES follow ACTGRID_CURVE_COLUMNS");
constexpr const char* kEndTrial =
    "UPDATE trials SET state = ?2, failures = failures + ?3, "
    "last_error = CASE WHEN ?4 = '' THEN last_error ELSE ?4 END, finished_ms = ?5 WHERE id = ?1";
constexpr const char* kEndAttemptRow =
    "UPDATE attempts SET ended_ms = ?3, outcome = ?4, error = ?5, failure = ?6 "
    "WHERE trial_id = ?1 AND attempt = ?2";
constexpr const char* kUpsertSummary =
    "INSERT OR REPLACE INTO summaries(trial_id, " ACTGRID_SUMMARY_COLUMNS
    ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, "
    "?18, ?19, ?20, ?21, ?22, ?23, ?24)";
constexpr const char* kTouchWorker =
    "INSERT INTO workers(worker_id, hostname, threads, first_seen_ms, last_seen_ms) "
    "VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(worker_id) DO UPDATE SET "
    "hostname = excluded.hostname, threads = excluded.threads, "
    "last_seen_ms = excluded.last_seen_ms";

static_assert(kSummaryColumnCount == 23, "kUpsertSummary's VALUES follow ACTGRID_SUMMARY_COLUMNS");

int64_t WallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string StateName(int state) { return v1::TrialState_Name(static_cast<v1::TrialState>(state)); }

// ---- the closures' bodies (writer thread) ----

absl::Status InsertGrid(sql::Conn& conn, const NewGrid& grid, const std::vector<std::string>& specs,
                        CreatedGrid* created) {
  ACTGRID_STORE_ASSIGN_OR_RETURN(sql::Stmt insert_grid, conn.Prepare(kInsertGrid));
  insert_grid.Bind(1, grid.name)
      .Bind(2, EncodeList(grid.factors))
      .Bind(3, grid.cells)
      .Bind(4, static_cast<int64_t>(grid.trials.size()))
      .Bind(5, grid.created_ms);
  ACTGRID_STORE_RETURN_IF_ERROR(insert_grid.Run());
  created->grid_id = conn.LastInsertRowid();

  ACTGRID_STORE_ASSIGN_OR_RETURN(sql::Stmt by_key, conn.Prepare(kTrialByKey));
  ACTGRID_STORE_ASSIGN_OR_RETURN(sql::Stmt resubmit, conn.Prepare(kResubmitTrial));
  ACTGRID_STORE_ASSIGN_OR_RETURN(sql::Stmt insert_trial, conn.Prepare(kInsertTrial));
  ACTGRID_STORE_ASSIGN_OR_RETURN(sql::Stmt insert_member, conn.Prepare(kInsertGridTrial));
  ACTGRID_STORE_ASSIGN_OR_RETURN(sql::Stmt earlier, conn.Prepare(kEarlierEngine));
  // A key listed twice in this grid reports the state it had before this call.
  std::unordered_map<std::string, std::pair<int64_t, v1::TrialState>> seen;
  for (size_t i = 0; i < grid.trials.size(); ++i) {
    const NewGridTrial& trial = grid.trials[i];
    auto it = seen.find(trial.key);
    if (it == seen.end()) {
      int64_t id = 0;
      v1::TrialState prior = v1::TRIAL_STATE_UNSPECIFIED;
      by_key.Bind(1, trial.key);
      ACTGRID_STORE_ASSIGN_OR_RETURN(const bool found, by_key.Step());
      if (found) {
        id = by_key.Int64(0);
        prior = static_cast<v1::TrialState>(by_key.Int(1));
      }
      by_key.Reset();
      if (!found) {
        insert_trial.Bind(1, trial.key)
            .BindBlob(2, specs[i])
            .Bind(3, static_cast<int64_t>(trial.spec.train().epochs()) + 1)
            .Bind(4, grid.created_ms)
            .Bind(5, trial.spec_key)
            .Bind(6, grid.engine_version);
        ACTGRID_STORE_RETURN_IF_ERROR(insert_trial.Run());
        insert_trial.Reset();
        id = conn.LastInsertRowid();
        if (!trial.spec_key.empty()) {
          earlier.Bind(1, trial.spec_key).Bind(2, grid.engine_version);
          ACTGRID_STORE_ASSIGN_OR_RETURN(const bool row, earlier.Step());
          if (row && !earlier.IsNull(0)) ++created->earlier[earlier.Int(0)];
          earlier.Reset();
        }
      } else if (prior == v1::TRIAL_STATE_FAILED || prior == v1::TRIAL_STATE_CANCELLED) {
        resubmit.Bind(1, id);
        ACTGRID_STORE_RETURN_IF_ERROR(resubmit.Run());
        resubmit.Reset();
      }
      it = seen.emplace(trial.key, std::make_pair(id, prior)).first;
    }
    created->trial_ids.push_back(it->second.first);
    created->prior_state.push_back(it->second.second);
    insert_member.Bind(1, created->grid_id)
        .Bind(2, static_cast<int64_t>(i))
        .Bind(3, it->second.first)
        .Bind(4, trial.cell)
        .Bind(5, trial.seed_rank)
        .Bind(6, static_cast<int64_t>(trial.spec.seed()))  // uint64 bits kept as int64
        .Bind(7, EncodeList(trial.values));
    ACTGRID_STORE_RETURN_IF_ERROR(insert_member.Run());
    insert_member.Reset();
  }
  return absl::OkStatus();
}

// What AppendEpochs knows about one trial during one call: read once, updated once.
struct CallTrial {
  int state = 0;  // 0: no such trial
  int attempt = 0;
  int next_epoch = 0;  // 1 + highest epoch stored for the current attempt
  int64_t chunks = 0;  // chunks written for the trial: the next one's seq
  int epochs_total = 0;  // the spec's epochs + 1
  std::string worker_id, lease_secret;
  bool accepted = false;
};

// Compares without leaking where two secrets differ through timing.
bool SameSecret(const std::string& a, const std::string& b) {
  if (a.size() != b.size() || a.empty()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

// Whether `holder` (when given) is the one the stored lease names.
bool HeldBy(const LeaseHolder& holder, const std::string& worker_id, const std::string& lease_secret) {
  if (holder.worker_id == nullptr && holder.lease_secret == nullptr) return true;
  return holder.worker_id != nullptr && holder.lease_secret != nullptr && *holder.worker_id == worker_id &&
         SameSecret(*holder.lease_secret, lease_secret);
}

absl::Status AppendRows(sql::Conn& conn, const std::vector<EpochRow>& epochs,
                        const std::vector<Renewal>& renewals, int64_t deadline_ms,
                        std::vector<Verdict>* verdicts) {
  ACTGRID_STORE_ASSIGN_OR_RETURN(sql::Stmt lookup, conn.Prepare(kTrialLease));
  std::unordered_map<int64_t, CallTrial> trials;
  trials.reserve(epochs.size() + renewals.size());
  std::vector<std::pair<int64_t, CallTrial*>> order;  // first-mention order
  // The trial's verdict is decided at its first mention, from its stored state and
  // the attempt quoted there.
  auto mention = [&](int64_t trial_id, int attempt, const LeaseHolder& holder) -> absl::StatusOr<CallTrial*> {
    auto [it, inserted] = trials.try_emplace(trial_id);
    CallTrial& trial = it->second;
    if (!inserted) return &trial;
    lookup.Bind(1, trial_id);
    ACTGRID_STORE_ASSIGN_OR_RETURN(const bool found, lookup.Step());
    if (found) {
      trial.state = lookup.Int(0);
      trial.attempt = lookup.Int(1);
      trial.next_epoch = lookup.Int(2);
      trial.chunks = lookup.Int64(3);
      trial.worker_id = lookup.Text(4);
      trial.lease_secret = lookup.Text(5);
      trial.epochs_total = lookup.Int(6);
    }
    lookup.Reset();
    v1::ReportVerdict verdict = v1::REPORT_VERDICT_STALE;
    if (found && attempt == trial.attempt) {
      if (trial.state == kLeased && HeldBy(holder, trial.worker_id, trial.lease_secret))
        verdict = v1::REPORT_VERDICT_ACCEPTED;
      if (trial.state == kCancelled) verdict = v1::REPORT_VERDICT_CANCELLED;
    }
    trial.accepted = verdict == v1::REPORT_VERDICT_ACCEPTED;
    verdicts->push_back({trial_id, verdict});
    order.emplace_back(trial_id, &trial);
    return &trial;
  };

  // Each trial's epochs of this call become one chunk row, numbered after the trial's
  // earlier chunks. An epoch sent again is stored again; readers take its latest copy.
  struct Chunk {
    int64_t trial_id;
    int64_t seq;
    int first = -1, last = -1;
    std::string data;
  };
  std::vector<Chunk> chunks;
  std::unordered_map<int64_t, size_t> chunk_of;
  for (const EpochRow& row : epochs) {
    ACTGRID_STORE_ASSIGN_OR_RETURN(CallTrial* const trial, mention(row.trial_id, row.attempt, row.holder));
    // Only epochs of the current attempt of an accepted trial, sent by its holder, are stored.
    if (!trial->accepted || row.attempt != trial->attempt ||
        !HeldBy(row.holder, trial->worker_id, trial->lease_secret))
      continue;
    const int epoch = row.stored().epoch();
    if (epoch >= trial->epochs_total)
      return absl::InvalidArgumentError(absl::StrCat("trial ", row.trial_id, ": epoch ", epoch,
                                                     " is outside its epochs 0..", trial->epochs_total - 1));
    auto [it, added] = chunk_of.try_emplace(row.trial_id, chunks.size());
    if (added) chunks.push_back(Chunk{row.trial_id, trial->chunks++, -1, -1, {}});
    Chunk& chunk = chunks[it->second];
    chunk.first = chunk.first < 0 ? epoch : std::min(chunk.first, epoch);
    chunk.last = std::max(chunk.last, epoch);
    AppendEpochRecord(row.stored(), &chunk.data);
    trial->next_epoch = std::max(trial->next_epoch, epoch + 1);
  }
  if (!chunks.empty()) {
    ACTGRID_STORE_ASSIGN_OR_RETURN(sql::Stmt insert, conn.Prepare(kInsertChunk));
    for (const Chunk& chunk : chunks) {
      insert.Bind(1, chunk.trial_id)
          .Bind(2, chunk.seq)
          .Bind(3, int64_t{chunk.first})
          .Bind(4, int64_t{chunk.last})
          .BindBlobNoCopy(5, chunk.data);
      ACTGRID_STORE_RETURN_IF_ERROR(insert.Run());
      insert.Reset();
    }
  }
  for (const Renewal& renewal : renewals) {
    ACTGRID_STORE_RETURN_IF_ERROR(mention(renewal.trial_id, renewal.attempt, renewal.holder).status());
  }

  ACTGRID_STORE_ASSIGN_OR_RETURN(sql::Stmt renew, conn.Prepare(kRenewTrial));
  for (const auto& [trial_id, trial] : order) {
    if (!trial->accepted) continue;
    renew.Bind(1, trial_id).Bind(2, deadline_ms).Bind(3, trial->next_epoch).Bind(4, trial->chunks);
    ACTGRID_STORE_RETURN_IF_ERROR(renew.Run());
    renew.Reset();
  }
  return absl::OkStatus();
}

absl::Status EndTrialAttempt(sql::Conn& conn, const AttemptEnd& end) {
  int state = 0;
  int attempt = 0;
  {
    ACTGRID_STORE_ASSIGN_OR_RETURN(sql::Stmt lookup, conn.Prepare(kTrialLease));
    lookup.Bind(1, end.trial_id);
    ACTGRID_STORE_ASSIGN_OR_RETURN(const bool found, lookup.Step());
    if (!found) return absl::NotFoundError(absl::StrCat("no trial ", end.trial_id));
    state = lookup.Int(0);
    attempt = lookup.Int(1);
    if (state == kLeased && attempt == end.attempt && !HeldBy(end.holder, lookup.Text(4), lookup.Text(5)))
      return absl::FailedPreconditionError(absl::StrCat("trial ", end.trial_id, " attempt ", end.attempt,
                                                        ": not this worker's lease, or the wrong lease secret"));
  }
  const bool leased_now = state == kLeased && attempt == end.attempt;
  const bool may_end = leased_now || (end.to == v1::TRIAL_STATE_CANCELLED && state == kPending);
  if (!may_end) {
    if (state == kLeased) {
      return absl::FailedPreconditionError(absl::StrCat("trial ", end.trial_id, ": attempt ",
                                                        end.attempt, " is stale (current attempt ",
                                                        attempt, ")"));
    }
    return absl::FailedPreconditionError(
        absl::StrCat("trial ", end.trial_id, " is ", StateName(state), " (attempt ", attempt,
                     "): attempt ", end.attempt, " cannot end as ", StateName(end.to)));
  }

  const bool finished = end.to == v1::TRIAL_STATE_SUCCEEDED || end.to == v1::TRIAL_STATE_DIVERGED;
  if (finished) {
    const int last = end.summary->epochs_run();
    // Epochs come in order (the epochs table's rows, then the chunks, which only hold
    // epochs above those): epoch `expected` must be next, up to `last`.
    std::vector<double> curves[kCurveColumnCount];  // packed into the curves row below
    for (auto& curve : curves) curve.reserve(size_t(std::min(last, 100'000)) + 1);
    std::vector<v1::EpochMetrics> stored;  // every stored epoch, for end.verify
    int expected = 0;
    ACTGRID_STORE_RETURN_IF_ERROR(ForEachStoredEpoch(conn, end.trial_id, [&](const StoredEpoch& e) {
      if (end.verify) {
        // The summary reads layers at epoch 0 only: the others stay undecoded, so a
        // long curve of wide epochs costs the writer little.
        StoredEpoch scalars = e;
        if (e.epoch != 0) scalars.layers = {};
        ACTGRID_STORE_RETURN_IF_ERROR(ToMetrics(scalars, &stored.emplace_back()));
      }
      if (e.epoch != expected || expected > last) return absl::OkStatus();
      for (int c = 0; c < kCurveColumnCount; ++c) curves[c].push_back(e.values[c]);
      ++expected;
      return absl::OkStatus();
    }));
    if (expected <= last) {
      return absl::InvalidArgumentError(absl::StrCat("trial ", end.trial_id, " attempt ",
                                                     end.attempt, ": epoch ", expected, " of 0..",
                                                     last, " was not reported"));
    }
    v1::TrialSummary verified = *end.summary;
    if (end.verify) ACTGRID_STORE_RETURN_IF_ERROR(end.verify(stored, &verified));
    ACTGRID_STORE_ASSIGN_OR_RETURN(sql::Stmt summary, conn.Prepare(kUpsertSummary));
    summary.Bind(1, end.trial_id);
    BindSummary(summary, 2, verified);
    ACTGRID_STORE_RETURN_IF_ERROR(summary.Run());
    ACTGRID_STORE_ASSIGN_OR_RETURN(sql::Stmt packed, conn.Prepare(kUpsertCurves));
    packed.Bind(1, end.trial_id);
    for (int c = 0; c < kCurveColumnCount; ++c) packed.BindBlob(2 + c, PackCurve(curves[c]));
    ACTGRID_STORE_RETURN_IF_ERROR(packed.Run());
  }

  ACTGRID_STORE_ASSIGN_OR_RETURN(sql::Stmt update, conn.Prepare(kEndTrial));
  update.Bind(1, end.trial_id)
      .Bind(2, static_cast<int>(end.to))
      .Bind(3, end.counts_as_failure ? 1 : 0)
      .Bind(4, end.error);
  if (end.to == v1::TRIAL_STATE_PENDING) {
    update.BindNull(5);
  } else {
    update.Bind(5, end.now_ms);
  }
  ACTGRID_STORE_RETURN_IF_ERROR(update.Run());

  if (leased_now) {  // a PENDING trial being cancelled has no attempt running
    ACTGRID_STORE_ASSIGN_OR_RETURN(sql::Stmt ended, conn.Prepare(kEndAttemptRow));
    ended.Bind(1, end.trial_id)
        .Bind(2, end.attempt)
        .Bind(3, end.now_ms)
        .Bind(4, static_cast<int>(end.to))
        .Bind(5, end.error)
        .Bind(6, end.counts_as_failure ? 1 : 0);
    ACTGRID_STORE_RETURN_IF_ERROR(ended.Run());
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<CreatedGrid> SqliteStore::CreateGrid(const NewGrid& grid) {
  // Specs are serialized here, on the caller's thread: the writer does SQL only.
  std::vector<std::string> specs(grid.trials.size());
  for (size_t i = 0; i < grid.trials.size(); ++i) {
    if (grid.trials[i].key.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("trials[", i, "]: empty trial key"));
    }
    if (!grid.trials[i].spec.SerializeToString(&specs[i])) {
      return absl::InvalidArgumentError(absl::StrCat("trials[", i, "]: spec does not serialize"));
    }
  }
  CreatedGrid created;
  ACTGRID_STORE_RETURN_IF_ERROR(
      Write([&](sql::Conn& conn) { return InsertGrid(conn, grid, specs, &created); }));
  return created;
}

absl::Status SqliteStore::SetGridCancelled(int64_t grid_id) {
  return Write([&](sql::Conn& conn) -> absl::Status {
    ACTGRID_STORE_ASSIGN_OR_RETURN(sql::Stmt cancel, conn.Prepare(kCancelGrid));
    cancel.Bind(1, grid_id);
    ACTGRID_STORE_RETURN_IF_ERROR(cancel.Run());
    if (conn.Changes() == 0) return absl::NotFoundError(absl::StrCat("no grid ", grid_id));
    return absl::OkStatus();
  });
}

absl::Status SqliteStore::CancelPending(const std::vector<int64_t>& trial_ids) {
  // The interface carries no clock here; finished_ms is informational, so wall time.
  const int64_t now_ms = WallClockMs();
  return Write([&](sql::Conn& conn) -> absl::Status {
    ACTGRID_STORE_ASSIGN_OR_RETURN(sql::Stmt cancel, conn.Prepare(kCancelPending));
    for (const int64_t id : trial_ids) {
      cancel.Bind(1, id).Bind(2, now_ms);
      ACTGRID_STORE_RETURN_IF_ERROR(cancel.Run());
      cancel.Reset();
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<bool>> SqliteStore::Lease(const std::vector<LeaseGrant>& grants,
                                                     int64_t now_ms) {
  std::vector<bool> applied;
  ACTGRID_STORE_RETURN_IF_ERROR(Write([&](sql::Conn& conn) -> absl::Status {
    applied.assign(grants.size(), false);
    ACTGRID_STORE_ASSIGN_OR_RETURN(sql::Stmt lease, conn.Prepare(kLeaseTrial));
    ACTGRID_STORE_ASSIGN_OR_RETURN(sql::Stmt delete_epochs, conn.Prepare(kDeleteEpochs));
    ACTGRID_STORE_ASSIGN_OR_RETURN(sql::Stmt delete_chunks, conn.Prepare(kDeleteChunks));
    ACTGRID_STORE_ASSIGN_OR_RETURN(sql::Stmt record, conn.Prepare(kInsertAttempt));
    for (size_t i = 0; i < grants.size(); ++i) {
      const LeaseGrant& grant = grants[i];
      lease.Bind(1, grant.trial_id)
          .Bind(2, grant.attempt)
          .Bind(3, grant.worker_id)
          .Bind(4, grant.deadline_ms)
          .Bind(5, grant.lease_secret);
      ACTGRID_STORE_RETURN_IF_ERROR(lease.Run());
      lease.Reset();
      if (conn.Changes() == 0) continue;  // not PENDING, or another attempt
      applied[i] = true;
      // Earlier attempts' epochs (the current attempt has none yet; a first attempt
      // has no earlier ones).
      if (grant.attempt > 1) {
        delete_epochs.Bind(1, grant.trial_id);
        ACTGRID_STORE_RETURN_IF_ERROR(delete_epochs.Run());
        delete_epochs.Reset();
        delete_chunks.Bind(1, grant.trial_id);
        ACTGRID_STORE_RETURN_IF_ERROR(delete_chunks.Run());
        delete_chunks.Reset();
      }
      record.Bind(1, grant.trial_id)
          .Bind(2, grant.attempt)
          .Bind(3, grant.worker_id)
          .Bind(4, now_ms);
      ACTGRID_STORE_RETURN_IF_ERROR(record.Run());
      record.Reset();
    }
    return absl::OkStatus();
  }));
  return applied;
}

absl::StatusOr<std::vector<Verdict>> SqliteStore::AppendEpochs(const std::vector<EpochRow>& epochs,
                                                               const std::vector<Renewal>& renewals,
                                                               int64_t deadline_ms) {
  for (const EpochRow& row : epochs) {
    if (row.stored().epoch() < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("trial ", row.trial_id, ": negative epoch ", row.stored().epoch()));
    }
  }
  std::vector<Verdict> verdicts;
  ACTGRID_STORE_RETURN_IF_ERROR(Write([&](sql::Conn& conn) {
    verdicts.clear();
    return AppendRows(conn, epochs, renewals, deadline_ms, &verdicts);
  }));
  return verdicts;
}

absl::Status SqliteStore::EndAttempt(const AttemptEnd& end) {
  switch (end.to) {
    case v1::TRIAL_STATE_SUCCEEDED:
    case v1::TRIAL_STATE_DIVERGED:
      if (!end.summary.has_value()) {
        return absl::InvalidArgumentError(absl::StrCat("trial ", end.trial_id, ": ending as ",
                                                       StateName(end.to), " needs a summary"));
      }
      if (end.summary->epochs_run() < 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "trial ", end.trial_id, ": negative epochs_run ", end.summary->epochs_run()));
      }
      break;
    case v1::TRIAL_STATE_FAILED:
    case v1::TRIAL_STATE_PENDING:
    case v1::TRIAL_STATE_CANCELLED:
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("trial ", end.trial_id, ": an attempt cannot end as ", StateName(end.to)));
  }
  return Write([&](sql::Conn& conn) { return EndTrialAttempt(conn, end); });
}

absl::Status SqliteStore::TouchWorker(const v1::WorkerInfo& worker) {
  if (worker.worker_id().empty()) return absl::InvalidArgumentError("empty worker_id");
  return Write([&](sql::Conn& conn) -> absl::Status {
    ACTGRID_STORE_ASSIGN_OR_RETURN(sql::Stmt touch, conn.Prepare(kTouchWorker));
    const int64_t first_seen =
        worker.first_seen_ms() != 0 ? worker.first_seen_ms() : worker.last_seen_ms();
    touch.Bind(1, worker.worker_id())
        .Bind(2, worker.hostname())
        .Bind(3, worker.threads())
        .Bind(4, first_seen)
        .Bind(5, worker.last_seen_ms());
    return touch.Run();
  });
}

}  // namespace actgrid::store
