// Range-vector functions: one value from the samples of one series' window.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "promql/eval/eval_internal.h"

namespace nimify::promql::eval_internal {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Prometheus's extrapolatedRate for float samples (rate, increase, delta).
bool ExtrapolatedRate(const RangeFnArgs& a, bool v2, bool is_counter, bool is_rate, double* out) {
  const auto& s = a.points;
  if (s.size() < 2) return false;
  const Point& first = s.front();
  const Point& last = s.back();
  double result = last.v - first.v;
  if (is_counter) {
    for (std::size_t i = 1; i < s.size(); ++i) {
      if (s[i].v < s[i - 1].v) result += s[i - 1].v;
    }
  }
  double to_start = static_cast<double>(first.t - a.range_start) / 1000;
  double to_end = static_cast<double>(a.range_end - last.t) / 1000;
  const double sampled = static_cast<double>(last.t - first.t) / 1000;
  const double avg = sampled / static_cast<double>(s.size() - 1);
  const double threshold = avg * 1.1;
  double factor = 1;
  if (v2) {
    if (is_counter && result > 0 && first.v >= 0) {
      const double to_zero = sampled * (first.v / result);
      if (to_zero < to_start) to_start = to_zero;
    }
    double interval = sampled;
    interval += to_start < threshold ? to_start : avg / 2;
    interval += to_end < threshold ? to_end : avg / 2;
    factor = interval / sampled;
  } else {
    if (to_start >= threshold) to_start = avg / 2;
    if (is_counter) {
      // A counter cannot go below zero: do not extrapolate past its zero point.
      double to_zero = to_start;
      if (result > 0 && first.v >= 0) to_zero = sampled * (first.v / result);
      if (to_zero < to_start) to_start = to_zero;
    }
    if (to_end >= threshold) to_end = avg / 2;
    if (sampled != 0) factor = (sampled + to_start + to_end) / sampled;
  }
  if (is_rate) factor /= static_cast<double>(a.range_ms) / 1000;
  *out = result * factor;
  return true;
}

// irate and idelta: the last two samples.
bool InstantValue(const RangeFnArgs& a, bool is_rate, double* out) {
  const auto& s = a.points;
  if (s.size() < 2) return false;
  const Point& prev = s[s.size() - 2];
  const Point& last = s.back();
  const std::int64_t interval = last.t - prev.t;
  if (interval == 0) return false;
  double result = last.v;
  if (!is_rate || !(last.v < prev.v)) result = last.v - prev.v;
  if (is_rate) result /= static_cast<double>(interval) / 1000;
  *out = result;
  return true;
}

// Least squares; Prometheus 3 uses the Inf-aware Kahan increment.
void LinearRegression(std::span<const Point> s, std::int64_t intercept_time, bool v2, double* slope,
                      double* intercept) {
  double n = 0, sum_x = 0, c_x = 0, sum_y = 0, c_y = 0, sum_xy = 0, c_xy = 0, sum_x2 = 0, c_x2 = 0;
  const double init_y = s[0].v;
  bool const_y = true;
  auto inc = v2 ? &KahanIncV2 : &KahanInc;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const Point& p = s[i];
    if (const_y && i > 0 && p.v != init_y) const_y = false;
    n += 1;
    const double x = static_cast<double>(p.t - intercept_time) / 1e3;
    inc(x, &sum_x, &c_x);
    inc(p.v, &sum_y, &c_y);
    inc(x * p.v, &sum_xy, &c_xy);
    inc(x * x, &sum_x2, &c_x2);
  }
  if (const_y) {
    if (std::isinf(init_y)) {
      *slope = kNaN;
      *intercept = kNaN;
      return;
    }
    *slope = 0;
    *intercept = init_y;
    return;
  }
  sum_x += c_x;
  sum_y += c_y;
  sum_xy += c_xy;
  sum_x2 += c_x2;
  const double cov_xy = sum_xy - sum_x * sum_y / n;
  const double var_x = sum_x2 - sum_x * sum_x / n;
  *slope = cov_xy / var_x;
  *intercept = sum_y / n - *slope * sum_x / n;
}

