// A small asynchronous HTTP/1.1 client for the HTTP action handlers
// (Boost.Beast over Asio, OpenSSL for https). One request per connection:
// handlers talk to Slack, Statuspage, Alertmanager and model servers a few
// times per incident, so pooling would buy nothing and keep sockets open.
// An IP literal is connected to directly; a host name is looked up by Asio's
// resolver, which runs getaddrinfo on a thread of its own.
//
//   auto client = HttpClient::Shared();
//   HttpRequest req;
//   req.method = "POST";
//   req.url = "http://127.0.0.1:8000/v2/repository/models/resnet/load";
//   // `done` is called once, on the client's thread:
//   client->Send(std::move(req), [](HttpResult r) { ... });
#ifndef NIMIFY_ACTIONS_HTTP_CLIENT_H_
#define NIMIFY_ACTIONS_HTTP_CLIENT_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nimify/status.h"

namespace nimify::actions {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// An absolute http:// or https:// URL split for connecting.
struct HttpUrl {
  std::string scheme;  // "http" or "https"
  std::string host;    // without IPv6 brackets
  std::uint16_t port = 0;
  std::string target = "/";  // path and query, never empty
  // "scheme://host[:port]" with the port only when it is not the scheme's default.
  std::string Origin() const;
  // Host header value: host, plus ":port" when not the default.
  std::string HostHeader() const;
};

// kInvalidArgument for anything but an absolute http(s) URL with a host.
// Refuses user info ("user@host"), fragments, spaces and control characters.
Result<HttpUrl> ParseHttpUrl(std::string_view url);

// Percent-encodes everything but RFC 3986 unreserved characters.
std::string PercentEncode(std::string_view text);

// True when `value` holds no CR, LF or NUL (header injection).
bool IsSafeHeaderValue(std::string_view value) noexcept;

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  HttpHeaders headers;  // Host, Content-Length and User-Agent are set by the client
  std::string body;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds total_timeout{30000};  // DNS, connect, TLS, write and read together
  std::size_t max_response_bytes = 1u << 20;       // body bytes kept; the rest is dropped
  bool tls_insecure_skip_verify = false;
};

struct HttpResponse {
  int status = 0;
  HttpHeaders headers;
  std::string body;
  bool truncated = false;  // the body was longer than max_response_bytes
  // The first header of that name (case-insensitive), or "".
  std::string Header(std::string_view name) const;
};

enum class HttpError : std::uint8_t {
  kNone,
  kInvalidRequest,  // bad URL or header: permanent
  kResolve,         // DNS failure: retryable (DNS is often briefly wrong)
  kConnect,         // refused, unreachable
  kTimeout,         // connect or total timeout
  kTls,             // handshake or certificate verification failed
  kIo,              // the connection broke or the answer was not HTTP
  kCancelled,       // the client shut down
};
std::string_view HttpErrorName(HttpError error) noexcept;

struct HttpResult {
  HttpError error = HttpError::kNone;
  std::string message;  // empty when error == kNone
  HttpResponse response;  // valid when error == kNone
  bool ok() const noexcept { return error == HttpError::kNone; }
};

using HttpDone = std::function<void(HttpResult)>;

// Runs requests on one io_context with one thread of its own, so Send never
// blocks. Thread safety: Send and Shutdown may be called from any thread,
// concurrently; `done` runs on the client's thread and must not block.
class HttpClient {
 public:
  HttpClient();
  ~HttpClient();  // Shutdown()
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Calls `done` exactly once: with the response, or with the error.
  void Send(HttpRequest request, HttpDone done);

  // Cancels requests in flight (their `done` gets kCancelled) and stops the
  // thread. Later Sends fail with kCancelled. Idempotent.
  void Shutdown();

  // One client shared by every handler of the process while any holds it.
  static std::shared_ptr<HttpClient> Shared();

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

// "Retry-After" as seconds or an HTTP-date, relative to now_ms; 0 when absent
// or unparsable.
std::chrono::milliseconds ParseRetryAfter(std::string_view value, std::int64_t now_ms);

}  // namespace nimify::actions

#endif  // NIMIFY_ACTIONS_HTTP_CLIENT_H_
