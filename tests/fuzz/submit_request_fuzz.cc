// Fuzzes the coordinator's validation of SubmitGrid requests: any bytes that parse as
// a request must be accepted (dry run) or refused with its errors, never crash.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "actgrid/v1/grids.pb.h"
#include "google/protobuf/stubs/logging.h"
#include "server/scheduler/clock.h"
#include "server/scheduler/scheduler.h"
#include "server/store/store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = [] {  // invalid UTF-8 in a string field is logged by protobuf
    google::protobuf::SetLogHandler(nullptr);
    return true;
  }();
  (void)quiet;
  static std::unique_ptr<actgrid::store::Store> store = *actgrid::store::Store::Open({":memory:", false});
  static actgrid::scheduler::FakeClock clock;
  static actgrid::scheduler::SchedulerOptions options = [] {
    actgrid::scheduler::SchedulerOptions o;
    o.max_trials_per_grid = 5000;
    return o;
  }();
  static actgrid::scheduler::Scheduler scheduler(store.get(), &clock, options);
  actgrid::v1::SubmitGridRequest request;
  if (!request.ParseFromArray(data, int(size))) return 0;
  request.set_dry_run(true);  // validation only: the store stays small
  (void)scheduler.Submit(request);
  return 0;
}
