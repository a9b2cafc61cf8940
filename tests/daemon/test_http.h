// A blocking HTTP/1.1 client on plain sockets for the daemon tests: it can
// also send what a well-behaved client would not (huge headers, partial
// requests), and every call is bounded in time.
#ifndef NIMIFY_TESTS_DAEMON_TEST_HTTP_H_
#define NIMIFY_TESTS_DAEMON_TEST_HTTP_H_

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>

namespace nimify::daemon::testing {

struct RawResponse {
  int status = 0;  // 0: no response (connection closed or timed out)
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

// Sends `request` as is and reads one response.
RawResponse SendRaw(std::uint16_t port, const std::string& request,
                    std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Sends `request` and returns every byte received until the server closes
// the connection (or `timeout`).
std::string SendAndReadAll(std::uint16_t port, const std::string& request,
                           std::chrono::milliseconds timeout = std::chrono::seconds(10));

// A connected socket that sends nothing (close it with CloseSocket), or -1.
int OpenIdleConnection(std::uint16_t port);
void CloseSocket(int fd);

RawResponse Get(std::uint16_t port, const std::string& target);
RawResponse Post(std::uint16_t port, const std::string& target, const std::string& body,
                 const std::string& content_type = "application/x-www-form-urlencoded",
                 const std::string& extra_headers = "");

// Connects, sends `partial`, and waits for the server to close the
// connection; returns how long that took, or -1 ms if it stayed open
// beyond `limit`.
std::chrono::milliseconds TimeUntilClosed(std::uint16_t port, const std::string& partial,
                                          std::chrono::milliseconds limit);

// %-encodes for a form body or a query string.
std::string FormEncode(const std::string& s);

// For the tests that run nimifyd as a process.
// A loopback port that was free a moment ago.
std::uint16_t FreePort();
// Polls `cond` every 100 ms until it holds or `limit` passes; its last answer.
bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds limit);
// The whole file, or "" if it cannot be read.
std::string ReadAll(const std::filesystem::path& p);

}  // namespace nimify::daemon::testing

#endif  // NIMIFY_TESTS_DAEMON_TEST_HTTP_H_
