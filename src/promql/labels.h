// Label sets as PromQL sees them: a vector of (name, value) pairs sorted by
// name, names unique. `__name__` is an ordinary label here.
#ifndef NIMIFY_PROMQL_LABELS_H_
#define NIMIFY_PROMQL_LABELS_H_

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <memory>
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
//
// Copies share one reference-counted representation, which also caches the
// hash: copying a label set into a sample, an alert or a map key costs no
// allocation, and a set is hashed once however many maps look it up.
// Mutation copies the representation first when it is shared.
// Thread safety: as std::string. Const methods on copies sharing a
// representation are safe from any thread (the cached hash is atomic).
class Labels {
 public:
  Labels() = default;
  // Sorts; a later duplicate name overwrites an earlier one; empty values dropped.
  Labels(std::initializer_list<Label> labels);
  static Labels FromUnsorted(std::vector<Label> labels);
  // REQUIRES: already sorted by name, names unique, no empty value (checked
  // in debug builds). Skips the sort, for label sets read from storage.
  static Labels FromSorted(std::vector<Label> labels);

  const std::vector<Label>& items() const noexcept { return rep_ ? rep_->labels : kNoLabels; }
  std::size_t size() const noexcept { return items().size(); }
  bool empty() const noexcept { return items().empty(); }
  auto begin() const noexcept { return items().begin(); }
  auto end() const noexcept { return items().end(); }

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

  // Stable 64-bit hash of the whole set (names and values, with separators),
  // computed once per representation.
  std::uint64_t Hash() const noexcept;

  // A second cached hash, whose function the caller supplies: the evaluator
  // (promql/eval) keeps there its hash of the set without __name__, the
  // signature of default vector matching, which it would otherwise recompute
  // from every label string of every series at every evaluation. `compute`
  // runs on a miss and must return the same value for the same labels on every
  // call, from every caller; 0 means "nothing cached". Same thread safety as Hash().
  template <typename Compute>
  std::uint64_t SecondaryHash(Compute&& compute) const noexcept {
    if (!rep_) return compute(*this);
    std::uint64_t h = rep_->secondary_hash.load(std::memory_order_relaxed);
    if (h == 0) {
      h = compute(*this);
      rep_->secondary_hash.store(h, std::memory_order_relaxed);
    }
    return h;
  }

  // Prometheus notation: `name{a="b", c="d"}`, or `{a="b"}` without a name,
  // `{}` when empty. Values are escaped as Go's %q does.
  std::string ToString() const;

  friend bool operator==(const Labels& a, const Labels& b) noexcept { return Equal(a, b); }
  // Prometheus's labels.Compare: by name, then value, label by label; shorter first.
  friend bool operator<(const Labels& a, const Labels& b) noexcept { return Compare(a, b) < 0; }
  static int Compare(const Labels& a, const Labels& b) noexcept;

 private:
  struct Rep {
    std::vector<Label> labels;
    // 0: not computed yet (a set whose hash is 0 is rehashed each time).
    // Relaxed: every thread computes the same value.
    mutable std::atomic<std::uint64_t> hash{0};
    // SecondaryHash's slot, under the same rules. The representation and its
    // control block still fit malloc's 64-byte chunk with it.
    mutable std::atomic<std::uint64_t> secondary_hash{0};
  };
  static const std::vector<Label> kNoLabels;
  static bool Equal(const Labels& a, const Labels& b) noexcept;
  // The labels to modify: a representation of this set's own.
  std::vector<Label>& Mutable();

  std::shared_ptr<Rep> rep_;  // null: empty; shared reps are never modified
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
