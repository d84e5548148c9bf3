// RemoteWorker (see remote_worker.h): a lease loop, a oneTBB arena of trial slots and
// a reporter thread that owns the report stream and the Complete/Fail calls.
#include "worker/runner/remote_worker.h"

#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include <tbb/global_control.h>
#include <tbb/task_arena.h>

#include "absl/strings/str_cat.h"
#include "actgrid/v1/workers.grpc.pb.h"
#include "common/rpc/rpc.h"
#include "common/spec/engine_version.h"
#include "worker/engine/dataset.h"
#include "worker/engine/packed_trainer.h"
#include "worker/runner/local_pool.h"

namespace actgrid::runner {
namespace {

constexpr int kMaxEpochsPerBatch = 4000;
// Epoch reports are sent in batches at most this far apart (sooner when a trial ends or
// a batch fills up): one commit per batch keeps the coordinator's share of the CPU small.
constexpr auto kFlushInterval = std::chrono::milliseconds(100);
constexpr size_t kFlushEpochs = 1000;
constexpr auto kStreamLifetime = std::chrono::seconds(60);  // the report stream's deadline
constexpr auto kMinBackoff = std::chrono::milliseconds(100);
constexpr auto kMaxBackoff = std::chrono::milliseconds(5000);
// A stopping worker gives up on an unreachable coordinator after this many tries
// (about half a minute of backoff): its leases expire and the trials run elsewhere.
constexpr int kTriesWhileStopping = 10;

std::string DefaultWorkerId() {
  static std::atomic<int> counter{0};
  char host[256] = "localhost";
  gethostname(host, sizeof(host) - 1);
  return absl::StrCat(host, ":", getpid(), ":", counter++);
}

// CANCELLED comes from a coordinator shutting down mid-call (a restart): the call is
// sent again to the one that follows.
bool Retryable(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::UNAVAILABLE || s.error_code() == grpc::StatusCode::CANCELLED ||
         s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
         s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED ||
         s.error_code() == grpc::StatusCode::ABORTED || s.error_code() == grpc::StatusCode::INTERNAL ||
         s.error_code() == grpc::StatusCode::UNKNOWN;
}

}  // namespace

class RemoteWorker::Impl {
 public:
  Impl(std::shared_ptr<grpc::Channel> channel, WorkerOptions options)
      : channel_(std::move(channel)),
        stub_(v1::Workers::NewStub(channel_)),
        options_(std::move(options)),
        threads_(EffectiveThreads(options_.threads)) {
    if (options_.worker_id.empty()) options_.worker_id = DefaultWorkerId();
    char host[256] = "localhost";
    gethostname(host, sizeof(host) - 1);
    hostname_ = host;
  }

  WorkerStats Run(const std::atomic<bool>& stop, const std::atomic<bool>* stop_now);

 private:
  struct Slot {
    v1::Lease lease;
    std::atomic<bool> cancel{false};
    bool dropped = false;   // stale or cancelled on the coordinator: report nothing more
    bool releasing = false;  // stopped by this worker's shutdown
    bool started = false;    // a thread has picked it up
    std::string pack_key;    // engine::PackKey of a trial that trains packed, else empty
  };
  // A slot is one attempt: the coordinator may lease a trial again (at a new attempt)
  // while this worker still holds an expired older one.
  using SlotKey = std::pair<int64_t, int>;  // (trial_id, attempt)
  struct End {
    SlotKey key;
    absl::StatusOr<v1::TrialResult> result;
  };

