// A grid on a coordinator with two workers over in-process channels: it completes,
// every trial ends SUCCEEDED or DIVERGED, epochs 0..E are stored exactly once per
// trial, and compare agrees with summaries recomputed from the stored curves.
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <cstdio>
#include <map>
#include <mutex>
#include <functional>
#include <condition_variable>
#include <thread>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "client/cli/client.h"
#include "client/grid/grid_file.h"
#include "common/spec/engine_version.h"
#include "server/analysis/summary_metric.h"
#include "server/grpc/coordinator.h"
#include "common/spec/summary.h"
#include "worker/engine/trainer.h"
#include "worker/runner/remote_worker.h"

namespace actgrid {
namespace {

constexpr char kGrid[] = R"(name: e2e
dataset: {name: circle, samples: 200, noise: 0.05}
model: {width: 4}
train: {epochs: 6, lr: 0.05}
seeds: 3
grid:
  activation: [relu, tanh, reflu]
  depth: [1, 3]
  train.lr: [0.05, 100]
)";

// Coordinator options on a database file of its own, removed first.
server::CoordinatorOptions FreshDatabase(const std::string& name) {
  server::CoordinatorOptions options;
  options.db_path = ::testing::TempDir() + "/" + name + ".db";
  for (const char* s : {"", "-wal", "-shm"}) std::remove((options.db_path + s).c_str());
  return options;
}

// A worker thread with one slot on the coordinator's in-process channel, until `stop`.
// `tune`, when given, adjusts the worker's options (test hooks).
std::thread StartWorker(server::Coordinator& coordinator, const std::atomic<bool>& stop,
                        runner::WorkerStats* stats, std::chrono::milliseconds grace = std::chrono::seconds(30),
                        const std::string& id = "",
                        std::function<void(runner::WorkerOptions*)> tune = nullptr) {
  return std::thread([&coordinator, &stop, stats, grace, id, tune] {
    runner::WorkerOptions w;
    w.threads = 1;
    w.grace = grace;
    w.worker_id = id;
    if (tune) tune(&w);
    *stats = runner::RemoteWorker(coordinator.InProcessChannel(), w).Run(stop);
  });
}

TEST(InProcess, GridOnTwoWorkersCompletesAndStoresEveryEpochOnce) {
  auto coordinator = server::Coordinator::Start(FreshDatabase("e2e_in_process"));
  ASSERT_TRUE(coordinator.ok()) << coordinator.status();
  std::atomic<bool> stop{false};
  runner::WorkerStats stats[2];
  std::vector<std::thread> workers;
  for (int i = 0; i < 2; ++i)
    workers.push_back(StartWorker(**coordinator, stop, &stats[i], std::chrono::seconds(30), "worker-" + std::to_string(i)));

  auto grid = grid::ParseGridText(kGrid);
  ASSERT_TRUE(grid.ok()) << grid.status();
  cli::Client client((*coordinator)->InProcessChannel());
  auto submitted = client.Submit(grid::ToSubmitRequest(*grid, false));
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  EXPECT_EQ(submitted->trials(), 36);
  int events = 0;
  ASSERT_TRUE(client.Watch(std::to_string(submitted->grid_id()), [&](const v1::GridEvent&) { ++events; }, nullptr).ok());
  EXPECT_GE(events, 1);
  stop = true;
  for (auto& t : workers) t.join();

  auto final_grid = client.GetGrid("e2e");
  ASSERT_TRUE(final_grid.ok());
  EXPECT_EQ(final_grid->state(), v1::GRID_STATE_DONE);
  EXPECT_EQ(final_grid->counts().succeeded() + final_grid->counts().diverged(), 36);
  EXPECT_GT(final_grid->counts().diverged(), 0);  // lr 100 diverges
  EXPECT_EQ(final_grid->epochs_done(), final_grid->epochs_total());

  auto& store = (*coordinator)->store();
  auto rows = store.ListGridTrials(submitted->grid_id());
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 36u);
  std::map<std::string, std::vector<double>> by_activation;
  for (const auto& r : *rows) {
    ASSERT_TRUE(r.state == v1::TRIAL_STATE_SUCCEEDED || r.state == v1::TRIAL_STATE_DIVERGED);
    ASSERT_TRUE(r.summary.has_value());
    auto trial = store.GetTrial(r.trial_id);
    auto epochs = store.LoadEpochs(r.trial_id);
    ASSERT_TRUE(trial.ok() && epochs.ok());
    ASSERT_EQ(int(epochs->size()), r.summary->epochs_run() + 1);
    for (size_t e = 0; e < epochs->size(); ++e) ASSERT_EQ((*epochs)[e].epoch(), int(e));
    if (r.state == v1::TRIAL_STATE_SUCCEEDED) {
      EXPECT_EQ(int(epochs->size()), 7);
    }
    EXPECT_EQ(int((*epochs)[1].layers_size()), trial->spec.depth());
    // The stored summary is the one the stored curve implies.
    v1::TrialSummary recomputed = spec::Summarize(trial->spec, *epochs);
    recomputed.set_seconds(r.summary->seconds());
    recomputed.set_steps_per_second(r.summary->steps_per_second());
    recomputed.set_parameters(r.summary->parameters());  // a property of the network, not the curve
    EXPECT_EQ(r.summary->engine_version(), actgrid::spec::kEngineVersion);
    EXPECT_EQ(r.summary->build(), actgrid::spec::BuildDescription());  // what measured it
    recomputed.set_engine_version(r.summary->engine_version());
    recomputed.set_build(r.summary->build());
    EXPECT_EQ(recomputed.SerializeAsString(), r.summary->SerializeAsString()) << r.trial_id;
    by_activation[r.values[0]].push_back(recomputed.final_test_acc());
  }

