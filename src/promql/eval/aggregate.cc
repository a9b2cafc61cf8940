// Aggregation operators (sum, avg, topk, quantile, count_values, ...).
//
// Each operator has one accumulator below (Start with a group's first
// sample, Add the others, then Result or Samples). Where Prometheus 2.42 and
// 3 compute differently, the accumulator takes the dialect as a template
// parameter, so the choice is made once per aggregate node and the
// per-sample code has no version branches. Two feeders drive the
// accumulators: Prometheus 3 groups the whole input matrix once
// (FeedWholeMatrix); Prometheus 2.42 aggregates each step's vector on its own
// through RangeEval (FeedStepVectors), which also gives it 2.42's per-step
// parameter checks, sample accounting and output series order.
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
constexpr double kMaxInt64AsFloat = 9223372036854774784.0;
constexpr double kMinInt64AsFloat = -9223372036854775808.0;

// The Prometheus whose aggregation semantics a query follows.
struct Prom3 {
  static constexpr bool kV2 = false;
};
struct Prom2 {
  static constexpr bool kV2 = true;
};

// Go's container/heap over a vector with a Less(i, j) predicate.
template <typename Less>
void HeapUp(std::vector<ESample>* h, std::size_t j, Less less) {
  while (j > 0) {
    const std::size_t i = (j - 1) / 2;
    if (!less((*h)[j], (*h)[i])) break;
    std::swap((*h)[i], (*h)[j]);
    j = i;
  }
}

template <typename Less>
bool HeapDown(std::vector<ESample>* h, std::size_t i0, std::size_t n, Less less) {
  std::size_t i = i0;
  for (;;) {
    const std::size_t j1 = 2 * i + 1;
    if (j1 >= n) break;
    std::size_t j = j1;
    if (j1 + 1 < n && less((*h)[j1 + 1], (*h)[j1])) j = j1 + 1;
    if (!less((*h)[j], (*h)[i])) break;
    std::swap((*h)[i], (*h)[j]);
    i = j;
  }
  return i > i0;
}

template <typename Less>
void HeapPush(std::vector<ESample>* h, const ESample& s, Less less) {
  h->push_back(s);
  HeapUp(h, h->size() - 1, less);
}

template <typename Less>
void HeapFix(std::vector<ESample>* h, std::size_t i, Less less) {
  if (!HeapDown(h, i, h->size(), less)) HeapUp(h, i, less);
}

template <typename Less>
void HeapPop(std::vector<ESample>* h, Less less) {
  const std::size_t n = h->size() - 1;
  std::swap((*h)[0], (*h)[n]);
  HeapDown(h, 0, n, less);
  h->pop_back();
}

// vectorByValueHeap and vectorByReverseValueHeap.
bool ByValueLess(const ESample& a, const ESample& b) { return std::isnan(a.f) || a.f < b.f; }
bool ByReverseValueLess(const ESample& a, const ESample& b) { return std::isnan(a.f) || a.f > b.f; }

// The label set of an aggregation group (Prometheus's generateGroupingLabels):
// a view of the group's first series through the grouping filter.
LabelsRef GroupingLabels(QueryCtx* q, LabelsRef metric, bool without, const LabelFilter* filter) {
  if (!without && filter->names.empty()) return q->Empty();
  if (metric.filter != nullptr) metric = q->Intern(Materialize(metric));
  if (without && metric.hide == Hide::kNone) metric.hide = Hide::kName;
  metric.filter = filter;
  return metric;
}

std::uint64_t GroupingKey(LabelsRef metric, bool without,
                          const std::vector<std::string>& grouping) {
  if (without) return HashWithoutLabels(metric, grouping);
  if (grouping.empty()) return 0;
  return HashForLabels(metric, grouping);
}

// Prometheus's fParams: the aggregation parameter, constant or per step.
struct FParams {
  bool constant = false;
  double const_value = 0;
  std::vector<double> series;  // one value per step when not constant
  std::size_t next = 0;
  double min = 0, max = 0;
  bool any_nan = false;

  double Next() {
    if (constant) return const_value;
    if (next < series.size()) return series[next++];
    return 0;
  }
};

std::string QuantileWarning(double q) {
  return "PromQL warning: quantile value should be between 0 and 1, got " + FormatGoG(q);
}

