// The store's tables and migrations. Append a migration to kMigrations (never edit a
// released one) and bump kSchemaVersion in store.h to change the schema.
#include "server/store/schema.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "actgrid/v1/grids.pb.h"
#include "actgrid/v1/metrics.pb.h"
#include "server/store/store.h"

namespace actgrid::store {
namespace {

// SQL of the store writes trial states and outcomes as these numbers, and the partial
// indexes below name them literally: the proto values must never change.
static_assert(v1::TRIAL_STATE_PENDING == 1 && v1::TRIAL_STATE_LEASED == 2 &&
              v1::TRIAL_STATE_SUCCEEDED == 3 && v1::TRIAL_STATE_DIVERGED == 4 &&
              v1::TRIAL_STATE_FAILED == 5 && v1::TRIAL_STATE_CANCELLED == 6);

// Migration 1: everything. Notes on the choices:
//  - grids.factors and grid_trials.vals hold a length-prefixed list ("3:abc2:de"),
//    which survives any label text (see rows.h).
//  - trials.spec is the serialized TrialSpec; epochs_total = spec.train.epochs + 1;
//    epochs_done = 1 + the highest epoch stored for the current attempt.
//  - attempts.outcome is the TrialState the attempt ended in; attempts.failure is 1
//    when it counted as a failure (failed, or a lease that expired).
//  - epochs and layer_metrics have no foreign key: they are the hot insert path and
//    AppendEpochs checks the trial itself. Metric columns hold NULL for NaN.
//  - The partial indexes serve LoadUnfinished and ListWorkers' leased count.
constexpr const char* kMigration1 = R"sql(
CREATE TABLE grids(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  factors TEXT NOT NULL,
  cells INTEGER NOT NULL,
  trials INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  cancelled INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX grids_by_name ON grids(name, id);

CREATE TABLE trials(
  id INTEGER PRIMARY KEY,
  trial_key TEXT UNIQUE NOT NULL,
  spec BLOB NOT NULL,
  state INTEGER NOT NULL,
  attempt INTEGER NOT NULL DEFAULT 0,
  failures INTEGER NOT NULL DEFAULT 0,
  worker_id TEXT NOT NULL DEFAULT '',
  deadline_ms INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  epochs_total INTEGER NOT NULL,
  epochs_done INTEGER NOT NULL DEFAULT 0,
  created_ms INTEGER NOT NULL,
  finished_ms INTEGER
);
CREATE INDEX trials_unfinished ON trials(state) WHERE state IN (1, 2);
CREATE INDEX trials_leased_by_worker ON trials(worker_id) WHERE state = 2;

CREATE TABLE grid_trials(
  grid_id INTEGER NOT NULL REFERENCES grids(id),
  position INTEGER NOT NULL,
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  cell INTEGER NOT NULL,
  seed_rank INTEGER NOT NULL,
  seed INTEGER NOT NULL,
  vals TEXT NOT NULL,
  PRIMARY KEY(grid_id, position)
) WITHOUT ROWID;
CREATE INDEX grid_trials_by_trial ON grid_trials(trial_id);

CREATE TABLE attempts(
  trial_id INTEGER NOT NULL REFERENCES trials(id),
  attempt INTEGER NOT NULL,
  worker_id TEXT NOT NULL,
  leased_ms INTEGER NOT NULL,
  ended_ms INTEGER,
  outcome INTEGER,
  error TEXT,
  failure INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(trial_id, attempt)
) WITHOUT ROWID;
CREATE INDEX attempts_by_worker ON attempts(worker_id);

CREATE TABLE epochs(
  trial_id INTEGER NOT NULL,
  epoch INTEGER NOT NULL,
  train_loss REAL,
  test_loss REAL,
  train_acc REAL,
  test_acc REAL,
  dead_fraction REAL,
  sparsity REAL,
  grad_norm_first REAL,
  grad_norm_last REAL,
  seconds REAL,
  layers BLOB NOT NULL,  -- per-layer metrics, see EncodeLayers in rows.h
  PRIMARY KEY(trial_id, epoch)
) WITHOUT ROWID;

CREATE TABLE summaries(
  trial_id INTEGER PRIMARY KEY REFERENCES trials(id),
  outcome INTEGER NOT NULL,
  final_test_acc REAL,
  best_test_acc REAL,
  best_epoch INTEGER NOT NULL,
  final_test_loss REAL,
  final_train_loss REAL,
  epochs_to_target INTEGER NOT NULL,
  auc_test_acc REAL,
  init_sparsity REAL,
  final_sparsity REAL,
  init_dead_fraction REAL,
  final_dead_fraction REAL,
  max_dead_fraction REAL,
  grad_ratio REAL,
  diverged INTEGER NOT NULL,
  diverged_epoch INTEGER NOT NULL,
  seconds REAL,
  steps_per_second REAL,
  epochs_run INTEGER NOT NULL,
  parameters INTEGER NOT NULL
);

CREATE TABLE workers(
  worker_id TEXT PRIMARY KEY,
  hostname TEXT NOT NULL,
  threads INTEGER NOT NULL,
  first_seen_ms INTEGER NOT NULL,
  last_seen_ms INTEGER NOT NULL
) WITHOUT ROWID;
)sql";

// Migration 2: the curves of finished trials packed per trial, one BLOB per per-epoch
// metric (epochs 0..E as little-endian IEEE doubles, NaN kept; see PackCurve in
// rows.h), written when a trial ends SUCCEEDED or DIVERGED. A learning-curve query
// over a grid then reads one row per trial instead of one per epoch. Trials that
// finished before this migration have no row; readers fall back to epochs for them.
constexpr const char* kMigration2 = R"sql(
CREATE TABLE curves(
  trial_id INTEGER PRIMARY KEY,
  train_loss BLOB NOT NULL,
  test_loss BLOB NOT NULL,
  train_acc BLOB NOT NULL,
  test_acc BLOB NOT NULL,
  dead_fraction BLOB NOT NULL,
  sparsity BLOB NOT NULL,
  grad_norm_first BLOB NOT NULL,
  grad_norm_last BLOB NOT NULL,
  seconds BLOB NOT NULL
);
)sql";

// Epochs in chunks, one row per trial and report call (see AppendEpochRecord in rows.h),
// numbered per trial in the order they were written (trials.epoch_chunks counts them).
// The epochs table stays: rows written before this version are read from it.
constexpr const char* kMigration3 = R"sql(
CREATE TABLE epoch_chunks(
  trial_id INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  first_epoch INTEGER NOT NULL,
  last_epoch INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY(trial_id, seq)
) WITHOUT ROWID;
ALTER TABLE trials ADD COLUMN epoch_chunks INTEGER NOT NULL DEFAULT 0;
)sql";

