#include "daemon/http_server.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <exception>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>

#include "common/mutex.h"
#include "common/thread_name.h"
#include "daemon/prom_api.h"

namespace nimify::daemon {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

namespace {

struct Route {
  std::string path;
  std::vector<std::string> methods;
  std::string name;
  HttpHandler handler;
  bool prefix = false;
};

HttpResponse ErrorResponse(int status, std::string_view error_type, std::string_view message) {
  return HttpResponse::Json(status, ApiErrorBody(error_type, message));
}

}  // namespace

// Thread safety: as HttpServer's; tls_mu guards the TLS context a reload
// swaps, stop_mu serialises Stop.
struct HttpServer::Impl {
  explicit Impl(HttpServerOptions o) : options(std::move(o)), tls(options.tls) {
    if (options.threads == 0) options.threads = 1;
    for (std::size_t i = 0; i < options.threads; ++i) {
      contexts.push_back(std::make_unique<asio::io_context>(1));
    }
  }

  HttpServerOptions options;
  std::vector<Route> routes;
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  std::vector<std::thread> threads;
  std::optional<tcp::acceptor> acceptor;
  std::uint16_t bound_port = 0;
  std::size_t next_context = 0;  // used on contexts[0] only (accept loop)
  std::atomic<std::int64_t> open_connections{0};
  std::atomic<std::int64_t> busy{0};  // requests read but not yet answered
  // Content-Length (or max_body_bytes when chunked) of the requests whose
  // body is being read or handled (limits.max_inflight_body_bytes).
  std::atomic<std::uint64_t> inflight_body_bytes{0};
  std::atomic<bool> stopping{false};
  mutable Mutex tls_mu;
  std::shared_ptr<ssl::context> tls NIMIFY_GUARDED_BY(tls_mu);  // null: plain HTTP
  Mutex stop_mu;
  bool stopped NIMIFY_GUARDED_BY(stop_mu) = false;
  bool started = false;

  void Accept();
  HttpResponse Dispatch(HttpRequest& req, std::string* route_name);
  const Route* Match(std::string_view path) const;
  void Refused(std::optional<RefusedInput> reason, const HttpResponse* response) const {
    if (options.on_refused) options.on_refused(reason, response);
  }
};

namespace {

// The answer to a plain HTTP request on the TLS port (as Go's server gives).
const std::string& PlainHttpOnTlsReply() {
  static const std::string reply = [] {
    const std::string body = "Client sent an HTTP request to an HTTPS server.\n";
    return "HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
           "Content-Length: " +
           std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  }();
  return reply;
}

// One connection over `Stream` (beast::tcp_stream or TlsStream). Lives as
// long as an asynchronous operation holds it.
// Thread safety: touched only by the I/O thread of its io_context.
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

 public:
  Session(tcp::socket socket, HttpServer::Impl* server, std::size_t worker,
          std::shared_ptr<ssl::context> tls)
      : tls_(std::move(tls)),
        stream_(MakeStream(std::move(socket), tls_.get())),
        server_(server),
        worker_(worker) {}

  ~Session() {
    ReleaseBodyBytes();
    server_->open_connections.fetch_sub(1);
    if (server_->options.on_connection) server_->options.on_connection(-1, false);
  }

  void Start() {
    // One deadline from accept to the end of the first request, so a client
    // that stalls the handshake (slowloris on TLS) is cut off like a slow one.
    Socket().expires_after(server_->options.limits.read_timeout);
    if constexpr (kTls) {
      stream_.async_handshake(ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                self->OnHandshake(ec);
                              });
    } else {
      Read(/*new_deadline=*/false);
    }
  }