  void Log(const std::string& message) {
    if (options_.log) options_.log(message);
  }
  bool Sleep(std::chrono::milliseconds d, const std::atomic<bool>& stop);
  // How many pack groups to lease now (mu_ held). The worker keeps a few more units of
  // work than threads, so that a thread that finishes starts the next at once instead of
  // waiting for a lease round trip: a unit is a running pack, a trial running alone, or
  // the waiting trials of one group (up to a pack's worth, leased together). A pack
  // takes in waiting trials of its group as its lanes free; it holds no lease for lanes
  // it may never fill, so a worker never sits on trials another could start.
  int GroupsWanted() const {
    int busy = running_packs_ + running_alone_;
    std::set<std::string> groups;
    for (const auto& slot : waiting_) {
      if (slot->pack_key.empty())
        ++busy;
      else
        groups.insert(slot->pack_key);
    }
    busy += int(groups.size());
    return std::max(0, threads_ + std::max(1, threads_ / 4) - busy);
  }
  // Run by a pool thread once per lease: takes the oldest waiting trial, if any, and
  // trains it, alone or in a pack that takes in compatible waiting trials as lanes free.
  void Drive();
  // The dataset of a trial about to start, or why it cannot.
  absl::StatusOr<std::shared_ptr<const engine::Dataset>> Prepare(const Slot& slot);
  engine::TrialHooks Hooks(const std::shared_ptr<Slot>& slot);
  void TrainPack(std::shared_ptr<Slot> first, const engine::Dataset& data);
  void TrainAlone(std::shared_ptr<Slot> slot, const engine::Dataset& data);
  // The oldest waiting trial with `pack_key`, now started; null when none.
  std::shared_ptr<Slot> TakeWaiting(const std::string& pack_key);
  void PushEnd(const Slot& slot, absl::StatusOr<v1::TrialResult> result);
  void ReporterLoop();
  bool SendBatch(v1::ReportBatch& batch);  // until acked, refused, or given up while stopping
  bool Stopping() {
    std::lock_guard<std::mutex> lock(mu_);
    return reporter_stop_;
  }
  // Verdicts name trials; the attempt each one judged is the one `batch` quoted.
  void ApplyAck(const v1::ReportBatch& batch, const v1::ReportAck& ack);
  void Finish(const End& end);
  void CloseStream();

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Workers::Stub> stub_;
  WorkerOptions options_;
  const int threads_;
  std::string hostname_;
  engine::DatasetCache cache_;
  std::atomic<int64_t> lease_ms_{30'000};

  std::mutex mu_;  // guards everything below
  std::condition_variable cv_;  // slot freed, items queued, stopping
  std::map<SlotKey, std::shared_ptr<Slot>> slots_;  // leased, until Complete/Fail answered
  int training_ = 0;  // leased trials not finished yet: running or waiting for a thread
  std::deque<std::shared_ptr<Slot>> waiting_;  // leased, not picked up by a thread yet
  int running_packs_ = 0;
  int running_alone_ = 0;  // trials training alone now
  int drives_ = 0;         // Drive tasks enqueued and not finished (Run waits for them)
  std::deque<v1::EpochReport> epochs_;
  std::deque<End> ends_;
  bool reporter_stop_ = false;
  WorkerStats stats_;

  // Owned by the reporter thread.
  std::unique_ptr<grpc::ClientContext> stream_context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::ReportBatch, v1::ReportAck>> stream_;
  std::chrono::steady_clock::time_point stream_opened_;
  int64_t sequence_ = 0;
  const std::atomic<bool>* hard_stop_ = nullptr;
};

bool RemoteWorker::Impl::Sleep(std::chrono::milliseconds d, const std::atomic<bool>& stop) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, d, [&] { return stop.load(); });
  return !stop.load();
}

