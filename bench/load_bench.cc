// The coordinator load benchmark (a report, not a test): N simulated workers, each on
// its own gRPC connection, lease the trials of a grid from a running actgrid-server and
// report synthetic epochs at full speed, the way actgrid-worker does (one report stream
// per worker, batches of up to 1,000 epochs, each acked after it commits, then
// CompleteTrial with the curve's summary). No training: what is measured is the
// coordinator and its store.
//
//   actgrid_load_bench --server 127.0.0.1:7070 --grid bench/load_grid.yaml --workers 10
//
// Prints one line of JSON: trials, epoch rows, seconds (first lease to last completion),
// trials/s, rows/s, and the latency of LeaseTrials calls that returned work (p50, p99).
// bench/load.sh runs it for 1, 10 and 100 workers next to the Optuna anchor.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <CLI/CLI.hpp>
#include <grpcpp/grpcpp.h>

#include "actgrid/v1/grids.grpc.pb.h"
#include "actgrid/v1/workers.grpc.pb.h"
#include "client/grid/grid_file.h"
#include "common/rpc/rpc.h"
#include "common/spec/engine_version.h"
#include "common/spec/summary.h"
#include "worker/engine/trainer.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace v1 = actgrid::v1;

constexpr int kBatchEpochs = 1000;  // as actgrid-worker's reporter flushes

struct Shared {
  int64_t trials = 0;
  std::atomic<int64_t> completed{0};
  std::atomic<int64_t> rows{0};
  std::atomic<int64_t> errors{0};
  std::mutex mu;
  std::vector<double> lease_ms;  // latency of LeaseTrials calls that returned leases
  int64_t empty_leases = 0;
  Clock::time_point first_lease = Clock::time_point::max();
  Clock::time_point last_complete{};
  std::string first_error;
};

void NoteError(Shared& shared, const std::string& what) {
  if (shared.errors++ == 0) {
    std::lock_guard<std::mutex> lock(shared.mu);
    shared.first_error = what;
  }
}

// A synthetic curve: plausible values, one of 17 shapes per depth and length. Curves and
// their summaries are made once per shape, so that the simulated workers spend their CPU
// on the protocol, not on making data (they share the machine with the coordinator).
struct Curve {
  std::vector<v1::EpochMetrics> epochs;
  v1::TrialSummary summary;
};

const Curve& SyntheticCurve(const v1::TrialSpec& spec, int64_t trial_id) {
  static std::mutex mu;
  static std::map<std::tuple<int, int, int>, std::unique_ptr<Curve>> cache;
  const int shape = int(trial_id % 17);
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = cache[{spec.depth(), spec.train().epochs(), shape}];
  if (slot) return *slot;
  slot = std::make_unique<Curve>();
  const int epochs = spec.train().epochs();
  const double rate = 0.05 + 0.01 * shape;
  slot->epochs.resize(epochs + 1);
  for (int e = 0; e <= epochs; ++e) {
    v1::EpochMetrics& m = slot->epochs[e];
    const double progress = 1.0 - std::exp(-rate * e);
    m.set_epoch(e);
    m.set_train_loss(0.7 * (1.0 - progress) + 0.05);
    m.set_test_loss(0.72 * (1.0 - progress) + 0.07);
    m.set_train_acc(0.5 + 0.48 * progress);
    m.set_test_acc(0.5 + 0.45 * progress);
    m.set_dead_fraction(0.1 * progress);
    m.set_sparsity(0.5 + 0.1 * progress);
    m.set_grad_norm_first(0.1 + 0.01 * e);
    m.set_grad_norm_last(0.2 + 0.01 * e);
    m.set_seconds(0.001 * e);
    for (int l = 0; l < spec.depth(); ++l) {
      v1::LayerMetrics* layer = m.add_layers();
      layer->set_layer(l);
      layer->set_dead_fraction(0.1 * progress);
      layer->set_sparsity(0.5 + 0.1 * progress);
      layer->set_grad_norm(0.1 + 0.01 * l);
      layer->set_act_mean(0.3);
      layer->set_act_std(0.2 + 0.01 * l);
    }
  }
  slot->summary = actgrid::spec::Summarize(spec, slot->epochs);
  return *slot;
}

