// Coordinator (see coordinator.h).
#include "server/grpc/coordinator.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include "absl/strings/str_cat.h"
#include "common/rpc/rpc.h"

namespace actgrid::server {

absl::StatusOr<std::unique_ptr<Coordinator>> Coordinator::Start(const CoordinatorOptions& options) {
  std::unique_ptr<Coordinator> c(new Coordinator());
  c->auth_ = options.auth ? options.auth : std::make_shared<const Authorizer>();
  if (!options.listen.empty() && !c->auth_->enabled() && !IsLoopback(options.listen))
    return absl::InvalidArgumentError(absl::StrCat(
        "refusing to serve ", options.listen, " without tokens: anyone who reaches it could submit, read and "
        "report; give a tokens file (--tokens), or listen on a loopback address such as 127.0.0.1:7070"));
  if (options.tls_cert_pem.empty() != options.tls_key_pem.empty())
    return absl::InvalidArgumentError("TLS needs both a certificate and its key");
  if (!options.listen.empty() && c->auth_->enabled() && options.tls_cert_pem.empty() &&
      !IsLoopback(options.listen) && !options.allow_plaintext_tokens)
    return absl::InvalidArgumentError(absl::StrCat(
        "refusing to serve ", options.listen, " with tokens but without TLS: every call would carry its bearer "
        "token in plaintext, for anyone on the path to read and reuse; give --tls-cert and --tls-key, or "
        "--allow-plaintext-tokens when a layer you trust (a VPN, a service mesh) encrypts the traffic"));
  if (options.max_streams < 1 || options.max_worker_streams < 1)
    return absl::InvalidArgumentError("the stream caps must be at least 1");
  if (options.db_path != ":memory:") {
    // Two coordinators on one database would lease the same trials twice.
    auto lock = store::DatabaseLock::Acquire(options.db_path);
    if (!lock.ok()) return lock.status();
    c->db_lock_ = *std::move(lock);
  }
  store::StoreOptions store_options;
  store_options.path = options.db_path;
  store_options.max_bytes = options.max_db_bytes;
  auto store = store::Store::Open(store_options);
  if (!store.ok()) return store.status();
  c->store_ = *std::move(store);
  const scheduler::Clock* clock = options.clock ? options.clock : &c->clock_;
  c->scheduler_ = std::make_unique<scheduler::Scheduler>(c->store_.get(), clock, options.scheduler);
  if (auto s = c->scheduler_->Recover(); !s.ok()) return s;
  c->reader_streams_ =
      std::make_unique<StreamSlots>(options.max_streams, "WatchGrid and Export streams", "--max-streams");
  c->worker_streams_ = std::make_unique<StreamSlots>(options.max_worker_streams, "worker report streams",
                                                     "--max-worker-streams");
  c->grids_ = std::make_unique<GridsService>(c->scheduler_.get(), c->auth_.get(), c->reader_streams_.get(),
                                             options.parse_grid_file);
  c->workers_ = std::make_unique<WorkersService>(c->scheduler_.get(), c->auth_.get(), c->worker_streams_.get());
  c->analysis_ = std::make_unique<AnalysisService>(c->scheduler_.get(), c->auth_.get(), c->reader_streams_.get());

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  if (!options.listen.empty()) {
    std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
    if (!options.tls_cert_pem.empty()) {
      grpc::SslServerCredentialsOptions ssl;
      ssl.pem_key_cert_pairs.push_back({options.tls_key_pem, options.tls_cert_pem});
      credentials = grpc::SslServerCredentials(ssl);
    }
    builder.AddListeningPort(options.listen, credentials, &c->port_);
  }
  // Threads waiting for calls: gRPC's defaults (1 to 2) start and end a thread for
  // almost every call under load; 4 to 16 keep them (10-25% less CPU per trial in the
  // load benchmark).
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 4);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 16);
  // Every call holds a thread while it runs; the streams are capped above, and this
  // bounds the threads of everything else too (gRPC answers RESOURCE_EXHAUSTED past it).
  grpc::ResourceQuota quota("actgrid-coordinator");
  quota.SetMaxThreads(options.max_streams + options.max_worker_streams + 128);
  builder.SetResourceQuota(quota);
  builder.SetMaxReceiveMessageSize(rpc::kMaxMessageBytes);
  builder.SetMaxSendMessageSize(rpc::kMaxMessageBytes);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 5'000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 10'000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5'000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  builder.RegisterService(c->grids_.get());
  builder.RegisterService(c->workers_.get());
  builder.RegisterService(c->analysis_.get());
  c->server_ = builder.BuildAndStart();
  if (!c->server_ || (!options.listen.empty() && c->port_ == 0))
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.listen,
                                               " (address in use or not valid?)"));
  // The health service answers for the whole server ("") and for each service by name.
  if (grpc::HealthCheckServiceInterface* health = c->server_->GetHealthCheckService()) {
    for (const char* name : {"actgrid.v1.Grids", "actgrid.v1.Workers", "actgrid.v1.Analysis"})
      health->SetServingStatus(name, true);
  }
  c->ticker_ = std::thread([raw = c.get()] { raw->Tick(); });
  return c;
}

void Coordinator::Tick() {
  const auto period = std::chrono::milliseconds(
      std::clamp<int64_t>(scheduler_->options().lease_ms / 4, 50, 1000));
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    stop_cv_.wait_for(lock, period, [&] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    scheduler_->ExpireLeases();
    lock.lock();
  }
}

std::shared_ptr<grpc::Channel> Coordinator::InProcessChannel() {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(rpc::kMaxMessageBytes);
  args.SetMaxSendMessageSize(rpc::kMaxMessageBytes);
  if (!auth_->enabled()) return server_->InProcessChannel(args);
  return server_->experimental().InProcessChannelWithInterceptors(args, rpc::BearerInterceptors(auth_->internal_token()));
}

void Coordinator::Shutdown(std::chrono::milliseconds grace) {
  if (!server_) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  stop_cv_.notify_all();
  server_->Shutdown(std::chrono::system_clock::now() + grace);
  if (ticker_.joinable()) ticker_.join();
}

void Coordinator::Wait() { server_->Wait(); }

Coordinator::~Coordinator() {
  if (server_) {
    Shutdown();
    server_->Wait();
  }
}

}  // namespace actgrid::server
