// nimifyd's config file: one YAML file with the daemon's own sections
// (global, rule_files, engine, limits) and the response config of
// docs/actions.md (route, receivers, handlers, responses, ...), which is given
// to nimify::Responder unchanged minus the daemon's keys. docs/daemon.md
// lists every key.
#ifndef NIMIFY_DAEMON_CONFIG_H_
#define NIMIFY_DAEMON_CONFIG_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nimify/config.h"
#include "nimify/sample.h"
#include "nimify/status.h"

namespace nimify::daemon {

// Limits on clients and requests (config section `limits:`).
struct RequestLimits {
  std::size_t max_header_bytes = 16u << 10;
  std::size_t max_body_bytes = 32u << 20;
  // Remote write: the snappy-decoded protobuf.
  std::size_t max_decompressed_bytes = 64u << 20;
  std::size_t max_samples_per_request = 2'000'000;
  std::size_t max_connections = 1024;
  // A request must arrive whole within this time (slow clients are cut off);
  // also the idle time of a keep-alive connection.
  std::chrono::milliseconds read_timeout{30'000};
  std::chrono::milliseconds query_timeout{2 * 60'000};
  std::size_t max_query_samples = 50'000'000;
  // Request bodies being read or handled at once, across connections, by
  // their Content-Length (max_body_bytes when chunked): past it a request
  // gets 429 with Retry-After before its body is read. Bodies up to
  // kSmallBodyBytes (query forms, silences) are never refused by it, so
  // queries stay answered under a remote-write flood. At least max_body_bytes.
  std::size_t max_inflight_body_bytes = 256u << 20;
  static constexpr std::size_t kSmallBodyBytes = 64u << 10;
  // A connection's read buffer grows to this once a large body is announced:
  // Beast reads at most the buffer's free capacity per call.
  static constexpr std::size_t kReadBufferBytes = 64u << 10;
};

struct EngineSettings {
  std::uint32_t shards = 0;  // 0: one per hardware thread
  std::uint32_t ring_capacity = 1u << 14;
  // How late a sample may arrive behind the wall clock and still count;
  // evaluation runs this far behind the clock.
  std::chrono::milliseconds allowed_lateness{15'000};
  std::chrono::milliseconds retention{0};  // 0: what the rules need
  std::uint64_t max_series = 0;            // 0: unlimited
  // Samples older than now - max_sample_age are refused with 400.
  // 0: the engine's retention, at least one hour.
  std::chrono::milliseconds max_sample_age{0};
  // Samples at or below the evaluation watermark (now - allowed_lateness) are
  // stored for the evaluations to come when at most this far behind it; older
  // ones get 400 (EngineOptions::max_late_age). Unset: the history the rules
  // need; 0: refuse every late sample.
  std::optional<std::chrono::milliseconds> max_late_age;
  // EngineOptions::fire_on_crossing: `for: 0` threshold alerts fire from the
  // sample that crosses, not after the evaluation instant.
  bool fire_on_crossing = true;
};

struct DaemonConfig {
  std::string file;  // empty when no config file was given
  std::chrono::milliseconds evaluation_interval{60'000};
  OwnedLabels external_labels;
  // Resolved against the config file's directory, as Prometheus does.
  std::vector<std::string> rule_files;
  EngineSettings engine;
  RequestLimits limits;
  // The response config (the file minus the daemon's keys); unset when the
  // file has no response sections (no route, receivers, handlers, ...).
  std::optional<ConfigNode> responses;
};

// The worst case of the memory the limits allow (docs/daemon.md, "Memory
// bound"), beyond the process's base and the rules' own state.
struct MemoryBound {
  std::uint64_t request_buffers = 0;  // headers of every connection, bodies in flight
  std::uint64_t decoding = 0;         // per I/O thread: inflated body and decoded batch
  std::uint64_t rings = 0;            // producer -> shard rings, allocated up front
  std::uint64_t series = 0;           // engine.max_series x series_bytes; 0 when unlimited
  std::uint64_t total() const { return request_buffers + decoding + rings + series; }
};
// What one series costs the engine for the memory bound: its labels (up to
// about 200 bytes), catalog, index and series-table entries and the samples it
// retains. Measured (docs/daemon.md): labels of ~100 bytes and a few samples
// cost about 1 KiB of RSS a series; long label sets or a long retention at a
// short interval cost more, and the bound says so.
inline constexpr std::uint64_t kSeriesBytes = 2048;

// `io_threads` and `shards` as running (shards resolved from 0); `series_bytes`
// the cost of one series (its labels, index entries and retained samples).
MemoryBound ComputeMemoryBound(const DaemonConfig& config, std::size_t io_threads,
                               std::uint32_t shards, std::uint64_t series_bytes);

// Reads and checks a config file. Errors read "file:line:col: message".
Result<DaemonConfig> LoadConfigFile(const std::string& path);
// The same for text already read; `origin` names it in errors and is the base
// for relative rule_files.
Result<DaemonConfig> ParseConfig(std::string_view text, std::string_view origin);

}  // namespace nimify::daemon

#endif  // NIMIFY_DAEMON_CONFIG_H_