class SimWorker {
 public:
  SimWorker(int index, const std::string& address, const actgrid::rpc::ChannelAuth& auth, int slots,
            Shared* shared)
      : index_(index), slots_(slots), shared_(shared) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(actgrid::rpc::kMaxMessageBytes);
    args.SetMaxSendMessageSize(actgrid::rpc::kMaxMessageBytes);
    args.SetInt("actgrid.load_bench.worker", index);  // a connection of its own
    stub_ = v1::Workers::NewStub(grpc::experimental::CreateCustomChannelWithInterceptors(
        address, grpc::InsecureChannelCredentials(), args, actgrid::rpc::BearerInterceptors(auth.token)));
  }

  void Run() {
    grpc::ClientContext stream_context;
    auto stream = stub_->ReportEpochs(&stream_context);
    const std::string worker_id = "load-bench:" + std::to_string(index_);
    int64_t sequence = 0;
    std::vector<double> latencies;
    int64_t empty = 0;
    while (shared_->completed.load() < shared_->trials && shared_->errors.load() == 0) {
      v1::LeaseTrialsRequest request;
      request.set_worker_id(worker_id);
      request.set_hostname("load-bench");
      request.set_threads(slots_);
      request.set_max_trials(slots_);
      request.set_engine_version(actgrid::spec::kEngineVersion);
      v1::LeaseTrialsResponse response;
      grpc::ClientContext context;
      actgrid::rpc::SetDeadline(context, std::chrono::seconds(30));
      const auto asked = Clock::now();
      const grpc::Status status = stub_->LeaseTrials(&context, request, &response);
      const auto answered = Clock::now();
      if (!status.ok()) {
        NoteError(*shared_, "LeaseTrials: " + status.error_message());
        break;
      }
      if (response.leases_size() == 0) {
        ++empty;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        continue;
      }
      latencies.push_back(std::chrono::duration<double, std::milli>(answered - asked).count());
      {
        std::lock_guard<std::mutex> lock(shared_->mu);
        shared_->first_lease = std::min(shared_->first_lease, asked);
      }
      // Every epoch of every leased trial, in batches, each acked after its commit.
      std::vector<const Curve*> curves;
      for (const v1::Lease& lease : response.leases())
        curves.push_back(&SyntheticCurve(lease.spec(), lease.trial_id()));
      // One batch message reused: Clear() keeps its sub-messages for the next fill.
      batch_.Clear();
      v1::ReportBatch& batch = batch_;
      auto flush = [&]() -> bool {
        if (batch.epochs_size() == 0) return true;
        batch.set_sequence(++sequence);
        batch.set_worker_id(worker_id);
        const int sent = batch.epochs_size();
        v1::ReportAck ack;
        if (!stream->Write(batch) || !stream->Read(&ack)) {
          NoteError(*shared_, "ReportEpochs: stream closed: " + stream->Finish().error_message());
          return false;
        }
        for (const v1::TrialVerdict& verdict : ack.verdicts())
          if (verdict.verdict() != v1::REPORT_VERDICT_ACCEPTED) {
            NoteError(*shared_, "ReportEpochs: trial " + std::to_string(verdict.trial_id()) + " not accepted");
            return false;
          }
        shared_->rows += sent;
        batch.Clear();
        return true;
      };
      for (int i = 0; i < response.leases_size(); ++i) {
        const v1::Lease& lease = response.leases(i);
        for (const v1::EpochMetrics& m : curves[i]->epochs) {
          v1::EpochReport* report = batch.add_epochs();
          report->set_trial_id(lease.trial_id());
          report->set_attempt(lease.attempt());
          report->set_lease_secret(lease.lease_secret());
          report->mutable_metrics()->CopyFrom(m);
          if (batch.epochs_size() >= kBatchEpochs && !flush()) return;
        }
      }
      if (!flush()) return;
      for (int i = 0; i < response.leases_size(); ++i) {
        const v1::Lease& lease = response.leases(i);
        v1::CompleteTrialRequest complete;
        complete.set_trial_id(lease.trial_id());
        complete.set_attempt(lease.attempt());
        complete.set_worker_id(worker_id);
        complete.set_lease_secret(lease.lease_secret());
        *complete.mutable_summary() = curves[i]->summary;
        v1::CompleteTrialResponse done;
        grpc::ClientContext complete_context;
        actgrid::rpc::SetDeadline(complete_context, std::chrono::seconds(30));
        const grpc::Status completed = stub_->CompleteTrial(&complete_context, complete, &done);
        if (!completed.ok()) {
          NoteError(*shared_, "CompleteTrial: " + completed.error_message());
          return;
        }
        shared_->completed++;
      }
      std::lock_guard<std::mutex> lock(shared_->mu);
      shared_->last_complete = std::max(shared_->last_complete, Clock::now());
    }
    stream->WritesDone();
    stream->Finish();
    std::lock_guard<std::mutex> lock(shared_->mu);
    shared_->lease_ms.insert(shared_->lease_ms.end(), latencies.begin(), latencies.end());
    shared_->empty_leases += empty;
  }

 private:
  const int index_;
  const int slots_;
  Shared* shared_;
  std::unique_ptr<v1::Workers::Stub> stub_;
  v1::ReportBatch batch_;
};

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const double pos = q * double(v.size() - 1);
  const size_t lo = size_t(pos);
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - double(lo));
}

}  // namespace

