// HTTP/1.1 request heads parsed and answer heads written (see http_message.h).
#include "server/http/http_message.h"

#include <zlib.h>

#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace actgrid::server::http {
namespace {

// RFC 9110's token characters: what a method and a header name are made of.
bool IsToken(absl::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s)
    if (!(absl::ascii_isalnum(c) || absl::string_view("!#$%&'*+-.^_`|~").find(char(c)) != absl::string_view::npos))
      return false;
  return true;
}

absl::string_view Reason(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 421: return "Misdirected Request";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 499: return "Client Closed Request";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

Refusal BadRequest(std::string message) { return {400, absl::InvalidArgumentError(std::move(message))}; }

}  // namespace

const std::string* HttpRequest::Header(absl::string_view name) const {
  for (const auto& [key, value] : headers)
    if (key == name) return &value;
  return nullptr;
}

bool HttpRequest::KeepAlive() const {
  bool close = false, keep = false;
  if (const std::string* connection = Header("connection"))
    for (absl::string_view option : absl::StrSplit(*connection, ',')) {
      const std::string word = absl::AsciiStrToLower(absl::StripAsciiWhitespace(option));
      close = close || word == "close";
      keep = keep || word == "keep-alive";
    }
  return !close && (minor_version >= 1 || keep);
}

bool AcceptsGzip(const HttpRequest& request) {
  const std::string* accept = request.Header("accept-encoding");
  if (!accept) return false;
  for (absl::string_view coding : absl::StrSplit(*accept, ',')) {
    std::vector<absl::string_view> parts = absl::StrSplit(coding, ';');
    if (!absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(parts[0]), "gzip")) continue;
    if (parts.size() > 1) {  // "gzip;q=0" refuses it
      const absl::string_view q = absl::StripAsciiWhitespace(parts[1]);
      if (absl::StartsWith(q, "q=") && q.substr(2).find_first_not_of("0.") == absl::string_view::npos) return false;
    }
    return true;
  }
  return false;
}

