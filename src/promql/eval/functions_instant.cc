// Instant-vector and scalar functions, called once per step.
#include <cmath>
#include <limits>
#include <numbers>
#include <string>
#include <vector>

#include "promql/eval/eval_internal.h"

namespace nimify::promql::eval_internal {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A float function of each sample; the result drops the metric name.
template <typename F>
void SimpleFloatFn(QueryCtx* q, const EVector& in, EVector* out, F&& f) {
  for (const ESample& s : in) {
    ESample o;
    o.metric = (q->v2 || !q->delayed) ? q->DropName(s.metric) : s.metric;
    o.drop_name = true;
    o.f = f(s.f);
    o.t = s.t;
    out->push_back(o);
  }
}

// Go's int64(f) on amd64: out-of-range values and NaN become MinInt64.
std::int64_t GoFloatToInt64(double f) {
  if (std::isnan(f) || f >= 9223372036854775808.0 || f < -9223372036854775808.0) {
    return std::numeric_limits<std::int64_t>::min();
  }
  return static_cast<std::int64_t>(f);
}

double DateField(FnKind kind, const CivilTime& c) {
  switch (kind) {
    case FnKind::kDayOfMonth:
      return c.day;
    case FnKind::kDayOfWeek:
      return c.weekday;
    case FnKind::kDayOfYear:
      return c.yday;
    case FnKind::kHour:
      return c.hour;
    case FnKind::kMinute:
      return c.minute;
    case FnKind::kMonth:
      return c.month;
    case FnKind::kYear:
      return static_cast<double>(c.year);
    case FnKind::kDaysInMonth: {
      static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
      return kDays[c.month - 1] + ((c.month == 2 && IsLeapYear(c.year)) ? 1 : 0);
    }
    default:
      return kNaN;
  }
}

double ScalarArg(std::span<EVector> v, std::size_t i) {
  if (i >= v.size() || v[i].empty()) return kNaN;
  return v[i][0].f;
}

}  // namespace

