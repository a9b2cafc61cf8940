// The evaluator's entry points, preprocessing, selectors, subqueries and the
// node dispatcher. Functions, operators and aggregations live in their own
// files.
#include "promql/evaluator.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <utility>

#include "promql/eval/eval_internal.h"

namespace nimify::promql {

namespace eval_internal {

// ---------------------------------------------------------------------------
// Annotations

Annotations::Entry* Annotations::Find(const std::string& msg) {
  auto it = index_.find(msg);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

void Annotations::Add(Level level, std::string msg, PosRange pos) {
  if (Entry* e = Find(msg)) {
    e->pos = pos;  // the later one wins, as in Prometheus's map
    return;
  }
  index_.emplace(msg, entries_.size());
  Entry e;
  e.level = level;
  e.msg = std::move(msg);
  e.pos = pos;
  entries_.push_back(std::move(e));
}

void Annotations::AddForcedMonotonicity(std::string msg, PosRange pos, std::int64_t ts,
                                        double min_bucket, double max_bucket, double max_diff) {
  if (Entry* e = Find(msg)) {
    e->pos = pos;
    e->count++;
    e->min_ts = std::min(e->min_ts, ts);
    e->max_ts = std::max(e->max_ts, ts);
    e->min_bucket = std::min(e->min_bucket, min_bucket);
    e->max_bucket = std::max(e->max_bucket, max_bucket);
    e->max_diff = std::max(e->max_diff, max_diff);
    return;
  }
  index_.emplace(msg, entries_.size());
  Entry e;
  e.level = Level::kInfo;
  e.msg = std::move(msg);
  e.pos = pos;
  e.monotonicity = true;
  e.min_ts = e.max_ts = ts;
  e.min_bucket = min_bucket;
  e.max_bucket = max_bucket;
  e.max_diff = max_diff;
  entries_.push_back(std::move(e));
}

namespace {

// Prometheus's PositionRange.StartPosInput.
std::string StartPosInput(std::string_view query, int pos) {
  if (pos < 0) return "invalid position";
  if (query.empty()) return "1:" + std::to_string(pos + 1);
  if (static_cast<std::size_t>(pos) > query.size()) return "invalid position";
  int line = 1;
  int last_break = -1;
  for (int i = 0; i < pos; ++i) {
    if (query[static_cast<std::size_t>(i)] == '\n') {
      last_break = i;
      ++line;
    }
  }
  return std::to_string(line) + ":" + std::to_string(pos - last_break);
}

// Go's time.Unix(ms/1000, 0).UTC().Format(time.RFC3339).
std::string FormatRfc3339(std::int64_t ms) {
  const CivilTime c = ToCivil(ms / 1000);  // Go truncates toward zero here
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04lld-%02d-%02dT%02d:%02d:%02dZ",
                static_cast<long long>(c.year), c.month, c.day, c.hour, c.minute, c.second);
  return buf;
}

}  // namespace

void Annotations::Export(std::string_view query, std::vector<std::string>* warnings,
                         std::vector<std::string>* infos) const {
  for (const Entry& e : entries_) {
    std::string text = e.msg;
    if (e.monotonicity) {
      text += ", from buckets " + FormatGoG(e.min_bucket) + " to " + FormatGoG(e.max_bucket) +
              ", with a max diff of " + FormatGoGPrec(e.max_diff, 2) + ", over " +
              std::to_string(e.count + 1) + " samples from " + FormatRfc3339(e.min_ts) + " to " +
              FormatRfc3339(e.max_ts);
    }
    text += " (" + StartPosInput(query, e.pos.start) + ")";
    (e.level == Level::kWarning ? warnings : infos)->push_back(std::move(text));
  }
}

// ---------------------------------------------------------------------------
// Small shared helpers

const Expr& Unparen(const Expr& e) noexcept {
  const Expr* p = &e;
  while (p->kind() == ExprKind::kParen) p = static_cast<const ParenExpr*>(p)->expr.get();
  return *p;
}

namespace {

template <typename T>
bool ContainsSameLabelsetImpl(const T& v) {
  if (v.size() < 2) return false;
  if (v.size() == 2) return LabelsEqual(v[0].metric, v[1].metric);
  IndexMap seen(v.size());
  for (const auto& s : v) {
    if (!seen.Insert(HashLabels(s.metric))) return true;
  }
  return false;
}

}  // namespace

bool ContainsSameLabelset(const EVector& v) { return ContainsSameLabelsetImpl(v); }
bool ContainsSameLabelset(const EMatrix& m) { return ContainsSameLabelsetImpl(m); }

// ---------------------------------------------------------------------------
// QueryCtx

QueryCtx::QueryCtx(const EvalOptions& options, std::string_view query_text, std::int64_t start,
                   std::int64_t end)
    : opts(options),
      v2(options.compat == Compat::kPrometheus2),
      delayed(options.delayed_name_removal),
      query(query_text),
      query_start(start),
      query_end(end) {}

LabelsRef QueryCtx::Intern(Labels labels) {
  arena_.push_back(std::move(labels));
  return {&arena_.back(), Hide::kNone, nullptr};
}

const LabelFilter* QueryCtx::InternFilter(LabelFilter filter) {
  filters_.push_back(std::move(filter));
  return &filters_.back();
}

Status QueryCtx::TooManySamples() const {
  return Status::ResourceExhausted(
      "query processing would load too many samples into memory in query execution");
}

const NodeInfo& QueryCtx::Info(const Expr& e) const {
  static const NodeInfo kNone;
  auto it = info_.find(&e);
  return it == info_.end() ? kNone : it->second;
}

std::int64_t QueryCtx::ResolveAt(AtKind kind, std::int64_t at_ms) const {
  switch (kind) {
    case AtKind::kStart:
      return query_start;
    case AtKind::kEnd:
      return query_end;
    default:
      return ClampTime(at_ms);
  }
}

void QueryCtx::Prepare(const Expr& root) {
  if (Preprocess(root).second) Mut(root).wrap_invariant = true;
  ComputeRanges(root, SubqPath{}, 0);
}

void QueryCtx::SelectBounds(std::int64_t* mint, std::int64_t* maxt) const {
  bool any = false;
  for (const auto& [expr, ni] : info_) {
    if (!ni.is_selector) continue;
    *mint = any ? std::min(*mint, ni.select_mint) : ni.select_mint;
    *maxt = any ? std::max(*maxt, ni.select_maxt) : ni.select_maxt;
    any = true;
  }
  if (!any) *mint = *maxt = 0;
}

std::pair<bool, bool> QueryCtx::Preprocess(const Expr& e) {
  switch (e.kind()) {
    case ExprKind::kVectorSelector: {
      const bool at = static_cast<const VectorSelector&>(e).at != AtKind::kNone;
      return {at, at};
    }
    case ExprKind::kAggregate:
      return Preprocess(Unparen(*static_cast<const AggregateExpr&>(e).expr));
    case ExprKind::kBinary: {
      const auto& b = static_cast<const BinaryExpr&>(e);
      const auto [li, lw] = Preprocess(*b.lhs);
      const auto [ri, rw] = Preprocess(*b.rhs);
      if (li && ri) return {true, true};
      if (lw) Mut(*b.lhs).wrap_invariant = true;
      if (rw) Mut(*b.rhs).wrap_invariant = true;
      return {false, false};
    }
    case ExprKind::kCall: {
      const auto& c = static_cast<const Call&>(e);
      const FnKind kind = c.func->kind;
      if (!v2 && (kind == FnKind::kQueryStart || kind == FnKind::kQueryEnd ||
                  kind == FnKind::kQueryRange || kind == FnKind::kQueryStep)) {
        return {true, false};  // folded into a number literal by Prometheus
      }
      bool invariant = !IsAtModifierUnsafe(kind, v2);
      bool timestamp_safe = !v2 && kind == FnKind::kTimestamp;
      std::vector<bool> wraps(c.args.size());
      for (std::size_t i = 0; i < c.args.size(); ++i) {
        const Expr& arg = Unparen(*c.args[i]);
        const auto [ai, aw] = Preprocess(arg);
        wraps[i] = aw;
        invariant = invariant && ai;
        if (!ai || arg.kind() != ExprKind::kVectorSelector) timestamp_safe = false;
      }
      if (invariant || timestamp_safe) return {true, true};
      for (std::size_t i = 0; i < c.args.size(); ++i) {
        if (wraps[i]) Mut(Unparen(*c.args[i])).wrap_invariant = true;
      }
      return {false, false};
    }
    case ExprKind::kMatrixSelector: {
      const bool inv = Preprocess(*static_cast<const MatrixSelector&>(e).selector).first;
      return {inv, v2 && inv};
    }
    case ExprKind::kSubquery: {
      const auto& sq = static_cast<const SubqueryExpr&>(e);
      if (Preprocess(*sq.expr).first) Mut(*sq.expr).wrap_invariant = true;
      const bool at = sq.at != AtKind::kNone;
      return {at, v2 && at};
    }
    case ExprKind::kParen:
      return Preprocess(*static_cast<const ParenExpr&>(e).expr);
    case ExprKind::kUnary:
      return Preprocess(*static_cast<const UnaryExpr&>(e).expr);
    case ExprKind::kNumberLiteral:
    case ExprKind::kStringLiteral:
      return {true, v2};
  }
  return {false, false};
}

void QueryCtx::ComputeRanges(const Expr& e, const SubqPath& path, std::int64_t eval_range) {
  switch (e.kind()) {
    case ExprKind::kVectorSelector: {
      const auto& vs = static_cast<const VectorSelector&>(e);
      NodeInfo& ni = Mut(vs);
      ni.is_selector = true;
      ni.has_at = vs.at != AtKind::kNone;
      if (ni.has_at) ni.at_ms = ResolveAt(vs.at, vs.at_ms);
      std::int64_t s = query_start;
      std::int64_t en = query_end;
      if (path.has_ts) s = en = path.ts;
      if (ni.has_at) {
        s = en = ni.at_ms;
      } else {
        s = SatSub(SatSub(s, path.offset), path.range);
        en = SatSub(en, path.offset);
      }
      s = SatSub(s, eval_range == 0 ? opts.lookback_delta_ms : eval_range);
      s = SatSub(s, vs.offset_ms);
      en = SatSub(en, vs.offset_ms);
      ni.select_mint = SatSub(s, 1);  // one ms of slack covers Prometheus 2's closed windows
      ni.select_maxt = en;
      // One instant: a pinned `@` (with no offset, which timestamp() would
      // look past), or an instant query outside any subquery.
      const bool one_instant =
          ni.has_at ? vs.offset_ms == 0 : !path.in_subquery && query_start == query_end;
      ni.newest_only = eval_range == 0 && one_instant;
      return;
    }
    case ExprKind::kMatrixSelector: {
      const auto& ms = static_cast<const MatrixSelector&>(e);
      ComputeRanges(*ms.selector, path, ms.range_ms);
      return;
    }
    case ExprKind::kSubquery: {
      const auto& sq = static_cast<const SubqueryExpr&>(e);
      NodeInfo& ni = Mut(sq);
      ni.has_at = sq.at != AtKind::kNone;
      if (ni.has_at) ni.at_ms = ResolveAt(sq.at, sq.at_ms);
      SubqPath inner = path;
      if (ni.has_at) {
        inner = SubqPath{ClampTime(sq.offset_ms), ClampTime(sq.range_ms), true, ni.at_ms};
      } else {
        inner.offset = ClampTime(inner.offset + ClampTime(sq.offset_ms));
        inner.range = ClampTime(inner.range + ClampTime(sq.range_ms));
      }
      inner.in_subquery = true;
      ComputeRanges(*sq.expr, inner, 0);
      return;
    }
    case ExprKind::kAggregate: {
      const auto& a = static_cast<const AggregateExpr&>(e);
      if (a.param) ComputeRanges(*a.param, path, 0);
      ComputeRanges(*a.expr, path, 0);
      return;
    }
    case ExprKind::kCall:
      for (const ExprPtr& arg : static_cast<const Call&>(e).args) ComputeRanges(*arg, path, 0);
      return;
    case ExprKind::kBinary: {
      const auto& b = static_cast<const BinaryExpr&>(e);
      ComputeRanges(*b.lhs, path, 0);
      ComputeRanges(*b.rhs, path, 0);
      return;
    }
    case ExprKind::kParen:
      ComputeRanges(*static_cast<const ParenExpr&>(e).expr, path, 0);
      return;
    case ExprKind::kUnary:
      ComputeRanges(*static_cast<const UnaryExpr&>(e).expr, path, 0);
      return;
    case ExprKind::kNumberLiteral:
    case ExprKind::kStringLiteral:
      return;
  }
}

Status QueryCtx::Select(const VectorSelector& vs, const std::vector<SeriesView>** out) {
  auto it = selected_.find(&vs);
  if (it == selected_.end()) {
    const NodeInfo& ni = Info(vs);
    std::vector<SeriesView> series;
    if (querier != nullptr) {
      Status st = ni.newest_only
                      ? querier->SelectNewest(vs.matchers, ni.select_mint, ni.select_maxt, &series)
                      : querier->Select(vs.matchers, ni.select_mint, ni.select_maxt, &series);
      if (!st.ok()) return st.WithPrefix("expanding series");
    }
    it = selected_.emplace(&vs, std::move(series)).first;
  }
  *out = &it->second;
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// Ev: dispatch

Status Ev::Eval(const Expr& e, EMatrix* out) {
  out->clear();
  if (end_ < start_) return Status::Ok();
  if (q_->Info(e).wrap_invariant && !instant()) return EvalStepInvariant(e, out);
  return EvalNode(e, out);
}

Status Ev::EvalStepInvariant(const Expr& e, EMatrix* out) {
  Ev once(q_, start_, start_, interval_);
  NIMIFY_RETURN_IF_ERROR(once.EvalNode(e, out));
  if (e.kind() == ExprKind::kMatrixSelector || e.kind() == ExprKind::kSubquery) {
    return Status::Ok();  // range results do not depend on the step
  }
  // The value stays the same at every step; only the timestamp changes.
  for (ESeries& s : *out) {
    if (s.points.empty()) continue;
    const double v = s.points[0].v;
    s.points.reserve(PointsToReserve());
    for (std::int64_t ts = start_ + interval_; ts <= end_; ts += interval_) {
      s.points.push_back(Point{ts, v});
      ++q_->current_samples;
      NIMIFY_RETURN_IF_ERROR(q_->CheckSamples());
    }
  }
  return Status::Ok();
}

Status Ev::EvalNode(const Expr& e, EMatrix* out) {
  switch (e.kind()) {
    case ExprKind::kAggregate:
      return EvalAggregate(static_cast<const AggregateExpr&>(e), out);
    case ExprKind::kCall:
      return EvalCall(static_cast<const Call&>(e), out);
    case ExprKind::kParen:
      return Eval(*static_cast<const ParenExpr&>(e).expr, out);
    case ExprKind::kUnary:
      return EvalUnary(static_cast<const UnaryExpr&>(e), out);
    case ExprKind::kBinary:
      return EvalBinary(static_cast<const BinaryExpr&>(e), out);
    case ExprKind::kNumberLiteral: {
      const double v = static_cast<const NumberLiteral&>(e).value;
      ESeries s;
      s.metric = q_->Empty();
      s.points.reserve(PointsToReserve());
      for (std::int64_t ts = start_; ts <= end_; ts += interval_) {
        s.points.push_back(Point{ts, v});
        ++q_->current_samples;
        NIMIFY_RETURN_IF_ERROR(q_->CheckSamples());
      }
      out->push_back(std::move(s));
      return Status::Ok();
    }
    case ExprKind::kStringLiteral:
      return Status::Internal("a string cannot be evaluated as a vector");
    case ExprKind::kVectorSelector:
      return EvalVectorSelector(static_cast<const VectorSelector&>(e), out);
    case ExprKind::kMatrixSelector:
      if (!instant()) return Status::Internal("cannot do range evaluation of matrix selector");
      return EvalMatrixSelector(static_cast<const MatrixSelector&>(e), out);
    case ExprKind::kSubquery:
      return EvalSubquery(static_cast<const SubqueryExpr&>(e), out);
  }
  return Status::Internal("unhandled expression kind");
}

// ---------------------------------------------------------------------------
// Selectors

namespace {

// The newest sample at or before `ref` within the lookback window, as
// Prometheus's vectorSelectorSingle. `cursor` speeds up increasing refs.
bool LookupInstant(std::span<const Point> pts, std::int64_t ref, std::int64_t lookback, bool v2,
                   std::size_t* cursor, double* v) {
  std::size_t from = std::min(*cursor, pts.size());
  if (from > 0 && pts[from - 1].t > ref) from = 0;  // ref went backwards
  const auto it = std::upper_bound(pts.begin() + static_cast<std::ptrdiff_t>(from), pts.end(), ref,
                                   [](std::int64_t r, const Point& p) { return r < p.t; });
  const auto idx = static_cast<std::size_t>(it - pts.begin());
  *cursor = idx;
  if (idx == 0) return false;
  const Point& p = pts[idx - 1];
  const std::int64_t oldest = SatSub(ref, lookback);
  if (v2 ? p.t < oldest : p.t <= oldest) return false;
  if (IsStaleNaN(p.v)) return false;
  *v = p.v;
  return true;
}

}  // namespace

Status Ev::EvalVectorSelector(const VectorSelector& vs, EMatrix* out) {
  const std::vector<SeriesView>* series = nullptr;
  NIMIFY_RETURN_IF_ERROR(q_->Select(vs, &series));
  const NodeInfo& ni = q_->Info(vs);
  const std::size_t steps = NumSteps();
  out->reserve(series->size());
  for (const SeriesView& view : *series) {
    ESeries s;
    s.metric = LabelsRef{view.labels, Hide::kNone};
    std::size_t cursor = 0;
    for (std::int64_t ts = start_; ts <= end_; ts += interval_) {
      const std::int64_t ref = SatSub(ni.has_at ? ni.at_ms : ts, vs.offset_ms);
      double v;
      if (!LookupInstant(view.points, ref, q_->opts.lookback_delta_ms, q_->v2, &cursor, &v)) {
        continue;
      }
      if (s.points.empty() && steps > 1) s.points.reserve(PointsToReserve());
      s.points.push_back(Point{ts, v});
      ++q_->current_samples;
    }
    NIMIFY_RETURN_IF_ERROR(q_->CheckSamples());
    if (!s.points.empty()) out->push_back(std::move(s));
  }
  return Status::Ok();
}

Status Ev::EvalMatrixSelector(const MatrixSelector& ms, EMatrix* out) {
  const VectorSelector& vs = *ms.selector;
  const std::vector<SeriesView>* series = nullptr;
  NIMIFY_RETURN_IF_ERROR(q_->Select(vs, &series));
  const NodeInfo& ni = q_->Info(vs);
  const std::int64_t maxt = SatSub(ni.has_at ? ni.at_ms : start_, vs.offset_ms);
  const std::int64_t mint = SatSub(maxt, ms.range_ms);
  for (const SeriesView& view : *series) {
    ESeries s;
    s.metric = LabelsRef{view.labels, Hide::kNone};
    if (mint != maxt) {
      for (const Point& p : view.points) {
        if (p.t > maxt) break;
        if (q_->v2 ? p.t < mint : p.t <= mint) continue;
        if (IsStaleNaN(p.v)) continue;
        s.points.push_back(p);
        ++q_->current_samples;
      }
    }
    NIMIFY_RETURN_IF_ERROR(q_->CheckSamples());
    if (!s.points.empty()) out->push_back(std::move(s));
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// Subqueries

Status Ev::EvalSubquery(const SubqueryExpr& sq, EMatrix* out) {
  const NodeInfo& ni = q_->Info(sq);
  std::int64_t parent_start = start_;
  // Prometheus ends the inner steps at the parent's end, not at its last step:
  // the extra inner steps are never read, but their errors (duplicate label
  // sets, too many samples) still count.
  std::int64_t parent_end = end_;
  if (ni.has_at) parent_start = parent_end = ni.at_ms;
  std::int64_t step = sq.step_ms != 0 ? sq.step_ms : q_->opts.default_subquery_step_ms;
  if (step <= 0) return Status::InvalidArgument("subquery step must be positive");
  step = std::min(step, kTimeLimit);
  const std::int64_t lo = SatSub(SatSub(parent_start, sq.offset_ms), sq.range_ms);
  // The first multiple of the step after (3.x) or at (2.x) the window start.
  std::int64_t sub_start = step * (lo / step);
  if (q_->v2 ? sub_start < lo : sub_start <= lo) sub_start += step;
  const std::int64_t sub_end = SatSub(parent_end, sq.offset_ms);
  Ev inner(q_, sub_start, sub_end, step);
  // Stepping through more instants than samples may be held would never
  // finish on sparse data; Prometheus's own limit is the sample count too.
  if (sub_end >= sub_start && inner.NumSteps() > static_cast<std::size_t>(q_->opts.max_samples)) {
    return q_->TooManySamples();
  }
  return inner.Eval(*sq.expr, out);
}

// ---------------------------------------------------------------------------
// Unary minus and label-set merging

Status Ev::EvalUnary(const UnaryExpr& u, EMatrix* out) {
  NIMIFY_RETURN_IF_ERROR(Eval(*u.expr, out));
  if (!u.negate) return Status::Ok();
  for (ESeries& s : *out) {
    if (q_->v2 || !q_->delayed) s.metric = q_->DropName(s.metric);
    s.drop_name = true;
    for (Point& p : s.points) p.v = -p.v;
  }
  if (q_->v2) {
    if (ContainsSameLabelset(*out)) {
      return Status::InvalidArgument(std::string(kDuplicateLabelsetError));
    }
    return Status::Ok();
  }
  if (!q_->delayed) return MergeSameLabelsets(out);
  return Status::Ok();
}

Status Ev::MergeSameLabelsets(EMatrix* mat) {
  if (!ContainsSameLabelset(*mat)) return Status::Ok();
  IndexMap first(mat->size());
  EMatrix merged;
  merged.reserve(mat->size());
  for (ESeries& s : *mat) {
    auto [idx, inserted] =
        first.TryEmplace(HashLabels(s.metric), static_cast<std::uint32_t>(merged.size()));
    if (inserted) {
      merged.push_back(std::move(s));
      continue;
    }
    ESeries& base = merged[idx];
    for (const Point& p : s.points) base.points.push_back(p);
  }
  for (ESeries& s : merged) {
    std::sort(s.points.begin(), s.points.end(),
              [](const Point& a, const Point& b) { return a.t < b.t; });
    for (std::size_t i = 1; i < s.points.size(); ++i) {
      if (s.points[i].t == s.points[i - 1].t) {
        return Status::InvalidArgument(std::string(kDuplicateLabelsetError));
      }
    }
  }
  *mat = std::move(merged);
  return Status::Ok();
}

Status Ev::CleanupMatrix(EMatrix* mat) {
  for (ESeries& s : *mat) {
    if (s.drop_name) s.metric = q_->DropName(s.metric);
  }
  return MergeSameLabelsets(mat);
}

}  // namespace eval_internal

// ---------------------------------------------------------------------------
// Public API

namespace {

using eval_internal::EMatrix;
using eval_internal::ESeries;
using eval_internal::Ev;
using eval_internal::QueryCtx;

Result<QueryResult> Run(Queryable* storage, const EvalOptions& options, const Expr& expr,
                        std::int64_t start, std::int64_t end, std::int64_t interval,
                        bool range_query, std::string_view query) {
  const ValueType type = expr.type();
  if (range_query && type != ValueType::kScalar && type != ValueType::kVector) {
    return Status::InvalidArgument(std::string("invalid expression type \"") + ValueTypeName(type) +
                                   "\" for range query, must be Scalar or instant Vector");
  }
  if (start < -eval_internal::kTimeLimit || end > eval_internal::kTimeLimit) {
    return Status::InvalidArgument("query time out of range");
  }
  interval = std::min(interval, eval_internal::kTimeLimit);
  if (range_query && (end - start) / interval + 1 > options.max_samples) {
    return Status::ResourceExhausted(
        "query processing would load too many samples into memory in query execution");
  }
  QueryResult result;
  if (type == ValueType::kString) {
    const Expr& lit = eval_internal::Unparen(expr);
    if (lit.kind() != ExprKind::kStringLiteral) {
      return Status::Internal("string expression is not a literal");
    }
    result.value = String{start, static_cast<const StringLiteral&>(lit).value};
    return result;
  }

  QueryCtx q(options, query, start, end);
  if (range_query) q.query_step = interval;
  q.Prepare(expr);
  std::unique_ptr<Querier> querier;
  if (storage != nullptr) {
    std::int64_t mint = 0;
    std::int64_t maxt = 0;
    q.SelectBounds(&mint, &maxt);
    NIMIFY_ASSIGN_OR_RETURN(querier, storage->NewQuerier(mint, maxt));
    q.querier = querier.get();
  }

  Ev ev(&q, start, end, interval);
  EMatrix mat;
  NIMIFY_RETURN_IF_ERROR(ev.Eval(expr, &mat));
  if (options.delayed_name_removal) NIMIFY_RETURN_IF_ERROR(ev.CleanupMatrix(&mat));

  if (!range_query && type == ValueType::kVector) {
    Vector vec;
    vec.reserve(mat.size());
    for (const ESeries& s : mat) {
      if (s.points.empty()) continue;
      vec.push_back(
          Sample{eval_internal::Materialize(s.metric), start, s.points[0].v, s.drop_name});
    }
    result.value = std::move(vec);
  } else if (!range_query && type == ValueType::kScalar) {
    double v = std::numeric_limits<double>::quiet_NaN();
    if (!mat.empty() && !mat[0].points.empty()) v = mat[0].points[0].v;
    result.value = Scalar{start, v};
  } else {
    std::sort(mat.begin(), mat.end(), [](const ESeries& a, const ESeries& b) {
      return eval_internal::CompareLabels(a.metric, b.metric) < 0;
    });
    Matrix out;
    out.reserve(mat.size());
    for (const ESeries& s : mat) {
      Series series;
      series.metric = eval_internal::Materialize(s.metric);
      series.points.assign(s.points.begin(), s.points.end());
      series.drop_name = s.drop_name;
      out.push_back(std::move(series));
    }
    result.value = std::move(out);
  }
  q.annos.Export(query, &result.warnings, &result.infos);
  return result;
}

}  // namespace

Evaluator::Evaluator(Queryable* storage, EvalOptions options)
    : storage_(storage), options_(options) {}

Result<QueryResult> Evaluator::Instant(const Expr& expr, std::int64_t ts_ms,
                                       std::string_view query) const {
  return Run(storage_, options_, expr, ts_ms, ts_ms, 1, /*range_query=*/false, query);
}

Result<QueryResult> Evaluator::Range(const Expr& expr, std::int64_t start_ms, std::int64_t end_ms,
                                     std::int64_t step_ms, std::string_view query) const {
  if (step_ms <= 0) {
    return Status::InvalidArgument(
        "zero or negative query resolution step widths are not accepted. Try a positive integer");
  }
  if (end_ms < start_ms)
    return Status::InvalidArgument("end timestamp must not be before start time");
  return Run(storage_, options_, expr, start_ms, end_ms, step_ms, /*range_query=*/true, query);
}

}  // namespace nimify::promql
