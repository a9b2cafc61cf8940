#include "ingest/series_checks.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

namespace nimify::ingest::internal {

std::string Quote(std::string_view text) {
  constexpr std::size_t kMaxShown = 64;
  const bool cut = text.size() > kMaxShown;
  std::string out = promql::QuoteLabelValue(text.substr(0, kMaxShown));
  if (cut) out += "...";
  return out;
}

Status CheckLabel(std::string_view name, std::string_view value, const Limits& limits) {
  if (name.size() > limits.max_label_name_bytes) {
    return Status::ResourceExhausted("label name " + Quote(name) + " is " +
                                     std::to_string(name.size()) + " bytes, over the limit of " +
                                     std::to_string(limits.max_label_name_bytes));
  }
  if (!IsLabelName(name)) {
    return Status::InvalidArgument("invalid label name " + Quote(name) +
                                   " (want [a-zA-Z_][a-zA-Z0-9_]*)");
  }
  if (value.size() > limits.max_label_value_bytes) {
    return Status::ResourceExhausted("value of label " + Quote(name) + " is " +
                                     std::to_string(value.size()) + " bytes, over the limit of " +
                                     std::to_string(limits.max_label_value_bytes));
  }
  if (!IsValidUtf8(value)) {
    return Status::InvalidArgument("value of label " + Quote(name) + " is not valid UTF-8");
  }
  if (name == promql::kMetricNameLabel && !value.empty() && !IsMetricName(value)) {
    return Status::InvalidArgument("invalid metric name " + Quote(value) +
                                   " (want [a-zA-Z_:][a-zA-Z0-9_:]*)");
  }
  return Status::Ok();
}

Status LabelCountError(const Limits& limits) {
  return Status::ResourceExhausted("more than the limit of " +
                                   std::to_string(limits.max_labels_per_series) +
                                   " labels in one series");
}

Status FinishLabels(BatchBuilder& builder, const Limits& limits) {
  std::span<LabelPair> labels = builder.pending_labels();
  // One pass finds both disorder and duplicates; sorting is rarely needed.
  bool sorted = true;
  for (std::size_t i = 1; i < labels.size(); ++i) {
    const int c = labels[i - 1].name.compare(labels[i].name);
    if (c == 0) return Status::InvalidArgument("duplicate label name " + Quote(labels[i].name));
    if (c > 0) sorted = false;
  }
  if (!sorted) {
    std::sort(labels.begin(), labels.end(),
              [](const LabelPair& a, const LabelPair& b) { return a.name < b.name; });
    for (std::size_t i = 1; i < labels.size(); ++i) {
      if (labels[i].name == labels[i - 1].name) {
        return Status::InvalidArgument("duplicate label name " + Quote(labels[i].name));
      }
    }
  }
  // Drop empty values, keeping the order.
  std::size_t kept = 0;
  bool has_name = false;
  for (const LabelPair& l : labels) {
    if (l.value.empty()) continue;
    if (l.name == promql::kMetricNameLabel) has_name = true;
    labels[kept++] = l;
  }
  builder.PopLabels(labels.size() - kept);
  if (limits.require_metric_name && !has_name) {
    return Status::InvalidArgument("series has no metric name (__name__ label)");
  }
  return Status::Ok();
}

}  // namespace nimify::ingest::internal
