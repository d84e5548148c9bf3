// Which names a dashboard without tokens answers to. Such a server trusts every caller
// that reaches it and so listens on loopback only; yet a web page from anywhere can reach
// it under a name of its own that resolves to 127.0.0.1 (DNS rebinding) and then read
// every grid. The Host header carries the name the browser used, so only loopback names
// are answered unless more are configured.
#ifndef ACTGRID_SERVER_HTTP_HOST_RULE_H_
#define ACTGRID_SERVER_HTTP_HOST_RULE_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace actgrid::server::http {

// The host of a Host header value ("name", "name:port", "[v6]", "[v6]:port"): in lower
// case, without brackets or a trailing dot. Empty when the value is malformed.
std::string HostOf(absl::string_view host_header);

// Whether a token-less server answers a request with this Host header (null when there
// is none, which is refused): "localhost" and names under ".localhost", 127.0.0.0/8 and
// ::1, at any port; or an entry of `allowed`, a name that matches at any port or a
// "name:port" that matches at that port only (case-insensitive).
bool IsAllowedHost(const std::string* host_header, const std::vector<std::string>& allowed);

}  // namespace actgrid::server::http

#endif  // ACTGRID_SERVER_HTTP_HOST_RULE_H_