  v1::CompareRequest request;
  request.set_grid("e2e");
  request.add_by("activation");
  request.set_metric("final_test_acc");
  auto compare = client.Compare(request);
  ASSERT_TRUE(compare.ok()) << compare.status();
  ASSERT_EQ(compare->rows_size(), 3);
  for (const auto& row : compare->rows()) {
    const auto& values = by_activation[row.group(0).value()];
    double sum = 0;
    for (double v : values) sum += v;
    EXPECT_EQ(row.n(), 12);
    EXPECT_NEAR(row.mean(), sum / values.size(), 1e-12) << row.group(0).value();
  }
  auto workers_seen = client.ListWorkers();
  ASSERT_TRUE(workers_seen.ok());
  EXPECT_EQ(workers_seen->size(), 2u);
  long completed = 0;
  for (const auto& w : *workers_seen) completed += w.completed();
  EXPECT_EQ(completed, 36);

  // The other analyses over gRPC. Curves: a diverged trial (lr 100) stops counting
  // where its loss became NaN.
  v1::CurvesRequest curves;
  curves.set_grid("e2e");
  curves.add_by("train.lr");
  curves.set_metric("train_loss");
  auto c = client.Curves(curves);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->groups_size(), 2);
  EXPECT_EQ(c->by(0), "train.lr");
  EXPECT_EQ(c->groups(0).points(0).n(), 18);
  EXPECT_GT(c->groups(1).diverged(), 0);
  v1::TestRequest test;
  test.set_grid("e2e");
  test.set_metric("best_test_acc");
  test.add_a()->set_factor("activation");
  test.mutable_a(0)->add_values("relu");
  test.add_b()->set_factor("activation");
  test.mutable_b(0)->add_values("tanh");
  test.set_resamples(200);
  auto t = client.Test(test);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_TRUE(t->paired());
  EXPECT_EQ(t->pairs(), 12);
  v1::LayersRequest layers;
  layers.set_grid("e2e");
  layers.add_by("depth");
  layers.set_epoch(0);
  auto l = client.Layers(layers);
  ASSERT_TRUE(l.ok()) << l.status();
  ASSERT_EQ(l->groups_size(), 2);
  EXPECT_EQ(l->groups(1).layers_size(), 3);
  v1::ExportRequest exporting;
  exporting.set_grid("e2e");
  exporting.set_content(v1::EXPORT_CONTENT_CURVES);
  int chunks = 0, exported = 0, epochs = 0;
  ASSERT_TRUE(client.Export(exporting, [&](const v1::ExportChunk& chunk) {
                     ++chunks;
                     exported += chunk.rows_size();
                     for (const auto& row : chunk.rows()) epochs += row.epochs_size();
                     return true;
                   }).ok());
  EXPECT_GE(chunks, 2);
  EXPECT_EQ(exported, 36);
  int stored = 0;  // a diverged trial stops early
  for (const auto& r : *rows) stored += r.summary->epochs_run() + 1;
  EXPECT_EQ(epochs, stored);
  v1::EffectsRequest effects;
  effects.set_grid("e2e");
  effects.set_metric("best_test_acc");
  auto e = client.Effects(effects);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->factors_size(), 3);
  EXPECT_EQ(e->per_cell(), 3);
}

