// Who may call what: bearer tokens with roles, checked by every service handler
// through Authorizer::Check.
//
// A tokens file holds one token a line, "ROLE TOKEN" ('#' starts a comment):
//   reader     may read: grids, workers, every Analysis call
//   submitter  may read, submit and cancel grids
//   worker     may lease trials, report epochs, complete and fail trials
//   admin      may do everything
// Without a tokens file every call is allowed; the coordinator then listens on
// loopback only (see LoopbackOnly).
#ifndef ACTGRID_SERVER_GRPC_AUTH_H_
#define ACTGRID_SERVER_GRPC_AUTH_H_

#include <map>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"

namespace actgrid::server {

enum class Permission { kRead, kSubmit, kWork };

class Authorizer {
 public:
  // Open: every call allowed.
  Authorizer();
  // Parses a tokens file's text. InvalidArgument naming the line of an unknown role, a
  // token shorter than 16 characters, a token listed twice or a file without tokens.
  static absl::StatusOr<Authorizer> FromText(const std::string& text, const std::string& origin);
  static absl::StatusOr<Authorizer> FromFile(const std::string& path);

  bool enabled() const { return !roles_.empty(); }
  // OK when the call's bearer token has a role with `permission`; UNAUTHENTICATED
  // without a known token, PERMISSION_DENIED when its role lacks the permission.
  grpc::Status Check(const grpc::ServerContext* context, Permission permission) const;
  // The same check on an "authorization" header's value (null when there is none), for
  // transports other than gRPC: OK, Unauthenticated or PermissionDenied.
  absl::Status CheckHeader(const std::string* header, Permission permission) const;
  // A token with every permission, for the coordinator's own in-process channel.
  const std::string& internal_token() const { return internal_token_; }
  // Number of tokens by role, for the startup log.
  std::map<std::string, int> Counts() const;

 private:
  std::map<std::string, std::string> roles_;  // SHA-256 of the token (hex) -> role
  std::string internal_token_;
};

// Whether `address` ("host:port") binds only the loopback interface.
bool IsLoopback(const std::string& address);

}  // namespace actgrid::server

#endif  // ACTGRID_SERVER_GRPC_AUTH_H_
