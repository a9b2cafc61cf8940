#include "engine/rule_analysis.h"

#include <algorithm>
#include <string_view>

#include "promql/functions.h"

namespace nimify::engine {
namespace {

void Collect(const promql::Expr& expr, std::vector<std::vector<promql::LabelMatcher>>* out) {
  // A matrix selector's child is its vector selector.
  if (expr.kind() == promql::ExprKind::kVectorSelector) {
    out->push_back(static_cast<const promql::VectorSelector&>(expr).matchers);
    return;
  }
  promql::ForEachChild(expr, [out](const promql::Expr& child) { Collect(child, out); });
}

}  // namespace

std::vector<std::vector<promql::LabelMatcher>> CollectSelectors(const promql::Expr& expr) {
  std::vector<std::vector<promql::LabelMatcher>> out;
  Collect(expr, &out);
  return out;
}

std::int64_t LookbehindMs(const promql::Expr& expr, std::int64_t lookback_ms) {
  using promql::ExprKind;
  switch (expr.kind()) {
    case ExprKind::kNumberLiteral:
    case ExprKind::kStringLiteral:
      return 0;
    case ExprKind::kVectorSelector: {
      const auto& v = static_cast<const promql::VectorSelector&>(expr);
      return std::max<std::int64_t>(v.offset_ms, 0) + lookback_ms;
    }
    case ExprKind::kMatrixSelector: {
      const auto& m = static_cast<const promql::MatrixSelector&>(expr);
      const std::int64_t offset = m.selector ? std::max<std::int64_t>(m.selector->offset_ms, 0) : 0;
      return m.range_ms + offset;
    }
    case ExprKind::kSubquery: {
      const auto& s = static_cast<const promql::SubqueryExpr&>(expr);
      // The inner expression runs at steps inside the range, each reading its own lookbehind.
      return s.range_ms + std::max<std::int64_t>(s.offset_ms, 0) + s.step_ms +
             LookbehindMs(*s.expr, lookback_ms);
    }
    case ExprKind::kUnary:
      return LookbehindMs(*static_cast<const promql::UnaryExpr&>(expr).expr, lookback_ms);
    case ExprKind::kBinary: {
      const auto& b = static_cast<const promql::BinaryExpr&>(expr);
      return std::max(LookbehindMs(*b.lhs, lookback_ms), LookbehindMs(*b.rhs, lookback_ms));
    }
    case ExprKind::kParen:
      return LookbehindMs(*static_cast<const promql::ParenExpr&>(expr).expr, lookback_ms);
    case ExprKind::kCall: {
      std::int64_t out = 0;
      for (const auto& arg : static_cast<const promql::Call&>(expr).args) {
        out = std::max(out, LookbehindMs(*arg, lookback_ms));
      }
      return out;
    }
    case ExprKind::kAggregate: {
      const auto& a = static_cast<const promql::AggregateExpr&>(expr);
      std::int64_t out = LookbehindMs(*a.expr, lookback_ms);
      if (a.param) out = std::max(out, LookbehindMs(*a.param, lookback_ms));
      return out;
    }
  }
  return lookback_ms;
}

bool HasTimeShift(const promql::Expr& expr) {
  using promql::ExprKind;
  if (expr.kind() == ExprKind::kVectorSelector) {
    const auto& v = static_cast<const promql::VectorSelector&>(expr);
    if (v.offset_ms != 0 || v.at != promql::AtKind::kNone) return true;
  } else if (expr.kind() == ExprKind::kSubquery) {
    const auto& s = static_cast<const promql::SubqueryExpr&>(expr);
    if (s.offset_ms != 0 || s.at != promql::AtKind::kNone) return true;
  }
  bool shifted = false;
  promql::ForEachChild(expr, [&shifted](const promql::Expr& child) {
    shifted = shifted || HasTimeShift(child);
  });
  return shifted;
}

namespace {

using promql::ExprKind;

bool IsConstant(QuietChange c) { return c == QuietChange::kConstant; }

// Functions that map each input element to at most one output element with
// the same existence, computing labels and value from that element alone
// (their other arguments must be constant).
bool IsElementwise(std::string_view name) {
  static constexpr std::string_view kNames[] = {
      "abs",   "acos",  "acosh", "asin",  "asinh",     "atan",          "atanh",      "ceil",
      "clamp", "clamp_max", "clamp_min", "cos", "cosh", "deg",           "exp",        "floor",
      "label_join", "label_replace", "ln", "log10", "log2",      "rad",           "round",      "sgn",
      "sin",   "sinh",  "sort",  "sort_desc", "sqrt", "tan", "tanh",
  };
  return std::find(std::begin(kNames), std::end(kNames), name) != std::end(kNames);
}

// Functions of a range vector whose output for a series exists exactly when
// its window holds at least some number of samples: without new samples the
// windows only lose samples, so outputs only disappear.
bool IsWindowFunction(std::string_view name) {
  static constexpr std::string_view kNames[] = {
      "avg_over_time",   "changes",          "count_over_time",
      "delta",           "deriv",            "double_exponential_smoothing",
      "holt_winters",    "idelta",           "increase",
      "irate",           "last_over_time",   "mad_over_time",
      "max_over_time",   "min_over_time",    "predict_linear",
      "present_over_time", "quantile_over_time", "rate",
      "resets",          "stddev_over_time", "stdvar_over_time",
      "sum_over_time",
  };
  return std::find(std::begin(kNames), std::end(kNames), name) != std::end(kNames);
}

// Window functions whose value is the window's last sample (or 1): constant
// while the window keeps any sample.
bool KeepsValueWhileWindowNonEmpty(std::string_view name) {
  return name == "last_over_time" || name == "present_over_time";
}

QuietChange ClassifyCall(const promql::Call& call) {
  const std::string_view name = call.func->name;
  if (name == "pi") return QuietChange::kConstant;
  if (name == "vector") {
    return !call.args.empty() && IsConstant(ClassifyQuietChange(*call.args[0]))
               ? QuietChange::kShrinksSameValues
               : QuietChange::kAny;
  }
  if (IsWindowFunction(name)) {
    bool has_window = false;
    for (const auto& arg : call.args) {
      if (arg->kind() == ExprKind::kMatrixSelector) {
        // Subqueries are not accepted: their steps are instants of their own.
        if (HasTimeShift(*arg)) return QuietChange::kAny;
        has_window = true;
      } else if (!IsConstant(ClassifyQuietChange(*arg))) {
        return QuietChange::kAny;
      }
    }
    if (!has_window) return QuietChange::kAny;
    return KeepsValueWhileWindowNonEmpty(name) ? QuietChange::kShrinksSameValues
                                               : QuietChange::kShrinks;
  }
  const bool elementwise = IsElementwise(name);
  if (!elementwise && name != "histogram_quantile") return QuietChange::kAny;
  // The vector argument is the first one, except for histogram_quantile(φ, v).
  const std::size_t vector_arg = elementwise ? 0 : 1;
  if (call.args.size() <= vector_arg) return QuietChange::kAny;
  QuietChange inner = QuietChange::kAny;
  for (std::size_t i = 0; i < call.args.size(); ++i) {
    const QuietChange c = ClassifyQuietChange(*call.args[i]);
    if (i == vector_arg) {
      inner = c;
    } else if (!IsConstant(c)) {
      return QuietChange::kAny;
    }
  }
  if (IsConstant(inner)) return QuietChange::kAny;
  // histogram_quantile combines the buckets of a group: values change as buckets go.
  return elementwise ? inner : std::min(inner, QuietChange::kShrinks);
}

QuietChange ClassifyAggregate(const promql::AggregateExpr& agg) {
  using promql::AggregateOp;
  if (agg.param && !IsConstant(ClassifyQuietChange(*agg.param))) return QuietChange::kAny;
  const QuietChange inner = ClassifyQuietChange(*agg.expr);
  if (inner == QuietChange::kAny || IsConstant(inner)) return QuietChange::kAny;
  switch (agg.op) {
    case AggregateOp::kSum:
    case AggregateOp::kAvg:
    case AggregateOp::kCount:
    case AggregateOp::kMin:
    case AggregateOp::kMax:
    case AggregateOp::kGroup:
    case AggregateOp::kStddev:
    case AggregateOp::kStdvar:
    case AggregateOp::kQuantile:
      // One output per group; a group ends when its last member does.
      return std::min(inner, QuietChange::kShrinks);
    case AggregateOp::kTopK:
    case AggregateOp::kBottomK:
    case AggregateOp::kCountValues:
    case AggregateOp::kLimitK:
    case AggregateOp::kLimitRatio:
      // Which elements (or value labels) come out depends on the values.
      return QuietChange::kEmptyStaysEmpty;
  }
  return QuietChange::kAny;
}

QuietChange ClassifyBinary(const promql::BinaryExpr& b) {
  using promql::BinaryOp;
  const QuietChange l = ClassifyQuietChange(*b.lhs);
  const QuietChange r = ClassifyQuietChange(*b.rhs);
  if (l == QuietChange::kAny || r == QuietChange::kAny) return QuietChange::kAny;
  const bool filter = promql::IsComparison(b.op) && !b.return_bool;
  if (IsConstant(l) && IsConstant(r)) return QuietChange::kConstant;
  if (IsConstant(l) || IsConstant(r)) {
    const QuietChange v = IsConstant(l) ? r : l;
    // A filter keeps elements by value: only safe while values stay.
    if (filter) return v == QuietChange::kShrinksSameValues ? v : QuietChange::kAny;
    return v;
  }
  const QuietChange both = std::min(l, r);
  switch (b.op) {
    case BinaryOp::kOr:
      // Both sides empty before, both stay empty. (An element of the right
      // side hidden by the left one can appear when the left one goes.)
      return QuietChange::kEmptyStaysEmpty;
    case BinaryOp::kUnless:
      return QuietChange::kAny;  // the right side going away lets elements through
    default:
      break;
  }
  if (filter) return both == QuietChange::kShrinksSameValues ? both : QuietChange::kAny;
  // and, arithmetic, bool comparisons: one output per matched pair, and
  // matches only disappear when both sides only shrink.
  return both >= QuietChange::kShrinks ? both : QuietChange::kAny;
}

}  // namespace

QuietChange ClassifyQuietChange(const promql::Expr& expr) {
  switch (expr.kind()) {
    case ExprKind::kNumberLiteral:
    case ExprKind::kStringLiteral:
      return QuietChange::kConstant;
    case ExprKind::kVectorSelector: {
      const auto& v = static_cast<const promql::VectorSelector&>(expr);
      // Each series shows its latest sample while it is inside the lookback window.
      if (v.offset_ms != 0 || v.at != promql::AtKind::kNone) return QuietChange::kAny;
      return QuietChange::kShrinksSameValues;
    }
    case ExprKind::kMatrixSelector:
    case ExprKind::kSubquery:
      return QuietChange::kAny;  // only as arguments of window functions (ClassifyCall)
    case ExprKind::kUnary:
      return ClassifyQuietChange(*static_cast<const promql::UnaryExpr&>(expr).expr);
    case ExprKind::kParen:
      return ClassifyQuietChange(*static_cast<const promql::ParenExpr&>(expr).expr);
    case ExprKind::kBinary:
      return ClassifyBinary(static_cast<const promql::BinaryExpr&>(expr));
    case ExprKind::kCall:
      return ClassifyCall(static_cast<const promql::Call&>(expr));
    case ExprKind::kAggregate:
      return ClassifyAggregate(static_cast<const promql::AggregateExpr&>(expr));
  }
  return QuietChange::kAny;
}

bool ResultNeedsSamples(const promql::Expr& expr) {
  using promql::ValueType;
  switch (expr.kind()) {
    case ExprKind::kNumberLiteral:
    case ExprKind::kStringLiteral:
      return false;
    case ExprKind::kVectorSelector:
    case ExprKind::kMatrixSelector:
      return true;
    case ExprKind::kSubquery:
      return ResultNeedsSamples(*static_cast<const promql::SubqueryExpr&>(expr).expr);
    case ExprKind::kUnary:
      return ResultNeedsSamples(*static_cast<const promql::UnaryExpr&>(expr).expr);
    case ExprKind::kParen:
      return ResultNeedsSamples(*static_cast<const promql::ParenExpr&>(expr).expr);
    case ExprKind::kAggregate:
      // Aggregating nothing gives nothing, whatever the parameter.
      return ResultNeedsSamples(*static_cast<const promql::AggregateExpr&>(expr).expr);
    case ExprKind::kCall: {
      const auto& call = static_cast<const promql::Call&>(expr);
      const std::string_view name = call.func->name;
      if (call.func->return_type != ValueType::kVector || name == "absent" ||
          name == "absent_over_time" || name == "vector") {
        return false;
      }
      // Each output element comes from an element of the first vector or
      // range argument; without one (minute(), hour(), ...) the functions
      // read vector(time()).
      for (const auto& arg : call.args) {
        if (arg->type() == ValueType::kVector || arg->type() == ValueType::kMatrix) {
          return ResultNeedsSamples(*arg);
        }
      }
      return false;
    }
    case ExprKind::kBinary: {
      const auto& b = static_cast<const promql::BinaryExpr&>(expr);
      const bool lhs_vector = b.lhs->type() == ValueType::kVector;
      const bool rhs_vector = b.rhs->type() == ValueType::kVector;
      if (!lhs_vector && !rhs_vector) return false;  // a scalar
      const bool lhs = lhs_vector && ResultNeedsSamples(*b.lhs);
      const bool rhs = rhs_vector && ResultNeedsSamples(*b.rhs);
      if (!lhs_vector) return rhs;
      if (!rhs_vector) return lhs;
      switch (b.op) {
        case promql::BinaryOp::kOr:
          return lhs && rhs;
        case promql::BinaryOp::kUnless:
          return lhs;
        default:
          return lhs || rhs;  // `and`, arithmetic and comparisons need a match
      }
    }
  }
  return false;
}

}  // namespace nimify::engine
