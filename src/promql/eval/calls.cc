// Function calls: range-vector function evaluation (series by series, as
// Prometheus does), and the functions that work on whole series
// (label_replace, label_join, timestamp of a selector). Which kind a call is
// comes from the function table (promql/functions.h).
#include <re2/re2.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <unordered_set>

#include "promql/eval/eval_internal.h"

namespace nimify::promql::eval_internal {

bool IsRangeFn(FnKind k) noexcept {
  return k >= FnKind::kRate && k <= FnKind::kDoubleExponentialSmoothing;
}

bool IsAtModifierUnsafe(FnKind k, bool v2) noexcept {
  switch (k) {
    case FnKind::kDaysInMonth:
    case FnKind::kDayOfMonth:
    case FnKind::kDayOfWeek:
    case FnKind::kDayOfYear:
    case FnKind::kHour:
    case FnKind::kMinute:
    case FnKind::kMonth:
    case FnKind::kYear:
    case FnKind::kPredictLinear:
    case FnKind::kTime:
    case FnKind::kTimestamp:
      return true;
    case FnKind::kQueryStart:
    case FnKind::kQueryEnd:
    case FnKind::kQueryRange:
    case FnKind::kQueryStep:
      return !v2;
    default:
      return false;
  }
}

std::string_view StringArg(const ExprPtr& e) {
  const Expr& x = Unparen(*e);
  if (x.kind() != ExprKind::kStringLiteral) return {};
  return static_cast<const StringLiteral&>(x).value;
}

// Labels taken from the equality matchers of absent()'s argument.
Labels LabelsForAbsent(const Expr& arg) {
  const Expr& e = Unparen(arg);
  const std::vector<LabelMatcher>* matchers = nullptr;
  if (e.kind() == ExprKind::kVectorSelector) {
    matchers = &static_cast<const VectorSelector&>(e).matchers;
  } else if (e.kind() == ExprKind::kMatrixSelector) {
    matchers = &static_cast<const MatrixSelector&>(e).selector->matchers;
  } else {
    return Labels();
  }
  Labels out;
  std::unordered_set<std::string_view> has;
  for (const LabelMatcher& m : *matchers) {
    if (m.name() == kMetricNameLabel) continue;
    if (m.type() == MatchType::kEqual && !has.contains(m.name())) {
      out.Set(m.name(), m.value());
      has.insert(m.name());
    } else {
      out.Del(m.name());
    }
  }
  return out;
}

namespace {

bool EndsWith(std::string_view s, std::string_view suffix) {
  if (s.size() < suffix.size()) return false;
  const char* p = s.data() + (s.size() - suffix.size());
  for (std::size_t i = 0; i < suffix.size(); ++i) {
    if (p[i] != suffix[i]) return false;
  }
  return true;
}

bool HasCounterSuffix(std::string_view name) {
  if (name.empty()) return false;
  switch (name.back()) {  // most names fail on the last letter
    case 'l':
      return EndsWith(name, "_total");
    case 'm':
      return EndsWith(name, "_sum");
    case 't':
      return EndsWith(name, "_count") || EndsWith(name, "_bucket");
    default:
      return false;
  }
}

// The values of __name__, __type__ and __unit__, found without string
// compares past the reserved prefix (labels are sorted by name).
struct MetaValues {
  std::string_view name, type, unit;
  bool operator==(const MetaValues&) const = default;
};
MetaValues ReadMeta(const Labels& labels) {
  MetaValues m;
  for (const Label& l : labels) {
    const std::string& n = l.name;
    if (n.empty() || n[0] < '_') continue;
    if (n[0] > '_') break;
    if (n.size() != 8 || n[1] != '_') continue;
    if (n == kMetricNameLabel) {
      m.name = l.value;
    } else if (n == "__type__") {
      m.type = l.value;
    } else if (n == "__unit__") {
      m.unit = l.value;
    }
  }
  return m;
}

// One input series of a range-vector function.
struct RangeSource {
  LabelsRef metric;
  std::span<const Point> points;
  bool drop_name = false;
};

}  // namespace

Status Ev::EvalCall(const Call& c, EMatrix* out) {
  const FnKind kind = c.func->kind;
  switch (kind) {
    case FnKind::kUnknown:
      return Status::InvalidArgument("function \"" + std::string(c.func->name) +
                                     "\" is not supported by this evaluator");
    case FnKind::kQueryStart:
    case FnKind::kQueryEnd:
    case FnKind::kQueryRange:
    case FnKind::kQueryStep: {
      double v = 0;
      if (kind == FnKind::kQueryStart) v = static_cast<double>(q_->query_start) / 1000;
      if (kind == FnKind::kQueryEnd) v = static_cast<double>(q_->query_end) / 1000;
      if (kind == FnKind::kQueryRange) {
        v = static_cast<double>(q_->query_end - q_->query_start) / 1000;
      }
      if (kind == FnKind::kQueryStep && q_->query_end != q_->query_start) {
        v = static_cast<double>(q_->query_step) / 1000;
      }
      ESeries s;
      s.metric = q_->Empty();
      for (std::int64_t ts = start_; ts <= end_; ts += interval_) s.points.push_back(Point{ts, v});
      out->push_back(std::move(s));
      return Status::Ok();
    }
    default:
      break;
  }

  if (kind == FnKind::kTimestamp && c.args.size() == 1 &&
      Unparen(*c.args[0]).kind() == ExprKind::kVectorSelector) {
    return EvalTimestampOfSelector(c, static_cast<const VectorSelector&>(Unparen(*c.args[0])), out);
  }

  for (std::size_t i = 0; i < c.args.size(); ++i) {
    const ExprKind k = Unparen(*c.args[i]).kind();
    if (k == ExprKind::kMatrixSelector || k == ExprKind::kSubquery) {
      if (!IsRangeFn(kind)) {
        return Status::InvalidArgument("function \"" + std::string(c.func->name) +
                                       "\" does not take a range vector");
      }
      return EvalRangeCall(c, kind, i, out);
    }
  }
  if (IsRangeFn(kind)) {
    return Status::InvalidArgument("function \"" + std::string(c.func->name) +
                                   "\" needs a range vector argument");
  }

  if (kind == FnKind::kLabelReplace && !q_->v2) return EvalLabelReplace(c, out);
  if (kind == FnKind::kLabelJoin && !q_->v2) return EvalLabelJoin(c, out);

  if (!q_->v2 && !instant() &&
      (kind == FnKind::kSort || kind == FnKind::kSortDesc || kind == FnKind::kSortByLabel ||
       kind == FnKind::kSortByLabelDesc)) {
    q_->Warn(
        "PromQL warning: sort is ineffective for range queries since results are always ordered "
        "by labels",
        c.pos);
  }

  std::vector<const Expr*> args;
  args.reserve(c.args.size());
  for (const ExprPtr& a : c.args) args.push_back(&Unparen(*a));
  return RangeEval(
      args, nullptr,
      [&](std::span<EVector> v, std::span<SigVec>, NodeHelper* enh, EVector* res) {
        return CallInstantFn(this, c, kind, v, enh, res);
      },
      out);
}

Status Ev::EvalRangeCall(const Call& c, FnKind kind, std::size_t matrix_arg, EMatrix* out) {
  const Expr& marg = Unparen(*c.args[matrix_arg]);
  EMatrix subquery_result;
  ScratchVec<RangeSource> sources;
  std::int64_t range_ms = 0;
  std::int64_t offset_ms = 0;
  bool has_at = false;
  std::int64_t at_ms = 0;
  if (marg.kind() == ExprKind::kSubquery) {
    const auto& sq = static_cast<const SubqueryExpr&>(marg);
    NIMIFY_RETURN_IF_ERROR(EvalSubquery(sq, &subquery_result));
    range_ms = sq.range_ms;
    offset_ms = sq.offset_ms;
    has_at = q_->Info(sq).has_at;
    at_ms = q_->Info(sq).at_ms;
  }

  // The scalar arguments, evaluated over this evaluator's steps.
  std::vector<EMatrix> others(c.args.size());
  for (std::size_t i = 0; i < c.args.size(); ++i) {
    if (i == matrix_arg || c.args[i]->type() == ValueType::kString) continue;
    NIMIFY_RETURN_IF_ERROR(Eval(*c.args[i], &others[i]));
  }

  if (marg.kind() == ExprKind::kSubquery) {
    sources.reserve(subquery_result.size());
    for (const ESeries& s : subquery_result) {
      sources.push_back(RangeSource{s.metric, s.points.span(), s.drop_name});
    }
  } else {
    const auto& ms = static_cast<const MatrixSelector&>(marg);
    const std::vector<SeriesView>* series = nullptr;
    NIMIFY_RETURN_IF_ERROR(q_->Select(*ms.selector, &series));
    range_ms = ms.range_ms;
    offset_ms = ms.selector->offset_ms;
    has_at = q_->Info(*ms.selector).has_at;
    at_ms = q_->Info(*ms.selector).at_ms;
    sources.reserve(series->size());
    for (const SeriesView& v : *series) {
      sources.push_back(RangeSource{LabelsRef{v.labels, Hide::kNone}, v.points, false});
    }
  }

  // Storage series are distinct, so dropping labels whose values they all
  // share (the metric name, mostly) cannot make two of them equal.
  bool from_storage_with_same_meta = marg.kind() != ExprKind::kSubquery;
  if (from_storage_with_same_meta && !sources.empty()) {
    const MetaValues first = ReadMeta(*sources[0].metric.base);
    const auto labels_at = [&](std::size_t j) { return sources[j].metric.base; };
    for (std::size_t si = 0; si < sources.size(); ++si) {
      PrefetchLabelsAhead(si, sources.size(), labels_at);
      if (!(ReadMeta(*sources[si].metric.base) == first)) {
        from_storage_with_same_meta = false;
        break;
      }
    }
  }

  // last_over_time and first_over_time act like offset and keep the name.
  const bool fn_drops_name =
      kind != FnKind::kLastOverTime && (q_->v2 || kind != FnKind::kFirstOverTime);
  const PosRange arg_pos = Unparen(*c.args[0]).pos;
  const std::size_t steps = NumSteps();
  std::vector<double> params;
  std::vector<Point> window;
  bool counter_name_checked = false;
  out->reserve(sources.size());

  for (std::size_t si = 0; si < sources.size(); ++si) {
    const RangeSource& src = sources[si];
    // Series data is scattered: fetch a later series while this one computes.
    if (si + 4 < sources.size()) {
      const char* ahead = reinterpret_cast<const char*>(sources[si + 4].points.data());
      __builtin_prefetch(ahead);
      __builtin_prefetch(ahead + 64);
      __builtin_prefetch(ahead + 128);
      __builtin_prefetch(ahead + 192);
    }
    const bool series_drop = fn_drops_name || (!q_->v2 && src.drop_name);
    ESeries ss;
    ss.metric = src.metric;
    if ((q_->v2 || !q_->delayed) && series_drop) ss.metric = q_->DropName(src.metric);
    ss.drop_name = series_drop;
    std::size_t lo = 0;
    std::size_t hi = 0;
    std::size_t step = 0;
    for (std::int64_t ts = start_; ts <= end_; ts += interval_, ++step) {
      params.clear();
      for (std::size_t j = 0; j < c.args.size(); ++j) {
        if (j == matrix_arg || c.args[j]->type() == ValueType::kString) continue;
        double p = std::nan("");
        if (!others[j].empty() && step < others[j][0].points.size()) {
          p = others[j][0].points[step].v;
        }
        params.push_back(p);
      }
      const std::int64_t maxt = SatSub(has_at ? at_ms : ts, offset_ms);
      const std::int64_t mint = SatSub(maxt, range_ms);
      const auto& pts = src.points;
      if (has_at) {
        lo = hi = 0;
      }
      while (hi < pts.size() && pts[hi].t <= maxt) ++hi;
      while (lo < hi && (q_->v2 ? pts[lo].t < mint : pts[lo].t <= mint)) ++lo;
      window.clear();
      if (q_->v2 || mint != maxt) {
        for (std::size_t k = lo; k < hi; ++k) {
          if (!IsStaleNaN(pts[k].v)) window.push_back(pts[k]);
        }
      }
      if (window.empty()) continue;
      q_->current_samples += static_cast<std::int64_t>(window.size());
      Status st = q_->CheckSamples();
      q_->current_samples -= static_cast<std::int64_t>(window.size());
      NIMIFY_RETURN_IF_ERROR(st);

      RangeFnArgs a;
      a.points = window;
      a.ts = ts;
      a.range_start = mint;
      a.range_end = maxt;
      a.range_ms = range_ms;
      a.params = params;
      a.metric = src.metric;
      a.arg_pos = arg_pos;
      double v = 0;
      bool ok = false;
      NIMIFY_RETURN_IF_ERROR(CallRangeFn(kind, a, q_, &v, &ok));
      if (ok) {
        if (ss.points.empty() && steps > 1) ss.points.reserve(PointsToReserve());
        ss.points.push_back(Point{ts, v});
      }
    }
    if (!ss.points.empty()) {
      q_->current_samples += static_cast<std::int64_t>(ss.points.size());
      NIMIFY_RETURN_IF_ERROR(q_->CheckSamples());
      // Storage series with the same metadata share their name: check it once.
      if (!q_->v2 && (kind == FnKind::kRate || kind == FnKind::kIncrease) &&
          !(from_storage_with_same_meta && counter_name_checked)) {
        counter_name_checked = true;
        const std::string_view name = GetLabel(src.metric, kMetricNameLabel);
        if (!name.empty() && !HasCounterSuffix(name)) {
          q_->Info(
              "PromQL info: metric might not be a counter, name does not end in "
              "_total/_sum/_count/_bucket: " +
                  GoQuote(name),
              arg_pos);
        }
      }
      out->push_back(std::move(ss));
    }
  }

  if (kind == FnKind::kAbsentOverTime) {
    // The result so far has a series per input; absent_over_time wants one
    // series with 1 at the steps where no input had a sample.
    for (const ESeries& s : *out) {
      if (s.points.size() == steps) {
        out->clear();
        return Status::Ok();
      }
    }
    std::unordered_set<std::int64_t> found;
    for (const ESeries& s : *out) {
      for (const Point& p : s.points) found.insert(p.t);
    }
    ESeries absent;
    absent.metric = q_->Intern(LabelsForAbsent(*c.args[0]));
    absent.drop_name = fn_drops_name;
    for (std::int64_t ts = start_; ts <= end_; ts += interval_) {
      if (!found.contains(ts)) absent.points.push_back(Point{ts, 1});
    }
    out->clear();
    if (!absent.points.empty()) out->push_back(std::move(absent));
    return Status::Ok();
  }

  if ((q_->v2 || !q_->delayed) && !from_storage_with_same_meta && ContainsSameLabelset(*out)) {
    return Status::InvalidArgument(std::string(kDuplicateLabelsetError));
  }
  return Status::Ok();
}

Status Ev::EvalTimestampOfSelector(const Call& c, const VectorSelector& vs, EMatrix* out) {
  const std::vector<SeriesView>* series = nullptr;
  NIMIFY_RETURN_IF_ERROR(q_->Select(vs, &series));
  const NodeInfo& ni = q_->Info(vs);
  ScratchVec<std::size_t> cursors(series->size(), 0);
  (void)c;
  return RangeEval(
      {}, nullptr,
      [&](std::span<EVector>, std::span<SigVec>, NodeHelper* enh, EVector* res) {
        // With `@`, Prometheus pins the lookup to the `@` time itself.
        const std::int64_t ref = ni.has_at ? ni.at_ms : SatSub(enh->ts, vs.offset_ms);
        for (std::size_t i = 0; i < series->size(); ++i) {
          const SeriesView& view = (*series)[i];
          std::size_t from = cursors[i];
          if (from > 0 && from <= view.points.size() && view.points[from - 1].t > ref) from = 0;
          auto it = std::upper_bound(view.points.begin() + static_cast<std::ptrdiff_t>(from),
                                     view.points.end(), ref,
                                     [](std::int64_t r, const Point& p) { return r < p.t; });
          const auto idx = static_cast<std::size_t>(it - view.points.begin());
          cursors[i] = idx;
          if (idx == 0) continue;
          const Point& p = view.points[idx - 1];
          const std::int64_t lookback = q_->opts.lookback_delta_ms;
          const std::int64_t oldest = SatSub(ref, lookback);
          if (q_->v2 ? p.t < oldest : p.t <= oldest) continue;
          if (IsStaleNaN(p.v)) continue;
          ESample s;
          s.metric = LabelsRef{view.labels, Hide::kNone};
          if (q_->v2 || !q_->delayed) s.metric = q_->DropName(s.metric);
          s.drop_name = true;
          s.f = static_cast<double>(p.t) / 1000;
          s.t = enh->ts;
          res->push_back(s);
          ++q_->current_samples;
        }
        return q_->CheckSamples();
      },
      out);
}

namespace {

bool IsNameChar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c >= 0x80;
}

// Go's Regexp.ExpandString: $1, ${1}, $name, ${name}, $$.
std::string ExpandTemplate(const RE2& re, std::string_view tmpl,
                           const std::vector<re2::StringPiece>& groups) {
  std::string out;
  std::size_t i = 0;
  while (i < tmpl.size()) {
    const std::size_t dollar = tmpl.find('$', i);
    if (dollar == std::string_view::npos) {
      out.append(tmpl.substr(i));
      break;
    }
    out.append(tmpl.substr(i, dollar - i));
    std::string_view rest = tmpl.substr(dollar + 1);
    if (!rest.empty() && rest[0] == '$') {
      out.push_back('$');
      i = dollar + 2;
      continue;
    }
    bool brace = false;
    std::size_t p = 0;
    if (!rest.empty() && rest[0] == '{') {
      brace = true;
      p = 1;
    }
    std::size_t name_end = p;
    while (name_end < rest.size() && IsNameChar(static_cast<unsigned char>(rest[name_end]))) {
      ++name_end;
    }
    const std::string_view name = rest.substr(p, name_end - p);
    bool ok = !name.empty();
    std::size_t consumed = name_end;
    if (ok && brace) {
      if (name_end >= rest.size() || rest[name_end] != '}') {
        ok = false;
      } else {
        consumed = name_end + 1;
      }
    }
    if (!ok) {
      out.push_back('$');  // malformed: the '$' is literal text
      i = dollar + 1;
      continue;
    }
    i = dollar + 1 + consumed;
    // A number refers to a group index; leading zeros make it a name.
    long num = 0;
    for (char ch : name) {
      if (ch < '0' || ch > '9' || num >= 100000000) {
        num = -1;
        break;
      }
      num = num * 10 + (ch - '0');
    }
    if (name.size() > 1 && name[0] == '0') num = -1;
    if (num < 0) {
      const auto& named = re.NamedCapturingGroups();
      auto it = named.find(std::string(name));
      if (it == named.end()) continue;
      num = it->second;
    }
    if (static_cast<std::size_t>(num) < groups.size() && groups[num].data() != nullptr) {
      out.append(groups[num].data(), groups[num].size());
    }
  }
  return out;
}

}  // namespace

