// The alert path of `nimify bench --remote-write`: marker samples that cross
// a rule's threshold ride in the load's requests, the receiver (nimifyd, with
// the config WriteMarkerConfig writes) fires an alert per marker and posts it
// to a webhook this process serves on loopback, and each delivery is matched
// to its marker's send time: sample-to-handler latency, end to end.
#ifndef NIMIFY_CLI_BENCH_MARKER_H_
#define NIMIFY_CLI_BENCH_MARKER_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/mutex.h"
#include "nimify/status.h"

namespace nimify::cli {

// The marker series: kMarkerMetric{marker="<run>-<id>"} with the value <id>
// (after an arming sample of 0, unless fresh), a series per marker, so each
// marker is an alert of its own. <run> (the bench's start in Unix ms) keeps a
// second run against the same nimifyd from meeting the alerts, and
// notification groups, of the first.
inline constexpr std::string_view kMarkerMetric = "nimify_bench_marker";
inline constexpr std::string_view kMarkerLabel = "marker";

// The nimifyd configs WriteMarkerConfig writes: for armed markers and for
// --fresh-markers.
inline constexpr std::string_view kMarkerConfig = "nimify-bench-marker.yml";
inline constexpr std::string_view kFreshMarkerConfig = "nimify-bench-marker-fresh.yml";

// Writes <dir>/nimify-bench-marker.rules.yml (the rule `nimify_bench_marker
// > 0`, for: 0) and two nimifyd configs that load it and route every marker
// alert, group_by [marker] and group_wait 0s, to a `webhook` handler posting
// to http://<webhook>/marker: kMarkerConfig with engine.allowed_lateness 2s
// (armed markers need a warm-up longer than that) and kFreshMarkerConfig
// with 0s (evaluation follows the clock without delay).
Status WriteMarkerConfig(const std::string& dir, const std::string& webhook_host_port);

// Send and delivery times of the markers.
// Thread safety: every method may be called from any thread; mu_ guards the
// markers and the count of unexpected deliveries.
class MarkerLedger {
 public:
  using Clock = std::chrono::steady_clock;

  MarkerLedger();
  // The `marker` label value of `id`.
  std::string LabelValue(std::uint64_t id) const;
  // The id of a label value of this run; 0 for anything else.
  std::uint64_t ParseLabelValue(std::string_view value) const;

  // A new id (1, 2, ...) for the next marker.
  std::uint64_t Reserve();
  // The marker's request is being written now (`at`).
  void Sent(std::uint64_t id, Clock::time_point at);
  // Whether the receiver accepted the request that carried `id` (2xx).
  void Answered(std::uint64_t id, bool accepted);
  // A webhook delivery of a firing alert for `id` (0: not of this run),
  // received whole at `at`.
  void Delivered(std::uint64_t id, Clock::time_point at);
  // Accepted markers not delivered yet.
  std::uint64_t Outstanding() const;

  struct Summary {
    std::uint64_t sent = 0;
    std::uint64_t accepted = 0;
    std::uint64_t delivered = 0;    // accepted markers delivered at least once
    std::uint64_t duplicates = 0;   // deliveries after a marker's first
    std::uint64_t unexpected = 0;   // deliveries of ids never sent
    std::vector<double> latencies_us;  // send -> first delivery, sorted
  };
  Summary Summarize() const;

 private:
  struct Marker {
    Clock::time_point sent_at;
    Clock::time_point delivered_at;
    std::uint32_t deliveries = 0;
    bool sent = false;
    bool answered = false;
    bool accepted = false;
  };
  const std::string run_;  // "<Unix ms>-"
  mutable Mutex mu_;
  std::vector<Marker> markers_ NIMIFY_GUARDED_BY(mu_);  // index id - 1
  std::uint64_t unexpected_ NIMIFY_GUARDED_BY(mu_) = 0;
};

// A minimal HTTP/1.1 server on 127.0.0.1 for the webhook handler's POSTs
// (Alertmanager's webhook JSON): every firing alert with a `marker` label is
// reported to the ledger; each request is answered 200 and its connection
// closed (nimify's HTTP client sends one request per connection).
// Thread safety: Start and Stop from one thread; the server runs on its own.
class MarkerWebhookServer {
 public:
  explicit MarkerWebhookServer(MarkerLedger* ledger) : ledger_(ledger) {}
  ~MarkerWebhookServer() { Stop(); }
  MarkerWebhookServer(const MarkerWebhookServer&) = delete;
  MarkerWebhookServer& operator=(const MarkerWebhookServer&) = delete;

  // Binds host:port (port 0: any free one) and starts serving.
  Status Start(const std::string& host_port);
  std::uint16_t port() const { return port_; }
  void Stop();

  std::uint64_t requests() const { return requests_; }  // after Stop
  std::uint64_t bad_requests() const { return bad_requests_; }  // after Stop

 private:
  void Serve();
  void HandleBody(std::string_view body, MarkerLedger::Clock::time_point at);

  MarkerLedger* const ledger_;
  int listen_fd_ = -1;
  int stop_fd_ = -1;  // eventfd: Stop wakes the poll
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::uint64_t requests_ = 0;      // the server thread's until Stop joins it
  std::uint64_t bad_requests_ = 0;  // the server thread's until Stop joins it
};

}  // namespace nimify::cli

#endif  // NIMIFY_CLI_BENCH_MARKER_H_