 private:
  static Stream MakeStream(tcp::socket socket, ssl::context* tls) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *tls);
    } else {
      return Stream(std::move(socket));
    }
  }

  beast::tcp_stream& Socket() { return beast::get_lowest_layer(stream_); }

  void OnHandshake(beast::error_code ec) {
    if (!ec) {
      handshake_done_ = true;
      Read(/*new_deadline=*/false);
      return;
    }
    if (server_->options.log_debug) {
      server_->options.log_debug("TLS handshake failed: " + ec.message());
    }
    if (ec.category() == asio::error::get_ssl_category() &&
        ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_HTTP_REQUEST) {
      // Plain HTTP: say so in plain HTTP, then close.
      asio::async_write(Socket(), asio::buffer(PlainHttpOnTlsReply()),
                        [self = this->shared_from_this()](beast::error_code, std::size_t) {
                          self->Close(false);
                        });
      return;
    }
    Close(false);
  }

  void Read(bool new_deadline) {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_->options.limits.max_header_bytes));
    parser_->body_limit(server_->options.limits.max_body_bytes);
    // One deadline for the whole request: a client that trickles bytes
    // (slowloris) is cut off when it passes, like an idle keep-alive one.
    if (new_deadline) Socket().expires_after(server_->options.limits.read_timeout);
    // The header first: the body's size is reserved against the bytes in
    // flight before any of it is read (Beast's string body allocates its
    // Content-Length up front).
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                              self->OnHeader(ec);
                            });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) {
      OnRead(ec);
      return;
    }
    const RequestLimits& limits = server_->options.limits;
    std::uint64_t want = 0;
    if (const auto length = parser_->content_length()) {
      want = *length;
    } else if (parser_->chunked()) {
      want = limits.max_body_bytes;
    }
    if (!ReserveBodyBytes(want)) {
      HttpResponse res = ErrorResponse(
          429, "unavailable",
          "too many request bytes in flight: this request's " + std::to_string(want) +
              " would pass the limit of " + std::to_string(limits.max_inflight_body_bytes) +
              " bytes being read or handled at once (limits.max_inflight_body_bytes); retry "
              "later");
      res.headers.emplace_back("Retry-After", "1");
      server_->Refused(RefusedInput::kInflightBytes, nullptr);
      const http::request<http::string_body>& msg = parser_->get();
      const Route* route =
          server_->Match(std::string_view(msg.target().data(), msg.target().size())
                             .substr(0, msg.target().find('?')));
      drain_after_reply_ = !parser_->is_done();
      Reply(std::move(res), false, route ? route->name : "other");
      return;
    }
    if (parser_->is_done()) {
      OnRead(ec);
      return;
    }
    // Beast reads at most the buffer's free capacity per call (and at least
    // 512 bytes). After a header, that is a few KiB: a 40 KB remote-write
    // body took 20 reads, each with its own epoll wake-up and timer reset.
    // The capacity stays with the connection for its next requests.
    if (want > RequestLimits::kReadBufferBytes / 8) {
      buffer_.reserve(static_cast<std::size_t>(
          std::min<std::uint64_t>(buffer_.size() + want, RequestLimits::kReadBufferBytes)));
    }
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code e, std::size_t) {
                       self->OnRead(e);
                     });
  }

  // Small bodies (query forms, silences) always pass, so that queries are
  // answered under a flood of large remote-write bodies.
  bool ReserveBodyBytes(std::uint64_t n) {
    if (n == 0) return true;
    const std::uint64_t before = server_->inflight_body_bytes.fetch_add(n);
    if (n > RequestLimits::kSmallBodyBytes &&
        before + n > server_->options.limits.max_inflight_body_bytes) {
      server_->inflight_body_bytes.fetch_sub(n);
      return false;
    }
    reserved_body_bytes_ = n;
    return true;
  }

  void ReleaseBodyBytes() {
    if (reserved_body_bytes_ == 0) return;
    server_->inflight_body_bytes.fetch_sub(reserved_body_bytes_);
    reserved_body_bytes_ = 0;
  }

  void OnRead(beast::error_code ec) {
    if (ec) {
      ReleaseBodyBytes();
      if (ec == http::error::header_limit) {
        server_->Refused(RefusedInput::kHeaderSize, nullptr);
        Reply(ErrorResponse(431, "bad_data", "request header fields too large"), false, "other");
      } else if (ec == http::error::body_limit) {
        server_->Refused(RefusedInput::kBodySize, nullptr);
        drain_after_reply_ = true;  // the client may be sending the body
        Reply(ErrorResponse(413, "bad_data",
                            "request body over the limit of " +
                                std::to_string(server_->options.limits.max_body_bytes) + " bytes"),
              false, "other");
      } else if (ec.category() == http::make_error_code(http::error::bad_target).category() &&
                 ec != http::error::end_of_stream && ec != http::error::partial_message) {
        Reply(ErrorResponse(400, "bad_data", "malformed HTTP request: " + ec.message()), false,
              "other");
      } else {
        Close(false);  // timeout (slow client), reset, end of stream
      }
      return;
    }
    server_->busy.fetch_add(1);
    counted_busy_ = true;
    const auto started = std::chrono::steady_clock::now();
    http::request<http::string_body> msg = parser_->release();
    HttpRequest req;
    req.method = std::string(msg.method_string());
    const std::string_view target(msg.target().data(), msg.target().size());
    const auto q = target.find('?');
    req.path = std::string(target.substr(0, q));
    if (q != std::string_view::npos) req.query = std::string(target.substr(q + 1));
    if (auto it = msg.find(http::field::content_type); it != msg.end()) {
      req.content_type = std::string(it->value());
    }
    if (auto it = msg.find(http::field::content_encoding); it != msg.end()) {
      req.content_encoding = std::string(it->value());
    }
    if (auto it = msg.find(http::field::authorization); it != msg.end()) {
      req.authorization = std::string(it->value());
    }
    req.body = std::move(msg.body());
    req.worker = worker_;
    std::string route_name;
    HttpResponse res;
    try {
      res = server_->Dispatch(req, &route_name);
    } catch (const std::exception& e) {
      res = ErrorResponse(500, "internal", std::string("handler failed: ") + e.what());
    } catch (...) {
      res = ErrorResponse(500, "internal", "handler failed");
    }
    ReleaseBodyBytes();  // the handler is done with the body
    req.body = std::string();
    if (res.status >= 400 && res.status < 500) server_->Refused(std::nullopt, &res);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (server_->options.observe) server_->options.observe(route_name, res.status, secs);
    const bool keep_alive = msg.keep_alive() && !server_->stopping.load();
    head_ = req.method == "HEAD";
    Reply(std::move(res), keep_alive, {});
  }

  void Reply(HttpResponse res, bool keep_alive, std::string_view observe_as) {
    if (!observe_as.empty() && server_->options.observe) {
      server_->options.observe(observe_as, res.status, 0);
    }
    auto msg = std::make_shared<http::response<http::string_body>>();
    msg->version(11);
    msg->result(static_cast<unsigned>(res.status));
    if (res.status != 204) msg->set(http::field::content_type, res.content_type);
    for (auto& [k, v] : res.headers) msg->set(k, v);
    msg->keep_alive(keep_alive);
    if (head_) {
      // HEAD: the headers of the GET answer, no body.
      msg->content_length(res.body.size());
      head_ = false;
    } else {
      msg->body() = std::move(res.body);
      msg->prepare_payload();
    }
    Socket().expires_after(server_->options.limits.read_timeout);
    http::async_write(stream_, *msg,
                      [self = this->shared_from_this(), msg, keep_alive](beast::error_code ec,
                                                                    std::size_t) {
                        self->OnWrite(ec, keep_alive);
                      });
  }

  void OnWrite(beast::error_code ec, bool keep_alive) {
    if (counted_busy_) {
      counted_busy_ = false;
      server_->busy.fetch_sub(1);
    }
    if (!ec && drain_after_reply_) {
      DrainAndClose();
      return;
    }
    if (ec || !keep_alive || server_->stopping.load()) {
      Close(/*graceful=*/!ec);
      return;
    }
    Read(/*new_deadline=*/true);
  }

  // After a refusal whose body was not read: closing at once with unread
  // bytes would reset the connection, and the client could lose the answer.
  // So stop sending, read and discard what the client still sends (into a
  // small buffer, for at most 2 s), then close.
  void DrainAndClose() {
    drain_after_reply_ = false;
    if (!drain_buffer_) {
      beast::error_code ignored;
      Socket().socket().shutdown(tcp::socket::shutdown_send, ignored);
      drain_buffer_ = std::make_unique<char[]>(kDrainBufferBytes);
      Socket().expires_after(std::min<std::chrono::milliseconds>(
          server_->options.limits.read_timeout, std::chrono::seconds(2)));
    }
    Socket().async_read_some(asio::buffer(drain_buffer_.get(), kDrainBufferBytes),
                             [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                               if (ec) {
                                 self->Close(false);
                               } else {
                                 self->DrainAndClose();
                               }
                             });
  }

  // `graceful`: we end a healthy connection, so TLS sends close_notify first
  // (bounded by a short deadline: the peer need not answer).
  void Close(bool graceful) {
    if constexpr (kTls) {
      if (graceful && handshake_done_ && !shutting_down_) {
        shutting_down_ = true;
        Socket().expires_after(std::min<std::chrono::milliseconds>(
            server_->options.limits.read_timeout, std::chrono::seconds(2)));
        stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {
          self->Close(false);
        });
        return;
      }
    }
    beast::error_code ignored;
    Socket().socket().shutdown(tcp::socket::shutdown_both, ignored);
    Socket().socket().close(ignored);
  }

  std::shared_ptr<ssl::context> tls_;  // before stream_, which refers to it
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpServer::Impl* server_;
  std::size_t worker_;
  static constexpr std::size_t kDrainBufferBytes = 4096;
  std::unique_ptr<char[]> drain_buffer_;  // set while draining a refused body
  std::uint64_t reserved_body_bytes_ = 0;  // counted in inflight_body_bytes
  bool drain_after_reply_ = false;
  bool counted_busy_ = false;
  bool head_ = false;  // the request being answered is a HEAD
  bool handshake_done_ = false;
  bool shutting_down_ = false;
};

}  // namespace