// The parameter as one step uses it.
struct StepParam {
  double value = 0;    // quantile's phi
  std::int64_t k = 0;  // topk, bottomk, limitk
  double ratio = 0;    // limit_ratio, within [-1, 1]
};

// ---- Accumulators -------------------------------------------------------
//
// Every accumulator has:
//   kKeepsSeries: outputs the input samples it keeps (topk & co.) rather
//     than one value per group;
//   CheckParamsOnce: Prometheus 3's checks of the parameter over all steps
//     (sets *no_result when the whole aggregation is empty);
//   ForStep: the parameter of one step (sets *skip when the step yields
//     nothing; Prometheus 2.42 checks the parameter here, per step);
//   Start/Add: the group's first sample, then each further one. Add returns
//     true when the group cannot take more samples this step (limitk);
//   Result(param) or Finish() + samples.

// The operators without a parameter, or whose parameter is used as is.
struct PlainParam {
  static constexpr bool kKeepsSeries = false;
  static Status CheckParamsOnce(QueryCtx*, const FParams&, PosRange, bool*) { return Status::Ok(); }
  static Status ForStep(double param, std::size_t, StepParam* p, bool*) {
    p->value = param;
    return Status::Ok();
  }
};

template <class D>
struct SumAcc : PlainParam {
  double sum = 0;
  double c = 0;  // Kahan compensation, Prometheus 3 only
  void Start(double f, const StepParam&) {
    sum = f;
    c = 0;
  }
  bool Add(double f, const StepParam&) {
    if constexpr (D::kV2) {
      // Go's `sum += f` keeps the sum's NaN when both are NaN; the compiler
      // may swap the operands of a + b, so that case is spelled out.
      if (!std::isnan(sum)) sum += f;
    } else {
      KahanInc(f, &sum, &c);
    }
    return false;
  }
  double Result(const StepParam&) const {
    // 2.42 returns the plain sum (so a lone -0 stays -0).
    if constexpr (D::kV2) {
      return sum;
    } else {
      return sum + c;
    }
  }
};

template <class D>
struct AvgAcc : PlainParam {
  RunningMean v3;              // Prometheus 3
  double mean = 0, count = 0;  // Prometheus 2.42
  void Start(double f, const StepParam&) {
    if constexpr (D::kV2) {
      mean = f;
      count = 1;
    } else {
      v3.Start(f);
    }
  }
  bool Add(double f, const StepParam&) {
    if constexpr (D::kV2) {
      count++;
      // 2.42: an infinite mean stays unless an opposite Inf or a NaN comes.
      if (std::isinf(mean)) {
        if (std::isinf(f) && (mean > 0) == (f > 0)) return false;
        if (!std::isinf(f) && !std::isnan(f)) return false;
      }
      // Dividing each side first avoids float64 overflows.
      mean += f / count - mean / count;
    } else {
      v3.Add(f);
    }
    return false;
  }
  double Result(const StepParam&) const {
    if constexpr (D::kV2) {
      return mean;
    } else {
      return v3.Result();
    }
  }
};

struct CountAcc : PlainParam {
  double count = 0;
  void Start(double, const StepParam&) { count = 1; }
  bool Add(double, const StepParam&) {
    count++;
    return false;
  }
  double Result(const StepParam&) const { return count; }
};

struct GroupAcc : PlainParam {
  void Start(double, const StepParam&) {}
  bool Add(double, const StepParam&) { return false; }
  double Result(const StepParam&) const { return 1; }
};

// A NaN is replaced by any value, so NaN wins only when alone.
template <bool kMax>
struct MinMaxAcc : PlainParam {
  double value = 0;
  void Start(double f, const StepParam&) { value = f; }
  bool Add(double f, const StepParam&) {
    if ((kMax ? value < f : value > f) || std::isnan(value)) value = f;
    return false;
  }
  double Result(const StepParam&) const { return value; }
};

// Welford's running variance.
template <class D, bool kStddev>
struct StdAcc : PlainParam {
  double mean = 0;
  double m2 = 0;
  double count = 0;
  void Start(double f, const StepParam&) {
    mean = f;
    count = 1;
    // Prometheus 3 makes a NaN or Inf first value poison the result; 2.42
    // starts from 0 whatever the value.
    if constexpr (D::kV2) {
      m2 = 0;
    } else {
      m2 = (std::isnan(f) || std::isinf(f)) ? kNaN : 0;
    }
  }
  bool Add(double f, const StepParam&) {
    count++;
    const double delta = f - mean;
    mean += delta / count;
    m2 += delta * (f - mean);
    return false;
  }
  double Result(const StepParam&) const { return kStddev ? std::sqrt(m2 / count) : m2 / count; }
};

