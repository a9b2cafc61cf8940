#include "promqltest/memory_storage.h"

#include <algorithm>
#include <numeric>
#include <string>
#include <utility>

namespace nimify::promqltest {

namespace {

using promql::LabelMatcher;
using promql::Labels;
using promql::MatchType;
using promql::Point;
using promql::Series;
using promql::SeriesView;

// Samples of `points` with mint <= t <= maxt (points are sorted by t).
std::span<const Point> PointsInRange(const std::vector<Point>& points, std::int64_t mint,
                                     std::int64_t maxt) {
  auto first = std::lower_bound(points.begin(), points.end(), mint,
                                [](const Point& p, std::int64_t t) { return p.t < t; });
  auto last = std::upper_bound(first, points.end(), maxt,
                               [](std::int64_t t, const Point& p) { return t < p.t; });
  return {first, last};
}

bool MatchesAll(const Labels& labels, std::span<const LabelMatcher> matchers) {
  for (const auto& m : matchers) {
    if (!m.Matches(labels.Get(m.name()))) return false;
  }
  return true;
}

class MemoryQuerier final : public promql::Querier {
 public:
  MemoryQuerier(const std::vector<Series>* series,
                const std::unordered_map<std::string, std::vector<std::size_t>>* by_name)
      : series_(series), by_name_(by_name) {}

  Status Select(std::span<const LabelMatcher> matchers, std::int64_t mint, std::int64_t maxt,
                std::vector<SeriesView>* out) override {
    if (mint > maxt) return Status::Ok();
    // A `__name__="x"` matcher narrows the scan to one metric's series.
    const std::vector<std::size_t>* candidates = nullptr;
    for (const auto& m : matchers) {
      if (m.type() == MatchType::kEqual && m.name() == promql::kMetricNameLabel) {
        auto it = by_name_->find(m.value());
        if (it == by_name_->end()) return Status::Ok();
        candidates = &it->second;
        break;
      }
    }
    auto consider = [&](const Series& s) {
      if (!MatchesAll(s.metric, matchers)) return;
      auto points = PointsInRange(s.points, mint, maxt);
      if (points.empty()) return;
      out->push_back(SeriesView{&s.metric, points});
    };
    if (candidates != nullptr) {
      for (std::size_t i : *candidates) consider((*series_)[i]);
    } else {
      for (const auto& s : *series_) consider(s);
    }
    return Status::Ok();
  }

 private:
  const std::vector<Series>* series_;
  const std::unordered_map<std::string, std::vector<std::size_t>>* by_name_;
};

}  // namespace

std::ptrdiff_t MemoryStorage::Find(const Labels& labels, std::uint64_t hash) const {
  auto it = by_hash_.find(hash);
  if (it == by_hash_.end()) return -1;
  for (std::size_t i : it->second) {
    if (series_[i].metric == labels) return static_cast<std::ptrdiff_t>(i);
  }
  return -1;
}

Status MemoryStorage::Append(const Labels& labels, std::int64_t t_ms, double value) {
  if (labels.empty()) return Status::InvalidArgument("cannot append a sample with no labels");
  const std::uint64_t hash = labels.Hash();
  const std::ptrdiff_t index = Find(labels, hash);
  if (index < 0) {
    by_hash_[hash].push_back(series_.size());
    by_name_[std::string(labels.MetricName())].push_back(series_.size());
    series_.push_back(Series{labels, {Point{t_ms, value}}, false});
    return Status::Ok();
  }
  auto& points = series_[static_cast<std::size_t>(index)].points;
  if (!points.empty() && points.back().t == t_ms) {
    points.back().v = value;
    return Status::Ok();
  }
  if (!points.empty() && points.back().t > t_ms) {
    return Status::InvalidArgument("out of order sample for " + labels.ToString() + " at " +
                                   std::to_string(t_ms) + "ms (newest is " +
                                   std::to_string(points.back().t) + "ms)");
  }
  points.push_back(Point{t_ms, value});
  return Status::Ok();
}

void MemoryStorage::Clear() {
  series_.clear();
  by_hash_.clear();
  by_name_.clear();
}

std::vector<const promql::Series*> MemoryStorage::AllSeries() const {
  std::vector<const promql::Series*> out;
  out.reserve(series_.size());
  for (const Series& s : series_) out.push_back(&s);
  std::sort(out.begin(), out.end(),
            [](const Series* a, const Series* b) { return a->metric < b->metric; });
  return out;
}

Result<std::unique_ptr<promql::Querier>> MemoryStorage::NewQuerier(std::int64_t /*mint*/,
                                                                   std::int64_t /*maxt*/) {
  return std::unique_ptr<promql::Querier>(std::make_unique<MemoryQuerier>(&series_, &by_name_));
}

}  // namespace nimify::promqltest
