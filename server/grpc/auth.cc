// Bearer tokens and roles (see auth.h).
#include "server/grpc/auth.h"

#include <openssl/rand.h>
#include <openssl/sha.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/rpc/rpc.h"

namespace actgrid::server {
namespace {

constexpr size_t kMinTokenLength = 16;

std::string Sha256Hex(const std::string& text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned char b : digest) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

std::string RandomToken() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) std::abort();  // no entropy: nothing is safe
  static const char* kHex = "0123456789abcdef";
  std::string out = "internal-";
  for (unsigned char b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

bool Allows(const std::string& role, Permission permission) {
  if (role == "admin") return true;
  switch (permission) {
    case Permission::kRead: return role == "reader" || role == "submitter";
    case Permission::kSubmit: return role == "submitter";
    case Permission::kWork: return role == "worker";
  }
  return false;
}

const char* Needed(Permission permission) {
  switch (permission) {
    case Permission::kRead: return "reader, submitter or admin";
    case Permission::kSubmit: return "submitter or admin";
    case Permission::kWork: return "worker or admin";
  }
  return "admin";
}

}  // namespace

Authorizer::Authorizer() : internal_token_(RandomToken()) {}

absl::StatusOr<Authorizer> Authorizer::FromText(const std::string& text, const std::string& origin) {
  Authorizer auth;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    line = absl::StripAsciiWhitespace(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    std::vector<absl::string_view> fields = absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    const std::string where = absl::StrCat(origin, ":", number, ": ");
    if (fields.size() != 2)
      return absl::InvalidArgumentError(absl::StrCat(where, "expected \"ROLE TOKEN\""));
    const std::string role(fields[0]), token(fields[1]);
    if (role != "reader" && role != "submitter" && role != "worker" && role != "admin")
      return absl::InvalidArgumentError(
          absl::StrCat(where, "unknown role \"", role, "\"; roles: reader, submitter, worker, admin"));
    if (token.size() < kMinTokenLength)
      return absl::InvalidArgumentError(
          absl::StrCat(where, "token shorter than ", kMinTokenLength, " characters (e.g. openssl rand -hex 24)"));
    if (!auth.roles_.emplace(Sha256Hex(token), role).second)
      return absl::InvalidArgumentError(absl::StrCat(where, "this token is listed twice"));
  }
  if (auth.roles_.empty()) return absl::InvalidArgumentError(absl::StrCat(origin, ": no tokens"));
  auth.roles_.emplace(Sha256Hex(auth.internal_token_), "admin");
  return auth;
}

absl::StatusOr<Authorizer> Authorizer::FromFile(const std::string& path) {
  auto text = rpc::ReadFileText(path, "tokens file");
  if (!text.ok()) return text.status();
  return FromText(*text, path);
}

absl::Status Authorizer::CheckHeader(const std::string* header, Permission permission) const {
  if (!enabled()) return absl::OkStatus();
  if (header == nullptr)
    return absl::UnauthenticatedError(
        "this coordinator needs a bearer token (ACTGRID_TOKEN, ACTGRID_TOKEN_FILE or --token-file)");
  constexpr absl::string_view kBearer = "Bearer ";
  if (!absl::StartsWith(*header, kBearer))
    return absl::UnauthenticatedError("authorization is not \"Bearer TOKEN\"");
  // Tokens are looked up by their SHA-256, so the lookup's timing says nothing about them.
  const auto role = roles_.find(Sha256Hex(header->substr(kBearer.size())));
  if (role == roles_.end()) return absl::UnauthenticatedError("unknown token");
  if (!Allows(role->second, permission))
    return absl::PermissionDeniedError(absl::StrCat("a ", role->second, " token may not do this; it needs a ",
                                                    Needed(permission), " token"));
  return absl::OkStatus();
}

grpc::Status Authorizer::Check(const grpc::ServerContext* context, Permission permission) const {
  if (!enabled()) return grpc::Status::OK;
  const auto& metadata = context->client_metadata();
  const auto it = metadata.find("authorization");
  std::string header;
  if (it != metadata.end()) header.assign(it->second.data(), it->second.size());
  return rpc::ToGrpc(CheckHeader(it == metadata.end() ? nullptr : &header, permission));
}

std::map<std::string, int> Authorizer::Counts() const {
  std::map<std::string, int> counts;
  for (const auto& [hash, role] : roles_) ++counts[role];
  if (enabled()) --counts["admin"];  // the internal token
  if (counts["admin"] == 0) counts.erase("admin");
  return counts;
}

bool IsLoopback(const std::string& address) {
  std::string host = address.substr(0, address.rfind(':'));
  if (absl::StartsWith(host, "[") && absl::EndsWith(host, "]")) host = host.substr(1, host.size() - 2);
  if (absl::StartsWith(host, "ipv4:")) host = host.substr(5);
  return host == "localhost" || host == "::1" || absl::StartsWith(host, "127.");
}

}  // namespace actgrid::server