WorkerStats RemoteWorker::Impl::Run(const std::atomic<bool>& stop, const std::atomic<bool>* stop_now) {
  hard_stop_ = stop_now;
  tbb::global_control parallelism(tbb::global_control::max_allowed_parallelism,
                                  std::max<size_t>(threads_ + 1, tbb::global_control::active_value(
                                                                     tbb::global_control::max_allowed_parallelism)));
  tbb::task_arena arena(threads_, 0);
  std::thread reporter([this] { ReporterLoop(); });
  // A lease call waits for a coordinator that is not there yet (wait_for_ready) up to
  // its deadline: a stop cancels it, so SIGTERM is acted on at once, not after it.
  std::atomic<bool> leasing_over{false};
  std::mutex call_mu;
  grpc::ClientContext* lease_call = nullptr;  // guarded by call_mu
  std::thread canceller([&] {
    while (!leasing_over) {
      if (stop) {
        std::lock_guard<std::mutex> lock(call_mu);
        if (lease_call != nullptr) lease_call->TryCancel();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  auto backoff = kMinBackoff;
  bool outage = false;
  std::chrono::steady_clock::time_point touched{};
  while (!stop) {
    if (!options_.health_file.empty() && std::chrono::steady_clock::now() - touched >= std::chrono::seconds(5)) {
      touched = std::chrono::steady_clock::now();
      std::ofstream(options_.health_file, std::ios::trunc) << "alive\n";
    }
    int free;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stop.load() || GroupsWanted() > 0; });
      free = GroupsWanted();
    }
    if (stop || free <= 0) continue;
    v1::LeaseTrialsRequest request;
    request.set_worker_id(options_.worker_id);
    request.set_hostname(hostname_);
    request.set_threads(threads_);
    request.set_max_trials(std::min(1024, free * engine::kPackLanes));
    request.set_max_groups(free);
    request.set_engine_version(spec::kEngineVersion);
    v1::LeaseTrialsResponse response;
    grpc::ClientContext context;
    rpc::SetDeadline(context, options_.call_timeout);
    context.set_wait_for_ready(true);  // a coordinator restarting is waited for, not failed at once
    {
      std::lock_guard<std::mutex> lock(call_mu);
      lease_call = &context;
    }
    const grpc::Status status = stub_->LeaseTrials(&context, request, &response);
    {
      std::lock_guard<std::mutex> lock(call_mu);
      lease_call = nullptr;
    }
    if (stop && !status.ok()) break;  // cancelled by the stop (leases it did get are released below)
    if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
        status.error_code() == grpc::StatusCode::PERMISSION_DENIED ||
        (status.error_code() == grpc::StatusCode::FAILED_PRECONDITION &&
         status.error_message().rfind(spec::kEngineVersionRefusal, 0) == 0)) {
      // Retrying cannot help: the token is missing, unknown or not a worker's, or this
      // worker's engine version is not the coordinator's.
      Log(absl::StrCat("the coordinator refuses this worker: ", status.error_message()));
      stats_.refused = status.error_message();
      break;
    }
    if (!status.ok()) {
      if (!outage)
        Log(absl::StrCat(status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED
                             ? "the coordinator cannot take work now ("
                             : "coordinator unreachable (",
                         status.error_message(), "); retrying"));
      outage = true;
      Sleep(backoff, stop);
      backoff = std::min(backoff * 2, std::chrono::duration_cast<std::chrono::milliseconds>(kMaxBackoff));
      continue;
    }
    if (outage) Log("coordinator reachable again");
    outage = false;
    backoff = kMinBackoff;
    if (response.lease_ms() > 0) lease_ms_ = response.lease_ms();
    if (response.leases_size() == 0) {
      Sleep(std::chrono::milliseconds(std::clamp(response.retry_after_ms(), 10, 5000)), stop);
      continue;
    }
    for (auto& lease : *response.mutable_leases()) {
      auto slot = std::make_shared<Slot>();
      slot->lease = std::move(lease);
      if (engine::Packable(slot->lease.spec())) slot->pack_key = engine::PackKey(slot->lease.spec());
      {
        std::lock_guard<std::mutex> lock(mu_);
        // An older attempt of the same trial still here lost its lease: stop it, and
        // keep it out of every report so a batch never names two attempts of a trial.
        for (auto& [key, held] : slots_)
          if (key.first == slot->lease.trial_id() && !held->dropped) {
            held->dropped = true;
            held->cancel = true;
            ++stats_.dropped;
          }
        slots_[{slot->lease.trial_id(), slot->lease.attempt()}] = slot;
        waiting_.push_back(slot);
        ++drives_;
        ++training_;
        ++stats_.leased;
      }
      arena.enqueue([this] { Drive(); });
    }
    std::lock_guard<std::mutex> lock(mu_);
    cv_.notify_all();  // the reporter learns the lease period
  }

  leasing_over = true;
  canceller.join();
  // Stopping: trials not started yet go back at once; running ones may finish within
  // the grace period, then the rest are released.
  {
    std::unique_lock<std::mutex> lock(mu_);
    for (auto& [id, slot] : slots_) {
      if (slot->started) continue;
      slot->releasing = true;
      slot->cancel = true;
    }
    const auto until = std::chrono::steady_clock::now() + options_.grace;
    while (training_ > 0 && std::chrono::steady_clock::now() < until && !(stop_now && *stop_now))
      cv_.wait_for(lock, std::chrono::milliseconds(100));
    for (auto& [id, slot] : slots_) {
      slot->releasing = true;
      slot->cancel = true;
    }
    cv_.wait(lock, [&] { return training_ == 0 && drives_ == 0; });
    reporter_stop_ = true;
    cv_.notify_all();
  }
  reporter.join();
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void RemoteWorker::Impl::PushEnd(const Slot& slot, absl::StatusOr<v1::TrialResult> result) {
  std::lock_guard<std::mutex> lock(mu_);
  ends_.push_back({{slot.lease.trial_id(), slot.lease.attempt()}, std::move(result)});
  --training_;
  cv_.notify_all();
}

absl::StatusOr<std::shared_ptr<const engine::Dataset>> RemoteWorker::Impl::Prepare(const Slot& slot) {
  if (slot.cancel) return absl::CancelledError("stopped before start");
  const std::string& path = slot.lease.spec().dataset().path();
  if (!path.empty())
    if (absl::Status confined = engine::CheckDataPath(path, options_.data_dirs); !confined.ok()) return confined;
  auto data = cache_.Get(slot.lease.spec().dataset());
  if (!data.ok()) return data.status();
  return *data;
}

engine::TrialHooks RemoteWorker::Impl::Hooks(const std::shared_ptr<Slot>& slot) {
  engine::TrialHooks hooks;
  hooks.cancel = &slot->cancel;
  hooks.on_epoch = [this, slot](const v1::EpochMetrics& m) {
    const v1::Lease& lease = slot->lease;
    if (options_.after_epoch) options_.after_epoch(lease, m.epoch());
    if (m.epoch() == options_.hold_at_epoch)
      while (!slot->cancel) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    v1::EpochReport report;
    report.set_trial_id(lease.trial_id());
    report.set_attempt(lease.attempt());
    report.set_lease_secret(lease.lease_secret());
    *report.mutable_metrics() = m;
    std::lock_guard<std::mutex> lock(mu_);
    epochs_.push_back(std::move(report));
    if (epochs_.size() == 1) cv_.notify_all();
  };
  return hooks;
}

std::shared_ptr<RemoteWorker::Impl::Slot> RemoteWorker::Impl::TakeWaiting(const std::string& pack_key) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = waiting_.begin(); it != waiting_.end(); ++it) {
    if ((*it)->pack_key != pack_key) continue;
    std::shared_ptr<Slot> slot = *it;
    waiting_.erase(it);
    slot->started = !slot->cancel;
    return slot;
  }
  return nullptr;
}

