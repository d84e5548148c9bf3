// The Host rule of a token-less dashboard (see host_rule.h).
#include "server/http/host_rule.h"

#include <arpa/inet.h>

#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace actgrid::server::http {
namespace {

// Splits "host[:port]" / "[v6][:port]"; false when malformed.
bool Split(absl::string_view value, std::string* host, std::string* port) {
  value = absl::StripAsciiWhitespace(value);
  absl::string_view h, p;
  if (!value.empty() && value[0] == '[') {
    const size_t close = value.find(']');
    if (close == absl::string_view::npos) return false;
    h = value.substr(1, close - 1);
    const absl::string_view rest = value.substr(close + 1);
    if (!rest.empty() && rest[0] != ':') return false;
    p = rest.empty() ? rest : rest.substr(1);
    in6_addr addr;
    if (!inet_pton(AF_INET6, std::string(h).c_str(), &addr)) return false;
  } else {
    const size_t colon = value.find(':');
    h = value.substr(0, colon);
    p = colon == absl::string_view::npos ? absl::string_view() : value.substr(colon + 1);
    for (char c : h)
      if (!(absl::ascii_isalnum(c) || c == '.' || c == '-' || c == '_')) return false;
  }
  if (h.empty()) return false;
  for (char c : p)
    if (!absl::ascii_isdigit(c)) return false;
  *host = absl::AsciiStrToLower(h);
  if (host->size() > 1 && host->back() == '.') host->pop_back();
  *port = std::string(p);
  return true;
}

bool IsLoopbackHost(const std::string& host) {
  if (host == "localhost" || absl::EndsWith(host, ".localhost")) return true;
  in_addr v4;
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6;
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    if (std::memcmp(&v6, &in6addr_loopback, sizeof(v6)) == 0) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return false;
}

}  // namespace

std::string HostOf(absl::string_view host_header) {
  std::string host, port;
  return Split(host_header, &host, &port) ? host : "";
}

bool IsAllowedHost(const std::string* host_header, const std::vector<std::string>& allowed) {
  std::string host, port;
  if (!host_header || !Split(*host_header, &host, &port)) return false;
  if (IsLoopbackHost(host)) return true;
  for (const std::string& entry : allowed) {
    std::string name, entry_port;
    if (Split(entry, &name, &entry_port) && name == host && (entry_port.empty() || entry_port == port)) return true;
  }
  return false;
}

}  // namespace actgrid::server::http
