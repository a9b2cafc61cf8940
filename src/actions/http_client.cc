#include "actions/http_client.h"

#include <openssl/ssl.h>
#include <strings.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <ctime>
#include <exception>
#include <limits>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/mutex.h"
#include "common/thread_name.h"

namespace nimify::actions {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;

// ---- URLs ---------------------------------------------------------------------

std::string HttpUrl::HostHeader() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  const bool default_port = (scheme == "http" && port == 80) || (scheme == "https" && port == 443);
  if (!default_port) h += ":" + std::to_string(port);
  return h;
}

std::string HttpUrl::Origin() const { return scheme + "://" + HostHeader(); }

Result<HttpUrl> ParseHttpUrl(std::string_view url) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("bad URL \"" + std::string(url) + "\": " + std::string(why));
  };
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return bad("space or control character");
  }
  HttpUrl out;
  const std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return bad("not an absolute http(s) URL");
  std::string scheme(url.substr(0, scheme_end));
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (scheme != "http" && scheme != "https") return bad("scheme must be http or https");
  out.scheme = scheme;
  std::string_view rest = url.substr(scheme_end + 3);
  if (rest.find('#') != std::string_view::npos) return bad("fragments are not allowed");
  const std::size_t authority_end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, authority_end);
  std::string_view target =
      authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);
  if (authority.find('@') != std::string_view::npos) {
    return bad("user info in the URL is not allowed; use basic_auth");
  }
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unclosed [");
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("garbage after ]");
      port_text = after.substr(1);
    }
  } else {
    const std::size_t colon = authority.rfind(':');
    if (colon != std::string_view::npos) {
      out.host = std::string(authority.substr(0, colon));
      port_text = authority.substr(colon + 1);
    } else {
      out.host = std::string(authority);
    }
  }
  if (out.host.empty()) return bad("no host");
  std::transform(out.host.begin(), out.host.end(), out.host.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (port_text.empty()) {
    out.port = out.scheme == "https" ? 443 : 80;
  } else {
    unsigned long port = 0;
    for (char c : port_text) {
      if (c < '0' || c > '9') return bad("bad port");
      port = port * 10 + static_cast<unsigned long>(c - '0');
      if (port > 65535) return bad("bad port");
    }
    if (port == 0) return bad("bad port");
    out.port = static_cast<std::uint16_t>(port);
  }
  if (target.empty()) {
    out.target = "/";
  } else if (target.front() == '?') {
    out.target = "/" + std::string(target);
  } else {
    out.target = std::string(target);
  }
  return out;
}

std::string PercentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

bool IsSafeHeaderValue(std::string_view value) noexcept {
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

std::string HttpResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0) return v;
  }
  return "";
}

std::string_view HttpErrorName(HttpError error) noexcept {
  switch (error) {
    case HttpError::kNone: return "none";
    case HttpError::kInvalidRequest: return "invalid request";
    case HttpError::kResolve: return "DNS resolution failed";
    case HttpError::kConnect: return "connection failed";
    case HttpError::kTimeout: return "timeout";
    case HttpError::kTls: return "TLS failure";
    case HttpError::kIo: return "I/O error";
    case HttpError::kCancelled: return "cancelled";
  }
  return "unknown";
}

std::chrono::milliseconds ParseRetryAfter(std::string_view value, std::int64_t now_ms) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  if (value.empty()) return std::chrono::milliseconds(0);
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (value.size() > 9) return std::chrono::hours(24 * 365);
    return std::chrono::seconds(std::stoll(std::string(value)));
  }
  std::tm tm{};
  const std::string text(value);
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return std::chrono::milliseconds(0);
  const std::int64_t at_ms = static_cast<std::int64_t>(timegm(&tm)) * 1000;
  return std::chrono::milliseconds(std::max<std::int64_t>(0, at_ms - now_ms));
}

// ---- The client ---------------------------------------------------------------

namespace {
class Session;
}