Status Ev::EvalLabelReplace(const Call& c, EMatrix* out) {
  const std::string_view dst = StringArg(c.args[1]);
  const std::string_view repl = StringArg(c.args[2]);
  const std::string_view src = StringArg(c.args[3]);
  const std::string_view regex = StringArg(c.args[4]);
  RE2::Options opts;
  opts.set_log_errors(false);
  RE2 re("^(?s:" + std::string(regex) + ")$", opts);
  if (!re.ok()) {
    return Status::InvalidArgument("invalid regular expression in label_replace(): " +
                                   std::string(regex));
  }
  if (!IsValidLabelNameFor(dst, q_->v2)) {
    return Status::InvalidArgument("invalid destination label name in label_replace(): " +
                                   std::string(dst));
  }
  NIMIFY_RETURN_IF_ERROR(Eval(*c.args[0], out));
  std::vector<re2::StringPiece> groups(static_cast<std::size_t>(re.NumberOfCapturingGroups()) + 1);
  for (ESeries& s : *out) {
    const std::string_view value = GetLabel(s.metric, src);
    if (!re.Match(re2::StringPiece(value.data(), value.size()), 0, value.size(), RE2::UNANCHORED,
                  groups.data(), static_cast<int>(groups.size()))) {
      continue;
    }
    const std::string res = ExpandTemplate(re, repl, groups);
    Labels lb = Materialize(s.metric);
    lb.Set(dst, res);
    s.metric = q_->Intern(std::move(lb));
    if (dst == kMetricNameLabel) s.drop_name = false;
  }
  return MergeSameLabelsets(out);
}

