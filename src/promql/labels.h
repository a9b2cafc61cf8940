// Label sets as PromQL sees them: a vector of (name, value) pairs sorted by
// name, names unique. `__name__` is an ordinary label here.
#ifndef NIMIFY_PROMQL_LABELS_H_
#define NIMIFY_PROMQL_LABELS_H_

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nimify::promql {

inline constexpr std::string_view kMetricNameLabel = "__name__";

struct Label {
  std::string name;
  std::string value;
  friend bool operator==(const Label&, const Label&) = default;
};

// Sorted by name; at most one label per name; no label has an empty value
// (an empty value means "absent", as in Prometheus).
class Labels {
 public:
  Labels() = default;
  // Sorts; a later duplicate name overwrites an earlier one; empty values dropped.
  Labels(std::initializer_list<Label> labels);
  static Labels FromUnsorted(std::vector<Label> labels);

  const std::vector<Label>& items() const noexcept { return labels_; }
  std::size_t size() const noexcept { return labels_.size(); }
  bool empty() const noexcept { return labels_.empty(); }
  auto begin() const noexcept { return labels_.begin(); }
  auto end() const noexcept { return labels_.end(); }

  // Empty string when absent.
  std::string_view Get(std::string_view name) const noexcept;
  bool Has(std::string_view name) const noexcept;
  // Empty value deletes.
  void Set(std::string_view name, std::string_view value);
  void Del(std::string_view name);
  std::string_view MetricName() const noexcept { return Get(kMetricNameLabel); }
  Labels WithoutMetricName() const;

  // Keeps only `names` (on / by), or drops `names` (ignoring / without).
  // `drop_metric_name` also drops __name__ in the "keep" case only if listed.
  Labels KeepOnly(const std::vector<std::string>& names) const;
  Labels Drop(const std::vector<std::string>& names, bool also_drop_metric_name) const;

  // Stable 64-bit hash of the whole set (names and values, with separators).
  std::uint64_t Hash() const noexcept;

  // Prometheus notation: `name{a="b", c="d"}`, or `{a="b"}` without a name,
  // `{}` when empty. Values are escaped as Go's %q does.
  std::string ToString() const;

  friend bool operator==(const Labels& a, const Labels& b) noexcept {
    return a.labels_ == b.labels_;
  }
  // Prometheus's labels.Compare: by name, then value, label by label; shorter first.
  friend bool operator<(const Labels& a, const Labels& b) noexcept { return Compare(a, b) < 0; }
  static int Compare(const Labels& a, const Labels& b) noexcept;

 private:
  std::vector<Label> labels_;
};

// Builds a label set with few reallocations; not sorted until Build().
class LabelsBuilder {
 public:
  explicit LabelsBuilder(const Labels& base) : labels_(base.items()) {}
  LabelsBuilder() = default;
  void Set(std::string_view name, std::string_view value);
  void Del(std::string_view name);
  Labels Build() const;

 private:
  std::vector<Label> labels_;
};

// Go's strconv.Quote-style escaping, as Prometheus prints label values.
std::string QuoteLabelValue(std::string_view value);

// Valid Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*).
bool IsValidLabelName(std::string_view name) noexcept;
// Valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*).
bool IsValidMetricName(std::string_view name) noexcept;

}  // namespace nimify::promql

#endif  // NIMIFY_PROMQL_LABELS_H_
