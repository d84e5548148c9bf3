// The coordinator's SQLite store: the only place in actgrid that speaks SQL.
// Grids, trials, attempts, per-epoch metrics, summaries and workers, in one database
// file in WAL mode (or a private ":memory:" one) with a versioned schema (kSchemaVersion
// below). The tables, and what each version changed, are described only with the
// migrations in server/store/schema.cc. In short: per-epoch metrics are written in
// chunks, one row per trial and report call (version 3; the one-row-per-epoch table of
// older files is still read), a trial that ends succeeded or diverged gets its curves
// packed in one row (version 2), and a trial key covers the engine version, the spec's
// own key being spec_key (version 5).
// Writes go through one writer thread that commits whatever is queued in one
// transaction (group commit); every write call returns only after its transaction
// has committed. Reads run on their own connections, from any thread.
#ifndef ACTGRID_SERVER_STORE_STORE_H_
#define ACTGRID_SERVER_STORE_STORE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "actgrid/v1/grids.pb.h"
#include "actgrid/v1/metrics.pb.h"
#include "actgrid/v1/spec.pb.h"
#include "actgrid/v1/workers.pb.h"

namespace actgrid::store {

// The schema version this build writes; older files are migrated on Open.
inline constexpr int kSchemaVersion = 5;

struct StoreOptions {
  std::string path;        // a file, or ":memory:" (private to this Store, shared by its connections)
  bool read_only = false;  // readers only: every write returns FailedPrecondition
  // With read_only: a database file of an older schema is first migrated (its
  // migrations only add), through a short read-write connection.
  bool migrate_older = false;
  // When > 0, the database may not grow past about this many bytes: a write that
  // would fails as a full disk does (ResourceExhausted, "database full: ..."), and
  // nothing of it is stored. The cap covers the write-ahead log too: a quarter of it
  // is the WAL's (checkpointed and trimmed to fit), the rest the database's pages, and
  // a write is refused while the two files together are past the cap.
  int64_t max_bytes = 0;
  // A file database's WAL is copied into the database by a thread of the store's own
  // once it holds this many pages (4 KiB each); the writer does it itself, waiting,
  // only past 16 times as many.
  int checkpoint_pages = 10'000;
};

struct NewGridTrial {
  v1::TrialSpec spec;
  std::string key;                  // trial key (common/spec/trial_key.h: spec and engine version)
  std::string spec_key;             // the spec alone: finds earlier engines' results
  int cell = 0;
  int seed_rank = 0;
  std::vector<std::string> values;  // factor labels, parallel to NewGrid::factors
};

struct NewGrid {
  std::string name;
  std::vector<std::string> factors;
  int cells = 0;
  std::vector<NewGridTrial> trials;  // position i of the grid is trials[i]
  int64_t created_ms = 0;
  int engine_version = 0;  // the engine its new trials are keyed for (trials.key_engine)
};

struct CreatedGrid {
  int64_t grid_id = 0;
  std::vector<int64_t> trial_ids;           // parallel to NewGrid::trials
  std::vector<v1::TrialState> prior_state;  // the state the trial had before: UNSPECIFIED when new
  // New trials whose spec was measured before by another engine version only (not
  // NewGrid::engine_version): how many, by the newest such version.
  std::map<int, int> earlier;
};

// A trial as the scheduler sees it.
struct TrialRow {
  int64_t id = 0;
  std::string key;
  v1::TrialSpec spec;
  v1::TrialState state = v1::TRIAL_STATE_UNSPECIFIED;
  int attempt = 0;          // attempts leased so far; the current lease's fencing token
  int failures = 0;         // failed or expired attempts (releases do not count)
  std::string worker_id;    // holder of the current or last lease
  int64_t deadline_ms = 0;  // current lease's deadline
  std::string last_error;
  int epochs_done = 0;      // epochs stored for the current attempt
  std::string lease_secret; // the current or last lease's secret ("" before schema 5)
  int engine_version = 0;   // the engine its key was made for (1 before schema 5)
};

// Where a trial sits in a grid.
struct GridMember {
  int64_t grid_id = 0;
  int64_t trial_id = 0;
  int position = 0;
  int cell = 0;
  int seed_rank = 0;
};

struct GridRow {
  int64_t id = 0;
  std::string name;
  std::vector<std::string> factors;
  int cells = 0;
  int trials = 0;
  int64_t created_ms = 0;
  bool cancelled = false;
};

struct GridProgress {
  v1::TrialCounts counts;    // trials of the grid by state (a trial listed twice counts twice)
  int64_t epochs_total = 0;  // sum over the grid's trials of epochs + 1
  int64_t epochs_done = 0;   // stored epochs; a finished trial counts epochs + 1
};

// One position of a grid with the state and (when finished) the summary of its trial.
struct GridTrialRow {
  int64_t trial_id = 0;
  std::string key;
  int position = 0;
  int cell = 0;
  int seed_rank = 0;
  uint64_t seed = 0;
  std::vector<std::string> values;
  v1::TrialState state = v1::TRIAL_STATE_UNSPECIFIED;
  std::optional<v1::TrialSummary> summary;  // set for SUCCEEDED and DIVERGED
  std::string last_error;
};

// One position of a grid with its trial's state and one summary value: the rows the
// analysis groups and filters.
struct GridValueRow {
  int64_t trial_id = 0;
  int position = 0;
  int cell = 0;
  int seed_rank = 0;
  uint64_t seed = 0;
  v1::TrialState state = v1::TRIAL_STATE_UNSPECIFIED;
  bool diverged = false;            // finished and diverged
  double value = 0;                 // the requested summary column; NaN when NULL, not
                                    // finished, or no column was requested
};

struct GridValues {
  // The factor labels of each cell (parallel to GridRow::factors), by cell index:
  // every position of a cell has the same labels.
  std::vector<std::vector<std::string>> cells;
  std::vector<GridValueRow> rows;  // in position order
};

// A per-epoch value: an EpochMetrics field ("test_acc"), or with layer >= 0 a
// LayerMetrics field ("grad_norm") of that hidden layer.
struct EpochField {
  std::string metric;
  int layer = -1;
};

// The values of one trial's curve; index = epoch, NaN where the value is NULL, NaN or
// missing (no such layer, or an epoch not stored).
struct TrialCurve {
  int64_t trial_id = 0;
  std::vector<double> values;
};

struct LeaseGrant {
  int64_t trial_id = 0;
  int attempt = 0;  // must be the stored attempt + 1
  std::string worker_id;
  int64_t deadline_ms = 0;
  std::string lease_secret = "";
};

// Who claims to hold a lease: the worker id and the lease's secret, both of which must
// match the stored lease (not copied; valid during the call). A null holder is the
// coordinator's own business (tests, tools) and is not checked.
struct LeaseHolder {
  const std::string* worker_id = nullptr;
  const std::string* lease_secret = nullptr;
};

struct EpochRow {
  int64_t trial_id = 0;
  int attempt = 0;
  v1::EpochMetrics metrics;
  // When set, the metrics are these instead (not copied; valid during the call).
  const v1::EpochMetrics* metrics_of_report = nullptr;
  LeaseHolder holder = {};
  const v1::EpochMetrics& stored() const { return metrics_of_report ? *metrics_of_report : metrics; }
};

struct Renewal {
  int64_t trial_id = 0;
  int attempt = 0;
  LeaseHolder holder = {};
};

struct Verdict {
  int64_t trial_id = 0;
  v1::ReportVerdict verdict = v1::REPORT_VERDICT_UNSPECIFIED;  // see workers.proto
};

// How a leased attempt ends.
struct AttemptEnd {
  int64_t trial_id = 0;
  int attempt = 0;
  v1::TrialState to = v1::TRIAL_STATE_UNSPECIFIED;  // SUCCEEDED, DIVERGED, FAILED, PENDING or CANCELLED
  std::optional<v1::TrialSummary> summary;          // required for SUCCEEDED and DIVERGED
  std::string error;                                // kept as last_error when not empty
  bool counts_as_failure = false;                   // increments failures (failed or expired)
  int64_t now_ms = 0;
  // When set (a worker ending its own lease), it must match the stored lease.
  LeaseHolder holder = {};
  // SUCCEEDED and DIVERGED: when set, called inside the write transaction with every
  // stored epoch of the attempt in epoch order (the layers of epoch 0 only); it may
  // replace the summary to store, and an error from it ends the call with that error,
  // nothing changed. The coordinator recomputes the summary from the curve here.
  std::function<absl::Status(const std::vector<v1::EpochMetrics>& epochs, v1::TrialSummary* summary)> verify = nullptr;
};

class Store {
 public:
  // Opens (creating when absent) and migrates the database. Errors: Unavailable when
  // the file cannot be opened or is not an actgrid database (the message names the
  // file and SQLite's reason); NotFound when read_only and the file does not exist;
  // FailedPrecondition when the file's schema is newer than this build's.
  static absl::StatusOr<std::unique_ptr<Store>> Open(const StoreOptions& options);
  virtual ~Store() = default;

