// The store on disk: data survives a reopen, the schema version is recorded and a newer
// one refused, files that are not actgrid databases are refused, read-only opens.
#include <algorithm>
#include <cmath>
#include <filesystem>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "server/store/rows.h"
#include "server/store/store.h"
#include "tests/store/store_test_util.h"

namespace actgrid::store {
namespace {

using namespace test_util;  // NOLINT: the store test helpers

std::unique_ptr<Store> OpenOrDie(const std::string& path, bool read_only = false) {
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open({path, read_only});
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? std::move(*store) : nullptr;
}

// Runs `sql` on the file with a plain SQLite connection; returns the first column of
// the first row (0 when none).
int64_t RawSql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db);
  int64_t value = 0;
  const int rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) value = sqlite3_column_int64(stmt, 0);
  EXPECT_TRUE(rc == SQLITE_ROW || rc == SQLITE_DONE) << sqlite3_errmsg(db);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return value;
}

// Turns a file of the current schema back into schema 1, as an older actgrid wrote it:
// no curves, no chunks, and the given epochs as rows of the epochs table.
void BackToSchema1(const std::string& path, const std::vector<std::pair<int64_t, v1::EpochMetrics>>& epochs) {
  RawSql(path, "DROP TABLE curves");
  RawSql(path, "DROP TABLE epoch_chunks");
  RawSql(path, "ALTER TABLE trials DROP COLUMN epoch_chunks");
  RawSql(path, "ALTER TABLE summaries DROP COLUMN born_dead");
  RawSql(path, "DROP INDEX trials_by_spec_key");
  RawSql(path, "ALTER TABLE trials DROP COLUMN spec_key");
  RawSql(path, "ALTER TABLE trials DROP COLUMN lease_secret");
  RawSql(path, "ALTER TABLE trials DROP COLUMN key_engine");
  RawSql(path, "ALTER TABLE summaries DROP COLUMN engine_version");
  RawSql(path, "ALTER TABLE summaries DROP COLUMN build");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "INSERT INTO epochs VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", -1, &stmt, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(db);
  for (const auto& [trial, m] : epochs) {
    sqlite3_bind_int64(stmt, 1, trial);
    sqlite3_bind_int(stmt, 2, m.epoch());
    const double values[] = {m.train_loss(),    m.test_loss(),      m.train_acc(),
                             m.test_acc(),      m.dead_fraction(),  m.sparsity(),
                             m.grad_norm_first(), m.grad_norm_last(), m.seconds()};
    for (int i = 0; i < 9; ++i) sqlite3_bind_double(stmt, 3 + i, values[i]);
    const std::string layers = EncodeLayers(m);
    sqlite3_bind_blob(stmt, 12, layers.data(), int(layers.size()), SQLITE_TRANSIENT);
    EXPECT_EQ(sqlite3_step(stmt), SQLITE_DONE) << sqlite3_errmsg(db);
    sqlite3_reset(stmt);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  RawSql(path, "PRAGMA user_version = 1");
}

TEST(StoreFile, ReopenKeepsEverything) {
  TempDir dir;
  const std::string path = dir.File("grids.db");
  int64_t grid_id = 0;
  std::vector<int64_t> ids;
  {
    std::unique_ptr<Store> store = OpenOrDie(path);
    ASSERT_NE(store, nullptr);
    const absl::StatusOr<CreatedGrid> created = store->CreateGrid(Grid("persist", {1, 2, 3}));
    ASSERT_TRUE(created.ok()) << created.status();
    grid_id = created->grid_id;
    ids = created->trial_ids;
    ASSERT_EQ(Must(store->Lease({Grant(ids[0], 1, "w1", 4242)}, 1)), std::vector<bool>{true});
    STORE_ASSERT_OK(store->AppendEpochs({Row(ids[0], 1, 0), Row(ids[0], 1, 1)}, {}, 5000));
    v1::WorkerInfo worker;
    worker.set_worker_id("w1");
    worker.set_last_seen_ms(9);
    STORE_ASSERT_OK(store->TouchWorker(worker));
  }
  std::unique_ptr<Store> store = OpenOrDie(path);
  ASSERT_NE(store, nullptr);
  const GridRow grid = Must(store->FindGrid("persist"));
  EXPECT_EQ(grid.id, grid_id);
  EXPECT_EQ(grid.trials, 3);

  const std::vector<TrialRow> unfinished = Must(store->LoadUnfinished());
  ASSERT_EQ(unfinished.size(), 3u);
  EXPECT_EQ(unfinished[0].id, ids[0]);
  EXPECT_EQ(unfinished[0].state, v1::TRIAL_STATE_LEASED);
  EXPECT_EQ(unfinished[0].attempt, 1);
  EXPECT_EQ(unfinished[0].worker_id, "w1");
  EXPECT_EQ(unfinished[0].deadline_ms, 5000);
  EXPECT_EQ(unfinished[0].epochs_done, 2);
  EXPECT_EQ(unfinished[0].spec.seed(), 1u);
  EXPECT_EQ(unfinished[1].state, v1::TRIAL_STATE_PENDING);
  EXPECT_EQ(Must(store->LoadUnfinishedMembers()).size(), 3u);
  EXPECT_EQ(Must(store->LoadEpochs(ids[0])).size(), 2u);
  EXPECT_EQ(Must(store->ListWorkers()).size(), 1u);

  // The reopened store goes on where the first left off.
  AttemptEnd end = End(ids[0], 1, v1::TRIAL_STATE_SUCCEEDED);
  end.summary = Summary(1);
  STORE_EXPECT_OK(store->EndAttempt(end));
}

TEST(StoreFile, RecordsTheSchemaVersionAndRefusesANewerOne) {
  TempDir dir;
  const std::string path = dir.File("versioned.db");
  OpenOrDie(path).reset();
  EXPECT_EQ(RawSql(path, "PRAGMA user_version"), kSchemaVersion);
  OpenOrDie(path).reset();  // the current version opens again as is
  EXPECT_EQ(RawSql(path, "PRAGMA user_version"), kSchemaVersion);

  RawSql(path, "PRAGMA user_version = " + std::to_string(kSchemaVersion + 1));
  const absl::StatusOr<std::unique_ptr<Store>> newer = Store::Open({path, false});
  EXPECT_TRUE(absl::IsFailedPrecondition(newer.status())) << newer.status();
  EXPECT_NE(newer.status().message().find(path), std::string::npos) << newer.status();
  EXPECT_TRUE(absl::IsFailedPrecondition(Store::Open({path, true}).status()));
}

// A trial's curve is packed into one row when it finishes; a database from before
// the curves table or chunks (schema 1) is migrated: its finished trials' curves are
// read from their epochs rows, and a trial that was running goes on, its first epochs
// in epochs rows and the rest in chunks.
TEST(StoreFile, CurvesArePackedAtTheEndAndOlderTrialsFallBackToEpochs) {
  TempDir dir;
  const std::string path = dir.File("curves.db");
  int64_t grid_id = 0;
  std::vector<int64_t> ids;
  auto finish = [](Store& store, int64_t id, std::vector<int> epochs) {
    std::vector<EpochRow> rows;
    for (int e : epochs) rows.push_back(Row(id, 1, e));
    STORE_ASSERT_OK(store.AppendEpochs(rows, {}, 9000));
    AttemptEnd end = End(id, 1, v1::TRIAL_STATE_SUCCEEDED);
    end.summary = Summary(2);
    STORE_ASSERT_OK(store.EndAttempt(end));
  };
  std::vector<std::pair<int64_t, v1::EpochMetrics>> stored;
  {
    std::unique_ptr<Store> store = OpenOrDie(path);
    ASSERT_NE(store, nullptr);
    const CreatedGrid created = Must(store->CreateGrid(Grid("curves", {1, 2})));
    grid_id = created.grid_id;
    ids = created.trial_ids;
    STORE_ASSERT_OK(store->Lease({Grant(ids[0], 1), Grant(ids[1], 1)}, 1));
    finish(*store, ids[0], {0, 1, 2});
    STORE_ASSERT_OK(store->AppendEpochs({Row(ids[1], 1, 0), Row(ids[1], 1, 1)}, {}, 9000));
    EXPECT_EQ(RawSql(path, "SELECT count(*) FROM curves"), 1);
    EXPECT_EQ(RawSql(path, "SELECT count(*) FROM epoch_chunks"), 2);  // one per trial and call
    for (const int64_t id : ids)
      for (const v1::EpochMetrics& m : Must(store->LoadEpochs(id))) stored.emplace_back(id, m);
  }
  ASSERT_EQ(stored.size(), 5u);
  BackToSchema1(path, stored);
  std::unique_ptr<Store> store = OpenOrDie(path);  // migrates to the current schema
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(RawSql(path, "PRAGMA user_version"), kSchemaVersion);
  EXPECT_EQ(Must(store->LoadEpochs(ids[0])).size(), 3u);
  finish(*store, ids[1], {2});  // epochs 0 and 1 from the epochs table, 2 from a chunk
  EXPECT_EQ(RawSql(path, "SELECT count(*) FROM curves"), 1);  // only the trial finished since
  const std::vector<v1::EpochMetrics> mixed = Must(store->LoadEpochs(ids[1]));
  ASSERT_EQ(mixed.size(), 3u);
  for (int e = 0; e < 3; ++e) EXPECT_EQ(mixed[e].SerializeAsString(), Epoch(e).SerializeAsString()) << e;

  std::vector<TrialCurve> curves = Must(store->LoadGridCurves(grid_id, {"test_loss", -1}));
  ASSERT_EQ(curves.size(), 2u);
  std::sort(curves.begin(), curves.end(), [](const auto& a, const auto& b) { return a.trial_id < b.trial_id; });
  for (const TrialCurve& c : curves) {
    ASSERT_EQ(c.values.size(), 3u) << c.trial_id;
    for (int e = 0; e < 3; ++e) EXPECT_EQ(c.values[size_t(e)], Epoch(e).test_loss()) << c.trial_id;
  }
  // Per-layer curves come from the epochs' layer BLOBs, in either table.
  curves = Must(store->LoadGridCurves(grid_id, {"sparsity", 1}));
  ASSERT_EQ(curves.size(), 2u);
  for (const TrialCurve& c : curves) {
    ASSERT_EQ(c.values.size(), 3u) << c.trial_id;
    for (int e = 0; e < 3; ++e) EXPECT_EQ(c.values[size_t(e)], Epoch(e).layers(1).sparsity()) << c.trial_id;
  }
  // One epoch of every trial, from either table.
  const auto last = Must(store->LoadGridEpoch(grid_id, -1));
  ASSERT_EQ(last.size(), 2u);
  for (const auto& [trial, m] : last) EXPECT_EQ(m.SerializeAsString(), Epoch(2).SerializeAsString()) << trial;
  const auto first = Must(store->LoadGridEpoch(grid_id, 0));
  ASSERT_EQ(first.size(), 2u);
  for (const auto& [trial, m] : first) EXPECT_EQ(m.SerializeAsString(), Epoch(0).SerializeAsString()) << trial;
  EXPECT_TRUE(absl::IsInvalidArgument(store->LoadGridCurves(grid_id, {"sparsity_x", -1}).status()));
  EXPECT_TRUE(absl::IsNotFound(store->LoadGridCurves(grid_id + 7, {"sparsity", -1}).status()));
  // born_dead came with schema 4: unknown (missing) for the trial that finished before,
  // known for the one that finished after.
  const GridValues born_dead = Must(store->ListGridValues(grid_id, "born_dead"));
  ASSERT_EQ(born_dead.rows.size(), 2u);
  for (const auto& row : born_dead.rows) EXPECT_EQ(std::isnan(row.value), row.trial_id == ids[0]) << row.trial_id;
}

TEST(StoreFile, ReadOnlyMigratesAnOlderFileOnlyWhenAsked) {
  TempDir dir;
  const std::string path = dir.File("older.db");
  OpenOrDie(path).reset();
  BackToSchema1(path, {});
  const absl::StatusOr<std::unique_ptr<Store>> plain = Store::Open({path, true});
  EXPECT_TRUE(absl::IsFailedPrecondition(plain.status())) << plain.status();
  StoreOptions options{path, true};
  options.migrate_older = true;
  const absl::StatusOr<std::unique_ptr<Store>> migrated = Store::Open(options);
  ASSERT_TRUE(migrated.ok()) << migrated.status();
  EXPECT_EQ(RawSql(path, "PRAGMA user_version"), kSchemaVersion);
  EXPECT_TRUE(absl::IsFailedPrecondition((*migrated)->SetGridCancelled(1)));  // still read-only
}

TEST(StoreFile, UsesWriteAheadLogging) {
  TempDir dir;
  const std::string path = dir.File("wal.db");
  std::unique_ptr<Store> store = OpenOrDie(path);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0))), "wal");
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

