// nimifyd's own metrics and the Prometheus text exposition they are written in.
#ifndef NIMIFY_DAEMON_METRICS_H_
#define NIMIFY_DAEMON_METRICS_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/mutex.h"

namespace nimify::daemon {

// Writes metric families in the text format 0.0.4.
class ExpositionWriter {
 public:
  explicit ExpositionWriter(std::string* out) : out_(out) {}
  // # HELP and # TYPE lines.
  void Family(std::string_view name, std::string_view type, std::string_view help);
  // One sample; `labels` as name/value pairs.
  void Sample(std::string_view name,
              std::initializer_list<std::pair<std::string_view, std::string_view>> labels,
              double value);
  void Sample(std::string_view name, double value) { Sample(name, {}, value); }
  // A whole family of one sample per value of `label`, in the order given.
  void FamilyByLabel(std::string_view name, std::string_view type, std::string_view help,
                     std::string_view label,
                     std::initializer_list<std::pair<std::string_view, double>> samples);

 private:
  std::string* out_;
};

// Why an input was refused as a resource bomb or over a limit
// (nimify_refused_inputs_total{reason}); docs/reliability.md lists where each
// is met.
enum class RefusedInput : std::uint8_t {
  kDecompressedSize,  // snappy body announcing more than max_decompressed_bytes
  kBodySize,          // body over max_body_bytes (413)
  kHeaderSize,        // header fields over max_header_bytes (431)
  kInflightBytes,     // bodies in flight over max_inflight_body_bytes (429)
  kSampleLimit,       // more than max_samples_per_request in one body
  kLabelLimit,        // too many labels in a series, or a name or value too long
  kSeriesLimit,       // a new series past engine.max_series
  kNestingDepth,      // JSON, protobuf groups or YAML nested too deeply
  kYamlAlias,         // a YAML document expanding to too many nodes
  kRegexSize,         // a regex over re2's memory budget
  kQuerySamples,      // a query selecting or returning too many samples
  kTemplateLimit,     // a template over its step, depth or output bounds
};
inline constexpr std::size_t kRefusedInputReasons = 12;
std::string_view RefusedInputName(RefusedInput reason);
// The limit a refusal message names (ingest decoders, PromQL, templates,
// config and rule loaders report them in their Status), or nothing.
std::optional<RefusedInput> ClassifyRefusal(std::string_view message);

// The process's resident memory (VmRSS) in bytes; 0 when /proc is absent.
std::uint64_t ResidentBytes();

// Thread safety: every method may be called from any thread; the counters are
// atomic, mu_ guards the request families.
class DaemonMetrics {
 public:
  // Upper bounds of the request duration histogram, in seconds.
  static constexpr std::array<double, 11> kDurationBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 10};

  void ObserveRequest(std::string_view handler, int code, double seconds);
  void CountRefusal(RefusedInput reason) {
    refused_inputs_[static_cast<std::size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
  }
  // Counts the refusal `message` names, if any; returns whether it did.
  bool CountRefusal(std::string_view message) {
    const std::optional<RefusedInput> r = ClassifyRefusal(message);
    if (r) CountRefusal(*r);
    return r.has_value();
  }
  std::uint64_t refusals(RefusedInput reason) const {
    return refused_inputs_[static_cast<std::size_t>(reason)].load(std::memory_order_relaxed);
  }

  std::atomic<std::uint64_t> samples_received{0};  // decoded from ingest bodies
  std::atomic<std::uint64_t> samples_appended{0};  // accepted by the engine
  std::atomic<std::uint64_t> samples_refused{0};   // backpressure or limits
  std::atomic<std::uint64_t> samples_late{0};      // at or below the watermark, to be stored
  std::atomic<std::uint64_t> samples_late_refused{0};  // over max_late_age behind it: 400
  std::atomic<std::uint64_t> samples_too_old{0};   // older than max_sample_age: 400
  std::atomic<std::uint64_t> series_resolved{0};   // reference cache misses
  std::atomic<std::uint64_t> ingest_requests_refused{0};  // 429/503 answered
  std::atomic<std::uint64_t> connections_refused{0};      // over max_connections
  std::atomic<std::int64_t> connections_open{0};
  std::atomic<std::uint64_t> reloads{0};
  std::atomic<std::uint64_t> reload_failures{0};
  std::atomic<int> last_reload_successful{1};
  std::atomic<std::int64_t> last_reload_success_ms{0};

  // The counters above and the request families.
  void Write(ExpositionWriter& w) const;

 private:
  struct Histogram {
    std::array<std::uint64_t, kDurationBuckets.size()> buckets{};
    std::uint64_t count = 0;
    double sum = 0;
  };
  std::array<std::atomic<std::uint64_t>, kRefusedInputReasons> refused_inputs_{};
  mutable Mutex mu_;
  std::map<std::pair<std::string, int>, std::uint64_t> requests_ NIMIFY_GUARDED_BY(mu_);
  std::map<std::string, Histogram, std::less<>> durations_ NIMIFY_GUARDED_BY(mu_);
};

}  // namespace nimify::daemon

#endif  // NIMIFY_DAEMON_METRICS_H_
