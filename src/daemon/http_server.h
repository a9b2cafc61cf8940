// A small HTTP/1.1 server on Boost.Beast, plain or over TLS: keep-alive, a fixed pool of I/O
// threads (one io_context each, connections spread round-robin), limits on
// headers, bodies, connections and the time a request may take to arrive, a
// router with method checks, and graceful shutdown. Handlers run on the I/O
// thread of their connection and are told its index, so per-thread state
// (an engine Producer) needs no lock.
#ifndef NIMIFY_DAEMON_HTTP_SERVER_H_
#define NIMIFY_DAEMON_HTTP_SERVER_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/config.h"
#include "daemon/metrics.h"
#include "nimify/status.h"

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace nimify::daemon {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // the target before '?', as sent
  std::string query;   // after '?', still URL-encoded
  std::string content_type;
  std::string content_encoding;
  std::string body;
  std::size_t worker = 0;  // the I/O thread, 0 .. threads-1
  std::string authorization;  // the Authorization header, for HttpServerOptions::authorize
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  static HttpResponse Json(int status, std::string body) {
    HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    return r;
  }
  static HttpResponse Text(int status, std::string body) {
    HttpResponse r;
    r.status = status;
    r.content_type = "text/plain; charset=utf-8";
    r.body = std::move(body);
    return r;
  }
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpServerOptions {
  std::string listen_address = "127.0.0.1:9095";  // host:port, [v6]:port or :port
  std::size_t threads = 2;
  RequestLimits limits;
  // Called after each request with the route's name ("other" when none matched).
  std::function<void(std::string_view handler, int status, double seconds)> observe;
  std::function<void(std::int64_t open_delta, bool refused)> on_connection;
  // Called when the server itself refuses a request over a limit (413, 431,
  // 429 for bodies in flight), and after a handler's 4xx answer (`response`
  // set; the caller may classify its message). From the I/O threads.
  std::function<void(std::optional<RefusedInput> reason, const HttpResponse* response)>
      on_refused;
  std::function<void(std::string_view message)> log_debug;
  // Called once a request matched a route and method, before its handler
  // (auth.h); a response refuses the request. Unset: everything is allowed.
  std::function<std::optional<HttpResponse>(const HttpRequest&, std::string_view route)> authorize;
  // Set: every connection speaks TLS (tls.h). The read timeout also bounds
  // the handshake: it runs from accept to the end of the first request.
  std::shared_ptr<boost::asio::ssl::context> tls;
};

// Thread safety: Handle() before Start() only; Start() and Stop() from one
// controlling thread; handlers run concurrently on the I/O threads.
class HttpServer {
 public:
  explicit HttpServer(HttpServerOptions options);
  ~HttpServer();  // Stop(0)
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Routes `path` (exactly, or every path below it when `prefix`) for the
  // given methods; `name` labels its metrics. Other methods get 405 with Allow.
  void Handle(std::string path, std::vector<std::string> methods, std::string name,
              HttpHandler handler, bool prefix = false);

  // Binds, listens and starts the I/O threads. kUnavailable when the address
  // cannot be bound; kInvalidArgument for a malformed address.
  Status Start();
  // The bound port (useful with port 0).
  std::uint16_t port() const;

  // New connections use `tls` (reloaded certificates); open ones keep theirs.
  // kFailedPrecondition when the server was started without TLS: switching
  // between HTTP and HTTPS needs a restart.
  Status SetTlsContext(std::shared_ptr<boost::asio::ssl::context> tls);
  bool tls_enabled() const;

  // Body bytes reserved by requests being read or handled
  // (limits.max_inflight_body_bytes); 0 before Start().
  std::uint64_t inflight_body_bytes() const;

  // Stops accepting, lets requests in progress finish for up to `deadline`,
  // then closes every connection and joins the threads. Idempotent.
  void Stop(std::chrono::milliseconds deadline);

  struct Impl;  // public so that the connection class in the .cc can name it

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace nimify::daemon

#endif  // NIMIFY_DAEMON_HTTP_SERVER_H_
