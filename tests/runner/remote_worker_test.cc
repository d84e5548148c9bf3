// RemoteWorker against no coordinator at all: a stop is acted on at once, not after
// the pending lease call's deadline.
#include "worker/runner/remote_worker.h"

#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "tests/support/free_port.h"

namespace actgrid::runner {
namespace {

TEST(RemoteWorker, StopsAtOnceWhileItsCoordinatorIsUnreachable) {
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(actgrid::testing::FreePort()), grpc::InsecureChannelCredentials());
  WorkerOptions options;
  options.threads = 1;
  options.worker_id = "lonely";
  options.call_timeout = std::chrono::seconds(120);  // the lease call would wait this long
  std::atomic<bool> stop{false};
  RemoteWorker worker(channel, options);
  auto run = std::async(std::launch::async, [&] { return worker.Run(stop); });
  // Whether the stop comes before or during the lease call, Run returns well before the
  // call's deadline (the bound is generous: only a wait for the deadline fails it).
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  stop = true;
  ASSERT_EQ(run.wait_for(std::chrono::seconds(30)), std::future_status::ready)
      << "the worker waited for its lease call's deadline";
  const WorkerStats stats = run.get();
  EXPECT_EQ(stats.leased, 0);
}

}  // namespace
}  // namespace actgrid::runner