// Summary field born_dead. Trials measured before this version keep NULL there: unknown,
// and left out of answers about it (not counted as "not born dead").
constexpr const char* kMigration4 = R"sql(
ALTER TABLE summaries ADD COLUMN born_dead INTEGER;
)sql";

// Provenance and lease secrets.
//  - trials.spec_key: the spec's own key without engine version (common/spec/trial_key.h).
//    Trial keys of earlier versions were exactly that, so they are copied; from this
//    version on, trial_key also covers the engine version, and results of earlier
//    engines are never reused for new grids (CreateGrid counts them instead).
//  - trials.lease_secret: the current lease's secret, which survives a coordinator
//    restart. Leases from before this version have none and are released on recovery.
//  - trials.key_engine: the engine version the trial's key was made for; a coordinator of
//    another version cancels such trials still unfinished instead of measuring them.
//  - summaries.engine_version and build: what measured the trial. Trials measured
//    before versions were recorded are engine version 1, build unknown ('').
constexpr const char* kMigration5 = R"sql(
ALTER TABLE trials ADD COLUMN spec_key TEXT NOT NULL DEFAULT '';
ALTER TABLE trials ADD COLUMN lease_secret TEXT NOT NULL DEFAULT '';
ALTER TABLE trials ADD COLUMN key_engine INTEGER NOT NULL DEFAULT 1;
UPDATE trials SET spec_key = trial_key;
CREATE INDEX trials_by_spec_key ON trials(spec_key);
ALTER TABLE summaries ADD COLUMN engine_version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE summaries ADD COLUMN build TEXT NOT NULL DEFAULT '';
)sql";