  // ---- writes: each returns after its transaction has committed ----

  // Inserts the grid and its positions. A trial whose key is already stored is
  // reused: SUCCEEDED, DIVERGED, PENDING and LEASED trials are left as they are;
  // FAILED and CANCELLED ones go back to PENDING with failures = 0. New trials whose
  // spec key has finished results of another engine version are counted in `earlier`.
  virtual absl::StatusOr<CreatedGrid> CreateGrid(const NewGrid& grid) = 0;

  // Marks the grid cancelled (its trials are cancelled through EndAttempt/CancelPending).
  virtual absl::Status SetGridCancelled(int64_t grid_id) = 0;

  // PENDING -> CANCELLED for each listed trial still PENDING; others are skipped.
  virtual absl::Status CancelPending(const std::vector<int64_t>& trial_ids) = 0;

  // PENDING -> LEASED for each grant whose trial is PENDING with attempt == grant.attempt - 1;
  // deletes the epochs of earlier attempts and records the attempt. Returns, parallel
  // to `grants`, whether each was applied (false: state or attempt did not match).
  virtual absl::StatusOr<std::vector<bool>> Lease(const std::vector<LeaseGrant>& grants,
                                                 int64_t now_ms) = 0;

  // Stores epoch rows (with their per-layer metrics) and renews leases. A row is stored
  // only when its trial is LEASED with the row's attempt and its holder (when given) is
  // the lease's; a repeated (trial, epoch) of the same attempt replaces the earlier row.
  // Each trial named in `epochs` or `renewals` gets one Verdict (in first-mention
  // order): ACCEPTED (its lease deadline set to deadline_ms), CANCELLED when the trial
  // is CANCELLED and the attempt matches, STALE otherwise (nothing of it stored).
  // InvalidArgument, nothing stored, when an accepted row's epoch is past its spec's.
  virtual absl::StatusOr<std::vector<Verdict>> AppendEpochs(const std::vector<EpochRow>& epochs,
                                                           const std::vector<Renewal>& renewals,
                                                           int64_t deadline_ms) = 0;