void HttpServer::Impl::Accept() {
  const std::size_t worker = next_context;
  next_context = (next_context + 1) % contexts.size();
  acceptor->async_accept(*contexts[worker], [this, worker](beast::error_code ec,
                                                          tcp::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted || stopping.load()) return;
      Accept();  // EMFILE and the like: keep serving the others
      return;
    }
    if (stopping.load()) return;
    if (static_cast<std::size_t>(open_connections.load()) >= options.limits.max_connections) {
      if (options.on_connection) options.on_connection(0, true);
      beast::error_code ignored;
      socket.close(ignored);
      Accept();
      return;
    }
    open_connections.fetch_add(1);
    if (options.on_connection) options.on_connection(1, false);
    std::shared_ptr<ssl::context> context;
    {
      MutexLock lock(tls_mu);
      context = tls;
    }
    // Start on the connection's own I/O thread.
    if (context) {
      auto session = std::make_shared<Session<TlsStream>>(std::move(socket), this, worker,
                                                          std::move(context));
      asio::post(*contexts[worker], [session] { session->Start(); });
    } else {
      auto session =
          std::make_shared<Session<beast::tcp_stream>>(std::move(socket), this, worker, nullptr);
      asio::post(*contexts[worker], [session] { session->Start(); });
    }
    Accept();
  });
}