struct QuantileAcc : PlainParam {
  std::vector<double> values;
  static Status CheckParamsOnce(QueryCtx* q, const FParams& params, PosRange pos, bool*) {
    if (params.any_nan) q->Warn(QuantileWarning(kNaN), pos);
    if (params.max > 1) q->Warn(QuantileWarning(params.max), pos);
    if (params.min < 0) q->Warn(QuantileWarning(params.min), pos);
    return Status::Ok();
  }
  void Start(double f, const StepParam&) { values.assign(1, f); }
  bool Add(double f, const StepParam&) {
    values.push_back(f);
    return false;
  }
  double Result(const StepParam& p) { return Quantile(p.value, &values); }
};

// Prometheus 2.42 has no limitk/limit_ratio; if one gets here anyway it
// yields each group's first value, as this evaluator always did.
struct FirstValueAcc : PlainParam {
  double value = 0;
  void Start(double f, const StepParam&) { value = f; }
  bool Add(double, const StepParam&) { return false; }
  double Result(const StepParam&) const { return value; }
};

// The k of topk, bottomk and limitk.
template <class D>
struct KParam {
  static constexpr bool kKeepsSeries = true;
  static Status CheckParamsOnce(QueryCtx*, const FParams& params, PosRange, bool* no_result) {
    if (params.max < 1) {
      *no_result = true;
      return Status::Ok();
    }
    if (params.any_nan) return Status::InvalidArgument("Parameter value is NaN");
    if (params.min <= kMinInt64AsFloat) {
      return Status::InvalidArgument("Scalar value " + FormatGoG(params.min) + " underflows int64");
    }
    if (params.max >= kMaxInt64AsFloat) {
      return Status::InvalidArgument("Scalar value " + FormatGoG(params.max) + " overflows int64");
    }
    return Status::Ok();
  }
  static Status ForStep(double param, std::size_t num_series, StepParam* p, bool* skip) {
    if constexpr (D::kV2) {
      // 2.42 checks each step's k, with one message for both directions.
      if (!(param <= kMaxInt64AsFloat && param >= kMinInt64AsFloat)) {
        return Status::InvalidArgument("Scalar value " + FormatGoG(param) + " overflows int64");
      }
      p->k = static_cast<std::int64_t>(param);
    } else {
      p->k = std::min(static_cast<std::int64_t>(param), static_cast<std::int64_t>(num_series));
    }
    *skip = p->k < 1;
    return Status::Ok();
  }
};

template <class D, bool kTop>
struct TopKAcc : KParam<D> {
  std::vector<ESample> heap;
  static bool HeapLess(const ESample& a, const ESample& b) {
    return kTop ? ByValueLess(a, b) : ByReverseValueLess(a, b);
  }
  void Start(const ESample& s, const StepParam&) { heap.assign(1, s); }
  bool Add(const ESample& s, const StepParam& p) {
    if (static_cast<std::int64_t>(heap.size()) < p.k) {
      HeapPush(&heap, s, HeapLess);
      return false;
    }
    const double head = heap[0].f;
    const bool beats_head = kTop ? head < s.f : head > s.f;
    if constexpr (D::kV2) {
      // 2.42 pops and pushes, and lets even a NaN replace a NaN head.
      if (beats_head || std::isnan(head)) {
        if (p.k == 1) {
          heap[0] = s;
        } else {
          HeapPop(&heap, HeapLess);
          HeapPush(&heap, s, HeapLess);
        }
      }
    } else {
      if (beats_head || (std::isnan(head) && !std::isnan(s.f))) {
        heap[0] = s;
        if (p.k > 1) HeapFix(&heap, 0, HeapLess);
      }
    }
    return false;
  }
  // Best first; NaNs last.
  void Finish() {
    if (heap.size() < 2) return;
    SafeStableSort(&heap, [](const ESample& x, const ESample& y) {
      return std::isnan(y.f) || (kTop ? y.f < x.f : y.f > x.f);
    });
  }
};