Status Ev::EvalLabelJoin(const Call& c, EMatrix* out) {
  const std::string_view dst = StringArg(c.args[1]);
  const std::string_view sep = StringArg(c.args[2]);
  std::vector<std::string_view> srcs;
  for (std::size_t i = 3; i < c.args.size(); ++i) {
    const std::string_view src = StringArg(c.args[i]);
    if (!IsValidLabelNameFor(src, q_->v2)) {
      return Status::InvalidArgument("invalid source label name in label_join(): " +
                                     std::string(src));
    }
    srcs.push_back(src);
  }
  if (!IsValidLabelNameFor(dst, q_->v2)) {
    return Status::InvalidArgument("invalid destination label name in label_join(): " +
                                   std::string(dst));
  }
  NIMIFY_RETURN_IF_ERROR(Eval(*c.args[0], out));
  for (ESeries& s : *out) {
    std::string joined;
    for (std::size_t i = 0; i < srcs.size(); ++i) {
      if (i > 0) joined.append(sep);
      joined.append(GetLabel(s.metric, srcs[i]));
    }
    Labels lb = Materialize(s.metric);
    lb.Set(dst, joined);
    s.metric = q_->Intern(std::move(lb));
    if (dst == kMetricNameLabel) s.drop_name = false;
  }
  return MergeSameLabelsets(out);
}