const Route* HttpServer::Impl::Match(std::string_view path) const {
  for (const Route& r : routes) {
    if (r.prefix ? path.starts_with(r.path) && path.size() > r.path.size() : path == r.path) {
      return &r;
    }
  }
  return nullptr;
}

HttpResponse HttpServer::Impl::Dispatch(HttpRequest& req, std::string* route_name) {
  const Route* match = Match(req.path);
  if (match == nullptr) {
    *route_name = "other";
    return ErrorResponse(404, "not_found", "no handler for path " + req.path);
  }
  *route_name = match->name;
  const bool allowed = std::find(match->methods.begin(), match->methods.end(), req.method) !=
                       match->methods.end();
  if (!allowed) {
    std::string allow;
    for (const std::string& m : match->methods) allow += (allow.empty() ? "" : ", ") + m;
    HttpResponse res = ErrorResponse(405, "bad_data",
                                     "method " + req.method + " not allowed for " + req.path);
    res.headers.emplace_back("Allow", allow);
    return res;
  }
  if (options.authorize) {
    if (std::optional<HttpResponse> refused = options.authorize(req, match->name)) return *refused;
  }
  return match->handler(req);
}

HttpServer::HttpServer(HttpServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

HttpServer::~HttpServer() { Stop(std::chrono::milliseconds(0)); }

void HttpServer::Handle(std::string path, std::vector<std::string> methods, std::string name,
                        HttpHandler handler, bool prefix) {
  impl_->routes.push_back(
      Route{std::move(path), std::move(methods), std::move(name), std::move(handler), prefix});
}

namespace {

Status SplitHostPort(const std::string& address, std::string* host, std::string* port) {
  if (!address.empty() && address[0] == '[') {
    const auto close = address.find("]:");
    if (close == std::string::npos) {
      return Status::InvalidArgument("listen address \"" + address + "\": expected [host]:port");
    }
    *host = address.substr(1, close - 1);
    *port = address.substr(close + 2);
  } else {
    const auto colon = address.rfind(':');
    if (colon == std::string::npos || address.find(':') != colon) {
      return Status::InvalidArgument("listen address \"" + address + "\": expected host:port");
    }
    *host = address.substr(0, colon);
    *port = address.substr(colon + 1);
  }
  if (port->empty() || port->size() > 5 ||
      port->find_first_not_of("0123456789") != std::string::npos || std::stoi(*port) > 65535) {
    return Status::InvalidArgument("listen address \"" + address + "\": bad port");
  }
  if (host->empty()) *host = "0.0.0.0";
  return Status::Ok();
}

}  // namespace

Status HttpServer::Start() {
  Impl& s = *impl_;
  if (s.started) return Status::FailedPrecondition("server already started");
  std::string host, port;
  NIMIFY_RETURN_IF_ERROR(SplitHostPort(s.options.listen_address, &host, &port));
  beast::error_code ec;
  tcp::resolver resolver(*s.contexts[0]);
  auto results = resolver.resolve(host, port, tcp::resolver::passive, ec);
  if (ec || results.empty()) {
    return Status::InvalidArgument("listen address \"" + s.options.listen_address +
                                   "\": cannot resolve host: " + ec.message());
  }
  const tcp::endpoint endpoint = results.begin()->endpoint();
  s.acceptor.emplace(*s.contexts[0]);
  s.acceptor->open(endpoint.protocol(), ec);
  if (!ec) s.acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) s.acceptor->bind(endpoint, ec);
  if (!ec) s.acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    s.acceptor.reset();
    return Status::Unavailable("listen on " + s.options.listen_address + ": " + ec.message());
  }
  s.bound_port = s.acceptor->local_endpoint().port();
  s.started = true;
  s.Accept();
  for (auto& ctx : s.contexts) s.guards.push_back(asio::make_work_guard(*ctx));
  for (auto& ctx : s.contexts) {
    asio::io_context* c = ctx.get();
    s.threads.emplace_back([c, i = s.threads.size()] {
      SetCurrentThreadName("nimifyd-io-" + std::to_string(i));
      for (;;) {
        try {
          c->run();
          return;
        } catch (...) {
          // A handler threw past its own catch: keep the thread serving.
        }
      }
    });
  }
  return Status::Ok();
}

