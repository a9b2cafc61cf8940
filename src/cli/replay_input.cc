#include "cli/replay_input.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <map>
#include <sstream>
#include <utility>

#include "ingest/batch.h"
#include "ingest/remote_write.h"
#include "nimify/config.h"
#include "promql/labels.h"
#include "promqltest/memory_storage.h"
#include "promqltest/script.h"
#include "promqltest/series_notation.h"

namespace nimify::cli {
namespace {

// Collects points per label set, whatever order they come in.
class SeriesCollector {
 public:
  void Add(OwnedLabels labels, std::int64_t t_ms, double value) {
    std::sort(labels.begin(), labels.end(),
              [](const OwnedLabel& a, const OwnedLabel& b) { return a.name < b.name; });
    std::string key;
    for (const auto& l : labels) {
      key += l.name;
      key.push_back('\xff');
      key += l.value;
      key.push_back('\xff');
    }
    auto [it, inserted] = index_.try_emplace(std::move(key), series_.size());
    if (inserted) series_.push_back({std::move(labels), {}});
    series_[it->second].points.push_back({t_ms, value});
  }

  // Points sorted by time; of equal timestamps the last added wins (as a later
  // `load` or a resent frame would).
  void Finish(ReplayInput* out) {
    bool any = false;
    for (auto& s : series_) {
      std::stable_sort(s.points.begin(), s.points.end(),
                       [](const ReplayPoint& a, const ReplayPoint& b) { return a.t_ms < b.t_ms; });
      std::vector<ReplayPoint> unique;
      for (const auto& p : s.points) {
        if (!unique.empty() && unique.back().t_ms == p.t_ms) {
          unique.back() = p;
        } else {
          unique.push_back(p);
        }
      }
      s.points = std::move(unique);
      if (s.points.empty()) continue;
      out->first_ms = any ? std::min(out->first_ms, s.points.front().t_ms) : s.points.front().t_ms;
      out->last_ms = any ? std::max(out->last_ms, s.points.back().t_ms) : s.points.back().t_ms;
      any = true;
    }
    out->series = std::move(series_);
  }