TEST(InProcess, ResubmittingAFinishedGridRunsNothing) {
  const server::CoordinatorOptions options = FreshDatabase("e2e_resubmit");
  auto grid = grid::ParseGridText("name: again\ndataset: {name: xor, samples: 100}\ntrain: {epochs: 3}\nseeds: 2\n");
  ASSERT_TRUE(grid.ok());
  for (int round = 0; round < 2; ++round) {
    auto coordinator = server::Coordinator::Start(options);  // a restart between rounds
    ASSERT_TRUE(coordinator.ok()) << coordinator.status();
    cli::Client client((*coordinator)->InProcessChannel());
    auto submitted = client.Submit(grid::ToSubmitRequest(*grid, false));
    ASSERT_TRUE(submitted.ok());
    EXPECT_EQ(submitted->reused(), round == 0 ? 0 : 2);
    std::atomic<bool> stop{false};
    runner::WorkerStats stats;
    std::thread worker = StartWorker(**coordinator, stop, &stats);
    ASSERT_TRUE(client.Watch(std::to_string(submitted->grid_id()), [](const v1::GridEvent&) {}, nullptr).ok());
    stop = true;
    worker.join();
    EXPECT_EQ(stats.completed, round == 0 ? 2 : 0);
  }
}

}  // namespace
}  // namespace actgrid

