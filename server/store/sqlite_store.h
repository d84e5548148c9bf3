// SqliteStore: the Store on SQLite. One writer thread owns the write connection and
// commits whatever is queued in one transaction (group commit); reads use a pool of
// reader connections. Internal to server/store: callers use Store::Open.
#ifndef ACTGRID_SERVER_STORE_SQLITE_STORE_H_
#define ACTGRID_SERVER_STORE_SQLITE_STORE_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/store/sql.h"
#include "server/store/store.h"

namespace actgrid::store {

class SqliteStore final : public Store {
 public:
  // See Store::Open. ":memory:" is a private in-memory database shared by this
  // store's connections (SQLite's memdb VFS, see sqlite_store.cc for why not a
  // shared cache); the first connection stays open for the store's life.
  static absl::StatusOr<std::unique_ptr<Store>> Open(const StoreOptions& options);

  // Commits everything still queued, then joins the writer thread.
  ~SqliteStore() override;

  absl::StatusOr<CreatedGrid> CreateGrid(const NewGrid& grid) override;
  absl::Status SetGridCancelled(int64_t grid_id) override;
  absl::Status CancelPending(const std::vector<int64_t>& trial_ids) override;
  absl::StatusOr<std::vector<bool>> Lease(const std::vector<LeaseGrant>& grants,
                                          int64_t now_ms) override;
  absl::StatusOr<std::vector<Verdict>> AppendEpochs(const std::vector<EpochRow>& epochs,
                                                    const std::vector<Renewal>& renewals,
                                                    int64_t deadline_ms) override;
  absl::Status EndAttempt(const AttemptEnd& end) override;
  absl::Status TouchWorker(const v1::WorkerInfo& worker) override;

  absl::StatusOr<std::vector<TrialRow>> LoadUnfinished() override;
  absl::StatusOr<std::vector<GridMember>> LoadUnfinishedMembers() override;
  absl::StatusOr<TrialRow> GetTrial(int64_t trial_id) override;
  absl::StatusOr<std::vector<GridRow>> ListGrids(int limit) override;
  absl::StatusOr<GridRow> FindGrid(const std::string& ref) override;
  absl::StatusOr<GridProgress> GetProgress(int64_t grid_id) override;
  absl::StatusOr<std::vector<v1::EngineBuild>> ListGridEngines(int64_t grid_id) override;
  absl::StatusOr<std::vector<GridTrialRow>> ListGridTrials(int64_t grid_id) override;
  absl::StatusOr<std::vector<v1::EpochMetrics>> LoadEpochs(int64_t trial_id) override;
  absl::StatusOr<std::vector<v1::WorkerInfo>> ListWorkers() override;
  absl::StatusOr<GridValues> ListGridValues(int64_t grid_id, const std::string& summary_field) override;
  absl::StatusOr<std::vector<TrialCurve>> LoadGridCurves(int64_t grid_id, const EpochField& field) override;
  absl::StatusOr<std::vector<std::pair<int64_t, v1::EpochMetrics>>> LoadGridEpoch(int64_t grid_id,
                                                                                  int epoch) override;
  absl::StatusOr<std::vector<v1::TrialSpec>> ListGridSpecs(int64_t grid_id, int first, int count) override;

 private:
  // A write: runs on the writer thread inside the batch's transaction, within its own
  // savepoint; an error status rolls back everything it did.
  using WriteFn = std::function<absl::Status(sql::Conn&)>;
  using ReadFn = std::function<absl::Status(sql::Conn&)>;
  struct PendingWrite;

  SqliteStore(std::string filename, std::string display, bool memory, bool read_only);

  // Queues `fn` for the writer and blocks until its batch has committed (or failed).
  absl::Status Write(WriteFn fn);
  void WriterLoop();
  // Runs `batch` and the writes queued meanwhile (appended to it) in transactions.
  void RunBatch(std::vector<PendingWrite*>& batch);
  // OK, or ResourceExhausted when the database and its WAL together are past max_bytes_
  // even after a checkpoint (writer thread only).
  absl::Status CheckRoom();
  static absl::Status StoreError(const absl::Status& cause, absl::string_view what);

  // Runs `fn` on a pooled reader connection (never the writer's). A transaction `fn`
  // leaves open is rolled back before the connection goes back to the pool.
  absl::Status Read(const ReadFn& fn);
  absl::StatusOr<std::unique_ptr<sql::Conn>> OpenReader();

  const std::string filename_;  // path, or the memdb URI
  const std::string display_;   // what the user gave, for messages
  const bool memory_;
  const bool read_only_;

  // The writer's connection (null when read-only). In read-only ":memory:" mode it is
  // kept only so the in-memory database lives as long as the store.
  std::unique_ptr<sql::Conn> writer_;

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<PendingWrite*> queue_;  // guarded by queue_mu_
  bool stopping_ = false;            // guarded by queue_mu_
  std::thread writer_thread_;

  // Checkpoints (file databases): OnWalCommit, SQLite's WAL hook on the writer's
  // connection, asks the checkpoint thread for one once the WAL is large enough.
  static int OnWalCommit(void* self, sqlite3* db, const char* schema, int wal_pages);
  void CheckpointLoop();
  std::unique_ptr<sql::Conn> checkpointer_;
  int checkpoint_pages_ = 10'000;
  int64_t max_bytes_ = 0;       // StoreOptions::max_bytes (0: no cap)
  int wal_budget_pages_ = 0;    // the WAL's share of the cap, in pages
  std::mutex checkpoint_mu_;
  std::condition_variable checkpoint_cv_;
  bool checkpoint_wanted_ = false;  // guarded by checkpoint_mu_
  bool checkpoint_stop_ = false;    // guarded by checkpoint_mu_
  std::thread checkpoint_thread_;

  std::mutex readers_mu_;
  std::vector<std::unique_ptr<sql::Conn>> idle_readers_;  // guarded by readers_mu_
};

}  // namespace actgrid::store

#endif  // ACTGRID_SERVER_STORE_SQLITE_STORE_H_