 private:
  std::map<std::string, std::size_t> index_;
  std::vector<ReplaySeries> series_;
};

OwnedLabels ToOwned(const promql::Labels& labels) {
  OwnedLabels out;
  for (const auto& l : labels) out.push_back({l.name, l.value});
  return out;
}

// A series-notation error ("1:7: parse error: ...") placed at the YAML node
// that holds the text: the column moves by the offset inside the value.
Status NotationError(const ConfigNode& node, std::string_view message) {
  int col = 0;
  if (message.rfind("1:", 0) == 0) {
    const char* begin = message.data() + 2;
    const char* end = message.data() + message.size();
    auto [ptr, ec] = std::from_chars(begin, end, col);
    if (ec == std::errc() && ptr + 1 < end && ptr[0] == ':' && ptr[1] == ' ') {
      message.remove_prefix(static_cast<std::size_t>(ptr + 2 - message.data()));
    } else {
      col = 0;
    }
  }
  SourcePosition pos = node.position();
  if (col > 0 && pos.column > 0) pos.column += col - 1;
  return Status::InvalidArgument(pos.ToString() + ": " + std::string(message));
}

Result<ReplayInput> ParsePromtool(const ConfigNode& root, const ReplayInputOptions& options) {
  NIMIFY_RETURN_IF_ERROR(root.CheckKeys(
      {"rule_files", "evaluation_interval", "group_eval_order", "tests"}, "promtool test file"));
  ReplayInput out;
  out.format = ReplayFormat::kPromtoolTest;
  out.evaluation_interval_ms = 60'000;
  if (const ConfigNode* ei = root.Find("evaluation_interval"); ei != nullptr && !ei->is_null()) {
    NIMIFY_ASSIGN_OR_RETURN(auto d, ei->AsDuration());
    if (d.count() <= 0) return ei->Error("evaluation_interval must be positive");
    out.evaluation_interval_ms = d.count();
  }
  const ConfigNode* tests = root.Find("tests");
  if (tests == nullptr || !tests->is_sequence() || tests->items().empty()) {
    return (tests != nullptr ? *tests : root)
        .Error("`tests` must be a non-empty list of test groups");
  }
  if (options.test_group >= tests->items().size()) {
    return tests->Error("there is no test group " + std::to_string(options.test_group) +
                        " (the file has " + std::to_string(tests->items().size()) +
                        ", numbered from 0)");
  }
  const ConfigNode& group = tests->items()[options.test_group];
  if (!group.is_map()) return group.Error("a test group must be a mapping");
  if (const ConfigNode* name = group.Find("name"); name != nullptr && name->is_scalar()) {
    out.test_group_name = name->text();
  }
  std::int64_t interval = out.evaluation_interval_ms;
  if (const ConfigNode* iv = group.Find("interval"); iv != nullptr && !iv->is_null()) {
    NIMIFY_ASSIGN_OR_RETURN(auto d, iv->AsDuration());
    if (d.count() <= 0) return iv->Error("interval must be positive");
    interval = d.count();
  }
  const ConfigNode* inputs = group.Find("input_series");
  if (inputs == nullptr || !inputs->is_sequence()) {
    return (inputs != nullptr ? *inputs : group).Error("the test group has no `input_series` list");
  }
  SeriesCollector collector;
  for (const ConfigNode& item : inputs->items()) {
    if (!item.is_map()) return item.Error("an input series must be a mapping");
    NIMIFY_RETURN_IF_ERROR(item.CheckKeys({"series", "values"}, "input series"));
    const ConfigNode* series = item.Find("series");
    const ConfigNode* values = item.Find("values");
    if (series == nullptr || !series->is_scalar()) return item.Error("missing `series`");
    if (values == nullptr || !values->is_scalar()) return item.Error("missing `values`");
    std::size_t rest = 0;
    auto metric = promqltest::ParseSeriesMetric(series->text(), &rest);
    if (!metric.ok()) return NotationError(*series, metric.status().message());
    if (series->text().find_first_not_of(" \t", rest) != std::string::npos) {
      return series->Error("unexpected text after the series' labels");
    }
    auto parsed = promqltest::ParseSeriesValues(values->text());
    if (!parsed.ok()) return NotationError(*values, parsed.status().message());
    const OwnedLabels labels = ToOwned(*metric);
    for (std::size_t i = 0; i < parsed->size(); ++i) {
      if (const auto& v = (*parsed)[i]) {
        collector.Add(labels, static_cast<std::int64_t>(i) * interval, *v);
      }
    }
  }
  collector.Finish(&out);
  return out;
}

Result<ReplayInput> ParseLoadScript(std::string_view content, std::string_view origin) {
  promqltest::MemoryStorage storage;
  NIMIFY_RETURN_IF_ERROR(promqltest::LoadSeriesText(content, origin, &storage));
  SeriesCollector collector;
  for (const promql::Series* series : storage.AllSeries()) {
    const OwnedLabels labels = ToOwned(series->metric);
    for (const auto& p : series->points) collector.Add(labels, p.t, p.v);
  }
  ReplayInput out;
  out.format = ReplayFormat::kLoadScript;
  collector.Finish(&out);
  return out;
}

Result<ReplayInput> ParseRecording(std::string_view content, std::string_view origin) {
  SeriesCollector collector;
  std::size_t offset = 0;
  std::size_t frame = 0;
  while (offset < content.size()) {
    if (content.size() - offset < 4) {
      return Status::InvalidArgument(std::string(origin) + ": frame " + std::to_string(frame) +
                                     " at byte " + std::to_string(offset) +
                                     ": truncated length prefix");
    }
    const auto* b = reinterpret_cast<const unsigned char*>(content.data() + offset);
    const std::uint32_t n = b[0] | (b[1] << 8) | (b[2] << 16) | (std::uint32_t{b[3]} << 24);
    if (content.size() - offset - 4 < n) {
      return Status::InvalidArgument(std::string(origin) + ": frame " + std::to_string(frame) +
                                     " at byte " + std::to_string(offset) + " is truncated");
    }
    ingest::Batch batch;
    Status st = ingest::DecodeRemoteWrite(content.substr(offset + 4, n), ingest::Limits(), &batch);
    if (!st.ok()) {
      return st.WithPrefix(std::string(origin) + ": frame " + std::to_string(frame) + " at byte " +
                           std::to_string(offset));
    }
    for (std::size_t s = 0; s < batch.series_count(); ++s) {
      const ingest::BatchSeries series = batch.series(s);
      OwnedLabels labels;
      for (const auto& l : series.labels)
        labels.push_back({std::string(l.name), std::string(l.value)});
      for (const auto& p : series.samples) collector.Add(labels, p.t, p.v);
    }
    offset += 4 + n;
    ++frame;
  }
  if (frame == 0) return Status::InvalidArgument(std::string(origin) + ": no frames");
  ReplayInput out;
  out.format = ReplayFormat::kRemoteWrite;
  collector.Finish(&out);
  return out;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// The first line that is neither blank nor a `#` comment, trimmed.
std::string_view FirstContentLine(std::string_view content) {
  while (!content.empty()) {
    const std::size_t nl = content.find('\n');
    std::string_view line = content.substr(0, nl);
    content = nl == std::string_view::npos ? std::string_view() : content.substr(nl + 1);
    const std::size_t start = line.find_first_not_of(" \t\r");
    if (start == std::string_view::npos || line[start] == '#') continue;
    line.remove_prefix(start);
    return line;
  }
  return {};
}

}  // namespace

std::string_view ReplayFormatName(ReplayFormat format) noexcept {
  switch (format) {
    case ReplayFormat::kPromtoolTest:
      return "promtool unit test";
    case ReplayFormat::kLoadScript:
      return "load script";
    case ReplayFormat::kRemoteWrite:
      return "remote-write recording";
  }
  return "unknown";
}

Result<ReplayInput> ParseReplayInput(std::string_view content, std::string_view origin,
                                     const ReplayInputOptions& options) {
  // A recording starts with a little-endian frame length: below 16 MiB its
  // last byte is 0, which no text input has.
  const bool binary = content.substr(0, 4).find('\0') != std::string_view::npos;
  if (binary || EndsWith(origin, ".rw") || EndsWith(origin, ".rec")) {
    return ParseRecording(content, origin);
  }
  const std::string_view first = FirstContentLine(content);
  if (first.rfind("load ", 0) == 0 || first.rfind("load\t", 0) == 0) {
    return ParseLoadScript(content, origin);
  }
  NIMIFY_ASSIGN_OR_RETURN(ConfigNode root, ConfigNode::ParseYaml(content, origin));
  if (root.is_map() && root.Find("tests") != nullptr) return ParsePromtool(root, options);
  return Status::InvalidArgument(
      std::string(origin) +
      ": not a replay input: want a promtool unit-test file (with `tests:`), a `load <step>` "
      "script or a remote-write recording (nimify bench --record)");
}

Result<ReplayInput> LoadReplayInput(const std::string& path, const ReplayInputOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path + ": cannot read the file");
  std::ostringstream text;
  text << in.rdbuf();
  return ParseReplayInput(text.str(), path, options);
}

}  // namespace nimify::cli
