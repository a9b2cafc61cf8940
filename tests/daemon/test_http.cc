#include "daemon/test_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace nimify::daemon::testing {
namespace {

int Connect(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool SendAll(int fd, const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

// Waits for readability up to the deadline; false on timeout.
bool WaitReadable(int fd, std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return false;
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(left.count())) > 0;
}

bool ParseResponse(const std::string& data, RawResponse* out) {
  const auto end = data.find("\r\n\r\n");
  if (end == std::string::npos) return false;
  const std::string head = data.substr(0, end);
  if (head.size() < 12 || head.compare(0, 5, "HTTP/") != 0) return false;
  out->status = std::stoi(head.substr(9, 3));
  std::size_t pos = head.find("\r\n");
  out->headers.clear();
  while (pos != std::string::npos && pos < head.size()) {
    const std::size_t next = head.find("\r\n", pos + 2);
    const std::string line = head.substr(pos + 2, next == std::string::npos ? std::string::npos
                                                                            : next - pos - 2);
    const auto colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(value.begin());
      out->headers[name] = value;
    }
    pos = next;
  }
  std::size_t length = 0;
  if (auto it = out->headers.find("content-length"); it != out->headers.end()) {
    length = std::stoul(it->second);
  }
  if (data.size() < end + 4 + length) return false;
  out->body = data.substr(end + 4, length);
  return true;
}

}  // namespace

RawResponse SendRaw(std::uint16_t port, const std::string& request,
                    std::chrono::milliseconds timeout) {
  RawResponse res;
  const int fd = Connect(port);
  if (fd < 0) return res;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // The server may answer (413, 431) before the whole request is sent.
  (void)SendAll(fd, request);
  std::string data;
  char buf[65536];
  while (WaitReadable(fd, deadline)) {
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    data.append(buf, static_cast<std::size_t>(n));
    if (ParseResponse(data, &res)) break;
  }
  if (res.status == 0) (void)ParseResponse(data, &res);
  ::close(fd);
  return res;
}

std::string SendAndReadAll(std::uint16_t port, const std::string& request,
                           std::chrono::milliseconds timeout) {
  const int fd = Connect(port);
  if (fd < 0) return {};
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  (void)SendAll(fd, request);
  std::string data;
  char buf[65536];
  while (WaitReadable(fd, deadline)) {
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    data.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return data;
}

int OpenIdleConnection(std::uint16_t port) { return Connect(port); }
void CloseSocket(int fd) {
  if (fd >= 0) ::close(fd);
}

RawResponse Get(std::uint16_t port, const std::string& target) {
  return SendRaw(port, "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
}

RawResponse Post(std::uint16_t port, const std::string& target, const std::string& body,
                 const std::string& content_type, const std::string& extra_headers) {
  return SendRaw(port, "POST " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" +
                           "Content-Type: " + content_type + "\r\n" + extra_headers +
                           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
}

std::chrono::milliseconds TimeUntilClosed(std::uint16_t port, const std::string& partial,
                                          std::chrono::milliseconds limit) {
  const int fd = Connect(port);
  if (fd < 0) return std::chrono::milliseconds(-1);
  const auto start = std::chrono::steady_clock::now();
  (void)SendAll(fd, partial);
  const auto deadline = start + limit;
  char buf[4096];
  while (WaitReadable(fd, deadline)) {
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) {
      ::close(fd);
      return std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - start);
    }
  }
  ::close(fd);
  return std::chrono::milliseconds(-1);
}

std::string FormEncode(const std::string& s) {
  std::string out;
  for (const unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[4];
      std::snprintf(buf, sizeof(buf), "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

std::uint16_t FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return cond();
}

std::string ReadAll(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace nimify::daemon::testing