// Checkpoints run beside the writer: with a small threshold, the database file itself
// grows while the store is open (without them every new page would stay in the WAL
// until the store closes), and everything written reads back.
TEST(StoreFile, CheckpointsTheWalWhileOpen) {
  TempDir dir;
  const std::string path = dir.File("checkpoint.db");
  StoreOptions options{path};
  options.checkpoint_pages = 8;
  absl::StatusOr<std::unique_ptr<Store>> opened = Store::Open(options);
  ASSERT_TRUE(opened.ok()) << opened.status();
  Store& store = **opened;
  const auto initial = std::filesystem::file_size(path);
  const std::vector<int64_t> ids = Must(store.CreateGrid(Grid("wal", {1, 2, 3, 4}, /*epochs=*/199))).trial_ids;
  for (size_t t = 0; t < ids.size(); ++t) {
    ASSERT_EQ(Must(store.Lease({Grant(ids[t], 1, "w1", 9000)}, 1)), std::vector<bool>{true});
    for (int e = 0; e < 200; ++e) STORE_ASSERT_OK(store.AppendEpochs({Row(ids[t], 1, e)}, {}, 9000));
  }
  bool grew = false;
  for (int i = 0; i < 100 && !grew; ++i) {
    grew = std::filesystem::file_size(path) > initial;
    if (!grew) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(grew) << "the database file stayed at " << initial << " bytes";
  for (const int64_t id : ids) EXPECT_EQ(Must(store.LoadEpochs(id)).size(), 200u);
}

TEST(StoreFile, RefusesAFileThatIsNotADatabase) {
  TempDir dir;
  const std::string path = dir.File("garbage.db");
  {
    std::ofstream out(path, std::ios::binary);
    for (int i = 0; i < 200; ++i) out << "this is not an SQLite database, just text. ";
  }
  const absl::StatusOr<std::unique_ptr<Store>> store = Store::Open({path, false});
  EXPECT_TRUE(absl::IsUnavailable(store.status())) << store.status();
  EXPECT_NE(store.status().message().find(path), std::string::npos) << store.status();
}

TEST(StoreFile, RefusesAnotherApplicationsDatabase) {
  TempDir dir;
  const std::string path = dir.File("other.db");
  RawSql(path, "CREATE TABLE grids(x)");
  const absl::StatusOr<std::unique_ptr<Store>> store = Store::Open({path, false});
  EXPECT_TRUE(absl::IsUnavailable(store.status())) << store.status();
  EXPECT_NE(store.status().message().find("not an actgrid database"), std::string::npos)
      << store.status();
}

TEST(StoreFile, RefusesADirectoryThatDoesNotExist) {
  TempDir dir;
  const absl::StatusOr<std::unique_ptr<Store>> store =
      Store::Open({dir.File("missing/dir/x.db"), false});
  EXPECT_TRUE(absl::IsUnavailable(store.status())) << store.status();
}

TEST(StoreFile, ReadOnlyReadsButRefusesEveryWrite) {
  TempDir dir;
  const std::string path = dir.File("ro.db");
  std::unique_ptr<Store> writer = OpenOrDie(path);
  ASSERT_NE(writer, nullptr);
  const std::vector<int64_t> ids = Must(writer->CreateGrid(Grid("ro", {1, 2}))).trial_ids;
  ASSERT_EQ(ids.size(), 2u);

  // Opened while the read-write store is still open: it sees the committed data.
  std::unique_ptr<Store> reader = OpenOrDie(path, /*read_only=*/true);
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(Must(reader->FindGrid("ro")).trials, 2);
  ASSERT_EQ(Must(writer->Lease({Grant(ids[0], 1)}, 1)), std::vector<bool>{true});
  EXPECT_EQ(Must(reader->GetTrial(ids[0])).state, v1::TRIAL_STATE_LEASED);

  const auto refused = [](const absl::Status& status) {
    EXPECT_TRUE(absl::IsFailedPrecondition(status)) << status;
    EXPECT_EQ(status.message(), "database opened read-only");
  };
  refused(reader->CreateGrid(Grid("no", {9})).status());
  refused(reader->SetGridCancelled(1));
  refused(reader->CancelPending({ids[1]}));
  refused(reader->Lease({Grant(ids[1], 1)}, 1).status());
  refused(reader->AppendEpochs({Row(ids[0], 1, 0)}, {}, 1).status());
  refused(reader->EndAttempt(End(ids[0], 1, v1::TRIAL_STATE_FAILED)));
  v1::WorkerInfo worker;
  worker.set_worker_id("w");
  refused(reader->TouchWorker(worker));
  EXPECT_EQ(Must(writer->ListGrids(0)).size(), 1u);
  EXPECT_EQ(Must(reader->GetTrial(ids[1])).state, v1::TRIAL_STATE_PENDING);

  // And alone, after the writer has closed.
  writer.reset();
  reader.reset();
  reader = OpenOrDie(path, /*read_only=*/true);
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(Must(reader->LoadUnfinished()).size(), 2u);
}

TEST(StoreFile, ReadOnlyRefusesAMissingFile) {
  TempDir dir;
  const absl::StatusOr<std::unique_ptr<Store>> store = Store::Open({dir.File("absent.db"), true});
  EXPECT_TRUE(absl::IsNotFound(store.status())) << store.status();
  EXPECT_NE(store.status().message().find("absent.db"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir.File("absent.db")));  // reading creates nothing
}

TEST(StoreMemory, EachMemoryStoreIsPrivate) {
  std::unique_ptr<Store> a = OpenOrDie(":memory:");
  std::unique_ptr<Store> b = OpenOrDie(":memory:");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  STORE_ASSERT_OK(a->CreateGrid(Grid("only-in-a", {1})));
  EXPECT_EQ(Must(a->ListGrids(0)).size(), 1u);
  EXPECT_TRUE(Must(b->ListGrids(0)).empty());
  // Closing and opening ":memory:" again starts empty.
  a.reset();
  a = OpenOrDie(":memory:");
  EXPECT_TRUE(Must(a->ListGrids(0)).empty());
}

TEST(StoreMemory, ReadOnlyMemoryStoreIsEmptyAndRefusesWrites) {
  std::unique_ptr<Store> store = OpenOrDie(":memory:", /*read_only=*/true);
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(Must(store->ListGrids(0)).empty());
  EXPECT_TRUE(absl::IsFailedPrecondition(store->CreateGrid(Grid("g", {1})).status()));
}

TEST(StoreOpen, RefusesAnEmptyPath) { EXPECT_FALSE(Store::Open({"", false}).ok()); }

}  // namespace
}  // namespace actgrid::store
