// histogram_quantile and histogram_fraction over classic `le` buckets.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <unordered_map>
#include <vector>

#include "promql/eval/eval_internal.h"

namespace nimify::promql::eval_internal {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr std::string_view kBucketLabel = "le";
// Relative differences below this between buckets are float noise (Prometheus 3).
constexpr double kSmallDeltaTolerance = 1e-12;

struct Bucket {
  double upper_bound;
  double count;
};

struct BucketGroup {
  LabelsRef metric;  // labels without `le`
  std::vector<Bucket> buckets;
};

// Prometheus's util/almost.Equal.
bool AlmostEqual(double a, double b, double epsilon) {
  if (std::isnan(a) && std::isnan(b)) return true;
  if (a == b) return true;
  constexpr double kMinNormal = 2.2250738585072014e-308;
  const double abs_sum = std::fabs(a) + std::fabs(b);
  const double diff = std::fabs(a - b);
  if (a == 0 || b == 0 || abs_sum < kMinNormal) return diff < epsilon * kMinNormal;
  return diff / std::min(abs_sum, std::numeric_limits<double>::max()) < epsilon;
}

void SortBuckets(std::vector<Bucket>* b) {
  SafeStableSort(b, [](const Bucket& x, const Bucket& y) { return x.upper_bound < y.upper_bound; });
}

// Merges buckets with the same upper bound (the input is sorted).
void CoalesceBuckets(std::vector<Bucket>* b) {
  std::size_t i = 0;
  Bucket last = (*b)[0];
  for (std::size_t k = 1; k < b->size(); ++k) {
    if ((*b)[k].upper_bound == last.upper_bound) {
      last.count += (*b)[k].count;
    } else {
      (*b)[i++] = last;
      last = (*b)[k];
    }
  }
  (*b)[i] = last;
  b->resize(i + 1);
}

struct MonotonicityFix {
  bool forced = false;
  double min_bucket = kInf;
  double max_bucket = -kInf;
  double max_diff = 0;
};

MonotonicityFix EnsureMonotonic(std::vector<Bucket>* b, bool v2) {
  MonotonicityFix fix;
  if (v2) {
    double max = (*b)[0].count;
    for (std::size_t i = 1; i < b->size(); ++i) {
      if ((*b)[i].count > max) {
        max = (*b)[i].count;
      } else if ((*b)[i].count < max) {
        (*b)[i].count = max;
      }
    }
    return fix;
  }
  double prev = (*b)[0].count;
  for (std::size_t i = 1; i < b->size(); ++i) {
    const double curr = (*b)[i].count;
    if (curr == prev) continue;
    if (AlmostEqual(prev, curr, kSmallDeltaTolerance)) {
      (*b)[i].count = prev;
      continue;
    }
    if (curr < prev) {
      (*b)[i].count = prev;
      fix.forced = true;
      fix.min_bucket = std::min(fix.min_bucket, (*b)[i].upper_bound);
      fix.max_bucket = std::max(fix.max_bucket, (*b)[i].upper_bound);
      fix.max_diff = std::max(fix.max_diff, prev - curr);
      continue;
    }
    prev = curr;
  }
  return fix;
}

double BucketQuantile(double q, std::vector<Bucket>* buckets, bool v2, MonotonicityFix* fix) {
  if (std::isnan(q)) return kNaN;
  if (q < 0) return -kInf;
  if (q > 1) return kInf;
  SortBuckets(buckets);
  if (!std::isinf(buckets->back().upper_bound) || buckets->back().upper_bound < 0) return kNaN;
  CoalesceBuckets(buckets);
  *fix = EnsureMonotonic(buckets, v2);
  const auto& b = *buckets;
  if (b.size() < 2) return kNaN;
  const double observations = b.back().count;
  if (observations == 0) return kNaN;
  double rank = q * observations;
  // The first bucket (excluding +Inf) whose count reaches the rank.
  std::size_t idx = 0;
  {
    std::size_t lo = 0, hi = b.size() - 1;
    while (lo < hi) {
      const std::size_t mid = lo + (hi - lo) / 2;
      if (b[mid].count >= rank) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    idx = lo;
  }
  if (idx == b.size() - 1) return b[b.size() - 2].upper_bound;
  if (idx == 0 && b[0].upper_bound <= 0) return b[0].upper_bound;
  double bucket_start = 0;
  const double bucket_end = b[idx].upper_bound;
  double count = b[idx].count;
  if (idx > 0) {
    bucket_start = b[idx - 1].upper_bound;
    count -= b[idx - 1].count;
    rank -= b[idx - 1].count;
  }
  return bucket_start + (bucket_end - bucket_start) * (rank / count);
}

double BucketFraction(double lower, double upper, std::vector<Bucket>* buckets) {
  SortBuckets(buckets);
  if (!std::isinf(buckets->back().upper_bound) || buckets->back().upper_bound < 0) return kNaN;
  CoalesceBuckets(buckets);
  const auto& b = *buckets;
  const double count = b.back().count;
  if (count == 0 || std::isnan(lower) || std::isnan(upper)) return kNaN;
  if (lower >= upper) return 0;
  double rank = 0, lower_rank = 0, upper_rank = 0;
  bool lower_set = false, upper_set = false;
  double lower_bound = b[0].upper_bound <= 0 ? -kInf : 0.0;
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (i > 0) lower_bound = b[i - 1].upper_bound;
    const double upper_bound = b[i].upper_bound;
    auto interpolate = [&](double v) {
      if (lower_bound == -kInf) return b[i].count;
      return rank + (b[i].count - rank) * (v - lower_bound) / (upper_bound - lower_bound);
    };
    if (!lower_set && lower_bound >= lower) {
      lower_rank = rank;
      lower_set = true;
    }
    if (!upper_set && lower_bound >= upper) {
      upper_rank = rank;
      upper_set = true;
    }
    if (lower_set && upper_set) break;
    if (!lower_set && lower_bound < lower && upper_bound > lower) {
      lower_rank = interpolate(lower);
      lower_set = true;
    }
    if (!upper_set && lower_bound < upper && upper_bound > upper) {
      upper_rank = interpolate(upper);
      upper_set = true;
    }
    if (lower_set && upper_set) break;
    rank = b[i].count;
  }
  if (!lower_set || lower_rank > count) lower_rank = count;
  if (!upper_set || upper_rank > count) upper_rank = count;
  return (upper_rank - lower_rank) / count;
}

// Groups classic buckets by their labels without `le` (Prometheus's
// resetHistograms). Group order follows first appearance.
void GroupBuckets(QueryCtx* q, const EVector& in, PosRange arg_pos, NodeHelper* enh,
                  std::vector<BucketGroup>* groups) {
  static const std::string kLe(kBucketLabel);
  const std::span<const std::string> le_only(&kLe, 1);
  IndexMap index(in.size());
  for (const ESample& s : in) {
    double upper = 0;
    if (!ParseGoFloat(GetLabel(s.metric, kBucketLabel), &upper)) {
      std::string msg =
          "PromQL warning: bucket label \"le\" is missing or has a malformed value of " +
          GoQuote(GetLabel(s.metric, kBucketLabel));
      const std::string_view name = GetLabel(s.metric, kMetricNameLabel);
      if (q->delayed && !name.empty()) msg += " for metric name " + GoQuote(name);
      q->Warn(std::move(msg), arg_pos);
      continue;
    }
    const std::uint64_t key = HashExcluding(s.metric, le_only);
    auto [gi, inserted] = index.TryEmplace(key, static_cast<std::uint32_t>(groups->size()));
    if (inserted) {
      auto cached = enh->group_labels.find(key);
      LabelsRef metric;
      if (cached != enh->group_labels.end()) {
        metric = cached->second;
      } else {
        Labels l = Materialize(s.metric);
        l.Del(kBucketLabel);
        if (q->v2) l.Del(kMetricNameLabel);
        metric = q->Intern(std::move(l));
        enh->group_labels.emplace(key, metric);
      }
      groups->push_back(BucketGroup{metric, {}});
    }
    (*groups)[gi].buckets.push_back(Bucket{upper, s.f});
  }
}

}  // namespace

