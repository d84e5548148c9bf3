// HTTP/1.1 messages as the dashboard's server sees them: a parsed request, an answer
// (fixed or streamed), the parser of request heads, the writer of answer heads, the JSON
// error body every refusal carries, and gzip for answers. No I/O here.
#ifndef ACTGRID_SERVER_HTTP_HTTP_MESSAGE_H_
#define ACTGRID_SERVER_HTTP_HTTP_MESSAGE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace actgrid::server::http {

struct HttpRequest {
  std::string method;                                        // as sent: "GET", "POST", ...
  std::string path;                                          // the target up to '?'
  std::string query;                                         // after '?', undecoded
  int minor_version = 1;                                     // HTTP/1.minor_version
  std::vector<std::pair<std::string, std::string>> headers;  // names in lower case, in order
  std::string body;
  std::string peer;  // the client's IP address

  // The value of the first header called `name` (lower case), or null.
  const std::string* Header(absl::string_view name) const;
  // Whether the client wants the connection kept after the answer (HTTP/1.1 unless
  // "Connection: close"; HTTP/1.0 only with "Connection: keep-alive").
  bool KeepAlive() const;
};

// Where a streamed answer's body goes.
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  // Sends `data` now (an empty one sends nothing). False once the client is gone or took
  // too long to read; the stream should end then.
  virtual bool Write(absl::string_view data) = 0;
  // False when the client has closed the connection.
  virtual bool Alive() = 0;
};

struct HttpResponse {
  int status = 200;
  std::string content_type;                                  // empty: no Content-Type
  std::vector<std::pair<std::string, std::string>> headers;  // more headers, as given
  std::string body;
  // When set the answer is a stream: its head is sent, then this runs once on the
  // worker that serves the request and writes the body through the sink (chunked for
  // HTTP/1.1 clients). Resources it holds are released when the response is destroyed.
  std::function<void(StreamSink&)> stream;

  void SetHeader(std::string name, std::string value) { headers.emplace_back(std::move(name), std::move(value)); }
};

// Whether the client takes gzip-encoded answers (Accept-Encoding).
bool AcceptsGzip(const HttpRequest& request);
// `data` in gzip's format; Internal when zlib fails.
absl::StatusOr<std::string> Gzip(absl::string_view data);
// Encodes a fixed answer of a text type with gzip when the client takes it and it is
// worth it (1 KiB or more), unless it is encoded already.
void CompressFor(const HttpRequest& request, HttpResponse* response);

// The HTTP status gRPC's code maps to (google.rpc's table).
int HttpStatusOf(absl::StatusCode code);
// {"code": 3, "status": "INVALID_ARGUMENT", "message": "..."}, escaped as JSON.
std::string ErrorJson(const absl::Status& status);
// An answer with ErrorJson(status) as its body, "Cache-Control: no-store", and
// `http_status` (HttpStatusOf(status.code()) when 0).
HttpResponse ErrorResponse(const absl::Status& status, int http_status = 0);

// A request refused before any handler sees it: the answer's status and its error.
struct Refusal {
  int http_status;
  absl::Status status;
};

// Parses a request head (the request line and headers up to the blank line that ends
// them; lines end in CRLF or LF) into `request` and the body length it announces into
// `content_length`. A refusal for a malformed head (400), a body sent chunked (411), or
// an HTTP version other than 1.0 and 1.1 (505).
std::optional<Refusal> ParseRequestHead(absl::string_view head, HttpRequest* request, uint64_t* content_length);

// Where the blank line that ends a request head ends in `data` (one past its last
// byte), looking from `from`; npos when it has not arrived.
size_t FindHeadEnd(absl::string_view data, size_t from);

// The head of `response` (status line, headers, blank line). A fixed answer gets its
// Content-Length; `chunked` announces a chunked body instead; `keep_alive` false adds
// "Connection: close".
std::string ResponseHead(const HttpResponse& response, bool keep_alive, bool chunked);
// `data` framed as one chunk of a chunked body; the body ends with kLastChunk.
std::string Chunk(absl::string_view data);
inline constexpr absl::string_view kLastChunk = "0\r\n\r\n";

}  // namespace actgrid::server::http

#endif  // ACTGRID_SERVER_HTTP_HTTP_MESSAGE_H_