// Prometheus 2 evaluates label_replace and label_join step by step.
Status LabelReplaceV2(QueryCtx* q, const Call& c, const EVector& in, NodeHelper* enh,
                      EVector* out) {
  const std::string_view dst = StringArg(c.args[1]);
  const std::string_view repl = StringArg(c.args[2]);
  const std::string_view src = StringArg(c.args[3]);
  const std::string_view regex = StringArg(c.args[4]);
  RE2::Options opts;
  opts.set_log_errors(false);
  RE2 re("^(?:" + std::string(regex) + ")$", opts);
  if (!re.ok()) {
    return Status::InvalidArgument("invalid regular expression in label_replace(): " +
                                   std::string(regex));
  }
  if (!IsValidLabelNameFor(dst, /*legacy=*/true)) {
    return Status::InvalidArgument("invalid destination label name in label_replace(): " +
                                   std::string(dst));
  }
  std::vector<re2::StringPiece> groups(static_cast<std::size_t>(re.NumberOfCapturingGroups()) + 1);
  for (const ESample& s : in) {
    ESample o = s;
    auto cached = enh->label_cache.find(s.metric.base);
    if (cached != enh->label_cache.end() && IsPlain(s.metric)) {
      o.metric = cached->second;
    } else {
      const std::string_view value = GetLabel(s.metric, src);
      if (re.Match(re2::StringPiece(value.data(), value.size()), 0, value.size(), RE2::UNANCHORED,
                   groups.data(), static_cast<int>(groups.size()))) {
        Labels lb = Materialize(s.metric);
        lb.Set(dst, ExpandTemplate(re, repl, groups));
        o.metric = q->Intern(std::move(lb));
      }
      if (IsPlain(s.metric)) enh->label_cache[s.metric.base] = o.metric;
    }
    out->push_back(o);
  }
  return Status::Ok();
}