// limitk keeps the first k samples of each group, in heap order.
struct LimitKAcc : KParam<Prom3> {
  std::vector<ESample> heap;
  bool full = false;
  void Start(const ESample& s, const StepParam&) {
    heap.assign(1, s);
    full = false;
  }
  bool Add(const ESample& s, const StepParam& p) {
    if (static_cast<std::int64_t>(heap.size()) < p.k) HeapPush(&heap, s, ByValueLess);
    if (!full && static_cast<std::int64_t>(heap.size()) == p.k) {
      full = true;
      return true;
    }
    return false;
  }
  void Finish() {}
};

// limit_ratio keeps a series when its label hash falls in the ratio.
struct LimitRatioAcc {
  static constexpr bool kKeepsSeries = true;
  std::vector<ESample> heap;
  static Status CheckParamsOnce(QueryCtx* q, const FParams& params, PosRange pos, bool* no_result) {
    if (params.max == 0 && params.min == 0) {
      *no_result = true;
      return Status::Ok();
    }
    if (params.any_nan) return Status::InvalidArgument("Ratio value is NaN");
    if (params.max > 1.0) {
      q->Warn("PromQL warning: ratio value should be between -1 and 1, got " +
                  FormatGoG(params.max) + ", capping to 1",
              pos);
    }
    if (params.min < -1.0) {
      q->Warn("PromQL warning: ratio value should be between -1 and 1, got " +
                  FormatGoG(params.min) + ", capping to -1",
              pos);
    }
    return Status::Ok();
  }
  static Status ForStep(double param, std::size_t, StepParam* p, bool* skip) {
    *skip = param == 0;
    p->ratio = param < -1.0 ? -1.0 : (param > 1.0 ? 1.0 : param);
    return Status::Ok();
  }
  static bool InRatio(const ESample& s, double ratio) {
    const double offset = static_cast<double>(PrometheusLabelsHash(s.metric)) /
                          static_cast<double>(std::numeric_limits<std::uint64_t>::max());
    return (ratio >= 0 && offset < ratio) || (ratio < 0 && offset >= 1.0 + ratio);
  }
  void Start(const ESample& s, const StepParam& p) {
    heap.clear();
    Add(s, p);
  }
  bool Add(const ESample& s, const StepParam& p) {
    if (InRatio(s, p.ratio)) HeapPush(&heap, s, ByValueLess);
    return false;
  }
  void Finish() {}
};

// One group's accumulator and its step state.
template <class Acc>
struct Slot {
  Acc acc;
  bool seen = false;       // has a sample at the current step
  bool drop_name = false;  // some input sample had its name dropped (delayed removal)
};

// Feeds one sample to its group: Start on the group's first sample of the
// step, Add after. Returns true when the group is full (limitk).
template <class Acc>
bool FeedSample(Slot<Acc>& g, const ESample& s, const StepParam& p) {
  if (!g.seen) {
    g.seen = true;
    g.drop_name = s.drop_name;
    if constexpr (Acc::kKeepsSeries) {
      g.acc.Start(s, p);
    } else {
      g.acc.Start(s.f, p);
    }
    return false;
  }
  if (s.drop_name) g.drop_name = true;
  if constexpr (Acc::kKeepsSeries) {
    return g.acc.Add(s, p);
  } else {
    return g.acc.Add(s.f, p);
  }
}

