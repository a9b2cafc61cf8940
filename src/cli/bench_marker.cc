// Marker ledger, webhook server and marker config of `nimify bench
// --remote-write --markers`. The server is poll() over blocking-free sockets
// on one thread: a handful of loopback connections need nothing more.
#include "cli/bench_marker.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <rapidjson/document.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

namespace nimify::cli {
namespace {

constexpr std::size_t kMaxRequestBytes = 16u << 20;  // far above any marker notification

// Lower-cased copy, for header names.
std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// The Content-Length of a request head (up to and without the blank line);
// -1 when absent or malformed.
long long ContentLength(std::string_view head) {
  const std::string lower = Lower(head);
  const std::size_t at = lower.find("\r\ncontent-length:");
  if (at == std::string::npos) return -1;
  std::size_t i = at + 17;
  while (i < lower.size() && lower[i] == ' ') ++i;
  long long n = -1;
  const auto [ptr, ec] = std::from_chars(lower.data() + i, lower.data() + lower.size(), n);
  return ec == std::errc() && ptr != lower.data() + i ? n : -1;
}

}  // namespace

// ---- config ---------------------------------------------------------------------

Status WriteMarkerConfig(const std::string& dir, const std::string& webhook_host_port) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::InvalidArgument(dir + ": " + ec.message());
  const std::filesystem::path base(dir);
  std::ofstream rules(base / "nimify-bench-marker.rules.yml");
  rules << "# The alert of `nimify bench --remote-write --markers`: each marker is a\n"
           "# series of its own whose marker sample crosses the threshold (from an\n"
           "# arming 0 sample, unless --fresh-markers).\n"
           "# interval 1s: a marker that reaches nimifyd after the clock passed its\n"
           "# timestamp is evaluated at the next instant of its group at the latest.\n"
           "groups:\n"
           "  - name: nimify-bench-marker\n"
           "    interval: 1s\n"
           "    rules:\n"
           "      - alert: NimifyBenchMarker\n"
           "        expr: "
        << kMarkerMetric
        << " > 0\n"
           "        annotations:\n"
           "          value: '{{ $value }}'\n";
  // Armed markers fire from their crossing sample once their 0 sample is
  // settled, which takes allowed_lateness: 2s here, so a warm-up of 3 s or
  // more arms them (the daemon's default 15s would need 16 s). Fresh markers
  // wait for the evaluation of their instant, which 0s lets follow the clock.
  const auto write_config = [&](std::string_view name, std::string_view lateness,
                                std::string_view why) {
    std::ofstream config(base / name);
    config << "# nimifyd config for `nimify bench --remote-write --markers` (written by\n"
              "# `nimify bench --write-marker-config`). "
           << why
           << "\n# Each marker alert is a group of its own, notified at once.\n"
              "rule_files: [nimify-bench-marker.rules.yml]\n"
              "engine:\n"
              "  allowed_lateness: "
           << lateness
           << "\n"
              "dry_run: false\n"
              "route:\n"
              "  receiver: bench\n"
              "  group_by: ["
           << kMarkerLabel
           << "]\n"
              "  group_wait: 0s\n"
              "  group_interval: 1m\n"
              "  repeat_interval: 4h\n"
              "receivers:\n"
              "  - name: bench\n"
              "    notify: [bench-webhook]\n"
              "handlers:\n"
              "  bench-webhook:\n"
              "    type: webhook\n"
              "    timeout: 5s\n"
              "    config:\n"
              "      url: http://"
           << webhook_host_port << "/marker\n";
    config.close();
    return static_cast<bool>(config);
  };
  const bool armed =
      write_config(kMarkerConfig, "2s",
                   "Armed markers (the default):\n# a marker's 0 sample must be settled (older "
                   "than allowed_lateness) before\n# its marker sample can fire at ingest, so run "
                   "the bench with --warmup 3 or more.");
  const bool fresh =
      write_config(kFreshMarkerConfig, "0s",
                   "For --fresh-markers:\n# allowed_lateness 0s lets the evaluation follow the "
                   "clock without delay (the\n# default 15s would add 15s to every marker).");
  rules.close();
  if (!rules || !armed || !fresh) {
    return Status::InvalidArgument(dir + ": cannot write the marker config");
  }
  return Status::Ok();
}