void RemoteWorker::Impl::Drive() {
  struct Done {
    Impl* impl;
    ~Done() {
      std::lock_guard<std::mutex> lock(impl->mu_);
      --impl->drives_;
      impl->cv_.notify_all();
    }
  } done{this};
  std::shared_ptr<Slot> slot;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (waiting_.empty()) return;  // a pack took it in
    slot = waiting_.front();
    waiting_.pop_front();
    slot->started = !slot->cancel;
  }
  auto data = Prepare(*slot);
  if (!data.ok())
    PushEnd(*slot, data.status());
  else if (slot->pack_key.empty())
    TrainAlone(std::move(slot), **data);
  else
    TrainPack(std::move(slot), **data);
}

void RemoteWorker::Impl::TrainAlone(std::shared_ptr<Slot> slot, const engine::Dataset& data) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++running_alone_;
  }
  absl::StatusOr<v1::TrialResult> result = RunTrialGuarded(slot->lease.spec(), data, Hooks(slot));
  {
    std::lock_guard<std::mutex> lock(mu_);
    --running_alone_;
    cv_.notify_all();
  }
  PushEnd(*slot, std::move(result));
}

// A pack starts with `first` and takes in every waiting trial of its key while lanes
// are free, before each round; it ends when no lane holds a trial. Each trial reports
// its epochs, stops on its own cancel flag and ends on its own, as alone.
void RemoteWorker::Impl::TrainPack(std::shared_ptr<Slot> first, const engine::Dataset& data) {
  // As wide as the trials of its group at hand need (a lone trial does not pay for 16
  // lanes); trials of the group leased later fill lanes that free, or start a pack of
  // their own on another thread.
  int trials = 1;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& slot : waiting_) trials += slot->pack_key == first->pack_key;
  }
  std::unique_ptr<engine::PackedTrainer> pack;
  try {
    auto created = engine::PackedTrainer::Create(first->lease.spec(), data, std::min(trials, engine::kPackLanes));
    if (!created.ok()) return PushEnd(*first, created.status());
    pack = std::move(*created);
  } catch (...) {
    return PushEnd(*first, FromException(std::current_exception()));
  }
  const std::string key = first->pack_key;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++running_packs_;
  }
  auto ended = [&] {
    std::lock_guard<std::mutex> lock(mu_);
    --running_packs_;
    cv_.notify_all();  // the lease loop may want more now
  };
  std::map<int64_t, std::shared_ptr<Slot>> lanes;
  int64_t next_id = 0;
  auto admit = [&](std::shared_ptr<Slot> slot) {
    absl::Status added;
    try {
      added = pack->Add(next_id, slot->lease.spec(), Hooks(slot));
    } catch (...) {
      added = FromException(std::current_exception());
    }
    if (!added.ok()) return PushEnd(*slot, added);
    lanes[next_id++] = std::move(slot);
  };
  admit(std::move(first));
  while (true) {
    while (pack->FreeLanes() > 0) {
      std::shared_ptr<Slot> slot = TakeWaiting(key);
      if (!slot) break;
      // The same dataset spec as the pack's (it is part of the key), so the same data.
      if (auto ready = Prepare(*slot); !ready.ok())
        PushEnd(*slot, ready.status());
      else
        admit(std::move(slot));
    }
    if (pack->Empty()) return ended();
    std::vector<engine::PackedTrainer::Ended> finished;
    try {
      finished = pack->Advance();
    } catch (...) {
      const absl::Status failed = FromException(std::current_exception());
      for (auto& [id, slot] : lanes) PushEnd(*slot, failed);
      return ended();
    }
    for (auto& e : finished) {
      auto it = lanes.find(e.id);
      PushEnd(*it->second, std::move(e.result));
      lanes.erase(it);
    }
  }
}

