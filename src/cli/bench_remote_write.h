// `nimify bench --remote-write URL`: the bench workload sent over HTTP as
// Prometheus remote-write 1.0 requests to any receiver (nimifyd, Prometheus
// with --web.enable-remote-write-receiver, ...), with one JSON object out.
#ifndef NIMIFY_CLI_BENCH_REMOTE_WRITE_H_
#define NIMIFY_CLI_BENCH_REMOTE_WRITE_H_

#include <cstdint>
#include <string>

namespace nimify::cli {

struct RemoteWriteBenchOptions {
  std::string url;                 // http://host:port/path
  std::uint64_t series = 100'000;  // synthetic workload
  std::uint32_t metrics = 10;
  std::string input;               // a `bench --record` file instead of the synthetic workload
  std::uint32_t connections = 2;   // keep-alive connections, one thread each
  std::uint32_t samples_per_request = 1000;
  double rate = 0;                 // samples/s over all connections; 0: closed loop
  double seconds = 10;             // measured time, after the warm-up
  double warmup_seconds = 0;       // sent but not counted (series creation at the receiver)
  int pid = 0;                     // the receiver's pid, for CPU and RSS from /proc; 0: none
  // The alert path (bench_marker.h): marker samples per second, riding in
  // the load's requests during the measured time; 0: none.
  double markers_per_second = 0;
  std::string webhook_listen = "127.0.0.1:0";  // where the marker webhook is served
  double marker_wait_seconds = 5;  // after the load, how long undelivered markers may take
  // Markers are armed by default: with a warm-up, every marker series gets a
  // 0 sample at the start, so its marker sample crosses from a known value,
  // as `up` does when a known target goes down. Fresh markers are series
  // whose first sample crosses (a new target that is down from the start).
  bool fresh_markers = false;
};

// Runs the load and prints the JSON object. Exit status: 0, 1 when nothing
// could be sent (connection refused), 2 for a bad URL or input.
int RunRemoteWriteBench(const RemoteWriteBenchOptions& options);

}  // namespace nimify::cli

#endif  // NIMIFY_CLI_BENCH_REMOTE_WRITE_H_