// ---- ledger ---------------------------------------------------------------------

MarkerLedger::MarkerLedger()
    : run_(std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count()) +
           "-") {}

std::string MarkerLedger::LabelValue(std::uint64_t id) const {
  return run_ + std::to_string(id);
}

std::uint64_t MarkerLedger::ParseLabelValue(std::string_view value) const {
  if (!value.starts_with(run_)) return 0;
  value.remove_prefix(run_.size());
  std::uint64_t id = 0;
  const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), id);
  return ec == std::errc() && ptr == value.data() + value.size() ? id : 0;
}

std::uint64_t MarkerLedger::Reserve() {
  MutexLock lock(mu_);
  markers_.emplace_back();
  return markers_.size();
}

void MarkerLedger::Sent(std::uint64_t id, Clock::time_point at) {
  MutexLock lock(mu_);
  if (id == 0 || id > markers_.size()) return;
  markers_[id - 1].sent = true;
  markers_[id - 1].sent_at = at;
}

void MarkerLedger::Answered(std::uint64_t id, bool accepted) {
  MutexLock lock(mu_);
  if (id == 0 || id > markers_.size()) return;
  markers_[id - 1].answered = true;
  markers_[id - 1].accepted = accepted;
}

void MarkerLedger::Delivered(std::uint64_t id, Clock::time_point at) {
  MutexLock lock(mu_);
  if (id == 0 || id > markers_.size()) {
    ++unexpected_;
    return;
  }
  Marker& m = markers_[id - 1];
  if (m.deliveries++ == 0) m.delivered_at = at;
}

std::uint64_t MarkerLedger::Outstanding() const {
  MutexLock lock(mu_);
  std::uint64_t n = 0;
  for (const Marker& m : markers_) {
    // Not answered yet: the request is in flight, its marker may still come.
    if (m.sent && (!m.answered || m.accepted) && m.deliveries == 0) ++n;
  }
  return n;
}

MarkerLedger::Summary MarkerLedger::Summarize() const {
  MutexLock lock(mu_);
  Summary s;
  s.unexpected = unexpected_;
  for (const Marker& m : markers_) {
    if (!m.sent) continue;
    ++s.sent;
    if (m.accepted) ++s.accepted;
    if (m.deliveries > 0) s.duplicates += m.deliveries - 1;
    if (!m.accepted || m.deliveries == 0) continue;
    ++s.delivered;
    s.latencies_us.push_back(
        std::chrono::duration<double, std::micro>(m.delivered_at - m.sent_at).count());
  }
  std::sort(s.latencies_us.begin(), s.latencies_us.end());
  return s;
}

// ---- webhook server -------------------------------------------------------------

Status MarkerWebhookServer::Start(const std::string& host_port) {
  const std::size_t colon = host_port.rfind(':');
  if (colon == std::string::npos) {
    return Status::InvalidArgument("--webhook-listen needs HOST:PORT, got " + host_port);
  }
  const std::string host = host_port.substr(0, colon);
  std::uint16_t port = 0;
  const std::string port_text = host_port.substr(colon + 1);
  if (auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
      ec != std::errc() || p != port_text.data() + port_text.size()) {
    return Status::InvalidArgument("--webhook-listen: bad port in " + host_port);
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    return Status::InvalidArgument("--webhook-listen: " + host + " is not an IPv4 address");
  }
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (listen_fd_ < 0) return Status::Unavailable(std::string("socket: ") + std::strerror(errno));
  const int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(listen_fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(listen_fd_, 64) != 0) {
    const std::string err = std::strerror(errno);
    ::close(listen_fd_);
    listen_fd_ = -1;
    return Status::Unavailable("--webhook-listen " + host_port + ": " + err);
  }
  socklen_t len = sizeof(addr);
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd_ < 0) return Status::Unavailable(std::string("eventfd: ") + std::strerror(errno));
  thread_ = std::thread([this] { Serve(); });
  return Status::Ok();
}