  // Ends the trial's current attempt when it is LEASED with end.attempt and (when
  // given) end.holder (for to == CANCELLED also when PENDING). SUCCEEDED/DIVERGED store the summary (after
  // end.verify) and require epochs 0..summary.epochs_run stored (InvalidArgument
  // naming the missing epoch otherwise, nothing changes). Errors: FailedPrecondition for a stale attempt
  // or a trial not in a state that can end; NotFound for an unknown trial.
  virtual absl::Status EndAttempt(const AttemptEnd& end) = 0;

  // Inserts or updates a worker (first_seen kept; last_seen, hostname, threads set).
  virtual absl::Status TouchWorker(const v1::WorkerInfo& worker) = 0;

  // ---- reads: any thread ----

  // Every PENDING or LEASED trial with every grid position it holds in grids that are
  // not cancelled (for the scheduler's recovery on restart).
  virtual absl::StatusOr<std::vector<TrialRow>> LoadUnfinished() = 0;
  virtual absl::StatusOr<std::vector<GridMember>> LoadUnfinishedMembers() = 0;
  virtual absl::StatusOr<TrialRow> GetTrial(int64_t trial_id) = 0;

  // Newest first; limit <= 0 means all.
  virtual absl::StatusOr<std::vector<GridRow>> ListGrids(int limit) = 0;
  // By id ("12") or by name (the newest grid of that name). NotFound otherwise.
  virtual absl::StatusOr<GridRow> FindGrid(const std::string& ref) = 0;
  virtual absl::StatusOr<GridProgress> GetProgress(int64_t grid_id) = 0;
  // The engine versions and builds that measured the grid's finished trials, with how
  // many each (a trial listed twice counts once), newest version first.
  virtual absl::StatusOr<std::vector<v1::EngineBuild>> ListGridEngines(int64_t grid_id) = 0;
  // In position order.
  virtual absl::StatusOr<std::vector<GridTrialRow>> ListGridTrials(int64_t grid_id) = 0;
  // The stored epochs of a trial, in epoch order, with their layers.
  virtual absl::StatusOr<std::vector<v1::EpochMetrics>> LoadEpochs(int64_t trial_id) = 0;
  // ---- analysis reads ----

  // Every position of the grid, in position order, with the TrialSummary field
  // `summary_field` ("final_test_acc") of finished trials; an empty field reads no
  // summary value. Errors: NotFound for an unknown grid; InvalidArgument for an
  // unknown field.
  virtual absl::StatusOr<GridValues> ListGridValues(int64_t grid_id, const std::string& summary_field) = 0;
  // The curve of `field` of each finished (SUCCEEDED or DIVERGED) trial of the grid,
  // each trial once, in no particular order. Errors: NotFound; InvalidArgument for an
  // unknown field (the message lists the valid ones).
  virtual absl::StatusOr<std::vector<TrialCurve>> LoadGridCurves(int64_t grid_id, const EpochField& field) = 0;
  // One epoch of each finished trial of the grid (with its layers), each trial once:
  // epoch `epoch`, or each trial's last epoch (its summary's epochs_run) when
  // epoch < 0. Trials without that epoch are left out.
  virtual absl::StatusOr<std::vector<std::pair<int64_t, v1::EpochMetrics>>> LoadGridEpoch(int64_t grid_id,
                                                                                         int epoch) = 0;
  // The specs of the grid's positions first..first+count-1 (clamped), in position order.
  virtual absl::StatusOr<std::vector<v1::TrialSpec>> ListGridSpecs(int64_t grid_id, int first, int count) = 0;

  // Most recently seen first; completed/failed counted from ended attempts.
  virtual absl::StatusOr<std::vector<v1::WorkerInfo>> ListWorkers() = 0;
};

}  // namespace actgrid::store

#endif  // ACTGRID_SERVER_STORE_STORE_H_