int main(int argc, char** argv) {
  actgrid::rpc::InitProcess();
  CLI::App app{"actgrid_load_bench: simulated workers against a running coordinator"};
  std::string server, grid_path = "bench/load_grid.yaml", token_file;
  int workers = 10, slots = 4;
  app.add_option("--server,-s", server, "Coordinator address (default: $ACTGRID_SERVER or 127.0.0.1:7070)");
  app.add_option("--grid", grid_path, "Grid file to submit and run")->capture_default_str();
  app.add_option("--workers,-w", workers, "Simulated workers, each on its own connection")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  app.add_option("--slots", slots, "Trials each worker leases per call (a worker's threads + spare)")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  app.add_option("--token-file", token_file, "A token file with the submitter and worker roles (admin)");
  CLI11_PARSE(app, argc, argv);

  auto grid = actgrid::grid::ParseGridFile(grid_path);
  if (!grid.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(grid.status().message()).c_str());
    return 2;
  }
  auto auth = actgrid::rpc::ClientAuth(token_file, false, "");
  if (!auth.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(auth.status().message()).c_str());
    return 2;
  }
  const std::string address = actgrid::rpc::ServerAddress(server);
  auto grids = v1::Grids::NewStub(actgrid::rpc::Connect(address, *auth));
  v1::SubmitGridResponse submitted;
  {
    grpc::ClientContext context;
    actgrid::rpc::SetDeadline(context, std::chrono::seconds(120));
    const grpc::Status status =
        grids->SubmitGrid(&context, actgrid::grid::ToSubmitRequest(*grid, false), &submitted);
    if (!status.ok()) {
      std::fprintf(stderr, "error: SubmitGrid: %s\n", status.error_message().c_str());
      return 1;
    }
  }
  Shared shared;
  shared.trials = submitted.trials() - submitted.reused();
  int64_t epochs_per_grid = 0;
  for (const auto& t : grid->trials) epochs_per_grid += t.spec.train().epochs() + 1;

  std::vector<std::unique_ptr<SimWorker>> sims;
  for (int i = 0; i < workers; ++i) sims.push_back(std::make_unique<SimWorker>(i, address, *auth, slots, &shared));
  std::vector<std::thread> threads;
  for (auto& sim : sims) threads.emplace_back([&sim] { sim->Run(); });
  for (auto& t : threads) t.join();
  if (shared.errors > 0) {
    std::fprintf(stderr, "error: %s (%lld errors)\n", shared.first_error.c_str(), (long long)shared.errors.load());
    return 1;
  }

  // The coordinator's own account must agree: every trial SUCCEEDED, every epoch stored.
  v1::Grid final_grid;
  {
    grpc::ClientContext context;
    actgrid::rpc::SetDeadline(context, std::chrono::seconds(30));
    v1::GridRef ref;
    ref.set_grid(std::to_string(submitted.grid_id()));
    const grpc::Status status = grids->GetGrid(&context, ref, &final_grid);
    if (!status.ok()) {
      std::fprintf(stderr, "error: GetGrid: %s\n", status.error_message().c_str());
      return 1;
    }
  }
  if (final_grid.counts().succeeded() != submitted.trials() || final_grid.epochs_done() != epochs_per_grid) {
    std::fprintf(stderr, "error: the coordinator counts %d of %d trials succeeded and %lld of %lld epochs\n",
                 final_grid.counts().succeeded(), submitted.trials(), (long long)final_grid.epochs_done(),
                 (long long)epochs_per_grid);
    return 1;
  }
  const double seconds = std::chrono::duration<double>(shared.last_complete - shared.first_lease).count();
  std::printf(
      "{\"workers\": %d, \"slots\": %d, \"trials\": %lld, \"rows\": %lld, \"seconds\": %.4f, "
      "\"trials_per_s\": %.1f, \"rows_per_s\": %.1f, \"lease_calls\": %zu, \"empty_lease_calls\": %lld, "
      "\"lease_p50_ms\": %.3f, \"lease_p99_ms\": %.3f}\n",
      workers, slots, (long long)shared.completed.load(), (long long)shared.rows.load(), seconds,
      double(shared.completed.load()) / seconds, double(shared.rows.load()) / seconds, shared.lease_ms.size(),
      (long long)shared.empty_leases, Percentile(shared.lease_ms, 0.5), Percentile(shared.lease_ms, 0.99));
  return 0;
}
