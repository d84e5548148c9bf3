// Helpers every gRPC user of actgrid shares: the one mapping between absl::Status and
// grpc::Status, deadlines on client calls, and channels to a coordinator address.
#ifndef ACTGRID_COMMON_RPC_RPC_H_
#define ACTGRID_COMMON_RPC_RPC_H_

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <google/protobuf/message.h>
#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace actgrid::rpc {

// The coordinator address used when none is given (ACTGRID_SERVER overrides it).
inline constexpr char kDefaultServer[] = "127.0.0.1:7070";

// `message` as a status message may travel: cut (at a character boundary, saying how
// long it was) so that it fits gRPC's metadata limit once percent-encoded.
std::string StatusMessageForTheWire(absl::string_view message);

// Same code, same message (absl and gRPC share the canonical codes).
grpc::Status ToGrpc(const absl::Status& status);
absl::Status FromGrpc(const grpc::Status& status);

// A message in the protobuf JSON mapping as actgrid writes it everywhere (the HTTP API,
// reports, JSON lines): the .proto field names, every field printed, 64-bit integers as
// strings, NaN as "NaN". "null" for the (never expected) message that cannot be printed.
std::string ProtoJson(const google::protobuf::Message& message);

// Sets a deadline `timeout` from now on a client call.
void SetDeadline(grpc::ClientContext& context, std::chrono::milliseconds timeout);

// The address to reach: `flag` when given, else $ACTGRID_SERVER, else kDefaultServer.
std::string ServerAddress(const std::string& flag);

// How a client proves who it is and checks whom it talks to.
struct ChannelAuth {
  std::string token;   // sent as "authorization: Bearer <token>" with every call; empty = none
  bool tls = false;    // TLS; the coordinator's certificate is checked against `ca_pem`
  std::string ca_pem;  // PEM CA certificates; empty = the system's roots
};

// A client's credentials from its flags and environment, never from a token on the
// command line: the token is read from `token_file` when given, else taken from
// $ACTGRID_TOKEN, else read from the file named by $ACTGRID_TOKEN_FILE. TLS is on
// with `tls`, or when a CA file is given (`ca_file`, else $ACTGRID_TLS_CA).
// Errors: InvalidArgument naming a file that cannot be read or holds no token.
absl::StatusOr<ChannelAuth> ClientAuth(const std::string& token_file, bool tls, const std::string& ca_file);

// The contents of a secret or certificate file (a token file without its surrounding
// whitespace). InvalidArgument naming `what` and the file when it cannot be read.
absl::StatusOr<std::string> ReadFileText(const std::string& path, const std::string& what);

// Client interceptors that add the bearer token to every call (none when empty).
std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> BearerInterceptors(
    const std::string& token);

// A channel to `address` with actgrid's message-size limits and keepalive, insecure
// unless `auth` asks for TLS, carrying `auth`'s token.
std::shared_ptr<grpc::Channel> Connect(const std::string& address, const ChannelAuth& auth = {});

// Asks the standard gRPC health service (grpc.health.v1.Health/Check) at the other end
// of `channel` whether `service` ("" = the whole server) is serving. OK when SERVING;
// Unavailable naming the status it reported otherwise; the call's error when it fails.
// Needs no token: the health service is open to every caller.
absl::Status CheckHealth(const std::shared_ptr<grpc::Channel>& channel, const std::string& service,
                         std::chrono::milliseconds timeout);

// Call first thing in main() of every program that uses gRPC. Debian's abseil is
// built without NDEBUG, which turns on absl::Mutex's deadlock detection: a graph of
// lock orders updated on every lock gRPC takes (a tenth of a busy client's CPU).
// This turns it off, as release builds of abseil have it.
void InitProcess();

// Largest message either side accepts (a grid of 200,000 trials fits).
inline constexpr int kMaxMessageBytes = 256 << 20;

}  // namespace actgrid::rpc

#endif  // ACTGRID_COMMON_RPC_RPC_H_