absl::StatusOr<std::string> Gzip(absl::string_view data) {
  z_stream z{};
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return absl::InternalError("zlib: deflateInit2 failed");
  std::string out(deflateBound(&z, uLong(data.size())), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = uInt(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = uInt(out.size());
  const int done = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (done != Z_STREAM_END) return absl::InternalError("zlib: deflate did not finish");
  return out;
}

void CompressFor(const HttpRequest& request, HttpResponse* response) {
  const absl::string_view type = response->content_type;
  if (response->stream || response->body.size() < 1024 || request.method == "HEAD" ||
      !(absl::StartsWith(type, "text/") || absl::StartsWith(type, "application/json")))
    return;
  for (const auto& [name, value] : response->headers)
    if (absl::EqualsIgnoreCase(name, "Content-Encoding")) return;
  response->SetHeader("Vary", "Accept-Encoding");
  if (!AcceptsGzip(request)) return;
  auto gzipped = Gzip(response->body);
  if (!gzipped.ok()) return;  // sent as it is
  response->body = *std::move(gzipped);
  response->SetHeader("Content-Encoding", "gzip");
}

int HttpStatusOf(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk: return 200;
    case absl::StatusCode::kCancelled: return 499;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange: return 400;
    case absl::StatusCode::kDeadlineExceeded: return 504;
    case absl::StatusCode::kNotFound: return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted: return 409;
    case absl::StatusCode::kPermissionDenied: return 403;
    case absl::StatusCode::kUnauthenticated: return 401;
    case absl::StatusCode::kResourceExhausted: return 429;
    case absl::StatusCode::kUnimplemented: return 501;
    case absl::StatusCode::kUnavailable: return 503;
    default: return 500;
  }
}

std::string ErrorJson(const absl::Status& status) {
  std::string message;
  for (unsigned char c : status.message()) {
    if (c == '"' || c == '\\') {
      message += '\\';
      message += char(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      message += buf;
    } else {
      message += char(c);
    }
  }
  return absl::StrCat("{\"code\": ", int(status.code()), ", \"status\": \"", absl::StatusCodeToString(status.code()),
                      "\", \"message\": \"", message, "\"}");
}

HttpResponse ErrorResponse(const absl::Status& status, int http_status) {
  HttpResponse response;
  response.status = http_status ? http_status : HttpStatusOf(status.code());
  response.content_type = "application/json";
  response.SetHeader("Cache-Control", "no-store");
  response.body = ErrorJson(status) + "\n";
  return response;
}

size_t FindHeadEnd(absl::string_view data, size_t from) {
  // The blank line is "\n\n" or "\n\r\n"; look from just before `from` so a line end
  // split across two reads is found.
  for (size_t i = from > 2 ? from - 2 : 0; i < data.size(); ++i) {
    if (data[i] != '\n') continue;
    if (i + 1 < data.size() && data[i + 1] == '\n') return i + 2;
    if (i + 2 < data.size() && data[i + 1] == '\r' && data[i + 2] == '\n') return i + 3;
  }
  return absl::string_view::npos;
}

std::optional<Refusal> ParseRequestHead(absl::string_view head, HttpRequest* request, uint64_t* content_length) {
  std::vector<absl::string_view> lines = absl::StrSplit(head, '\n');
  for (auto& line : lines) absl::ConsumeSuffix(&line, "\r");
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  if (lines.empty()) return BadRequest("an empty request");

  // METHOD SP TARGET SP HTTP/1.x
  const std::vector<absl::string_view> parts = absl::StrSplit(lines[0], ' ');
  if (parts.size() != 3 || !IsToken(parts[0]) || parts[1].empty())
    return BadRequest("the request line is not \"METHOD TARGET HTTP/1.1\"");
  if (parts[2] == "HTTP/1.1") {
    request->minor_version = 1;
  } else if (parts[2] == "HTTP/1.0") {
    request->minor_version = 0;
  } else if (absl::StartsWith(parts[2], "HTTP/")) {
    return Refusal{505, absl::UnimplementedError(absl::StrCat(parts[2], " is not served; use HTTP/1.1"))};
  } else {
    return BadRequest("the request line is not \"METHOD TARGET HTTP/1.1\"");
  }
  request->method = std::string(parts[0]);
  const absl::string_view target = parts[1];
  const size_t question = target.find('?');
  request->path = std::string(target.substr(0, question));
  request->query = question == absl::string_view::npos ? "" : std::string(target.substr(question + 1));
  if (request->path.empty() || request->path[0] != '/') return BadRequest("the request target is not a path");

  request->headers.clear();
  for (size_t i = 1; i < lines.size(); ++i) {
    const absl::string_view line = lines[i];
    const size_t colon = line.find(':');
    // A line folded onto the previous one (obsolete) or a name with spaces is refused.
    if (colon == absl::string_view::npos || !IsToken(line.substr(0, colon)))
      return BadRequest(absl::StrCat("header line ", i, " is not \"Name: value\""));
    request->headers.emplace_back(absl::AsciiStrToLower(line.substr(0, colon)),
                                  std::string(absl::StripAsciiWhitespace(line.substr(colon + 1))));
  }

  *content_length = 0;
  if (request->Header("transfer-encoding"))
    return Refusal{411, absl::InvalidArgumentError(
                            "request bodies are not accepted chunked (Transfer-Encoding); send Content-Length")};
  bool seen = false;
  for (const auto& [name, value] : request->headers) {
    if (name != "content-length") continue;
    uint64_t n = 0;
    if (value.empty() || value.find_first_not_of("0123456789") != std::string::npos || value.size() > 18 ||
        !absl::SimpleAtoi(value, &n) || (seen && n != *content_length))
      return BadRequest(absl::StrCat("Content-Length \"", value, "\" is not one byte count"));
    *content_length = n;
    seen = true;
  }
  return std::nullopt;
}

std::string ResponseHead(const HttpResponse& response, bool keep_alive, bool chunked) {
  std::string head = absl::StrCat("HTTP/1.1 ", response.status, " ", Reason(response.status), "\r\n");
  if (!response.content_type.empty()) absl::StrAppend(&head, "Content-Type: ", response.content_type, "\r\n");
  for (const auto& [name, value] : response.headers) absl::StrAppend(&head, name, ": ", value, "\r\n");
  if (chunked) {
    head += "Transfer-Encoding: chunked\r\n";
  } else if (!response.stream && response.status != 204 && response.status >= 200) {
    absl::StrAppend(&head, "Content-Length: ", response.body.size(), "\r\n");
  }
  if (!keep_alive) head += "Connection: close\r\n";
  head += "\r\n";
  return head;
}

std::string Chunk(absl::string_view data) {
  char size[24];
  std::snprintf(size, sizeof(size), "%zx\r\n", data.size());
  return absl::StrCat(size, data, "\r\n");
}

}  // namespace actgrid::server::http