std::uint16_t HttpServer::port() const { return impl_->bound_port; }

Status HttpServer::SetTlsContext(std::shared_ptr<ssl::context> tls) {
  MutexLock lock(impl_->tls_mu);
  if (impl_->tls == nullptr || tls == nullptr) {
    return Status::FailedPrecondition("switching between HTTP and HTTPS needs a restart");
  }
  impl_->tls = std::move(tls);
  return Status::Ok();
}

bool HttpServer::tls_enabled() const {
  MutexLock lock(impl_->tls_mu);
  return impl_->tls != nullptr;
}

std::uint64_t HttpServer::inflight_body_bytes() const {
  return impl_->inflight_body_bytes.load(std::memory_order_relaxed);
}

void HttpServer::Stop(std::chrono::milliseconds deadline) {
  Impl& s = *impl_;
  MutexLock lock(s.stop_mu);
  if (s.stopped || !s.started) return;
  s.stopped = true;
  s.stopping.store(true);
  // The acceptor belongs to contexts[0]: close it there.
  std::promise<void> closed;
  auto closed_future = closed.get_future();
  asio::post(*s.contexts[0], [&s, &closed] {
    beast::error_code ignored;
    s.acceptor->close(ignored);
    closed.set_value();
  });
  closed_future.wait_for(std::chrono::seconds(5));
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (s.busy.load() > 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  for (auto& g : s.guards) g.reset();
  for (auto& ctx : s.contexts) ctx->stop();
  for (std::thread& t : s.threads) t.join();
  s.threads.clear();
  // Pending operations (idle connections) are destroyed with their handlers.
  s.acceptor.reset();
  for (auto& ctx : s.contexts) ctx->restart();
  for (auto& ctx : s.contexts) {
    // Destroys the handlers still queued, closing their sockets.
    ctx.reset(new asio::io_context(1));
  }
}

}  // namespace nimify::daemon
