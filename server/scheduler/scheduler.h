// The coordinator's scheduler: takes grids, leases their trials to workers in
// seed-major order interleaved across grids, fences every report by attempt number,
// expires leases through the Clock, retries up to max_attempts and cancels. No gRPC:
// the service adapters translate to and from these calls.
//
// The store is the source of truth (every fencing check is repeated inside its write
// transaction); the scheduler keeps the unfinished trials in memory to lease fast.
//
// Nothing a worker says is taken on trust: a lease is bound to the worker that took it
// by an unguessable secret that every report and completion must quote; epochs must
// lie within the spec; a completion must cover the spec's epochs (or end at a recorded
// divergence), and the summary stored is the one the coordinator recomputes from the
// stored curve, inside the same transaction. Leases go only to workers of this
// build's engine version, which is part of every trial key.
#ifndef ACTGRID_SERVER_SCHEDULER_SCHEDULER_H_
#define ACTGRID_SERVER_SCHEDULER_SCHEDULER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "actgrid/v1/grids.pb.h"
#include "actgrid/v1/workers.pb.h"
#include "server/scheduler/clock.h"
#include "server/store/store.h"

namespace actgrid::scheduler {

// The worker id of a coordinator's in-process workers. They die with the coordinator,
// so on recovery their leases go back to PENDING at once instead of expiring.
inline constexpr char kInProcessWorkerId[] = "local";

struct SchedulerOptions {
  int64_t lease_ms = 30'000;        // a lease lives this long without a report
  int max_attempts = 3;             // failed or expired attempts before FAILED
  int max_trials_per_grid = 200'000;
  int retry_after_ms = 500;         // told to workers when there is no work
  // Messages for the operator (the database filled up, has room again); may be empty.
  std::function<void(const std::string&)> log;
};

class Scheduler {
 public:
  // `store` and `clock` must outlive the scheduler. Call Recover() before use.
  Scheduler(store::Store* store, const Clock* clock, SchedulerOptions options = {});

  // Loads every unfinished trial from the store. Leases held before a restart stay
  // valid with a fresh deadline, so workers that reconnect carry on; leases of the
  // in-process workers (kInProcessWorkerId) are released.
  absl::Status Recover();

  // Validates the grid again (every spec; structure; limits), computes trial keys
  // and queues it. InvalidArgument lists every problem; ResourceExhausted when the
  // grid has more trials than allowed. A dry run returns counts and errors, OK.
  absl::StatusOr<v1::SubmitGridResponse> Submit(const v1::SubmitGridRequest& request);

  // By id or name. NotFound for an unknown grid.
  absl::StatusOr<v1::Grid> GetGrid(const std::string& ref);
  absl::StatusOr<std::vector<v1::Grid>> ListGrids(int limit);
  absl::StatusOr<v1::Grid> CancelGrid(const std::string& ref);
  absl::StatusOr<std::vector<v1::WorkerInfo>> ListWorkers();

  // Leases up to request.max_trials pending trials; none is OK with retry_after_ms.
  absl::StatusOr<v1::LeaseTrialsResponse> Lease(const v1::LeaseTrialsRequest& request);
  // Commits a batch of epoch reports and renewals; a verdict per trial named. The
  // store reads the batch's metrics in place (no copy).
  absl::StatusOr<v1::ReportAck> Report(const v1::ReportBatch& batch);
  // FailedPrecondition for a stale attempt (nothing changes); NotFound; InvalidArgument.
  absl::Status Complete(const v1::CompleteTrialRequest& request);
  absl::Status Fail(const v1::FailTrialRequest& request);

  // Returns leases past their deadline to PENDING (FAILED after max_attempts).
  // Called by Lease and by the server's ticker; returns how many expired.
  int ExpireLeases();

  // Change notification: the version moves on every state or progress change.
  uint64_t version() const;
  // Waits until the version differs from `seen` or `timeout` passes; returns it.
  uint64_t WaitForChange(uint64_t seen, std::chrono::milliseconds timeout) const;
  // Errors of trials of `grid_id` that failed after `*cursor`; advances the cursor.
  std::vector<std::string> FailuresSince(int64_t grid_id, uint64_t* cursor) const;

  // Called (outside the scheduler's state lock) with the id of each trial that ends while the scheduler runs.
  void SetFinishedListener(std::function<void(int64_t trial_id)> listener);

