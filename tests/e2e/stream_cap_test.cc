// The coordinator's caps on streaming calls, against actgrid-server as a process on
// loopback: past --max-streams (WatchGrid, Export) and --max-worker-streams
// (ReportEpochs) a stream is refused with RESOURCE_EXHAUSTED, and a slot freed by a
// stream that ends is taken by the next one. Driven by events (a stream holds its slot
// once its first message has arrived), not by timing.
#include <signal.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "actgrid/v1/grids.grpc.pb.h"
#include "actgrid/v1/workers.grpc.pb.h"
#include "tests/e2e/process_util.h"

namespace {

using namespace actgrid::e2e;  // NOLINT: the process helpers
namespace v1 = actgrid::v1;

struct Watch {
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<v1::GridEvent>> reader;
};

// A WatchGrid stream that has received its first event (so holds a slot), or the
// status that refused it.
std::unique_ptr<Watch> OpenWatch(v1::Grids::Stub& grids, grpc::Status* refused) {
  auto watch = std::make_unique<Watch>();
  watch->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  v1::GridRef ref;
  ref.set_grid("capped");
  watch->reader = grids.WatchGrid(&watch->context, ref);
  v1::GridEvent event;
  if (watch->reader->Read(&event)) return watch;
  *refused = watch->reader->Finish();
  return nullptr;
}

TEST(Processes, StreamsPastTheirCapsAreRefusedAndFreedSlotsAreReused) {
  const std::string dir = ::testing::TempDir();
  const std::string db = dir + "/e2e_streams.db";
  RemoveDatabase(db);
  const std::string grid = dir + "/e2e_streams.yaml";
  std::ofstream(grid) << "name: capped\ndataset: {name: xor, samples: 100}\ntrain: {epochs: 3}\nseeds: 2\n";
  const std::string address = "127.0.0.1:" + std::to_string(FreePort());
  Process server = Process::Start({kBin + "/server/actgrid-server", "--listen", address, "--db", db,
                                   "--max-streams", "3", "--max-worker-streams", "1"},
                                  "streams_server");
  std::string out, err;
  // No worker: the grid stays RUNNING, so its watchers stay open.
  ASSERT_EQ(ActgridWithRetry({"submit", grid, "--server", address}, "streams_submit", &out, &err), 0)
      << err << Slurp(server.err);
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  auto grids = v1::Grids::NewStub(channel);

  std::vector<std::unique_ptr<Watch>> open;
  for (int i = 0; i < 3; ++i) {
    grpc::Status refused;
    open.push_back(OpenWatch(*grids, &refused));
    ASSERT_NE(open.back(), nullptr) << "stream " << i << ": " << refused.error_message();
  }
  grpc::Status refused;
  EXPECT_EQ(OpenWatch(*grids, &refused), nullptr);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << refused.error_message();
  EXPECT_NE(refused.error_message().find("--max-streams"), std::string::npos) << refused.error_message();

  // A watcher that goes away gives its slot back (once the server notices: a bounded wait).
  open.front()->context.TryCancel();
  open.front().reset();
  std::unique_ptr<Watch> again;
  for (int i = 0; i < 300 && !again; ++i) {
    again = OpenWatch(*grids, &refused);
    if (!again) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_NE(again, nullptr) << refused.error_message();

  // Worker report streams have a cap of their own.
  auto workers = v1::Workers::NewStub(channel);
  grpc::ClientContext first_context, second_context;
  auto first = workers->ReportEpochs(&first_context);
  v1::ReportBatch batch;
  batch.set_worker_id("w1");
  v1::ReportAck ack;
  ASSERT_TRUE(first->Write(batch));
  ASSERT_TRUE(first->Read(&ack));  // answered: the stream holds the one slot
  auto second = workers->ReportEpochs(&second_context);
  batch.set_worker_id("w2");
  second->Write(batch);
  EXPECT_FALSE(second->Read(&ack));
  const grpc::Status second_status = second->Finish();
  EXPECT_EQ(second_status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << second_status.error_message();
  EXPECT_NE(second_status.error_message().find("--max-worker-streams"), std::string::npos);
  first->WritesDone();
  EXPECT_TRUE(first->Finish().ok());

  for (auto& w : open)
    if (w) w->context.TryCancel();
  if (again) again->context.TryCancel();
  open.clear();
  again.reset();
  server.Kill(SIGTERM);
  EXPECT_EQ(server.Wait(std::chrono::seconds(30)), 0) << Slurp(server.err);
}

}  // namespace
