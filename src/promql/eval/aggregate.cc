// Aggregation operators (sum, avg, topk, quantile, count_values, ...), in
// Prometheus 3's form (per-series grouping over all steps) and Prometheus
// 2's form (per-step vectors).
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

bool IsKOp(AggregateOp op) {
  return op == AggregateOp::kTopK || op == AggregateOp::kBottomK || op == AggregateOp::kLimitK ||
         op == AggregateOp::kLimitRatio;
}

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

struct Group {
  bool seen = false;
  double value = 0;
  double mean = 0;
  double kahan_c = 0;
  double count = 0;
  bool incremental_mean = false;
  bool drop_name = false;
  bool complete = false;       // limitk: k elements collected
  std::vector<double> values;  // quantile
  std::vector<ESample> heap;   // topk, bottomk, limitk, limit_ratio
};

std::string QuantileWarning(double q) {
  return "PromQL warning: quantile value should be between 0 and 1, got " + FormatGoG(q);
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

  if (q_->v2) return EvalAggregateV2(a, std::move(grouping), out);

  // The parameter: topk's k, quantile's phi, limit_ratio's ratio.
  FParams params;
  if (a.param) {
    const Expr& p = Unparen(*a.param);
    EMatrix pm;
    NIMIFY_RETURN_IF_ERROR(Eval(p, &pm));
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
  NIMIFY_RETURN_IF_ERROR(Eval(inner, &input));
  const std::int64_t original_samples = q_->current_samples;

  // Map input series to groups.
  const LabelFilter* filter = q_->InternFilter(LabelFilter{!a.without, grouping});
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
      if (!IsKOp(a.op)) {
        ESeries s;
        s.metric = GroupingLabels(q_, input[si].metric, a.without, filter);
        result.push_back(std::move(s));
      }
      ++num_groups;
    }
    series_group[si] = idx;
  }
  ScratchVec<Group> groups(num_groups);
  const PosRange param_pos = a.param ? Unparen(*a.param).pos : a.pos;

  switch (a.op) {
    case AggregateOp::kTopK:
    case AggregateOp::kBottomK:
    case AggregateOp::kLimitK:
      if (params.max < 1) return Status::Ok();
      if (params.any_nan) return Status::InvalidArgument("Parameter value is NaN");
      if (params.min <= kMinInt64AsFloat) {
        return Status::InvalidArgument("Scalar value " + FormatGoG(params.min) +
                                       " underflows int64");
      }
      if (params.max >= kMaxInt64AsFloat) {
        return Status::InvalidArgument("Scalar value " + FormatGoG(params.max) +
                                       " overflows int64");
      }
      break;
    case AggregateOp::kLimitRatio:
      if (params.max == 0 && params.min == 0) return Status::Ok();
      if (params.any_nan) return Status::InvalidArgument("Ratio value is NaN");
      if (params.max > 1.0) {
        q_->Warn("PromQL warning: ratio value should be between -1 and 1, got " +
                     FormatGoG(params.max) + ", capping to 1",
                 param_pos);
      }
      if (params.min < -1.0) {
        q_->Warn("PromQL warning: ratio value should be between -1 and 1, got " +
                     FormatGoG(params.min) + ", capping to -1",
                 param_pos);
      }
      break;
    case AggregateOp::kQuantile:
      if (params.any_nan) q_->Warn(QuantileWarning(kNaN), param_pos);
      if (params.max > 1) q_->Warn(QuantileWarning(params.max), param_pos);
      if (params.min < 0) q_->Warn(QuantileWarning(params.min), param_pos);
      break;
    default:
      break;
  }

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
  auto advance_all = [&](std::int64_t ts) {
    double unused;
    for (std::size_t si = 0; si < input.size(); ++si) next_value(si, ts, &unused);
  };

  // topk & co. in range queries: output series keyed by label set.
  IndexMap k_index;
  const std::int64_t temp_samples = q_->current_samples;

  for (std::int64_t ts = start_; ts <= end_; ts += interval_) {
    const double fparam = params.Next();
    q_->current_samples = temp_samples;
    for (Group& g : groups) g.seen = false;

    if (IsKOp(a.op)) {
      std::int64_t k = 0;
      double ratio = 0;
      bool step_empty = false;
      std::size_t groups_remaining = groups.size();
      for (std::size_t si = 0; si < input.size(); ++si) {
        double f;
        if (!next_value(si, ts, &f)) continue;
        const ESample s{input[si].metric, f, ts, input[si].drop_name};
        if (a.op == AggregateOp::kLimitRatio) {
          if (fparam == 0) {
            step_empty = true;
            break;
          }
          ratio = fparam < -1.0 ? -1.0 : (fparam > 1.0 ? 1.0 : fparam);
        } else {
          k = std::min(static_cast<std::int64_t>(fparam), static_cast<std::int64_t>(input.size()));
          if (k < 1) {
            step_empty = true;
            break;
          }
        }
        Group& g = groups[series_group[si]];
        // limit_ratio keeps a series when its label hash falls in the ratio.
        auto add_ratio = [&]() {
          const double offset = static_cast<double>(PrometheusLabelsHash(s.metric)) /
                                static_cast<double>(std::numeric_limits<std::uint64_t>::max());
          return (ratio >= 0 && offset < ratio) || (ratio < 0 && offset >= 1.0 + ratio);
        };
        if (!g.seen) {
          g.seen = true;
          g.complete = false;
          g.heap.clear();
          if (a.op == AggregateOp::kLimitRatio) {
            if (add_ratio()) HeapPush(&g.heap, s, ByValueLess);
          } else if (a.op == AggregateOp::kLimitK) {
            g.heap.push_back(s);
          } else if (a.op == AggregateOp::kTopK) {
            HeapPush(&g.heap, s, ByValueLess);
          } else {
            HeapPush(&g.heap, s, ByReverseValueLess);
          }
          continue;
        }
        const auto size = static_cast<std::int64_t>(g.heap.size());
        if (a.op == AggregateOp::kTopK) {
          if (size < k) {
            HeapPush(&g.heap, s, ByValueLess);
          } else if (g.heap[0].f < s.f || (std::isnan(g.heap[0].f) && !std::isnan(s.f))) {
            g.heap[0] = s;
            if (k > 1) HeapFix(&g.heap, 0, ByValueLess);
          }
        } else if (a.op == AggregateOp::kBottomK) {
          if (size < k) {
            HeapPush(&g.heap, s, ByReverseValueLess);
          } else if (g.heap[0].f > s.f || (std::isnan(g.heap[0].f) && !std::isnan(s.f))) {
            g.heap[0] = s;
            if (k > 1) HeapFix(&g.heap, 0, ByReverseValueLess);
          }
        } else if (a.op == AggregateOp::kLimitRatio) {
          if (add_ratio()) HeapPush(&g.heap, s, ByValueLess);
        } else {
          if (size < k) HeapPush(&g.heap, s, ByValueLess);
          // Stop early once every group holds k elements.
          if (!g.complete && static_cast<std::int64_t>(g.heap.size()) == k) {
            g.complete = true;
            if (--groups_remaining == 0) break;
          }
        }
      }
      advance_all(ts);
      if (step_empty) {
        if (instant()) return Status::Ok();
        continue;
      }

      for (Group& g : groups) {
        if (!g.seen) continue;
        if (a.op == AggregateOp::kTopK && g.heap.size() > 1) {
          SafeStableSort(&g.heap, [](const ESample& x, const ESample& y) {
            return std::isnan(y.f) || y.f < x.f;
          });
        } else if (a.op == AggregateOp::kBottomK && g.heap.size() > 1) {
          SafeStableSort(&g.heap, [](const ESample& x, const ESample& y) {
            return std::isnan(y.f) || y.f > x.f;
          });
        }
        for (const ESample& s : g.heap) {
          if (instant()) {
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
      if (instant()) return Status::Ok();
      continue;
    }

    for (std::size_t si = 0; si < input.size(); ++si) {
      double f;
      if (!next_value(si, ts, &f)) continue;
      Group& g = groups[series_group[si]];
      if (!g.seen) {
        g.seen = true;
        g.value = f;
        g.mean = f;
        g.kahan_c = 0;
        g.count = 1;
        g.incremental_mean = false;
        g.drop_name = input[si].drop_name;
        switch (a.op) {
          case AggregateOp::kStddev:
          case AggregateOp::kStdvar:
            g.value = (std::isnan(f) || std::isinf(f)) ? kNaN : 0;
            break;
          case AggregateOp::kQuantile:
            g.values.assign(1, f);
            break;
          case AggregateOp::kGroup:
            g.value = 1;
            break;
          default:
            break;
        }
        continue;
      }
      if (input[si].drop_name) g.drop_name = true;
      switch (a.op) {
        case AggregateOp::kSum:
          KahanInc(f, &g.value, &g.kahan_c);
          break;
        case AggregateOp::kAvg: {
          // Direct mean while the sum stays finite, then incremental.
          g.count++;
          if (!g.incremental_mean) {
            double v = g.value, c = g.kahan_c;
            KahanInc(f, &v, &c);
            if (!std::isinf(v)) {
              g.value = v;
              g.kahan_c = c;
              break;
            }
            g.incremental_mean = true;
            g.mean = g.value / (g.count - 1);
            g.kahan_c /= g.count - 1;
          }
          const double qf = (g.count - 1) / g.count;
          double m = qf * g.mean;
          double c = qf * g.kahan_c;
          KahanInc(f / g.count, &m, &c);
          g.mean = m;
          g.kahan_c = c;
          break;
        }
        case AggregateOp::kMax:
          if (g.value < f || std::isnan(g.value)) g.value = f;
          break;
        case AggregateOp::kMin:
          if (g.value > f || std::isnan(g.value)) g.value = f;
          break;
        case AggregateOp::kCount:
          g.count++;
          break;
        case AggregateOp::kStddev:
        case AggregateOp::kStdvar: {
          g.count++;
          const double delta = f - g.mean;
          g.mean += delta / g.count;
          g.value += delta * (f - g.mean);
          break;
        }
        case AggregateOp::kQuantile:
          g.values.push_back(f);
          break;
        default:
          break;
      }
    }
    for (std::size_t ri = 0; ri < groups.size(); ++ri) {
      Group& g = groups[ri];
      if (!g.seen) continue;
      double v = g.value;
      switch (a.op) {
        case AggregateOp::kAvg:
          v = g.incremental_mean ? g.mean + g.kahan_c : g.value / g.count + g.kahan_c / g.count;
          break;
        case AggregateOp::kCount:
          v = g.count;
          break;
        case AggregateOp::kStdvar:
          v = g.value / g.count;
          break;
        case AggregateOp::kStddev:
          v = std::sqrt(g.value / g.count);
          break;
        case AggregateOp::kQuantile:
          v = Quantile(fparam, &g.values);
          break;
        case AggregateOp::kSum:
          v = g.value + g.kahan_c;
          break;
        default:
          break;
      }
      result[ri].points.push_back(Point{ts, v});
      result[ri].drop_name = g.drop_name;
      ++q_->current_samples;
    }
    NIMIFY_RETURN_IF_ERROR(q_->CheckSamples());
  }

  if (!IsKOp(a.op)) {
    for (ESeries& s : result) {
      if (!s.points.empty()) out->push_back(std::move(s));
    }
  }
  std::int64_t total = 0;
  for (const ESeries& s : *out) total += static_cast<std::int64_t>(s.points.size());
  q_->current_samples = original_samples + total;
  return Status::Ok();
}

// Prometheus 2.42's aggregation: the parameter and input are gathered per
// step and each step is aggregated on its own.
Status Ev::EvalAggregateV2(const AggregateExpr& a, std::vector<std::string> grouping,
                           EMatrix* out) {
  const LabelFilter* filter = q_->InternFilter(LabelFilter{!a.without, grouping});
  const Expr* args[2] = {a.param ? &Unparen(*a.param) : nullptr, &Unparen(*a.expr)};
  return RangeEval(
      args, nullptr,
      [&](std::span<EVector> v, std::span<SigVec>, NodeHelper* enh, EVector* res) {
        const EVector& vec = v[1];
        const double param = (a.param && !v[0].empty()) ? v[0][0].f : 0;
        std::int64_t k = 0;
        if (a.op == AggregateOp::kTopK || a.op == AggregateOp::kBottomK) {
          if (!(param <= kMaxInt64AsFloat && param >= kMinInt64AsFloat)) {
            return Status::InvalidArgument("Scalar value " + FormatGoG(param) + " overflows int64");
          }
          k = static_cast<std::int64_t>(param);
          if (k < 1) return Status::Ok();
        }
        struct V2Group {
          LabelsRef labels;
          double value = 0, mean = 0;
          double count = 0;
          std::vector<ESample> heap;
          std::vector<double> values;
        };
        std::vector<V2Group> groups;
        IndexMap index(vec.size());
        for (const ESample& s : vec) {
          const std::uint64_t key = GroupingKey(s.metric, a.without, grouping);
          auto [gi, inserted] = index.TryEmplace(key, static_cast<std::uint32_t>(groups.size()));
          if (inserted) {
            V2Group g;
            auto cached = enh->group_labels.find(key);
            if (cached != enh->group_labels.end()) {
              g.labels = cached->second;
            } else {
              g.labels = GroupingLabels(q_, s.metric, a.without, filter);
              enh->group_labels.emplace(key, g.labels);
            }
            g.value = s.f;
            g.mean = s.f;
            g.count = 1;
            switch (a.op) {
              case AggregateOp::kStddev:
              case AggregateOp::kStdvar:
                g.value = 0;
                break;
              case AggregateOp::kTopK:
              case AggregateOp::kBottomK:
                g.heap.assign(1, s);
                break;
              case AggregateOp::kQuantile:
                g.values.assign(1, s.f);
                break;
              case AggregateOp::kGroup:
                g.value = 1;
                break;
              default:
                break;
            }
            groups.push_back(std::move(g));
            continue;
          }
          V2Group& g = groups[gi];
          switch (a.op) {
            case AggregateOp::kSum:
              g.value += s.f;
              break;
            case AggregateOp::kAvg:
              g.count++;
              if (std::isinf(g.mean)) {
                if (std::isinf(s.f) && (g.mean > 0) == (s.f > 0)) break;
                if (!std::isinf(s.f) && !std::isnan(s.f)) break;
              }
              // Dividing each side first avoids float64 overflows.
              g.mean += s.f / g.count - g.mean / g.count;
              break;
            case AggregateOp::kMax:
              if (g.value < s.f || std::isnan(g.value)) g.value = s.f;
              break;
            case AggregateOp::kMin:
              if (g.value > s.f || std::isnan(g.value)) g.value = s.f;
              break;
            case AggregateOp::kCount:
              g.count++;
              break;
            case AggregateOp::kStddev:
            case AggregateOp::kStdvar: {
              g.count++;
              const double delta = s.f - g.mean;
              g.mean += delta / g.count;
              g.value += delta * (s.f - g.mean);
              break;
            }
            case AggregateOp::kTopK:
            case AggregateOp::kBottomK: {
              const bool top = a.op == AggregateOp::kTopK;
              auto less = top ? ByValueLess : ByReverseValueLess;
              const double head = g.heap[0].f;
              const bool better = top ? head < s.f : head > s.f;
              if (static_cast<std::int64_t>(g.heap.size()) < k || better || std::isnan(head)) {
                if (static_cast<std::int64_t>(g.heap.size()) == k) {
                  if (k == 1) {
                    g.heap[0] = s;
                    break;
                  }
                  HeapPop(&g.heap, less);
                }
                HeapPush(&g.heap, s, less);
              }
              break;
            }
            case AggregateOp::kQuantile:
              g.values.push_back(s.f);
              break;
            default:
              break;
          }
        }
        for (V2Group& g : groups) {
          double value = g.value;
          switch (a.op) {
            case AggregateOp::kAvg:
              value = g.mean;
              break;
            case AggregateOp::kCount:
              value = g.count;
              break;
            case AggregateOp::kStdvar:
              value = g.value / g.count;
              break;
            case AggregateOp::kStddev:
              value = std::sqrt(g.value / g.count);
              break;
            case AggregateOp::kQuantile:
              value = Quantile(param, &g.values);
              break;
            case AggregateOp::kTopK:
            case AggregateOp::kBottomK: {
              const bool top = a.op == AggregateOp::kTopK;
              if (g.heap.size() > 1) {
                SafeStableSort(&g.heap, [top](const ESample& x, const ESample& y) {
                  return std::isnan(y.f) || (top ? y.f < x.f : y.f > x.f);
                });
              }
              for (const ESample& s : g.heap)
                res->push_back(ESample{s.metric, s.f, enh->ts, false});
              continue;
            }
            default:
              break;
          }
          res->push_back(ESample{g.labels, value, enh->ts, false});
        }
        return Status::Ok();
      },
      out);
}

}  // namespace nimify::promql::eval_internal
