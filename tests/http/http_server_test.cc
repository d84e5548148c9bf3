// The HTTP face of the coordinator: the JSON API answers what the core answers, in the
// protobuf JSON mapping; errors carry gRPC's code and the matching HTTP status; tokens
// apply; WatchGrid streams progress until the grid is done; the dashboard is served.
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>

#include "absl/strings/str_split.h"
#include "client/cli/client.h"
#include "client/dashboard/assets.h"
#include "client/grid/grid_file.h"
#include "common/spec/engine_version.h"
#include "server/analysis/analysis.h"
#include "server/grpc/coordinator.h"
#include "server/http/http_server.h"
#include "worker/runner/remote_worker.h"

namespace actgrid {
namespace {

constexpr char kGrid[] = R"(name: web
dataset: {name: circle, samples: 200, noise: 0.05}
model: {width: 4}
train: {epochs: 4, lr: 0.05}
seeds: 2
grid:
  activation: [relu, tanh]
  depth: [1, 2]
)";

constexpr char kReader[] = "reader-token-0123456789";
constexpr char kWorker[] = "worker-token-0123456789";

server::CoordinatorOptions FreshDatabase(const std::string& name) {
  server::CoordinatorOptions options;
  options.db_path = ::testing::TempDir() + "/" + name + ".db";
  for (const char* s : {"", "-wal", "-shm"}) std::remove((options.db_path + s).c_str());
  return options;
}

// Trains every pending trial on one in-process worker slot until `stop`.
std::thread StartWorker(server::Coordinator& coordinator, const std::atomic<bool>& stop) {
  return std::thread([&coordinator, &stop] {
    runner::WorkerOptions w;
    w.threads = 1;
    runner::RemoteWorker(coordinator.InProcessChannel(), w).Run(stop);
  });
}

int64_t Submit(server::Coordinator& coordinator, const std::string& yaml) {
  auto grid = grid::ParseGridText(yaml);
  EXPECT_TRUE(grid.ok()) << grid.status();
  auto submitted = cli::Client(coordinator.InProcessChannel()).Submit(grid::ToSubmitRequest(*grid, false));
  EXPECT_TRUE(submitted.ok()) << submitted.status();
  return submitted.ok() ? submitted->grid_id() : 0;
}

void WaitUntilDone(server::Coordinator& coordinator, int64_t grid_id) {
  for (int i = 0; i < 600; ++i) {
    auto grid = coordinator.scheduler().GetGrid(std::to_string(grid_id));
    if (grid.ok() && grid->state() != v1::GRID_STATE_RUNNING) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  FAIL() << "grid " << grid_id << " did not finish";
}

template <typename Message>
Message FromJson(const std::string& json) {
  Message message;
  const auto st = google::protobuf::util::JsonStringToMessage(json, &message);
  EXPECT_TRUE(st.ok()) << st.message() << " in " << json;
  return message;
}

class HttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A database per test process: CTest runs these tests in parallel.
    auto coordinator = server::Coordinator::Start(FreshDatabase("http-" + std::to_string(getpid())));
    ASSERT_TRUE(coordinator.ok()) << coordinator.status();
    coordinator_ = *std::move(coordinator);
    grid_id_ = Submit(*coordinator_, kGrid);
    std::atomic<bool> stop{false};
    std::thread worker = StartWorker(*coordinator_, stop);
    WaitUntilDone(*coordinator_, grid_id_);
    stop = true;
    worker.join();
  }

  std::unique_ptr<server::HttpServer> Serve(std::shared_ptr<const server::Authorizer> auth = nullptr) {
    server::HttpOptions options;
    options.listen = "127.0.0.1:0";
    options.auth = std::move(auth);
    auto http = server::HttpServer::Start(&coordinator_->scheduler(), options);
    EXPECT_TRUE(http.ok()) << http.status();
    return http.ok() ? *std::move(http) : nullptr;
  }

  std::unique_ptr<server::Coordinator> coordinator_;
  int64_t grid_id_ = 0;
};