// Prometheus 3: group the input's series once, then walk the steps with a
// cursor per series. The parameter is checked over all steps first.
template <class Acc>
Status FeedWholeMatrix(Ev* ev, const AggregateExpr& a, const std::vector<std::string>& grouping,
                       EMatrix* out) {
  QueryCtx* q = ev->q();
  // The parameter: topk's k, quantile's phi, limit_ratio's ratio.
  FParams params;
  if (a.param) {
    const Expr& p = Unparen(*a.param);
    EMatrix pm;
    NIMIFY_RETURN_IF_ERROR(ev->Eval(p, &pm));
    if (!pm.empty()) {
      params.constant = p.kind() == ExprKind::kNumberLiteral;
      params.min = std::numeric_limits<double>::max();
      params.max = -std::numeric_limits<double>::max();
      if (params.constant) {
        params.const_value = pm[0].points.empty() ? kNaN : pm[0].points[0].v;
        params.min = params.max = params.const_value;
        params.any_nan = std::isnan(params.const_value);
      } else {
        for (const Point& p2 : pm[0].points) {
          params.series.push_back(p2.v);
          params.max = GoMax(params.max, p2.v);
          params.min = GoMin(params.min, p2.v);
          if (std::isnan(p2.v)) params.any_nan = true;
        }
      }
    }
  }

  EMatrix input;
  NIMIFY_RETURN_IF_ERROR(ev->Eval(Unparen(*a.expr), &input));
  const std::int64_t original_samples = q->current_samples;

  // Map input series to groups; one output series per group unless the
  // operator outputs input series.
  const LabelFilter* filter = q->InternFilter(LabelFilter{!a.without, grouping});
  IndexMap group_index(input.size());
  ScratchVec<std::uint32_t> series_group(input.size());
  EMatrix result;
  std::uint32_t num_groups = 0;
  const auto labels_at = [&](std::size_t j) { return input[j].metric.base; };
  for (std::size_t si = 0; si < input.size(); ++si) {
    PrefetchLabelsAhead(si, input.size(), labels_at);
    const std::uint64_t key = GroupingKey(input[si].metric, a.without, grouping);
    auto [idx, inserted] = group_index.TryEmplace(key, num_groups);
    if (inserted) {
      if constexpr (!Acc::kKeepsSeries) {
        ESeries s;
        s.metric = GroupingLabels(q, input[si].metric, a.without, filter);
        result.push_back(std::move(s));
      }
      ++num_groups;
    }
    series_group[si] = idx;
  }
  ScratchVec<Slot<Acc>> groups(num_groups);

  bool no_result = false;
  const PosRange param_pos = a.param ? Unparen(*a.param).pos : a.pos;
  NIMIFY_RETURN_IF_ERROR(Acc::CheckParamsOnce(q, params, param_pos, &no_result));
  if (no_result) return Status::Ok();

  ScratchVec<std::uint32_t> cursors(input.size(), 0);
  // Takes series si's value at ts, if it has one (Prometheus's nextValues).
  auto next_value = [&](std::size_t si, std::int64_t ts, double* f) {
    std::uint32_t& c = cursors[si];
    const PointVec& pts = input[si].points;
    if (c < pts.size() && pts[c].t == ts) {
      *f = pts[c].v;
      ++c;
      return true;
    }
    return false;
  };

  // topk & co. in range queries: output series keyed by label set.
  IndexMap k_index;
  const std::int64_t temp_samples = q->current_samples;

  for (std::int64_t ts = ev->start(); ts <= ev->end(); ts += ev->interval()) {
    StepParam step_param;
    bool skip_step = false;
    NIMIFY_RETURN_IF_ERROR(Acc::ForStep(params.Next(), input.size(), &step_param, &skip_step));
    q->current_samples = temp_samples;

    bool stopped_early = false;
    std::size_t groups_open = groups.size();
    for (std::size_t si = 0; si < input.size(); ++si) {
      double f;
      if (!next_value(si, ts, &f)) continue;
      // A step that has samples but an unusable parameter yields nothing.
      if (skip_step) {
        stopped_early = true;
        break;
      }
      const ESample s{input[si].metric, f, ts, input[si].drop_name};
      // limitk stops reading once every group is full.
      if (FeedSample(groups[series_group[si]], s, step_param) && --groups_open == 0) {
        stopped_early = true;
        break;
      }
    }
    if (stopped_early) {
      double unused;
      for (std::size_t si = 0; si < input.size(); ++si) next_value(si, ts, &unused);
    }

    if constexpr (Acc::kKeepsSeries) {
      if (skip_step && stopped_early) {
        if (ev->instant()) return Status::Ok();
        continue;
      }
      for (Slot<Acc>& g : groups) {
        if (!g.seen) continue;
        g.seen = false;
        g.acc.Finish();
        for (const ESample& s : g.acc.heap) {
          if (ev->instant()) {
            ESeries series;
            series.metric = s.metric;
            series.drop_name = s.drop_name;
            series.points.push_back(Point{ts, s.f});
            out->push_back(std::move(series));
            continue;
          }
          auto [idx, inserted] =
              k_index.TryEmplace(HashLabels(s.metric), static_cast<std::uint32_t>(out->size()));
          if (inserted) {
            ESeries series;
            series.metric = s.metric;
            series.drop_name = s.drop_name;
            out->push_back(std::move(series));
          }
          (*out)[idx].points.push_back(Point{ts, s.f});
        }
      }
      // As before, an instant topk & co. leaves the sample count alone.
      if (ev->instant()) return Status::Ok();
    } else {
      for (std::size_t gi = 0; gi < groups.size(); ++gi) {
        Slot<Acc>& g = groups[gi];
        if (!g.seen) continue;
        g.seen = false;
        result[gi].points.push_back(Point{ts, g.acc.Result(step_param)});
        result[gi].drop_name = g.drop_name;
        ++q->current_samples;
      }
      NIMIFY_RETURN_IF_ERROR(q->CheckSamples());
    }
  }

  if constexpr (!Acc::kKeepsSeries) {
    for (ESeries& s : result) {
      if (!s.points.empty()) out->push_back(std::move(s));
    }
  }
  std::int64_t total = 0;
  for (const ESeries& s : *out) total += static_cast<std::int64_t>(s.points.size());
  q->current_samples = original_samples + total;
  return Status::Ok();
}

