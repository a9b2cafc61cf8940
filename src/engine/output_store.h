// Where rule outputs live: recording-rule samples, ALERTS, ALERTS_FOR_STATE
// and their staleness markers, kept for the retention the rules need, and
// readable as a promql::Queryable so that later rules see earlier outputs.
//
//   OutputStore outputs(/*retention_ms=*/10 * 60'000);
//   group->Eval(t, query, &outputs, nullptr);         // outputs is the SampleAppender
//   UnionQueryable view(&cut_storage, &outputs);      // what the next query reads
#ifndef NIMIFY_ENGINE_OUTPUT_STORE_H_
#define NIMIFY_ENGINE_OUTPUT_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "alerting/group.h"
#include "alerting/hash_index.h"
#include "nimify/status.h"
#include "promql/labels.h"
#include "promql/storage.h"
#include "promql/value.h"

namespace nimify::engine {

// Thread safety: none. The engine uses it only while it holds its evaluation
// lock. A Querier's views are valid until the next Append or Trim.
class OutputStore final : public alerting::SampleAppender, public promql::Queryable {
 public:
  explicit OutputStore(std::int64_t retention_ms) : retention_ms_(retention_ms) {}

  // TSDB's append rules: older than the series' newest sample is "out of order
  // sample"; the same timestamp with other value bits is "duplicate sample for
  // timestamp"; the same sample again is a no-op.
  Status Append(const promql::Labels& labels, std::int64_t t_ms, double value) override;

  Result<std::unique_ptr<promql::Querier>> NewQuerier(std::int64_t mint,
                                                      std::int64_t maxt) override;

  // Drops samples older than now_ms - retention (and series left empty).
  // Cheap to call often: it does the work at most once per retention/4.
  void Trim(std::int64_t now_ms);

  std::size_t series_count() const noexcept { return live_series_; }

  // Series named `metric_name` keep only their newest sample instead of the
  // whole retention: for outputs no rule reads (ALERTS_FOR_STATE, unless a
  // rule selects it), where the history would only cost memory. Instant
  // queries still see the current value; the append rules still hold.
  void SetKeepLatestOnly(std::string_view metric_name, bool latest_only);

  // Appends the matching series with a sample in [mint, maxt]; the views
  // point into the store.
  void Select(std::span<const promql::LabelMatcher> matchers, std::int64_t mint,
              std::int64_t maxt, std::vector<promql::SeriesView>* out) const;

 private:
  struct Series {
    promql::Labels labels;
    std::vector<promql::Point> points;  // sorted by time
    bool live = false;
    bool latest_only = false;  // see SetKeepLatestOnly
  };

  std::uint32_t Find(const promql::Labels& labels) const {
    return by_labels_.Find(labels.Hash(),
                           [&](std::uint32_t id) { return series_[id].labels == labels; });
  }
  bool Matches(const Series& s, std::span<const promql::LabelMatcher> matchers) const;
  void AddToSelection(const Series& s, std::int64_t mint, std::int64_t maxt,
                      std::vector<promql::SeriesView>* out) const;

  const std::int64_t retention_ms_;
  std::vector<Series> series_;
  std::vector<std::uint32_t> free_;
  // series_ indexes by their labels' cached hash (flat: no node per series).
  alerting::HashIndex by_labels_;
  std::unordered_map<std::string, std::vector<std::uint32_t>> by_name_;
  std::vector<std::string> latest_only_names_;
  std::size_t live_series_ = 0;
  std::int64_t last_trim_ms_ = 0;
  bool trimmed_once_ = false;
};

// The union of two Queryables (the shards at a cut, and the rule outputs).
// Thread safety: as its parts; one query at a time.
class UnionQueryable final : public promql::Queryable {
 public:
  UnionQueryable(promql::Queryable* first, promql::Queryable* second)
      : first_(first), second_(second) {}
  Result<std::unique_ptr<promql::Querier>> NewQuerier(std::int64_t mint,
                                                      std::int64_t maxt) override;

 private:
  promql::Queryable* first_;
  promql::Queryable* second_;
};

// A Queryable that shows only the samples with timestamps <= max_t: the
// view of a cut as it was at an earlier instant. Thread safety: as `inner`.
class CappedQueryable final : public promql::Queryable {
 public:
  CappedQueryable(promql::Queryable* inner, std::int64_t max_t) : inner_(inner), max_t_(max_t) {}
  Result<std::unique_ptr<promql::Querier>> NewQuerier(std::int64_t mint,
                                                      std::int64_t maxt) override;

 private:
  promql::Queryable* inner_;
  std::int64_t max_t_;
};

}  // namespace nimify::engine

#endif  // NIMIFY_ENGINE_OUTPUT_STORE_H_