namespace actgrid {
namespace {

// Waits until the grid has a trial with stored epochs (or 30 s pass).
void WaitForProgress(cli::Client& client, const std::string& grid) {
  for (int i = 0; i < 3000; ++i) {
    auto g = client.GetGrid(grid);
    if (g.ok() && g->epochs_done() > 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  FAIL() << "no progress";
}

TEST(InProcess, StoppingWorkerFinishesWithinGraceOrReleases) {
  auto coordinator = server::Coordinator::Start(FreshDatabase("e2e_stop"));
  ASSERT_TRUE(coordinator.ok()) << coordinator.status();
  cli::Client client((*coordinator)->InProcessChannel());
  // A trial far too long to finish: released when the grace period is over.
  auto endless = grid::ParseGridText("name: endless\ndataset: {name: circle, samples: 100}\ntrain: {epochs: 100000}\n");
  ASSERT_TRUE(endless.ok());
  ASSERT_TRUE(client.Submit(grid::ToSubmitRequest(*endless, false)).ok());
  std::atomic<bool> stop{false};
  runner::WorkerStats stats;
  // Held at epoch 10 until cancelled: it cannot finish within the grace period on any machine.
  std::thread worker = StartWorker(**coordinator, stop, &stats, std::chrono::milliseconds(200), "",
                                   [](runner::WorkerOptions* w) { w->hold_at_epoch = 10; });
  WaitForProgress(client, "endless");
  stop = true;
  worker.join();
  EXPECT_EQ(stats.released, 1);
  auto rows = (*coordinator)->store().ListGridTrials(client.GetGrid("endless")->id());
  ASSERT_EQ(rows->size(), 1u);
  auto trial = (*coordinator)->store().GetTrial((*rows)[0].trial_id);
  EXPECT_EQ(trial->state, v1::TRIAL_STATE_PENDING);  // another worker can take it at once
  EXPECT_EQ(trial->failures, 0);                     // a release is not a failed attempt
  ASSERT_TRUE(client.Cancel("endless").ok());

  // A short trial running when the stop comes finishes within the grace period.
  auto brief = grid::ParseGridText("name: brief\ndataset: {name: circle, samples: 200}\ntrain: {epochs: 300}\n");
  ASSERT_TRUE(client.Submit(grid::ToSubmitRequest(*brief, false)).ok());
  stop = false;
  std::thread second = StartWorker(**coordinator, stop, &stats, std::chrono::seconds(60));
  WaitForProgress(client, "brief");
  stop = true;
  second.join();
  EXPECT_EQ(stats.completed, 1);
  EXPECT_EQ(stats.released, 0);
  EXPECT_EQ(client.GetGrid("brief")->state(), v1::GRID_STATE_DONE);
}

}  // namespace
}  // namespace actgrid

namespace actgrid {
namespace {

TEST(InProcess, OneCoordinatorPerDatabase) {
  const server::CoordinatorOptions options = FreshDatabase("e2e_lock");
  auto first = server::Coordinator::Start(options);
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = server::Coordinator::Start(options);
  ASSERT_TRUE(absl::IsFailedPrecondition(second.status())) << second.status();
  EXPECT_NE(second.status().message().find("in use by another coordinator"), std::string::npos);
  // The lock is the file's, not its name's: every other way to reach the file is refused,
  // and the message names the holder.
  const std::filesystem::path db(options.db_path);
  const std::filesystem::path hard = db.string() + ".hard", soft = db.string() + ".soft";
  std::filesystem::remove(hard);
  std::filesystem::remove(soft);
  std::filesystem::create_hard_link(db, hard);
  std::filesystem::create_symlink(db, soft);
  const std::string dotdot = (db.parent_path() / ".." / db.parent_path().filename() / db.filename()).string();
  for (const std::string& other : {hard.string(), soft.string(), dotdot}) {
    server::CoordinatorOptions again = options;
    again.db_path = other;
    auto refused = server::Coordinator::Start(again);
    ASSERT_TRUE(absl::IsFailedPrecondition(refused.status())) << other << ": " << refused.status();
    EXPECT_NE(refused.status().message().find(absl::StrCat("pid ", getpid())), std::string::npos)
        << refused.status();
  }
  first->reset();  // released with the first coordinator
  EXPECT_TRUE(server::Coordinator::Start(options).ok());
  std::filesystem::remove(hard);
  std::filesystem::remove(soft);
}

}  // namespace
}  // namespace actgrid

namespace actgrid {
namespace {

// A worker whose lease expired while it still trains the trial, and which then leases
// the same trial again (it holds one lease more than it has threads): the old attempt
// is stopped and dropped, the new one completes, nothing is stored twice.
TEST(InProcess, WorkerLeasedTheSameTrialAgainDropsTheOldAttempt) {
  scheduler::FakeClock clock;
  server::CoordinatorOptions options = FreshDatabase("e2e_release_again");
  options.clock = &clock;
  options.scheduler.lease_ms = 60'000;
  options.scheduler.max_attempts = 100;
  options.scheduler.retry_after_ms = 1;  // idle slots ask again at once: the re-lease beats the next report
  auto coordinator = server::Coordinator::Start(options);
  ASSERT_TRUE(coordinator.ok()) << coordinator.status();
  cli::Client client((*coordinator)->InProcessChannel());
  auto grid = grid::ParseGridText("name: again\ndataset: {name: circle, samples: 100}\ntrain: {epochs: 2000}\n");
  ASSERT_TRUE(grid.ok());
  ASSERT_TRUE(client.Submit(grid::ToSubmitRequest(*grid, false)).ok());
  std::atomic<bool> stop{false};
  runner::WorkerStats stats;
  // Attempt 1 is held at epoch 100 until attempt 2 exists, so it cannot finish first
  // however fast the machine trains.
  std::mutex mu;
  std::condition_variable cv;
  bool go = false;
  std::thread worker = StartWorker(**coordinator, stop, &stats, std::chrono::seconds(30), "",
                                   [&](runner::WorkerOptions* w) {
                                     w->after_epoch = [&](const v1::Lease& lease, int epoch) {
                                       if (lease.attempt() != 1 || epoch != 100) return;
                                       std::unique_lock<std::mutex> lock(mu);
                                       cv.wait(lock, [&] { return go; });
                                     };
                                   });
  WaitForProgress(client, "again");
  auto& store = (*coordinator)->store();
  const int64_t trial = (*store.ListGridTrials(client.GetGrid("again")->id()))[0].trial_id;
  // Expire attempt 1 (a report may renew it first: try until the trial moves on).
  for (int i = 0; i < 500 && store.GetTrial(trial)->attempt < 2; ++i) {
    clock.Advance(120'000);
    (*coordinator)->scheduler().ExpireLeases();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    go = true;
  }
  cv.notify_all();
  ASSERT_GE(store.GetTrial(trial)->attempt, 2) << "state " << store.GetTrial(trial)->state << " error " << store.GetTrial(trial)->last_error << " epochs_done " << store.GetTrial(trial)->epochs_done;
  ASSERT_TRUE(client.Watch("again", [](const v1::GridEvent&) {}, nullptr, std::chrono::seconds(60)).ok());
  stop = true;
  worker.join();
  EXPECT_GE(stats.dropped, 1);
  EXPECT_EQ(stats.completed, 1);
  EXPECT_EQ(store.GetTrial(trial)->state, v1::TRIAL_STATE_SUCCEEDED);
  EXPECT_EQ(store.LoadEpochs(trial)->size(), 2001u);
}

}  // namespace
}  // namespace actgrid

namespace actgrid {
namespace {

// A worker confined to a data directory trains a grid whose CSV lies inside it and
// fails, at once and for good, a trial whose CSV lies outside.
TEST(InProcess, WorkersReadDatasetsOnlyFromTheirDataDirectories) {
  const std::string root = ::testing::TempDir() + "/confined-" + std::to_string(getpid());
  std::filesystem::create_directories(root + "/data");
  std::filesystem::create_directories(root + "/elsewhere");
  std::string csv = "x,y,label\n";
  for (int i = 0; i < 40; ++i) csv += std::to_string(i % 7) + "," + std::to_string(i % 5) + "," + std::to_string(i % 2) + "\n";
  std::ofstream(root + "/data/ok.csv") << csv;
  std::ofstream(root + "/elsewhere/secret.csv") << csv;
  auto coordinator = server::Coordinator::Start(FreshDatabase("e2e_confined"));
  ASSERT_TRUE(coordinator.ok()) << coordinator.status();
  std::atomic<bool> stop{false};
  std::thread worker([&] {
    runner::WorkerOptions w;
    w.threads = 1;
    w.data_dirs = {root + "/data"};
    runner::RemoteWorker((*coordinator)->InProcessChannel(), w).Run(stop);
  });
  cli::Client client((*coordinator)->InProcessChannel());
  for (const auto& [name, path] : {std::make_pair("inside", root + "/data/ok.csv"),
                                   std::make_pair("outside", root + "/data/../elsewhere/secret.csv")}) {
    auto grid = grid::ParseGridText(std::string("name: ") + name + "\ndataset: {name: csv, path: \"" + path +
                                    "\", label_column: label}\ntrain: {epochs: 2}\n");
    ASSERT_TRUE(grid.ok()) << grid.status();
    ASSERT_TRUE(grid::AttachDatasetDigests(&*grid).ok());
    ASSERT_TRUE(client.Submit(grid::ToSubmitRequest(*grid, false)).ok());
    std::vector<std::string> errors;
    ASSERT_TRUE(client.Watch(name, [&](const v1::GridEvent& e) {
                  for (const auto& m : e.errors()) errors.push_back(m);
                }, nullptr).ok());
    auto done = client.GetGrid(name);
    ASSERT_TRUE(done.ok());
    if (std::string(name) == "inside") {
      EXPECT_EQ(done->counts().succeeded(), 1);
    } else {
      EXPECT_EQ(done->counts().failed(), 1);
      ASSERT_FALSE(errors.empty());
      EXPECT_NE(errors[0].find("outside the data directories"), std::string::npos) << errors[0];
      auto rows = (*coordinator)->store().ListGridTrials(done->id());
      ASSERT_TRUE(rows.ok());
      EXPECT_EQ((*coordinator)->store().GetTrial((*rows)[0].trial_id)->attempt, 1);  // not retried
    }
  }
  stop = true;
  worker.join();
}

}  // namespace
}  // namespace actgrid

namespace actgrid {
namespace {

// SubmitGrid with a grid file's text, as a Python client or a notebook sends it: the
// coordinator answers as `actgrid submit` would, errors included.
TEST(InProcess, SubmitGridTakesAGridFileAsText) {
  server::CoordinatorOptions options = FreshDatabase("e2e_grid_text");
  options.parse_grid_file = [](const std::string& text, bool dry_run) {
    return grid::SubmitRequestFromText(text, dry_run);
  };
  auto coordinator = server::Coordinator::Start(options);
  ASSERT_TRUE(coordinator.ok()) << coordinator.status();
  auto stub = v1::Grids::NewStub((*coordinator)->InProcessChannel());
  auto submit = [&](const std::string& text, bool dry_run, v1::SubmitGridResponse* response) {
    grpc::ClientContext context;
    v1::SubmitGridRequest request;
    request.set_grid_file(text);
    request.set_dry_run(dry_run);
    return stub->SubmitGrid(&context, request, response);
  };
  const std::string text =
      "name: text\ndataset: {name: circle, samples: 100}\ntrain: {epochs: 2}\nseeds: 2\n"
      "grid:\n  activation: [relu, tanh, bent]\n"
      "activations:\n  bent: {f: 'where(x < 0, a * x, x)', params: {a: 0.1}}\n";
  // A dry run counts and stores nothing.
  v1::SubmitGridResponse dry;
  ASSERT_TRUE(submit(text, true, &dry).ok());
  EXPECT_EQ(dry.grid_id(), 0);
  EXPECT_EQ(dry.trials(), 6);
  // The same request the CLI builds from the same text.
  auto expected = grid::ParseGridText(text);
  ASSERT_TRUE(expected.ok()) << expected.status();
  v1::SubmitGridResponse submitted;
  ASSERT_TRUE(submit(text, false, &submitted).ok());
  EXPECT_GT(submitted.grid_id(), 0);
  EXPECT_EQ(submitted.trials(), 6);
  auto rows = (*coordinator)->store().ListGridTrials(submitted.grid_id());
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), expected->trials.size());
  for (size_t i = 0; i < rows->size(); ++i) EXPECT_EQ((*rows)[i].key, expected->trials[i].key) << i;