// Thread safety: `mu` guards the fields after it. The rest are set up by the
// constructor; only the first Shutdown then touches `work` and `thread`.
struct HttpClient::Impl {
  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(io);
  ssl::context verifying{ssl::context::tls_client};
  ssl::context insecure{ssl::context::tls_client};
  std::thread thread;

  Mutex mu;
  bool stopped NIMIFY_GUARDED_BY(mu) = false;
  std::uint64_t next_id NIMIFY_GUARDED_BY(mu) = 1;
  std::unordered_map<std::uint64_t, std::weak_ptr<Session>> sessions NIMIFY_GUARDED_BY(mu);
};

namespace {

// One request from resolve to response. Runs only on the client's thread, so
// it needs no lock of its own.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(HttpClient::Impl* client, std::uint64_t id, HttpRequest request, HttpUrl url,
          HttpDone done)
      : client_(client),
        id_(id),
        request_(std::move(request)),
        url_(std::move(url)),
        done_(std::move(done)),
        resolver_(client->io),
        deadline_(client->io) {}

  void Start() {
    bhttp::request<bhttp::string_body>& req = message_;
    req.version(11);
    req.method_string(request_.method);
    req.target(url_.target);
    req.set(bhttp::field::host, url_.HostHeader());
    req.set(bhttp::field::user_agent, "nimify");
    for (const auto& [k, v] : request_.headers) req.insert(k, v);
    req.keep_alive(false);
    req.body() = request_.body;
    if (!request_.body.empty() || request_.method == "POST" || request_.method == "PUT" ||
        request_.method == "PATCH") {
      req.prepare_payload();
    }
    parser_.emplace();
    // The cap is enforced while reading (OnBody): Boost 1.74's parser
    // body_limit is unreliable (boost::none even fails every body).
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());

    started_ = std::chrono::steady_clock::now();
    deadline_.expires_after(request_.total_timeout);
    deadline_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->OnDeadline();
    });
    // An IP literal needs no lookup. The resolver would still run it on a
    // thread of its own and post the answer back: two thread hops that the
    // alert path measurably pays (docs/performance.md).
    beast::error_code literal_ec;
    const asio::ip::address literal = asio::ip::make_address(url_.host, literal_ec);
    if (!literal_ec) return Connect({tcp::endpoint(literal, url_.port)});
    resolver_.async_resolve(
        url_.host, std::to_string(url_.port),
        [self = shared_from_this()](beast::error_code ec, tcp::resolver::results_type results) {
          self->OnResolve(ec, std::move(results));
        });
  }

  // Posted by Shutdown.
  void Abort() { Finish(HttpError::kCancelled, "the HTTP client shut down"); }

 private:
  beast::tcp_stream& Lowest() { return tls_ ? beast::get_lowest_layer(*tls_) : *tcp_; }

  std::chrono::milliseconds Remaining() const {
    auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started_);
    return std::max(std::chrono::milliseconds(1), request_.total_timeout - elapsed);
  }

  void OnDeadline() {
    Finish(HttpError::kTimeout,
           "no complete answer within " + std::to_string(request_.total_timeout.count()) + "ms");
  }

  void OnResolve(beast::error_code ec, tcp::resolver::results_type results) {
    if (finished_) return;
    if (ec) return Finish(HttpError::kResolve, "resolving " + url_.host + ": " + ec.message());
    Connect(std::vector<tcp::endpoint>(results.begin(), results.end()));
  }

  // Tries the endpoints in order, as the resolver returned them.
  void Connect(const std::vector<tcp::endpoint>& endpoints) {
    if (url_.scheme == "https") {
      ssl::context& ctx = request_.tls_insecure_skip_verify ? client_->insecure : client_->verifying;
      tls_.emplace(client_->io, ctx);
    } else {
      tcp_.emplace(client_->io);
    }
    Lowest().expires_after(std::min(request_.connect_timeout, Remaining()));
    Lowest().async_connect(
        endpoints, [self = shared_from_this()](beast::error_code cec, const tcp::endpoint&) {
          self->OnConnect(cec);
        });
  }

  void OnConnect(beast::error_code ec) {
    if (finished_) return;
    if (ec == beast::error::timeout) {
      return Finish(HttpError::kTimeout, "connecting to " + url_.HostHeader() + " timed out after " +
                                             std::to_string(request_.connect_timeout.count()) + "ms");
    }
    if (ec) return Finish(HttpError::kConnect, "connecting to " + url_.HostHeader() + ": " + ec.message());
    Lowest().expires_never();  // the deadline timer bounds the rest
    if (!tls_) return Write(*tcp_);
    if (!request_.tls_insecure_skip_verify) {
      tls_->set_verify_mode(ssl::verify_peer);
      tls_->set_verify_callback(ssl::host_name_verification(url_.host));
    } else {
      tls_->set_verify_mode(ssl::verify_none);
    }
    if (!SSL_set_tlsext_host_name(tls_->native_handle(), url_.host.c_str())) {
      return Finish(HttpError::kTls, "cannot set TLS server name");
    }
    tls_->async_handshake(ssl::stream_base::client, [self = shared_from_this()](beast::error_code hec) {
      if (self->finished_) return;
      if (hec) return self->Finish(HttpError::kTls, "TLS handshake with " + self->url_.host + ": " + hec.message());
      self->Write(*self->tls_);
    });
  }

  template <class Stream>
  void Write(Stream& stream) {
    bhttp::async_write(stream, message_, [self = shared_from_this(), &stream](beast::error_code ec, std::size_t) {
      if (self->finished_) return;
      if (ec) return self->Finish(HttpError::kIo, "sending the request: " + ec.message());
      self->Read(stream);
    });
  }

  template <class Stream>
  void Read(Stream& stream) {
    bhttp::async_read_header(stream, buffer_, *parser_,
                             [self = shared_from_this(), &stream](beast::error_code ec, std::size_t) {
                               self->OnHeader(stream, ec);
                             });
  }

  template <class Stream>
  void OnHeader(Stream& stream, beast::error_code ec) {
    if (finished_) return;
    if (ec) return Finish(HttpError::kIo, "reading the answer: " + ec.message());
    const auto& msg = parser_->get();
    response_.status = static_cast<int>(msg.result_int());
    for (const auto& field : msg) {
      response_.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    if (parser_->is_done()) return Finish(HttpError::kNone, "");
    ReadBody(stream);
  }

  // Reads the body a chunk at a time, keeping at most max_response_bytes.
  template <class Stream>
  void ReadBody(Stream& stream) {
    parser_->get().body().data = chunk_;
    parser_->get().body().size = sizeof(chunk_);
    bhttp::async_read(stream, buffer_, *parser_,
                      [self = shared_from_this(), &stream](beast::error_code ec, std::size_t) {
                        self->OnBody(stream, ec);
                      });
  }

  template <class Stream>
  void OnBody(Stream& stream, beast::error_code ec) {
    if (finished_) return;
    if (ec == bhttp::error::need_buffer) ec = {};
    if (ec) return Finish(HttpError::kIo, "reading the answer: " + ec.message());
    const std::size_t got = sizeof(chunk_) - parser_->get().body().size;
    const std::size_t room = request_.max_response_bytes - response_.body.size();
    response_.body.append(chunk_, std::min(got, room));
    if (got > room) {
      response_.truncated = true;  // stop reading; the connection is closed
      return Finish(HttpError::kNone, "");
    }
    if (parser_->is_done()) return Finish(HttpError::kNone, "");
    ReadBody(stream);
  }

  void Finish(HttpError error, std::string message) {
    if (finished_) return;
    finished_ = true;
    beast::error_code ignored;
    deadline_.cancel();
    resolver_.cancel();
    if (tls_ || tcp_) Lowest().socket().close(ignored);
    {
      MutexLock lock(client_->mu);
      client_->sessions.erase(id_);
    }
    HttpResult result;
    result.error = error;
    result.message = std::move(message);
    if (error == HttpError::kNone) result.response = std::move(response_);
    HttpDone done = std::move(done_);
    done(std::move(result));
  }

  HttpClient::Impl* client_;
  std::uint64_t id_;
  HttpRequest request_;
  HttpUrl url_;
  HttpDone done_;
  tcp::resolver resolver_;
  asio::steady_timer deadline_;
  std::optional<beast::tcp_stream> tcp_;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_;
  beast::flat_buffer buffer_;
  bhttp::request<bhttp::string_body> message_;
  std::optional<bhttp::response_parser<bhttp::buffer_body>> parser_;
  char chunk_[16 * 1024];
  HttpResponse response_;
  std::chrono::steady_clock::time_point started_;
  bool finished_ = false;
};

}  // namespace