void RemoteWorker::Impl::CloseStream() {
  if (!stream_) return;
  stream_context_->TryCancel();
  stream_->Finish().IgnoreError();
  stream_.reset();
  stream_context_.reset();
}

bool RemoteWorker::Impl::SendBatch(v1::ReportBatch& batch) {
  auto backoff = kMinBackoff;
  bool outage = false;
  int tries_while_stopping = 0;
  while (true) {
    if (stream_ && std::chrono::steady_clock::now() - stream_opened_ > kStreamLifetime - std::chrono::seconds(5))
      CloseStream();  // renew before its deadline
    if (!stream_) {
      stream_context_ = std::make_unique<grpc::ClientContext>();
      rpc::SetDeadline(*stream_context_, kStreamLifetime);
      stream_context_->set_wait_for_ready(true);
      stream_ = stub_->ReportEpochs(stream_context_.get());
      stream_opened_ = std::chrono::steady_clock::now();
    }
    v1::ReportAck ack;
    const bool answered = stream_->Write(batch) && stream_->Read(&ack);
    if (answered && ack.sequence() == batch.sequence()) {
      if (outage) Log("report stream restored");
      ApplyAck(batch, ack);
      return true;
    }
    if (answered) stream_context_->TryCancel();  // an ack out of order: start over
    const grpc::Status status = stream_->Finish();
    stream_.reset();
    stream_context_.reset();
    if (!Retryable(status) && status.error_code() != grpc::StatusCode::CANCELLED) {
      // The coordinator refuses this batch (e.g. INVALID_ARGUMENT): resending cannot help.
      Log(absl::StrCat("report batch refused (", status.error_message(), "); its epochs are dropped"));
      return true;
    }
    if (!outage) Log(absl::StrCat("report stream broken (", status.error_message(), "); retrying"));
    outage = true;
    if (hard_stop_ && *hard_stop_) return false;
    if (Stopping() && ++tries_while_stopping > kTriesWhileStopping) return false;
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::duration_cast<std::chrono::milliseconds>(kMaxBackoff));
  }
}