  // A malformed file: INVALID_ARGUMENT with the parser's own field-path message.
  const std::string bad = "name: bad\ndataset: {name: circle}\ngrid:\n  activation: [relux]\n";
  v1::SubmitGridResponse unused;
  const grpc::Status refused = submit(bad, false, &unused);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(refused.error_message(), std::string(grid::ParseGridText(bad).status().message()));
  EXPECT_NE(refused.error_message().find("did you mean \"relu\""), std::string::npos) << refused.error_message();
  // The parser's bounds hold before any work: a file past 1 MiB.
  EXPECT_EQ(submit(std::string(grid::kMaxGridFileBytes + 1, '#'), false, &unused).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  // A dataset read from files would be digested from the coordinator's files: refused.
  const grpc::Status files =
      submit("name: f\ndataset: {name: fashion_mnist}\ngrid:\n  activation: [relu]\n", false, &unused);
  EXPECT_EQ(files.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(files.error_message().find("dataset.name: fashion_mnist is read from files"), std::string::npos)
      << files.error_message();
  // Text and expanded trials together: refused.
  {
    grpc::ClientContext context;
    v1::SubmitGridRequest both = grid::ToSubmitRequest(*expected, false);
    both.set_grid_file(text);
    EXPECT_EQ(stub->SubmitGrid(&context, both, &unused).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  // A coordinator assembled without the parser says so.
  auto bare = server::Coordinator::Start(FreshDatabase("e2e_grid_text_bare"));
  ASSERT_TRUE(bare.ok());
  grpc::ClientContext context;
  v1::SubmitGridRequest request;
  request.set_grid_file(text);
  EXPECT_EQ(v1::Grids::NewStub((*bare)->InProcessChannel())->SubmitGrid(&context, request, &unused).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
}

}  // namespace
}  // namespace actgrid