HttpClient::HttpClient() : impl_(std::make_shared<Impl>()) {
  beast::error_code ec;
  impl_->verifying.set_default_verify_paths(ec);  // without CA files every https check fails, clearly
  impl_->verifying.set_verify_mode(ssl::verify_peer);
  impl_->insecure.set_verify_mode(ssl::verify_none);
  // The thread holds the state alive, so destroying the client from one of
  // its own callbacks is safe (the thread is then detached, not joined).
  impl_->thread = std::thread([impl = impl_] {
    SetCurrentThreadName("nimify-http-out");
    for (;;) {
      try {
        impl->io.run();
        return;
      } catch (const std::exception&) {
        // A callback threw; keep serving the others.
      }
    }
  });
}

HttpClient::~HttpClient() { Shutdown(); }

void HttpClient::Shutdown() {
  std::vector<std::shared_ptr<Session>> live;
  {
    MutexLock lock(impl_->mu);
    if (impl_->stopped) return;
    impl_->stopped = true;
    for (auto& [id, weak] : impl_->sessions) {
      if (auto s = weak.lock()) live.push_back(std::move(s));
    }
  }
  for (auto& s : live) asio::post(impl_->io, [s] { s->Abort(); });
  impl_->work.reset();
  if (std::this_thread::get_id() == impl_->thread.get_id()) {
    impl_->thread.detach();
  } else if (impl_->thread.joinable()) {
    impl_->thread.join();
  }
}

