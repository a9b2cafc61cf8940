#include "engine/output_store.h"

#include <algorithm>
#include <bit>

namespace nimify::engine {
namespace {

class StoreQuerier final : public promql::Querier {
 public:
  explicit StoreQuerier(const OutputStore* store) : store_(store) {}
  Status Select(std::span<const promql::LabelMatcher> matchers, std::int64_t mint,
                std::int64_t maxt, std::vector<promql::SeriesView>* out) override {
    store_->Select(matchers, mint, maxt, out);
    return Status::Ok();
  }

 private:
  const OutputStore* store_;
};

class UnionQuerier final : public promql::Querier {
 public:
  UnionQuerier(std::unique_ptr<promql::Querier> a, std::unique_ptr<promql::Querier> b)
      : a_(std::move(a)), b_(std::move(b)) {}
  Status Select(std::span<const promql::LabelMatcher> matchers, std::int64_t mint,
                std::int64_t maxt, std::vector<promql::SeriesView>* out) override {
    NIMIFY_RETURN_IF_ERROR(a_->Select(matchers, mint, maxt, out));
    return b_->Select(matchers, mint, maxt, out);
  }
  Status SelectNewest(std::span<const promql::LabelMatcher> matchers, std::int64_t mint,
                      std::int64_t maxt, std::vector<promql::SeriesView>* out) override {
    NIMIFY_RETURN_IF_ERROR(a_->SelectNewest(matchers, mint, maxt, out));
    return b_->SelectNewest(matchers, mint, maxt, out);
  }

 private:
  std::unique_ptr<promql::Querier> a_;
  std::unique_ptr<promql::Querier> b_;
};

class CappedQuerier final : public promql::Querier {
 public:
  CappedQuerier(std::unique_ptr<promql::Querier> inner, std::int64_t max_t)
      : inner_(std::move(inner)), max_t_(max_t) {}
  Status Select(std::span<const promql::LabelMatcher> matchers, std::int64_t mint,
                std::int64_t maxt, std::vector<promql::SeriesView>* out) override {
    // The Querier contract limits both the series and their points to [mint, maxt].
    return inner_->Select(matchers, mint, std::min(maxt, max_t_), out);
  }
  Status SelectNewest(std::span<const promql::LabelMatcher> matchers, std::int64_t mint,
                      std::int64_t maxt, std::vector<promql::SeriesView>* out) override {
    return inner_->SelectNewest(matchers, mint, std::min(maxt, max_t_), out);
  }