TEST_F(HttpTest, ServesTheDashboard) {
  auto http = Serve();
  ASSERT_TRUE(http);
  EXPECT_EQ(http->url(), "http://127.0.0.1:" + std::to_string(http->port()) + "/");
  httplib::Client client("127.0.0.1", http->port());
  auto page = client.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->body, dashboard::LivePage());
  EXPECT_NE(page->body.find("<script src=\"app.js\">"), std::string::npos);
  auto js = client.Get("/app.js");
  ASSERT_TRUE(js);
  EXPECT_EQ(js->status, 200);
  EXPECT_EQ(js->get_header_value("Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(js->body, std::string(dashboard::AppJs()));
  EXPECT_GT(js->body.size(), 10000u);
  auto css = client.Get("/app.css");
  ASSERT_TRUE(css);
  EXPECT_EQ(css->body, std::string(dashboard::AppCss()));
  auto missing = client.Get("/nothing-here");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
}

TEST_F(HttpTest, AnswersAreTheCoreAnswersInProtobufJson) {
  auto http = Serve();
  ASSERT_TRUE(http);
  httplib::Client client("127.0.0.1", http->port());
  const std::string ref = std::to_string(grid_id_);

  auto grid = client.Post("/api/actgrid.v1.Grids/GetGrid", "{\"grid\": \"" + ref + "\"}", "application/json");
  ASSERT_TRUE(grid);
  EXPECT_EQ(grid->status, 200) << grid->body;
  EXPECT_EQ(grid->get_header_value("Content-Type"), "application/json");
  // .proto field names, 64-bit integers as strings, enums by name.
  EXPECT_NE(grid->body.find("\"id\":\"" + ref + "\""), std::string::npos) << grid->body;
  EXPECT_NE(grid->body.find("\"epochs_total\":\"40\""), std::string::npos) << grid->body;
  EXPECT_NE(grid->body.find("\"state\":\"GRID_STATE_DONE\""), std::string::npos) << grid->body;
  EXPECT_EQ(FromJson<v1::Grid>(grid->body).counts().succeeded(), 8);

  auto list = client.Post("/api/actgrid.v1.Grids/ListGrids", "", "application/json");  // empty = default request
  ASSERT_TRUE(list);
  EXPECT_EQ(list->status, 200);
  EXPECT_EQ(FromJson<v1::ListGridsResponse>(list->body).grids_size(), 1);

  v1::CompareRequest compare;
  compare.set_grid(ref);
  compare.add_by("activation");
  compare.add_by("depth");
  compare.set_metric("best_test_acc");
  auto expected = analysis::Compare(coordinator_->store(), compare);
  ASSERT_TRUE(expected.ok());
  // lowerCamelCase requests are read as well as the .proto names.
  auto answer = client.Post("/api/actgrid.v1.Analysis/Compare",
                            "{\"grid\": \"" + ref + "\", \"by\": [\"activation\", \"depth\"], \"metric\": \"best_test_acc\"}",
                            "application/json");
  ASSERT_TRUE(answer);
  ASSERT_EQ(answer->status, 200) << answer->body;
  EXPECT_NE(answer->body.find("\"ci95_low\""), std::string::npos);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(FromJson<v1::CompareResponse>(answer->body), *expected));

  v1::CurvesRequest curves;
  curves.set_grid(ref);
  curves.add_by("activation");
  curves.set_metric("dead_fraction");
  auto expected_curves = analysis::Curves(coordinator_->store(), curves);
  ASSERT_TRUE(expected_curves.ok());
  auto curves_answer = client.Post("/api/actgrid.v1.Analysis/Curves",
                                   "{\"grid\": \"" + ref + "\", \"by\": [\"activation\"], \"metric\": \"dead_fraction\"}",
                                   "application/json");
  ASSERT_TRUE(curves_answer);
  ASSERT_EQ(curves_answer->status, 200) << curves_answer->body;
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(FromJson<v1::CurvesResponse>(curves_answer->body),
                                                                 *expected_curves));

  auto layers = client.Post("/api/actgrid.v1.Analysis/Layers", "{\"grid\": \"" + ref + "\"}", "application/json");
  ASSERT_TRUE(layers);
  EXPECT_EQ(layers->status, 200) << layers->body;
  EXPECT_EQ(FromJson<v1::LayersResponse>(layers->body).groups_size(), 4);
  auto effects = client.Post("/api/actgrid.v1.Analysis/Effects", "{\"grid\": \"" + ref + "\"}", "application/json");
  ASSERT_TRUE(effects);
  EXPECT_EQ(effects->status, 200) << effects->body;
  EXPECT_EQ(FromJson<v1::EffectsResponse>(effects->body).main_effects_size(), 2);

  // Export streams one chunk per line.
  auto exported = client.Post("/api/actgrid.v1.Analysis/Export", "{\"grid\": \"" + ref + "\"}", "application/json");
  ASSERT_TRUE(exported);
  EXPECT_EQ(exported->status, 200);
  EXPECT_EQ(exported->get_header_value("Content-Type"), "application/x-ndjson");
  int rows = 0;
  for (absl::string_view line : absl::StrSplit(exported->body, '\n', absl::SkipEmpty()))
    rows += FromJson<v1::ExportChunk>(std::string(line)).rows_size();
  EXPECT_EQ(rows, 8);
}