double AvgOverTime(std::span<const Point> s, bool v2) {
  if (v2) {
    // Prometheus 2: incremental mean with Kahan compensation.
    double mean = 0, count = 0, c = 0;
    for (const Point& p : s) {
      count++;
      if (std::isinf(mean)) {
        if (std::isinf(p.v) && (mean > 0) == (p.v > 0)) continue;
        if (!std::isinf(p.v) && !std::isnan(p.v)) continue;
      }
      KahanIncV2(p.v / count - mean / count, &mean, &c);
    }
    if (std::isinf(mean)) return mean;
    return mean + c;
  }
  // Prometheus 3: direct mean until the sum would overflow, then incremental.
  RunningMean m;
  m.Start(s[0].v);
  for (std::size_t i = 1; i < s.size(); ++i) m.Add(s[i].v);
  return m.Result();
}

double Variance(std::span<const Point> s, bool v2) {
  double count = 0, mean = 0, c_mean = 0, aux = 0, c_aux = 0;
  auto inc = v2 ? &KahanIncV2 : &KahanInc;
  for (const Point& p : s) {
    count++;
    const double delta = p.v - (mean + c_mean);
    inc(delta / count, &mean, &c_mean);
    inc(delta * (p.v - (mean + c_mean)), &aux, &c_aux);
  }
  return (aux + c_aux) / count;
}

double CompareOverTime(std::span<const Point> s, bool take_max, bool or_equal, bool timestamp) {
  double best = s[0].v;
  std::int64_t best_t = s[0].t;
  for (const Point& p : s) {
    bool better;
    if (take_max) {
      better = or_equal ? p.v >= best : p.v > best;
    } else {
      better = or_equal ? p.v <= best : p.v < best;
    }
    if (better || std::isnan(best)) {
      best = p.v;
      best_t = p.t;
    }
  }
  return timestamp ? static_cast<double>(best_t) / 1000 : best;
}

}  // namespace

double Quantile(double q, std::vector<double>* values) {
  if (values->empty() || std::isnan(q)) return kNaN;
  if (q < 0) return -std::numeric_limits<double>::infinity();
  if (q > 1) return std::numeric_limits<double>::infinity();
  // Go's vectorByValueHeap order: NaN first, then ascending.
  SafeStableSort(values, [](double a, double b) { return std::isnan(a) || a < b; });
  const double n = static_cast<double>(values->size());
  const double rank = q * (n - 1);
  const double lower = std::max(0.0, std::floor(rank));
  const double upper = std::min(n - 1, lower + 1);
  const double weight = rank - std::floor(rank);
  return (*values)[static_cast<std::size_t>(lower)] * (1 - weight) +
         (*values)[static_cast<std::size_t>(upper)] * weight;
}