void RemoteWorker::Impl::ApplyAck(const v1::ReportBatch& batch, const v1::ReportAck& ack) {
  std::map<int64_t, int> quoted;  // trial -> attempt, as the batch named it first
  for (const auto& e : batch.epochs()) quoted.emplace(e.trial_id(), e.attempt());
  for (const auto& h : batch.heartbeats()) quoted.emplace(h.trial_id(), h.attempt());
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& v : ack.verdicts()) {
    if (v.verdict() == v1::REPORT_VERDICT_ACCEPTED) continue;
    const auto attempt = quoted.find(v.trial_id());
    if (attempt == quoted.end()) continue;
    // A newer attempt of the same trial, leased while this batch was in flight, is not
    // what the verdict judged.
    auto it = slots_.find({v.trial_id(), attempt->second});
    if (it == slots_.end() || it->second->dropped) continue;
    it->second->dropped = true;
    it->second->cancel = true;
    ++stats_.dropped;
    Log(absl::StrCat("trial ", v.trial_id(), " attempt ", it->second->lease.attempt(),
                     v.verdict() == v1::REPORT_VERDICT_CANCELLED ? " cancelled" : " no longer ours (lease lost)",
                     "; stopping it"));
  }
}

void RemoteWorker::Impl::Finish(const End& end) {
  std::shared_ptr<Slot> slot;
  bool dropped, releasing;
  {
    std::lock_guard<std::mutex> lock(mu_);
    slot = slots_.at(end.key);
    dropped = slot->dropped;
    releasing = slot->releasing;
  }
  const v1::Lease& lease = slot->lease;
  auto call = [&](auto&& rpc_call) {
    auto backoff = kMinBackoff;
    int tries_while_stopping = 0;
    while (true) {
      grpc::ClientContext context;
      rpc::SetDeadline(context, options_.call_timeout);
      context.set_wait_for_ready(true);
      const grpc::Status s = rpc_call(context);
      if (s.ok() || !Retryable(s) || (hard_stop_ && *hard_stop_)) return s;
      if (Stopping() && ++tries_while_stopping > kTriesWhileStopping) return s;
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::duration_cast<std::chrono::milliseconds>(kMaxBackoff));
    }
  };
  grpc::Status status;
  const char* what = "";
  long WorkerStats::*counter = nullptr;
  if (dropped) {
    // The coordinator already moved on; nothing to say.
  } else if (end.result.ok()) {
    v1::CompleteTrialRequest request;
    request.set_trial_id(lease.trial_id());
    request.set_attempt(lease.attempt());
    request.set_worker_id(options_.worker_id);
    request.set_lease_secret(lease.lease_secret());
    request.set_build(spec::BuildDescription());
    *request.mutable_summary() = end.result->summary();
    v1::CompleteTrialResponse response;
    status = call([&](grpc::ClientContext& c) { return stub_->CompleteTrial(&c, request, &response); });
    what = "complete";
    counter = &WorkerStats::completed;
  } else {
    v1::FailTrialRequest request;
    request.set_trial_id(lease.trial_id());
    request.set_attempt(lease.attempt());
    request.set_worker_id(options_.worker_id);
    request.set_lease_secret(lease.lease_secret());
    const bool released = releasing && absl::IsCancelled(end.result.status());
    request.set_release(released);
    request.set_error(released ? "released by a stopping worker" : end.result.status().ToString());
    request.set_permanent(absl::IsInvalidArgument(end.result.status()));
    v1::FailTrialResponse response;
    status = call([&](grpc::ClientContext& c) { return stub_->FailTrial(&c, request, &response); });
    what = released ? "release" : "fail";
    counter = released ? &WorkerStats::released : &WorkerStats::failed;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (!status.ok())
    Log(absl::StrCat("trial ", lease.trial_id(), ": ", what, " refused: ", status.error_message()));
  else if (counter)
    ++(stats_.*counter);
  slots_.erase(end.key);
  cv_.notify_all();
}

