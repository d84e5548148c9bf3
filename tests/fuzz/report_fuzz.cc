// Fuzzes the coordinator's report path: a fresh coordinator core with one grid whose
// two trials are leased, then a sequence of worker messages (ReportBatch,
// CompleteTrialRequest, FailTrialRequest, LeaseTrialsRequest) decoded from the input.
// Whatever a worker sends, the scheduler answers or refuses; it never crashes, hangs
// or allocates what a message asks for unchecked.
//
// Input: records of [kind byte][length: 2 bytes, little endian][message bytes]; kind
// mod 4 picks the message, a record cut short ends the input.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "actgrid/v1/workers.pb.h"
#include "client/grid/grid_file.h"
#include "google/protobuf/stubs/logging.h"
#include "server/scheduler/clock.h"
#include "server/scheduler/scheduler.h"
#include "server/store/store.h"

namespace {

using actgrid::scheduler::Scheduler;

// One grid of two trials of three epochs, both leased by worker "w" (attempt 1), with
// the clock still inside their leases.
struct Coordinator {
  Coordinator() {
    store = *actgrid::store::Store::Open({":memory:", false});
    actgrid::scheduler::SchedulerOptions options;
    options.lease_ms = 60'000;
    options.max_attempts = 3;
    options.max_trials_per_grid = 100;
    scheduler = std::make_unique<Scheduler>(store.get(), &clock, options);
    (void)scheduler->Recover();
    static const actgrid::v1::SubmitGridRequest request = [] {
      auto grid = actgrid::grid::ParseGridText(
          "name: fuzz\ndataset: {name: circle, samples: 40}\ntrain: {epochs: 2}\nseeds: 1\n"
          "grid: {depth: [1, 2]}\n");
      return actgrid::grid::ToSubmitRequest(*grid, false);
    }();
    (void)scheduler->Submit(request);
    actgrid::v1::LeaseTrialsRequest lease;
    lease.set_worker_id("w");
    lease.set_max_trials(2);
    (void)scheduler->Lease(lease);
  }
  actgrid::scheduler::FakeClock clock;
  std::unique_ptr<actgrid::store::Store> store;
  std::unique_ptr<Scheduler> scheduler;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = [] {  // invalid UTF-8 in a string field is logged by protobuf
    google::protobuf::SetLogHandler(nullptr);
    return true;
  }();
  (void)quiet;
  Coordinator c;
  size_t at = 0;
  for (int records = 0; records < 16 && at + 3 <= size; ++records) {
    const int kind = data[at] % 4;
    const size_t length = data[at + 1] | (size_t(data[at + 2]) << 8);
    at += 3;
    if (length > size - at) break;
    const uint8_t* message = data + at;
    at += length;
    switch (kind) {
      case 0: {
        actgrid::v1::ReportBatch batch;
        if (batch.ParseFromArray(message, int(length))) (void)c.scheduler->Report(batch);
        break;
      }
      case 1: {
        actgrid::v1::CompleteTrialRequest complete;
        if (complete.ParseFromArray(message, int(length))) (void)c.scheduler->Complete(complete);
        break;
      }
      case 2: {
        actgrid::v1::FailTrialRequest fail;
        if (fail.ParseFromArray(message, int(length))) (void)c.scheduler->Fail(fail);
        break;
      }
      default: {
        actgrid::v1::LeaseTrialsRequest lease;
        if (lease.ParseFromArray(message, int(length))) (void)c.scheduler->Lease(lease);
        break;
      }
    }
  }
  c.scheduler->ExpireLeases();
  return 0;
}
