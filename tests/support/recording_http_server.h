// A loopback HTTP/1.1 server for tests: listens on 127.0.0.1 (a free port),
// records every request and answers with a scripted status, body and delay
// per path.
//
//   auto server = RecordingHttpServer::Start().value();
//   server->SetResponse("/api/chat.postMessage", {.status = 200, .body = R"({"ok":true})"});
//   ... point a client at server->url() ...
//   ASSERT_TRUE(server->WaitForRequests(1, std::chrono::seconds(5)));
//   EXPECT_EQ(server->requests()[0].method, "POST");
#ifndef NIMIFY_TESTS_SUPPORT_RECORDING_HTTP_SERVER_H_
#define NIMIFY_TESTS_SUPPORT_RECORDING_HTTP_SERVER_H_

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

namespace nimify::test_support {

struct RecordedRequest {
  std::string method;
  std::string target;  // as sent: path and query
  std::string path;    // the target without the query
  std::string query;   // after '?', without it
  std::vector<std::pair<std::string, std::string>> headers;  // names as sent
  std::string body;
  // The first header of that name (case-insensitive), or "".
  std::string Header(std::string_view name) const;
};

struct ScriptedResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::chrono::milliseconds delay{0};  // wait this long before answering
  bool never_answer = false;           // keep the connection open, silent, until Stop()
};

// Thread safety: every method may be called from any thread. One thread
// accepts, one thread per connection serves (tests open few connections).
class RecordingHttpServer {
 public:
  // Listens on 127.0.0.1:0.
  static Result<std::unique_ptr<RecordingHttpServer>> Start();
  ~RecordingHttpServer();  // Stop()
  RecordingHttpServer(const RecordingHttpServer&) = delete;
  RecordingHttpServer& operator=(const RecordingHttpServer&) = delete;

  std::uint16_t port() const noexcept;
  std::string url() const;  // "http://127.0.0.1:<port>"

  // The answer for requests to `path` (query ignored) from now on. Paths with
  // no script get 200 with an empty body.
  void SetResponse(std::string path, ScriptedResponse response);
  // One-shot answers for `path`, used in order before the SetResponse one.
  void QueueResponse(std::string path, ScriptedResponse response);
  // Computes the answer (called on a connection thread).
  void SetResponder(std::string path,
                    std::function<ScriptedResponse(const RecordedRequest&)> responder);

  std::vector<RecordedRequest> requests() const;
  std::vector<RecordedRequest> RequestsTo(std::string_view path) const;
  // Waits until at least `n` requests (to `path` when not empty) were recorded.
  bool WaitForRequests(std::size_t n, std::chrono::milliseconds timeout,
                       std::string_view path = {}) const;
  void ClearRequests();

  // Closes the listener and every connection, ends silent waits. Idempotent.
  void Stop();

  struct Impl;

 private:
  explicit RecordingHttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace nimify::test_support

#endif  // NIMIFY_TESTS_SUPPORT_RECORDING_HTTP_SERVER_H_
