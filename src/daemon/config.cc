#include "daemon/config.h"

#include <algorithm>
#include <span>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace nimify::daemon {
namespace {

// Top-level keys the daemon reads; the rest belongs to the responses.
constexpr std::string_view kDaemonKeys[] = {"rule_files", "engine", "limits"};
// Keys of `global:` the daemon reads (Prometheus's names); the responder reads
// Alertmanager's (resolve_timeout) from the same section.
constexpr std::string_view kDaemonGlobalKeys[] = {"evaluation_interval", "external_labels",
                                                  "scrape_interval", "scrape_timeout"};

bool IsOneOf(std::string_view key, std::span<const std::string_view> keys) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

Result<std::uint64_t> NonNegative(const ConfigNode& node) {
  NIMIFY_ASSIGN_OR_RETURN(std::int64_t v, node.AsInt());
  if (v < 0) return node.Error("expected a number >= 0, got " + std::to_string(v));
  return static_cast<std::uint64_t>(v);
}

Result<std::chrono::milliseconds> PositiveDuration(const ConfigNode& node) {
  NIMIFY_ASSIGN_OR_RETURN(std::chrono::milliseconds d, node.AsDuration());
  if (d.count() <= 0) return node.Error("expected a duration > 0");
  return d;
}

// A byte size: a plain number or one with a KiB/MiB/GiB (or KB/MB/GB) suffix.
Result<std::size_t> ByteSize(const ConfigNode& node) {
  if (!node.is_scalar()) return node.Error("expected a byte size such as 32MiB");
  std::string text = node.text();
  std::uint64_t unit = 1;
  const std::pair<std::string_view, std::uint64_t> suffixes[] = {
      {"KiB", 1u << 10}, {"MiB", 1u << 20}, {"GiB", 1u << 30},
      {"KB", 1000},      {"MB", 1000'000},  {"GB", 1000'000'000}, {"B", 1}};
  for (const auto& [suffix, mult] : suffixes) {
    if (text.size() > suffix.size() && text.ends_with(suffix)) {
      text.resize(text.size() - suffix.size());
      unit = mult;
      break;
    }
  }
  std::uint64_t n = 0;
  if (text.empty() || text.size() > 12 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return node.Error("expected a byte size such as 32MiB, got \"" + node.text() + "\"");
  }
  n = std::stoull(text);
  if (n == 0) return node.Error("expected a byte size > 0");
  return static_cast<std::size_t>(n * unit);
}

class Loader {
 public:
  Loader(DaemonConfig* out, std::string_view origin) : out_(out), origin_(origin) {}

  Status Run(const ConfigNode& root) {
    if (root.is_null()) return Status::Ok();  // an empty file is a valid config
    if (!root.is_map()) return root.Error("the config must be a mapping");
    std::vector<ConfigNode::Entry> rest;
    for (const auto& [key, value] : root.entries()) {
      if (key == "global") {
        Add(Global(value, &rest));
      } else if (key == "rule_files") {
        Add(RuleFiles(value));
      } else if (key == "engine") {
        Add(Engine(value));
      } else if (key == "limits") {
        Add(Limits(value));
      } else {
        rest.emplace_back(key, value);
      }
    }
    // Only `global:` left (e.g. resolve_timeout): no responses configured.
    const bool has_responses = std::any_of(rest.begin(), rest.end(),
                                           [](const auto& e) { return e.first != "global"; });
    if (has_responses) out_->responses = ConfigNode::Map(std::move(rest), root.position());
    if (errors_.empty()) return Status::Ok();
    std::string text;
    for (const std::string& e : errors_) text += (text.empty() ? "" : "\n") + e;
    return Status::InvalidArgument(text);
  }

 private:
  void Add(const Status& s) {
    if (!s.ok()) errors_.push_back(std::string(s.message()));
  }

  Status Global(const ConfigNode& node, std::vector<ConfigNode::Entry>* rest) {
    if (node.is_null()) return Status::Ok();
    if (!node.is_map()) return node.Error("global: expected a mapping");
    std::vector<ConfigNode::Entry> others;
    for (const auto& [key, value] : node.entries()) {
      if (!IsOneOf(key, kDaemonGlobalKeys)) {
        others.emplace_back(key, value);
        continue;
      }
      if (key == "evaluation_interval") {
        Result<std::chrono::milliseconds> d = PositiveDuration(value);
        if (d.ok()) {
          out_->evaluation_interval = *d;
        } else {
          Add(d.status());
        }
      } else if (key == "external_labels") {
        Add(ExternalLabels(value));
      } else {
        // scrape_interval / scrape_timeout: accepted so a Prometheus global
        // section can be shared, and checked, but unused.
        Result<std::chrono::milliseconds> d = value.AsDuration();
        if (!d.ok()) Add(d.status());
      }
    }
    if (!others.empty()) rest->emplace_back("global", ConfigNode::Map(std::move(others),
                                                                       node.position()));
    return Status::Ok();
  }

  Status ExternalLabels(const ConfigNode& node) {
    if (node.is_null()) return Status::Ok();
    if (!node.is_map()) return node.Error("external_labels: expected a mapping");
    for (const auto& [key, value] : node.entries()) {
      NIMIFY_ASSIGN_OR_RETURN(std::string v, value.AsString());
      const bool valid_name =
          !key.empty() && !(key[0] >= '0' && key[0] <= '9') &&
          std::all_of(key.begin(), key.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '_';
          });
      if (!valid_name || key.starts_with("__")) {
        return value.Error("external_labels: invalid label name \"" + key + "\"");
      }
      if (!v.empty()) out_->external_labels.push_back({key, v});
    }
    std::sort(out_->external_labels.begin(), out_->external_labels.end(),
              [](const auto& a, const auto& b) { return a.name < b.name; });
    return Status::Ok();
  }

  Status RuleFiles(const ConfigNode& node) {
    if (node.is_null()) return Status::Ok();
    NIMIFY_ASSIGN_OR_RETURN(std::vector<std::string> files, node.AsStringList());
    const std::filesystem::path base = std::filesystem::path(origin_).parent_path();
    for (std::string& f : files) {
      if (f.empty()) return node.Error("rule_files: empty file name");
      std::filesystem::path p(f);
      if (p.is_relative() && !base.empty()) p = base / p;
      out_->rule_files.push_back(p.string());
    }
    return Status::Ok();
  }

  Status Engine(const ConfigNode& node) {
    if (node.is_null()) return Status::Ok();
    if (!node.is_map()) return node.Error("engine: expected a mapping");
    NIMIFY_RETURN_IF_ERROR(
        node.CheckKeys({"shards", "ring_capacity", "allowed_lateness", "retention", "max_series",
                        "max_sample_age", "max_late_age", "fire_on_crossing"},
                       "engine"));
    EngineSettings& e = out_->engine;
    if (const ConfigNode* n = node.Find("shards")) {
      NIMIFY_ASSIGN_OR_RETURN(std::uint64_t v, NonNegative(*n));
      if (v > 256) return n->Error("engine.shards: at most 256");
      e.shards = static_cast<std::uint32_t>(v);
    }
    if (const ConfigNode* n = node.Find("ring_capacity")) {
      NIMIFY_ASSIGN_OR_RETURN(std::uint64_t v, NonNegative(*n));
      if (v < 64 || v > (1u << 24) || (v & (v - 1)) != 0) {
        return n->Error("engine.ring_capacity: a power of two from 64 to 16777216");
      }
      e.ring_capacity = static_cast<std::uint32_t>(v);
    }
    if (const ConfigNode* n = node.Find("allowed_lateness")) {
      NIMIFY_ASSIGN_OR_RETURN(e.allowed_lateness, n->AsDuration());
      if (e.allowed_lateness.count() < 0) return n->Error("engine.allowed_lateness: negative");
    }
    if (const ConfigNode* n = node.Find("retention")) {
      NIMIFY_ASSIGN_OR_RETURN(e.retention, n->AsDuration());
    }
    if (const ConfigNode* n = node.Find("max_series")) {
      NIMIFY_ASSIGN_OR_RETURN(e.max_series, NonNegative(*n));
    }
    if (const ConfigNode* n = node.Find("max_sample_age")) {
      NIMIFY_ASSIGN_OR_RETURN(e.max_sample_age, PositiveDuration(*n));
    }
    if (const ConfigNode* n = node.Find("max_late_age")) {
      NIMIFY_ASSIGN_OR_RETURN(std::chrono::milliseconds age, n->AsDuration());
      if (age.count() < 0) return n->Error("engine.max_late_age: negative");
      e.max_late_age = age;
    }
    if (const ConfigNode* n = node.Find("fire_on_crossing")) {
      NIMIFY_ASSIGN_OR_RETURN(e.fire_on_crossing, n->AsBool());
    }
    return Status::Ok();
  }

  Status Limits(const ConfigNode& node) {
    if (node.is_null()) return Status::Ok();
    if (!node.is_map()) return node.Error("limits: expected a mapping");
    NIMIFY_RETURN_IF_ERROR(node.CheckKeys(
        {"max_header_bytes", "max_body_bytes", "max_decompressed_bytes", "max_samples_per_request",
         "max_connections", "read_timeout", "query_timeout", "max_query_samples",
         "max_inflight_body_bytes"},
        "limits"));
    RequestLimits& l = out_->limits;
    if (const ConfigNode* n = node.Find("max_header_bytes")) {
      NIMIFY_ASSIGN_OR_RETURN(l.max_header_bytes, ByteSize(*n));
    }
    if (const ConfigNode* n = node.Find("max_body_bytes")) {
      NIMIFY_ASSIGN_OR_RETURN(l.max_body_bytes, ByteSize(*n));
    }
    if (const ConfigNode* n = node.Find("max_decompressed_bytes")) {
      NIMIFY_ASSIGN_OR_RETURN(l.max_decompressed_bytes, ByteSize(*n));
    }
    if (const ConfigNode* n = node.Find("max_samples_per_request")) {
      NIMIFY_ASSIGN_OR_RETURN(std::uint64_t v, NonNegative(*n));
      if (v == 0) return n->Error("limits.max_samples_per_request: must be > 0");
      l.max_samples_per_request = v;
    }
    if (const ConfigNode* n = node.Find("max_connections")) {
      NIMIFY_ASSIGN_OR_RETURN(std::uint64_t v, NonNegative(*n));
      if (v == 0) return n->Error("limits.max_connections: must be > 0");
      l.max_connections = v;
    }
    if (const ConfigNode* n = node.Find("read_timeout")) {
      NIMIFY_ASSIGN_OR_RETURN(l.read_timeout, PositiveDuration(*n));
    }
    if (const ConfigNode* n = node.Find("query_timeout")) {
      NIMIFY_ASSIGN_OR_RETURN(l.query_timeout, PositiveDuration(*n));
    }
    if (const ConfigNode* n = node.Find("max_query_samples")) {
      NIMIFY_ASSIGN_OR_RETURN(std::uint64_t v, NonNegative(*n));
      if (v == 0) return n->Error("limits.max_query_samples: must be > 0");
      l.max_query_samples = v;
    }
    if (const ConfigNode* n = node.Find("max_inflight_body_bytes")) {
      NIMIFY_ASSIGN_OR_RETURN(l.max_inflight_body_bytes, ByteSize(*n));
    }
    // Else one request of the largest allowed size could never be read.
    if (l.max_inflight_body_bytes < l.max_body_bytes) {
      const ConfigNode* n = node.Find("max_inflight_body_bytes");
      if (n == nullptr) n = node.Find("max_body_bytes");
      return n->Error("limits.max_inflight_body_bytes (" +
                      std::to_string(l.max_inflight_body_bytes) +
                      ") must be at least limits.max_body_bytes (" +
                      std::to_string(l.max_body_bytes) + ")");
    }
    return Status::Ok();
  }

  DaemonConfig* out_;
  std::string origin_;
  std::vector<std::string> errors_;
};

}  // namespace

MemoryBound ComputeMemoryBound(const DaemonConfig& config, std::size_t io_threads,
                               std::uint32_t shards, std::uint64_t series_bytes) {
  const RequestLimits& l = config.limits;
  MemoryBound b;
  // Per connection: its read buffer (a header, or up to kReadBufferBytes of a
  // body) and a small body, which passes the in-flight check.
  b.request_buffers =
      static_cast<std::uint64_t>(l.max_connections) *
          (std::max<std::uint64_t>(l.max_header_bytes, RequestLimits::kReadBufferBytes) +
           RequestLimits::kSmallBodyBytes) +
      l.max_inflight_body_bytes;
  // The inflated protobuf, and the decoded batch: its label bytes are at most
  // the protobuf's, plus 16 bytes (time, value) per sample.
  b.decoding = static_cast<std::uint64_t>(io_threads) *
               (2 * static_cast<std::uint64_t>(l.max_decompressed_bytes) +
                16 * static_cast<std::uint64_t>(l.max_samples_per_request));
  // One ring per producer and shard; the engine's clock has a producer too.
  constexpr std::uint64_t kRingItemBytes = 24;  // series ref, timestamp, value
  b.rings = static_cast<std::uint64_t>(io_threads + 1) * shards * config.engine.ring_capacity *
            kRingItemBytes;
  b.series = config.engine.max_series * series_bytes;
  return b;
}

Result<DaemonConfig> ParseConfig(std::string_view text, std::string_view origin) {
  NIMIFY_ASSIGN_OR_RETURN(ConfigNode root, ConfigNode::ParseYaml(text, origin));
  DaemonConfig config;
  config.file = origin;
  Loader loader(&config, origin);
  NIMIFY_RETURN_IF_ERROR(loader.Run(root));
  return config;
}

Result<DaemonConfig> LoadConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path + ": cannot read the config file");
  std::ostringstream text;
  text << in.rdbuf();
  return ParseConfig(text.str(), path);
}

}  // namespace nimify::daemon