  const SchedulerOptions& options() const { return options_; }
  store::Store& store() { return *store_; }

 private:
  // Lease order: seed-major, then cell, interleaving grids; the trial id breaks ties.
  using Order = std::tuple<int, int, int64_t, int64_t>;
  struct Member {
    int64_t grid_id;
    int cell;
    int seed_rank;
  };
  struct Live {
    int64_t id = 0;
    std::string key;
    std::shared_ptr<const v1::TrialSpec> spec;
    v1::TrialState state = v1::TRIAL_STATE_PENDING;
    int attempt = 0;
    int failures = 0;
    std::string worker_id;
    int64_t deadline_ms = 0;
    std::string secret;  // the current lease's secret (empty: leased before secrets; released on recovery)
    std::string group;   // its pack group for max_groups leases (spec::PackKey), once asked
    std::vector<Member> members;
    Order order;
  };
  struct Failure {
    uint64_t seq;
    std::vector<int64_t> grids;
    std::string error;
  };

  Order OrderOf(const Live& t) const;
  void Enqueue(Live& t);    // mu_ held
  void Forget(int64_t id);  // mu_ held: drops a trial that ended
  void Bump();              // mu_ held
  void NoteFailure(const Live& t, const std::string& error);  // mu_ held
  // Re-reads a trial after the store refused a write, and mirrors what it says.
  void Reconcile(int64_t trial_id);
  // Ends `id`'s attempt in the store and mirrors the result. `from` is the state
  // the caller saw; the transition is checked first.
  absl::Status EndAttempt(int64_t id, int attempt, v1::TrialState from, store::AttemptEnd end);
  void Notify(const std::vector<int64_t>& finished);
  // The failures of `id` when memory says it is leased with `attempt` to `worker_id`,
  // else -1. The lease secret is the store's to check, in the transaction that writes.
  int HolderFailures(int64_t id, int attempt, const std::string& worker_id) const;
  // FailedPrecondition saying what the trial is now (NotFound when unknown).
  absl::Status StaleError(int64_t id, int attempt);
  absl::StatusOr<v1::Grid> ToGrid(const store::GridRow& row);
  // A write failed because the database is full: the workers quoting these attempts
  // are alive, so their leases are renewed in memory (no attempt is lost to the
  // coordinator's trouble), the operator is told once, and the caller gets a
  // ResourceExhausted that says so. Any other status passes through.
  absl::Status StoreFull(const absl::Status& status, const std::vector<std::pair<int64_t, int>>& alive);
  void StoreWrote();  // a write went through: tells the operator when that ends a full spell
  std::string ValidateSubmission(const v1::SubmitGridRequest& r, std::vector<std::string>* keys,
                                 std::vector<std::string>* errors) const;
  // A completion whose summary is not the one its stored curve implies, or whose
  // curve does not cover the spec, is refused and counted as a failed attempt.
  absl::Status RefuseCompletion(const v1::CompleteTrialRequest& request, int failures, const std::string& why);

  store::Store* store_;
  const Clock* clock_;
  const SchedulerOptions options_;
  std::mutex expiry_mu_;  // one expiry pass at a time
  // Submit and CancelGrid one at a time: a cancel must not drop a trial that a grid
  // being submitted is about to share.
  std::mutex admin_mu_;
  // Guards listener_; held while it is called, so that replacing it waits for calls.
  std::mutex listener_mu_;
  std::function<void(int64_t)> listener_;

  // Guards everything below.
  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  uint64_t version_ = 0;
  std::unordered_map<int64_t, Live> trials_;  // PENDING and LEASED trials only
  std::set<Order> pending_;
  std::set<int64_t> leased_;
  std::set<int64_t> cancelled_grids_;
  std::deque<Failure> failures_;  // the most recent trial failures, for watchers
  // A write failed for want of room in the database (since the operator was told), and
  // when the last one did: leases do not expire until a lease period plus
  // kFullDatabaseGraceMs after it, since workers were told to hold on and retry.
  // store_full_ is atomic so that every successful write can check it without mu_.
  std::atomic<bool> store_full_{false};
  int64_t last_full_ms_ = 0;
  uint64_t failure_seq_ = 0;
};

}  // namespace actgrid::scheduler

#endif  // ACTGRID_SERVER_SCHEDULER_SCHEDULER_H_
