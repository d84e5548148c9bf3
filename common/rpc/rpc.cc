// Status mapping, deadlines and channels (see rpc.h).
#include "common/rpc/rpc.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <future>
#include <sstream>

#include <google/protobuf/util/json_util.h>
#include <grpcpp/generic/generic_stub.h>

#include "absl/strings/ascii.h"
#include "absl/synchronization/mutex.h"
#include "absl/strings/str_cat.h"

namespace actgrid::rpc {

std::string StatusMessageForTheWire(absl::string_view message) {
  // The message travels percent-encoded in the grpc-message trailer: every byte outside
  // printable ASCII (and '%') takes three. Past gRPC's 8 KiB metadata limit the caller
  // would get "metadata size exceeds limit" instead of the answer, so the message is cut
  // well before, whatever the request echoed into it.
  constexpr size_t kMaxEncodedBytes = 6144;
  size_t encoded = 0, keep = 0;
  for (; keep < message.size(); ++keep) {
    const unsigned char c = static_cast<unsigned char>(message[keep]);
    const size_t cost = (c < 0x20 || c >= 0x7f || c == '%') ? 3 : 1;
    if (encoded + cost > kMaxEncodedBytes) break;
    encoded += cost;
  }
  if (keep == message.size()) return std::string(message);
  while (keep > 0 && (static_cast<unsigned char>(message[keep]) & 0xc0) == 0x80) --keep;  // whole characters
  return absl::StrCat(message.substr(0, keep), " ... (cut; ", message.size(), " bytes)");
}

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), StatusMessageForTheWire(status.message()));
}

std::string ProtoJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options).ok()) return "null";
  return json;
}

absl::Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

void SetDeadline(grpc::ClientContext& context, std::chrono::milliseconds timeout) {
  context.set_deadline(std::chrono::system_clock::now() + timeout);
}

std::string ServerAddress(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("ACTGRID_SERVER"); env && *env) return env;
  return kDefaultServer;
}

namespace {

class BearerInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit BearerInterceptor(const std::string& header) : header_(header) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA))
      methods->GetSendInitialMetadata()->emplace("authorization", header_);
    methods->Proceed();
  }

 private:
  const std::string& header_;  // owned by the factory, which outlives the channel's calls
};

class BearerFactory final : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit BearerFactory(std::string token) : header_("Bearer " + std::move(token)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(grpc::experimental::ClientRpcInfo*) override {
    return new BearerInterceptor(header_);
  }

 private:
  const std::string header_;
};

}  // namespace

absl::StatusOr<std::string> ReadFileText(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::StatusOr<ChannelAuth> ClientAuth(const std::string& token_file, bool tls, const std::string& ca_file) {
  ChannelAuth auth;
  auto read_token = [&](const std::string& path) -> absl::Status {
    auto text = ReadFileText(path, "token file");
    if (!text.ok()) return text.status();
    auth.token = std::string(absl::StripAsciiWhitespace(*text));
    if (auth.token.empty()) return absl::InvalidArgumentError(absl::StrCat("token file ", path, " is empty"));
    return absl::OkStatus();
  };
  if (!token_file.empty()) {
    if (auto st = read_token(token_file); !st.ok()) return st;
  } else if (const char* env = std::getenv("ACTGRID_TOKEN"); env && *env) {
    auth.token = std::string(absl::StripAsciiWhitespace(env));
  } else if (const char* file = std::getenv("ACTGRID_TOKEN_FILE"); file && *file) {
    if (auto st = read_token(file); !st.ok()) return st;
  }
  std::string ca = ca_file;
  if (ca.empty())
    if (const char* env = std::getenv("ACTGRID_TLS_CA"); env && *env) ca = env;
  auth.tls = tls || !ca.empty();
  if (!ca.empty()) {
    auto pem = ReadFileText(ca, "CA certificate file");
    if (!pem.ok()) return pem.status();
    auth.ca_pem = *std::move(pem);
  }
  return auth;
}

std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> BearerInterceptors(
    const std::string& token) {
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> factories;
  if (!token.empty()) factories.push_back(std::make_unique<BearerFactory>(token));
  return factories;
}

std::shared_ptr<grpc::Channel> Connect(const std::string& address, const ChannelAuth& auth) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  args.SetMaxSendMessageSize(kMaxMessageBytes);
  // A ping every 10 s, and a connection whose ping goes unanswered for 5 s is dead:
  // noticed within 15 s, well inside a lease (30 s by default). Idle streams (a long
  // watch, a worker's report stream between trials) stay open on these pings.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10'000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5'000);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // Reconnect quickly after a coordinator restart.
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2'000);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (auth.tls) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = auth.ca_pem;
    credentials = grpc::SslCredentials(ssl);
  }
  return grpc::experimental::CreateCustomChannelWithInterceptors(address, credentials, args,
                                                                 BearerInterceptors(auth.token));
}

void InitProcess() { absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore); }

absl::Status CheckHealth(const std::shared_ptr<grpc::Channel>& channel, const std::string& service,
                         std::chrono::milliseconds timeout) {
  // grpc.health.v1.HealthCheckRequest{string service = 1} and
  // HealthCheckResponse{ServingStatus status = 1}, encoded by hand: Debian's gRPC
  // ships the health service but not its .proto.
  if (service.size() > 127) return absl::InvalidArgumentError("health: service name too long");
  std::string request;
  if (!service.empty()) {
    request.push_back(0x0A);
    request.push_back(static_cast<char>(service.size()));
    request += service;
  }
  grpc::Slice slice(request);
  grpc::ByteBuffer request_buffer(&slice, 1);
  grpc::ByteBuffer response_buffer;
  grpc::ClientContext context;
  SetDeadline(context, timeout);
  grpc::GenericStub stub(channel);
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request_buffer,
                 &response_buffer, [&done](grpc::Status status) { done.set_value(std::move(status)); });
  const grpc::Status status = done.get_future().get();
  if (!status.ok()) return FromGrpc(status);
  std::vector<grpc::Slice> slices;
  if (!response_buffer.Dump(&slices).ok()) return absl::InternalError("health: unreadable response");
  std::string response;
  for (const grpc::Slice& s : slices) response.append(reinterpret_cast<const char*>(s.begin()), s.size());
  int serving = 0;  // UNKNOWN
  for (size_t i = 0; i < response.size();) {
    const uint8_t tag = static_cast<uint8_t>(response[i++]);
    if (tag != 0x08) return absl::InternalError("health: unexpected response field");
    uint64_t value = 0;
    for (int shift = 0; i < response.size() && shift < 64; shift += 7) {
      const uint8_t byte = static_cast<uint8_t>(response[i++]);
      value |= uint64_t(byte & 0x7F) << shift;
      if (!(byte & 0x80)) break;
    }
    serving = static_cast<int>(value);
  }
  static const char* const kNames[] = {"UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"};
  if (serving == 1) return absl::OkStatus();
  return absl::UnavailableError(
      absl::StrCat("health: ", serving >= 0 && serving < 4 ? kNames[serving] : "status " + std::to_string(serving)));
}

}  // namespace actgrid::rpc
