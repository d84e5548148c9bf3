// Helpers every gRPC user of actgrid shares: the one mapping between absl::Status and
// grpc::Status, deadlines on client calls, and channels to a coordinator address.
#ifndef ACTGRID_COMMON_RPC_RPC_H_
#define ACTGRID_COMMON_RPC_RPC_H_

#include <chrono>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"

namespace actgrid::rpc {

// The coordinator address used when none is given (ACTGRID_SERVER overrides it).
inline constexpr char kDefaultServer[] = "127.0.0.1:7070";

// Same code, same message (absl and gRPC share the canonical codes).
grpc::Status ToGrpc(const absl::Status& status);
absl::Status FromGrpc(const grpc::Status& status);

// Sets a deadline `timeout` from now on a client call.
void SetDeadline(grpc::ClientContext& context, std::chrono::milliseconds timeout);

// The address to reach: `flag` when given, else $ACTGRID_SERVER, else kDefaultServer.
std::string ServerAddress(const std::string& flag);

// An insecure channel to `address` with actgrid's message-size limits and keepalive.
std::shared_ptr<grpc::Channel> Connect(const std::string& address);

// Largest message either side accepts (a grid of 200,000 trials fits).
inline constexpr int kMaxMessageBytes = 256 << 20;

}  // namespace actgrid::rpc

#endif  // ACTGRID_COMMON_RPC_RPC_H_