TEST_F(HttpTest, ErrorsCarryTheGrpcCodeAndTheMatchingHttpStatus) {
  auto http = Serve();
  ASSERT_TRUE(http);
  httplib::Client client("127.0.0.1", http->port());
  auto expect = [&](const httplib::Result& r, int status, const std::string& code, const std::string& says) {
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, status) << r->body;
    EXPECT_NE(r->body.find("\"status\": \"" + code + "\""), std::string::npos) << r->body;
    EXPECT_NE(r->body.find(says), std::string::npos) << r->body;
  };
  expect(client.Post("/api/actgrid.v1.Grids/GetGrid", "{\"grid\": \"nope\"}", "application/json"), 404, "NOT_FOUND",
         "nope");
  expect(client.Post("/api/actgrid.v1.Analysis/Compare", "{\"grid\": \"web\", \"metric\": \"accuracy\"}",
                     "application/json"),
         400, "INVALID_ARGUMENT", "accuracy");
  expect(client.Post("/api/actgrid.v1.Analysis/Compare", "{\"grid\": \"web\", \"metrc\": \"x\"}", "application/json"),
         400, "INVALID_ARGUMENT", "metrc");
  expect(client.Post("/api/actgrid.v1.Analysis/Compare", "{not json", "application/json"), 400, "INVALID_ARGUMENT",
         "actgrid.v1.CompareRequest");
  expect(client.Post("/api/actgrid.v1.Analysis/Frobnicate", "{}", "application/json"), 404, "NOT_FOUND",
         "actgrid.v1.Analysis/Compare");
  expect(client.Post("/api/actgrid.v1.Grids/SubmitGrid", "{}", "application/json"), 501, "UNIMPLEMENTED", "gRPC");
  expect(client.Post("/api/actgrid.v1.Analysis/Export", "{\"grid\": \"nope\"}", "application/json"), 404, "NOT_FOUND",
         "nope");
  expect(client.Get("/api/actgrid.v1.Grids/ListGrids"), 405, "INVALID_ARGUMENT", "POST");
}

TEST_F(HttpTest, TokensApplyToTheApiButNotToThePage) {
  auto auth = server::Authorizer::FromText(std::string("reader ") + kReader + "\nworker " + kWorker + "\n", "test");
  ASSERT_TRUE(auth.ok()) << auth.status();
  auto http = Serve(std::make_shared<const server::Authorizer>(*std::move(auth)));
  ASSERT_TRUE(http);
  httplib::Client client("127.0.0.1", http->port());
  const std::string path = "/api/actgrid.v1.Grids/ListGrids";
  auto none = client.Post(path, "{}", "application/json");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  EXPECT_NE(none->body.find("UNAUTHENTICATED"), std::string::npos);
  auto wrong = client.Post(path, {{"Authorization", "Bearer not-a-known-token-at-all"}}, "{}", "application/json");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  auto worker = client.Post(path, {{"Authorization", std::string("Bearer ") + kWorker}}, "{}", "application/json");
  ASSERT_TRUE(worker);
  EXPECT_EQ(worker->status, 403) << worker->body;
  EXPECT_NE(worker->body.find("PERMISSION_DENIED"), std::string::npos);
  auto reader = client.Post(path, {{"Authorization", std::string("Bearer ") + kReader}}, "{}", "application/json");
  ASSERT_TRUE(reader);
  EXPECT_EQ(reader->status, 200) << reader->body;
  auto page = client.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
}

TEST_F(HttpTest, AnOpenServerServesLoopbackOnly) {
  server::HttpOptions options;
  options.listen = "0.0.0.0:0";
  auto http = server::HttpServer::Start(&coordinator_->scheduler(), options);
  ASSERT_FALSE(http.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(http.status())) << http.status();
  options.listen = "127.0.0.1";
  EXPECT_TRUE(absl::IsInvalidArgument(server::HttpServer::Start(&coordinator_->scheduler(), options).status()));
}