void MarkerWebhookServer::Stop() {
  if (thread_.joinable()) {
    const std::uint64_t one = 1;
    (void)!::write(stop_fd_, &one, sizeof(one));
    thread_.join();
  }
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (stop_fd_ >= 0) ::close(stop_fd_);
  listen_fd_ = stop_fd_ = -1;
}

void MarkerWebhookServer::HandleBody(std::string_view body, MarkerLedger::Clock::time_point at) {
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("alerts") ||
      !doc["alerts"].IsArray()) {
    ++bad_requests_;
    return;
  }
  for (const auto& alert : doc["alerts"].GetArray()) {
    if (!alert.IsObject() || !alert.HasMember("status") || !alert["status"].IsString() ||
        std::string_view(alert["status"].GetString()) != "firing" || !alert.HasMember("labels") ||
        !alert["labels"].IsObject()) {
      continue;
    }
    const auto& labels = alert["labels"];
    const auto it = labels.FindMember(kMarkerLabel.data());
    if (it == labels.MemberEnd() || !it->value.IsString()) continue;
    ledger_->Delivered(ledger_->ParseLabelValue(
                           std::string_view(it->value.GetString(), it->value.GetStringLength())),
                       at);
  }
}

void MarkerWebhookServer::Serve() {
  std::map<int, std::string> connections;  // fd -> bytes received
  constexpr std::string_view kOk =
      "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  constexpr std::string_view kBad =
      "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  const auto finish = [&](int fd, std::string_view answer) {
    // A short blocking write: the answer is tiny and the peer is local.
    (void)!::send(fd, answer.data(), answer.size(), MSG_NOSIGNAL);
    ::close(fd);
    connections.erase(fd);
  };
  while (true) {
    std::vector<pollfd> fds;
    fds.push_back({stop_fd_, POLLIN, 0});
    fds.push_back({listen_fd_, POLLIN, 0});
    for (const auto& [fd, buffer] : connections) fds.push_back({fd, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) break;
    if (fds[0].revents != 0) break;
    if (fds[1].revents & POLLIN) {
      while (true) {
        const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) break;
        connections.emplace(fd, std::string());
      }
    }
    for (std::size_t i = 2; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      const int fd = fds[i].fd;
      std::string& buffer = connections[fd];
      char chunk[65536];
      bool closed = false;
      while (true) {
        const ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
        if (n > 0) {
          buffer.append(chunk, static_cast<std::size_t>(n));
          continue;
        }
        if (n < 0 && errno == EINTR) continue;
        closed = n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
        break;
      }
      const auto now = MarkerLedger::Clock::now();
      const std::size_t head_end = buffer.find("\r\n\r\n");
      if (head_end == std::string::npos) {
        if (closed || buffer.size() > kMaxRequestBytes) {
          ++bad_requests_;
          finish(fd, kBad);
        }
        continue;
      }
      const long long length = ContentLength(std::string_view(buffer).substr(0, head_end));
      if (length < 0 || static_cast<unsigned long long>(length) > kMaxRequestBytes) {
        ++bad_requests_;
        finish(fd, kBad);
        continue;
      }
      const std::size_t total = head_end + 4 + static_cast<std::size_t>(length);
      if (buffer.size() < total) {
        if (closed) {
          ++bad_requests_;
          finish(fd, kBad);
        }
        continue;
      }
      ++requests_;
      HandleBody(std::string_view(buffer).substr(head_end + 4, static_cast<std::size_t>(length)),
                 now);
      finish(fd, kOk);
    }
  }
  for (const auto& [fd, buffer] : connections) ::close(fd);
}

}  // namespace nimify::cli
