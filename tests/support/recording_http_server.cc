#include "support/recording_http_server.h"

#include <strings.h>
#include <sys/socket.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <thread>

namespace nimify::test_support {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = boost::asio::ip::tcp;

std::string RecordedRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0) return v;
  }
  return "";
}

struct RecordingHttpServer::Impl {
  struct Connection {
    std::shared_ptr<tcp::socket> socket;
    bool closed = false;  // guarded by mu; the serving thread closes it
    std::thread thread;
  };

  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::uint16_t port = 0;
  std::thread accept_thread;

  mutable std::mutex mu;  // guards everything below
  mutable std::condition_variable cv;
  bool stopping = false;
  std::vector<RecordedRequest> requests;
  std::map<std::string, ScriptedResponse, std::less<>> responses;
  std::map<std::string, std::deque<ScriptedResponse>, std::less<>> queued;
  std::map<std::string, std::function<ScriptedResponse(const RecordedRequest&)>, std::less<>>
      responders;
  std::vector<std::shared_ptr<Connection>> connections;

  void AcceptLoop() {
    for (;;) {
      auto socket = std::make_shared<tcp::socket>(io);
      beast::error_code ec;
      acceptor.accept(*socket, ec);
      std::lock_guard<std::mutex> lock(mu);
      if (stopping) return;
      if (ec) continue;
      auto conn = std::make_shared<Connection>();
      conn->socket = socket;
      conn->thread = std::thread([this, conn] { Serve(conn); });
      connections.push_back(conn);
    }
  }

  ScriptedResponse Choose(const RecordedRequest& req) {
    std::function<ScriptedResponse(const RecordedRequest&)> responder;
    {
      std::lock_guard<std::mutex> lock(mu);
      auto q = queued.find(req.path);
      if (q != queued.end() && !q->second.empty()) {
        ScriptedResponse r = std::move(q->second.front());
        q->second.pop_front();
        return r;
      }
      auto f = responders.find(req.path);
      if (f != responders.end()) {
        responder = f->second;
      } else {
        auto s = responses.find(req.path);
        if (s != responses.end()) return s->second;
        return ScriptedResponse{.status = 200, .body = "", .content_type = "text/plain"};
      }
    }
    return responder(req);
  }

  void Serve(const std::shared_ptr<Connection>& conn) {
    tcp::socket& socket = *conn->socket;
    beast::flat_buffer buffer;
    try {
      for (;;) {
        bhttp::request<bhttp::string_body> msg;
        beast::error_code ec;
        bhttp::read(socket, buffer, msg, ec);
        if (ec) break;
        RecordedRequest rec;
        rec.method = std::string(msg.method_string());
        rec.target = std::string(msg.target());
        const std::size_t q = rec.target.find('?');
        rec.path = rec.target.substr(0, q);
        if (q != std::string::npos) rec.query = rec.target.substr(q + 1);
        for (const auto& field : msg) {
          rec.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
        }
        rec.body = msg.body();
        {
          std::lock_guard<std::mutex> lock(mu);
          requests.push_back(rec);
        }
        cv.notify_all();
        ScriptedResponse answer = Choose(rec);
        {
          std::unique_lock<std::mutex> lock(mu);
          if (answer.never_answer) {
            cv.wait(lock, [&] { return stopping; });
          } else if (answer.delay.count() > 0) {
            cv.wait_for(lock, answer.delay, [&] { return stopping; });
          }
          if (stopping) break;
        }
        bhttp::response<bhttp::string_body> res;
        res.version(11);
        res.result(static_cast<unsigned>(answer.status));
        res.set(bhttp::field::content_type, answer.content_type);
        for (const auto& [k, v] : answer.headers) res.insert(k, v);
        res.body() = answer.body;
        res.keep_alive(msg.keep_alive());
        res.prepare_payload();
        bhttp::write(socket, res, ec);
        if (ec || !msg.keep_alive()) break;
      }
    } catch (const std::exception&) {
      // A malformed exchange ends the connection.
    }
    std::lock_guard<std::mutex> lock(mu);
    beast::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
    conn->closed = true;
  }
};

RecordingHttpServer::RecordingHttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<RecordingHttpServer>> RecordingHttpServer::Start() {
  auto impl = std::make_unique<Impl>();
  beast::error_code ec;
  const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::Unavailable("recording server: " + ec.message());
  impl->port = impl->acceptor.local_endpoint().port();
  Impl* raw = impl.get();
  impl->accept_thread = std::thread([raw] { raw->AcceptLoop(); });
  return std::unique_ptr<RecordingHttpServer>(new RecordingHttpServer(std::move(impl)));
}

RecordingHttpServer::~RecordingHttpServer() { Stop(); }

std::uint16_t RecordingHttpServer::port() const noexcept { return impl_->port; }

std::string RecordingHttpServer::url() const {
  return "http://127.0.0.1:" + std::to_string(impl_->port);
}

void RecordingHttpServer::SetResponse(std::string path, ScriptedResponse response) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->responses[std::move(path)] = std::move(response);
}

void RecordingHttpServer::QueueResponse(std::string path, ScriptedResponse response) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->queued[std::move(path)].push_back(std::move(response));
}

void RecordingHttpServer::SetResponder(
    std::string path, std::function<ScriptedResponse(const RecordedRequest&)> responder) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->responders[std::move(path)] = std::move(responder);
}

std::vector<RecordedRequest> RecordingHttpServer::requests() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->requests;
}

std::vector<RecordedRequest> RecordingHttpServer::RequestsTo(std::string_view path) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<RecordedRequest> out;
  for (const auto& r : impl_->requests) {
    if (r.path == path) out.push_back(r);
  }
  return out;
}

bool RecordingHttpServer::WaitForRequests(std::size_t n, std::chrono::milliseconds timeout,
                                          std::string_view path) const {
  std::unique_lock<std::mutex> lock(impl_->mu);
  return impl_->cv.wait_for(lock, timeout, [&] {
    std::size_t count = 0;
    for (const auto& r : impl_->requests) {
      if (path.empty() || r.path == path) ++count;
    }
    return count >= n;
  });
}

void RecordingHttpServer::ClearRequests() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->requests.clear();
}

void RecordingHttpServer::Stop() {
  std::vector<std::shared_ptr<Impl::Connection>> connections;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (impl_->stopping) return;
    impl_->stopping = true;
    // shutdown(2) wakes the blocking accept and reads on Linux.
    ::shutdown(impl_->acceptor.native_handle(), SHUT_RDWR);
    for (auto& c : impl_->connections) {
      if (!c->closed) ::shutdown(c->socket->native_handle(), SHUT_RDWR);
    }
  }
  impl_->cv.notify_all();
  if (impl_->accept_thread.joinable()) impl_->accept_thread.join();
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    connections = impl_->connections;
    // Connections accepted after the sweep above (none: the acceptor is down).
  }
  for (auto& c : connections) {
    if (c->thread.joinable()) c->thread.join();
  }
  beast::error_code ignored;
  impl_->acceptor.close(ignored);
}

}  // namespace nimify::test_support