 private:
  std::unique_ptr<promql::Querier> inner_;
  std::int64_t max_t_;
};

}  // namespace

Status OutputStore::Append(const promql::Labels& labels, std::int64_t t_ms, double value) {
  if (const std::uint32_t found = Find(labels); found != alerting::HashIndex::kNone) {
    Series& s = series_[found];
    if (!s.points.empty()) {
      const promql::Point& last = s.points.back();
      if (t_ms < last.t) return Status::InvalidArgument("out of order sample");
      if (t_ms == last.t) {
        if (std::bit_cast<std::uint64_t>(value) == std::bit_cast<std::uint64_t>(last.v)) {
          return Status::Ok();
        }
        return Status::InvalidArgument("duplicate sample for timestamp");
      }
    }
    if (s.latest_only && !s.points.empty()) {
      s.points.back() = {t_ms, value};
    } else {
      s.points.push_back({t_ms, value});
    }
    return Status::Ok();
  }
  std::uint32_t index;
  if (!free_.empty()) {
    index = free_.back();
    free_.pop_back();
  } else {
    index = static_cast<std::uint32_t>(series_.size());
    series_.emplace_back();
  }
  Series& s = series_[index];
  s.labels = labels;
  s.points.assign(1, promql::Point{t_ms, value});
  s.live = true;
  s.latest_only = std::find(latest_only_names_.begin(), latest_only_names_.end(),
                            labels.MetricName()) != latest_only_names_.end();
  by_labels_.Insert(labels.Hash(), index);
  by_name_[std::string(labels.MetricName())].push_back(index);
  ++live_series_;
  return Status::Ok();
}

void OutputStore::SetKeepLatestOnly(std::string_view metric_name, bool latest_only) {
  auto it = std::find(latest_only_names_.begin(), latest_only_names_.end(), metric_name);
  if ((it != latest_only_names_.end()) == latest_only) return;
  if (latest_only) {
    latest_only_names_.emplace_back(metric_name);
  } else {
    latest_only_names_.erase(it);
  }
  // Existing series follow from their next sample on (history dropped now is
  // not needed: nothing reads it).
  if (auto ids = by_name_.find(std::string(metric_name)); ids != by_name_.end()) {
    for (std::uint32_t id : ids->second) {
      Series& s = series_[id];
      if (!s.live) continue;
      s.latest_only = latest_only;
      if (latest_only && s.points.size() > 1) s.points.erase(s.points.begin(), s.points.end() - 1);
    }
  }
}

void OutputStore::Trim(std::int64_t now_ms) {
  if (trimmed_once_ && now_ms - last_trim_ms_ < std::max<std::int64_t>(retention_ms_ / 4, 1)) {
    return;
  }
  trimmed_once_ = true;
  last_trim_ms_ = now_ms;
  const std::int64_t horizon = now_ms - retention_ms_;
  bool removed = false;
  for (std::uint32_t i = 0; i < series_.size(); ++i) {
    Series& s = series_[i];
    if (!s.live) continue;
    auto keep = std::lower_bound(s.points.begin(), s.points.end(), horizon,
                                 [](const promql::Point& p, std::int64_t t) { return p.t < t; });
    s.points.erase(s.points.begin(), keep);
    if (!s.points.empty()) continue;
    by_labels_.Erase(s.labels.Hash(), [i](std::uint32_t id) { return id == i; });
    s.live = false;
    s.labels = promql::Labels();
    s.points.shrink_to_fit();
    free_.push_back(i);
    --live_series_;
    removed = true;
  }
  if (!removed) return;
  for (auto it = by_name_.begin(); it != by_name_.end();) {
    auto& ids = it->second;
    ids.erase(std::remove_if(ids.begin(), ids.end(),
                             [&](std::uint32_t id) {
                               return !series_[id].live ||
                                      series_[id].labels.MetricName() != it->first;
                             }),
              ids.end());
    it = ids.empty() ? by_name_.erase(it) : std::next(it);
  }
}

bool OutputStore::Matches(const Series& s, std::span<const promql::LabelMatcher> matchers) const {
  for (const auto& m : matchers) {
    if (!m.Matches(s.labels.Get(m.name()))) return false;
  }
  return true;
}

void OutputStore::AddToSelection(const Series& s, std::int64_t mint, std::int64_t maxt,
                                 std::vector<promql::SeriesView>* out) const {
  auto from = std::lower_bound(s.points.begin(), s.points.end(), mint,
                               [](const promql::Point& p, std::int64_t t) { return p.t < t; });
  auto to = std::upper_bound(from, s.points.end(), maxt,
                             [](std::int64_t t, const promql::Point& p) { return t < p.t; });
  if (from == to) return;
  out->push_back(promql::SeriesView{&s.labels, std::span<const promql::Point>(&*from,
                                                                              static_cast<std::size_t>(to - from))});
}

void OutputStore::Select(std::span<const promql::LabelMatcher> matchers, std::int64_t mint,
                         std::int64_t maxt, std::vector<promql::SeriesView>* out) const {
  if (live_series_ == 0) return;
  for (const auto& m : matchers) {
    if (m.type() != promql::MatchType::kEqual || m.name() != promql::kMetricNameLabel) continue;
    auto it = by_name_.find(m.value());
    if (it == by_name_.end()) return;
    for (std::uint32_t id : it->second) {
      const Series& s = series_[id];
      if (s.live && Matches(s, matchers)) AddToSelection(s, mint, maxt, out);
    }
    return;
  }
  for (const Series& s : series_) {
    if (s.live && Matches(s, matchers)) AddToSelection(s, mint, maxt, out);
  }
}

Result<std::unique_ptr<promql::Querier>> OutputStore::NewQuerier(std::int64_t /*mint*/,
                                                                 std::int64_t /*maxt*/) {
  return std::unique_ptr<promql::Querier>(new StoreQuerier(this));
}

Result<std::unique_ptr<promql::Querier>> UnionQueryable::NewQuerier(std::int64_t mint,
                                                                    std::int64_t maxt) {
  NIMIFY_ASSIGN_OR_RETURN(std::unique_ptr<promql::Querier> a, first_->NewQuerier(mint, maxt));
  NIMIFY_ASSIGN_OR_RETURN(std::unique_ptr<promql::Querier> b, second_->NewQuerier(mint, maxt));
  return std::unique_ptr<promql::Querier>(new UnionQuerier(std::move(a), std::move(b)));
}

}  // namespace nimify::engine

namespace nimify::engine {

Result<std::unique_ptr<promql::Querier>> CappedQueryable::NewQuerier(std::int64_t mint,
                                                                     std::int64_t maxt) {
  NIMIFY_ASSIGN_OR_RETURN(std::unique_ptr<promql::Querier> inner,
                          inner_->NewQuerier(mint, std::min(maxt, max_t_)));
  return std::unique_ptr<promql::Querier>(new CappedQuerier(std::move(inner), max_t_));
}

}  // namespace nimify::engine