Status HistogramQuantileFn(QueryCtx* q, const Call& c, double quantile, const EVector& in,
                           NodeHelper* enh, EVector* out) {
  if (std::isnan(quantile) || quantile < 0 || quantile > 1) {
    q->Warn("PromQL warning: quantile value should be between 0 and 1, got " + FormatGoG(quantile),
            Unparen(*c.args[0]).pos);
  }
  const PosRange pos = Unparen(*c.args[1]).pos;
  std::vector<BucketGroup> groups;
  GroupBuckets(q, in, pos, enh, &groups);
  for (BucketGroup& g : groups) {
    MonotonicityFix fix;
    const double v = BucketQuantile(quantile, &g.buckets, q->v2, &fix);
    if (fix.forced && !q->v2) {
      std::string msg =
          "PromQL info: input to histogram_quantile needed to be fixed for monotonicity (see "
          "https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile)";
      const std::string_view name = GetLabel(g.metric, kMetricNameLabel);
      if (q->delayed && !name.empty()) msg += " for metric name " + GoQuote(name);
      q->annos.AddForcedMonotonicity(std::move(msg), pos, enh->ts, fix.min_bucket, fix.max_bucket,
                                     fix.max_diff);
    }
    ESample s;
    s.metric = (q->v2 || !q->delayed) ? q->DropName(g.metric) : g.metric;
    s.drop_name = true;
    s.f = v;
    s.t = enh->ts;
    out->push_back(s);
  }
  return Status::Ok();
}

Status HistogramFractionFn(QueryCtx* q, const Call& c, double lower, double upper,
                           const EVector& in, NodeHelper* enh, EVector* out) {
  const PosRange pos = Unparen(*c.args[2]).pos;
  std::vector<BucketGroup> groups;
  GroupBuckets(q, in, pos, enh, &groups);
  for (BucketGroup& g : groups) {
    ESample s;
    s.metric = (q->v2 || !q->delayed) ? q->DropName(g.metric) : g.metric;
    s.drop_name = true;
    s.f = BucketFraction(lower, upper, &g.buckets);
    s.t = enh->ts;
    out->push_back(s);
  }
  return Status::Ok();
}

}  // namespace nimify::promql::eval_internal