// kMigrations[i] takes the schema from version i to version i + 1.
constexpr const char* kMigrations[] = {kMigration1, kMigration2, kMigration3, kMigration4, kMigration5};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == kSchemaVersion,
              "one migration per schema version");

struct Header {
  int64_t application_id = 0;
  int64_t version = 0;
  int64_t objects = 0;  // rows of sqlite_schema: 0 for a new, empty file
};

absl::StatusOr<Header> ReadHeader(sql::Conn& conn) {
  Header header;
  absl::StatusOr<int64_t> value = conn.QueryInt("PRAGMA application_id");
  if (!value.ok()) return value.status();
  header.application_id = *value;
  value = conn.QueryInt("PRAGMA user_version");
  if (!value.ok()) return value.status();
  header.version = *value;
  value = conn.QueryInt("SELECT count(*) FROM sqlite_schema");
  if (!value.ok()) return value.status();
  header.objects = *value;
  return header;
}

// Refuses databases that are not actgrid's, and ones newer than this build.
absl::Status CheckHeader(const Header& header) {
  const bool empty = header.application_id == 0 && header.version == 0 && header.objects == 0;
  if (!empty && header.application_id != kApplicationId) {
    return absl::UnavailableError(
        absl::StrCat("not an actgrid database (application_id ", header.application_id, ")"));
  }
  if (header.version > kSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat("schema version ", header.version,
                                                      " is newer than this build's (",
                                                      kSchemaVersion, "); use a newer actgrid"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status Migrate(sql::Conn& conn) {
  absl::StatusOr<Header> header = ReadHeader(conn);
  if (!header.ok()) return header.status();
  if (absl::Status status = CheckHeader(*header); !status.ok()) return status;
  for (int64_t version = header->version; version < kSchemaVersion; ++version) {
    // Each migration and its version bump commit together (user_version and
    // application_id live in the database header, which is transactional).
    std::string script = absl::StrCat("BEGIN IMMEDIATE;\n", kMigrations[version],
                                      "\nPRAGMA application_id = ", kApplicationId,
                                      ";\nPRAGMA user_version = ", version + 1, ";\nCOMMIT;");
    absl::Status status = conn.Exec(script.c_str());
    if (!status.ok()) {
      if (conn.InTransaction()) conn.Exec("ROLLBACK").IgnoreError();
      return absl::Status(status.code(), absl::StrCat("migration to schema version ", version + 1,
                                                      ": ", status.message()));
    }
  }
  return absl::OkStatus();
}

absl::Status MigrateIfOlder(sql::Conn& conn) {
  absl::StatusOr<Header> header = ReadHeader(conn);
  if (!header.ok()) return header.status();
  if (header->application_id != kApplicationId || header->version >= kSchemaVersion) return absl::OkStatus();
  return Migrate(conn);
}

absl::Status CheckSchema(sql::Conn& conn) {
  absl::StatusOr<Header> header = ReadHeader(conn);
  if (!header.ok()) return header.status();
  if (absl::Status status = CheckHeader(*header); !status.ok()) return status;
  if (header->application_id != kApplicationId) {
    return absl::UnavailableError("not an actgrid database (empty)");
  }
  if (header->version < kSchemaVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("schema version ", header->version, " is older than this build's (",
                     kSchemaVersion, "); open it read-write once to migrate it"));
  }
  return absl::OkStatus();
}

}  // namespace actgrid::store