Status CallRangeFn(FnKind kind, const RangeFnArgs& a, QueryCtx* q, double* out, bool* ok) {
  const auto& s = a.points;
  const bool v2 = q->v2;
  *ok = true;
  switch (kind) {
    case FnKind::kRate:
      *ok = ExtrapolatedRate(a, v2, true, true, out);
      return Status::Ok();
    case FnKind::kIncrease:
      *ok = ExtrapolatedRate(a, v2, true, false, out);
      return Status::Ok();
    case FnKind::kDelta:
      *ok = ExtrapolatedRate(a, v2, false, false, out);
      return Status::Ok();
    case FnKind::kIrate:
      *ok = InstantValue(a, true, out);
      return Status::Ok();
    case FnKind::kIdelta:
      *ok = InstantValue(a, false, out);
      return Status::Ok();
    case FnKind::kDeriv: {
      if (s.size() < 2) {
        *ok = false;
        return Status::Ok();
      }
      double slope, intercept;
      LinearRegression(s, s[0].t, v2, &slope, &intercept);
      *out = slope;
      return Status::Ok();
    }
    case FnKind::kPredictLinear: {
      if (s.size() < 2 || a.params.empty()) {
        *ok = false;
        return Status::Ok();
      }
      double slope, intercept;
      LinearRegression(s, a.ts, v2, &slope, &intercept);
      *out = slope * a.params[0] + intercept;
      return Status::Ok();
    }
    case FnKind::kChanges: {
      int changes = 0;
      for (std::size_t i = 1; i < s.size(); ++i) {
        const double cur = s[i].v, prev = s[i - 1].v;
        if (cur != prev && !(std::isnan(cur) && std::isnan(prev))) ++changes;
      }
      *out = changes;
      return Status::Ok();
    }
    case FnKind::kResets: {
      int resets = 0;
      for (std::size_t i = 1; i < s.size(); ++i) {
        if (s[i].v < s[i - 1].v) ++resets;
      }
      *out = resets;
      return Status::Ok();
    }
    case FnKind::kAvgOverTime:
      *out = AvgOverTime(s, v2);
      return Status::Ok();
    case FnKind::kCountOverTime:
      *out = static_cast<double>(s.size());
      return Status::Ok();
    case FnKind::kSumOverTime: {
      double sum = 0, c = 0;
      for (const Point& p : s) v2 ? KahanIncV2(p.v, &sum, &c) : KahanInc(p.v, &sum, &c);
      *out = std::isinf(sum) ? sum : sum + c;
      return Status::Ok();
    }
    case FnKind::kMinOverTime:
      *out = CompareOverTime(s, false, false, false);
      return Status::Ok();
    case FnKind::kMaxOverTime:
      *out = CompareOverTime(s, true, false, false);
      return Status::Ok();
    case FnKind::kTsOfMinOverTime:
      *out = CompareOverTime(s, false, true, true);
      return Status::Ok();
    case FnKind::kTsOfMaxOverTime:
      *out = CompareOverTime(s, true, true, true);
      return Status::Ok();
    case FnKind::kQuantileOverTime: {
      if (a.params.empty()) {
        *ok = false;
        return Status::Ok();
      }
      const double phi = a.params[0];
      if (std::isnan(phi) || phi < 0 || phi > 1) {
        q->Warn("PromQL warning: quantile value should be between 0 and 1, got " + FormatGoG(phi),
                a.arg_pos);
      }
      std::vector<double> values;
      values.reserve(s.size());
      for (const Point& p : s) values.push_back(p.v);
      *out = Quantile(phi, &values);
      return Status::Ok();
    }
    case FnKind::kStddevOverTime:
      *out = std::sqrt(Variance(s, v2));
      return Status::Ok();
    case FnKind::kStdvarOverTime:
      *out = Variance(s, v2);
      return Status::Ok();
    case FnKind::kLastOverTime:
      *out = s.back().v;
      return Status::Ok();
    case FnKind::kFirstOverTime:
      *out = s.front().v;
      return Status::Ok();
    case FnKind::kTsOfFirstOverTime:
      *out = static_cast<double>(s.front().t) / 1000;
      return Status::Ok();
    case FnKind::kTsOfLastOverTime:
      *out = static_cast<double>(s.back().t) / 1000;
      return Status::Ok();
    case FnKind::kPresentOverTime:
    case FnKind::kAbsentOverTime:
      *out = 1;
      return Status::Ok();
    case FnKind::kMadOverTime: {
      std::vector<double> values;
      values.reserve(s.size());
      for (const Point& p : s) {
        if (std::isnan(p.v)) {
          *out = kNaN;
          return Status::Ok();
        }
        values.push_back(p.v);
      }
      const double median = Quantile(0.5, &values);
      for (double& v : values) v = std::fabs(v - median);
      *out = Quantile(0.5, &values);
      return Status::Ok();
    }
    case FnKind::kDoubleExponentialSmoothing: {
      if (a.params.size() < 2) {
        *ok = false;
        return Status::Ok();
      }
      const double sf = a.params[0];
      const double tf = a.params[1];
      if (sf <= 0 || sf >= 1) {  // NaN passes, as in Go
        return Status::InvalidArgument("invalid smoothing factor. Expected: 0 < sf < 1, got: " +
                                       FormatGoFixed6(sf));
      }
      if (tf <= 0 || tf >= 1) {
        return Status::InvalidArgument("invalid trend factor. Expected: 0 < tf < 1, got: " +
                                       FormatGoFixed6(tf));
      }
      if (s.size() < 2) {
        *ok = false;
        return Status::Ok();
      }
      double s0 = 0, s1 = s[0].v, b = s[1].v - s[0].v;
      for (std::size_t i = 1; i < s.size(); ++i) {
        const double x = sf * s[i].v;
        // The trend at this point: the raw difference first, then smoothed.
        if (i - 1 != 0) b = tf * (s1 - s0) + (1 - tf) * b;
        const double y = (1 - sf) * (s1 + b);
        s0 = s1;
        s1 = x + y;
      }
      *out = s1;
      return Status::Ok();
    }
    default:
      *ok = false;
      return Status::Internal("not a range-vector function");
  }
}

}  // namespace nimify::promql::eval_internal