Status LabelJoinV2(QueryCtx* q, const Call& c, const EVector& in, NodeHelper* enh, EVector* out) {
  const std::string_view dst = StringArg(c.args[1]);
  const std::string_view sep = StringArg(c.args[2]);
  std::vector<std::string_view> srcs;
  for (std::size_t i = 3; i < c.args.size(); ++i) {
    const std::string_view src = StringArg(c.args[i]);
    if (!IsValidLabelNameFor(src, /*legacy=*/true)) {
      return Status::InvalidArgument("invalid source label name in label_join(): " +
                                     std::string(src));
    }
    srcs.push_back(src);
  }
  if (!IsValidLabelNameFor(dst, /*legacy=*/true)) {
    return Status::InvalidArgument("invalid destination label name in label_join(): " +
                                   std::string(dst));
  }
  for (const ESample& s : in) {
    ESample o = s;
    auto cached = enh->label_cache.find(s.metric.base);
    if (cached != enh->label_cache.end() && IsPlain(s.metric)) {
      o.metric = cached->second;
    } else {
      std::string joined;
      for (std::size_t i = 0; i < srcs.size(); ++i) {
        if (i > 0) joined.append(sep);
        joined.append(GetLabel(s.metric, srcs[i]));
      }
      Labels lb = Materialize(s.metric);
      lb.Set(dst, joined);
      o.metric = q->Intern(std::move(lb));
      if (IsPlain(s.metric)) enh->label_cache[s.metric.base] = o.metric;
    }
    out->push_back(o);
  }
  return Status::Ok();
}

}  // namespace nimify::promql::eval_internal