// Prometheus 2.42: RangeEval hands over each step's parameter and input
// vector, and each step is grouped and aggregated on its own (so the
// parameter is checked per step, input samples count towards the sample
// limit per step, and output series come in order of first appearance).
template <class Acc>
Status FeedStepVectors(Ev* ev, const AggregateExpr& a, const std::vector<std::string>& grouping,
                       EMatrix* out) {
  QueryCtx* q = ev->q();
  const LabelFilter* filter = q->InternFilter(LabelFilter{!a.without, grouping});
  const Expr* args[2] = {a.param ? &Unparen(*a.param) : nullptr, &Unparen(*a.expr)};
  // Groups outlive a step so each group's labels are made once.
  IndexMap group_index;
  ScratchVec<Slot<Acc>> groups;
  ScratchVec<LabelsRef> group_labels;
  ScratchVec<std::uint32_t> step_groups;  // this step's groups, by first sample
  return ev->RangeEval(
      args, nullptr,
      [&](std::span<EVector> v, std::span<SigVec>, NodeHelper* enh, EVector* res) {
        const EVector& vec = v[1];
        const double param = (a.param && !v[0].empty()) ? v[0][0].f : 0;
        StepParam step_param;
        bool skip_step = false;
        NIMIFY_RETURN_IF_ERROR(Acc::ForStep(param, vec.size(), &step_param, &skip_step));
        if (skip_step) return Status::Ok();
        step_groups.clear();
        for (const ESample& s : vec) {
          const std::uint64_t key = GroupingKey(s.metric, a.without, grouping);
          auto [gi, inserted] =
              group_index.TryEmplace(key, static_cast<std::uint32_t>(groups.size()));
          if (inserted) {
            groups.emplace_back();
            group_labels.push_back(GroupingLabels(q, s.metric, a.without, filter));
          }
          Slot<Acc>& g = groups[gi];
          if (!g.seen) step_groups.push_back(gi);
          FeedSample(g, s, step_param);
        }
        // 2.42 never delays __name__ removal, so outputs carry no drop mark.
        for (const std::uint32_t gi : step_groups) {
          Slot<Acc>& g = groups[gi];
          g.seen = false;
          if constexpr (Acc::kKeepsSeries) {
            g.acc.Finish();
            for (const ESample& s : g.acc.heap) {
              res->push_back(ESample{s.metric, s.f, enh->ts, false});
            }
          } else {
            res->push_back(ESample{group_labels[gi], g.acc.Result(step_param), enh->ts, false});
          }
        }
        return Status::Ok();
      },
      out);
}

// The one place the dialect picks the feeder.
template <class D, class Acc>
Status Feed(Ev* ev, const AggregateExpr& a, const std::vector<std::string>& grouping,
            EMatrix* out) {
  if constexpr (D::kV2) {
    return FeedStepVectors<Acc>(ev, a, grouping, out);
  } else {
    return FeedWholeMatrix<Acc>(ev, a, grouping, out);
  }
}