void HttpClient::Send(HttpRequest request, HttpDone done) {
  auto fail = [&](HttpError error, std::string message) {
    HttpResult r;
    r.error = error;
    r.message = std::move(message);
    done(std::move(r));
  };
  Result<HttpUrl> url = ParseHttpUrl(request.url);
  if (!url.ok()) return fail(HttpError::kInvalidRequest, std::string(url.status().message()));
  if (request.method.empty() ||
      !std::all_of(request.method.begin(), request.method.end(),
                   [](char c) { return c >= 'A' && c <= 'Z'; })) {
    return fail(HttpError::kInvalidRequest, "bad HTTP method \"" + request.method + "\"");
  }
  for (const auto& [k, v] : request.headers) {
    if (k.empty() || !IsSafeHeaderValue(k) || k.find(':') != std::string::npos ||
        k.find(' ') != std::string::npos || !IsSafeHeaderValue(v)) {
      return fail(HttpError::kInvalidRequest, "header \"" + k + "\" has a bad name or value");
    }
  }
  std::shared_ptr<Session> session;
  bool stopped = false;
  {
    MutexLock lock(impl_->mu);
    stopped = impl_->stopped;
    if (!stopped) {
      const std::uint64_t id = impl_->next_id++;
      session = std::make_shared<Session>(impl_.get(), id, std::move(request), std::move(*url),
                                          std::move(done));
      impl_->sessions.emplace(id, session);
    }
  }
  // Outside mu: `done` may send again, or take locks of its own.
  if (stopped) return fail(HttpError::kCancelled, "the HTTP client shut down");
  asio::post(impl_->io, [session] { session->Start(); });
}

std::shared_ptr<HttpClient> HttpClient::Shared() {
  static Mutex mu;
  static std::weak_ptr<HttpClient> shared NIMIFY_GUARDED_BY(mu);
  MutexLock lock(mu);
  if (auto client = shared.lock()) return client;
  auto client = std::make_shared<HttpClient>();
  shared = client;
  return client;
}

}  // namespace nimify::actions