void RemoteWorker::Impl::ReporterLoop() {
  auto last_flush = std::chrono::steady_clock::now();
  while (true) {
    v1::ReportBatch batch;
    std::vector<End> ends;
    {
      std::unique_lock<std::mutex> lock(mu_);
      while (!(epochs_.size() >= kFlushEpochs || !ends_.empty() || reporter_stop_)) {
        // The lease period is the coordinator's: known after the first lease, which
        // wakes this loop (a trial waiting for a thread sends no epochs, only these).
        const auto heartbeat_period = std::chrono::milliseconds(std::max<int64_t>(lease_ms_ / 3, 50));
        const auto now = std::chrono::steady_clock::now();
        const auto heartbeat_due = last_flush + heartbeat_period;
        if (now >= heartbeat_due || (!epochs_.empty() && now >= last_flush + kFlushInterval)) break;
        cv_.wait_until(lock, epochs_.empty() ? heartbeat_due : std::min(heartbeat_due, last_flush + kFlushInterval));
      }
      last_flush = std::chrono::steady_clock::now();
      if (reporter_stop_ && epochs_.empty() && ends_.empty() && slots_.empty()) break;
      if (hard_stop_ && *hard_stop_ && reporter_stop_) break;
      const int take = std::min<int>(kMaxEpochsPerBatch, int(epochs_.size()));
      for (int i = 0; i < take; ++i) {
        auto& e = epochs_.front();
        auto it = slots_.find({e.trial_id(), e.attempt()});
        if (it != slots_.end() && !it->second->dropped) *batch.add_epochs() = std::move(e);
        epochs_.pop_front();
      }
      // Ends wait until every epoch queued before them is in this batch.
      if (epochs_.empty())
        while (!ends_.empty()) {
          ends.push_back(std::move(ends_.front()));
          ends_.pop_front();
        }
      for (const auto& [key, slot] : slots_) {
        if (slot->dropped) continue;
        auto* h = batch.add_heartbeats();
        h->set_trial_id(key.first);
        h->set_attempt(slot->lease.attempt());
        h->set_lease_secret(slot->lease.lease_secret());
      }
      stats_.epochs_reported += batch.epochs_size();
    }
    batch.set_sequence(++sequence_);
    batch.set_worker_id(options_.worker_id);
    if (batch.epochs_size() > 0 || batch.heartbeats_size() > 0)
      if (!SendBatch(batch)) break;
    for (const End& end : ends) Finish(end);
  }
  CloseStream();
}

RemoteWorker::RemoteWorker(std::shared_ptr<grpc::Channel> channel, WorkerOptions options)
    : impl_(std::make_unique<Impl>(std::move(channel), std::move(options))) {}

RemoteWorker::~RemoteWorker() = default;

WorkerStats RemoteWorker::Run(const std::atomic<bool>& stop, const std::atomic<bool>* stop_now) {
  return impl_->Run(stop, stop_now);
}

}  // namespace actgrid::runner