// Picks the operator's accumulator for dialect D.
template <class D>
Status AggregateAs(Ev* ev, const AggregateExpr& a, const std::vector<std::string>& grouping,
                   EMatrix* out) {
  switch (a.op) {
    case AggregateOp::kSum:
      return Feed<D, SumAcc<D>>(ev, a, grouping, out);
    case AggregateOp::kAvg:
      return Feed<D, AvgAcc<D>>(ev, a, grouping, out);
    case AggregateOp::kCount:
      return Feed<D, CountAcc>(ev, a, grouping, out);
    case AggregateOp::kGroup:
      return Feed<D, GroupAcc>(ev, a, grouping, out);
    case AggregateOp::kMin:
      return Feed<D, MinMaxAcc<false>>(ev, a, grouping, out);
    case AggregateOp::kMax:
      return Feed<D, MinMaxAcc<true>>(ev, a, grouping, out);
    case AggregateOp::kStddev:
      return Feed<D, StdAcc<D, true>>(ev, a, grouping, out);
    case AggregateOp::kStdvar:
      return Feed<D, StdAcc<D, false>>(ev, a, grouping, out);
    case AggregateOp::kQuantile:
      return Feed<D, QuantileAcc>(ev, a, grouping, out);
    case AggregateOp::kTopK:
      return Feed<D, TopKAcc<D, true>>(ev, a, grouping, out);
    case AggregateOp::kBottomK:
      return Feed<D, TopKAcc<D, false>>(ev, a, grouping, out);
    case AggregateOp::kLimitK:
      if constexpr (D::kV2) {
        return Feed<D, FirstValueAcc>(ev, a, grouping, out);
      } else {
        return Feed<D, LimitKAcc>(ev, a, grouping, out);
      }
    case AggregateOp::kLimitRatio:
      if constexpr (D::kV2) {
        return Feed<D, FirstValueAcc>(ev, a, grouping, out);
      } else {
        return Feed<D, LimitRatioAcc>(ev, a, grouping, out);
      }
    case AggregateOp::kCountValues:
      break;  // Ev::EvalAggregate handles it
  }
  return Status::Internal("unexpected aggregation operator");
}

}  // namespace

Status Ev::EvalAggregate(const AggregateExpr& a, EMatrix* out) {
  std::vector<std::string> grouping = a.grouping;
  std::sort(grouping.begin(), grouping.end());
  grouping.erase(std::unique(grouping.begin(), grouping.end()), grouping.end());
  const Expr& inner = Unparen(*a.expr);

  if (a.op == AggregateOp::kCountValues) {
    const std::string_view label = StringArg(a.param);
    if (!IsValidLabelNameFor(label, q_->v2)) {
      return Status::InvalidArgument("invalid label name " + GoQuote(label));
    }
    if (!a.without) {
      grouping.emplace_back(label);
      std::sort(grouping.begin(), grouping.end());
      grouping.erase(std::unique(grouping.begin(), grouping.end()), grouping.end());
    }
    const LabelFilter* filter = q_->InternFilter(LabelFilter{!a.without, grouping});
    const Expr* args[1] = {&inner};
    return RangeEval(
        args, nullptr,
        [&](std::span<EVector> v, std::span<SigVec>, NodeHelper* enh, EVector* res) {
          IndexMap index(v[0].size());
          for (const ESample& s : v[0]) {
            Labels l = Materialize(s.metric);
            l.Set(label, FormatGoF(s.f));
            const LabelsRef ref{&l, Hide::kNone, nullptr};
            const std::uint64_t key = GroupingKey(ref, a.without, grouping);
            auto [idx, inserted] = index.TryEmplace(key, static_cast<std::uint32_t>(res->size()));
            if (inserted) {
              auto cached = enh->group_labels.find(key);
              LabelsRef group;
              if (cached != enh->group_labels.end()) {
                group = cached->second;
              } else {
                group = GroupingLabels(q_, q_->Intern(std::move(l)), a.without, filter);
                enh->group_labels.emplace(key, group);
              }
              res->push_back(ESample{group, 1, enh->ts, false});
            } else {
              (*res)[idx].f += 1;
            }
          }
          return Status::Ok();
        },
        out);
  }

  if (q_->v2) return AggregateAs<Prom2>(this, a, grouping, out);
  return AggregateAs<Prom3>(this, a, grouping, out);
}

}  // namespace nimify::promql::eval_internal