// Follows WatchGrid of `grid_id` on a thread of its own; `lines()` is what arrived so far.
class Watcher {
 public:
  Watcher(int port, int64_t grid_id)
      : thread_([this, port, grid_id] {
          httplib::Client client("127.0.0.1", port);
          client.set_read_timeout(60, 0);
          httplib::Request req;
          req.method = "POST";
          req.path = "/api/actgrid.v1.Grids/WatchGrid";
          req.body = "{\"grid\": \"" + std::to_string(grid_id) + "\"}";
          req.set_header("Content-Type", "application/json");
          req.content_receiver = [this](const char* data, size_t n, uint64_t, uint64_t) {
            std::lock_guard<std::mutex> lock(mu_);
            received_.append(data, n);
            return true;
          };
          httplib::Response res;
          httplib::Error error = httplib::Error::Success;
          EXPECT_TRUE(client.send(req, res, error)) << httplib::to_string(error);
          EXPECT_EQ(res.status, 200);
        }) {}
  ~Watcher() { Join(); }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }

  std::vector<v1::GridEvent> Events() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<v1::GridEvent> events;
    for (absl::string_view line : absl::StrSplit(received_, '\n', absl::SkipWhitespace()))
      events.push_back(FromJson<v1::GridEvent>(std::string(line)));
    return events;
  }

  // Waits until some event satisfies `pred`.
  bool WaitFor(const std::function<bool(const v1::GridEvent&)>& pred) {
    for (int i = 0; i < 500; ++i) {
      for (const auto& e : Events())
        if (pred(e)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

 private:
  std::mutex mu_;
  std::string received_;
  std::thread thread_;
};

TEST_F(HttpTest, WatchGridSendsEveryChangeAndEndsWithTheGrid) {
  auto http = Serve();
  ASSERT_TRUE(http);
  const int64_t id = Submit(*coordinator_, "name: watched\ndataset: {name: circle, samples: 200}\n"
                                           "train: {epochs: 5}\nseeds: 2\n");
  Watcher watcher(http->port(), id);
  ASSERT_TRUE(watcher.WaitFor([](const v1::GridEvent& e) { return e.grid().counts().pending() == 2; }));
  v1::LeaseTrialsRequest lease;
  lease.set_worker_id("test:1:0");
  lease.set_threads(1);
  lease.set_max_trials(1);
  lease.set_engine_version(spec::kEngineVersion);
  ASSERT_TRUE(coordinator_->scheduler().Lease(lease).ok());
  EXPECT_TRUE(watcher.WaitFor([](const v1::GridEvent& e) { return e.grid().counts().leased() == 1; }));
  ASSERT_TRUE(coordinator_->scheduler().CancelGrid(std::to_string(id)).ok());
  watcher.Join();  // the stream ends by itself with the grid
  const auto events = watcher.Events();
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.front().grid().state(), v1::GRID_STATE_RUNNING);
  EXPECT_EQ(events.back().grid().state(), v1::GRID_STATE_CANCELLED);
  EXPECT_EQ(events.back().grid().counts().cancelled(), 2);
}

TEST_F(HttpTest, WatchGridFollowsAGridToTheEnd) {
  auto http = Serve();
  ASSERT_TRUE(http);
  const int64_t id = Submit(*coordinator_, "name: later\ndataset: {name: circle, samples: 600}\n"
                                           "train: {epochs: 150}\nseeds: 3\ngrid: {activation: [relu, tanh]}\n");
  Watcher watcher(http->port(), id);
  ASSERT_TRUE(watcher.WaitFor([](const v1::GridEvent&) { return true; }));  // before any trial runs
  std::atomic<bool> stop{false};
  std::thread worker = StartWorker(*coordinator_, stop);
  watcher.Join();  // the stream ends by itself once the grid is done
  stop = true;
  worker.join();

  const auto events = watcher.Events();
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events.front().grid().state(), v1::GRID_STATE_RUNNING);
  EXPECT_EQ(events.front().grid().counts().succeeded(), 0);
  EXPECT_EQ(events.back().grid().state(), v1::GRID_STATE_DONE);
  EXPECT_EQ(events.back().grid().counts().succeeded() + events.back().grid().counts().diverged(), 6);
  EXPECT_EQ(events.back().grid().epochs_done(), events.back().grid().epochs_total());
  for (size_t i = 1; i < events.size(); ++i)
    EXPECT_GE(events[i].grid().epochs_done(), events[i - 1].grid().epochs_done());
}

TEST_F(HttpTest, ShutdownEndsOpenStreams) {
  auto http = Serve();
  ASSERT_TRUE(http);
  const int64_t id = Submit(*coordinator_, "name: idle\ndataset: {name: circle, samples: 200}\ntrain: {epochs: 5}\n");
  std::thread watcher([&] {
    httplib::Client client("127.0.0.1", http->port());
    client.Post("/api/actgrid.v1.Grids/WatchGrid", "{\"grid\": \"" + std::to_string(id) + "\"}", "application/json");
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto start = std::chrono::steady_clock::now();
  http->Shutdown();  // no worker: the grid never finishes, yet the stream ends
  watcher.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

}  // namespace
}  // namespace actgrid