Status CallInstantFn(Ev* ev, const Call& c, FnKind kind, std::span<EVector> v, NodeHelper* enh,
                     EVector* out) {
  QueryCtx* q = ev->q();
  switch (kind) {
    case FnKind::kAbs:
      SimpleFloatFn(q, v[0], out, [](double x) { return std::fabs(x); });
      break;
    case FnKind::kCeil:
      SimpleFloatFn(q, v[0], out, [](double x) { return std::ceil(x); });
      break;
    case FnKind::kFloor:
      SimpleFloatFn(q, v[0], out, [](double x) { return std::floor(x); });
      break;
    case FnKind::kExp:
      SimpleFloatFn(q, v[0], out, [](double x) { return GoExp(x); });
      break;
    case FnKind::kSqrt:
      SimpleFloatFn(q, v[0], out, [](double x) { return std::sqrt(x); });
      break;
    case FnKind::kLn:
      SimpleFloatFn(q, v[0], out, [](double x) { return std::log(x); });
      break;
    case FnKind::kLog2:
      SimpleFloatFn(q, v[0], out, [](double x) { return std::log2(x); });
      break;
    case FnKind::kLog10:
      SimpleFloatFn(q, v[0], out, [](double x) { return std::log10(x); });
      break;
    case FnKind::kSin:
      SimpleFloatFn(q, v[0], out, [](double x) { return std::sin(x); });
      break;
    case FnKind::kCos:
      SimpleFloatFn(q, v[0], out, [](double x) { return std::cos(x); });
      break;
    case FnKind::kTan:
      SimpleFloatFn(q, v[0], out, [](double x) { return std::tan(x); });
      break;
    case FnKind::kAsin:
      SimpleFloatFn(q, v[0], out, [](double x) { return std::asin(x); });
      break;
    case FnKind::kAcos:
      SimpleFloatFn(q, v[0], out, [](double x) { return std::acos(x); });
      break;
    case FnKind::kAtan:
      SimpleFloatFn(q, v[0], out, [](double x) { return std::atan(x); });
      break;
    case FnKind::kSinh:
      SimpleFloatFn(q, v[0], out, [](double x) { return GoSinh(x); });
      break;
    case FnKind::kCosh:
      SimpleFloatFn(q, v[0], out, [](double x) { return GoCosh(x); });
      break;
    case FnKind::kTanh:
      SimpleFloatFn(q, v[0], out, [](double x) { return std::tanh(x); });
      break;
    case FnKind::kAsinh:
      SimpleFloatFn(q, v[0], out, [](double x) { return std::asinh(x); });
      break;
    case FnKind::kAcosh:
      SimpleFloatFn(q, v[0], out, [](double x) { return std::acosh(x); });
      break;
    case FnKind::kAtanh:
      SimpleFloatFn(q, v[0], out, [](double x) { return std::atanh(x); });
      break;
    case FnKind::kRad:
      SimpleFloatFn(q, v[0], out, [](double x) { return x * std::numbers::pi / 180; });
      break;
    case FnKind::kDeg:
      SimpleFloatFn(q, v[0], out, [](double x) { return x * 180 / std::numbers::pi; });
      break;
    case FnKind::kSgn:
      SimpleFloatFn(q, v[0], out, [](double x) { return x < 0 ? -1.0 : (x > 0 ? 1.0 : x); });
      break;
    case FnKind::kRound: {
      const double to_nearest = c.args.size() >= 2 ? ScalarArg(v, 1) : 1.0;
      // Rounding with the inverse causes fewer floating point accuracy issues.
      const double inverse = 1.0 / to_nearest;
      SimpleFloatFn(q, v[0], out,
                    [inverse](double x) { return std::floor(x * inverse + 0.5) / inverse; });
      break;
    }
    case FnKind::kClamp:
    case FnKind::kClampMax:
    case FnKind::kClampMin: {
      double lo = -std::numeric_limits<double>::infinity();
      double hi = std::numeric_limits<double>::infinity();
      if (kind == FnKind::kClamp) {
        lo = ScalarArg(v, 1);
        hi = ScalarArg(v, 2);
        if (hi < lo) break;
      } else if (kind == FnKind::kClampMax) {
        hi = ScalarArg(v, 1);
      } else {
        lo = ScalarArg(v, 1);
      }
      SimpleFloatFn(q, v[0], out, [lo, hi](double x) { return GoMax(lo, GoMin(hi, x)); });
      break;
    }
    case FnKind::kTimestamp:
      for (const ESample& s : v[0]) {
        ESample o;
        o.metric = (q->v2 || !q->delayed) ? q->DropName(s.metric) : s.metric;
        o.drop_name = true;
        o.f = static_cast<double>(s.t) / 1000;
        o.t = s.t;
        out->push_back(o);
      }
      break;
    case FnKind::kAbsent:
      if (v[0].empty()) {
        auto it = enh->label_cache.find(nullptr);
        if (it == enh->label_cache.end()) {
          it = enh->label_cache.emplace(nullptr, q->Intern(LabelsForAbsent(*c.args[0]))).first;
        }
        out->push_back(ESample{it->second, 1, enh->ts, false});
      }
      break;
    case FnKind::kScalar: {
      double value = kNaN;
      if (v[0].size() == 1) value = v[0][0].f;
      out->push_back(ESample{q->Empty(), value, enh->ts, false});
      break;
    }
    case FnKind::kVector:
      out->push_back(ESample{q->Empty(), ScalarArg(v, 0), enh->ts, false});
      break;
    case FnKind::kTime:
      out->push_back(ESample{q->Empty(), static_cast<double>(enh->ts) / 1000, enh->ts, false});
      break;
    case FnKind::kPi:
      out->push_back(ESample{q->Empty(), std::numbers::pi, enh->ts, false});
      break;
    case FnKind::kMaxOf:
      out->push_back(ESample{q->Empty(), GoMax(ScalarArg(v, 0), ScalarArg(v, 1)), enh->ts, false});
      break;
    case FnKind::kMinOf:
      out->push_back(ESample{q->Empty(), GoMin(ScalarArg(v, 0), ScalarArg(v, 1)), enh->ts, false});
      break;
    case FnKind::kDayOfMonth:
    case FnKind::kDayOfWeek:
    case FnKind::kDayOfYear:
    case FnKind::kDaysInMonth:
    case FnKind::kHour:
    case FnKind::kMinute:
    case FnKind::kMonth:
    case FnKind::kYear:
      if (c.args.empty()) {
        const CivilTime ct = ToCivil(enh->ts / 1000);
        out->push_back(ESample{q->Empty(), DateField(kind, ct), enh->ts, false});
      } else {
        SimpleFloatFn(q, v[0], out,
                      [kind](double x) { return DateField(kind, ToCivil(GoFloatToInt64(x))); });
      }
      break;
    case FnKind::kSort:
    case FnKind::kSortDesc: {
      *out = v[0];
      // Go sorts with sort.Reverse over a heap order that puts NaN last.
      if (kind == FnKind::kSort) {
        SafeStableSort(
            out, [](const ESample& a, const ESample& b) { return std::isnan(b.f) || b.f > a.f; });
      } else {
        SafeStableSort(
            out, [](const ESample& a, const ESample& b) { return std::isnan(b.f) || b.f < a.f; });
      }
      break;
    }
    case FnKind::kSortByLabel:
    case FnKind::kSortByLabelDesc: {
      std::vector<std::string_view> names;
      for (std::size_t i = 1; i < c.args.size(); ++i) names.push_back(StringArg(c.args[i]));
      const bool desc = kind == FnKind::kSortByLabelDesc;
      *out = v[0];
      SafeStableSort(out, [&names, desc](const ESample& a, const ESample& b) {
        for (std::string_view n : names) {
          const std::string_view la = GetLabel(a.metric, n);
          const std::string_view lb = GetLabel(b.metric, n);
          if (la == lb) continue;
          const bool less = NaturalLess(la, lb);
          return desc ? !less : less;
        }
        const int cmp = CompareLabels(a.metric, b.metric);
        return desc ? cmp > 0 : cmp < 0;
      });
      break;
    }
    case FnKind::kHistogramQuantile:
      if (v[0].empty()) break;
      return HistogramQuantileFn(q, c, v[0][0].f, v[1], enh, out);
    case FnKind::kHistogramFraction:
      if (q->v2 || v[0].empty() || v[1].empty()) break;  // 2.42: native histograms only
      return HistogramFractionFn(q, c, v[0][0].f, v[1][0].f, v[2], enh, out);
    case FnKind::kHistogramNative:
      break;  // float samples only: these functions see no native histograms
    case FnKind::kLabelReplace:
      return LabelReplaceV2(q, c, v[0], enh, out);
    case FnKind::kLabelJoin:
      return LabelJoinV2(q, c, v[0], enh, out);
    default:
      return Status::Internal("function \"" + std::string(c.func->name) +
                              "\" has no instant implementation");
  }
  return Status::Ok();
}

}  // namespace nimify::promql::eval_internal
