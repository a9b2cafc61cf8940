#include "daemon/metrics.h"

#include <unistd.h>

#include <cstdio>

#include "common/go_strconv.h"

namespace nimify::daemon {
namespace {

void AppendLabelValue(std::string* out, std::string_view v) {
  for (const char c : v) {
    if (c == '\\') {
      out->append("\\\\");
    } else if (c == '"') {
      out->append("\\\"");
    } else if (c == '\n') {
      out->append("\\n");
    } else {
      out->push_back(c);
    }
  }
}

std::string FormatSampleValue(double v) {
  // The text format reads Go's float syntax; integers print without exponent.
  return internal::FormatGoFloat(v, 'g', -1);
}

}  // namespace

std::uint64_t ResidentBytes() {
  // /proc/self/statm: size resident shared ... in pages.
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long long size = 0, resident = 0;
  const int n = std::fscanf(f, "%llu %llu", &size, &resident);
  std::fclose(f);
  if (n != 2) return 0;
  return static_cast<std::uint64_t>(resident) * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

std::string_view RefusedInputName(RefusedInput reason) {
  switch (reason) {
    case RefusedInput::kDecompressedSize: return "decompressed_size";
    case RefusedInput::kBodySize: return "body_size";
    case RefusedInput::kHeaderSize: return "header_size";
    case RefusedInput::kInflightBytes: return "inflight_bytes";
    case RefusedInput::kSampleLimit: return "sample_limit";
    case RefusedInput::kLabelLimit: return "label_limit";
    case RefusedInput::kSeriesLimit: return "series_limit";
    case RefusedInput::kNestingDepth: return "nesting_depth";
    case RefusedInput::kYamlAlias: return "yaml_alias";
    case RefusedInput::kRegexSize: return "regex_size";
    case RefusedInput::kQuerySamples: return "query_samples";
    case RefusedInput::kTemplateLimit: return "template_limit";
  }
  return "unknown";
}

std::optional<RefusedInput> ClassifyRefusal(std::string_view message) {
  // The phrases of the limits' own messages (ingest/series_checks.cc,
  // ingest/remote_write.cc, storage/shard.cc, promql, template, the YAML
  // loaders, am_api.cc); the first that appears wins.
  static constexpr std::pair<std::string_view, RefusedInput> kPhrases[] = {
      {"decompressed body would be", RefusedInput::kDecompressedSize},
      {"alias bomb", RefusedInput::kYamlAlias},
      {"series limit reached", RefusedInput::kSeriesLimit},
      {"remote write: request is ", RefusedInput::kDecompressedSize},
      {"labels in one series", RefusedInput::kLabelLimit},
      {"bytes, over the limit of", RefusedInput::kLabelLimit},  // a label name or value
      {"query processing would load too many samples", RefusedInput::kQuerySamples},
      {"expression too large", RefusedInput::kRegexSize},     // RE2::ErrorPatternTooLarge
      {"execution steps", RefusedInput::kTemplateLimit},
      {"exceeded maximum template depth", RefusedInput::kTemplateLimit},
      {"exceeded maximum nesting depth", RefusedInput::kTemplateLimit},
      {"template output exceeds", RefusedInput::kTemplateLimit},
      {"max expression depth exceeded", RefusedInput::kTemplateLimit},
      {"nested too deeply", RefusedInput::kNestingDepth},  // PromQL, protobuf groups, JSON
      {"nested deeper than", RefusedInput::kNestingDepth},  // YAML config
  };
  const auto has = [message](std::string_view phrase) {
    return message.find(phrase) != std::string_view::npos;
  };
  // A decoder's own body limit ("json lines: body is N bytes, over the limit of M").
  if (has(": body is ") && has(" bytes, over the limit of ")) return RefusedInput::kBodySize;
  for (const auto& [phrase, reason] : kPhrases) {
    if (has(phrase)) return reason;
  }
  // "more than the limit of N samples" (every decoder).
  if (has("more than the limit of") && has(" samples")) {
    return RefusedInput::kSampleLimit;
  }
  return std::nullopt;
}

void ExpositionWriter::Family(std::string_view name, std::string_view type,
                              std::string_view help) {
  out_->append("# HELP ").append(name).append(" ").append(help).append("\n");
  out_->append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void ExpositionWriter::FamilyByLabel(
    std::string_view name, std::string_view type, std::string_view help, std::string_view label,
    std::initializer_list<std::pair<std::string_view, double>> samples) {
  Family(name, type, help);
  for (const auto& [value, v] : samples) Sample(name, {{label, value}}, v);
}

void ExpositionWriter::Sample(
    std::string_view name,
    std::initializer_list<std::pair<std::string_view, std::string_view>> labels, double value) {
  out_->append(name);
  if (labels.size() > 0) {
    out_->push_back('{');
    bool first = true;
    for (const auto& [k, v] : labels) {
      if (!first) out_->push_back(',');
      first = false;
      out_->append(k).append("=\"");
      AppendLabelValue(out_, v);
      out_->push_back('"');
    }
    out_->push_back('}');
  }
  out_->push_back(' ');
  out_->append(FormatSampleValue(value));
  out_->push_back('\n');
}

void DaemonMetrics::ObserveRequest(std::string_view handler, int code, double seconds) {
  MutexLock lock(mu_);
  ++requests_[{std::string(handler), code}];
  auto it = durations_.find(handler);
  if (it == durations_.end()) it = durations_.emplace(std::string(handler), Histogram{}).first;
  Histogram& h = it->second;
  for (std::size_t i = 0; i < kDurationBuckets.size(); ++i) {
    if (seconds <= kDurationBuckets[i]) ++h.buckets[i];
  }
  ++h.count;
  h.sum += seconds;
}

void DaemonMetrics::Write(ExpositionWriter& w) const {
  {
    MutexLock lock(mu_);
    w.Family("nimify_http_requests_total", "counter",
             "Counter of HTTP requests by handler and status code.");
    for (const auto& [key, n] : requests_) {
      const std::string code = std::to_string(key.second);
      w.Sample("nimify_http_requests_total", {{"code", code}, {"handler", key.first}},
               static_cast<double>(n));
    }
    w.Family("nimify_http_request_duration_seconds", "histogram",
             "Histogram of latencies for HTTP requests.");
    for (const auto& [handler, h] : durations_) {
      for (std::size_t i = 0; i < kDurationBuckets.size(); ++i) {
        const std::string le = FormatSampleValue(kDurationBuckets[i]);
        w.Sample("nimify_http_request_duration_seconds_bucket",
                 {{"handler", handler}, {"le", le}}, static_cast<double>(h.buckets[i]));
      }
      w.Sample("nimify_http_request_duration_seconds_bucket", {{"handler", handler}, {"le", "+Inf"}},
               static_cast<double>(h.count));
      w.Sample("nimify_http_request_duration_seconds_sum", {{"handler", handler}}, h.sum);
      w.Sample("nimify_http_request_duration_seconds_count", {{"handler", handler}},
               static_cast<double>(h.count));
    }
  }
  const auto counter = [&w](std::string_view name, std::string_view help,
                            const std::atomic<std::uint64_t>& v) {
    w.Family(name, "counter", help);
    w.Sample(name, static_cast<double>(v.load(std::memory_order_relaxed)));
  };
  counter("nimify_ingest_samples_received_total", "Samples decoded from ingest requests.",
          samples_received);
  counter("nimify_ingest_samples_appended_total", "Samples handed to the engine.",
          samples_appended);
  counter("nimify_ingest_samples_refused_total",
          "Samples refused because the pipeline pushed back or a limit was reached.",
          samples_refused);
  w.Family("nimify_ingest_samples_late_total", "counter",
           "Samples at or below the evaluation watermark: handed to the engine, which stores "
           "them for the evaluations to come (accepted), or refused with 400 as more than "
           "max_late_age behind it (refused).");
  w.Sample("nimify_ingest_samples_late_total", {{"outcome", "accepted"}},
           static_cast<double>(samples_late.load(std::memory_order_relaxed)));
  w.Sample("nimify_ingest_samples_late_total", {{"outcome", "refused"}},
           static_cast<double>(samples_late_refused.load(std::memory_order_relaxed)));
  counter("nimify_ingest_samples_too_old_total",
          "Samples refused (400) because they were older than the maximum sample age.",
          samples_too_old);
  counter("nimify_ingest_series_resolved_total",
          "Series looked up by labels (misses of the series reference cache).", series_resolved);
  counter("nimify_ingest_requests_throttled_total",
          "Ingest requests answered with 429 or 503 so that the sender retries.",
          ingest_requests_refused);
  counter("nimify_http_connections_refused_total",
          "Connections closed at once because max_connections were open.", connections_refused);
  w.Family("nimify_http_connections_open", "gauge", "Open HTTP connections.");
  w.Sample("nimify_http_connections_open", static_cast<double>(connections_open.load()));
  w.Family("nimify_refused_inputs_total", "counter",
           "Inputs refused as resource bombs or over a configured limit, by the limit: "
           "request bodies, remote-write and import bodies, API bodies and queries, and "
           "config and rule files on reload.");
  for (std::size_t i = 0; i < kRefusedInputReasons; ++i) {
    w.Sample("nimify_refused_inputs_total",
             {{"reason", RefusedInputName(static_cast<RefusedInput>(i))}},
             static_cast<double>(refused_inputs_[i].load(std::memory_order_relaxed)));
  }
  counter("nimify_config_reloads_total", "Configuration reloads attempted.", reloads);
  counter("nimify_config_reload_failures_total", "Configuration reloads refused.",
          reload_failures);
  w.Family("nimify_config_last_reload_successful", "gauge",
           "Whether the last configuration reload attempt was successful.");
  w.Sample("nimify_config_last_reload_successful", last_reload_successful.load());
  w.Family("nimify_config_last_reload_success_timestamp_seconds", "gauge",
           "Timestamp of the last successful configuration reload.");
  w.Sample("nimify_config_last_reload_success_timestamp_seconds",
           static_cast<double>(last_reload_success_ms.load()) / 1000.0);
}

}  // namespace nimify::daemon
